"""The take's waypoints and pins in the document: every change is an undoable command checked as the engine checks
them, a new take starts without them while a generation keeps those it was made under, and projects (and the
crash-recovery history) give them back; old projects without them still open, a damaged entry is a ProjectError."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from app.engine.constraints import Constraints, Pin, Waypoint
from app.engine.document import (
    AddPin, AddWaypoint, Document, DocumentError, MoveConstraint, RemoveConstraint, SetConstraints, SetTake, Take,
)
from app.engine.document.files import apply_project, load_document, save_document
from app.engine.document.history_file import capture, load_history, save_history
from app.engine.document.takes import take_from_positions
from app.engine.io.project import ProjectError
from app.engine.skeleton import BANDAI_NAMCO_21 as SK


def _take(n: int = 100) -> Take:
    """A person standing still, then stepping along +Z (positions only need to be a valid skeleton here)."""
    rest = np.zeros((SK.n_joints, 3))
    for j, parent in enumerate(SK.parents):
        if parent >= 0:
            rest[j] = rest[parent] + SK.offsets[j]
    rest[:, 1] -= rest[:, 1].min()
    positions = np.repeat(rest[None], n, axis=0) + np.linspace(0, 2, n)[:, None, None] * [0, 0, 1]
    return take_from_positions(positions, 20.0, SK)


@pytest.fixture
def doc() -> Document:
    d = Document()
    d.execute(SetTake(_take()))
    return d


def test_waypoints_and_pins_are_commands_that_undo_and_redo(doc):
    seen = []
    doc.events.constraints_changed.connect(seen.append)
    doc.execute(AddWaypoint(1.0, 3.0))
    doc.execute(AddWaypoint(0.5, 1.5, 40))  # tied, after the untied one
    doc.execute(AddPin("Hand_R", 60, (0.3, 1.2, 2.0)))
    assert doc.constraints == Constraints((Waypoint(1.0, 3.0), Waypoint(0.5, 1.5, 40)), (Pin("Hand_R", 60, (0.3, 1.2, 2.0)),))
    doc.execute(AddWaypoint(0.2, 0.7, 20))
    assert [w.frame for w in doc.constraints.waypoints] == [None, 20, 40]  # before the later tied one
    doc.execute(MoveConstraint("pin", 0, 70))
    doc.execute(MoveConstraint("pin", 0, 75))  # one drag: one step
    assert doc.constraints.pins[0].frame == 75 and doc.undo_label == "Move pin to frame 75"
    doc.undo()
    assert doc.constraints.pins[0].frame == 60
    doc.execute(RemoveConstraint("waypoint", 0))
    assert len(doc.constraints.waypoints) == 2
    doc.undo()
    doc.undo()
    assert [w.frame for w in doc.constraints.waypoints] == [None, 40]
    doc.redo()
    assert len(seen) == 11 and seen[-1] is doc.constraints  # one event per change, undo and redo


def test_constraints_the_engine_would_refuse_are_refused_and_change_nothing(doc):
    doc.execute(AddWaypoint(0.5, 1.5, 40))
    before = doc.constraints
    for command, words in ((AddWaypoint(1, 2, 150), r"frame 150 is outside the take \(0–99\)"),
                           (AddPin("LowerArm_L", 10, (0, 1, 0)), "pins go on a hand, a foot, a toe or the head"),
                           (AddWaypoint(1, 2, 0), "starts at the origin"),
                           (MoveConstraint("waypoint", 3, 10), "there is no waypoint 4"),
                           (RemoveConstraint("pin", 0), "there is no pin 1")):
        with pytest.raises(DocumentError, match=words):
            doc.execute(command)
        assert doc.constraints == before
    doc.execute(AddWaypoint(2, 4, 80))
    with pytest.raises(DocumentError, match="in the order of their frames"):
        doc.execute(MoveConstraint("waypoint", 1, 20))  # dragged past the waypoint at frame 40


def test_without_a_take_only_untied_waypoints_can_be_placed():
    doc = Document()
    doc.execute(AddWaypoint(0.0, 2.0))
    with pytest.raises(DocumentError, match="there is no take yet"):
        doc.execute(AddWaypoint(0.0, 2.0, 30))


def test_a_new_take_starts_clean_and_a_generation_keeps_what_it_was_made_under(doc):
    doc.execute(AddWaypoint(0.5, 1.5, 40))
    made_under = doc.constraints
    doc.execute(SetTake(_take(), "Regenerate", carry=True))
    assert doc.constraints == made_under
    doc.execute(SetTake(_take(), "Generate", constraints=made_under))
    assert doc.constraints == made_under
    doc.execute(SetTake(_take(), "Import"))
    assert doc.constraints == Constraints()
    doc.undo()
    assert doc.constraints == made_under


def test_a_project_gives_back_the_constraints_and_the_history_keeps_them(doc, tmp_path):
    doc.execute(AddWaypoint(0.5, 1.5, 40))
    doc.execute(AddWaypoint(1.0, 3.0))
    doc.execute(AddPin("Foot_L", 30, (0.1, 0.05, 0.6)))
    save_document(tmp_path / "p.kinema", doc)
    other = Document()
    apply_project(other, load_document(tmp_path / "p.kinema"))
    assert other.constraints == doc.constraints
    save_history(tmp_path / "h", capture(doc), "id")
    states, labels, position = load_history(tmp_path / "h", "id")
    assert [s.takes[0].constraints for s in states] == [s.takes[0].constraints for s in doc.history.states]
    assert labels[-1] == "Pin Foot_L at frame 30" and position == 4


def _rewrite(path, change) -> None:
    """Edit project.json inside a saved project, as a hand edit or an older Kinema would have written it."""
    with zipfile.ZipFile(path) as z:
        files = {name: z.read(name) for name in z.namelist()}
    document = json.loads(files["project.json"])
    change(document["takes"][0])
    files["project.json"] = json.dumps(document).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)


def test_old_projects_open_and_a_damaged_constraint_is_a_project_error(doc, tmp_path):
    doc.execute(AddPin("Hand_L", 30, (0.1, 1.0, 0.6)))
    path = tmp_path / "p.kinema"
    save_document(path, doc)
    _rewrite(path, lambda take: take.pop("constraints"))  # saved before paths and pins existed
    assert load_document(path).takes[0].constraints == Constraints()
    for damage, words in ((lambda t: t.update(constraints={"pins": [{"joint": "Hand_L", "frame": 30}]}), "is not {joint, frame"),
                          (lambda t: t.update(constraints={"waypoints": [{"x": 1, "z": 2, "frame": 500}]}), "frame 500 is outside the take"),
                          (lambda t: t.update(constraints=[1, 2]), "are not {waypoints")):
        save_document(path, doc)
        _rewrite(path, damage)
        with pytest.raises(ProjectError, match=f"p.kinema is damaged: take 'take': .*{words[:20]}"):
            load_document(path)


def test_set_constraints_replaces_them_all(doc):
    doc.execute(AddWaypoint(0.5, 1.5, 40))
    doc.execute(SetConstraints(Constraints(), "Clear path and pins"))
    assert not doc.constraints
    doc.undo()
    assert doc.constraints.waypoints == (Waypoint(0.5, 1.5, 40),)


def test_a_key_moves_in_time_with_its_pose_and_a_drag_is_one_step(doc):
    from app.engine.document import MoveKey, ToggleLock

    doc.execute(ToggleLock(20))
    pose = doc.key_pose(20).copy()
    doc.execute(MoveKey(20, 25))
    doc.execute(MoveKey(25, 31))
    assert doc.locked_frames == (31,) and np.array_equal(doc.key_pose(31), pose)
    doc.execute(ToggleLock(50))
    with pytest.raises(DocumentError, match="frame 50 already has a key"):
        doc.execute(MoveKey(31, 50))
    doc.undo()
    doc.undo()
    assert doc.locked_frames == (20,)
