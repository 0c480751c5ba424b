"""Steering tools in the viewport: path mode (a click on the ground places a waypoint, tied to the playhead's frame
when "Tie to frame" is on; a drag from a waypoint moves it on the ground) and pinning an effector (a hand, a foot or
the head) at the playhead where it is now.

The tools sit in the viewport's bar and draw the take's constraints (`ConstraintsVisual`); every change is a
document command (app.engine.document.constraint_commands), so it undoes, and a refused one (a waypoint at frame 0
away from the origin, a frame outside the take...) becomes a status message. A click in path mode is a press and
release in the same place: a drag elsewhere than on a waypoint still orbits the camera.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QPushButton, QToolButton

from app.engine.constraints import Constraints, effector_chains
from app.engine.document import AddPin, AddWaypoint, Command, Document, PlaceWaypoint, SetConstraints
from app.ui._qt.viewport import Viewport
from app.ui._vispy.constraints_visual import ConstraintsVisual, ground_point

CLICK_PIXELS = 4  # a press and release closer than this is a click, not an orbit
GRAB_PIXELS = 10  # a press this close to a waypoint's disc drags the waypoint
DEFAULT_EFFECTOR = "Hand_R"


class ConstraintTools(QObject):
    message = Signal(str)

    def __init__(self, document: Document, viewport: Viewport) -> None:
        super().__init__(viewport)
        self.document, self.viewport = document, viewport
        self.visual = ConstraintsVisual(viewport.view.scene)
        self.path_mode = QToolButton()
        self.path_mode.setObjectName("pathModeButton")
        self.path_mode.setText("Path")
        self.path_mode.setCheckable(True)
        self.path_mode.setToolTip("Path mode (W): click on the ground to place a waypoint the root will pass; "
                                  "Generate and Regenerate follow the path")
        self.tie = QCheckBox("Tie to frame")
        self.tie.setObjectName("tieCheck")
        self.tie.setChecked(True)
        self.tie.setToolTip("A new waypoint is reached at the playhead's frame; unchecked, at the frame its place "
                            "along the path gives it")
        self.effector = QComboBox()
        self.effector.setObjectName("pinEffectorCombo")
        self.effector.setToolTip("The hand, foot or head that Pin holds")
        self.pin_button = QPushButton("Pin")
        self.pin_button.setObjectName("pinButton")
        self.pin_button.setToolTip("Pin the chosen effector where it is at the playhead (P): Generate and Regenerate "
                                   "keep it there at that frame")
        self.pin_button.clicked.connect(lambda: self.pin_effector())
        viewport.add_tools(self.path_mode, self.tie, self.effector, self.pin_button)
        self._press: tuple[float, float] | None = None
        self._grabbed: int | None = None  # the waypoint being dragged on the ground
        canvas = viewport.canvas
        canvas.events.mouse_press.connect(self._on_mouse_press)
        canvas.events.mouse_move.connect(self._on_mouse_move)
        canvas.events.mouse_release.connect(self._on_mouse_release)
        document.events.constraints_changed.connect(self._on_constraints_changed)
        document.events.take_changed.connect(lambda _: self._update_effectors())
        self._update_effectors()
        self._on_constraints_changed(document.constraints)

    # -- commands ----------------------------------------------------------------------------------------

    def run(self, command: Command) -> bool:
        refusal = self.document.try_execute(command)
        if refusal is not None:
            self.message.emit(refusal)
        return refusal is None

    def place_waypoint(self, x: float, z: float) -> bool:
        doc = self.document
        frame = doc.current_frame if self.tie.isChecked() and doc.take is not None else None
        return self.run(AddWaypoint(x, z, frame))

    def pin_effector(self, joint: str | None = None) -> bool:
        """Pin `joint` (default: the chosen effector) at the playhead, where it is in the take now."""
        doc, joint = self.document, joint or self.effector.currentText()
        if doc.take is None:
            self.message.emit("there is no take yet: generate or import one, then pin a hand, foot or the head")
            return False
        frame = doc.current_frame
        position = doc.take.positions[frame, doc.take.skeleton.index(joint)]
        if self.run(AddPin(joint, frame, tuple(float(v) for v in position))):
            self.message.emit(f"{joint} pinned at frame {frame}")
            return True
        return False

    def choose_effector(self, joint: str) -> None:
        """Make `joint` the one Pin holds, when it is a hand, foot or the head (posing picks the joint it grabs)."""
        if self.effector.findText(joint) >= 0:
            self.effector.setCurrentText(joint)

    def clear(self) -> None:
        if self.document.constraints:
            self.run(SetConstraints(Constraints(), "Clear path and pins"))

    # -- mouse -------------------------------------------------------------------------------------------

    def waypoint_at(self, pixel: tuple[float, float]) -> int | None:
        """The waypoint whose disc is under the canvas pixel, if any."""
        points = self.visual.points[1:]
        if not len(points):
            return None
        mapped = self.viewport.view.scene.node_transform(self.viewport.canvas.scene).map(points)  # (N, 4)
        distance = np.linalg.norm(mapped[:, :2] / mapped[:, 3:4] - pixel, axis=-1)
        nearest = int(np.argmin(distance))
        return nearest if distance[nearest] <= GRAB_PIXELS else None

    def _on_mouse_press(self, event) -> None:
        self._press = tuple(event.pos[:2]) if self.path_mode.isChecked() and event.button == 1 else None
        if self._press is not None:
            self._grabbed = self.waypoint_at(self._press)
            if self._grabbed is not None:
                self.viewport.view.camera.interactive = False  # the drag moves the waypoint, not the view
                self.document.history.seal()

    def _on_mouse_move(self, event) -> None:
        if self._grabbed is not None:
            self._drag_to(tuple(event.pos[:2]))

    def _drag_to(self, pixel: tuple[float, float]) -> None:
        hit = ground_point(self.viewport.view, pixel)
        if hit is not None:
            self.run(PlaceWaypoint(self._grabbed, *hit))

    def _on_mouse_release(self, event) -> None:
        press, self._press = self._press, None
        if self._grabbed is not None:
            self._drag_to(tuple(event.pos[:2]))  # vispy drops moves closer than 10 ms: the last may be lost
            self._grabbed = None
            self.viewport.view.camera.interactive = True
            self.document.history.seal()
            return
        if press is None or event.button != 1:
            return
        if max(abs(event.pos[0] - press[0]), abs(event.pos[1] - press[1])) > CLICK_PIXELS:
            return  # a drag: the camera orbited
        hit = ground_point(self.viewport.view, press)
        if hit is None:
            self.message.emit("click on the ground to place a waypoint")
            return
        self.place_waypoint(*hit)

    # -- document events ---------------------------------------------------------------------------------

    def _on_constraints_changed(self, constraints: Constraints) -> None:
        self.visual.set_constraints(constraints)
        self.viewport.surface.update()

    def _update_effectors(self) -> None:
        take = self.document.take
        if take is None:
            return
        names = [take.skeleton.joint_names[j] for j in sorted(effector_chains(take.skeleton))]
        if names != [self.effector.itemText(i) for i in range(self.effector.count())]:
            current = self.effector.currentText() or DEFAULT_EFFECTOR
            self.effector.clear()
            self.effector.addItems(names)
            self.effector.setCurrentText(current if current in names else names[0])
