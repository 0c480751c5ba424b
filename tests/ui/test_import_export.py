"""Import and export through the window: the export dialog offers the whole take (the selection when chosen) at
the source file's rate; imports (menu or drop) replace the take in one undoable step; bad choices and bad files are messages."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from app.engine.document import SetSelection
from app.engine.io.bvh import read_bvh
from app.ui._qt.export_dialog import ExportDialog, ExportOptions
from app.ui.main_window import MainWindow


def test_the_dialog_offers_the_whole_take_even_with_a_selection(window: MainWindow, tmp_path: Path) -> None:
    offered = []
    window.ask_export = lambda defaults: offered.append(defaults)
    window.export_take()
    window.document.execute(SetSelection((12, 40)))
    window.export_take()
    n = window.document.n_frames
    assert [(o.first, o.last, o.fps) for o in offered] == [(0, n - 1, 20.0), (0, n - 1, 20.0)]
    dialog = ExportDialog(ExportOptions(tmp_path / "a.bvh", 12, 40, 20.0), n, window)
    assert (dialog.first.maximum(), dialog.last.maximum()) == (n - 1, n - 1)
    dialog.last.setValue(n + 50)  # clamped to the take
    assert dialog.options().frame_range == (12, n)


def test_an_export_writes_the_chosen_frames(window: MainWindow, tmp_path: Path) -> None:
    assert window.export_take(ExportOptions(tmp_path / "a.bvh", 10, 49, 20.0))
    bvh = read_bvh(tmp_path / "a.bvh")
    assert bvh.n_frames == 40 and abs(bvh.fps - 20.0) < 1e-9
    assert "Exported frames 10–49 at 20 fps to a.bvh" in window.statusBar().currentMessage()


def test_bad_choices_are_messages(window: MainWindow, tmp_path: Path) -> None:
    assert not window.export_take(ExportOptions(tmp_path / "b.bvh", 60, 20, 20.0))
    assert "is empty" in window.findChildren(QMessageBox, "errorBox")[-1].text()
    assert not window.export_take(ExportOptions(tmp_path / "no-such-folder" / "c.bvh", 0, 9, 20.0))
    assert "Export failed" in window.statusBar().currentMessage()
    assert not list(tmp_path.rglob("*.bvh"))
    window.document.reset()
    assert not window.export_take()
    assert window.statusBar().currentMessage() == "There is no take to export yet"


def test_a_malformed_bvh_import_is_a_message_and_keeps_the_take(window: MainWindow, qtbot, tmp_path: Path) -> None:
    bad = tmp_path / "broken.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0\n")
    before = window.document.take
    window.ask_import_path = lambda: str(bad)
    window.findChild(object, "importAction").trigger()
    qtbot.waitUntil(lambda: window.worker is None, timeout=10_000)
    assert "broken.bvh, line" in window.findChildren(QMessageBox, "errorBox")[-1].text()
    assert window.document.take is before and window.undo_action.text() == "Undo Load take"


def test_a_bvh_dropped_on_the_window_is_imported(window: MainWindow, qtbot, bandai_namco_sample: Path) -> None:
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(bandai_namco_sample / "dataset-2_walk_elderly_001.bvh"))])
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.worker is None, timeout=30_000)
    assert window.undo_action.text() == "Undo Import dataset-2_walk_elderly_001.bvh"
    data.setUrls([QUrl.fromLocalFile("/tmp/notes.txt")])
    assert window._dropped_file(QDropEvent(QPointF(1, 1), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                                           Qt.KeyboardModifier.NoModifier)) is None


def test_the_extension_picks_the_format_and_an_unknown_one_is_a_message(window: MainWindow, tmp_path: Path,
                                                                        monkeypatch) -> None:
    assert window.export_take(ExportOptions(tmp_path / "a.fbx", 0, 19, 20.0))
    assert window.export_take(ExportOptions(tmp_path / "a.glb", 0, 19, 20.0))
    assert (tmp_path / "a.fbx").read_bytes().startswith(b"Kaydara FBX Binary")
    assert (tmp_path / "a.glb").read_bytes().startswith(b"glTF")
    assert not window.export_take(ExportOptions(tmp_path / "a.obj", 0, 19, 20.0))
    assert "cannot write .obj files" in window.findChildren(QMessageBox, "errorBox")[-1].text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.fbx", "a.glb"]
    asked = []
    monkeypatch.setattr("app.ui._qt.export_dialog.QFileDialog.getSaveFileName",
                        lambda *args: asked.append(args[3]) or (str(tmp_path / "b.fbx"), ""))
    dialog = ExportDialog(ExportOptions(tmp_path / "a.bvh", 0, 19, 20.0), window.document.n_frames, window)
    dialog._browse()
    assert asked[0].startswith("Motion (*.bvh *.fbx *.glb *.gltf)") and dialog.options().path == tmp_path / "b.fbx"
