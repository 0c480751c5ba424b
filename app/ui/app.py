"""Starting the studio: `run_studio(argv)` makes the QApplication and the window, with a take if a path is given.

The window starts with an example take on screen (a walk that turns left, from the Bandai Namco Research Motion
Dataset 2, CC BY-NC 4.0: `dataset-2_walk-turn-left_normal_001`, resampled to 20 fps and stored as joint positions
in `assets/example_take.npy`) and the example prompt typed in, offers to restore work that a crash left behind,
and loads the shipped models in the background while the window is already usable. A splash screen shows while the
window's own imports (PyTorch above all: seconds on a cold laptop) load, so nothing looks dead after a
double-click; this module imports them only when a window is made.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication

if TYPE_CHECKING:
    from app.engine.document import Take
    from app.ui.main_window import MainWindow

ICON = Path(__file__).resolve().parent / "assets" / "kinema.png"  # packaged with app.ui, as the example take
EXAMPLE_TAKE = Path(__file__).parent / "assets" / "example_take.npy"


def default_checkpoints() -> Path:
    """$KINEMA_CHECKPOINTS, else the checkpoints shipped with Kinema (as the CLI's operations use), wherever the
    studio is started from."""
    from app.engine.models.checkpoint import SHIPPED

    return Path(os.environ["KINEMA_CHECKPOINTS"]) if os.environ.get("KINEMA_CHECKPOINTS") else SHIPPED


def example_take() -> Take:
    """The first screen's take: something to play, scrub, lock and edit before anything is generated."""
    import numpy as np

    from app.engine.document import take_from_positions
    from app.engine.skeleton import BANDAI_NAMCO_21

    return take_from_positions(np.load(EXAMPLE_TAKE, allow_pickle=False), 20.0, BANDAI_NAMCO_21)


def has_display() -> bool:
    """Whether Qt can open a window here (without one it aborts the process rather than raising)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def create_window(checkpoints: Path | None = None) -> MainWindow:
    import torch

    from app.ui._qt.prompt_panel import EXAMPLE_PROMPT
    from app.ui.main_window import MainWindow

    # One core stays with the UI thread: with every core busy in torch, painting the window stalls (measured on
    # 2 cores: generation is no slower with 1 thread, and the longest UI stall drops from ~65 to ~45 ms).
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    window = MainWindow(checkpoints or default_checkpoints())
    window.prompt_panel.prompt.setPlainText(EXAMPLE_PROMPT)
    window.projects.start_with(example_take())
    window.show_message("An example take: play it (Space), lock keys (K), or type a prompt and press Ctrl+Enter", 0)
    return window


def run_studio(argv: list[str] | None = None) -> int:
    """`argv` are the arguments after the program name, as for `app.cli.main`: an optional project or take."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not has_display():
        print("kinema: the studio needs a display; on a headless machine run `xvfb-run -a kinema`. "
              "`kinema --help` lists the commands that need none.", file=sys.stderr)
        return 2
    app = QApplication.instance() or QApplication(["kinema", *argv])
    app.setApplicationName("Kinema")
    splash = _splash()
    splash_at = time.time()
    window = create_window()
    window.show()
    splash.finish(window)
    if not window.projects.offer_recovery() and argv:
        window.projects.open(argv[0]) if argv[0].endswith(".kinema") else window.import_take(argv[0])
    window.edit_actions.warm_up()
    window.models_label.setVisible(window.edit_actions.warming)
    if os.environ.get(STARTUP_PROBE):
        _report_startup(app, window, Path(os.environ[STARTUP_PROBE]), splash_at)
    return app.exec()


def _splash():
    """The icon and a line of text, painted before the heavy imports start."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QIcon, QPixmap
    from PySide6.QtWidgets import QSplashScreen

    QGuiApplication.setWindowIcon(QIcon(str(ICON)))
    splash = QSplashScreen(QPixmap(str(ICON)))
    splash.showMessage("Starting Kinema…", Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignHCenter, Qt.GlobalColor.white)
    splash.show()
    QApplication.processEvents()  # paint it now: the imports that follow block the event loop for seconds
    return splash


STARTUP_PROBE = "KINEMA_STARTUP_PROBE"  # `kinema bench --startup` sets it to a file for the timestamps below
STARTUP_GENERATE = "KINEMA_STARTUP_GENERATE"  # set too: press Generate once the models are in, report the take


def _report_startup(app: QApplication, window: MainWindow, out: Path, splash_at: float) -> None:
    """Write when the splash and the window first painted and when the background model load finished
    (wall-clock seconds), then quit: the measurement `kinema bench --startup` makes of a real start. With
    STARTUP_GENERATE set, first press Generate as a user would and add the new take's frame count (the frozen
    application's smoke test)."""
    import json

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QPushButton

    times: dict[str, float] = {"splash_shown": splash_at}
    before: list = []

    def poll() -> None:
        times.setdefault("window_shown", time.time())  # the first timer tick runs after the first paint
        if window.worker is not None or window.edit_actions.warming:
            QTimer.singleShot(10, poll)
            return
        times.setdefault("models_ready", time.time())
        if os.environ.get(STARTUP_GENERATE) and "generated_frames" not in times:
            if "generate_pressed" in times:
                take = window.document.take
                times["generated_frames"] = take.n_frames if take is not None and take is not before[0] else 0
            else:
                before.append(window.document.take)  # the take a Generate must replace
                times["generate_pressed"] = time.time()
                window.findChild(QPushButton, "generateButton").click()
                QTimer.singleShot(10, poll)
                return
        out.write_text(json.dumps(times))
        window.projects.ask_unsaved = lambda: "discard"  # a measurement: no "save your changes?" on the way out
        app.quit()

    QTimer.singleShot(0, poll)


if __name__ == "__main__":
    sys.exit(run_studio())
