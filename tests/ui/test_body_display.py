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


def test_the_export_dialog_can_carry_the_body(window: MainWindow, tmp_path) -> None:
    import ufbx

    from app.ui._qt.export_dialog import ExportOptions

    assert window.export_take(ExportOptions(tmp_path / "walk.fbx", 0, 30, 20.0, body=True))
    assert len(list(ufbx.load_file(str(tmp_path / "walk.fbx")).meshes)) == 1
    assert not window.export_take(ExportOptions(tmp_path / "walk.bvh", 0, 30, 20.0, body=True))  # BVH has no body
