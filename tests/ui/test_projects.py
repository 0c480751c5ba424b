"""File menu projects through the real window: save and reopen give back the same document, bad files change
nothing, autosave writes a recovery file that a crash leaves behind and the next start offers to restore."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QMessageBox

from app.engine.document import AddSegment, Segment, SetScope, SetSelection, ToggleLock
from app.engine.document.files import load_document
from app.ui.app import create_window
from app.ui.main_window import MainWindow


def _state(window: MainWindow) -> tuple:
    doc = window.document
    return (doc.take.positions.tobytes(), doc.take.features.tobytes(), doc.take.fps, list(doc.segments),
            doc.locked_frames, doc.selection, doc.scope)


def _edit(window: MainWindow) -> None:
    for command in (ToggleLock(12), ToggleLock(150), AddSegment(Segment("a person walks", 0, 90)),
                    AddSegment(Segment("a person sits down", 90, 150)),  # reaches past the take: plans the long take
                    SetSelection((40, 80)), SetScope("upper")):
        window.document.execute(command)
    window.prompt_panel.prompt.setPlainText("a person walks and sits")
    window.prompt_panel.seed.setValue(42)


def test_save_and_reopen_give_back_the_document(window: MainWindow, tmp_path: Path) -> None:
    _edit(window)
    before = _state(window)
    target = tmp_path / "walk"
    window.projects.ask_save_path = lambda suggested: str(target)
    window.findChild(object, "saveAction").trigger()
    saved = tmp_path / "walk.kinema"
    assert saved.is_file() and window.windowTitle() == "Kinema — walk.kinema"
    window.findChild(object, "newAction").trigger()
    assert window.document.take is None and window.windowTitle() == "Kinema — untitled"
    window.prompt_panel.seed.setValue(0)
    window.projects.ask_open_path = lambda: str(saved)
    window.findChild(object, "openAction").trigger()
    assert _state(window) == before
    assert window.prompt_panel.seed.value() == 42
    assert window.prompt_panel.prompt.toPlainText() == "a person walks and sits"
    assert not window.document.can_undo and window.windowTitle() == "Kinema — walk.kinema"
    assert list(window.timeline.locks.getData()[0]) == [12, 150]


def _newer(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    document = json.loads(files["project.json"])
    document["schema_version"] = 99
    files["project.json"] = json.dumps(document).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def test_a_bad_or_newer_project_explains_and_changes_nothing(window: MainWindow, tmp_path: Path) -> None:
    _edit(window)
    good = tmp_path / "good.kinema"
    window.projects.ask_save_path = lambda suggested: str(good)
    assert window.projects.save()
    window.document.execute(ToggleLock(100))  # unsaved work that must survive the failed opens
    before, take = _state(window), window.document.take
    garbage = tmp_path / "garbage.kinema"
    garbage.write_bytes(b"not a zip at all")
    newer = tmp_path / "newer.kinema"
    newer.write_bytes(good.read_bytes())
    _newer(newer)
    for path, reason in ((garbage, "garbage.kinema is not a Kinema project (not a zip file)"),
                         (newer, "newer.kinema was saved by a newer Kinema (schema 99")):
        assert not window.projects.open(path)
        assert reason in window.findChildren(QMessageBox, "errorBox")[-1].text()
        assert _state(window) == before and window.document.take is take
        assert window.projects.path == good and window.document.can_undo
    assert window.windowTitle() == "Kinema — good.kinema *"


def test_a_failed_save_says_why_and_keeps_the_old_file(window: MainWindow, tmp_path: Path) -> None:
    target = tmp_path / "missing-folder" / "take.kinema"
    window.projects.ask_save_path = lambda suggested: str(target)
    assert not window.projects.save()
    assert "cannot save take.kinema" in window.findChild(object, "errorBox").text()
    assert window.projects.path is None and window.projects.dirty


def test_autosave_runs_on_its_timer_and_a_clean_close_removes_it(qtbot, walk_positions, recovery_home: Path) -> None:
    from app.engine.document import Take

    win = MainWindow(create_window().edit_actions.checkpoints, autosave_s=0.2)
    win.projects.ask_unsaved = lambda: "discard"
    qtbot.addWidget(win)
    win.load_take(Take(walk_positions))
    qtbot.waitUntil(lambda: any(recovery_home.glob("*.kinema.autosave")), timeout=5000)
    assert win.projects.dirty  # an autosave is not a save
    win.close()
    assert not any(recovery_home.glob("*.kinema.autosave"))


def test_after_a_crash_the_next_start_offers_the_autosave(window: MainWindow, qtbot, recovery_home: Path, tmp_path: Path) -> None:
    window.projects.ask_save_path = lambda suggested: str(tmp_path / "mine.kinema")
    window.projects.save()
    _edit(window)
    before = _state(window)
    window.projects.autosave()
    assert window.projects.wait_for_autosave()
    qtbot.waitUntil(lambda: not window.projects._autosave_running, timeout=5000)
    leftover = list(recovery_home.glob("*.kinema.autosave"))
    assert len(leftover) == 1 and leftover[0].name.startswith("mine-")
    # The studio "crashed": the first window never closes cleanly before the next one starts.
    asked = []
    second = create_window()
    second.projects.ask_unsaved = lambda: "discard"
    qtbot.addWidget(second)
    second.projects.ask_restore = lambda path: asked.append(path) or True
    assert second.projects.offer_recovery()
    assert asked == leftover and _state(second) == before
    assert second.projects.path == tmp_path / "mine.kinema" and second.windowTitle() == "Kinema — mine.kinema *"
    assert second.prompt_panel.seed.value() == 42
    assert not any(recovery_home.glob("*.kinema.autosave"))


def test_declining_the_restore_removes_the_leftover(window: MainWindow, qtbot, recovery_home: Path) -> None:
    window.document.execute(ToggleLock(5))
    window.projects.autosave()
    qtbot.waitUntil(lambda: any(recovery_home.glob("*.kinema.autosave")), timeout=5000)
    second = create_window()
    second.projects.ask_unsaved = lambda: "discard"
    qtbot.addWidget(second)
    second.projects.ask_restore = lambda path: False
    example = second.document.take
    assert not second.projects.offer_recovery()
    assert second.document.take is example and not any(recovery_home.glob("*.kinema.autosave"))
    assert np.array_equal(window.document.locked_frames, (5,))


def test_unsaved_work_is_saved_kept_or_dropped_as_the_user_answers(window: MainWindow, tmp_path: Path) -> None:
    window.document.execute(ToggleLock(3))
    take = window.document.take
    window.projects.ask_unsaved = lambda: "cancel"
    assert not window.projects.new() and window.document.take is take
    target = tmp_path / "kept.kinema"
    window.projects.ask_save_path = lambda suggested: str(target)
    window.projects.ask_unsaved = lambda: "save"
    assert window.projects.new()
    assert window.document.take is None and target.is_file()
    assert window.projects.open(target) and window.document.locked_frames == (3,)
    window.edit_actions._show_variations([(0, window.document.take)])
    window.document.execute(ToggleLock(4))
    window.projects.ask_unsaved = lambda: "discard"
    assert window.projects.new()
    assert not window.variations_strip.previews and not window.variations_strip.isVisibleTo(window)
    assert load_document(target).locked == (3,)  # dropped work was not written


def test_a_damaged_autosave_is_set_aside_with_a_message(qtbot, recovery_home: Path) -> None:
    recovery_home.mkdir(parents=True)
    (recovery_home / "untitled.kinema.autosave").write_bytes(b"PK\x03\x04 cut short")
    window = create_window()
    window.projects.ask_unsaved = lambda: "discard"
    qtbot.addWidget(window)
    window.projects.ask_restore = lambda path: True
    example = window.document.take
    assert not window.projects.offer_recovery()
    assert "untitled.kinema.autosave is damaged" in window.findChildren(QMessageBox, "errorBox")[-1].text()
    assert window.document.take is example
    assert [p.name for p in recovery_home.iterdir()] == ["untitled.kinema.autosave.damaged"]
    assert not window.projects.offer_recovery()  # not offered again
