"""Projects hold several takes in the studio: the take list switches, duplicates, renames and deletes (each one
undo step), a project with several takes opens them all, and crash recovery gives back the undo history."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from app.engine.document import Document, DuplicateTake, RenameTake, SetTake, Take, ToggleLock
from app.engine.document.files import save_document
from app.ui.app import create_window
from app.ui.main_window import MainWindow


def test_the_take_list_switches_duplicates_renames_and_deletes(window: MainWindow, qtbot) -> None:
    doc, takes = window.document, window.take_list
    doc.execute(ToggleLock(12))
    walk = doc.take
    qtbot.mouseClick(window.findChild(object, "duplicateTakeButton"), Qt.MouseButton.LeftButton)
    assert takes.list.count() == 2 and takes.list.currentRow() == 1 and doc.locked_frames == (12,)
    doc.execute(SetTake(Take(walk.positions[:50]), "Generate"))
    takes.ask_name = lambda current: "short"
    qtbot.mouseClick(window.findChild(object, "renameTakeButton"), Qt.MouseButton.LeftButton)
    assert [takes.list.item(i).text() for i in range(2)] == ["take  (182 f)", "short  (50 f)"]
    takes.list.setCurrentRow(0)  # a click on the first take
    assert doc.take is walk and window.viewport.skeleton.positions.shape[0] == 182
    assert window.timeline.view.viewRange()[0][1] > 150  # the timeline shows the take switched to
    assert window.undo_action.text() == "Undo Switch to take “take”"
    qtbot.mouseClick(window.findChild(object, "deleteTakeButton"), Qt.MouseButton.LeftButton)
    assert takes.list.count() == 1 and doc.n_frames == 50 and not takes.delete_button.isEnabled()
    window.undo_action.trigger()
    assert takes.list.count() == 2 and doc.take is walk


def test_a_project_with_several_takes_opens_them_all(window: MainWindow, tmp_path: Path, walk_positions) -> None:
    doc = Document()
    doc.reset(Take(walk_positions), name="walk")
    doc.execute(DuplicateTake(0))
    doc.execute(SetTake(Take(walk_positions[:60])))
    doc.execute(RenameTake(1, "walk short"))
    save_document(tmp_path / "two.kinema", doc)
    assert window.projects.open(tmp_path / "two.kinema")
    assert window.document.take_names == ["walk", "walk short"] and window.document.n_frames == 60
    assert window.take_list.list.count() == 2 and window.take_list.list.currentRow() == 1
    assert "2 takes" in window.statusBar().currentMessage()
    window.take_list.list.setCurrentRow(0)
    assert window.document.n_frames == len(walk_positions)


def test_recovery_after_a_crash_gives_back_the_undo_history(window: MainWindow, qtbot, recovery_home: Path) -> None:
    doc = window.document
    for frame in (10, 40):
        doc.execute(ToggleLock(frame))
    doc.execute(DuplicateTake(0))
    doc.execute(ToggleLock(70))
    doc.undo()
    window.projects.autosave()
    assert window.projects.wait_for_autosave()
    qtbot.waitUntil(lambda: not window.projects._autosave_running, timeout=5000)
    second = create_window()  # the first window never closed: a crash
    second.projects.ask_unsaved = lambda: "discard"
    qtbot.addWidget(second)
    second.projects.ask_restore = lambda path: True
    assert second.projects.offer_recovery()
    again = second.document
    assert again.take_names == ["take", "take copy"] and again.locked_frames == (10, 40)
    assert second.undo_action.text() == "Undo Duplicate take “take”" and second.redo_action.isEnabled()
    assert "undo steps" in second.statusBar().currentMessage()
    second.redo_action.trigger()
    assert again.locked_frames == (10, 40, 70)
    for _ in range(4):
        second.undo_action.trigger()
    assert again.take_names == ["take"] and again.locked_frames == ()
    assert second.undo_action.text() == "Undo Load take"  # the fixture's import, over the example take
    np.testing.assert_array_equal(again.take.positions, doc.takes[0].take.positions)
    assert not any(recovery_home.iterdir())  # the recovery file and its history are gone once restored
