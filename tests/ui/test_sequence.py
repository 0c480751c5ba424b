"""A whole editing session through the real window and the shipped checkpoints, as an animator would run it:
type a prompt, generate, scrub, lock two keys, in-between, edit the upper body on a range, add three prompt
segments, build a long take, undo and redo every step, save, reopen, import and export BVH; the files are checked."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from app.engine.document import SetSelection
from app.engine.io.bvh import read_bvh
from app.ui._qt.export_dialog import ExportDialog, ExportOptions
from app.ui.main_window import MainWindow

LOWER = [0, 13, 14, 15, 16, 17, 18, 19, 20]  # root (hips), legs and feet


def _click(window: MainWindow, qtbot, name: str) -> None:
    button = window.prompt_panel.buttons[name]
    assert button.isEnabled(), f"{name}: {button.toolTip()}"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.worker is None, timeout=60_000)


def _snapshot(window: MainWindow) -> tuple:
    doc = window.document
    return doc.take, tuple(doc.segments), doc.locked_frames, doc.selection


def test_a_whole_editing_session(window: MainWindow, qtbot, tmp_path: Path, bandai_namco_sample: Path,
                                upper_editor) -> None:
    doc, panel, canvas = window.document, window.prompt_panel, window.viewport.surface
    states = [_snapshot(window)]  # the loaded walk, then the state after each undoable step

    # 1. type a prompt and generate
    panel.prompt.clear()
    qtbot.keyClicks(panel.prompt, "a person walks forward and waves")
    panel.length.setValue(120)
    panel.seed.setValue(11)
    _click(window, qtbot, "generateButton")
    assert doc.take.n_frames == 120 and "Generate" in doc.undo_label
    generated = doc.take.positions
    states.append(_snapshot(window))

    # 2. scrub: the viewport shows the frame under the playhead
    for frame in (15, 64, 101):
        window.timeline.playhead.setValue(frame)
        np.testing.assert_array_equal(window.viewport.skeleton.pose, generated[frame])

    # 3. lock two keys with K at the playhead
    for frame in (20, 100):
        window.timeline.playhead.setValue(frame)
        qtbot.keyClick(canvas, Qt.Key.Key_K)
        states.append(_snapshot(window))
    assert doc.locked_frames == (20, 100) and window.viewport.skeleton.ghosts.visible

    # 4. in-between: the keys stay, the frames between them change
    panel.prompt.setPlainText("a person jumps forward")
    _click(window, qtbot, "inbetweenButton")
    inbetweened = doc.take.positions
    assert np.abs(inbetweened[[20, 100]] - generated[[20, 100]]).max() < 1e-3
    assert np.abs(inbetweened[40:80] - generated[40:80]).max() > 0.05
    states.append(_snapshot(window))

    # 5. edit the upper body on a range (select it, then the button)
    doc.execute(SetSelection((30, 89)))
    states.append(_snapshot(window))
    panel.prompt.setPlainText("a person waves with both hands")
    _click(window, qtbot, "editUpperButton")
    edited = doc.take.positions
    assert np.abs(edited[:, LOWER] - inbetweened[:, LOWER]).max() < 1e-3  # legs and root untouched
    assert np.abs(edited[40:80, 5:13] - inbetweened[40:80, 5:13]).max() > 0.05  # arms changed
    states.append(_snapshot(window))

    # 6. three prompt segments on the timeline (double-click asks for the text)
    texts = iter(["a person walks forward", "a person turns around", "a person runs back"])
    window.timeline.ask_text = lambda title, text: next(texts)
    for start in (0, 40, 80):
        window.timeline.add_segment_at(start)
        states.append(_snapshot(window))
    assert [(s.text, s.start, s.length) for s in doc.segments] == [
        ("a person walks forward", 0, 40), ("a person turns around", 40, 40), ("a person runs back", 80, 40)]
    assert len(window.timeline.segment_items) == 3

    # 7. build the long take from them
    _click(window, qtbot, "longTakeButton")
    assert doc.take.n_frames == 120 and doc.undo_label == "Long take from 3 segments"
    long_take = doc.take
    states.append(_snapshot(window))

    # 8. undo every step back to the empty start, then redo them all
    for expected in reversed(states[:-1]):
        window.undo_action.trigger()
        assert _snapshot(window) == expected
    assert doc.undo_label == "Load take"  # back at the fixture's walk
    for expected in states[1:]:
        window.redo_action.trigger()
        assert _snapshot(window) == expected
    assert doc.take is long_take

    # 9. save, start a new document, reopen
    project = tmp_path / "session.kinema"
    window.projects.ask_save_path = lambda suggested: str(project)
    window.findChild(object, "saveAction").trigger()
    assert project.stat().st_size > 10_000 and window.windowTitle() == "Kinema — session.kinema"
    window.findChild(object, "newAction").trigger()
    assert doc.take is None
    window.projects.ask_open_path = lambda: str(project)
    window.findChild(object, "openAction").trigger()
    np.testing.assert_array_equal(doc.take.positions, long_take.positions)
    assert [s.text for s in doc.segments] == ["a person walks forward", "a person turns around", "a person runs back"]
    assert doc.locked_frames == () and doc.selection is None  # the long take is a new take: it started clean

    # 10. export BVH through the dialog: the whole take is offered, a range and frame rate chosen, the file reads back
    dialog_seen = []

    def answer(defaults: ExportOptions) -> ExportOptions:
        dialog = ExportDialog(defaults, doc.n_frames, window)
        dialog_seen.append((dialog.first.value(), dialog.last.value(), dialog.fps.value()))
        dialog.first.setValue(30)
        dialog.last.setValue(89)
        dialog.path.setText(str(tmp_path / "part.bvh"))
        dialog.fps.setValue(30.0)
        return dialog.options()

    window.ask_export = answer
    window.findChild(object, "exportAction").trigger()
    assert dialog_seen == [(0, 119, 20.0)]
    part = read_bvh(tmp_path / "part.bvh")
    assert abs(part.fps - 30.0) < 1e-6 and part.n_frames == 89  # 60 frames at 20 fps span 2.95 s
    window.ask_export = lambda defaults: ExportOptions(tmp_path / "whole.bvh", 0, doc.n_frames - 1, 20.0)
    assert window.export_take()
    whole = read_bvh(tmp_path / "whole.bvh")
    assert whole.n_frames == 120 and whole.names == list(long_take.skeleton.joint_names)
    error = np.linalg.norm(whole.world_positions() / 100 - long_take.positions, axis=-1)  # metres (file in cm)
    assert error[:, 0].max() < 1e-3  # the root travels exactly as in the take
    assert np.median(error) < 0.03  # joints: the rig keeps its own bone lengths where the model's stray

    # 11. import a BVH of the animator's own mocap onto the timeline, replacing the take (undoable)
    window.ask_import_path = lambda: str(bandai_namco_sample / "dataset-2_walk_normal_001.bvh")
    window.findChild(object, "importAction").trigger()
    qtbot.waitUntil(lambda: window.worker is None, timeout=30_000)
    assert doc.take.n_frames == 182 and doc.undo_label == "Import dataset-2_walk_normal_001.bvh"
    window.undo_action.trigger()
    np.testing.assert_array_equal(doc.take.positions, long_take.positions)
