"""Issue 13's edits and data flow through the real window: locked keys hold in every edit, in-between stays between
its keys, a new take starts clean, "Edit scope: upper" keeps the lower body, takes of any length, long-take
segments where they were placed, exports without surprises, and long prompts that say what is not read."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from app.engine.document import AddSegment, Segment, SetScope, SetSelection, SetTake, Take
from app.engine.io.bvh import read_bvh
from app.ui._qt.export_dialog import ExportDialog, ExportOptions
from app.ui.main_window import MainWindow

LOWER = [0, 13, 14, 15, 16, 17, 18, 19, 20]  # hips (root), legs and feet of the Bandai Namco rig


def _click(window: MainWindow, qtbot, name: str, timeout_ms: int = 60_000) -> None:
    button = window.prompt_panel.buttons[name]
    assert button.isEnabled(), button.toolTip()
    button.click()
    qtbot.waitUntil(lambda: window.worker is None, timeout=timeout_ms)


def _lock(window: MainWindow, qtbot, *frames: int) -> None:
    for frame in frames:  # scrub to the frame, lock it (the K action; keyboard focus is tested with the shortcuts)
        window.timeline.playhead.setValue(frame)
        window.findChild(QAction, "lockAction").trigger()


def _keys_and_selection(window: MainWindow, qtbot, text: str) -> None:
    """The defect's set-up: keys at 20/60/100, selection 30–90."""
    window.prompt_panel.prompt.setPlainText(text)
    _lock(window, qtbot, 20, 60, 100)
    window.document.execute(SetSelection((30, 90)))
    assert window.document.locked_frames == (20, 60, 100)


def _moved_mm(a: np.ndarray, b: np.ndarray, frames) -> float:
    return 1000 * float(np.abs(a[frames] - b[frames]).max())


def test_regenerate_keeps_a_locked_key_inside_the_selection(window: MainWindow, qtbot, walk_positions) -> None:
    _keys_and_selection(window, qtbot, "a person jumps")
    _click(window, qtbot, "regenerateButton")
    after = window.document.take.positions
    assert _moved_mm(after, walk_positions, [20, 60, 100]) < 1  # it moved 376 mm before
    assert _moved_mm(after, walk_positions, np.r_[38:52]) > 50
    assert window.document.locked_frames == (20, 60, 100) and window.document.selection == (30, 90)


def test_edit_upper_keeps_a_locked_key_inside_the_selection(window: MainWindow, qtbot, walk_positions,
                                                            upper_editor) -> None:
    _keys_and_selection(window, qtbot, "a person waves with both hands")
    _click(window, qtbot, "editUpperButton")
    after = window.document.take.positions
    assert _moved_mm(after, walk_positions, [20, 60, 100]) < 1  # it moved 403 mm before
    assert _moved_mm(after[:, 5:13], walk_positions[:, 5:13], np.r_[38:52]) > 20


def test_inbetween_leaves_the_frames_outside_the_keys(window: MainWindow, qtbot, walk_positions) -> None:
    window.prompt_panel.prompt.setPlainText("a person jumps")
    _lock(window, qtbot, 20, 60, 100)
    _click(window, qtbot, "inbetweenButton")
    after = window.document.take.positions
    outside = np.r_[0:20, 101:len(walk_positions)]
    assert _moved_mm(after, walk_positions, outside) < 1  # it moved 0.41 m before and 0.38 m after
    assert _moved_mm(after, walk_positions, np.r_[30:50]) > 50
    window.document.undo()
    window.prompt_panel.extend.setChecked(True)  # asked to extend: the ends are regenerated too
    _click(window, qtbot, "inbetweenButton")
    assert _moved_mm(window.document.take.positions, walk_positions, np.r_[0:10]) > 50


