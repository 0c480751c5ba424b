"""`python -m app.ui.screenshot out.png`: the studio with a sample take, segments, locks and a selection, as a PNG.

Used for the docs and to eyeball the layout; run it under a display (xvfb-run -a on a headless machine).
"""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from app.engine.document import AddSegment, Segment, SetScope, SetSelection, ToggleLock
from app.ui.app import create_window
from app.engine.document.files import read_take

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared/data/bandai-namco/sample/dataset-2_walk_normal_001.bvh"


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "docs/screenshot-foundation.png")
    app = QApplication.instance() or QApplication(["kinema"])
    window = create_window()
    window.load_take(read_take(SAMPLE), "Import sample")
    doc = window.document
    for command in (AddSegment(Segment("a person walks forward", 0, 90)), AddSegment(Segment("waves with the right hand", 90, 60)),
                    ToggleLock(0), ToggleLock(60), ToggleLock(140), SetSelection((70, 130)), SetScope("upper")):
        doc.execute(command)
    doc.current_frame = 100
    window.show()
    for _ in range(20):
        app.processEvents()
    window.viewport.canvas.render()  # make sure the GL canvas has drawn once before the grab
    app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    ok = window.grab().save(str(out))
    print(f"{out}: {'written' if ok else 'FAILED'}")
    window.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
