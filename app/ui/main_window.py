"""The studio window: viewport in the centre, timeline below, prompt and take panels on the right.

The window owns the one `Document` and wires things together: menus and transport keys call document commands
or the `Transport`; long jobs go through `run_job` (a worker thread, a progress bar and a Cancel button in the
status bar). The generative edit actions arrive as the prompt panel's signals and are connected later.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QThreadPool, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget, QFileDialog, QMainWindow, QMessageBox, QProgressBar, QPushButton, QVBoxLayout, QWidget,
)

from app.engine.document import Document, DocumentError, SetTake, Take, ToggleLock
from app.ui import files
from app.ui._qt.prompt_panel import PromptPanel
from app.ui._qt.property_panel import PropertyPanel
from app.ui._qt.timeline import Timeline
from app.ui._qt.transport import Transport, TransportBar
from app.ui._qt.viewport import Viewport
from app.ui._qt.workers import Job, Worker

TAKE_FILTER = "Motion (*.bvh *.npy);;BVH (*.bvh);;Positions (*.npy)"
PROJECT_FILTER = "Kinema project (*.kinema);;All files (*)"


class MainWindow(QMainWindow):
    def __init__(self, document: Document | None = None) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.document = document or Document()
        self.project_path: Path | None = None
        self.worker: Worker | None = None
        self.pool = QThreadPool(self)

        self.viewport = Viewport(self.document)
        self.setCentralWidget(self.viewport)
        self.transport = Transport(self.document, self)
        self.timeline = Timeline(self.document)
        self.timeline.message.connect(self.show_message)
        self.transport_bar = TransportBar(self.transport)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.setSpacing(0)
        bottom_layout.addWidget(self.transport_bar)
        bottom_layout.addWidget(self.timeline, 1)
        self.prompt_panel = PromptPanel(self.document)
        self.property_panel = PropertyPanel(self.document)
        self._dock("timelineDock", "Timeline", bottom, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._dock("promptDock", "Prompt", self.prompt_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("propertyDock", "Take", self.property_panel, Qt.DockWidgetArea.RightDockWidgetArea)

        self.progress = QProgressBar()
        self.progress.setObjectName("progressBar")
        self.progress.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.clicked.connect(self.cancel_job)
        self._pending_progress = (0, "")
        self._progress_timer = QTimer(self, singleShot=True, interval=100)
        self._progress_timer.timeout.connect(self._show_progress)
        for widget in (self.progress, self.cancel_button):
            self.statusBar().addPermanentWidget(widget)
            widget.hide()

        self._build_menus()
        self._build_transport_keys()
        self.document.events.history_changed.connect(lambda _: self._update_undo_actions())
        self.document.events.take_changed.connect(lambda _: self._update_title())
        self._update_undo_actions()
        self._update_title()
        self.resize(1400, 860)

    def _dock(self, name: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, menu, text: str, slot: Callable[[], object], shortcut=None, name: str = "") -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _=False: slot())
        (menu or self).addAction(action)
        return action

    def _build_menus(self) -> None:
        file = self.menuBar().addMenu("&File")
        self._action(file, "&New", self.new_document, QKeySequence.StandardKey.New, "newAction")
        self._action(file, "&Open…", self.open_project, QKeySequence.StandardKey.Open, "openAction")
        self._action(file, "&Save", self.save_project, QKeySequence.StandardKey.Save, "saveAction")
        self._action(file, "Save &As…", lambda: self.save_project(ask=True), QKeySequence.StandardKey.SaveAs, "saveAsAction")
        file.addSeparator()
        self._action(file, "&Import BVH…", self.import_take, "Ctrl+I", "importAction")
        self._action(file, "&Export BVH…", self.export_take, "Ctrl+E", "exportAction")
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit, "quitAction")
        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(edit, "Undo", self.document.undo, QKeySequence.StandardKey.Undo, "undoAction")
        self.redo_action = self._action(edit, "Redo", self.document.redo, QKeySequence.StandardKey.Redo, "redoAction")

    def _build_transport_keys(self) -> None:
        """Window-wide keys; text fields still get their own keys (Qt lets a focused editor override)."""
        t = self.transport
        for key, slot, name in (
            (Qt.Key.Key_Space, t.toggle, "playAction"),
            (Qt.Key.Key_Left, lambda: t.step(-1), "stepBackAction"),
            (Qt.Key.Key_Right, lambda: t.step(1), "stepForwardAction"),
            (Qt.Key.Key_Home, t.go_to_start, "startAction"),
            (Qt.Key.Key_End, t.go_to_end, "endAction"),
            (Qt.Key.Key_K, self.toggle_lock, "lockAction"),
            (Qt.Key.Key_L, lambda: self.transport_bar.loop_check.toggle(), "loopAction"),
        ):
            self._action(None, name, slot, key, name)

    # -- document ----------------------------------------------------------------------------------------

    def load_take(self, take: Take, label: str = "Load take") -> None:
        self.transport.pause()
        self.document.execute(SetTake(take, label))

    def toggle_lock(self) -> None:
        try:
            self.document.execute(ToggleLock(self.document.current_frame))
        except DocumentError as exc:
            self.show_message(str(exc))

    def _update_undo_actions(self) -> None:
        doc = self.document
        self.undo_action.setEnabled(doc.can_undo)
        self.undo_action.setText(f"Undo {doc.undo_label}" if doc.can_undo else "Undo")
        self.redo_action.setEnabled(doc.can_redo)
        self.redo_action.setText(f"Redo {doc.redo_label}" if doc.can_redo else "Redo")

    def _update_title(self) -> None:
        name = self.project_path.name if self.project_path else "untitled"
        self.setWindowTitle(f"Kinema — {name}")

    def show_message(self, text: str, timeout_ms: int = 6000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def show_error(self, title: str, text: str) -> None:
        """Status bar plus a non-blocking message box: the user sees it, nothing waits on it."""
        self.show_message(f"{title}: {text}")
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    # -- files ---------------------------------------------------------------------------------------------

    def new_document(self) -> None:
        self.transport.pause()
        self.project_path = None
        self.document.reset()
        self._update_title()

    def import_take(self, path: str | None = None) -> None:
        path = path or QFileDialog.getOpenFileName(self, "Import motion", "", TAKE_FILTER)[0]
        if not path:
            return
        self.run_job(f"Importing {Path(path).name}", lambda cancel, progress: files.read_take(path),
                     lambda take: self.load_take(take, f"Import {Path(path).name}"))

    def export_take(self, path: str | None = None) -> None:
        take = self.document.take
        if take is None:
            self.show_message("There is no take to export yet")
            return
        path = path or QFileDialog.getSaveFileName(self, "Export BVH", "take.bvh", "BVH (*.bvh)")[0]
        if path:
            self._guarded("Export failed", lambda: files.export_take(take, path), f"Exported {Path(path).name}")

    def open_project(self, path: str | None = None) -> None:
        path = path or QFileDialog.getOpenFileName(self, "Open project", "", PROJECT_FILTER)[0]
        if path and self._guarded("Open failed", lambda: files.open_project(path, self.document), f"Opened {Path(path).name}"):
            self.project_path = Path(path)
            self._update_title()

    def save_project(self, ask: bool = False) -> None:
        path = self.project_path
        if ask or path is None:
            chosen = QFileDialog.getSaveFileName(self, "Save project", "untitled.kinema", PROJECT_FILTER)[0]
            path = Path(chosen) if chosen else None
        if path and self._guarded("Save failed", lambda: files.save_project(path, self.document), f"Saved {path.name}"):
            self.project_path = path
            self._update_title()

    def _guarded(self, title: str, call: Callable[[], object], done: str) -> bool:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - a file error is a message, never a traceback
            self.show_error(title, str(exc) or type(exc).__name__)
            return False
        self.show_message(done)
        return True

    # -- background jobs -----------------------------------------------------------------------------------

    def run_job(self, label: str, job: Job, on_finished: Callable[[object], None]) -> Worker | None:
        """Run `job` on a worker thread; `on_finished(result)` runs on the UI thread. One job at a time."""
        if self.worker is not None:
            self.show_message("Another job is still running")
            return None
        worker = self.worker = Worker(job)
        worker.signals.progress.connect(self._job_progress)
        worker.signals.finished.connect(lambda result: (self._job_done(f"{label}: done"), on_finished(result)))
        worker.signals.failed.connect(lambda text: (self._job_done(""), self.show_error(f"{label} failed", text)))
        worker.signals.cancelled.connect(lambda: self._job_done(f"{label}: cancelled"))
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.prompt_panel.set_busy(True)
        self.show_message(label + "…", 0)
        self.pool.start(worker)
        return worker

    def _job_progress(self, percent: int, text: str) -> None:
        """Shown at most 10 times a second: each repaint of a window with a GL canvas costs a composition."""
        self._pending_progress = (percent, text)
        if not self._progress_timer.isActive():
            self._progress_timer.start()

    def _show_progress(self) -> None:
        percent, text = self._pending_progress
        self.progress.setValue(percent)
        if text != self.statusBar().currentMessage():
            self.show_message(text, 0)

    def cancel_job(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.cancel_button.setEnabled(False)
            self.show_message("Cancelling…", 0)

    def _job_done(self, message: str) -> None:
        self.worker = None
        self._progress_timer.stop()
        self.progress.hide()
        self.cancel_button.hide()
        self.prompt_panel.set_busy(False)
        self.show_message(message)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.transport.pause()
        self.cancel_job()
        self.pool.waitForDone(2000)
        super().closeEvent(event)
