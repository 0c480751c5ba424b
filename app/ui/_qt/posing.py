"""Posing in the viewport: press on a joint of the character and drag it; the body follows by IK
(app.engine.posing) and the frame becomes a locked key. Press on the ring around the hips and drag to turn the
character's heading. Elsewhere the mouse still orbits, pans and zooms the camera.

A drag moves the joint in the plane through it that faces the camera; Shift keeps it at its height (a level
plane); X, Y or Z held moves it along that world axis only (the hips at frame 0 move only up and down: a take
starts at the origin). Escape during a drag puts the pose back. Each mouse move sends one `PoseFrame`; the moves of
one drag merge into one undo step.

The tool reads the viewport widget's Qt mouse events before the canvas does (an event filter): a press on a joint
or the ring, the drag's moves and its release are the tool's, and never reach the camera (vispy would also drop
moves closer than 10 ms apart, losing where a quick drag ended); any other press goes on to the camera. The drag's
geometry uses the view as it was when the drag began (a snapshot of the scene-to-pixel matrix), so the mouse keeps
its meaning while the pose changes under it; the camera does not follow the hips while they are dragged.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QMouseEvent

from app.engine.document import Command, Document, DocumentError
from app.engine.document.pose_commands import PoseFrame
from app.engine.posing import drag_kind, pose_joint, turn_heading
from app.ui._qt.viewport import Viewport
from app.ui._vispy.pose_handles import AXES, PoseHandles, ring_points

HIT_PIXELS = 12.0  # how near the mouse must press to a joint (or the ring) to grab it
AXIS_KEYS = {Qt.Key.Key_X.value: "x", Qt.Key.Key_Y.value: "y", Qt.Key.Key_Z.value: "z"}  # QKeyEvent.key() is an int
HINT = "X/Y/Z: along an axis · Shift: level · Esc: cancel"


@dataclass
class _Drag:
    kind: str  # "joint" or "ring"
    joint: int  # the dragged joint (0 for the ring)
    frame: int
    pose: np.ndarray  # (J, 3) the frame's pose when the drag began
    matrix: np.ndarray  # (4, 4) scene -> canvas pixels, as the view was
    press: tuple[float, float]  # where the mouse was pressed, canvas pixels
    last: tuple[float, float]
    shift: bool = False
    moved: bool = False  # a PoseFrame was sent (Escape then undoes it)


def _project(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Scene points (N, 3) -> canvas pixels (N, 2)."""
    h = np.concatenate([points, np.ones((len(points), 1))], axis=1) @ matrix.T  # (N, 4)
    return h[:, :2] / h[:, 3:4]


