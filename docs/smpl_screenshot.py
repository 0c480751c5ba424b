"""`xvfb-run -a -s "-screen 0 1600x1000x24" python docs/smpl_screenshot.py docs/screenshots/smpl.png`: the
studio with an SMPL body in the viewport. The real SMPL files are licensed and never shipped, so the body is a
synthetic model in SMPL's format (capsules on SMPL's 24 joints, `tests/synthetic_smpl.py`), set through the same
preference a user sets; the example take drives it."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from synthetic_smpl import write_capsule_smpl  # noqa: E402

from app.ui.app import create_window  # noqa: E402
from app.ui.screenshot import _wait  # noqa: E402


def main(out: str) -> None:
    app = QApplication.instance() or QApplication(["kinema"])
    window = create_window()
    window.resize(1400, 860)
    window.show()
    with tempfile.TemporaryDirectory() as folder:
        write_capsule_smpl(Path(folder) / "SMPL_NEUTRAL.npz")
        window.set_smpl_location(folder)
        window.viewport.display.setCurrentText("Body")
        window.document.current_frame = 30
        _wait(500)
        window.grab().save(out)
        window.set_smpl_location("")  # the preference was this script's, not the user's
    window.projects.ask_unsaved = lambda: "discard"
    window.close()
    app.quit()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots/smpl.png")
