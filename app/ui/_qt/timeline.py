"""The timeline: frame ruler, playhead, prompt segments, the frame selection, and lanes for the locked keys, the
effector pins and the root waypoints (`constraint_lanes`), on pyqtgraph.

Every change goes through a document command; the items only mirror the document (they are updated in place
from its events, so a drag in progress is never interrupted by a rebuild). Drags execute a command per mouse
move and seal the history on release: one drag, one undo step.

Mouse: click sets the playhead, drag pans, the wheel zooms (time only), shift-drag selects frames,
double-click adds a segment (on a segment: edits its text), right-click opens a menu; a drag on a key, pin or
waypoint moves it in time; Del removes the segment, key, pin or waypoint last clicked.
"""
from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QInputDialog, QMenu, QVBoxLayout, QWidget

from app.engine.constraints import Constraints
from app.engine.document import (
    AddSegment, Command, Document, EditSegmentText, MoveConstraint, MoveKey, MoveSegment,
    RemoveConstraint, RemoveSegment, ResizeSegment, Segment, SetSelection, ToggleLock,
)
from app.ui._qt.constraint_lanes import LaneItem, marks
from app.ui._vispy.key_ghosts import key_colour

SEGMENT_SPAN = (0.52, 0.96)  # fractions of the plot's height
SELECTION_SPAN = (0.0, 0.44)
NEW_SEGMENT_LENGTH = 40
MIN_HEIGHT = 110  # pixels: the segment and selection rows stay apart and readable (never squashed)
EMPTY_FRAMES = 120  # the ruler without a take: room for the segments of a long take still to build
FOLLOW_MS = 50  # the playhead's refresh while playing (20 Hz): the plot is not repainted for every frame
PALETTE = [(90, 160, 255), (255, 150, 80), (120, 210, 120), (220, 120, 220), (240, 210, 90), (100, 210, 210)]


class _TimeViewBox(pg.ViewBox):
    """Pans and zooms along time only; routes clicks and shift-drags to the timeline."""

    def __init__(self, timeline: Timeline) -> None:
        super().__init__(enableMenu=False)
        self.timeline = timeline
        self.setMouseEnabled(x=True, y=False)
        self._select_from: int | None = None

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph's name)
        frame = round(self.mapSceneToView(ev.scenePos()).x())
        if ev.button() == Qt.MouseButton.LeftButton and ev.double():
            self.timeline.add_segment_at(frame)
        elif ev.button() == Qt.MouseButton.LeftButton:
            self.timeline.document.current_frame = frame
        elif ev.button() == Qt.MouseButton.RightButton:
            self.timeline.show_menu(ev.screenPos().toPoint(), frame, None)
        ev.accept()

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802
        if not (ev.modifiers() & Qt.KeyboardModifier.ShiftModifier) or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        frame = round(self.mapSceneToView(ev.scenePos()).x())
        if ev.isStart():
            self._select_from = round(self.mapSceneToView(ev.buttonDownScenePos()).x())
        n = self.timeline.document.n_frames
        clamp = lambda f: min(max(f, 0), n - 1)  # noqa: E731
        if self._select_from is not None and n:
            self.timeline.run(SetSelection((clamp(self._select_from), clamp(frame))))
        if ev.isFinish():
            self._select_from = None
            self.timeline.document.history.seal()


