"""A studio window with a real take (a Bandai Namco walk), shared by the UI tests. They run under Xvfb:
vispy's canvas does not render with the offscreen platform."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.engine.document import Take
from app.engine.skeleton import BANDAI_NAMCO_21
from app.ui.app import create_window
from app.ui.main_window import MainWindow

SHARED = Path(__file__).resolve().parents[2].parent / "shared/data"
WALK = SHARED / "bandai-namco/sample/dataset-2_walk_normal_001.bvh"


@pytest.fixture(scope="session")
def walk_positions() -> np.ndarray:
    from app.engine.data.bandai_namco import take_positions

    if not WALK.exists():
        pytest.fail(f"{WALK} is missing; the UI tests need ../shared/data as CI has it")
    return take_positions(WALK.read_text(), source=WALK.name).astype(np.float32)


@pytest.fixture
def window(qtbot, walk_positions) -> MainWindow:
    win = create_window()
    qtbot.addWidget(win)
    win.load_take(Take(walk_positions, 20.0, BANDAI_NAMCO_21))
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    win.viewport.canvas.native.setFocus()
    return win
