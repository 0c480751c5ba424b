"""The studio's document: one take, its prompt segments, locked keys, selection and scope, with undo.

The UI never mutates this state directly: it executes `Command`s, so every change is undoable and every change
emits exactly one event (`document.events.<name>`) after it happened. Widgets and visuals listen to those events
and redraw; nothing here knows about Qt (napari's split: a plain model, `_qt` widgets, `_vispy` visuals).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from app.engine.skeleton import BANDAI_NAMCO_21, Skeleton

SCOPES = ("full", "upper")


class DocumentError(ValueError):
    """A command that cannot apply; the message says why in plain words and the document is unchanged."""


class Signal:
    """A minimal observer list: `connect(callback)`, then `emit(value)` calls every callback in order."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[..., object]] = []

    def connect(self, callback: Callable[..., object]) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[..., object]) -> None:
        self._callbacks.remove(callback)

    def emit(self, *args: object) -> None:
        for callback in list(self._callbacks):
            callback(*args)


class Events:
    """One `Signal` per kind of change; each is emitted after the change, with the new value."""

    def __init__(self) -> None:
        self.take_changed = Signal()
        self.segments_changed = Signal()
        self.locks_changed = Signal()
        self.selection_changed = Signal()
        self.scope_changed = Signal()
        self.frame_changed = Signal()
        self.history_changed = Signal()


@dataclass(frozen=True)
class Segment:
    """A prompt over frames [start, start + length) of the (future) long take."""

    text: str
    start: int
    length: int

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True)
class Take:
    """The motion being edited. Positions are what the studio shows; features, when present, have the same frames."""

    positions: np.ndarray  # (T, J, 3) metres, Y up
    fps: float = 20.0
    skeleton: Skeleton = BANDAI_NAMCO_21
    features: np.ndarray | None = None  # (T, D) un-normalised, when the take came from (or goes to) a model

    def __post_init__(self) -> None:
        p = self.positions
        if p.ndim != 3 or p.shape[1:] != (self.skeleton.n_joints, 3) or p.shape[0] < 1:
            raise DocumentError(f"positions of shape {p.shape} do not fit {self.skeleton.name} (frames, {self.skeleton.n_joints}, 3)")
        if self.features is not None and self.features.shape[0] != p.shape[0]:
            raise DocumentError(f"{self.features.shape[0]} feature frames for {p.shape[0]} position frames")
        if self.fps <= 0:
            raise DocumentError(f"the frame rate must be positive, got {self.fps}")

    @property
    def n_frames(self) -> int:
        return int(self.positions.shape[0])


class Document:
    """The state the studio edits. Change it with `execute(command)`; `current_frame` is the one direct setter
    (scrubbing is not an edit and has no undo)."""

    def __init__(self) -> None:
        self.events = Events()
        self.history = History(self)
        self.take: Take | None = None
        self.segments: list[Segment] = []
        self._locked: set[int] = set()
        self.selection: tuple[int, int] | None = None  # inclusive frame range
        self.scope = "full"
        self._frame = 0

    # -- read-only views ---------------------------------------------------------------------------------

    @property
    def n_frames(self) -> int:
        return self.take.n_frames if self.take is not None else 0

    @property
    def locked_frames(self) -> tuple[int, ...]:
        return tuple(sorted(self._locked))

    @property
    def current_frame(self) -> int:
        return self._frame

    @current_frame.setter
    def current_frame(self, frame: int) -> None:
        frame = int(min(max(frame, 0), max(self.n_frames - 1, 0)))
        if frame != self._frame:
            self._frame = frame
            self.events.frame_changed.emit(frame)

    def reset(self, take: Take | None = None, segments: list[Segment] | None = None, locked: tuple[int, ...] = ()) -> None:
        """Start over with this state and an empty history (New, Open): not an edit, so not undoable."""
        self.take, self.segments, self._locked = take, list(segments or []), set(locked)
        self.selection, self.scope, self._frame = None, "full", 0
        self.history.undo_stack.clear()
        self.history.redo_stack.clear()
        events = self.events
        for signal, value in ((events.take_changed, take), (events.segments_changed, list(self.segments)),
                              (events.locks_changed, self.locked_frames), (events.selection_changed, None),
                              (events.scope_changed, "full"), (events.frame_changed, 0), (events.history_changed, self)):
            signal.emit(value)

    def check_frame(self, frame: int) -> None:
        if self.take is None:
            raise DocumentError("there is no take yet: open, import or generate one first")
        if not 0 <= frame < self.n_frames:
            raise DocumentError(f"frame {frame} is outside the take (0–{self.n_frames - 1})")

    # -- undo ---------------------------------------------------------------------------------------------

    def execute(self, command: Command) -> None:
        self.history.execute(command)

    def undo(self) -> None:
        self.history.undo()

    def redo(self) -> None:
        self.history.redo()

    @property
    def can_undo(self) -> bool:
        return bool(self.history.undo_stack)

    @property
    def can_redo(self) -> bool:
        return bool(self.history.redo_stack)

    @property
    def undo_label(self) -> str | None:
        return self.history.undo_stack[-1].label if self.history.undo_stack else None

    @property
    def redo_label(self) -> str | None:
        return self.history.redo_stack[-1].label if self.history.redo_stack else None


