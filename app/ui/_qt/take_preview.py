"""Small animated previews of takes, side by side: how a Variations run is compared and picked.

Each preview draws its take as a stick figure with QPainter (no GL: a dozen previews cost less than one viewport
frame), seen from three-quarters front and following the character, with a head and a nose so that facing reads.
One timer animates them all at the take's rate while the strip is shown. Clicking a preview emits `picked(index)`.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.engine.document import Take
from app.ui._vispy.facing_visual import facing, head_joint
from app.ui._vispy.skeleton_visual import BACKGROUND, joint_colours

VIEW_AZIMUTH = math.radians(35.0)  # the viewport's starting angle, so a preview looks like the viewport
PREVIEW_SIZE = (132, 116)  # pixels
TICK_MS = 50


RIGHT = np.array([math.cos(VIEW_AZIMUTH), 0.0, -math.sin(VIEW_AZIMUTH)])  # the screen's x axis in the scene


def project(points: np.ndarray, root: np.ndarray) -> np.ndarray:
    """(N, 2) of (across, height) for (N, 3) points, seen from VIEW_AZIMUTH and centred on `root` (orthographic)."""
    return np.stack([(points - root) @ RIGHT, points[:, 1]], axis=-1)


class TakePreview(QWidget):
    clicked = Signal()

    def __init__(self, take: Take, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("takePreview")
        self.take = take
        self.label = label
        self.frame = 0
        self.current = False
        self.setFixedSize(*PREVIEW_SIZE)
        self.setToolTip(f"{label}: click to use it (undoable)")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        skeleton = take.skeleton
        self._bones = [(p, j) for j, p in enumerate(skeleton.parents) if p >= 0]
        self._colours = [QColor.fromRgbF(*c) for c in joint_colours(skeleton)]
        self._head = head_joint(skeleton)
        # one scale for the whole take: the figure does not breathe as it bends
        extent = take.positions[..., 1].max() - min(0.0, float(take.positions[..., 1].min()))
        self._scale = 0.78 * (PREVIEW_SIZE[1] - 18) / max(float(extent), 0.5)

    def advance(self) -> None:
        self.frame = (self.frame + 1) % self.take.n_frames
        self.update()

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor.fromRgbF(*BACKGROUND))
        w, h = self.width(), self.height()
        floor = h - 20
        pose = self.take.positions[self.frame]  # (J, 3)
        xy = project(pose, pose[0] * np.array([1.0, 0.0, 1.0]))
        points = [QPointF(w / 2 + self._scale * x, floor - self._scale * y) for x, y in xy]
        painter.setPen(QPen(QColor(90, 94, 104), 1))
        painter.drawLine(QPointF(8, floor), QPointF(w - 8, floor))
        for parent, child in self._bones:
            painter.setPen(QPen(self._colours[child], 2.2))
            painter.drawLine(points[parent], points[child])
        head = points[self._head]
        radius = 0.09 * self._scale
        centre = QPointF(head.x(), head.y() - 0.6 * radius)
        painter.setPen(QPen(QColor(235, 230, 215), 1.5))
        painter.setBrush(QColor(235, 230, 215, 90))
        painter.drawEllipse(centre, radius, radius)
        nose = 0.2 * float(facing(pose, self.take.skeleton) @ RIGHT)  # metres across the screen
        painter.setPen(QPen(QColor(255, 90, 75), 2.5))
        painter.drawLine(centre, QPointF(centre.x() + self._scale * nose, centre.y()))
        painter.setPen(QColor(255, 205, 60) if self.current else QColor(200, 200, 205))
        painter.drawText(QRectF(0, h - 18, w, 16), Qt.AlignmentFlag.AlignCenter, self.label)
        if self.current:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(255, 205, 60), 3))
            painter.drawRect(QRectF(1.5, 1.5, w - 3, h - 3))
        painter.end()


class VariationsStrip(QFrame):
    """The last Variations run as a row of previews; `picked(index)` when one is clicked. Hidden when empty."""

    picked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("variationsStrip")
        self.previews: list[TakePreview] = []
        self.title = QLabel()
        self.title.setObjectName("variationsTitle")
        self.row = QHBoxLayout()
        self.row.setContentsMargins(4, 0, 4, 0)
        self.row.addStretch(1)
        holder = QWidget()
        holder.setLayout(self.row)
        scroll = QScrollArea()
        scroll.setWidget(holder)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFixedHeight(PREVIEW_SIZE[1] + 20)  # room for a horizontal scroll bar
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(scroll)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.hide()

    def show_takes(self, takes: list[tuple[str, Take]], title: str = "") -> None:
        """Replace the previews (the first is current); an empty list hides the strip."""
        for preview in self.previews:
            self.row.removeWidget(preview)
            preview.deleteLater()
        self.previews = []
        for i, (label, take) in enumerate(takes):
            preview = TakePreview(take, label)
            preview.clicked.connect(lambda i=i: self._clicked(i))
            self.row.insertWidget(i, preview)
            self.previews.append(preview)
        self.title.setText(title or f"{len(takes)} variations: click one to use it (Ctrl+Z goes back to before the run)")
        self.set_current(0)
        self.setVisible(bool(takes))
        self.timer.setInterval(round(1000 / takes[0][1].fps) if takes else TICK_MS)
        self.timer.start() if takes else self.timer.stop()

    def set_current(self, index: int) -> None:
        for i, preview in enumerate(self.previews):
            preview.current = i == index
            preview.update()

    def _clicked(self, index: int) -> None:
        self.set_current(index)
        self.picked.emit(index)

    def _tick(self) -> None:
        if self.isVisible():
            for preview in self.previews:
                preview.advance()
