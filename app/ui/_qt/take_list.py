"""The project's takes: a list to switch between them, and Duplicate, Rename and Delete. Every change is a
document command (one undo step each); the list only mirrors `document.takes`.

A take is tried out as a copy: Duplicate, then Generate, Regenerate or edit the copy, and switch back to compare.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QInputDialog, QListWidget, QPushButton, QVBoxLayout, QWidget

from app.engine.document import Command, DeleteTake, Document, DuplicateTake, RenameTake, SwitchTake


class TakeList(QWidget):
    message = Signal(str)  # refusals, for the status bar

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("takeList")
        self.document = document
        # Replaced in tests: (current name) -> new name, or None when cancelled.
        self.ask_name: Callable[[str], str | None] = self._ask_name
        self.list = QListWidget()
        self.list.setObjectName("takeListView")
        self.list.setToolTip("The project's takes: click one to edit it, double-click to rename it")
        self.list.setMaximumHeight(90)
        self.list.currentRowChanged.connect(self._row_changed)
        self.list.itemDoubleClicked.connect(lambda _: self.rename())
        buttons = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for name, text, slot, tip in (
            ("duplicateTakeButton", "Duplicate", lambda: self.run(DuplicateTake(self.document.active)),
             "A copy of this take to try changes on; switch back to compare"),
            ("renameTakeButton", "Rename…", self.rename, "Rename this take"),
            ("deleteTakeButton", "Delete", lambda: self.run(DeleteTake(self.document.active)),
             "Delete this take (undoable)"),
        ):
            button = QPushButton(text)
            button.setObjectName(name)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            buttons.addWidget(button)
            self.buttons[name] = button
        self.delete_button = self.buttons["deleteTakeButton"]
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        document.events.takes_changed.connect(lambda _: self.refresh())
        document.events.take_changed.connect(lambda _: self.refresh())  # the frame count shown
        self.refresh()

    def run(self, command: Command) -> bool:
        refusal = self.document.try_execute(command)
        if refusal is not None:
            self.message.emit(refusal)
        return refusal is None

    def rename(self) -> None:
        name = self.ask_name(self.document.take_names[self.document.active])
        if name is not None:
            self.run(RenameTake(self.document.active, name))

    def _row_changed(self, row: int) -> None:
        if 0 <= row != self.document.active:
            if not self.run(SwitchTake(row)):
                self.refresh()

    def refresh(self) -> None:
        doc = self.document
        self.list.blockSignals(True)
        self.list.clear()
        for state in doc.take_states():
            frames = f"{state.take.n_frames} f" if state.take is not None else "empty"
            self.list.addItem(f"{state.name}  ({frames})")
        self.list.setCurrentRow(doc.active)
        self.list.blockSignals(False)
        self.delete_button.setEnabled(len(doc.takes) > 1)

    def _ask_name(self, current: str) -> str | None:
        name, ok = QInputDialog.getText(self, "Rename take", "Name:", text=current)
        return name if ok else None
