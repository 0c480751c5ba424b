"""Starting the studio: the window opens with the example prompt, loads the models in the background, offers
restorable work, and opens a project or take given on the command line."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from app.engine.document import Take
from app.engine.document.files import save_document
from app.ui import app as studio
from app.ui._qt.prompt_panel import EXAMPLE_PROMPT
from app.ui.main_window import MainWindow


@pytest.fixture
def started(qtbot, monkeypatch):
    """run_studio with the event loop replaced by a hand-back of the window it made."""
    windows: list[MainWindow] = []

    def exec_() -> int:
        window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible())
        window.projects.ask_unsaved = lambda: "discard"
        qtbot.addWidget(window)
        windows.append(window)
        return 0

    monkeypatch.setattr(QApplication, "exec", staticmethod(exec_))
    return windows


def test_the_studio_starts_ready_and_warms_the_models(started, qtbot) -> None:
    assert studio.run_studio([]) == 0
    window = started[0]
    assert window.prompt_panel.prompt.toPlainText() == EXAMPLE_PROMPT
    assert window.document.take is not None  # the example take, to play with at once
    assert window.edit_actions.warming and window.models_label.isVisible()  # models load while the user reads...
    assert window.worker is None  # ...without holding the job slot: every button works meanwhile
    qtbot.waitUntil(lambda: not window.edit_actions.warming, timeout=60_000)
    assert window.statusBar().currentMessage() == "Models loaded" and not window.models_label.isVisible()
    assert window.edit_actions.checkpoints == studio.default_checkpoints()


def test_a_project_on_the_command_line_is_opened(started, qtbot, tmp_path: Path, walk_positions) -> None:
    from app.engine.document import Document, SetTake, ToggleLock

    doc = Document()
    doc.execute(SetTake(Take(walk_positions)))
    doc.execute(ToggleLock(7))
    save_document(tmp_path / "p.kinema", doc)
    studio.run_studio([str(tmp_path / "p.kinema")])
    window = started[0]
    assert window.document.locked_frames == (7,) and window.projects.path == tmp_path / "p.kinema"
    qtbot.waitUntil(lambda: not window.edit_actions.warming, timeout=60_000)


def test_shipped_checkpoints_are_found_from_anywhere(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KINEMA_CHECKPOINTS", raising=False)
    from app.engine.models.checkpoint import SHIPPED  # app.ui.app imports it only when asked (a fast start)

    assert studio.default_checkpoints() == SHIPPED
    assert (SHIPPED / "masked.safetensors").is_file()
    monkeypatch.setenv("KINEMA_CHECKPOINTS", str(tmp_path))
    assert studio.default_checkpoints() == tmp_path


def test_without_a_display_the_studio_says_what_to_do(monkeypatch, capsys) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert studio.run_studio([]) == 2
    assert "xvfb-run -a kinema" in capsys.readouterr().err
