"""`kinema bench --ui`: how fast the studio's viewport plays a 200-frame take, in the real window; and
`kinema bench --startup`: how long a new studio process takes to show its window and to load its models.

The window plays at 60 fps for a few seconds and the viewport's redraws are counted, with the process's CPU
time per redraw (the headroom: under 16.7 ms, 60 fps holds) and the longest UI stall: the longest gap between two
ticks of a 5 ms timer on the UI thread (wall clock, what the user feels), and the most CPU the UI thread spent in
one such gap (what it blocked itself; on a busy machine the wall clock adds what the scheduler takes away). It needs a display; without
one it starts a virtual X server (Xvfb, through pyvirtualdisplay) when both are installed.
"""
from __future__ import annotations

import os
import time
from contextlib import ExitStack

import numpy as np

from app.engine.document import Take
from app.engine.skeleton import BANDAI_NAMCO_21, Skeleton

TARGET_FPS = 60.0


def walking_rest_pose(n_frames: int, skeleton: Skeleton = BANDAI_NAMCO_21, fps: float = 20.0) -> Take:
    """A take of the rest pose gliding forward at walking speed with a little bob: the viewport's cost per frame
    does not depend on the pose, and this needs no model."""
    rest = np.zeros((skeleton.n_joints, 3))
    for j, parent in enumerate(skeleton.parents):
        if parent >= 0:
            rest[j] = rest[parent] + skeleton.offsets[j]
    rest[:, 1] -= rest[:, 1].min()
    t = np.arange(n_frames) / fps
    shift = np.stack([np.zeros_like(t), 0.03 * np.sin(2 * np.pi * 2 * t), 1.3 * t], axis=-1)  # metres
    return Take((rest[None] + shift[:, None]).astype(np.float32), fps, skeleton)


def bench_startup(runs: int = 3) -> dict:
    """Seconds from launching `kinema` (a new process) to its window on screen and to its models loaded in the
    background, for `runs` starts: the first is the coldest this machine allows (files may still be cached)."""
    import json
    import subprocess
    import sys
    import tempfile

    from app.ui.app import STARTUP_PROBE

    with ExitStack() as stack:
        _display(stack)
        splash, shown, ready = [], [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "startup.json")
                env = {**os.environ, STARTUP_PROBE: out, "XDG_DATA_HOME": tmp}  # no user's recovery file
                start = time.time()
                subprocess.run([sys.executable, "-m", "app.cli"], env=env, check=True, timeout=300,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                times = json.loads(open(out).read())
            splash.append(times["splash_shown"] - start)
            shown.append(times["window_shown"] - start)
            ready.append(times["models_ready"] - start)
    return {"runs": runs, "splash_first_s": splash[0], "splash_median_s": float(np.median(splash)), "window_first_s": shown[0], "window_median_s": float(np.median(shown)),
            "models_first_s": ready[0], "models_median_s": float(np.median(ready))}


def _display(stack: ExitStack) -> bool:
    """True when a virtual display had to be started (it stops when `stack` closes)."""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return False
    try:
        from pyvirtualdisplay import Display
    except ImportError:
        raise RuntimeError("the studio needs a display: run under X (or `xvfb-run -a kinema bench --ui`)") from None
    stack.enter_context(Display(visible=False, size=(1600, 1000), color_depth=24))
    return True


def bench_playback(n_frames: int = 200, seconds: float = 3.0, size: tuple[int, int] = (1400, 860),
                   display: str = "Skeleton") -> dict:
    """Play a `n_frames` take at 60 fps for `seconds` in a studio window of `size`, drawing the skeleton, the body or
    both (`display`); the viewport's redraw rate."""
    with ExitStack() as stack:
        own_display = _display(stack)
        from PySide6.QtCore import QEventLoop, Qt, QTimer
        from PySide6.QtWidgets import QApplication

        from app.ui._qt.offscreen_canvas import OffscreenCanvasWidget
        from app.ui.app import create_window

        app = QApplication.instance() or QApplication(["kinema"])

        def wait(ms: int) -> None:  # an event loop, not processEvents() in a loop (see app.ui._qt.compat)
            loop = QEventLoop()
            QTimer.singleShot(ms, loop.quit)
            loop.exec()

        window = create_window()
        window.resize(*size)
        window.load_take(walking_rest_pose(n_frames))
        window.viewport.display.setCurrentText(display)
        window.show()
        wait(500)
        window.transport.set_fps(TARGET_FPS)
        window.viewport.draw_times.clear()
        ticks: list[tuple[float, float]] = []
        ticker = QTimer()
        ticker.setTimerType(Qt.TimerType.PreciseTimer)
        ticker.setInterval(5)
        ticker.timeout.connect(lambda: ticks.append((time.perf_counter(), time.thread_time())))
        cpu = time.process_time()
        window.transport.play()
        ticker.start()
        wait(int(seconds * 1000))
        ticker.stop()
        fps = window.viewport.frame_rate(seconds)
        cpu_ms = 1000 * (time.process_time() - cpu) / max(1, len(window.viewport.draw_times))
        window.transport.pause()
        wall_ms, work_ms = (1000 * np.diff(np.array(ticks), axis=0)).max(axis=0) if len(ticks) > 1 else (0.0, 0.0)
        kind = "offscreen (EGL)" if isinstance(window.viewport.surface, OffscreenCanvasWidget) else "QOpenGLWidget"
        window.projects.ask_unsaved = lambda: "discard"
        window.close()
        window.deleteLater()
        wait(50)
        if own_display:  # Qt lets go of our X server before it stops
            app.shutdown()
        return {"frames": n_frames, "window": f"{size[0]}x{size[1]}", "target_fps": TARGET_FPS, "fps": fps,
                "viewport": kind, "cpu_ms_per_frame": cpu_ms, "display": display, "stall_ms": float(wall_ms),
                "stall_work_ms": float(work_ms)}
