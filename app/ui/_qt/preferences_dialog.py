"""The studio's preferences: where the user's SMPL model files are (the window keeps the choice in Qt's settings
file, beside the last export folder). It only collects the choice; the window loads and applies it."""
from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget,
)

from app.engine.smpl_body import MODEL_NAMES, SMPLModelError, find_model


class PreferencesDialog(QDialog):
    def __init__(self, smpl_location: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preferencesDialog")
        self.setWindowTitle("Preferences")
        self.smpl = QLineEdit(smpl_location)
        self.smpl.setObjectName("smplFolder")
        self.smpl.setPlaceholderText(f"a folder holding {MODEL_NAMES[0]}, or the .npz itself")
        self.smpl.setMinimumWidth(380)
        browse = QPushButton("Browse…")
        browse.setObjectName("smplBrowse")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.smpl, 1)
        row.addWidget(browse)
        self.found = QLabel()
        self.found.setObjectName("smplFound")
        self.found.setWordWrap(True)
        note = QLabel("SMPL model files are licensed separately (smpl.is.tue.mpg.de) and never shipped with Kinema. "
                      "With a model set, the viewport's body and exported bodies are the SMPL body; "
                      "leave it empty for the mannequin.")
        note.setWordWrap(True)
        self.smpl.textChanged.connect(self._show_found)
        self._show_found(smpl_location)
        form = QFormLayout(self)
        form.addRow("SMPL folder", row)
        form.addRow("", self.found)
        form.addRow("", note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _show_found(self, text: str) -> None:
        """Which model file the location points at, or why none (the files are checked when applied)."""
        if not text.strip():
            self.found.setText("No SMPL model: the mannequin is used")
            return
        try:
            self.found.setText(f"Model: {find_model(text.strip())}")
        except SMPLModelError as exc:
            self.found.setText(str(exc))

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "SMPL model folder", self.smpl.text())
        if chosen:
            self.smpl.setText(chosen)

    def smpl_location(self) -> str:
        return self.smpl.text().strip()
