"""Background jobs: the UI thread keeps ticking while a job runs, failures are messages, Cancel stops a job.

The dummy job stands in for model inference: element-wise numpy work in ~2 ms chunks with short sleeps, which
release the GIL as torch and numpy kernels do. (A pure-Python CPU loop would hold the GIL and stall any Qt UI;
multi-threaded BLAS would take every core of this 2-core machine from the UI thread: both are properties of the
job, not of the worker, so engine operations should leave a core to the UI.)
"""
from __future__ import annotations

import threading
import time

import numpy as np

from app.ui._qt.workers import Cancelled
from app.ui.main_window import MainWindow


def _busy_job(seconds: float):
    def job(cancel: threading.Event, progress) -> str:
        a = np.random.default_rng(0).normal(size=200_000)
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            if cancel.is_set():
                raise Cancelled
            a = np.tanh(np.sin(a) * 1.01)  # a few ms of single-threaded, GIL-free numpy work
            time.sleep(0.002)
            progress(int(100 * elapsed / seconds), "working")
        return "done"
    return job


def test_ui_thread_does_not_stall_while_a_job_runs(window: MainWindow, qtbot, stalls) -> None:
    results = []
    stalls.start()
    qtbot.wait(50)
    window.run_job("Dummy job", _busy_job(1.5), results.append)
    assert window.progress.isVisible() and window.cancel_button.isVisible()
    assert not window.prompt_panel.buttons["generateButton"].isEnabled()
    qtbot.waitUntil(lambda: results == ["done"], timeout=10_000)
    wall_ms, work_ms = stalls.stop()
    print(f"during a 1.5 s job: longest UI gap {wall_ms:.1f} ms wall clock, {work_ms:.1f} ms of UI-thread work")
    assert work_ms < 50
    assert wall_ms < 150  # the job on the UI thread would stall it for 1.5 s
    assert not window.progress.isVisible() and window.prompt_panel.buttons["generateButton"].isEnabled()


def test_a_failing_job_becomes_a_message(window: MainWindow, qtbot) -> None:
    def job(cancel, progress):
        raise ValueError("the model file is missing")

    window.run_job("Generate", job, lambda _: None)
    qtbot.waitUntil(lambda: window.worker is None, timeout=5000)
    assert "Generate failed" in window.statusBar().currentMessage()
    assert window.findChild(object, "errorBox").text() == "the model file is missing"


def test_cancel_stops_the_job(window: MainWindow, qtbot) -> None:
    results = []
    window.run_job("Long job", _busy_job(30), results.append)
    qtbot.wait(100)
    window.cancel_button.click()
    qtbot.waitUntil(lambda: window.worker is None, timeout=5000)
    assert results == [] and "cancelled" in window.statusBar().currentMessage()
