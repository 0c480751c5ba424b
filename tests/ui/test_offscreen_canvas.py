"""The viewport drawn offscreen: no OpenGL widget in the window, the picture fills the widget and follows the
take, the camera answers the mouse, and vispy's GL widget takes over where EGL is missing."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtOpenGLWidgets import QOpenGLWidget
from PySide6.QtWidgets import QApplication

from app.engine.document import Document
from app.ui._qt import viewport as viewport_module
from app.ui._qt.offscreen_canvas import OffscreenCanvasWidget
from app.ui._vispy.skeleton_visual import BACKGROUND
from app.ui.main_window import MainWindow


def _drawn(widget) -> np.ndarray:
    """(H, W) booleans: pixels of the widget's picture that differ from the clear colour."""
    image = widget.grab().toImage().convertToFormat(widget.grab().toImage().Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    pixels = pixels[:, : 3 * image.width()].reshape(image.height(), image.width(), 3).astype(int)
    background = (np.array(BACKGROUND[:3]) * 255).round()
    return np.abs(pixels - background).sum(-1) > 30


def test_the_window_has_no_opengl_widget(window: MainWindow) -> None:
    # a QOpenGLWidget anywhere would make Qt recompose the whole window for every viewport frame
    assert isinstance(window.viewport.surface, OffscreenCanvasWidget)
    assert window.findChildren(QOpenGLWidget) == []


def test_the_picture_fills_the_viewport_and_follows_the_frame(window: MainWindow, qtbot) -> None:
    surface = window.viewport.surface
    assert tuple(window.viewport.canvas.size) == (surface.width(), surface.height())
    drawn = _drawn(surface)
    columns, rows = np.flatnonzero(drawn.any(0)), np.flatnonzero(drawn.any(1))
    assert columns[-1] - columns[0] > 0.8 * surface.width()  # the ground grid spans the view, not a corner
    assert rows[-1] - rows[0] > 0.4 * surface.height()
    window.viewport.follow.setChecked(False)  # a fixed camera, so the character moves across the picture
    window.document.current_frame = 0
    first = _drawn(surface)
    window.document.current_frame = 150
    qtbot.wait(50)
    assert (first != _drawn(surface)).sum() > 200


def _mouse(widget, kind, pos: QPointF, button=Qt.MouseButton.LeftButton, buttons=Qt.MouseButton.LeftButton):
    event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def test_dragging_orbits_and_the_wheel_zooms(window: MainWindow) -> None:
    window.viewport.follow.setChecked(False)
    surface, camera = window.viewport.surface, window.viewport.view.camera
    azimuth, distance = camera.azimuth, camera.scale_factor
    start = QPointF(surface.width() * 0.12, surface.height() * 0.15)  # empty sky: a press on a joint poses it instead
    positions = window.document.take.positions.copy()
    _mouse(surface, QMouseEvent.Type.MouseButtonPress, start)
    for dx in (20, 60, 120):
        _mouse(surface, QMouseEvent.Type.MouseMove, start + QPointF(dx, 0), Qt.MouseButton.NoButton)
    _mouse(surface, QMouseEvent.Type.MouseButtonRelease, start + QPointF(120, 0), buttons=Qt.MouseButton.NoButton)
    assert abs(camera.azimuth - azimuth) >= 5  # vispy drops moves that come too close together; one is enough
    assert (window.document.take.positions == positions).all()  # orbiting changed the view, not the take
    wheel = QWheelEvent(start, surface.mapToGlobal(start), QPoint(), QPoint(0, 240), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(surface, wheel)
    assert camera.scale_factor < distance  # wheel forward: closer


def test_without_egl_the_viewport_uses_vispys_gl_widget(qtbot, monkeypatch) -> None:
    monkeypatch.setattr(viewport_module, "offscreen_canvas", lambda bgcolor, parent: None)
    viewport = viewport_module.Viewport(Document())
    qtbot.addWidget(viewport)
    assert isinstance(viewport.surface, QOpenGLWidget) and viewport.surface is viewport.canvas.native
    assert viewport.surface.objectName() == "viewportCanvas"
