import numpy as np
from PySide6.QtCore import Qt, QPoint, QObject, QEvent
from app.engine.skeleton import BANDAI_NAMCO_21 as S

class Spy(QObject):
    def eventFilter(self, w, e):
        if e.type() in (QEvent.Type.MouseMove, QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease):
            print("EV", e.type().name, e.position().toTuple(), e.buttons(), e.spontaneous())
        return False

def test_dbg(window, qtbot, walk_positions):
    doc, tool = window.document, window.posing
    window.timeline.playhead.setValue(60)
    H = S.index("Hand_R")
    start = tool.screen_position(H)
    surface = window.viewport.surface
    spy = Spy(); surface.installEventFilter(spy)
    qtbot.mousePress(surface, Qt.MouseButton.LeftButton, pos=QPoint(round(start[0]), round(start[1])))
    for i in range(1, 6):
        xy = (start[0] - 12 * i, start[1] - 30 * i)
        print("move", xy)
        qtbot.mouseMove(surface, QPoint(round(xy[0]), round(xy[1])))
    print("y", doc.take.positions[60, H, 1])
    qtbot.mouseRelease(surface, Qt.MouseButton.LeftButton, pos=QPoint(round(xy[0]), round(xy[1])))
    print("y", doc.take.positions[60, H, 1], walk_positions[60, H, 1])
