"""The 3D viewport: a vispy SceneCanvas in a QWidget that follows the document.

The canvas draws offscreen through EGL and a raster widget shows it (`offscreen_canvas`: on a software renderer
that keeps a frame's cost to the viewport's own pixels); where EGL is missing, vispy's QOpenGLWidget is used.

It listens to the document's events and touches only vertex data on a frame change, so the cost per frame is
one small upload and one redraw. Mouse: left-drag orbits, shift-drag or middle-drag pans, the wheel zooms
(vispy's TurntableCamera); `follow` keeps the character centred while it walks.
"""
from __future__ import annotations

import time
from collections import deque

import numpy as np
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QVBoxLayout, QWidget
from vispy import scene

from app.engine.document import Document, Take
from app.ui._qt.offscreen_canvas import offscreen_canvas
from app.ui._vispy import camera_views
from app.ui._vispy.body_visual import DISPLAYS, BodyVisual
from app.ui._vispy.skeleton_visual import BACKGROUND, SkeletonVisual, follow, make_camera


class Viewport(QWidget):
    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("viewport")
        self.document = document
        offscreen = offscreen_canvas(BACKGROUND, self)
        if offscreen is None:  # no EGL here: vispy's QOpenGLWidget
            self.canvas = scene.SceneCanvas(keys=None, bgcolor=BACKGROUND, parent=self)
            self.surface: QWidget = self.canvas.native
        else:
            self.canvas, self.surface = offscreen
        self.surface.setObjectName("viewportCanvas")
        self.view = self.canvas.central_widget.add_view()
        self.view.camera = make_camera()
        self.skeleton = SkeletonVisual(self.view.scene)
        self.body = BodyVisual(self.view.scene)
        self.display = QComboBox(self)
        self.display.setObjectName("displayCombo")
        self.display.addItems(DISPLAYS)
        self.display.setToolTip("Draw the skeleton, the mannequin body, or both")
        self.display.currentTextChanged.connect(self._on_display_changed)
        self.follow = QCheckBox("Follow", self)
        self.follow.setObjectName("followCheck")
        self.follow.setToolTip("Keep the camera centred on the character")
        self.follow.setChecked(True)
        self.follow.toggled.connect(lambda _: self._on_frame_changed(document.current_frame))
        bar = self._bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 0)
        bar.addWidget(self.follow)
        bar.addWidget(self.display)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.surface, 1)
        self.draw_times: deque[float] = deque(maxlen=1000)  # perf_counter of each redraw, for the frame-rate readout and tests
        self.canvas.events.draw.connect(lambda _: self.draw_times.append(time.perf_counter()))

        events = document.events
        events.take_changed.connect(self._on_take_changed)
        events.frame_changed.connect(self._on_frame_changed)
        events.locks_changed.connect(self._on_locks_changed)
        events.selection_changed.connect(lambda _: self._update_highlight())
        events.scope_changed.connect(lambda _: self._update_highlight())
        if document.take is not None:
            self._on_take_changed(document.take)

    def add_tools(self, *widgets: QWidget) -> None:
        """Put tools (app.ui._qt.constraint_tools) in the bar above the canvas, after the display choices."""
        for widget in widgets:
            self._bar.insertWidget(self._bar.count() - 1, widget)

    def _on_take_changed(self, take: Take | None) -> None:
        if take is None:
            self.skeleton.clear()
            self.body.clear()
        else:
            self.skeleton.set_take(take.positions, take.skeleton, take.fps)
            self.body.set_take(take.positions, take.skeleton)
            self._on_locks_changed(self.document.locked_frames, redraw=False)
            self._update_highlight(redraw=False)
            self._on_frame_changed(self.document.current_frame)
        self.surface.update()

    def _on_frame_changed(self, frame: int) -> None:
        if self.document.take is None:
            return
        self._update_highlight(redraw=False)
        self.skeleton.show_frame(frame)
        self.body.show_frame(frame)
        if self.follow.isChecked():
            follow(self.view.camera, self.skeleton.pose)
        self.surface.update()

    def _on_display_changed(self, display: str) -> None:
        self.skeleton.set_bones_visible(display != "Body")
        self.body.set_enabled(display != "Skeleton")
        self._on_frame_changed(self.document.current_frame)
        self.surface.update()

    def _on_locks_changed(self, frames: tuple[int, ...], redraw: bool = True) -> None:
        poses = [self.document.key_pose(f) for f in frames]
        self.skeleton.set_ghosts(frames, np.stack(poses) if poses else np.zeros((0, 0, 3), np.float32))  # (K, J, 3)
        if redraw:
            self.surface.update()

    # -- camera (View menu) -------------------------------------------------------------------------------

    def frame_character(self) -> None:
        """F: the whole character fills the view."""
        if self.skeleton.pose is not None:
            camera_views.frame_pose(self.view.camera, self.skeleton.pose)
            self.surface.update()

    def reset_view(self) -> None:
        camera_views.reset_view(self.view.camera, self.skeleton.pose)
        self.surface.update()

    def set_view(self, name: str) -> None:
        """"front", "side" or "top"."""
        camera_views.set_view(self.view.camera, name)
        self.surface.update()

    def _update_highlight(self, redraw: bool = True) -> None:
        doc = self.document
        selection = doc.selection
        on = doc.scope == "upper" and selection is not None and selection[0] <= doc.current_frame <= selection[1]
        self.skeleton.set_highlight(on)
        if redraw:
            self.surface.update()

    def frame_rate(self, window_s: float = 1.0) -> float:
        """Redraws per second over the last `window_s` seconds."""
        now = time.perf_counter()
        recent = [t for t in self.draw_times if now - t <= window_s]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    def render_image(self) -> np.ndarray:
        """The canvas as an (H, W, 4) uint8 image, for screenshots."""
        return self.canvas.render()
