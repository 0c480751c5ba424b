"""Starting the studio: `run_studio(argv)` makes the QApplication and the window, with a take if a path is given."""
from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from app.ui._qt.prompt_panel import EXAMPLE_PROMPT
from app.ui.main_window import MainWindow


def create_window(take_path: str | None = None) -> MainWindow:
    window = MainWindow()
    window.prompt_panel.prompt.setPlainText(EXAMPLE_PROMPT)
    if take_path:
        window.import_take(take_path)
    return window


def run_studio(argv: list[str] | None = None) -> int:
    """`argv` are the arguments after the program name, as for `app.cli.main`: an optional take to open."""
    argv = list(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(["kinema", *argv])
    app.setApplicationName("Kinema")
    window = create_window(argv[0] if argv else None)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(run_studio())
