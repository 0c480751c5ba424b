"""Starting the studio: `run_studio(argv)` makes the QApplication and the window, with a take if a path is given.

The window starts with the example prompt typed in, offers to restore work that a crash left behind, and loads
the shipped models in the background so that the first Generate is quick.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from PySide6.QtWidgets import QApplication

from app.engine.models.checkpoint import SHIPPED
from app.ui._qt.prompt_panel import EXAMPLE_PROMPT
from app.ui.main_window import MainWindow


def default_checkpoints() -> Path:
    """$KINEMA_CHECKPOINTS, else the checkpoints shipped with Kinema (as the CLI's operations use), wherever the
    studio is started from."""
    return Path(os.environ["KINEMA_CHECKPOINTS"]) if os.environ.get("KINEMA_CHECKPOINTS") else SHIPPED


def has_display() -> bool:
    """Whether Qt can open a window here (without one it aborts the process rather than raising)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def create_window(checkpoints: Path | None = None) -> MainWindow:
    # One core stays with the UI thread: with every core busy in torch, painting the window stalls (measured on
    # 2 cores: generation is no slower with 1 thread, and the longest UI stall drops from ~65 to ~45 ms).
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    window = MainWindow(checkpoints or default_checkpoints())
    window.prompt_panel.prompt.setPlainText(EXAMPLE_PROMPT)
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
    window = create_window()
    window.show()
    if not window.projects.offer_recovery() and argv:
        window.projects.open(argv[0]) if argv[0].endswith(".kinema") else window.import_take(argv[0])
    if window.worker is None:
        window.edit_actions.warm_up()
    return app.exec()


if __name__ == "__main__":
    sys.exit(run_studio())
