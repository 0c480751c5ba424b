"""A readable viewport: facing cues on the character, tinted and labelled key ghosts, camera framing and views,
and a first screen with an example take and suggested prompts that is usable while the models load."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.engine.document import ToggleLock, take_from_positions
from app.engine.skeleton import BANDAI_NAMCO_21
from app.ui._vispy.camera_views import DEFAULT, VIEWS
from app.ui.main_window import MainWindow


def _on_screen(window: MainWindow, points: np.ndarray) -> np.ndarray:
    """(N, 2) canvas pixels of scene points."""
    mapped = window.viewport.view.scene.node_transform(window.viewport.canvas.scene).map(points)  # (N, 4)
    return mapped[:, :2] / mapped[:, 3:4]


def test_the_character_shows_where_it_faces(window: MainWindow, walk_positions: np.ndarray) -> None:
    skeleton = window.viewport.skeleton
    window.document.current_frame = 30
    facing = skeleton.facing
    assert facing.visible and all(mesh.visible for mesh in facing.meshes.values())
    np.testing.assert_allclose(facing.forward, [0, 0, 1], atol=0.15)  # the walk goes along +Z
    head = walk_positions[30, 4]
    assert np.linalg.norm(facing.head_centre() - head) < 0.1
    assert facing.nose_tip()[2] > head[2] + 0.1  # the nose points where the body walks
    chest = facing.meshes["chest"].transform.map(np.array([[0.0, 0.5, 0.0]]))[0, :3]
    assert chest[2] > walk_positions[30, 2, 2]  # the chest plate is on the front of the chest
    turned = walk_positions * np.array([-1, 1, -1], np.float32)  # the same walk turned round: it faces -Z
    window.load_take(take_from_positions(turned, 20.0, BANDAI_NAMCO_21))
    np.testing.assert_allclose(facing.forward, [0, 0, -1], atol=0.15)


def test_key_ghosts_are_tinted_and_labelled_by_frame(window: MainWindow) -> None:
    for frame in (20, 120):
        window.document.execute(ToggleLock(frame))
    ghosts = window.viewport.skeleton.key_ghosts
    assert ghosts.visible and ghosts.labels.visible
    assert list(ghosts.labels.text) == ["key 20", "key 120"]
    assert np.abs(ghosts.colours[0, :3] - ghosts.colours[1, :3]).max() > 0.2  # two keys, two tints
    brushes = window.timeline.locks.data["brush"]
    diamond = brushes[1].color()
    assert abs(diamond.redF() - ghosts.colours[1, 0]) < 0.01  # the diamond in its ghost's tint


def test_f_frames_the_character_and_shift_home_resets_the_view(window: MainWindow, qtbot) -> None:
    camera, surface = window.viewport.view.camera, window.viewport.surface
    window.viewport.follow.setChecked(False)
    camera.center, camera.distance, camera.azimuth = (20.0, 0.0, 20.0), 40.0, 150.0
    qtbot.keyClick(surface, Qt.Key.Key_F)
    pose = window.viewport.skeleton.pose
    pixels = _on_screen(window, pose)
    width, height = window.viewport.canvas.size
    assert (pixels >= 0).all() and (pixels[:, 0] <= width).all() and (pixels[:, 1] <= height).all()
    assert np.ptp(pixels[:, 1]) > 0.4 * height  # fills the view rather than being a speck
    qtbot.keyClick(surface, Qt.Key.Key_Home, Qt.KeyboardModifier.ShiftModifier)
    assert (camera.azimuth, camera.elevation, camera.distance) == (DEFAULT["azimuth"], DEFAULT["elevation"],
                                                                   DEFAULT["distance"])
    assert abs(camera.center[0] - pose[0, 0]) < 1e-6 and abs(camera.center[2] - pose[0, 2]) < 1e-6


def test_front_side_and_top_views(window: MainWindow, qtbot) -> None:
    camera = window.viewport.view.camera
    for key, name in ((Qt.Key.Key_1, "front"), (Qt.Key.Key_3, "side"), (Qt.Key.Key_7, "top")):
        qtbot.keyClick(window.viewport.surface, key)
        assert (camera.azimuth, camera.elevation) == VIEWS[name], name
    window.findChild(object, "frontViewAction").trigger()
    assert (camera.azimuth, camera.elevation) == VIEWS["front"]
    facing = window.viewport.skeleton.facing
    tip, centre = _on_screen(window, np.array([facing.nose_tip(), facing.head_centre()]))
    assert np.linalg.norm(tip - centre) < 8  # pixels: seen from the front, the nose points straight at us


def test_the_first_screen_has_an_example_take_prompts_and_live_buttons(qtbot, monkeypatch) -> None:
    import threading

    from app.ui.app import create_window

    window = create_window()
    window.projects.ask_unsaved = lambda: "discard"
    qtbot.addWidget(window)
    loaded = threading.Event()  # the models "load" until the test lets them (they may be cached in this process)
    model = type("Model", (), {"encode_text": lambda self, texts: None})()
    monkeypatch.setattr(window.edit_actions, "model", lambda engine="masked": loaded.wait(30) and model)
    window.edit_actions.warm_up()
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    window.viewport.surface.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.viewport.surface, timeout=5000)
    doc = window.document
    assert doc.take is not None and doc.n_frames > 40 and not doc.can_undo and not window.projects.dirty
    view_range = window.timeline.view.viewRange()[0]
    assert view_range[0] >= -0.1 * doc.n_frames and view_range[1] >= doc.n_frames - 1
    panel = window.prompt_panel
    assert window.edit_actions.warming  # the models are still loading...
    assert panel.buttons["generateButton"].isEnabled() and panel.buttons["variationsButton"].isEnabled()  # ...yet
    panel.suggestions.linkActivated.emit("1")
    assert panel.prompt.toPlainText() == "a person waves the right hand"
    qtbot.keyClick(window.viewport.surface, Qt.Key.Key_Space)
    assert window.transport.playing
    window.transport.pause()
    loaded.set()
    qtbot.waitUntil(lambda: not window.edit_actions.warming, timeout=10_000)
    assert window.statusBar().currentMessage() == "Models loaded"
