"""The studio's keyboard: the one table of documented keys (Help → Keyboard shortcuts shows it) and the rule
that makes them work wherever focus is.

The keys are window-wide actions, so a focused button, list or plot does not swallow them. Only a text field that
is being edited keeps its own keys (Qt offers it the key first): typing "k" in the prompt types a k. Esc leaves a
text field for the viewport, and so does running an operation from the prompt (Ctrl+Enter), so that Space plays
and Ctrl+Z undoes the edit right after it.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractSpinBox, QApplication, QDialog, QDialogButtonBox, QLineEdit, QPlainTextEdit, QTextEdit, QVBoxLayout,
    QWidget,
)

# (group, keys as the user reads them, what they do): the Help dialog shows exactly this table
SHORTCUTS: tuple[tuple[str, str, str], ...] = (
    ("Playback", "Space", "Play / pause (inside the selection when there is one)"),
    ("Playback", "Left / Right", "Previous / next frame"),
    ("Playback", "Home / End", "First / last frame (of the selection when there is one)"),
    ("Playback", "Ctrl+G", "Go to frame: type the frame, Enter"),
    ("Playback", "L", "Loop on / off"),
    ("Editing", "K", "Lock / unlock the key at the playhead"),
    ("Editing", "Ctrl+Z / Ctrl+Shift+Z", "Undo / redo the last edit"),
    ("Editing", "Ctrl+Enter", "Generate from the prompt (in the prompt box); the keys go back to the viewport"),
    ("Editing", "Esc", "Leave a text field: the keys go back to the viewport"),
    ("Editing", "Del", "Delete the selected prompt segment, key, pin or waypoint (timeline)"),
    ("Editing", "W", "Path mode on / off: a click on the ground places a waypoint"),
    ("Editing", "P", "Pin the chosen hand, foot or head where it is at the playhead"),
    ("Posing", "Drag a joint", "Move it by IK at the playhead; the frame becomes a locked key (one undo step)"),
    ("Posing", "Drag the ring", "Turn the character's heading about the hips"),
    ("Posing", "X / Y / Z held", "Drag along that axis only"),
    ("Posing", "Shift held", "Drag level: the joint keeps its height"),
    ("Posing", "Esc", "Cancel the drag: the pose goes back"),
    ("View", "F", "Frame the character"),
    ("View", "Shift+Home", "Reset the view"),
    ("View", "1 / 3 / 7", "Front / side / top view (as Blender's numpad)"),
    ("Project", "Ctrl+N / Ctrl+O / Ctrl+S", "New / open / save the project"),
    ("Project", "Ctrl+I / Ctrl+E", "Import / export BVH"),
)


def is_text_field(widget: QWidget | None) -> bool:
    """Whether `widget` takes typed text (so it keeps the keys while it has focus)."""
    if isinstance(widget, (QLineEdit, QPlainTextEdit, QTextEdit)):
        return not widget.isReadOnly()
    return isinstance(widget, QAbstractSpinBox) or isinstance(widget.parent() if widget else None, QAbstractSpinBox)


def leave_text_fields_with_escape(window: QWidget, target: QWidget) -> QShortcut:
    """Esc anywhere in `window`: a focused text field gives the keys back to `target`."""
    def escape() -> None:
        if is_text_field(QApplication.focusWidget()):
            target.setFocus(Qt.FocusReason.ShortcutFocusReason)

    shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), window, context=Qt.ShortcutContext.WindowShortcut)
    shortcut.activated.connect(escape)
    return shortcut


def shortcuts_html() -> str:
    rows, group = [], None
    for g, keys, what in SHORTCUTS:
        if g != group:
            rows.append(f"<tr><td colspan=2><b>{g}</b></td></tr>")
            group = g
        rows.append(f"<tr><td style='padding-right:16px'><code>{keys}</code></td><td>{what}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


class ShortcutsDialog(QDialog):
    """Help → Keyboard shortcuts: the table above, non-modal so the keys can be tried while it is open."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        table = QTextEdit()
        table.setObjectName("shortcutsTable")
        table.setReadOnly(True)
        table.setHtml(shortcuts_html())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(560, 460)
