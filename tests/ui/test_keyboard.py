"""The documented keys work wherever focus is, except while a text field is being edited: after Generate
(Ctrl+Enter) focus is back on the viewport, Esc leaves a text field, Help lists the keys, and the go-to-frame
field and the frame/timecode readout do what they say."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from app.ui.main_window import MainWindow


def _press(widget: QWidget, qtbot, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    widget.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget, timeout=2000)
    qtbot.keyClick(widget, key, modifier)


def test_after_ctrl_enter_space_plays_and_k_locks_instead_of_typing(window: MainWindow, qtbot) -> None:
    panel, doc = window.prompt_panel, window.document
    asked = []
    panel.generate_requested.disconnect(window.edit_actions.generate)  # the keys are under test, not the model
    panel.generate_requested.connect(lambda p: asked.append(p["text"]))
    _press(panel.prompt, qtbot, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(asked), timeout=2000)  # animateClick fires after a short delay
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.viewport.surface, timeout=2000)
    text = panel.prompt.toPlainText()
    doc.current_frame = 30
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_K)
    assert doc.locked_frames == (30,) and panel.prompt.toPlainText() == text
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert doc.locked_frames == () and panel.prompt.toPlainText() == text  # the document's undo, not the text's
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert window.transport.playing and panel.prompt.toPlainText() == text
    window.transport.pause()


def test_esc_leaves_the_prompt_box(window: MainWindow, qtbot) -> None:
    panel = window.prompt_panel
    _press(panel.prompt, qtbot, Qt.Key.Key_Escape)
    assert QApplication.focusWidget() is window.viewport.surface
    _press(panel.length, qtbot, Qt.Key.Key_Escape)
    assert QApplication.focusWidget() is window.viewport.surface


def test_while_typing_the_keys_are_the_text_fields(window: MainWindow, qtbot) -> None:
    panel, doc = window.prompt_panel, window.document
    panel.prompt.setPlainText("")
    _press(panel.prompt, qtbot, Qt.Key.Key_K)
    qtbot.keyClick(panel.prompt, Qt.Key.Key_Space)
    assert panel.prompt.toPlainText() == "k " and doc.locked_frames == () and not window.transport.playing


@pytest.mark.parametrize("name", ["generateButton", "engineCombo", "followCheck", "timelinePlot", "loopCheck",
                                  "scopeCombo", "playButton"])
def test_documented_keys_work_with_focus_on_any_control(window: MainWindow, qtbot, name: str) -> None:
    doc, transport = window.document, window.transport
    widget = window.findChild(QWidget, name)
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # as after a click or Tab
    doc.current_frame = 40
    _press(widget, qtbot, Qt.Key.Key_K)
    assert doc.locked_frames == (40,), name
    _press(widget, qtbot, Qt.Key.Key_Right)
    assert doc.current_frame == 41, name
    _press(widget, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert doc.locked_frames == (), name
    _press(widget, qtbot, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert doc.locked_frames == (40,), name
    _press(widget, qtbot, Qt.Key.Key_End)
    assert doc.current_frame == doc.n_frames - 1, name
    _press(widget, qtbot, Qt.Key.Key_Space)
    assert transport.playing, name
    transport.pause()


def test_help_lists_every_documented_key(window: MainWindow, qtbot) -> None:
    window.findChild(object, "shortcutsAction").trigger()
    dialog = window.findChild(QWidget, "shortcutsDialog")
    qtbot.waitUntil(dialog.isVisible, timeout=2000)
    text = dialog.findChild(QWidget, "shortcutsTable").toPlainText()
    for keys in ("Space", "K", "Ctrl+Z", "Ctrl+Shift+Z", "Left", "Right", "Home", "End", "F", "Ctrl+Enter", "Esc",
                 "Ctrl+G"):
        assert keys in text, keys
    dialog.close()


def test_go_to_frame_jumps_and_hands_the_keys_back(window: MainWindow, qtbot) -> None:
    doc = window.document
    qtbot.keyClick(window.viewport.surface, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    field = window.findChild(QWidget, "goToFrame")
    qtbot.waitUntil(lambda: QApplication.focusWidget() is field.lineEdit() or QApplication.focusWidget() is field,
                    timeout=2000)
    field.lineEdit().selectAll()
    qtbot.keyClicks(field.lineEdit(), "123")
    qtbot.keyClick(field.lineEdit(), Qt.Key.Key_Return)
    assert doc.current_frame == 123
    assert QApplication.focusWidget() is window.viewport.surface


def test_the_readout_shows_frames_and_timecode(window: MainWindow) -> None:
    doc = window.document
    doc.current_frame = 57  # 2 s and 17 frames at 20 fps
    label = window.findChild(QWidget, "frameLabel").text()
    assert f"frame 57 / {doc.n_frames - 1}" in label and "00:00:02:17" in label
