"""The timeline's constraint lanes: locked keys, effector pins and waypoints, one row each (a waypoint not tied to a
frame is drawn hollow where its place along the path puts it; dragging it ties it to the frame it is dropped on).

A mark is selected by a click, which also puts the playhead on its frame (Del then deletes it), and moved in time
by a drag; the lane only reports what the mouse did (`Timeline.select_item`, `Timeline.move_item`), and the
timeline turns it into document commands, so a drag is one undo step. Clicks and drags off a mark fall through to the timeline (playhead, pan).
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt

from app.engine.constraints import Constraints, waypoint_frames

KINDS = ("key", "pin", "waypoint")
ROWS = {"pin": 0.36, "key": 0.22, "waypoint": 0.08}  # heights in the timeline's lower half, under the segments
STYLE = {"pin": {"symbol": "d", "size": 12, "brush": pg.mkBrush(255, 90, 215)},
         "key": {"symbol": "d", "size": 13, "brush": pg.mkBrush(255, 205, 60)},
         "waypoint": {"symbol": "o", "size": 11, "brush": pg.mkBrush(168, 133, 255)}}  # the viewport's path colour
EDGE, SELECTED = pg.mkPen(40, 40, 40), pg.mkPen("w", width=2.5)
UNTIED = pg.mkBrush(30, 32, 36)


class LaneItem(pg.ScatterPlotItem):
    """One lane's marks; each mark's data is what identifies it: a key's frame, or a pin's or a waypoint's index
    in the take's constraints."""

    def __init__(self, timeline, kind: str) -> None:
        super().__init__(pen=EDGE, **STYLE[kind])
        self.setZValue(110)  # over the playhead: a mark at the playhead's frame (where pins are made) is draggable
        self.timeline, self.kind = timeline, kind
        self._dragged: int | None = None
        self.tied: list[bool] = []  # per waypoint mark: tied to its frame (a waypoint lane's marks)

    def show_marks(self, frames: list[int], ids: list[int], selected: int | None, brushes=None) -> None:
        pens = [SELECTED if i == selected else EDGE for i in ids]
        extra = {} if brushes is None else {"brush": brushes}
        if brushes is None and self.kind == "waypoint":  # hollow where untied
            extra["brush"] = [STYLE["waypoint"]["brush"] if tied else UNTIED for tied in self.tied]
        self.setData(x=list(frames), y=[ROWS[self.kind]] * len(frames), data=list(ids), pen=pens, **extra)

    def _mark_at(self, pos) -> int | None:
        points = self.pointsAt(pos)
        return int(points[0].data()) if len(points) else None

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph's name)
        points = self.pointsAt(ev.pos()) if ev.button() == Qt.MouseButton.LeftButton else []
        if not len(points):
            ev.ignore()
            return
        self.timeline.select_item(self.kind, int(points[0].data()))
        self.timeline.document.current_frame = round(points[0].pos().x())
        ev.accept()

    def mouseDragEvent(self, ev) -> None:  # noqa: N802
        if ev.isStart():
            shifted = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            left = ev.button() == Qt.MouseButton.LeftButton
            self._dragged = self._mark_at(ev.buttonDownPos()) if left and not shifted else None
            if self._dragged is not None:
                self.timeline.select_item(self.kind, self._dragged)
        if self._dragged is None:
            ev.ignore()
            return
        ev.accept()
        frame = round(self.timeline.view.mapSceneToView(ev.scenePos()).x())
        self._dragged = self.timeline.move_item(self.kind, self._dragged, frame)
        if ev.isFinish():
            self._dragged = None
            self.timeline.document.history.seal()


def marks(constraints: Constraints, kind: str, n_frames: int) -> tuple[list[int], list[int], list[bool]]:
    """(frames, ids, tied) of the pins or the waypoints; an untied waypoint at the frame the engine will give it
    (none without a take)."""
    if kind == "pin":
        pins = constraints.pins
        return [p.frame for p in pins], list(range(len(pins))), [True] * len(pins)
    waypoints = constraints.waypoints
    if not waypoints or n_frames < 2:
        tied = [i for i, w in enumerate(waypoints) if w.frame is not None]
        return [waypoints[i].frame for i in tied], tied, [True] * len(tied)
    frames = [int(f) for f in waypoint_frames(waypoints, n_frames).round()]
    return frames, list(range(len(waypoints))), [w.frame is not None for w in waypoints]
