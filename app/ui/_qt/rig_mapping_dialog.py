"""The joint-mapping dialog: which joint of the user's rig is each of Kinema's joints, for rigs whose names no
known convention covers. Imports and `File → Export onto rig…` both use it; the caller saves the result per rig."""
from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.engine.skeleton import Skeleton

NONE = "(none)"


class RigMappingDialog(QDialog):
    def __init__(self, rig_name: str, rig_joints: tuple[str, ...], skeleton: Skeleton, suggestion: dict[str, str],
                 optional: set[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rigMappingDialog")
        self.setWindowTitle(f"Map the joints of {rig_name}")
        self.optional = optional
        intro = QLabel(f"Kinema does not know the joint names of {rig_name}. Pick the joint of your rig for each of "
                       "Kinema's joints; the choice is remembered for this rig. "
                       + ("Toes may be left out." if optional else ""))
        intro.setWordWrap(True)
        form_widget = QWidget()
        form = QFormLayout(form_widget)
        self.boxes: dict[str, QComboBox] = {}
        for name in skeleton.joint_names:
            box = QComboBox()
            box.setObjectName(f"map_{name}")
            box.addItems([NONE, *rig_joints])
            box.setCurrentText(suggestion.get(name, NONE))
            form.addRow(name + (" (optional)" if name in optional else ""), box)
            self.boxes[name] = box
        scroll = QScrollArea()
        scroll.setWidget(form_widget)
        scroll.setWidgetResizable(True)
        self.problem = QLabel("")
        self.problem.setObjectName("mappingProblem")
        self.problem.setStyleSheet("color: #e0a030")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.resize(420, 560)

    def mapping(self) -> dict[str, str]:
        """Kinema joint name -> the rig's joint name, for every joint given one."""
        return {name: box.currentText() for name, box in self.boxes.items() if box.currentText() != NONE}

    def accept(self) -> None:
        chosen = self.mapping()
        missing = [n for n in self.boxes if n not in chosen and n not in self.optional]
        twice = sorted({v for v in chosen.values() if list(chosen.values()).count(v) > 1})
        if missing or twice:
            self.problem.setText("; ".join(([f"choose a joint for {', '.join(missing)}"] if missing else [])
                                           + ([f"{', '.join(twice)} is chosen twice"] if twice else [])))
            return
        super().accept()
