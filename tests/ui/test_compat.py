"""The guard against PySide6 6.12 dropping a reference to None on every void call (see app.ui._qt.compat)."""
from __future__ import annotations

import sys

from PySide6.QtWidgets import QLabel

from app.ui._qt.compat import SPARE_REFERENCES


def test_none_survives_many_more_void_qt_calls_than_it_has_references(qtbot) -> None:
    label = QLabel()
    qtbot.addWidget(label)
    for _ in range(200_000):  # without the guard, ~70 000 such calls abort the interpreter on Python 3.11
        label.setText("x")
    if sys.version_info < (3, 12):
        assert sys.getrefcount(None) > SPARE_REFERENCES // 2
