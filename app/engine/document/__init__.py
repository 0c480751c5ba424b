"""The studio's document: one take, its prompt segments, locked keys, selection and scope, with undo.

`model` holds the state and its history, `commands` every undoable change (`constraint_commands` those on the
take's waypoints and pins), `takes` the bridge to the engine's
`Motion`, `files` reading and writing takes and projects. Nothing here knows about Qt.
"""
from app.engine.document.commands import (
    AddSegment,
    Batch,
    EditSegmentText,
    MoveKey,
    MoveSegment,
    RemoveSegment,
    ReplaceFrames,
    ResizeSegment,
    SetScope,
    SetSegments,
    SetSelection,
    SetTake,
    ToggleLock,
)
from app.engine.document.constraint_commands import (
    AddPin, AddWaypoint, MoveConstraint, PlaceWaypoint, RemoveConstraint, SetConstraints,
)
from app.engine.document.model import (
    SCOPES, Command, Document, DocumentError, Events, History, Segment, Signal, Snapshot, Take, TakeState,
)
from app.engine.document.take_commands import DeleteTake, DuplicateTake, RenameTake, SwitchTake
from app.engine.document.takes import motion_from_take, take_from_motion, take_from_positions

__all__ = [
    "SCOPES", "AddPin", "AddSegment", "AddWaypoint", "MoveConstraint", "MoveKey", "PlaceWaypoint",
    "RemoveConstraint", "SetConstraints", "DeleteTake", "DuplicateTake", "RenameTake", "Snapshot", "SwitchTake",
    "TakeState", "Batch", "Command", "Document", "DocumentError", "EditSegmentText", "Events", "History",
    "MoveSegment", "RemoveSegment", "ReplaceFrames", "ResizeSegment", "Segment", "SetScope", "SetSegments",
    "SetSelection", "SetTake", "Signal", "Take", "ToggleLock", "motion_from_take", "take_from_motion",
    "take_from_positions",
]
