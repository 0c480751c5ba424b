"""Playback: a timer that moves the document's current frame in real time, and its small control bar.

The frame shown is chosen from the elapsed wall-clock time (not one frame per tick), so playback keeps its speed
when drawing is slow; it skips frames instead of slowing down. With a selection, playback loops inside it.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QWidget

from app.engine.document import Document

TICK_MS = 8  # polled faster than any display refresh; the frame only changes when time says so
READOUT_MS = 50  # the frame readout's refresh while playing (20 Hz), like the timeline's playhead


def timecode(frame: int, fps: float) -> str:
    """SMPTE-style HH:MM:SS:FF of `frame` at `fps` (the frame field counts whole frames of the rounded rate)."""
    rate = max(1, round(fps))
    seconds, frames = divmod(int(frame), rate)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}:{frames:02d}"


class Transport(QObject):
    playing_changed = Signal(bool)

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.fps = 20.0
        self.loop = True
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._t0 = 0.0
        self._frame0 = 0
        document.events.take_changed.connect(lambda take: self._on_take_changed(take))

    def _on_take_changed(self, take) -> None:
        if take is None:
            self.pause()
        else:
            self.fps = take.fps

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def _range(self) -> tuple[int, int]:
        doc = self.document
        return doc.selection if doc.selection is not None else (0, max(doc.n_frames - 1, 0))

    def play(self) -> None:
        if self.document.take is None or self.playing:
            return
        first, last = self._range()
        if not first <= self.document.current_frame < last:
            self.document.current_frame = first
        self._t0, self._frame0 = time.perf_counter(), self.document.current_frame
        self._timer.start()
        self.playing_changed.emit(True)

    def pause(self) -> None:
        if self.playing:
            self._timer.stop()
            self.playing_changed.emit(False)

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def set_fps(self, fps: float) -> None:
        self._t0, self._frame0 = time.perf_counter(), self.document.current_frame  # no jump when the speed changes
        self.fps = fps

    def step(self, delta: int) -> None:
        self.pause()
        self.document.current_frame += delta

    def go_to_start(self) -> None:
        self.pause()
        self.document.current_frame = self._range()[0]

    def go_to_end(self) -> None:
        self.pause()
        self.document.current_frame = self._range()[1]

    def _tick(self) -> None:
        first, last = self._range()
        frame = self._frame0 + int((time.perf_counter() - self._t0) * self.fps)
        if frame > last:
            if not self.loop:
                self.document.current_frame = last
                self.pause()
                return
            frame = first + (frame - first) % (last - first + 1)
        self.document.current_frame = frame


class TransportBar(QWidget):
    """Play button, loop toggle, playback fps, the go-to-frame field and the frame / timecode readout, above the
    timeline. Enter in the go-to-frame field jumps there and emits `done` (the window gives the keys back)."""

    done = Signal()

    def __init__(self, transport: Transport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.transport = transport
        self.play_button = QPushButton("▶ Play")
        self.play_button.setObjectName("playButton")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.clicked.connect(transport.toggle)
        self.loop_check = QCheckBox("Loop")
        self.loop_check.setObjectName("loopCheck")
        self.loop_check.setToolTip("Loop playback (L); with a selection, loops inside it")
        self.loop_check.setChecked(transport.loop)
        self.loop_check.toggled.connect(lambda on: setattr(transport, "loop", on))
        self.fps_spin = QDoubleSpinBox()
        self.fps_spin.setObjectName("fpsSpin")
        self.fps_spin.setRange(1.0, 240.0)
        self.fps_spin.setSuffix(" fps")
        self.fps_spin.setValue(transport.fps)
        self.fps_spin.setToolTip("Playback speed in frames per second")
        self.fps_spin.valueChanged.connect(transport.set_fps)
        self.go_to = QSpinBox()
        self.go_to.setObjectName("goToFrame")
        self.go_to.setPrefix("go to ")
        self.go_to.setToolTip("Go to frame (Ctrl+G): type a frame, Enter")
        self.go_to.setKeyboardTracking(False)
        self.go_to.lineEdit().returnPressed.connect(self._go_to)
        self.frame_label = QLabel()
        self.frame_label.setObjectName("frameLabel")
        self.frame_label.setToolTip("Frame / last frame, and timecode (hours:minutes:seconds:frames)")
        widest = "frame 00000 / 00000   00:00:00:00 / 00:00:00:00"  # a fixed width: no relayout as the text changes
        self.frame_label.setMinimumWidth(self.frame_label.fontMetrics().horizontalAdvance(widest) + 8)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for widget in (self.play_button, self.loop_check, self.fps_spin):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(self.go_to)
        layout.addWidget(self.frame_label)
        transport.playing_changed.connect(lambda on: self.play_button.setText("⏸ Pause" if on else "▶ Play"))
        self._readout = QTimer(self)
        self._readout.setInterval(READOUT_MS)
        self._readout.timeout.connect(self._show_frame)
        transport.playing_changed.connect(self._on_playing_changed)
        doc = transport.document
        doc.events.frame_changed.connect(lambda _: None if transport.playing else self._show_frame())
        doc.events.take_changed.connect(lambda _: (self.fps_spin.setValue(transport.fps), self._show_frame()))
        self._show_frame()

    def _on_playing_changed(self, playing: bool) -> None:
        if playing:
            self._readout.start()
        else:
            self._readout.stop()
            self._show_frame()

    def _go_to(self) -> None:
        self.go_to.interpretText()  # what was typed, before the spin box itself reacts to Enter
        self.transport.pause()
        self.transport.document.current_frame = self.go_to.value()
        self.done.emit()

    def focus_go_to(self) -> None:
        self.go_to.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.go_to.selectAll()

    def _show_frame(self) -> None:
        doc = self.transport.document
        last = max(doc.n_frames - 1, 0)
        if self.go_to.maximum() != last:
            self.go_to.setMaximum(last)
        if doc.take is None:
            self.frame_label.setText("no take")
            return
        fps = doc.take.fps
        self.frame_label.setText(f"frame {doc.current_frame} / {last}   {timecode(doc.current_frame, fps)} "
                                 f"/ {timecode(last, fps)}")
