"""The document's state and its undo history: the takes of a project, and of the one being edited its prompt
segments, locked keys, selection, scope and constraints (root waypoints and effector pins).

The UI never mutates this state directly: it executes `Command`s, so every change is undoable and every change
emits exactly one event (`document.events.<name>`) after it happened. Widgets and visuals listen to those events
and redraw; nothing here knows about Qt (napari's split: a plain model, `_qt` widgets, `_vispy` visuals).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.engine.constraints import Constraints
from app.engine.data.resample import check_fps
from app.engine.io.onto_rig import SourceRig
from app.engine.placement import Placement
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
        self.constraints_changed = Signal()  # the waypoints or pins of the edited take
        self.takes_changed = Signal()  # the take list (names, order, which one is edited) changed
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
    placement: Placement = Placement()  # where an imported take stood in its file; exports put it back there
    source: SourceRig | None = None  # the rig an imported take came on; exports go back onto it by default

    def __post_init__(self) -> None:
        p = self.positions
        if p.ndim != 3 or p.shape[1:] != (self.skeleton.n_joints, 3) or p.shape[0] < 1:
            raise DocumentError(f"positions of shape {p.shape} do not fit {self.skeleton.name} (frames, {self.skeleton.n_joints}, 3)")
        if self.features is not None and self.features.shape[0] != p.shape[0]:
            raise DocumentError(f"{self.features.shape[0]} feature frames for {p.shape[0]} position frames")
        try:
            check_fps(self.fps)
        except ValueError as exc:
            raise DocumentError(str(exc)) from None

    @property
    def n_frames(self) -> int:
        return int(self.positions.shape[0])


@dataclass(frozen=True)
class TakeState:
    """One take of the project with what belongs to it; the document edits one take at a time (`Document.active`)
    and keeps the others as these."""

    name: str
    take: Take | None
    segments: tuple[Segment, ...] = ()
    locked: tuple[int, ...] = ()
    selection: tuple[int, int] | None = None  # inclusive
    scope: str = "full"
    poses: tuple[np.ndarray, ...] | None = None  # the keys' locked poses (J, 3), one per `locked` frame; None: the take's
    constraints: Constraints = Constraints()  # root waypoints and effector pins that generations and edits honour

    def key_poses(self) -> dict[int, np.ndarray]:
        """frame -> locked pose, as the document keeps its keys (frames outside the take are dropped)."""
        if self.take is None:
            return {}
        if self.poses is not None:
            return dict(zip(self.locked, self.poses))
        return {f: self.take.positions[f] for f in self.locked if 0 <= f < self.take.n_frames}


@dataclass(frozen=True)
class Snapshot:
    """The whole document at one moment (takes never change in place, so this is cheap): what an undo step
    restores, and what a recovery file keeps of the history."""

    takes: tuple[TakeState, ...]
    active: int
    frame: int


class Document:
    """The state the studio edits. Change it with `execute(command)`; `current_frame` is the one direct setter
    (scrubbing is not an edit and has no undo). `take`, `segments`, locks, `selection` and `scope` are those of the
    take being edited; `takes` holds every take of the project (the edited one's entry as it was when last left)."""

    def __init__(self) -> None:
        self.events = Events()
        self.history = History(self)
        self.take: Take | None = None
        self.segments: list[Segment] = []
        self._locked: dict[int, np.ndarray] = {}  # frame -> the pose (J, 3) it was locked with
        self.selection: tuple[int, int] | None = None  # inclusive frame range
        self.scope = "full"
        self.constraints = Constraints()
        self._frame = 0
        self.takes: list[TakeState] = [TakeState("take", None)]
        self.active = 0

    # -- read-only views ---------------------------------------------------------------------------------

    @property
    def n_frames(self) -> int:
        return self.take.n_frames if self.take is not None else 0

    @property
    def locked_frames(self) -> tuple[int, ...]:
        return tuple(sorted(self._locked))

    def key_pose(self, frame: int) -> np.ndarray:
        """The pose (J, 3) the key at `frame` was locked with: what every edit keeps, and what its ghost shows."""
        return self._locked[frame]

    @property
    def current_frame(self) -> int:
        return self._frame

    @current_frame.setter
    def current_frame(self, frame: int) -> None:
        frame = int(min(max(frame, 0), max(self.n_frames - 1, 0)))
        if frame != self._frame:
            self._frame = frame
            self.events.frame_changed.emit(frame)

    def reset(self, take: Take | None = None, segments: list[Segment] | None = None, locked: tuple[int, ...] = (),
              selection: tuple[int, int] | None = None, scope: str = "full", name: str = "take") -> None:
        """Start over with one take and an empty history (New, Open): not an edit, so not undoable. Keys are
        locked with the take's own poses at their frames."""
        self.reset_takes([TakeState(name, take, tuple(segments or ()), tuple(locked), selection, scope)])

    def reset_takes(self, takes: list[TakeState], active: int = 0) -> None:
        """Start over with these takes, editing `takes[active]`, and an empty history."""
        if not takes or not 0 <= active < len(takes):
            raise DocumentError(f"take {active} does not exist (the project has {len(takes)})")
        self.history.undo_stack.clear()
        self.history.redo_stack.clear()
        self.restore(Snapshot(tuple(takes), active, 0))
        self.history.states = [self.snapshot()]
        self.events.history_changed.emit(self)

    # -- the take list ------------------------------------------------------------------------------------

    @property
    def take_names(self) -> list[str]:
        return [state.name for state in self.takes]

    def active_state(self) -> TakeState:
        """The edited take as it is now (its entry in `takes` is as it was when last left)."""
        frames = self.locked_frames
        return TakeState(self.takes[self.active].name, self.take, tuple(self.segments), frames, self.selection,
                         self.scope, tuple(self._locked[f] for f in frames), self.constraints)

    def take_states(self) -> list[TakeState]:
        """Every take as it is now, in order."""
        states = list(self.takes)
        states[self.active] = self.active_state()
        return states

    def snapshot(self) -> Snapshot:
        return Snapshot(tuple(self.take_states()), self.active, self._frame)

    def restore(self, snapshot: Snapshot) -> None:
        """Make the document `snapshot`, emitting every event (not an edit: commands call it, or reset)."""
        self.takes, self.active = list(snapshot.takes), snapshot.active
        state = self.takes[self.active]
        self.take, self.segments, self._locked = state.take, list(state.segments), state.key_poses()
        self.selection, self.scope, self.constraints = state.selection, state.scope, state.constraints
        self._frame = int(min(max(snapshot.frame, 0), max(self.n_frames - 1, 0)))
        events = self.events
        for signal, value in ((events.take_changed, self.take), (events.segments_changed, list(self.segments)),
                              (events.locks_changed, self.locked_frames), (events.selection_changed, self.selection),
                              (events.scope_changed, self.scope), (events.constraints_changed, self.constraints),
                              (events.frame_changed, self._frame),
                              (events.takes_changed, self.take_names)):
            signal.emit(value)

    def check_frame(self, frame: int) -> None:
        if self.take is None:
            raise DocumentError("there is no take yet: open, import or generate one first")
        if not 0 <= frame < self.n_frames:
            raise DocumentError(f"frame {frame} is outside the take (0–{self.n_frames - 1})")

    # -- undo ---------------------------------------------------------------------------------------------

    def execute(self, command: Command) -> None:
        self.history.execute(command)

    def try_execute(self, command: Command) -> str | None:
        """Execute `command`; None when it was done, else why it was refused (nothing changed). Views show the
        reason as a message instead of catching DocumentError each on their own."""
        try:
            self.history.execute(command)
        except DocumentError as exc:
            return str(exc)
        return None

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
    """Undo and redo stacks. `seal()` ends a gesture: the next command will not merge into the last one.

    `states` follows the stacks with the document's snapshot after each step (states[0] before the first undoable
    step, states[len(undo_stack)] now, the redo steps' after that), so that a recovery file can keep the history:
    snapshots share the takes (never changed in place), so they cost a few references each."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.undo_stack: list[Command] = []
        self.redo_stack: list[Command] = []
        self.states: list[Snapshot] = []
        self._sealed = True

    def execute(self, command: Command) -> None:
        if not self.states:
            self.states = [self.doc.snapshot()]
        command.do(self.doc)
        position = len(self.undo_stack)
        if self.undo_stack and not self._sealed and self.undo_stack[-1].merge_with(command):
            self.states[position:] = [self.doc.snapshot()]  # the merged step now ends here
        else:
            self.undo_stack.append(command)
            self.states[position + 1:] = [self.doc.snapshot()]
        self._sealed = False
        self.redo_stack.clear()
        self.doc.events.history_changed.emit(self.doc)

    def labels(self) -> list[str]:
        """The steps' names, oldest first: the undo stack's, then the redo stack's in the order they would redo."""
        return [c.label for c in self.undo_stack] + [c.label for c in reversed(self.redo_stack)]

    def replace(self, states: list[Snapshot], labels: list[str], position: int) -> None:
        """Install a history kept elsewhere (a recovery file): `len(labels)` steps between `states`, `position` of
        them done. The document is put at states[position]."""
        if len(states) != len(labels) + 1 or not 0 <= position <= len(labels):
            raise ValueError(f"a history of {len(labels)} steps needs {len(labels) + 1} states, got {len(states)}")
        steps = [Restored(label, before, after) for label, before, after in zip(labels, states, states[1:])]
        self.doc.restore(states[position])
        self.undo_stack, self.redo_stack = steps[:position], steps[position:][::-1]
        self.states = list(states)
        self._sealed = True
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


class Restored(Command):
    """A step of a history read back from a recovery file: it moves between the two snapshots it joined."""

    def __init__(self, label: str, before: Snapshot, after: Snapshot) -> None:
        self.label, self.before, self.after = label, before, after

    def do(self, doc: Document) -> None:
        doc.restore(self.after)

    def undo(self, doc: Document) -> None:
        doc.restore(self.before)
