"""The viewport's display toggle: skeleton, body or both; the body follows the frame."""
from __future__ import annotations

import numpy as np

from app.ui.main_window import MainWindow


def test_the_display_toggle_shows_the_body_and_hides_the_bones(window: MainWindow) -> None:
    viewport = window.viewport
    assert viewport.display.currentText() in ("Skeleton", "Body", "Both")
    viewport.display.setCurrentText("Body")
    assert viewport.body.mesh.visible and not viewport.skeleton.bones.visible
    window.document.current_frame = 5
    first = viewport.body.vertices.copy()
    window.document.current_frame = 40
    assert np.abs(viewport.body.vertices - first).max() > 0.05  # the walk moved it
    image = viewport.render_image()
    assert image[..., :3].std() > 5  # something lit is drawn
    viewport.display.setCurrentText("Both")
    assert viewport.body.mesh.visible and viewport.skeleton.bones.visible
    viewport.display.setCurrentText("Skeleton")
    assert not viewport.body.mesh.visible and viewport.skeleton.bones.visible
