"""The undo history in a file, so that crash recovery gives back the history with the work.

The history is written as a .kinema project of its own (atomic, checked on reading, no pickle): each distinct take
that any step's snapshot holds is stored once, as a take named "t<k>", and project.json's metadata describes the
snapshots (which takes, with their segments, keys, selection and scope; which one was edited) and the step names.
The studio writes it next to its recovery file, with the same `autosave_id` in both: a history that does not
belong to the recovery file beside it (a crash between the two writes) is not used.
"""
from __future__ import annotations

from pathlib import Path

from app.engine.constraints import constraints_from_dict, constraints_to_dict
from app.engine.document.files import take_data, take_state
from app.engine.document.model import Document, Segment, Snapshot, TakeState
from app.engine.io import project as kinema_project
from app.engine.io.project import ProjectError

HISTORY_SUFFIX = ".history"


def history_path(recovery: Path) -> Path:
    return recovery.with_name(recovery.name + HISTORY_SUFFIX)


Captured = tuple[list[Snapshot], list[str], int]  # (states, labels, position): see History


def capture(doc: Document) -> Captured:
    """The history as it is now, on the UI thread (references only); `history_data` may run on another thread."""
    history = doc.history
    if len(history.states) != len(history.labels()) + 1:  # a document never edited: no steps
        return [doc.snapshot()], [], 0
    return list(history.states), history.labels(), len(history.undo_stack)


def history_data(captured: Captured, autosave_id: str) -> kinema_project.ProjectData:
    """A captured undo history (every step's snapshot and name, and how many are done) as project data."""
    states, labels, position = captured
    stored: dict[int, str] = {}  # id(take) -> stored name
    takes: list[kinema_project.TakeData] = []

    def ref(state: TakeState) -> dict:
        if state.take is not None and id(state.take) not in stored:
            stored[id(state.take)] = name = f"t{len(takes)}"
            takes.append(take_data(TakeState(name, state.take)))
        return {"name": state.name, "take": stored.get(id(state.take)) if state.take is not None else None,
                "segments": [[s.text, s.start, s.length] for s in state.segments], "locked": list(state.locked),
                "selection": list(state.selection) if state.selection else None, "scope": state.scope,
                "constraints": constraints_to_dict(state.constraints)}

    described = [{"active": s.active, "frame": s.frame, "takes": [ref(t) for t in s.takes]} for s in states]
    meta = {"autosave_id": autosave_id, "history": {"position": position, "labels": labels, "states": described}}
    return kinema_project.ProjectData(meta, takes, {})


def save_history(path: str | Path, captured: Captured, autosave_id: str) -> None:
    kinema_project.save_project(path, history_data(captured, autosave_id))


def _state(entry: dict, takes: dict[str, TakeState]) -> TakeState:
    take = takes[entry["take"]].take if entry["take"] is not None else None
    selection = tuple(entry["selection"]) if entry["selection"] else None
    return TakeState(str(entry["name"]), take, tuple(Segment(str(t), int(a), int(n)) for t, a, n in entry["segments"]),
                     tuple(int(f) for f in entry["locked"]), selection, str(entry["scope"]),
                     constraints=constraints_from_dict(entry.get("constraints", {})))


def load_history(path: str | Path, autosave_id: str) -> tuple[list[Snapshot], list[str], int]:
    """(states, labels, position) of a history file written with `autosave_id`; ProjectError when it cannot be
    used (missing, damaged, or not this autosave's)."""
    data = kinema_project.load_project(path)
    if data.meta.get("autosave_id") != autosave_id:
        raise ProjectError("the history belongs to another autosave")
    takes = {t.name: take_state(t) for t in data.takes}
    try:
        history = data.meta["history"]
        states = [Snapshot(tuple(_state(t, takes) for t in s["takes"]), int(s["active"]), int(s["frame"]))
                  for s in history["states"]]
        labels, position = [str(label) for label in history["labels"]], int(history["position"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProjectError(f"the history is damaged ({type(exc).__name__}: {exc})") from None
    if len(states) != len(labels) + 1 or not 0 <= position < len(states) or \
            any(not 0 <= s.active < len(s.takes) for s in states):
        raise ProjectError("the history is damaged (its steps do not add up)")
    return states, labels, position


def restore_history(doc: Document, path: str | Path, autosave_id: str) -> int:
    """Put the history of `path` into `doc` (which must be at its current state); the number of undo steps."""
    states, labels, position = load_history(path, autosave_id)
    doc.history.replace(states, labels, position)
    return position
