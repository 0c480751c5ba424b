"""The studio window: viewport in the centre, timeline below, prompt and take panels on the right.

The window owns the one `Document` and wires things together: menus and transport keys call document commands
or the `Transport`; long jobs go through `run_job` (a worker thread, a progress bar and a Cancel button in the
status bar). The prompt panel's buttons are run by `EditActions`, the File menu's projects by `ProjectController`.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings, QThreadPool, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog, QDockWidget, QFileDialog, QFrame, QLabel, QMainWindow, QMessageBox, QProgressBar, QPushButton,
    QScrollArea, QVBoxLayout, QWidget,
)

from app.engine.document import Command, Document, SetTake, Take, ToggleLock
from app.engine.document.files import export_take
from app.engine.io.formats import file_filter
from app.engine.smpl_body import (
    MODEL_ENV,
    SEQUENCES,
    SMPLModelError,
    load_smpl,
    smpl_animation,
    write_smpl_body,
)
from app.ui._qt.constraint_tools import ConstraintTools
from app.ui._qt.export_dialog import ExportDialog, ExportOptions, default_options
from app.ui._qt.keyboard import ShortcutsDialog, leave_text_fields_with_escape
from app.ui._qt.preferences_dialog import PreferencesDialog
from app.ui._qt.prompt_panel import PromptPanel
from app.ui._qt.posing import PoseTool
from app.ui._qt.property_panel import PropertyPanel
from app.ui._qt.take_list import TakeList
from app.ui._qt.take_preview import VariationsStrip
from app.ui._qt.timeline import Timeline
from app.ui._qt.transport import Transport, TransportBar
from app.ui._qt.viewport import Viewport
from app.ui._qt.workers import Cancelled, Job, Worker
from app.ui.edit_actions import EditActions
from app.ui.projects import AUTOSAVE_S, ProjectController
from app.ui.rig_actions import RigActions

TAKE_FILTER = file_filter(writing=False)
EXPORT_FOLDER_KEY = "export/folder"
SMPL_KEY = "smpl/folder"  # the user's SMPL model folder (or file); $KINEMA_SMPL where none is set
DROPPABLE = (".bvh", ".fbx", ".glb", ".gltf", ".npy", ".kinema")
TIMELINE_HEIGHT = 190  # pixels, transport bar included, as the window opens


def scrolling(widget: QWidget) -> QScrollArea:
    """`widget` in a frameless scroll area that only scrolls vertically, when the window is too short for it."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setMinimumWidth(widget.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width())
    return area


