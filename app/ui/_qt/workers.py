"""Running slow work (generation, file import) off the UI thread, with progress and cooperative cancellation.

The job is any callable `job(cancel: threading.Event, progress: Callable[[int, str], None]) -> result`. It should
check `cancel.is_set()` between steps and return early. Signals cross back to the UI thread through Qt's queued
connections. The UI only stays fluid if the job releases the GIL (torch and numpy kernels do; a pure-Python
loop does not), which is why engine operations run their heavy parts in torch.
"""
from __future__ import annotations

import threading
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, Signal

Job = Callable[[threading.Event, Callable[[int, str], None]], object]


class Cancelled(Exception):
    """Raised by a job that noticed `cancel` was set; reported as a cancellation, not as an error. `partial` is
    what the job finished before it stopped (reported through `partial` first), when worth keeping."""

    def __init__(self, partial: object = None) -> None:
        super().__init__()
        self.partial = partial


class WorkerSignals(QObject):
    progress = Signal(int, str)  # percent, what is happening
    finished = Signal(object)  # the job's result
    partial = Signal(object)  # what a cancelled job had finished (only when it kept something)
    failed = Signal(str)  # a one-line message for the user; unexpected errors' tracebacks go to stderr too
    cancelled = Signal()


class Worker(QRunnable):
    def __init__(self, job: Job) -> None:
        super().__init__()
        self.job = job
        self.signals = WorkerSignals()
        self.cancel_event = threading.Event()
        self.setAutoDelete(False)  # the Python side keeps it (and its signals) alive until it reports
        self._last_progress: tuple[int, str] | None = None

    def _report(self, percent: int, text: str) -> None:
        """Forward progress only when it changes: a flood of queued signals would stall the UI thread."""
        if (percent, text) != self._last_progress:
            self._last_progress = (percent, text)
            self.signals.progress.emit(percent, text)

    def cancel(self) -> None:
        self.cancel_event.set()

    def run(self) -> None:
        try:
            result = self.job(self.cancel_event, self._report)
        except Cancelled as exc:
            if exc.partial is not None:
                self.signals.partial.emit(exc.partial)
            self.signals.cancelled.emit()
        except (ValueError, OSError) as exc:  # refused input, a missing model or file: the message says it all
            self.signals.failed.emit(str(exc) or type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - any failure becomes a message, never a crash of the UI
            traceback.print_exc()  # unexpected: the developers need the traceback, on stderr
            self.signals.failed.emit(f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))
        else:
            if self.cancel_event.is_set():
                self.signals.cancelled.emit()
            else:
                self.signals.finished.emit(result)

