"""File → New / Open / Save / Save As, autosave to a recovery file, and the offer to restore after a crash.

Reading happens before anything changes (a damaged or newer project is a message and the open work stays);
saves are atomic (`app.engine.io.project`). Every `autosave_s` seconds, if something changed since the last
autosave, the document is written to its recovery file on a pool thread; a clean close removes the file, so a
recovery file found at start-up means the studio did not close properly. The questions the user is asked are
attributes (`ask_*`) that tests replace with answers.

The controller tells its owner (the window) what happened through signals: `message` and `error` for the user,
`state_changed` when the path or the unsaved state changed (the title), `replacing` just before the document is
replaced by New, Open or a restore (stop playback, forget the last variations). It never imports the window.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.engine.document import Document, DocumentError, Take
from app.engine.document.files import apply_project, leftover_recoveries, load_document, project_data, save_document
from app.engine.document.history_file import capture, history_path, restore_history, save_history
from app.engine.io.project import ProjectError, recovery_path, save_project
from app.ui._qt.prompt_panel import PromptPanel
from app.ui._qt.workers import Worker

PROJECT_FILTER = "Kinema project (*.kinema);;All files (*)"
AUTOSAVE_S = 60


class ProjectController(QObject):
    message = Signal(str)
    error = Signal(str, str)  # title, text
    state_changed = Signal()  # the path or the unsaved state changed
    replacing = Signal()  # the document is about to be replaced (New, Open, restore)

    def __init__(self, document: Document, panel: PromptPanel, parent: QWidget, autosave_s: float = AUTOSAVE_S) -> None:
        super().__init__(parent)
        self.parent_widget = parent  # the dialogs' parent
        self.document = document
        self.panel = panel
        self.path: Path | None = None
        self.revision = 0  # counts edits (commands, undos, redos)
        self._saved_revision = 0
        self._autosaved_revision = 0
        self._autosave_running = False
        self.pool = QThreadPool(self)
        self.document.events.history_changed.connect(self._on_edit)
        self.timer = QTimer(self)
        self.timer.setInterval(int(autosave_s * 1000))
        self.timer.timeout.connect(self.autosave)
        self.timer.start()
        # The questions, replaceable in tests: each returns the answer, None when the user cancels.
        self.ask_open_path: Callable[[], str | None] = self._ask_open_path
        self.ask_save_path: Callable[[str], str | None] = self._ask_save_path
        self.ask_unsaved: Callable[[], str] = self._ask_unsaved  # "save", "discard" or "cancel"
        self.ask_restore: Callable[[Path], bool] = self._ask_restore

    @property
    def dirty(self) -> bool:
        return self.revision != self._saved_revision

    def _on_edit(self, _doc: object) -> None:
        self.revision += 1
        self.state_changed.emit()

    def _settings(self) -> dict:
        return self.panel.settings()

    # -- menu actions ------------------------------------------------------------------------------------

    def _settle_unsaved(self) -> bool:
        """Before the work is replaced or the window closes: save it, drop it, or stop (False)."""
        if not self.dirty:
            return True
        answer = self.ask_unsaved()
        return self.save() if answer == "save" else answer == "discard"

    def new(self) -> bool:
        if not self._settle_unsaved():
            return False
        self.replacing.emit()
        self._forget_recovery()
        self.document.reset()
        self._set_path(None)
        return True

    def start_with(self, take: Take) -> None:
        """The first screen: `take` on show, with nothing to save and nothing to undo (it is not the user's work)."""
        self.document.reset(take)
        self._set_path(None)

    def open(self, path: str | Path | None = None) -> bool:
        if not self._settle_unsaved():
            return False
        path = path or self.ask_open_path()
        if not path:
            return False
        path = Path(path)
        try:
            opened = load_document(path)
        except ProjectError as exc:
            self.error.emit("Cannot open the project", str(exc))
            return False
        self.replacing.emit()
        self._forget_recovery()
        apply_project(self.document, opened)
        self.panel.apply_settings(opened.settings)
        self._set_path(path)
        extra = f" ({len(opened.takes)} takes: pick one in the take list)" if len(opened.takes) > 1 else ""
        self.message.emit(f"Opened {path.name}{extra}")
        return True

    def save(self, ask: bool = False) -> bool:
        path = self.path
        if ask or path is None:
            chosen = self.ask_save_path(path.name if path else "untitled.kinema")
            if not chosen:
                return False
            path = Path(chosen)
            if path.suffix != ".kinema":
                path = path.with_name(path.name + ".kinema")
        try:
            save_document(path, self.document, self._settings())
        except (ProjectError, DocumentError) as exc:
            self.error.emit("Cannot save the project", str(exc))
            return False
        self._forget_recovery()
        self._set_path(path)
        self.message.emit(f"Saved {path.name}")
        return True

    def _set_path(self, path: Path | None) -> None:
        self.path = path
        self._saved_revision = self._autosaved_revision = self.revision
        self.state_changed.emit()

    # -- autosave and recovery ---------------------------------------------------------------------------

    def autosave(self) -> None:
        """Write the document to its recovery file off the UI thread, if it changed since the last autosave."""
        if self.revision == self._autosaved_revision or self._autosave_running or self.document.take is None:
            return
        autosave_id = uuid.uuid4().hex  # the history beside it belongs to this autosave, not an older one
        meta = {"project_path": str(self.path.absolute()) if self.path else None, "autosave_id": autosave_id}
        data = project_data(self.document, self._settings(), meta)  # a snapshot: takes are never changed in place
        history = capture(self.document)
        target = recovery_path(self.path)
        revision = self.revision

        def job(cancel, progress) -> None:
            save_history(history_path(target), history, autosave_id)  # first: a crash between leaves no mismatch used
            save_project(target, data)

        worker = Worker(job)
        worker.signals.finished.connect(lambda _: self._autosaved(revision))
        worker.signals.failed.connect(lambda text: self._autosaved(None, text))
        self._autosave_running = True
        self._autosave_worker = worker  # kept alive until it reports
        self.pool.start(worker)

    def _autosaved(self, revision: int | None, error: str = "") -> None:
        self._autosave_running = False
        if revision is None:
            self.message.emit(f"Autosave failed: {error}")
        else:
            self._autosaved_revision = revision

    def wait_for_autosave(self, timeout_ms: int = 5000) -> bool:
        return self.pool.waitForDone(timeout_ms)

    def _forget_recovery(self) -> None:
        """The work is saved or deliberately dropped: its recovery file is no longer needed."""
        self.pool.waitForDone(5000)
        recovery = recovery_path(self.path)
        recovery.unlink(missing_ok=True)
        history_path(recovery).unlink(missing_ok=True)

    def offer_recovery(self) -> bool:
        """At start-up: if an autosave outlived its studio, offer to restore it. True when restored."""
        leftovers = leftover_recoveries()
        if not leftovers:
            return False
        newest = leftovers[0]
        if not self.ask_restore(newest):
            for path in leftovers:
                path.unlink(missing_ok=True)
                history_path(path).unlink(missing_ok=True)
            return False
        try:
            opened = load_document(newest)
        except ProjectError as exc:
            newest.rename(newest.with_name(newest.name + ".damaged"))  # kept for inspection, not offered again
            history_path(newest).unlink(missing_ok=True)
            self.error.emit("Cannot restore the autosaved work", str(exc))
            return False
        self.replacing.emit()
        apply_project(self.document, opened)
        try:
            steps = restore_history(self.document, history_path(newest), str(opened.meta.get("autosave_id")))
            with_history = f" with its {steps} undo steps" if steps else ""
        except ProjectError as exc:  # the work is back; only its undo history is not
            with_history = f" (without its undo history: {exc})"
        self.panel.apply_settings(opened.settings)
        original = opened.meta.get("project_path")
        self.path = Path(original) if isinstance(original, str) else None
        self._saved_revision = -1  # restored work is unsaved until the user saves it
        for path in leftovers:
            path.unlink(missing_ok=True)
            history_path(path).unlink(missing_ok=True)
        self.state_changed.emit()
        self.message.emit(f"Restored the autosaved work{with_history}: save it to keep it")
        return True

    def close(self) -> bool:
        """Called when the window closes: False keeps it open. A clean close leaves no recovery file."""
        if not self._settle_unsaved():
            return False
        self.timer.stop()
        self._forget_recovery()
        return True

    # -- the real dialogs ----------------------------------------------------------------------------------

    def _ask_open_path(self) -> str | None:
        return QFileDialog.getOpenFileName(self.parent_widget, "Open project", "", PROJECT_FILTER)[0] or None

    def _ask_save_path(self, suggested: str) -> str | None:
        return QFileDialog.getSaveFileName(self.parent_widget, "Save project", suggested, PROJECT_FILTER)[0] or None

    def _ask_unsaved(self) -> str:
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(self.parent_widget, "Unsaved changes", "The take has unsaved changes. Save them first?",
                                      buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
        return {buttons.Save: "save", buttons.Discard: "discard"}.get(answer, "cancel")

    def _ask_restore(self, path: Path) -> bool:
        when = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        answer = QMessageBox.question(self.parent_widget, "Restore work?",
                                      f"Kinema did not close properly. Restore the work autosaved at {when}?",
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes
