"""Steering a take in the studio: path mode places waypoints where the ground is clicked (tied to the playhead's
frame), P pins a hand where it is, Generate follows them through the engine, and the timeline's lanes select, move
in time and delete them, each one undo step."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.engine.constraints import Constraints, Waypoint
from app.engine.document import AddPin, AddWaypoint, SetConstraints, SetSelection
from app.ui._qt.constraint_lanes import ROWS
from app.ui.main_window import MainWindow


def _ground_pixel(window: MainWindow, x: float, z: float) -> QPoint:
    """The viewport widget's pixel over the floor point (x, 0, z)."""
    view = window.viewport.view
    mapped = view.scene.node_transform(window.viewport.canvas.scene).map([x, 0.0, z])
    scale = window.viewport.surface.devicePixelRatioF()
    return QPoint(round(mapped[0] / mapped[3] / scale), round(mapped[1] / mapped[3] / scale))


def _timeline_pixel(window: MainWindow, frame: float, row: float) -> QPointF:
    timeline = window.timeline
    return QPointF(timeline.plot.mapFromScene(timeline.view.mapViewToScene(QPointF(frame, row))))


def _mouse(widget: QWidget, kind, pos: QPointF, button=Qt.MouseButton.LeftButton,
           buttons=Qt.MouseButton.LeftButton) -> None:
    event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def _drag_on_timeline(window: MainWindow, qtbot, frame: int, to: int, row: float) -> None:
    plot = window.timeline.plot.viewport()
    start, end = _timeline_pixel(window, frame, row), _timeline_pixel(window, to, row)
    _mouse(plot, QMouseEvent.Type.MouseButtonPress, start)
    for t in np.linspace(0.0, 1.0, 8):
        _mouse(plot, QMouseEvent.Type.MouseMove, start + (end - start) * float(t), Qt.MouseButton.NoButton)
        qtbot.wait(10)
    _mouse(plot, QMouseEvent.Type.MouseButtonRelease, end, buttons=Qt.MouseButton.NoButton)


def test_path_and_pin_steer_generation_and_the_lanes_retime_them(window: MainWindow, qtbot, walk_positions) -> None:
    doc, tools = window.document, window.constraint_tools
    root = walk_positions[:, 0, [0, 2]]
    # where the root should be: the loaded walk's path, 30 cm to the character's left by frame 40
    targets = {40: root[40] + [0.3, 0.0], 100: root[100] + [0.3, 0.0]}
    window.viewport.follow.setChecked(False)
    window.viewport.set_view("top")
    camera = window.viewport.view.camera
    camera.center, camera.distance = (float(root[70, 0]), 0.0, float(root[70, 1])), 9.0
    window.findChild(object, "pathModeAction").trigger()  # W
    assert tools.path_mode.isChecked()
    for frame, (x, z) in targets.items():
        doc.current_frame = frame
        qtbot.mouseClick(window.viewport.surface, Qt.MouseButton.LeftButton, pos=_ground_pixel(window, x, z))
    placed = doc.constraints.waypoints
    assert [w.frame for w in placed] == [40, 100]
    assert max(np.hypot(w.x - targets[w.frame][0], w.z - targets[w.frame][1]) for w in placed) < 0.05  # metres
    doc.current_frame = 70
    tools.effector.setCurrentText("Hand_R")
    window.findChild(object, "pinAction").trigger()  # P
    hand = walk_positions[70, doc.take.skeleton.index("Hand_R")]
    assert len(doc.constraints.pins) == 1 and np.allclose(doc.constraints.pins[0].position, hand)
    assert np.allclose(tools.visual.points[1:, [0, 2]], [[w.x, w.z] for w in placed])  # drawn on the ground
    surface = window.viewport.surface  # a drag from a waypoint moves it on the ground: one step, undone
    start, end = QPointF(_ground_pixel(window, *targets[100])), QPointF(_ground_pixel(window, 0.0, 4.0))
    _mouse(surface, QMouseEvent.Type.MouseButtonPress, start)
    for t in np.linspace(0.2, 1.0, 5):
        _mouse(surface, QMouseEvent.Type.MouseMove, start + (end - start) * float(t), Qt.MouseButton.NoButton)
    _mouse(surface, QMouseEvent.Type.MouseButtonRelease, end, buttons=Qt.MouseButton.NoButton)
    moved = doc.constraints.waypoints[1]
    assert moved.frame == 100 and np.hypot(moved.x, moved.z - 4.0) < 0.05 and doc.undo_label == "Move waypoint"
    window.undo_action.trigger()
    assert doc.constraints.waypoints == placed and len(doc.constraints.pins) == 1

    panel = window.prompt_panel
    panel.prompt.setPlainText("a person walks forward")
    panel.length.setValue(120)
    panel.buttons["generateButton"].click()
    qtbot.waitUntil(lambda: window.worker is None, timeout=120_000)
    take = doc.take
    assert take.n_frames == 120 and doc.constraints.waypoints == placed  # the new take keeps what steered it
    for w in placed:
        assert np.hypot(*(take.positions[w.frame, 0, [0, 2]] - [w.x, w.z])) < 0.03  # within 3 cm of each waypoint
    assert np.linalg.norm(take.positions[70, take.skeleton.index("Hand_R")] - hand) < 0.01
    _drag_on_timeline(window, qtbot, 70, 85, ROWS["pin"])  # the pin, later in time
    assert doc.constraints.pins[0].frame in range(83, 88) and doc.undo_label.startswith("Move pin to frame")
    assert window.timeline.selected_item == ("pin", 0)
    window.undo_action.trigger()  # the whole drag is one step
    assert doc.constraints.pins[0].frame == 70
    doc.current_frame = 0
    qtbot.mouseClick(window.timeline.plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=_timeline_pixel(window, 100, ROWS["waypoint"]).toPoint())
    assert window.timeline.selected_item == ("waypoint", 1) and doc.current_frame == 100  # selected, playhead on it
    qtbot.keyClick(window.timeline.plot, Qt.Key.Key_Delete)
    assert [w.frame for w in doc.constraints.waypoints] == [40]
    window.undo_action.trigger()
    assert doc.constraints.waypoints == placed
    window.undo_action.trigger()  # the generation: the walk comes back, with its path and pin
    np.testing.assert_array_equal(doc.take.positions, walk_positions)
    assert doc.constraints.waypoints == placed and len(doc.constraints.pins) == 1


