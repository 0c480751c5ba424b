"""The document's commands: every change to a `Document` is one of these, so it can be undone and redone.

Each command validates in `do` before it mutates (a refused command leaves the document as it was) and emits the
events of what it changed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from app.engine.constraints import Constraints
from app.engine.document.model import (
    SCOPES,
    Command,
    Document,
    DocumentError,
    Segment,
    Take,
)


@dataclass
class _Snapshot:
    take: Take | None
    locked: dict[int, np.ndarray]
    selection: tuple[int, int] | None
    frame: int
    segments: list[Segment]
    constraints: Constraints


class SetTake(Command):
    """Replace the whole take. A new take (import, generate, variations, a long take) starts clean: the old take's
    keys, selection and prompt segments go with it (a long take then sets its own segments in the same step).
    An edit of the take (`carry=True`: regenerate, in-between...) carries them: keys keep the pose they were
    locked with, and keys and a selection that no longer fit are dropped. Undo brings all of it back.
    `constraints`: those the new take was made under (a generation's waypoints and pins), which it keeps; by
    default a new take starts without any and an edit carries the take's."""

    def __init__(self, take: Take, label: str = "Set take", merge_key: object = None, carry: bool = False,
                 constraints: Constraints | None = None) -> None:
        self.take = take
        self.label = label
        self.merge_key = merge_key  # takes set under the same key in a row are one undo step (picking variations)
        self.carry = carry
        self.constraints = constraints
        self._before: _Snapshot | None = None

    def merge_with(self, later: Command) -> bool:
        if not (isinstance(later, SetTake) and self.merge_key is not None and later.merge_key == self.merge_key):
            return False
        self.take, self.label, self.constraints = later.take, later.label, later.constraints
        return True

    def do(self, doc: Document) -> None:
        self._before = _Snapshot(doc.take, dict(doc._locked), doc.selection, doc.current_frame, list(doc.segments),
                                 doc.constraints)
        n = self.take.n_frames
        constraints = self.constraints if self.constraints is not None else \
            doc.constraints if self.carry else Constraints()
        if self.carry:
            after = _Snapshot(self.take, {f: pose for f, pose in doc._locked.items() if f < n},
                              doc.selection if doc.selection and doc.selection[1] < n else None,
                              min(doc.current_frame, n - 1), list(doc.segments), constraints)
        else:
            after = _Snapshot(self.take, {}, None, min(doc.current_frame, n - 1), [], constraints)
        self._apply(doc, after)

    def undo(self, doc: Document) -> None:
        assert self._before is not None
        self._apply(doc, self._before)

    @staticmethod
    def _apply(doc: Document, state: _Snapshot) -> None:
        locks_changed = state.locked.keys() != doc._locked.keys()
        selection_changed = state.selection != doc.selection
        frame_changed = state.frame != doc.current_frame
        segments_changed = state.segments != doc.segments
        constraints_changed = state.constraints != doc.constraints
        doc.take, doc._locked, doc.selection, doc._frame = state.take, dict(state.locked), state.selection, state.frame
        doc.segments, doc.constraints = list(state.segments), state.constraints
        doc.events.take_changed.emit(doc.take)
        if segments_changed:
            doc.events.segments_changed.emit(list(doc.segments))
        if locks_changed:
            doc.events.locks_changed.emit(doc.locked_frames)
        if constraints_changed:
            doc.events.constraints_changed.emit(doc.constraints)
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
    """Lock or unlock one keyframe: a key stores the pose of its frame when locked, and every edit keeps it."""

    def __init__(self, frame: int) -> None:
        self.frame = int(frame)
        self.label = f"Toggle lock at frame {self.frame}"
        self._pose: np.ndarray | None = None  # the pose an undone unlock gives back

    def do(self, doc: Document) -> None:
        doc.check_frame(self.frame)
        self._toggle(doc)

    def undo(self, doc: Document) -> None:
        self._toggle(doc)

    def _toggle(self, doc: Document) -> None:
        if self.frame in doc._locked:
            self._pose = doc._locked.pop(self.frame)
        else:
            doc._locked[self.frame] = self._pose if self._pose is not None else doc.take.positions[self.frame].copy()
        doc.events.locks_changed.emit(doc.locked_frames)


class MoveKey(Command):
    """Retime a locked key: the pose it was locked with is held at another frame (a drag on the timeline's key lane,
    one undo step however far it goes)."""

    def __init__(self, frame: int, to: int) -> None:
        self.frame, self.to = int(frame), int(to)
        self.label = f"Move key {self.frame} to frame {self.to}"

    def do(self, doc: Document) -> None:
        if self.frame not in doc._locked:
            raise DocumentError(f"there is no key at frame {self.frame}")
        doc.check_frame(self.to)
        if self.to != self.frame and self.to in doc._locked:
            raise DocumentError(f"frame {self.to} already has a key: unlock it first (K)")
        self._move(doc, self.frame, self.to)

    def undo(self, doc: Document) -> None:
        self._move(doc, self.to, self.frame)

    @staticmethod
    def _move(doc: Document, frame: int, to: int) -> None:
        doc._locked[to] = doc._locked.pop(frame)
        doc.events.locks_changed.emit(doc.locked_frames)

    def merge_with(self, later: Command) -> bool:
        if not (isinstance(later, MoveKey) and later.frame == self.to):
            return False
        self.to, self.label = later.to, f"Move key {self.frame} to frame {later.to}"
        return True


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


class SetSegments(Command):
    """Replace the whole prompt track: a long take built from the segments lays them end to end, as they are in it."""

    def __init__(self, segments: list[Segment], label: str = "Set segments") -> None:
        self.segments = list(segments)
        self.label = label
        self._old: list[Segment] = []

    def do(self, doc: Document) -> None:
        for segment in self.segments:
            _check_segment(segment)
        self._old = list(doc.segments)
        self._set(doc, self.segments)

    def undo(self, doc: Document) -> None:
        self._set(doc, self._old)

    @staticmethod
    def _set(doc: Document, segments: list[Segment]) -> None:
        doc.segments = list(segments)
        doc.events.segments_changed.emit(list(doc.segments))


class Batch(Command):
    """Several commands as one undo step, e.g. an operation's new take together with the track it implies.
    If one is refused, those already done are undone, so the document is as it was."""

    def __init__(self, label: str, commands: list[Command]) -> None:
        self.label = label
        self.commands = list(commands)

    def do(self, doc: Document) -> None:
        done: list[Command] = []
        try:
            for command in self.commands:
                command.do(doc)
                done.append(command)
        except DocumentError:
            for command in reversed(done):
                command.undo(doc)
            raise

    def undo(self, doc: Document) -> None:
        for command in reversed(self.commands):
            command.undo(doc)
