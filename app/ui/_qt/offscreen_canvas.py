"""A vispy SceneCanvas drawn offscreen (EGL) and shown by a plain raster widget.

Why: a QOpenGLWidget turns its whole top-level window into an OpenGL surface, and on a software renderer (Mesa's
llvmpipe, what a laptop without a usable GPU driver or a virtual display has) Qt then recomposes and swaps the
entire window for every viewport frame: the cost grows with the window, not the viewport (measured: 1400x860
plays at half the rate of 800x500). Drawn offscreen, a frame costs one render of the viewport's own pixels, one
read-back and one blit of that rectangle; the rest of the window is repainted only when it changes.

Mouse and wheel events are handed to the canvas as vispy events, so its camera (orbit, pan, zoom) works as in a
GL widget. Where EGL cannot start (no libEGL, not Linux), `offscreen_canvas` returns None and the viewport keeps
vispy's own Qt widget.
"""
from __future__ import annotations

import functools
import os

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QWidget
from vispy import gloo, scene
from vispy.util import keys

BUTTONS = {Qt.MouseButton.LeftButton: 1, Qt.MouseButton.RightButton: 2, Qt.MouseButton.MiddleButton: 3}
MODIFIERS = ((Qt.KeyboardModifier.ShiftModifier, keys.SHIFT), (Qt.KeyboardModifier.ControlModifier, keys.CONTROL),
             (Qt.KeyboardModifier.AltModifier, keys.ALT), (Qt.KeyboardModifier.MetaModifier, keys.META))


@functools.cache
def _egl_app():
    """vispy's EGL application, or None where EGL does not start here."""
    if os.environ.get("KINEMA_VIEWPORT") == "gl":  # escape hatch: vispy's QOpenGLWidget
        return None
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")  # no window system needed: pbuffers only
    try:
        from vispy import app

        return app.Application("egl")
    except Exception:  # noqa: BLE001 - any failure to load or initialise EGL means: use the GL widget
        return None


class OffscreenCanvasWidget(QWidget):
    """Shows `canvas` (a SceneCanvas on the EGL app) at the widget's size, redrawn on every `update()`."""

    def __init__(self, canvas: scene.SceneCanvas, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # every pixel is painted: no background fill
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(32, 32)

    def _scale(self) -> float:
        return self.devicePixelRatioF()

    def resizeEvent(self, event) -> None:
        s = self._scale()
        size = (max(1, round(self.width() * s)), max(1, round(self.height() * s)))
        self.canvas.size = size  # a new pbuffer
        self.canvas.events.resize(size=size)  # what a windowed backend would send: the scene's viewport follows
        super().resizeEvent(event)

    def paintEvent(self, event) -> None:
        self.canvas.set_current()
        self.canvas.events.draw(region=None)  # the scene into the EGL pbuffer (and the canvas's draw listeners)
        pixels = np.ascontiguousarray(gloo.read_pixels(alpha=False))  # (H, W, 3) uint8, top row first
        h, w = pixels.shape[:2]
        image = QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        image.setDevicePixelRatio(self._scale())
        painter = QPainter(self)
        painter.drawImage(0, 0, image)
        painter.end()

    # Qt mouse -> vispy mouse: positions in canvas pixels, buttons 1 left / 2 right / 3 middle
    def _mouse(self, event: QMouseEvent | QWheelEvent) -> dict:
        point: QPointF = event.position()
        s = self._scale()
        return {"native": event, "pos": (point.x() * s, point.y() * s),
                "buttons": [b for q, b in BUTTONS.items() if event.buttons() & q],
                "modifiers": tuple(k for q, k in MODIFIERS if event.modifiers() & q)}

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self.canvas._backend._vispy_mouse_press(button=BUTTONS.get(event.button(), 0), **self._mouse(event))
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self.canvas._backend._vispy_mouse_release(button=BUTTONS.get(event.button(), 0), **self._mouse(event))
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self.canvas._backend._vispy_mouse_move(**self._mouse(event))
        self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta()
        self.canvas.events.mouse_wheel(delta=(delta.x() / 120.0, delta.y() / 120.0), **self._mouse(event))
        self.update()


def offscreen_canvas(bgcolor, parent: QWidget | None = None) -> tuple[scene.SceneCanvas, QWidget] | None:
    """(canvas, widget showing it), or None where EGL is not available."""
    app = _egl_app()
    if app is None:
        return None
    try:
        canvas = scene.SceneCanvas(app=app, size=(64, 64), show=False, keys=None, bgcolor=bgcolor)
    except Exception:  # noqa: BLE001 - a context that cannot be created: fall back to the GL widget
        return None
    return canvas, OffscreenCanvasWidget(canvas, parent)