def test_inbetween_with_one_key_asks_for_a_second_or_extend(window: MainWindow, qtbot) -> None:
    window.prompt_panel.prompt.setPlainText("a person jumps")
    _lock(window, qtbot, 60)
    button = window.prompt_panel.buttons["inbetweenButton"]
    assert not button.isEnabled() and "Lock two keys" in button.toolTip()
    window.prompt_panel.extend.setChecked(True)
    assert button.isEnabled()


def test_a_new_take_clears_keys_selection_and_segments_in_one_undo_step(window: MainWindow, qtbot) -> None:
    doc = window.document
    _keys_and_selection(window, qtbot, "a person jumps")
    doc.execute(SetScope("upper"))
    doc.execute(AddSegment(Segment("a person walks", 0, 60)))
    window.prompt_panel.length.setValue(60)
    _click(window, qtbot, "generateButton")
    assert doc.n_frames == 60 and doc.locked_frames == () and doc.selection is None and doc.segments == []
    assert not window.viewport.skeleton.ghosts.visible and not window.viewport.skeleton._highlight  # no tint
    assert window.timeline.locks.data.size == 0
    doc.undo()  # one step brings the old take back with its keys, selection and segments
    assert doc.locked_frames == (20, 60, 100) and doc.selection == (30, 90) and len(doc.segments) == 1


def test_variations_clear_the_old_keys(window: MainWindow, qtbot) -> None:
    doc = window.document
    _keys_and_selection(window, qtbot, "a person jumps")
    window.prompt_panel.length.setValue(40)
    window.prompt_panel.count.setValue(2)
    _click(window, qtbot, "variationsButton")
    assert doc.n_frames == 40 and doc.locked_frames == () and doc.selection is None
    qtbot.mouseClick(window.variations_strip.previews[1], Qt.MouseButton.LeftButton)  # try the other one
    doc.undo()
    assert doc.locked_frames == (20, 60, 100)


def test_a_key_ghost_draws_the_pose_it_was_locked_with(window: MainWindow, qtbot, walk_positions) -> None:
    doc = window.document
    _lock(window, qtbot, 60)
    moved = Take(walk_positions + np.float32(0.5), features=None)  # an edit whose frame 60 is not the key's pose
    window.apply(SetTake(moved, "Edit", carry=True))
    ghost = window.viewport.skeleton.ghosts.pos  # (segments * 2, 3): the bones of the key's pose
    bones = window.viewport.skeleton._bone_index
    np.testing.assert_allclose(ghost, walk_positions[60][bones].reshape(-1, 3), atol=1e-6)
    np.testing.assert_array_equal(doc.key_pose(60), walk_positions[60])


def test_scope_upper_keeps_the_lower_body_in_regenerate_and_inbetween(window: MainWindow, qtbot, walk_positions,
                                                                       upper_editor) -> None:
    doc = window.document
    doc.execute(SetScope("upper"))
    window.prompt_panel.prompt.setPlainText("a person waves with both hands")
    doc.execute(SetSelection((40, 110)))
    _click(window, qtbot, "regenerateButton")
    after = doc.take.positions
    assert _moved_mm(after[:, LOWER], walk_positions[:, LOWER], slice(None)) < 1e-3  # legs and root moved 0.153 m
    assert _moved_mm(after[:, 5:13], walk_positions[:, 5:13], np.r_[50:100]) > 20
    assert window.undo_action.text() == "Undo Regenerate upper body 40–110"
    doc.undo()
    _lock(window, qtbot, 30, 120)
    _click(window, qtbot, "inbetweenButton")
    after = doc.take.positions
    assert _moved_mm(after[:, LOWER], walk_positions[:, LOWER], slice(None)) < 1e-3
    assert _moved_mm(after, walk_positions, [30, 120]) < 1e-3
    assert window.undo_action.text() == "Undo In-between upper body 30–120"


