"""The edit buttons through the real window and the shipped checkpoints: each result is one undoable step that
keeps what the operation promises (locked keys, frames outside the selection, the lower body) and changes the rest."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from app.engine.document import AddSegment, Segment, SetSelection
from app.ui.main_window import MainWindow

LOWER = [0, 13, 14, 15, 16, 17, 18, 19, 20]  # hips (root), legs and feet of the Bandai Namco rig


def _finish(window: MainWindow, qtbot) -> None:
    qtbot.waitUntil(lambda: window.worker is None, timeout=60_000)


def _click(window: MainWindow, qtbot, name: str) -> None:
    button = window.prompt_panel.buttons[name]
    assert button.isEnabled(), button.toolTip()
    button.click()
    _finish(window, qtbot)


def test_inbetween_keeps_the_two_locked_keys_and_regenerates_the_rest(window: MainWindow, qtbot, walk_positions) -> None:
    doc, canvas = window.document, window.viewport.surface
    window.prompt_panel.prompt.setPlainText("a person walks forward slowly")
    for frame in (30, 110):  # scrub to the frame, K locks it
        window.timeline.playhead.setValue(frame)
        qtbot.keyClick(canvas, Qt.Key.Key_K)
    assert doc.locked_frames == (30, 110)
    _click(window, qtbot, "inbetweenButton")
    assert window.undo_action.text() == "Undo In-between 2 locked keys"
    after = doc.take.positions
    assert after.shape == walk_positions.shape
    assert np.abs(after[[30, 110]] - walk_positions[[30, 110]]).max() < 1e-3  # metres: the keys stay
    assert np.abs(after[60:80] - walk_positions[60:80]).max() > 0.05  # between them the model moved things
    assert doc.locked_frames == (30, 110)
    doc.undo()
    np.testing.assert_array_equal(doc.take.positions, walk_positions)
    doc.redo()
    np.testing.assert_array_equal(doc.take.positions, after)


def test_inbetween_with_the_diffusion_engine_keeps_the_keys(window: MainWindow, qtbot, walk_positions) -> None:
    window.prompt_panel.prompt.setPlainText("a person jumps")
    window.prompt_panel.engine.setCurrentText("diffusion")
    for frame in (20, 100):
        window.timeline.playhead.setValue(frame)
        qtbot.keyClick(window.viewport.surface, Qt.Key.Key_K)
    _click(window, qtbot, "inbetweenButton")
    after = window.document.take.positions
    assert np.abs(after[[20, 100]] - walk_positions[[20, 100]]).max() < 1e-3
    assert np.abs(after[50:70] - walk_positions[50:70]).max() > 0.05


def test_regenerate_selection_keeps_every_frame_outside_it(window: MainWindow, qtbot, walk_positions) -> None:
    doc = window.document
    window.prompt_panel.prompt.setPlainText("a person jumps")
    doc.execute(SetSelection((60, 99)))
    _click(window, qtbot, "regenerateButton")
    after = doc.take.positions
    outside = np.r_[0:60, 100:len(walk_positions)]
    assert np.abs(after[outside] - walk_positions[outside]).max() < 1e-3
    assert np.abs(after[65:95] - walk_positions[65:95]).max() > 0.05
    assert window.undo_action.text() == "Undo Regenerate frames 60–99"
    doc.undo()
    np.testing.assert_array_equal(doc.take.positions, walk_positions)


def test_edit_upper_body_keeps_the_legs_and_root_everywhere(window: MainWindow, qtbot, walk_positions,
                                                            upper_editor) -> None:
    doc = window.document
    window.prompt_panel.prompt.setPlainText("a person waves with both hands")
    doc.execute(SetSelection((40, 119)))
    _click(window, qtbot, "editUpperButton")
    assert window.undo_action.text() == "Undo Edit upper body 40–119"
    after = doc.take.positions
    assert np.abs(after[:, LOWER] - walk_positions[:, LOWER]).max() < 1e-3
    assert np.abs(after[50:110, 5:13] - walk_positions[50:110, 5:13]).max() > 0.05  # the arms changed
    assert np.abs(after[:35, 5:13] - walk_positions[:35, 5:13]).max() < 1e-3  # and only in the selection
    doc.undo()
    np.testing.assert_array_equal(doc.take.positions, walk_positions)


def test_long_take_from_three_segments_in_start_order(window: MainWindow, qtbot) -> None:
    doc = window.document
    for segment in (Segment("a person jumps", 150, 40), Segment("a person walks forward", 0, 60),
                    Segment("a person turns around", 80, 40)):
        doc.execute(AddSegment(segment))
    before, track = doc.take, list(doc.segments)
    _click(window, qtbot, "longTakeButton")
    assert doc.take.n_frames == 190 and doc.take.features.shape == (190, 251)
    assert window.undo_action.text() == "Undo Long take from 3 segments"
    # the track now shows each prompt where it is in the take: where it was placed, gaps given to the one before
    assert [(s.text, s.start, s.length) for s in doc.segments] == [
        ("a person walks forward", 0, 80), ("a person turns around", 80, 70), ("a person jumps", 150, 40)]
    assert [item.getRegion() for item in window.timeline.segment_items] == [(0, 80), (80, 150), (150, 190)]
    root_step = np.linalg.norm(np.diff(doc.take.positions[:, 0], axis=0), axis=-1)
    assert root_step.max() < 0.25  # metres per frame: no jump at the joins
    doc.undo()
    assert doc.take is before and doc.segments == track


def test_an_operation_refusal_is_a_message(window: MainWindow, qtbot) -> None:
    doc = window.document
    doc.execute(AddSegment(Segment("a person jumps", 0, 2)))
    before = doc.take
    _click(window, qtbot, "longTakeButton")
    assert "segment 1 ('a person jumps') has 2 frames" in window.findChild(object, "errorBox").text()
    assert doc.take is before


def test_edits_of_an_imported_take_keep_its_placement_and_generate_does_not(window: MainWindow, qtbot,
                                                                            bandai_namco_sample) -> None:
    """An imported take remembers where its file had it; edits keep that, so the export lines up with the original."""
    from app.engine.document.files import read_take

    imported = read_take(bandai_namco_sample / "dataset-2_walk_normal_001.bvh")
    assert not imported.placement.is_identity
    window.load_take(imported)
    doc = window.document
    window.prompt_panel.prompt.setPlainText("a person jumps")
    doc.execute(SetSelection((60, 99)))
    _click(window, qtbot, "regenerateButton")
    assert doc.take is not imported and doc.take.placement == imported.placement
    window.prompt_panel.length.setValue(40)
    _click(window, qtbot, "generateButton")
    assert doc.take.placement.is_identity  # a new take from a prompt starts at the origin
