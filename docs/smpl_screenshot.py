"""`xvfb-run -a -s "-screen 0 1600x1000x24" python docs/smpl_screenshot.py docs/screenshots/smpl.png`: the
studio with an SMPL body in the viewport. The real SMPL files are licensed and never shipped, so the body is a
synthetic model in SMPL's format (capsules on SMPL's 24 joints, `tests/synthetic_smpl.py`), set through the same
preference a user sets; the example take drives it."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from synthetic_smpl import write_capsule_smpl  # noqa: E402

from app.ui.app import create_window  # noqa: E402
from app.ui.main_window import SMPL_KEY  # noqa: E402
from app.ui.screenshot import _wait  # noqa: E402


def main(out: str) -> None:
    app = QApplication.instance() or QApplication(["kinema"])
    window = create_window()
    window.resize(1400, 860)
    window.show()
    users = QSettings("Kinema", "Kinema").value(SMPL_KEY, "")
    with tempfile.TemporaryDirectory() as folder:
        write_capsule_smpl(Path(folder) / "SMPL_NEUTRAL.npz")
        window.set_smpl_location(folder)
        window.viewport.display.setCurrentText("Body")
        window.document.current_frame = 30
        _wait(500)
        window.grab().save(out)
    QSettings("Kinema", "Kinema").setValue(SMPL_KEY, users)  # the user's own preference, as it was
    window.projects.ask_unsaved = lambda: "discard"
    window.close()
    app.quit()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots/smpl.png")