def test_a_refused_waypoint_is_a_message_and_a_drag_still_orbits(window: MainWindow, qtbot) -> None:
    doc, tools = window.document, window.constraint_tools
    tools.path_mode.setChecked(True)
    doc.current_frame = 0
    tools.place_waypoint(1.0, 1.0)  # tied to frame 0, away from where every take starts
    assert "a take starts at the origin" in window.statusBar().currentMessage() and not doc.constraints
    azimuth = window.viewport.view.camera.azimuth
    surface = window.viewport.surface
    start = QPointF(surface.width() / 2, surface.height() / 2)
    _mouse(surface, QMouseEvent.Type.MouseButtonPress, start)
    for dx in (20, 60, 120):
        _mouse(surface, QMouseEvent.Type.MouseMove, start + QPointF(dx, 0), Qt.MouseButton.NoButton)
    _mouse(surface, QMouseEvent.Type.MouseButtonRelease, start + QPointF(120, 0), buttons=Qt.MouseButton.NoButton)
    assert window.viewport.view.camera.azimuth != azimuth and not doc.constraints  # orbited, placed nothing
    doc.execute(SetConstraints(Constraints((Waypoint(0.5, 2.0),))))
    lane = window.timeline.waypoints
    assert tools.visual.path.visible and list(lane.data["x"]) == [doc.n_frames - 1] and lane.tied == [False]
    _drag_on_timeline(window, qtbot, doc.n_frames - 1, 50, ROWS["waypoint"])  # hollow at its frame; a drag ties it
    assert doc.constraints.waypoints[0].frame in range(48, 53)


def test_regenerate_follows_the_path_in_the_selection_and_keeps_the_rest(window: MainWindow, qtbot,
                                                                          walk_positions) -> None:
    doc = window.document
    target = walk_positions[60, 0, [0, 2]] + [0.3, 0.0]
    doc.current_frame = 60
    window.constraint_tools.place_waypoint(*target)
    doc.execute(SetSelection((40, 80)))
    window.prompt_panel.prompt.setPlainText("a person walks forward")
    window.prompt_panel.buttons["regenerateButton"].click()
    qtbot.waitUntil(lambda: window.worker is None, timeout=120_000)
    positions = doc.take.positions
    assert np.hypot(*(positions[60, 0, [0, 2]] - target)) < 0.01
    outside = np.r_[0:40, 81:len(walk_positions)]
    assert np.abs(positions[outside] - walk_positions[outside]).max() < 1e-3  # metres: untouched
    assert doc.constraints.waypoints[0].frame == 60 and doc.undo_label == "Regenerate frames 40–80"


def test_a_pin_out_of_reach_at_a_waypoints_frame_is_said_after_generating(window: MainWindow, qtbot) -> None:
    doc = window.document
    doc.execute(AddWaypoint(0.0, 1.0, 30))
    doc.execute(AddPin("Hand_L", 30, (2.0, 1.0, 1.0)))  # 2 m to the side: no arm reaches it
    window.prompt_panel.prompt.setPlainText("a person walks forward")
    window.prompt_panel.length.setValue(60)
    window.prompt_panel.buttons["generateButton"].click()
    qtbot.waitUntil(lambda: window.worker is None, timeout=120_000)
    hand = doc.take.positions[30, doc.take.skeleton.index("Hand_L")]
    assert np.linalg.norm(hand - [2.0, 1.0, 1.0]) < 0.01  # the pin won
    message = window.statusBar().currentMessage()
    assert "misses the waypoint 0,1@30" in message and "Hand_L at that frame is out of reach" in message
