"""A studio session for test_crash_recovery, run in its own process: it loads a take, autosaves every
AUTOSAVE_S, makes one edit (keys, segments, a frame replacement) every EDIT_S and prints the state after each edit
as a JSON line, until the test kills it with SIGKILL."""
import json
import sys
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.engine.data.bandai_namco import take_positions
from app.engine.document import Segment, take_from_positions
from app.engine.document.commands import AddSegment, ReplaceFrames, ToggleLock
from app.engine.skeleton import BANDAI_NAMCO_21
from app.ui.app import default_checkpoints
from app.ui.main_window import MainWindow

AUTOSAVE_S, EDIT_S = 0.3, 0.1


def state(window: MainWindow) -> dict:
    doc = window.document
    return {"frames": doc.take.n_frames, "locked": list(doc.locked_frames),
            "segments": [[s.text, s.start, s.length] for s in doc.segments],
            "root_x_10": float(doc.take.positions[10, 0, 0])}


def main() -> None:
    app = QApplication(["kinema"])
    walk = Path(sys.argv[1])
    window = MainWindow(default_checkpoints(), autosave_s=AUTOSAVE_S)
    window.load_take(take_from_positions(take_positions(walk.read_text(), source=walk.name), 20.0, BANDAI_NAMCO_21))
    window.show()
    step = iter(range(10_000))

    def edit() -> None:
        i = next(step)
        doc = window.document
        if i % 3 == 0:
            doc.execute(ToggleLock((7 * i) % doc.take.n_frames))
        elif i % 3 == 1:
            doc.execute(AddSegment(Segment(f"prompt {i}", (11 * i) % 150, 20)))
        else:
            moved = doc.take.positions[10:11] + np.array([0.01, 0.0, 0.0], np.float32)
            doc.execute(ReplaceFrames(10, moved))
        print(json.dumps({"t": time.time(), "state": state(window)}), flush=True)

    timer = QTimer()
    timer.timeout.connect(edit)
    timer.start(int(EDIT_S * 1000))
    app.exec()


if __name__ == "__main__":
    main()