class MainWindow(QMainWindow):
    def __init__(self, checkpoints: Path, document: Document | None = None, autosave_s: float = AUTOSAVE_S) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.document = document or Document()
        self.worker: Worker | None = None
        self.pool = QThreadPool(self)

        self.viewport = Viewport(self.document)
        self.constraint_tools = ConstraintTools(self.document, self.viewport)
        self.constraint_tools.message.connect(self.show_message)
        self.variations_strip = VariationsStrip()
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(0)
        centre_layout.addWidget(self.viewport, 1)
        centre_layout.addWidget(self.variations_strip)  # under the viewport: the timeline keeps its height
        self.setCentralWidget(centre)
        self.transport = Transport(self.document, self)
        self.timeline = Timeline(self.document)
        self.timeline.message.connect(self.show_message)
        self.transport_bar = TransportBar(self.transport)
        self.transport.playing_changed.connect(self.timeline.set_playing)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.setSpacing(0)
        bottom_layout.addWidget(self.transport_bar)
        bottom_layout.addWidget(self.timeline, 1)
        self.prompt_panel = PromptPanel(self.document)
        self.property_panel = PropertyPanel(self.document)
        # The side panels run the window's full height and scroll rather than set it (it fits 1280 x 720); the
        # timeline sits under the viewport with a height of its own, which nothing else takes away.
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        timeline_dock = self._dock("timelineDock", "Timeline", bottom, Qt.DockWidgetArea.BottomDockWidgetArea)
        prompt_dock = self._dock("promptDock", "Prompt", scrolling(self.prompt_panel), Qt.DockWidgetArea.RightDockWidgetArea)
        self.take_list = TakeList(self.document)
        self.take_list.message.connect(self.show_message)
        takes = QWidget()
        takes_layout = QVBoxLayout(takes)
        takes_layout.setContentsMargins(4, 4, 4, 0)
        takes_layout.addWidget(self.take_list)
        takes_layout.addWidget(self.property_panel)
        take_dock = self._dock("propertyDock", "Takes", scrolling(takes), Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([timeline_dock], [TIMELINE_HEIGHT], Qt.Orientation.Vertical)
        self.resizeDocks([prompt_dock, take_dock], [2, 1], Qt.Orientation.Vertical)

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

        # The window owns its controllers: they get what they need and report back through signals and callables.
        self.edit_actions = EditActions(self.document, self.prompt_panel, checkpoints, self.run_job, self.apply, self)
        self.edit_actions.variations_changed.connect(self.variations_strip.show_takes)
        self.edit_actions.message.connect(lambda text: self.show_message(text, 15000))
        self.variations_strip.picked.connect(self.edit_actions.pick_variation)
        self.rig_actions = RigActions(self)
        self.posing = PoseTool(self.document, self.viewport, self.apply, self)  # drag a joint: IK, a locked key
        self.posing.message.connect(self.show_message)
        self.posing.joint_grabbed.connect(self.constraint_tools.choose_effector)  # Pin holds the joint just posed
        # in path mode a click near the character places a waypoint: the mouse is the path's, not posing's
        self.constraint_tools.path_mode.toggled.connect(lambda on: setattr(self.posing, "enabled", not on))
        self.projects = ProjectController(self.document, self.prompt_panel, self, autosave_s)
        self.projects.message.connect(self.show_message)
        self.projects.error.connect(self.show_error)
        self.projects.state_changed.connect(self.update_title)
        self.projects.replacing.connect(self._on_document_replacing)
        self.models_label = QLabel("Loading models in the background…")
        self.models_label.setObjectName("modelsLabel")
        self.models_label.setToolTip("Everything works meanwhile; a Generate waits for them, then runs")
        self.statusBar().addPermanentWidget(self.models_label)
        self.models_label.hide()
        self.edit_actions.warmed.connect(lambda text: (self.models_label.hide(), self.show_message(text)))
        # Replaced in tests: the import path, and the export choices (None when the user cancels).
        self.ask_import_path: Callable[[], str | None] = self._ask_import_path
        self.ask_export: Callable[[ExportOptions], ExportOptions | None] = self._ask_export
        self.ask_preferences: Callable[[str], str | None] = self._ask_preferences
        self.ask_smpl_frames: Callable[[Path], str | None] = self._ask_smpl_frames
        # Where the last export went, across restarts (Qt's settings file): the next one starts there.
        saved = QSettings("Kinema", "Kinema").value(EXPORT_FOLDER_KEY, "")
        self.export_folder: Path | None = Path(saved) if saved and Path(saved).is_dir() else None
        # The SMPL model is loaded when the body is first shown (or exported), not at start.
        self.smpl_location = str(QSettings("Kinema", "Kinema").value(SMPL_KEY, "") or os.environ.get(MODEL_ENV, ""))
        self.viewport.set_smpl(self.smpl_location or None)
        self._build_menus()
        self._build_transport_keys()
        self._escape = leave_text_fields_with_escape(self, self.viewport.surface)
        self.transport_bar.done.connect(self.focus_viewport)
        for signal in (self.prompt_panel.generate_requested, self.prompt_panel.variations_requested,
                       self.prompt_panel.inbetween_requested, self.prompt_panel.regenerate_requested,
                       self.prompt_panel.edit_upper_requested, self.prompt_panel.long_take_requested):
            signal.connect(lambda _: self.focus_viewport())  # Space plays and Ctrl+Z undoes the edit right after
        self.setAcceptDrops(True)  # a .bvh dropped on the window is imported, a .kinema opened
        self.document.events.history_changed.connect(lambda _: self._update_undo_actions())
        self._update_undo_actions()
        self.update_title()
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
        projects = self.projects
        self._action(file, "&New", projects.new, QKeySequence.StandardKey.New, "newAction")
        self._action(file, "&Open…", projects.open, QKeySequence.StandardKey.Open, "openAction")
        self._action(file, "&Save", projects.save, QKeySequence.StandardKey.Save, "saveAction")
        self._action(file, "Save &As…", lambda: projects.save(ask=True), QKeySequence.StandardKey.SaveAs, "saveAsAction")
        file.addSeparator()
        self._action(file, "&Import BVH…", self.import_take, "Ctrl+I", "importAction")
        self._action(file, "&Export BVH…", self.export_take, "Ctrl+E", "exportAction")
        self._action(file, "Export onto &rig…", self.rig_actions.export_onto_rig, None, "exportOntoRigAction")
        self._action(file, "Export SMPL body &frames (OBJ, PLY)…", self.export_smpl_frames, None,
                     "exportSmplFramesAction")
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit, "quitAction")
        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(edit, "Undo", self.document.undo, QKeySequence.StandardKey.Undo, "undoAction")
        self.redo_action = self._action(edit, "Redo", self.document.redo, QKeySequence.StandardKey.Redo, "redoAction")
        edit.addSeparator()
        self._action(edit, "&Preferences…", self.preferences, QKeySequence.StandardKey.Preferences, "preferencesAction")
        steer = self.menuBar().addMenu("&Constrain")
        tools = self.constraint_tools
        path_action = self._action(steer, "&Path mode (click the ground to place waypoints)",
                                   tools.path_mode.toggle, "W", "pathModeAction")
        path_action.setCheckable(True)
        tools.path_mode.toggled.connect(path_action.setChecked)
        self._action(steer, "Pin &effector at the playhead", tools.pin_effector, "P", "pinAction")
        self._action(steer, "&Clear path and pins", tools.clear, None, "clearConstraintsAction")
        view = self.menuBar().addMenu("&View")
        self._action(view, "&Frame character", self.viewport.frame_character, "F", "frameAction")
        self._action(view, "&Reset view", self.viewport.reset_view, "Shift+Home", "resetViewAction")
        view.addSeparator()
        for text, name, keys in (("Fr&ont", "front", ("1", "Num+1")), ("&Side", "side", ("3", "Num+3")),
                                 ("&Top", "top", ("7", "Num+7"))):
            action = self._action(view, text, lambda n=name: self.viewport.set_view(n), None, f"{name}ViewAction")
            action.setShortcuts([QKeySequence(k) for k in keys])
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, QKeySequence.StandardKey.HelpContents,
                     "shortcutsAction")

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
            ("Ctrl+G", self.transport_bar.focus_go_to, "goToAction"),
        ):
            self._action(None, name, slot, key, name)

    def focus_viewport(self) -> None:
        self.viewport.surface.setFocus(Qt.FocusReason.OtherFocusReason)

    def show_shortcuts(self) -> None:
        dialog = self.findChild(ShortcutsDialog) or ShortcutsDialog(self)
        dialog.show()
        dialog.raise_()

    # -- document ----------------------------------------------------------------------------------------

    def load_take(self, take: Take, label: str = "Load take") -> None:
        self.apply(SetTake(take, label))

    def apply(self, command: Command) -> None:
        """A new take (or a change that comes with one) stops playback first: the frame under it may not exist."""
        self.transport.pause()
        self.document.execute(command)

    def _on_document_replacing(self) -> None:
        """New, Open or a restore: playback stops and the last run's variations belong to the old document."""
        self.transport.pause()
        self.edit_actions.forget_variations()

    def toggle_lock(self) -> None:
        refusal = self.document.try_execute(ToggleLock(self.document.current_frame))
        if refusal is not None:
            self.show_message(refusal)

    def _update_undo_actions(self) -> None:
        doc = self.document
        self.undo_action.setEnabled(doc.can_undo)
        self.undo_action.setText(f"Undo {doc.undo_label}" if doc.can_undo else "Undo")
        self.redo_action.setEnabled(doc.can_redo)
        self.redo_action.setText(f"Redo {doc.redo_label}" if doc.can_redo else "Redo")

    def update_title(self) -> None:
        path = self.projects.path
        self.setWindowTitle(f"Kinema — {path.name if path else 'untitled'}{' *' if self.projects.dirty else ''}")

    def show_message(self, text: str, timeout_ms: int = 6000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def show_error(self, title: str, text: str) -> None:
        """Status bar plus a non-blocking message box: the user sees it, nothing waits on it."""
        self.show_message(f"{title}: {text}")
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def preferences(self) -> None:
        chosen = self.ask_preferences(self.smpl_location)
        if chosen is not None:
            self.set_smpl_location(chosen)

    def set_smpl_location(self, location: str) -> bool:
        """Point the studio at the user's SMPL model (a folder or an .npz; "" for none) and remember it. A model
        that does not load is one message and changes nothing. True when applied."""
        model = None
        if location:
            try:
                model = load_smpl(location)
            except SMPLModelError as exc:
                self.show_error("SMPL model not used", str(exc))
                return False
        QSettings("Kinema", "Kinema").setValue(SMPL_KEY, location)
        self.smpl_location = location
        self.viewport.set_smpl(location or None, model)
        if model is not None and self.viewport.display.currentText() == "Skeleton":
            self.viewport.display.setCurrentText("Body")  # show what was just chosen
        self.show_message(f"SMPL body: {len(model.v_template)} vertices, driven by the take" if model is not None
                          else "No SMPL model: the body is the mannequin")
        return True

    # -- takes in and out -----------------------------------------------------------------------------------

    def import_take(self, path: str | Path | None = None) -> None:
        """Read a BVH (or positions) on the worker; it replaces the take as one undoable step."""
        path = path or self.ask_import_path()
        if not path:
            return
        self.rig_actions.import_take(path)  # asks for a joint mapping where the file's names are unknown

    def export_take(self, options: ExportOptions | None = None) -> bool:
        """Export through the dialog (or the given choices): frame range and frame rate. True when written."""
        take = self.document.take
        if take is None:
            self.show_message("There is no take to export yet")
            return False
        if options is None:
            folder = self.export_folder or (self.projects.path.parent if self.projects.path else Path.home())
            options = self.ask_export(default_options(take, folder))
            if options is None:
                return False
        if not options.path.name:
            self.show_error("Export failed", "choose a file to export to")
            return False
        smpl = self.viewport.body.smpl_model() if options.body and self.smpl_location else None
        if options.body and self.smpl_location and smpl is None:  # asked for the SMPL body: never the mannequin instead
            self.show_error("Export failed", f"the SMPL model is not used ({self.viewport.body.smpl_error}); "
                            "choose another in Edit → Preferences, or clear it there to export the mannequin")
            return False
        try:
            export_take(take, options.path, options.frame_range, options.fps, body=options.body, smpl=smpl)
        except (ValueError, OSError) as exc:
            self.show_error("Export failed", str(exc))
            return False
        self.export_folder = options.path.parent
        QSettings("Kinema", "Kinema").setValue(EXPORT_FOLDER_KEY, str(self.export_folder))
        self.show_message(f"Exported frames {options.first}–{options.last} at {options.fps:g} fps to {options.path.name}")
        return True

    def export_smpl_frames(self, path: str | Path | None = None) -> bool:
        """The take as the SMPL body, one OBJ or PLY per frame (by the name's extension: frames/walk.obj writes
        frames/walk_0000.obj…), posed and written on a worker. True when the job started."""
        take = self.document.take
        if take is None:
            self.show_message("There is no take to export yet")
            return False
        model = self.viewport.body.smpl_model()
        if model is None:
            self.show_error("SMPL body frames", self.viewport.body.status)
            return False
        path = path or self.ask_smpl_frames(self.export_folder or Path.home())
        if not path:
            return False
        path = Path(path)
        kind = path.suffix.lower().lstrip(".")
        if kind not in SEQUENCES:
            self.show_error("SMPL body frames", f"{path.name}: name the frames .obj or .ply")
            return False
        world, fps, skeleton = take.placement.to_world(take.positions), take.fps, take.skeleton

        def job(cancel, progress):
            def step(done: int, total: int) -> None:
                if cancel.is_set():
                    raise Cancelled()
                progress(100 * done // total, f"SMPL body: {done} of {total} frames written")

            return write_smpl_body(model, smpl_animation(model, world, fps, skeleton), path.parent, path.stem, kind,
                                   progress=step)

        started = self.run_job("Exporting SMPL body frames", job,
                               lambda n: self.show_message(f"Wrote {n} {kind.upper()} files to {path.parent}"))
        return started is not None

    @staticmethod
    def _dropped_file(event) -> Path | None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        path = Path(urls[0].toLocalFile()) if len(urls) == 1 and urls[0].isLocalFile() else None
        return path if path is not None and path.suffix.lower() in DROPPABLE else None

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if self._dropped_file(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        path = self._dropped_file(event)
        if path is None:
            return
        event.acceptProposedAction()
        self.projects.open(path) if path.suffix.lower() == ".kinema" else self.import_take(path)

    def _ask_import_path(self) -> str | None:
        return QFileDialog.getOpenFileName(self, "Import motion", "", TAKE_FILTER)[0] or None

    def _ask_export(self, defaults: ExportOptions) -> ExportOptions | None:
        dialog = ExportDialog(defaults, self.document.n_frames, self, self.document.selection,
                              smpl=self.smpl_location != "" and self.viewport.body.smpl_error is None)
        return dialog.options() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def _ask_smpl_frames(self, folder: Path) -> str | None:
        return QFileDialog.getSaveFileName(self, "Export SMPL body frames", str(folder / "take.obj"),
                                           "OBJ frames (*.obj);;PLY frames (*.ply)")[0] or None

    def _ask_preferences(self, smpl_location: str) -> str | None:
        dialog = PreferencesDialog(smpl_location, self)
        return dialog.smpl_location() if dialog.exec() == QDialog.DialogCode.Accepted else None

    # -- background jobs -----------------------------------------------------------------------------------

    def run_job(self, label: str, job: Job, on_finished: Callable[[object], None],
                on_partial: Callable[[object], None] | None = None) -> Worker | None:
        """Run `job` on a worker thread; `on_finished(result)` runs on the UI thread, and `on_partial(kept)` when a
        cancelled job kept what it had finished. One job at a time."""
        if self.worker is not None:
            self.show_message("Another job is still running")
            return None
        worker = self.worker = Worker(job)
        worker.signals.progress.connect(self._job_progress)
        worker.signals.finished.connect(lambda result: (self._job_done(f"{label}: done"), on_finished(result)))
        worker.signals.failed.connect(lambda text: (self._job_done(""), self.show_error(f"{label} failed", text)))
        worker.signals.cancelled.connect(lambda: self._job_done(f"{label}: cancelled"))
        if on_partial is not None:
            worker.signals.partial.connect(on_partial)
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.prompt_panel.set_busy(True)
        self.take_list.setEnabled(False)  # the result goes to the take the job started from
        self.show_message(label + "…", 0)
        self.pool.start(worker)
        return worker

    def _job_progress(self, percent: int, text: str) -> None:
        """Shown at most 10 times a second: a worker may report far more often than anyone can read (and where the
        viewport falls back to vispy's GL widget, each repaint recomposes the whole window)."""
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
        self.take_list.setEnabled(True)
        self.show_message(message)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if not self.projects.close():
            event.ignore()
            return
        self.transport.pause()
        self.cancel_job()
        self.pool.waitForDone(2000)
        super().closeEvent(event)