class Command:
    """One undoable change. `do` validates before it mutates, so a failing command leaves the document as it was."""

    label = "Edit"

    def do(self, doc: Document) -> None:
        raise NotImplementedError

    def undo(self, doc: Document) -> None:
        raise NotImplementedError

    def merge_with(self, later: Command) -> bool:
        """Absorb `later` (already done) into this command so that a drag is one undo step; False if unrelated."""
        return False


class History:
    """Undo and redo stacks. `seal()` ends a gesture: the next command will not merge into the last one."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.undo_stack: list[Command] = []
        self.redo_stack: list[Command] = []
        self._sealed = True

    def execute(self, command: Command) -> None:
        command.do(self.doc)
        if not (self.undo_stack and not self._sealed and self.undo_stack[-1].merge_with(command)):
            self.undo_stack.append(command)
        self._sealed = False
        self.redo_stack.clear()
        self.doc.events.history_changed.emit(self.doc)

    def seal(self) -> None:
        self._sealed = True

    def undo(self) -> None:
        if self.undo_stack:
            command = self.undo_stack.pop()
            command.undo(self.doc)
            self.redo_stack.append(command)
            self._sealed = True
            self.doc.events.history_changed.emit(self.doc)

    def redo(self) -> None:
        if self.redo_stack:
            command = self.redo_stack.pop()
            command.do(self.doc)
            self.undo_stack.append(command)
            self._sealed = True
            self.doc.events.history_changed.emit(self.doc)


# -- commands ----------------------------------------------------------------------------------------------


@dataclass
class _Snapshot:
    take: Take | None
    locked: set[int]
    selection: tuple[int, int] | None
    frame: int


class SetTake(Command):
    """Replace the whole take (open, import, generate). Locks and selection that no longer fit are dropped,
    so the previous take, locks and selection are all kept for undo."""

    def __init__(self, take: Take, label: str = "Set take") -> None:
        self.take = take
        self.label = label
        self._before: _Snapshot | None = None

    def do(self, doc: Document) -> None:
        self._before = _Snapshot(doc.take, set(doc._locked), doc.selection, doc.current_frame)
        n = self.take.n_frames
        self._apply(doc, _Snapshot(self.take, {f for f in doc._locked if f < n},
                                   doc.selection if doc.selection and doc.selection[1] < n else None,
                                   min(doc.current_frame, n - 1)))

    def undo(self, doc: Document) -> None:
        assert self._before is not None
        self._apply(doc, self._before)

    @staticmethod
    def _apply(doc: Document, state: _Snapshot) -> None:
        locks_changed = state.locked != doc._locked
        selection_changed = state.selection != doc.selection
        frame_changed = state.frame != doc.current_frame
        doc.take, doc._locked, doc.selection, doc._frame = state.take, set(state.locked), state.selection, state.frame
        doc.events.take_changed.emit(doc.take)
        if locks_changed:
            doc.events.locks_changed.emit(doc.locked_frames)
        if selection_changed:
            doc.events.selection_changed.emit(doc.selection)
        if frame_changed:
            doc.events.frame_changed.emit(doc.current_frame)


class ReplaceFrames(Command):
    """Put new frames over [start, start + n) of the take, keeping only the replaced slice for undo."""

    def __init__(self, start: int, positions: np.ndarray, features: np.ndarray | None = None, label: str = "Replace frames") -> None:
        self.start = start
        self.positions = np.asarray(positions, dtype=np.float32)
        self.features = None if features is None else np.asarray(features, dtype=np.float32)
        self.label = label
        self._old: tuple[np.ndarray, np.ndarray | None] | None = None

    def do(self, doc: Document) -> None:
        take = doc.take
        n = len(self.positions)
        doc.check_frame(self.start)
        doc.check_frame(self.start + n - 1)
        if self.positions.shape[1:] != take.positions.shape[1:]:
            raise DocumentError(f"new frames of shape {self.positions.shape[1:]} do not fit the take's {take.positions.shape[1:]}")
        if (take.features is None) != (self.features is None) or (self.features is not None and self.features.shape != (n, take.features.shape[1])):
            raise DocumentError("the new frames must come with features exactly when the take has them, one per frame")
        span = slice(self.start, self.start + n)
        self._old = (take.positions[span].copy(), None if take.features is None else take.features[span].copy())
        self._write(doc, span, self.positions, self.features)

    def undo(self, doc: Document) -> None:
        assert self._old is not None
        self._write(doc, slice(self.start, self.start + len(self.positions)), *self._old)

    @staticmethod
    def _write(doc: Document, span: slice, positions: np.ndarray, features: np.ndarray | None) -> None:
        # Copy on write: a take handed out earlier (a worker's input, an undo snapshot) never changes under it.
        new_positions = doc.take.positions.copy()
        new_positions[span] = positions
        new_features = None
        if features is not None:
            new_features = doc.take.features.copy()
            new_features[span] = features
        doc.take = replace(doc.take, positions=new_positions, features=new_features)
        doc.events.take_changed.emit(doc.take)


class ToggleLock(Command):
    """Lock or unlock one keyframe: locked frames are kept by the edit operations (in-betweening keeps them)."""

    def __init__(self, frame: int) -> None:
        self.frame = int(frame)
        self.label = f"Toggle lock at frame {self.frame}"

    def do(self, doc: Document) -> None:
        doc.check_frame(self.frame)
        self._toggle(doc)

    def undo(self, doc: Document) -> None:
        self._toggle(doc)

    def _toggle(self, doc: Document) -> None:
        doc._locked ^= {self.frame}
        doc.events.locks_changed.emit(doc.locked_frames)


def _check_segment(segment: Segment) -> None:
    if not segment.text.strip():
        raise DocumentError("a segment needs a prompt text")
    if segment.start < 0:
        raise DocumentError(f"a segment cannot start before frame 0 (got {segment.start})")
    if segment.length < 1:
        raise DocumentError(f"a segment must be at least 1 frame long (got {segment.length})")


class _SegmentCommand(Command):
    """Changes segment `index` from its old value to `new`; drags of the same segment merge into one step."""

    mergeable = False

    def __init__(self, index: int, label: str) -> None:
        self.index = index
        self.label = label
        self.new: Segment | None = None
        self.old: Segment | None = None

    def _changed(self, old: Segment) -> Segment:
        raise NotImplementedError

    def do(self, doc: Document) -> None:
        if not 0 <= self.index < len(doc.segments):
            raise DocumentError(f"there is no segment {self.index} (the timeline has {len(doc.segments)})")
        old = doc.segments[self.index]
        new = self.new if self.new is not None else self._changed(old)  # a redo repeats what was done
        _check_segment(new)
        self.old, self.new = old, new
        doc.segments[self.index] = new
        doc.events.segments_changed.emit(list(doc.segments))

    def undo(self, doc: Document) -> None:
        doc.segments[self.index] = self.old
        doc.events.segments_changed.emit(list(doc.segments))

    def merge_with(self, later: Command) -> bool:
        if not (self.mergeable and type(later) is type(self) and later.index == self.index):
            return False
        self.new = later.new
        return True


class MoveSegment(_SegmentCommand):
    mergeable = True

    def __init__(self, index: int, start: int) -> None:
        super().__init__(index, "Move segment")
        self.start = int(start)

    def _changed(self, old: Segment) -> Segment:
        return replace(old, start=self.start)


class ResizeSegment(_SegmentCommand):
    mergeable = True

    def __init__(self, index: int, start: int, length: int) -> None:
        super().__init__(index, "Resize segment")
        self.start, self.length = int(start), int(length)

    def _changed(self, old: Segment) -> Segment:
        return replace(old, start=self.start, length=self.length)


class EditSegmentText(_SegmentCommand):
    def __init__(self, index: int, text: str) -> None:
        super().__init__(index, "Edit segment text")
        self.text = text

    def _changed(self, old: Segment) -> Segment:
        return replace(old, text=self.text)


class AddSegment(Command):
    def __init__(self, segment: Segment) -> None:
        self.segment = segment
        self.label = "Add segment"

    def do(self, doc: Document) -> None:
        _check_segment(self.segment)
        doc.segments.append(self.segment)
        doc.events.segments_changed.emit(list(doc.segments))

    def undo(self, doc: Document) -> None:
        doc.segments.pop()
        doc.events.segments_changed.emit(list(doc.segments))


class RemoveSegment(Command):
    def __init__(self, index: int) -> None:
        self.index = index
        self.label = "Remove segment"
        self._removed: Segment | None = None

    def do(self, doc: Document) -> None:
        if not 0 <= self.index < len(doc.segments):
            raise DocumentError(f"there is no segment {self.index} (the timeline has {len(doc.segments)})")
        self._removed = doc.segments.pop(self.index)
        doc.events.segments_changed.emit(list(doc.segments))

    def undo(self, doc: Document) -> None:
        doc.segments.insert(self.index, self._removed)
        doc.events.segments_changed.emit(list(doc.segments))


class SetSelection(Command):
    """Select frames [start, end] (inclusive) or clear with None; a drag that selects merges into one step."""

    def __init__(self, selection: tuple[int, int] | None) -> None:
        self.selection = None if selection is None else (int(min(selection)), int(max(selection)))
        self.label = "Select frames" if selection is not None else "Clear selection"
        self._old: tuple[int, int] | None = None

    def do(self, doc: Document) -> None:
        if self.selection is not None:
            doc.check_frame(self.selection[0])
            doc.check_frame(self.selection[1])
        self._old = doc.selection
        self._set(doc, self.selection)

    def undo(self, doc: Document) -> None:
        self._set(doc, self._old)

    def merge_with(self, later: Command) -> bool:
        if not isinstance(later, SetSelection):
            return False
        self.selection, self.label = later.selection, later.label
        return True

    @staticmethod
    def _set(doc: Document, selection: tuple[int, int] | None) -> None:
        doc.selection = selection
        doc.events.selection_changed.emit(selection)


class SetScope(Command):
    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.label = f"Scope: {scope} body"
        self._old = "full"

    def do(self, doc: Document) -> None:
        if self.scope not in SCOPES:
            raise DocumentError(f"the scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        self._old = doc.scope
        self._set(doc, self.scope)

    def undo(self, doc: Document) -> None:
        self._set(doc, self._old)

    @staticmethod
    def _set(doc: Document, scope: str) -> None:
        doc.scope = scope
        doc.events.scope_changed.emit(scope)
