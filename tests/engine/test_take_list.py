"""A document holds several takes: switch, rename, duplicate and delete are undoable steps that keep each take's
keys, segments and selection; projects save and open them all; the undo history survives a round trip through
its file (what crash recovery reads)."""
from __future__ import annotations

import numpy as np
import pytest

from app.engine.document import (
    AddSegment, DeleteTake, Document, DocumentError, DuplicateTake, RenameTake, Segment, SetSelection, SetTake,
    SwitchTake, Take, ToggleLock,
)
from app.engine.document.files import apply_project, load_document, save_document
from app.engine.document.history_file import capture, load_history, restore_history, save_history
from app.engine.io.project import ProjectError


def _take(n: int, shift: float) -> Take:
    rng = np.random.default_rng(n)
    return Take((rng.normal(size=(n, 21, 3)) + shift).astype(np.float32))


@pytest.fixture
def doc() -> Document:
    doc = Document()
    doc.reset(_take(40, 0.0), name="walk")
    doc.execute(ToggleLock(10))
    doc.execute(AddSegment(Segment("a person walks", 0, 40)))
    return doc


def test_a_duplicate_is_edited_apart_and_switching_back_gives_the_original(doc: Document) -> None:
    walk = doc.take
    doc.execute(DuplicateTake(0))
    assert doc.take_names == ["walk", "walk copy"] and doc.active == 1 and doc.locked_frames == (10,)
    doc.execute(SetTake(_take(30, 1.0), "Generate"))
    doc.execute(SetSelection((5, 9)))
    doc.execute(SwitchTake(0))
    assert doc.take is walk and doc.locked_frames == (10,) and doc.selection is None
    doc.execute(SwitchTake(1))
    assert doc.n_frames == 30 and doc.selection == (5, 9)
    doc.undo()
    assert doc.take is walk and doc.active == 0


def test_rename_and_delete_are_undoable_and_refuse_nonsense(doc: Document) -> None:
    doc.execute(DuplicateTake(0))
    doc.execute(RenameTake(1, "run"))
    assert doc.take_names == ["walk", "run"]
    with pytest.raises(DocumentError, match="already a take named"):
        doc.execute(RenameTake(1, "walk"))
    with pytest.raises(DocumentError, match="needs a name"):
        doc.execute(RenameTake(0, "  "))
    doc.execute(DeleteTake(1))
    assert doc.take_names == ["walk"] and doc.active == 0
    with pytest.raises(DocumentError, match="at least one take"):
        doc.execute(DeleteTake(0))
    doc.undo()
    assert doc.take_names == ["walk", "run"] and doc.active == 1
    doc.undo()
    doc.undo()
    assert doc.take_names == ["walk"]


def test_a_project_keeps_every_take_and_which_one_was_edited(doc: Document, tmp_path) -> None:
    doc.execute(DuplicateTake(0))
    doc.execute(SetTake(_take(25, 2.0), carry=True))  # an edit of the copy: its key at 10 stays
    doc.execute(ToggleLock(3))
    doc.execute(RenameTake(1, "jump"))
    save_document(tmp_path / "p.kinema", doc)
    opened = load_document(tmp_path / "p.kinema")
    again = Document()
    apply_project(again, opened)
    assert again.take_names == ["walk", "jump"] and again.active == 1
    assert again.n_frames == 25 and again.locked_frames == (3, 10)
    np.testing.assert_array_equal(again.take.positions, doc.take.positions)
    again.execute(SwitchTake(0))
    assert again.n_frames == 40 and again.segments == [Segment("a person walks", 0, 40)]


def test_the_history_file_gives_back_every_step(doc: Document, tmp_path) -> None:
    doc.execute(DuplicateTake(0))
    doc.execute(SetTake(_take(30, 1.0), "Generate"))
    doc.execute(ToggleLock(20))
    doc.undo()  # one step undone: it must come back as a redo
    save_history(tmp_path / "h", capture(doc), "abc")
    with pytest.raises(ProjectError, match="another autosave"):
        load_history(tmp_path / "h", "other")
    again = Document()
    again.reset(doc.take)
    assert restore_history(again, tmp_path / "h", "abc") == 4
    assert again.undo_label == "Generate" and again.redo_label == "Toggle lock at frame 20"
    assert again.take_names == ["walk", "walk copy"] and again.n_frames == 30
    again.redo()
    assert again.locked_frames == (20,)  # the new take started clean, then got its own key
    for _ in range(5):
        again.undo()
    assert again.take_names == ["walk"] and again.locked_frames == () and again.segments == []
    np.testing.assert_array_equal(again.take.positions, doc.takes[0].take.positions)
