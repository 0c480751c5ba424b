"""The studio (PySide6, vispy, pyqtgraph). Importing it guards against a Qt-binding bug first (see `_qt.compat`)."""
from app.ui._qt.compat import keep_none_alive

keep_none_alive()