def _ray(matrix: np.ndarray, pixel: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The line of sight through a canvas pixel: (a point on it, its unit direction), in the scene."""
    inverse = np.linalg.inv(matrix)
    near, far = (inverse @ [pixel[0], pixel[1], z, 1.0] for z in (0.0, 0.5))
    a, b = near[:3] / near[3], far[:3] / far[3]
    return a, (b - a) / np.linalg.norm(b - a)


def _on_plane(origin: np.ndarray, direction: np.ndarray, point: np.ndarray, normal: np.ndarray) -> np.ndarray | None:
    """Where the ray meets the plane through `point` with `normal`; None when it runs along the plane."""
    facing = float(direction @ normal)
    if abs(facing) < 1e-6:
        return None
    return origin + direction * float((point - origin) @ normal) / facing


def _on_axis(origin: np.ndarray, direction: np.ndarray, point: np.ndarray, axis: np.ndarray) -> np.ndarray | None:
    """The point of the line through `point` along the unit `axis` nearest to the ray; None when they are parallel."""
    w = point - origin
    b, d, e = float(axis @ direction), float(axis @ w), float(direction @ w)
    denominator = 1.0 - b * b
    if denominator < 1e-9:
        return None
    return point + axis * (b * e - d) / denominator


class PoseTool(QObject):
    """Turns mouse drags on the viewport into `PoseFrame` commands, sent through `apply` (the window's, which
    pauses playback). `enabled` off leaves the mouse to the camera (another viewport mode may want it)."""

    message = Signal(str)
    joint_grabbed = Signal(str)  # the name of a joint a drag starts on: Pin then holds it if it is an effector

    def __init__(self, document: Document, viewport: Viewport, apply: Callable[[Command], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document, self.viewport, self.apply = document, viewport, apply
        self.enabled = True
        self.handles = PoseHandles(viewport.view.scene)
        self.drag: _Drag | None = None
        self.held_axes: list[str] = []  # X/Y/Z keys held, the last pressed wins
        self._follow = False
        self._hovered: tuple[str, int] | None = None  # what the mouse is over: ("joint", j), ("ring", 0) or None
        viewport.surface.installEventFilter(self)
        viewport.surface.setMouseTracking(True)  # hovers light what a press would grab
        document.events.take_changed.connect(lambda _: self._place_ring())
        document.events.frame_changed.connect(lambda _: self._place_ring())
        self._place_ring()

    # -- geometry --------------------------------------------------------------------------------------------

    def matrix(self) -> np.ndarray:
        """The scene -> canvas pixel matrix (4, 4) of the view now: a linear chain, so mapping the basis gives it."""
        transform = self.viewport.skeleton.joints.get_transform("visual", "canvas")
        return np.asarray(transform.map(np.eye(4)), np.float64).T

    def to_screen(self, point: np.ndarray) -> tuple[float, float]:
        """Where a scene point (3,) is on the canvas now, in canvas pixels (the widget's at a device pixel ratio of 1;
        tests press there)."""
        return tuple(float(v) for v in _project(self.matrix(), np.asarray(point, np.float64)[None])[0])

    def screen_position(self, joint: int) -> tuple[float, float]:
        """Where a joint of the current frame is on the canvas, in pixels."""
        return self.to_screen(self._pose(self.document.current_frame)[joint])

    def _pose(self, frame: int) -> np.ndarray:
        return np.asarray(self.document.take.positions[frame], np.float64)

    def _ring(self, root: np.ndarray) -> np.ndarray:
        return ring_points().astype(np.float64) + root * [1.0, 0.0, 1.0]

    def _place_ring(self) -> None:
        """Around the hips of the frame shown; a new frame also forgets what the mouse was over."""
        if self.drag is None and self._hovered is not None:
            self._hovered = None
            self.handles.show_hover(None, False)
            self.viewport.surface.unsetCursor()
        take = self.document.take
        self.handles.place_ring(None if take is None else take.positions[self.document.current_frame, 0])

    # -- the drag ------------------------------------------------------------------------------------------------

    def _hit(self, pixel: np.ndarray, matrix: np.ndarray) -> tuple[str, int] | None:
        """("joint", j) for a joint of the current frame near the canvas `pixel`, ("ring", 0) for the heading ring."""
        pose = self._pose(self.document.current_frame)
        distance = np.linalg.norm(_project(matrix, pose) - pixel, axis=-1)
        joint = int(np.argmin(distance))
        if distance[joint] <= HIT_PIXELS:
            return "joint", joint
        if np.linalg.norm(_project(matrix, self._ring(pose[0])) - pixel, axis=-1).min() <= HIT_PIXELS:
            return "ring", 0
        return None

    def _canvas_pixel(self, event: QMouseEvent) -> np.ndarray:
        """The mouse event's position in canvas pixels (the offscreen canvas counts device pixels)."""
        scale = self.viewport.canvas.size[0] / max(self.viewport.surface.width(), 1)
        point = event.position()
        return np.array([point.x(), point.y()]) * scale

    def _press(self, event: QMouseEvent) -> bool:
        """Start a drag when the press is on a joint or the ring; False leaves the press to the camera."""
        if not self.enabled or self.document.take is None or self.drag is not None:
            return False
        frame, matrix, pixel = self.document.current_frame, self.matrix(), self._canvas_pixel(event)
        hit = self._hit(pixel, matrix)
        if hit is None:
            return False
        kind, joint = hit
        if kind == "joint":
            self.message.emit(f"Posing frame {frame} — {drag_kind(self.document.take.skeleton, joint)} · {HINT}")
            self.joint_grabbed.emit(self.document.take.skeleton.joint_names[joint])
        else:
            self.handles.set_ring_hot(True)
            self.message.emit(f"Turning the heading at frame {frame} · Esc: cancel")
        press = (float(pixel[0]), float(pixel[1]))
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        self.drag = _Drag(kind, joint, frame, self._pose(frame), matrix, press, press, shift)
        surface = self.viewport.surface
        surface.setFocus(Qt.FocusReason.MouseFocusReason)  # X/Y/Z and Esc come here during the drag
        surface.setCursor(Qt.CursorShape.ClosedHandCursor)
        self._follow = self.viewport.follow.isChecked()
        if kind == "joint" and joint == 0:
            self._set_follow(False)  # the hips move: a following view would slide away under the mouse
        self.document.history.seal()  # a new gesture: it does not merge into the last step
        return True

    def _move(self, event: QMouseEvent) -> None:
        pixel = self._canvas_pixel(event)
        self.drag.last = (float(pixel[0]), float(pixel[1]))
        self.drag.shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        self._update()

    def _axis(self) -> str | None:
        d = self.drag
        if d.kind == "joint" and d.joint == 0 and d.frame == 0:
            return "y"  # a take starts at the origin: at frame 0 the hips only go up and down
        return self.held_axes[-1] if self.held_axes else None

    def _point(self, pixel: tuple[float, float], through: np.ndarray, axis: str | None) -> np.ndarray | None:
        """Where the mouse at `pixel` points on the drag's plane or axis through `through`."""
        origin, direction = _ray(self.drag.matrix, pixel)
        if axis is not None:
            return _on_axis(origin, direction, through, np.asarray(AXES[axis]))
        normal = np.array([0.0, 1.0, 0.0]) if self.drag.shift else direction
        return _on_plane(origin, direction, through, normal)

    def _update(self) -> None:
        d = self.drag
        if d.kind == "ring":
            root = d.pose[0] * [1.0, 0.0, 1.0]
            now, then = (_on_plane(*_ray(d.matrix, p), root, np.array([0.0, 1.0, 0.0])) for p in (d.last, d.press))
            if now is None or then is None:
                return
            angle = np.arctan2(*(now - root)[[0, 2]]) - np.arctan2(*(then - root)[[0, 2]])
            self._send(turn_heading(d.pose, float(angle)), "Turn heading")
            return
        start, axis = d.pose[d.joint], self._axis()
        now, then = self._point(d.last, start, axis), self._point(d.press, start, axis)
        if now is None or then is None:
            return
        target = start + (now - then)  # the joint keeps its offset from where the mouse grabbed it
        pose = pose_joint(d.pose, self.document.take.skeleton, d.joint, target)
        if self._send(pose, f"Pose {self.document.take.skeleton.joint_names[d.joint]}"):
            self.handles.show_drag(pose[d.joint], target, axis, start)

    def _send(self, pose: np.ndarray, label: str) -> bool:
        try:
            self.apply(PoseFrame(self.drag.frame, pose, label))
        except DocumentError as exc:
            self.message.emit(str(exc))
            return False
        self.drag.moved = True
        self.viewport.surface.update()
        return True

    def _end(self, cancel: bool = False) -> None:
        d, self.drag = self.drag, None
        if cancel and d.moved:
            self.document.undo()
            self.message.emit("Posing cancelled")
        elif d.moved:
            self.message.emit(f"Frame {d.frame} posed and locked: In-between fills around it")
        self.document.history.seal()
        self._set_follow(self._follow)
        self.handles.end_drag()
        self._hovered = None
        self.viewport.surface.unsetCursor()
        self.viewport.surface.update()

    def _set_follow(self, on: bool) -> None:
        """Follow on or off without recentring now (a drag must not move the view under the mouse)."""
        box = self.viewport.follow
        box.blockSignals(True)
        box.setChecked(on)
        box.blockSignals(False)

    def _hover(self, event: QMouseEvent) -> None:
        """Over a joint or the ring, a hand cursor and the joint (or the ring) lit: what a press would grab. Only a
        change redraws."""
        hit = None
        if self.enabled and self.document.take is not None:
            hit = self._hit(self._canvas_pixel(event), self.matrix())
        if hit == self._hovered:
            return
        self._hovered = hit
        pose = None if hit is None or hit[0] == "ring" else self._pose(self.document.current_frame)[hit[1]]
        self.handles.show_hover(pose, hit is not None and hit[0] == "ring")
        if hit is None:
            self.viewport.surface.unsetCursor()
        else:
            self.viewport.surface.setCursor(Qt.CursorShape.OpenHandCursor)
        self.viewport.surface.update()

    # -- the widget's events: the mouse, X/Y/Z held, Escape ----------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        left = Qt.MouseButton.LeftButton
        if kind == QEvent.Type.MouseButtonPress and event.button() == left:
            return self._press(event)
        if kind == QEvent.Type.MouseMove:
            if self.drag is not None and event.buttons() & left:
                self._move(event)
            elif event.buttons() == Qt.MouseButton.NoButton and self.drag is None:
                self._hover(event)
            else:
                return False  # the camera's drag
            return True  # a hover needs no camera and no redraw
        if kind == QEvent.Type.MouseButtonRelease and event.button() == left and self.drag is not None:
            self._move(event)  # where the drag ended, even if no move was reported there
            self._end()
            return True
        if kind == QEvent.Type.ShortcutOverride and self.drag is not None and (
                event.key() == Qt.Key.Key_Escape or event.key() in AXIS_KEYS):
            event.accept()  # during a drag these keys are the drag's, not a window shortcut's
            return True
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and not event.isAutoRepeat():
            axis = AXIS_KEYS.get(event.key())
            if axis is not None and event.modifiers() in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier):
                if axis in self.held_axes:
                    self.held_axes.remove(axis)
                if kind == QEvent.Type.KeyPress:
                    self.held_axes.append(axis)
                if self.drag is not None:
                    self._update()
                    return True
            elif kind == QEvent.Type.KeyPress and event.key() == Qt.Key.Key_Escape and self.drag is not None:
                self._end(cancel=True)
                return True
        elif kind == QEvent.Type.FocusOut:
            self.held_axes.clear()
        return False
