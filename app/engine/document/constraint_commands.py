"""Commands on the edited take's constraints: root waypoints (a path on the ground) and effector pins.

Each is one undoable step from one `Constraints` to the next (they are frozen, so undo keeps the old value). Every
new set is checked against the take as the engine will check it (app.engine.constraints.check_constraints): a
waypoint or pin outside the take, a pin on a joint that cannot be pinned, tied waypoints out of frame order, are
refused with the engine's words and the document stays as it was. Retiming drags of one constraint merge.
"""
from __future__ import annotations

from dataclasses import replace

from app.engine.constraints import Constraints, Pin, Waypoint, check_constraints
from app.engine.document.model import Command, Document, DocumentError

KINDS = ("waypoint", "pin")


def check_for(doc: Document, constraints: Constraints) -> None:
    """DocumentError when the take cannot be made to honour `constraints`; without a take only untied waypoints
    can be placed (frames and pins need the take)."""
    if doc.take is None:
        if constraints.pins or any(w.frame is not None for w in constraints.waypoints):
            raise DocumentError("there is no take yet: place untied waypoints, or generate a take first to tie "
                                "them to frames or pin a hand, foot or the head")
        return
    try:
        check_constraints(constraints, doc.take.skeleton, doc.n_frames)
    except ValueError as exc:
        raise DocumentError(str(exc)) from None


def _check_index(constraints: Constraints, kind: str, index: int) -> None:
    if kind not in KINDS:
        raise DocumentError(f"a constraint is a waypoint or a pin, not {kind!r}")
    items = constraints.waypoints if kind == "waypoint" else constraints.pins
    if not 0 <= index < len(items):
        raise DocumentError(f"there is no {kind} {index + 1} (the take has {len(items)})")


class _ConstraintCommand(Command):
    """Changes the constraints from `old` to `new` (computed once by `_changed`, so a redo repeats it)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.old: Constraints | None = None
        self.new: Constraints | None = None

    def _changed(self, doc: Document, old: Constraints) -> Constraints:
        raise NotImplementedError

    def do(self, doc: Document) -> None:
        old = doc.constraints
        new = self.new if self.new is not None else self._changed(doc, old)
        check_for(doc, new)
        self.old, self.new = old, new
        _set(doc, new)

    def undo(self, doc: Document) -> None:
        assert self.old is not None
        _set(doc, self.old)


def _set(doc: Document, constraints: Constraints) -> None:
    doc.constraints = constraints
    doc.events.constraints_changed.emit(constraints)


class SetConstraints(_ConstraintCommand):
    """Replace them all (Clear path and pins, or a set read from elsewhere)."""

    def __init__(self, constraints: Constraints, label: str = "Set constraints") -> None:
        super().__init__(label)
        self.constraints = constraints

    def _changed(self, doc: Document, old: Constraints) -> Constraints:
        return self.constraints


class AddWaypoint(_ConstraintCommand):
    """A point (x, z) in metres the root passes, at `frame` or (None) where its place along the path puts it.
    A tied waypoint goes before the first tied one that comes later, so the path keeps the order of its frames."""

    def __init__(self, x: float, z: float, frame: int | None = None) -> None:
        at = "" if frame is None else f" at frame {frame}"
        super().__init__(f"Add waypoint{at}")
        self.waypoint = Waypoint(float(x), float(z), None if frame is None else int(frame))

    def _changed(self, doc: Document, old: Constraints) -> Constraints:
        points, frame = list(old.waypoints), self.waypoint.frame
        later = [i for i, w in enumerate(points) if frame is not None and w.frame is not None and w.frame > frame]
        points.insert(later[0] if later else len(points), self.waypoint)
        return replace(old, waypoints=tuple(points))


class AddPin(_ConstraintCommand):
    """Pin `joint` (Hand_L, Foot_R, Head...) at `frame` to `position` (x, y, z metres); a pin already on that joint
    at that frame is replaced."""

    def __init__(self, joint: str, frame: int, position: tuple[float, float, float]) -> None:
        super().__init__(f"Pin {joint} at frame {frame}")
        self.pin = Pin(joint, int(frame), tuple(float(v) for v in position))

    def _changed(self, doc: Document, old: Constraints) -> Constraints:
        kept = tuple(p for p in old.pins if (p.joint, p.frame) != (self.pin.joint, self.pin.frame))
        return replace(old, pins=kept + (self.pin,))


class RemoveConstraint(_ConstraintCommand):
    def __init__(self, kind: str, index: int) -> None:
        super().__init__(f"Delete {kind}")
        self.kind, self.index = kind, int(index)

    def _changed(self, doc: Document, old: Constraints) -> Constraints:
        _check_index(old, self.kind, self.index)
        if self.kind == "waypoint":
            return replace(old, waypoints=old.waypoints[: self.index] + old.waypoints[self.index + 1:])
        return replace(old, pins=old.pins[: self.index] + old.pins[self.index + 1:])


class PlaceWaypoint(_ConstraintCommand):
    """Move waypoint `index` to (x, z) metres on the ground, keeping its frame; a drag in the viewport is one step."""

    def __init__(self, index: int, x: float, z: float) -> None:
        super().__init__("Move waypoint")
        self.index, self.x, self.z = int(index), float(x), float(z)

    def _changed(self, doc: Document, old: Constraints) -> Constraints:
        _check_index(old, "waypoint", self.index)
        points = list(old.waypoints)
        points[self.index] = replace(points[self.index], x=self.x, z=self.z)
        return replace(old, waypoints=tuple(points))

    def merge_with(self, later: Command) -> bool:
        if not (isinstance(later, PlaceWaypoint) and later.index == self.index):
            return False
        self.new = later.new
        return True


class MoveConstraint(_ConstraintCommand):
    """Retime a waypoint or a pin to `frame` (None unties a waypoint); a drag on the timeline is one undo step."""

    def __init__(self, kind: str, index: int, frame: int | None) -> None:
        super().__init__(f"Move {kind} to frame {frame}" if frame is not None else f"Untie {kind}")
        self.kind, self.index, self.frame = kind, int(index), None if frame is None else int(frame)

    def _changed(self, doc: Document, old: Constraints) -> Constraints:
        _check_index(old, self.kind, self.index)
        if self.kind == "waypoint":
            points = list(old.waypoints)
            points[self.index] = replace(points[self.index], frame=self.frame)
            return replace(old, waypoints=tuple(points))
        if self.frame is None:
            raise DocumentError("a pin holds at a frame: move it to another frame, or delete it")
        pins = list(old.pins)
        pins[self.index] = replace(pins[self.index], frame=self.frame)
        return replace(old, pins=tuple(pins))

    def merge_with(self, later: Command) -> bool:
        if not (isinstance(later, MoveConstraint) and (later.kind, later.index) == (self.kind, self.index)):
            return False
        self.new, self.label, self.frame = later.new, later.label, later.frame
        return True
