"""Generate and Variations through the real window and the shipped checkpoints: results replace the take as one
undoable step, engine errors are messages, and the UI thread keeps ticking while the model runs."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from app.engine import ops
from app.ui.main_window import MainWindow


def _finish(window: MainWindow, qtbot, timeout_ms: int = 60_000) -> None:
    qtbot.waitUntil(lambda: window.worker is None, timeout=timeout_ms)


def _ask(window: MainWindow, text: str, frames: int, seed: int) -> None:
    panel = window.prompt_panel
    panel.prompt.setPlainText(text)
    panel.length.setValue(frames)
    panel.seed.setValue(seed)


def test_generate_replaces_the_take_and_undo_brings_back_the_old_one(window: MainWindow, qtbot, walk_positions) -> None:
    _ask(window, "a person jumps in place", 60, 7)
    window.prompt_panel.buttons["generateButton"].click()
    assert window.progress.isVisible() and window.cancel_button.isVisible()
    _finish(window, qtbot)
    doc = window.document
    expected = ops.generate("a person jumps in place", 60, 7, model=window.edit_actions.model())
    assert doc.take.n_frames == 60 and doc.take.features.shape == (60, 251)
    np.testing.assert_allclose(doc.take.features, expected.features, atol=1e-5)  # same seed, same motion
    np.testing.assert_allclose(doc.take.positions, expected.positions, atol=1e-5)
    np.testing.assert_allclose(window.viewport.skeleton.positions, expected.positions, atol=1e-5)
    assert window.undo_action.text() == "Undo Generate “a person jumps in place”"
    assert window.findChild(object, "framesValue").text() == "60"
    window.undo_action.trigger()
    np.testing.assert_array_equal(doc.take.positions, walk_positions)
    window.redo_action.trigger()
    np.testing.assert_allclose(doc.take.features, expected.features, atol=1e-5)


def test_variations_preview_takes_from_consecutive_seeds_to_pick_from(window: MainWindow, qtbot) -> None:
    before = window.document.take
    _ask(window, "a person walks forward", 40, 3)
    window.prompt_panel.count.setValue(3)
    window.prompt_panel.buttons["variationsButton"].click()
    _finish(window, qtbot)
    strip = window.variations_strip
    assert strip.isVisible() and [p.label for p in strip.previews] == [
        "seed 3 · 40 f", "seed 4 · 40 f", "seed 5 · 40 f"]
    takes = [take for _, take in window.edit_actions.variations]
    assert min(np.abs(a.positions - b.positions).max() for a, b in ((takes[0], takes[1]), (takes[1], takes[2]))) > 0.01
    assert window.document.take is takes[0]
    qtbot.mouseClick(strip.previews[2], Qt.MouseButton.LeftButton)
    assert window.document.take is takes[2] and window.undo_action.text() == "Undo Variation (seed 5)"
    qtbot.mouseClick(strip.previews[1], Qt.MouseButton.LeftButton)
    assert window.document.take is takes[1]
    window.document.undo()  # trying variations out is one step: undo goes back to before the run
    assert window.document.take is before and window.undo_action.text() == "Undo Load take"
    window.document.redo()
    assert window.document.take is takes[1]


def test_engine_errors_are_messages_and_leave_the_take(window: MainWindow, qtbot, tmp_path) -> None:
    before = window.document.take
    window.edit_actions.checkpoints = tmp_path  # no trained model there
    _ask(window, "a person waves", 40, 0)
    window.prompt_panel.buttons["generateButton"].click()
    _finish(window, qtbot)
    assert "no trained masked model" in window.statusBar().currentMessage()
    assert "no trained masked model" in window.findChild(object, "errorBox").text()
    assert window.document.take is before and window.undo_action.text() == "Undo Load take"


def test_length_from_the_prompt_uses_the_predicted_length(window: MainWindow, qtbot) -> None:
    """A kick is 2.4 s to the masked engine (in the default 6 s take it is made at that length, at the centre)."""
    panel = window.prompt_panel
    _ask(window, "a person kicks", 120, 0)
    panel.auto_length.setChecked(True)
    assert not panel.length.isEnabled() and panel.parameters()["n_frames"] is None
    panel.buttons["generateButton"].click()
    _finish(window, qtbot)
    expected = ops.generate("a person kicks", None, 0, model=window.edit_actions.model())
    assert window.document.take.n_frames == expected.n_frames != 120
    assert panel.settings()["auto_length"] is True
    panel.apply_settings({"auto_length": False})
    assert panel.length.isEnabled() and panel.parameters()["n_frames"] == 120


def test_ui_thread_does_not_stall_during_generation(window: MainWindow, qtbot, stalls) -> None:
    """Three real generations on the worker: the UI thread keeps ticking (see `StallRecorder`)."""
    window.edit_actions.model().encode_text(["warm up"])  # loading the models is start-up work (`warm_up`)
    qtbot.wait(300)  # so are the window's first paints (shader compilation)
    stalls.start()
    qtbot.wait(50)
    for seed in range(3):
        _ask(window, "a person walks in a circle", 120, seed)
        window.prompt_panel.buttons["generateButton"].click()
        _finish(window, qtbot)
        qtbot.wait(100)  # a user looks before clicking again
    wall_ms, work_ms = stalls.stop()
    print(f"UI ticks during 3 generations: longest gap {wall_ms:.1f} ms wall clock, {work_ms:.1f} ms of UI-thread work")
    assert window.document.take.n_frames == 120 and window.undo_action.text().startswith("Undo Generate")
    assert work_ms < 50
    assert wall_ms < 150  # one 120-frame generation on the UI thread takes >= 200 ms here


def test_cancel_during_a_generation_keeps_the_take(window: MainWindow, qtbot) -> None:
    before = window.document.take
    _ask(window, "a person dances", 120, 0)
    window.prompt_panel.buttons["generateButton"].click()
    window.cancel_button.click()
    _finish(window, qtbot)
    assert window.document.take is before and window.undo_action.text() == "Undo Load take"
    assert window.statusBar().currentMessage().endswith("cancelled")
    assert window.prompt_panel.buttons["generateButton"].isEnabled()


def test_the_engine_choice_reaches_the_engine(window: MainWindow, qtbot) -> None:
    """Diffusion generates through its own pipeline, or, until its checkpoint ships, says it is not trained."""
    from app.engine.models.pipeline import ModelNotTrained

    before = window.document.take
    _ask(window, "a person walks forward", 40, 0)
    window.prompt_panel.engine.setCurrentText("diffusion")
    window.prompt_panel.buttons["generateButton"].click()
    _finish(window, qtbot)
    try:
        window.edit_actions.model("diffusion")
    except ModelNotTrained:
        assert "no trained diffusion model" in window.statusBar().currentMessage()
        assert window.document.take is before
    else:
        assert window.document.take.n_frames == 40 and window.undo_action.text().startswith("Undo Generate")


def test_ctrl_enter_in_the_prompt_generates(window: MainWindow, qtbot) -> None:
    _ask(window, "a person kicks", 40, 2)
    window.prompt_panel.prompt.setFocus()
    qtbot.keyClick(window.prompt_panel.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.worker is not None, timeout=2000)
    _finish(window, qtbot)
    assert window.document.take.n_frames == 40 and window.undo_action.text() == "Undo Generate “a person kicks”"
    assert window.prompt_panel.prompt.toPlainText() == "a person kicks"  # the key did not type a new line


def test_the_feet_clean_up_toggle_reaches_the_engine_and_is_remembered(window: MainWindow, qtbot) -> None:
    """On by default; unticked, Generate gives the model's own feet, as ops.generate(cleanup=False) does."""
    panel = window.prompt_panel
    assert panel.cleanup.isChecked() and panel.parameters()["cleanup"] is True
    panel.cleanup.setChecked(False)
    _ask(window, "a person walks forward", 60, 3)
    panel.buttons["generateButton"].click()
    _finish(window, qtbot)
    model = window.edit_actions.model()
    raw = ops.generate("a person walks forward", 60, 3, model=model, cleanup=False)
    cleaned = ops.generate("a person walks forward", 60, 3, model=model)
    np.testing.assert_allclose(window.document.take.features, raw.features, atol=1e-5)
    assert np.abs(raw.positions - cleaned.positions).max() > 1e-3  # the toggle makes a difference on this walk
    assert panel.settings()["cleanup"] is False
    panel.apply_settings({"cleanup": True})
    assert panel.cleanup.isChecked()
