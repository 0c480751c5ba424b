"""The timeline's constraint lanes: locked keys, effector pins and the waypoints tied to frames, one row each.

A mark is selected by a click (Del then deletes it) and moved in time by a drag; the lane only reports what the
mouse did (`Timeline.select_item`, `Timeline.move_item`), and the timeline turns it into document commands, so a
drag is one undo step. Clicks and drags off a mark fall through to the timeline (playhead, pan).
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt

from app.engine.constraints import Constraints

KINDS = ("key", "pin", "waypoint")
ROWS = {"pin": 0.36, "key": 0.22, "waypoint": 0.08}  # heights in the timeline's lower half, under the segments
STYLE = {"pin": {"symbol": "d", "size": 12, "brush": pg.mkBrush(255, 90, 215)},
         "key": {"symbol": "d", "size": 13, "brush": pg.mkBrush(255, 205, 60)},
         "waypoint": {"symbol": "o", "size": 11, "brush": pg.mkBrush(168, 133, 255)}}  # the viewport's path colour
EDGE, SELECTED = pg.mkPen(40, 40, 40), pg.mkPen("w", width=2.5)


class LaneItem(pg.ScatterPlotItem):
    """One lane's marks; each mark's data is what identifies it: a key's frame, or a pin's or a waypoint's index
    in the take's constraints."""

    def __init__(self, timeline, kind: str) -> None:
        super().__init__(pen=EDGE, **STYLE[kind])
        self.setZValue(110)  # over the playhead: a mark at the playhead's frame (where pins are made) is draggable
        self.timeline, self.kind = timeline, kind
        self._dragged: int | None = None

    def show_marks(self, frames: list[int], ids: list[int], selected: int | None, brushes=None) -> None:
        pens = [SELECTED if i == selected else EDGE for i in ids]
        extra = {} if brushes is None else {"brush": brushes}
        self.setData(x=list(frames), y=[ROWS[self.kind]] * len(frames), data=list(ids), pen=pens, **extra)

    def _mark_at(self, pos) -> int | None:
        points = self.pointsAt(pos)
        return int(points[0].data()) if len(points) else None

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph's name)
        mark = self._mark_at(ev.pos()) if ev.button() == Qt.MouseButton.LeftButton else None
        if mark is None:
            ev.ignore()
            return
        self.timeline.select_item(self.kind, mark)
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


def tied_marks(constraints: Constraints, kind: str) -> tuple[list[int], list[int]]:
    """(frames, ids) of the pins, or of the waypoints tied to a frame (untied ones have no place in time)."""
    items = constraints.pins if kind == "pin" else constraints.waypoints
    marks = [(item.frame, i) for i, item in enumerate(items) if item.frame is not None]
    return [f for f, _ in marks], [i for _, i in marks]