class _SegmentItem(pg.LinearRegionItem):
    """One prompt segment: drag the body to move it, an edge to resize it; double-click edits its text."""

    def __init__(self, timeline: Timeline, index: int) -> None:
        colour = PALETTE[index % len(PALETTE)]
        super().__init__(orientation="vertical", brush=pg.mkBrush(*colour, 110), hoverBrush=pg.mkBrush(*colour, 160),
                         pen=pg.mkPen(*colour, width=2), span=SEGMENT_SPAN, swapMode="block")
        self.timeline = timeline
        self.index = index
        self.label = pg.TextItem(color=(240, 240, 240), anchor=(0, 0))
        self.label.setParentItem(self)

    def mouseClickEvent(self, ev) -> None:  # noqa: N802
        if ev.button() == Qt.MouseButton.LeftButton and ev.double():
            self.timeline.edit_segment_text(self.index)
        elif ev.button() == Qt.MouseButton.LeftButton:
            self.timeline.select_segment(self.index)
        elif ev.button() == Qt.MouseButton.RightButton:
            frame = round(self.timeline.view.mapSceneToView(ev.scenePos()).x())
            self.timeline.show_menu(ev.screenPos().toPoint(), frame, self.index)
        else:
            return
        ev.accept()


class Timeline(QWidget):
    message = Signal(str)  # errors and hints for the status bar

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        self.document = document
        self.selected_segment: int | None = None
        self.selected_item: tuple[str, int] | None = None  # ("key", frame), ("pin", index) or ("waypoint", index)
        # Replaced in tests: (title, current text) -> new text, or None when cancelled.
        self.ask_text: Callable[[str, str], str | None] = self._ask_text
        self._syncing = False
        self._playing = False
        self._follow = QTimer(self)
        self._follow.setInterval(FOLLOW_MS)
        self._follow.timeout.connect(lambda: self._move_playhead(self.document.current_frame))

        self.view = _TimeViewBox(self)
        self.plot = pg.PlotWidget(viewBox=self.view, background=(30, 32, 36))
        self.plot.setObjectName("timelinePlot")
        self.plot.hideAxis("left")
        self.plot.setLabel("bottom", "frame")
        self.plot.setYRange(0, 1, padding=0)
        self.plot.showGrid(x=True, y=False, alpha=0.15)
        self.view.setLimits(yMin=0, yMax=1)
        self.selection_item = pg.LinearRegionItem(brush=pg.mkBrush(120, 170, 255, 60), pen=pg.mkPen(120, 170, 255),
                                                  span=SELECTION_SPAN)
        self.selection_item.setVisible(False)
        self.selection_item.sigRegionChanged.connect(self._selection_dragged)
        self.selection_item.sigRegionChangeFinished.connect(lambda _: self._finish_drag())
        self.locks = LaneItem(self, "key")
        self.pins, self.waypoints = LaneItem(self, "pin"), LaneItem(self, "waypoint")
        self.playhead = pg.InfiniteLine(0, movable=True, pen=pg.mkPen(255, 80, 80, width=2),
                                        hoverPen=pg.mkPen(255, 140, 140, width=3))
        self.playhead.setZValue(100)
        self.playhead.sigPositionChanged.connect(self._playhead_dragged)
        for item in (self.selection_item, self.locks, self.pins, self.waypoints, self.playhead):
            self.plot.addItem(item)
        self.segment_items: list[_SegmentItem] = []

        self.plot.setMinimumHeight(MIN_HEIGHT)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        delete = QShortcut(QKeySequence(Qt.Key.Key_Delete), self, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        delete.activated.connect(self.delete_selected)

        events = document.events
        events.take_changed.connect(lambda _: self._on_take_changed())
        events.frame_changed.connect(self._on_frame_changed)
        events.segments_changed.connect(self._on_segments_changed)
        events.locks_changed.connect(self._on_locks_changed)
        events.selection_changed.connect(self._on_selection_changed)
        events.constraints_changed.connect(self._on_constraints_changed)
        self._on_take_changed()
        self._on_segments_changed(document.segments)

    # -- commands ----------------------------------------------------------------------------------------

    def run(self, command: Command) -> bool:
        """Execute a command; a refused one becomes a status message, not an exception."""
        refusal = self.document.try_execute(command)
        if refusal is not None:
            self.message.emit(refusal)
            self._on_segments_changed(self.document.segments)  # put a refused drag back
        return refusal is None

    def add_segment_at(self, frame: int) -> None:
        text = self.ask_text("New prompt segment", "a person walks forward")
        if text:
            self.run(AddSegment(Segment(text, max(frame, 0), NEW_SEGMENT_LENGTH)))
            self.select_segment(len(self.document.segments) - 1)

    def edit_segment_text(self, index: int) -> None:
        text = self.ask_text("Segment prompt", self.document.segments[index].text)
        if text is not None:
            self.run(EditSegmentText(index, text))

    def select_segment(self, index: int | None) -> None:
        self.selected_segment = index
        if index is not None and self.selected_item is not None:
            self.select_item(None)
        for item in self.segment_items:
            item.lines[0].setPen(pg.mkPen("w" if item.index == index else PALETTE[item.index % len(PALETTE)], width=2))
            item.lines[1].setPen(item.lines[0].pen)

    def remove_selected_segment(self) -> None:
        if self.selected_segment is not None and self.run(RemoveSegment(self.selected_segment)):
            self.selected_segment = None

    def select_item(self, kind: str | None, mark: int | None = None) -> None:
        """Select a key (by frame), a pin or a waypoint (by index) on the lanes; None clears."""
        self.selected_item = None if kind is None else (kind, mark)
        if kind is not None and self.selected_segment is not None:
            self.select_segment(None)
        self._on_locks_changed(self.document.locked_frames)
        self._on_constraints_changed(self.document.constraints)

    def move_item(self, kind: str, mark: int, frame: int) -> int:
        """Move a lane's mark to `frame` (clamped to the take); returns what identifies it now."""
        frame = min(max(frame, 0), max(self.document.n_frames - 1, 0))
        if kind == "key":
            if frame != mark and self.run(MoveKey(mark, frame)):
                self.selected_item = ("key", frame)
                self._on_locks_changed(self.document.locked_frames)
                return frame
            return mark
        items = self.document.constraints.pins if kind == "pin" else self.document.constraints.waypoints
        if items[mark].frame != frame:
            self.run(MoveConstraint(kind, mark, frame))
        return mark

    def delete_selected(self) -> None:
        """Del: the key, pin or waypoint last clicked, else the selected segment."""
        if self.selected_item is None:
            self.remove_selected_segment()
            return
        kind, mark = self.selected_item
        if self.run(ToggleLock(mark) if kind == "key" else RemoveConstraint(kind, mark)):
            self.select_item(None)

    def show_menu(self, where, frame: int, segment: int | None) -> None:
        menu = QMenu(self)
        menu.addAction("Add segment here", lambda: self.add_segment_at(frame))
        if segment is not None:
            menu.addAction("Edit segment text…", lambda: self.edit_segment_text(segment))
            menu.addAction("Delete segment", lambda: self.run(RemoveSegment(segment)))
        if 0 <= frame < self.document.n_frames:
            menu.addAction(f"Toggle lock at frame {frame}", lambda: self.run(ToggleLock(frame)))
        if self.selected_item is not None:
            menu.addAction(f"Delete the selected {self.selected_item[0]}", self.delete_selected)
        if self.document.selection is not None:
            menu.addAction("Clear selection", lambda: self.run(SetSelection(None)))
        menu.popup(where)

    def _ask_text(self, title: str, text: str) -> str | None:
        value, ok = QInputDialog.getText(self, title, "Prompt:", text=text)
        return value if ok else None

    # -- drags from the items -> commands ------------------------------------------------------------------

    def _playhead_dragged(self, line: pg.InfiniteLine) -> None:
        if not self._syncing:
            self.document.current_frame = round(line.value())

    def _segment_dragged(self, item: _SegmentItem) -> None:
        if self._syncing:
            return
        lo, hi = (round(v) for v in item.getRegion())
        old = self.document.segments[item.index]
        if hi - lo == old.length and lo != old.start:
            self.run(MoveSegment(item.index, lo))
        elif hi - lo != old.length:
            self.run(ResizeSegment(item.index, lo, hi - lo))

    def _selection_dragged(self, item: pg.LinearRegionItem) -> None:
        if self._syncing or self.document.selection is None:
            return
        n = self.document.n_frames
        lo, hi = (min(max(round(v), 0), n - 1) for v in item.getRegion())
        if (lo, hi) != self.document.selection:
            self.run(SetSelection((lo, hi)))

    def _finish_drag(self) -> None:
        if self._syncing:  # setRegion from the document also reports a finished change
            return
        self.document.history.seal()
        self._on_segments_changed(self.document.segments)  # snap to whole frames
        self._on_selection_changed(self.document.selection)

    # -- document events -> items -----------------------------------------------------------------------

    def _on_take_changed(self) -> None:
        n = self.document.n_frames or EMPTY_FRAMES
        self.view.setLimits(xMin=-0.05 * n - 5, xMax=1.05 * n + 5, minXRange=10)
        self.plot.setXRange(0, n, padding=0.02)
        self._on_locks_changed(self.document.locked_frames)
        self._on_constraints_changed(self.document.constraints)  # untied waypoints' frames follow the length
        self._on_frame_changed(self.document.current_frame)

    def set_playing(self, playing: bool) -> None:
        """While playing, the playhead follows at FOLLOW_MS instead of on every frame; stopped, it follows every
        change again."""
        self._playing = playing
        if playing:
            self._follow.start()
        else:
            self._follow.stop()
            self._move_playhead(self.document.current_frame)

    def _on_frame_changed(self, frame: int) -> None:
        if not self._playing:
            self._move_playhead(frame)

    def _move_playhead(self, frame: int) -> None:
        self._syncing = True
        self.playhead.setValue(frame)
        self._syncing = False

    def _on_locks_changed(self, frames: tuple[int, ...]) -> None:
        """Diamonds in the tint of their ghosts in the viewport (`key_colour`)."""
        n = self.document.n_frames
        brushes = [pg.mkBrush(*(round(255 * c) for c in key_colour(f, n)[:3])) for f in frames]
        if self.selected_item is not None and self.selected_item[0] == "key" and self.selected_item[1] not in frames:
            self.selected_item = None  # unlocked, or moved by an undo
        selected = self.selected_item[1] if self.selected_item and self.selected_item[0] == "key" else None
        self.locks.show_marks(list(frames), list(frames), selected, brushes)

    def _on_constraints_changed(self, constraints: Constraints) -> None:
        for kind, lane in (("pin", self.pins), ("waypoint", self.waypoints)):
            frames, ids, lane.tied = marks(constraints, kind, self.document.n_frames)
            selected = self.selected_item[1] if self.selected_item and self.selected_item[0] == kind else None
            if selected is not None and selected not in ids:
                self.selected_item = selected = None
            lane.show_marks(frames, ids, selected)

    def _on_selection_changed(self, selection: tuple[int, int] | None) -> None:
        self._syncing = True
        self.selection_item.setVisible(selection is not None)
        if selection is not None:
            self.selection_item.setRegion((selection[0], selection[1]))
        self._syncing = False

    def _on_segments_changed(self, segments: list[Segment]) -> None:
        self._syncing = True
        if len(segments) != len(self.segment_items):  # added or removed: rebuild; otherwise update in place
            for item in self.segment_items:
                self.plot.removeItem(item)
            self.segment_items = [_SegmentItem(self, i) for i in range(len(segments))]
            for item in self.segment_items:
                item.sigRegionChanged.connect(self._segment_dragged)
                item.sigRegionChangeFinished.connect(lambda _: self._finish_drag())
                self.plot.addItem(item)
            if self.selected_segment is not None and self.selected_segment >= len(segments):
                self.selected_segment = None
        for item, segment in zip(self.segment_items, segments):
            item.setRegion((segment.start, segment.end))
            item.label.setText(segment.text)
            item.label.setPos(segment.start, SEGMENT_SPAN[1])
        self._syncing = False
        self.select_segment(self.selected_segment)
