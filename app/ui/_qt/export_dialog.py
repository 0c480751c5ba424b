"""The export dialog: file (its extension picks BVH, FBX or glTF), frame range and frame rate. It only collects
choices; the window exports.

It offers the whole take (the selection only when "Selection only" is checked), in the folder of the last export,
at the frame rate of the file the take came from."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLineEdit, QPushButton,
    QSpinBox, QWidget,
)

from app.engine.document import Take
from app.engine.io.formats import file_filter


@dataclass(frozen=True)
class ExportOptions:
    path: Path
    first: int  # inclusive, as the user sees frames on the timeline
    last: int  # inclusive
    fps: float
    body: bool = False  # the body (FBX and glTF): the mannequin on Kinema's rig, or the SMPL body on its own rig

    @property
    def frame_range(self) -> tuple[int, int]:
        """[start, end) as the engine's exporter takes it."""
        return self.first, self.last + 1


def default_options(take: Take, folder: Path) -> ExportOptions:
    """The whole take, as take.bvh in `folder`, at the rate of the file it came from (its own when generated)."""
    return ExportOptions(folder / "take.bvh", 0, take.n_frames - 1, take.placement.fps or take.fps)


class ExportDialog(QDialog):
    def __init__(self, defaults: ExportOptions, n_frames: int, parent: QWidget | None = None,
                 selection: tuple[int, int] | None = None, smpl: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("exportDialog")
        self.setWindowTitle("Export take")
        self.path = QLineEdit(str(defaults.path))
        self.path.setObjectName("exportPath")
        browse = QPushButton("Browse…")
        browse.setObjectName("exportBrowse")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.first = self._frame_spin("exportFirst", defaults.first, n_frames)
        self.last = self._frame_spin("exportLast", defaults.last, n_frames)
        self.fps = QDoubleSpinBox()
        self.fps.setObjectName("exportFps")
        self.fps.setRange(1.0, 240.0)
        self.fps.setDecimals(2)
        self.fps.setValue(defaults.fps)
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("The file's frame rate; other than the take's, the animation is resampled")
        self.selection_only = QCheckBox("Selection only" + (f" ({selection[0]}–{selection[1]})" if selection else ""))
        self.selection_only.setObjectName("exportSelectionOnly")
        self.selection_only.setEnabled(selection is not None)
        whole = (defaults.first, defaults.last)
        self.selection_only.toggled.connect(lambda on: self._set_range(*(selection if on else whole)))
        form = QFormLayout(self)
        form.addRow("File", row)
        form.addRow("", self.selection_only)
        form.addRow("First frame", self.first)
        form.addRow("Last frame", self.last)
        form.addRow("Frame rate", self.fps)
        self.body = QCheckBox("Include the SMPL body (FBX, glTF; on its own rig)" if smpl
                              else "Include the body (FBX, glTF; on Kinema's rig)")
        self.body.setObjectName("exportBody")
        self.body.setChecked(defaults.body)
        form.addRow("", self.body)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    @staticmethod
    def _frame_spin(name: str, value: int, n_frames: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setRange(0, max(n_frames - 1, 0))
        spin.setValue(value)
        return spin

    def _set_range(self, first: int, last: int) -> None:
        self.first.setValue(first)
        self.last.setValue(last)

    def _browse(self) -> None:
        chosen = QFileDialog.getSaveFileName(self, "Export take", self.path.text(), file_filter(writing=True))[0]
        if chosen:
            self.path.setText(chosen)

    def options(self) -> ExportOptions:
        return ExportOptions(Path(self.path.text().strip()), self.first.value(), self.last.value(), self.fps.value(),
                             self.body.isChecked())
