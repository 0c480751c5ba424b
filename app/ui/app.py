"""Starting the studio: `run_studio(argv)` makes the QApplication and the window, with a take if a path is given.

The window starts with an example take on screen (a walk that turns left, from the Bandai Namco Research Motion
Dataset 2, CC BY-NC 4.0: `dataset-2_walk-turn-left_normal_001`, resampled to 20 fps and stored as joint positions
in `assets/example_take.npy`) and the example prompt typed in, offers to restore work that a crash left behind,
and loads the shipped models in the background while the window is already usable.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch
from PySide6.QtWidgets import QApplication

from app.engine.document import Take, take_from_positions
from app.engine.models.checkpoint import SHIPPED
from app.engine.skeleton import BANDAI_NAMCO_21
from app.ui._qt.prompt_panel import EXAMPLE_PROMPT
from app.ui.main_window import MainWindow


def default_checkpoints() -> Path:
    """$KINEMA_CHECKPOINTS, else the checkpoints shipped with Kinema (as the CLI's operations use), wherever the
    studio is started from."""
    return Path(os.environ["KINEMA_CHECKPOINTS"]) if os.environ.get("KINEMA_CHECKPOINTS") else SHIPPED


EXAMPLE_TAKE = Path(__file__).parent / "assets" / "example_take.npy"


def example_take() -> Take:
    """The first screen's take: something to play, scrub, lock and edit before anything is generated."""
    return take_from_positions(np.load(EXAMPLE_TAKE, allow_pickle=False), 20.0, BANDAI_NAMCO_21)


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
    window = create_window()
    window.show()
    if not window.projects.offer_recovery() and argv:
        window.projects.open(argv[0]) if argv[0].endswith(".kinema") else window.import_take(argv[0])
    window.edit_actions.warm_up()
    window.models_label.setVisible(window.edit_actions.warming)
    return app.exec()


if __name__ == "__main__":
    sys.exit(run_studio())