def test_the_length_box_makes_two_minutes(window: MainWindow, qtbot) -> None:
    panel = window.prompt_panel
    panel.prompt.setPlainText("a person walks forward")
    panel.length.setValue(2400)
    assert panel.length.value() == 2400  # the box capped at 2,000, and 2,000 failed after 3.3 s
    _click(window, qtbot, "generateButton", timeout_ms=180_000)
    assert window.document.n_frames == 2400
    assert not window.findChildren(QMessageBox, "errorBox")


def test_long_take_segments_start_where_they_were_placed(window: MainWindow, qtbot) -> None:
    doc = window.document
    for segment in (Segment("a person walks forward", 2, 40), Segment("a person waves the right hand", 50, 40),
                    Segment("a person jumps", 95, 40)):
        doc.execute(AddSegment(segment))
    _click(window, qtbot, "longTakeButton")
    assert doc.n_frames == 135  # the last segment's end
    assert [s.start for s in doc.segments] == [0, 50, 95]  # they came out at 0/40/80 before
    assert [(s.text, s.length) for s in doc.segments] == [
        ("a person walks forward", 50), ("a person waves the right hand", 45), ("a person jumps", 40)]


def test_export_offers_the_whole_take_at_the_source_rate_in_the_last_folder(window: MainWindow, tmp_path: Path,
                                                                           bandai_namco_sample: Path) -> None:
    from app.engine.document.files import read_take

    window.load_take(read_take(bandai_namco_sample / "dataset-2_walk_normal_001.bvh"))  # a 30 fps file
    n = window.document.n_frames
    window.document.execute(SetSelection((12, 40)))
    offered: list[ExportOptions] = []
    window.ask_export = lambda defaults: offered.append(defaults) or ExportOptions(tmp_path / "a.bvh", 0, n - 1, 30.0)
    assert window.export_take()
    window.export_take()
    assert [(o.first, o.last, o.fps) for o in offered] == [(0, n - 1, 30.0)] * 2  # not the selection, not 20 fps
    assert offered[1].path.parent == tmp_path  # the last export's folder
    from app.ui.app import create_window

    restarted = create_window()  # a new session starts there too
    restarted.projects.ask_unsaved = lambda: "discard"
    restarted.load_take(window.document.take)
    restarted.ask_export = lambda defaults: offered.append(defaults) or None
    assert not restarted.export_take() and offered[2].path.parent == tmp_path
    restarted.close()
    assert abs(read_bvh(tmp_path / "a.bvh").fps - 30.0) < 1e-6
    dialog = ExportDialog(offered[0], n, window, selection=(12, 40))
    assert (dialog.first.value(), dialog.last.value()) == (0, n - 1)
    dialog.selection_only.setChecked(True)  # the selection only when chosen
    assert dialog.options().frame_range == (12, 41)


def test_export_and_import_errors_name_the_users_file(window: MainWindow, qtbot, tmp_path: Path) -> None:
    assert not window.export_take(ExportOptions(Path("/proc/take.bvh"), 0, 9, 20.0))
    text = window.findChildren(QMessageBox, "errorBox")[-1].text()
    assert "/proc/take.bvh" in text and ".tmp" not in text
    garbage = tmp_path / "garbage.bvh"
    garbage.write_bytes(bytes(range(256)) * 8)
    window.import_take(garbage)
    qtbot.waitUntil(lambda: window.worker is None, timeout=10_000)
    text = window.findChildren(QMessageBox, "errorBox")[-1].text()
    assert "garbage.bvh" in text and "not a BVH text file" in text and "\\x" not in text and text.isprintable()


def test_a_long_prompt_shows_what_the_encoder_does_not_read(window: MainWindow) -> None:
    panel = window.prompt_panel
    panel.prompt.setPlainText("a person walks forward slowly, then turns to the left and waves with the right hand, "
                              "then sits down on a chair and crosses the legs while looking around the room")
    assert panel.prompt_notice.isVisible() and "“around the room”" in panel.prompt_notice.text()
    panel.prompt.setPlainText("a person waves")
    assert not panel.prompt_notice.isVisible()
