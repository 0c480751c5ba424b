"""Work-arounds for bugs in the Qt binding that would take the studio down.

PySide6 6.12's stable-ABI build drops one reference to `None` each time a Qt method that returns nothing is called
(`QWidget.update`, `QLabel.setText`, `QTimer.start`, `processEvents`...). From Python 3.12 on `None` is immortal and
this is harmless; on 3.11 `None`'s count (about 70 000 in the studio) runs out after a few minutes of playback
(measured: ~350 references a second at 20 fps) and the interpreter aborts with "none_dealloc: deallocating None".
Giving `None` a count that no session can exhaust is what 3.12 does by design.
"""
from __future__ import annotations

import ctypes
import sys

SPARE_REFERENCES = 1 << 40  # ~10^12: centuries of calls at any rate the UI makes them


def keep_none_alive() -> None:
    """Once per process, before Qt is used (idempotent)."""
    if sys.version_info < (3, 12) and sys.getrefcount(None) < SPARE_REFERENCES:
        ctypes.c_ssize_t.from_address(id(None)).value += SPARE_REFERENCES  # ob_refcnt, PyObject's first field
