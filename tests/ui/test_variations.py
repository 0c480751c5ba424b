"""Variations side by side: animated previews under the viewport that never squash the timeline, Cancel keeps the
takes that finished, and the window works at 1280 x 720. The model is replaced by a quick stand-in (seeded
copies of a real walk): these tests are about the window, test_generation runs the real one."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.engine.document import motion_from_take, take_from_positions
from app.engine.skeleton import BANDAI_NAMCO_21
from app.ui import edit_actions
from app.ui._qt.timeline import MIN_HEIGHT
from app.ui.main_window import MainWindow


class QuickModel:
    """Stands in for the model: `asked` the seeds generated, `stop_after` presses Cancel during that variation."""

    def __init__(self) -> None:
        self.asked: list[int] = []
        self.stop_after = 0


@pytest.fixture
def quick_model(window: MainWindow, walk_positions, monkeypatch) -> QuickModel:
    """ops.generate as a seeded walk (seed s: the walk shifted s metres sideways)."""
    model = QuickModel()

    def generate(text, n_frames, seed, guidance, engine="masked", model=model, cleanup=True, constraints=None):
        model.asked.append(seed)
        if model.stop_after == len(model.asked):
            window.worker.cancel()  # what the Cancel button does, while this variation is being made
        shifted = walk_positions[:n_frames] + np.array([seed, 0, 0], np.float32)
        return motion_from_take(take_from_positions(shifted, 20.0, BANDAI_NAMCO_21))

    monkeypatch.setattr(window.edit_actions, "model", lambda engine="masked": model)
    monkeypatch.setattr(edit_actions.ops, "generate", generate)
    return model


def _variations(window: MainWindow, qtbot, count: int) -> None:
    panel = window.prompt_panel
    panel.length.setValue(60)
    panel.count.setValue(count)
    panel.buttons["variationsButton"].click()
    qtbot.waitUntil(lambda: window.worker is None, timeout=30_000)


def test_variations_are_animated_previews_that_leave_the_timeline_alone(window: MainWindow, qtbot, quick_model) -> None:
    window.resize(1280, 720)
    qtbot.wait(50)
    timeline_height = window.timeline.plot.height()
    _variations(window, qtbot, 4)
    strip = window.variations_strip
    qtbot.waitUntil(strip.isVisible, timeout=2000)
    assert [p.label for p in strip.previews] == [f"seed {s} · 60 f" for s in range(4)]
    assert all(p.isVisible() and p.width() >= 100 for p in strip.previews)
    assert window.timeline.plot.height() == timeline_height >= MIN_HEIGHT  # not squashed
    frames = [p.frame for p in strip.previews]
    qtbot.wait(300)
    assert all(p.frame != f for p, f in zip(strip.previews, frames))  # they play
    image = strip.previews[2].grab().toImage()
    drawn = {image.pixelColor(x, y).name() for x in range(0, image.width(), 3) for y in range(0, image.height(), 3)}
    assert len(drawn) > 5  # a figure, not a blank box
    qtbot.mouseClick(strip.previews[2], Qt.MouseButton.LeftButton)
    assert window.document.take is window.edit_actions.variations[2][1] and strip.previews[2].current
    assert window.viewport.skeleton.positions[0, 0, 0] == pytest.approx(window.document.take.positions[0, 0, 0])


def test_cancel_keeps_the_variations_that_finished(window: MainWindow, qtbot, quick_model) -> None:
    quick_model.stop_after = 3  # Cancel pressed while the third is being made
    before = window.document.take
    _variations(window, qtbot, 5)
    assert quick_model.asked == [0, 1, 2]
    strip = window.variations_strip
    assert [p.label for p in strip.previews] == ["seed 0 · 60 f", "seed 1 · 60 f"]
    assert "2 of 5" in strip.title.text()
    assert window.document.take is window.edit_actions.variations[0][1]
    assert window.statusBar().currentMessage().endswith("cancelled")
    window.document.undo()
    assert window.document.take is before


def test_the_window_works_at_1280_by_720(window: MainWindow, qtbot) -> None:
    window.resize(1280, 720)
    qtbot.wait(100)
    assert (window.width(), window.height()) == (1280, 720)
    assert window.minimumSizeHint().height() <= 720
    assert window.timeline.plot.height() >= MIN_HEIGHT and window.viewport.surface.height() >= 250
    generate = window.prompt_panel.buttons["generateButton"]
    dock = window.findChild(object, "promptDock")
    assert dock.isVisible() and generate.isVisibleTo(dock)  # the panel scrolls to it when the window is short
