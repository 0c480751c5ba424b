"""`python -m app.ui.screenshot docs/screenshot.png`: the studio after a short real session, as a PNG.
`python -m app.ui.screenshot --set docs/screenshots`: the set that shows the studio's first screen, variations
with their previews, locked keys with their tinted, labelled ghosts, the facing cues (see `shoot_set`), and a take
steered by a path and a pin (`shoot_constraints`, alone with `--constraints docs/screenshots/constraints.png`).

It drives the window as an animator would (the shipped checkpoints do the work): three prompt segments built
into a long take, three keys locked and the frames between them in-betweened, the upper body edited in a
selection (without an upper-body editor in the checkpoints, the selection is shown ready for it), the playhead
inside it. Run it under a display (`xvfb-run -a -s "-screen 0 1600x1000x24"` when headless).
"""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from app.engine.document import AddSegment, Segment, SetScope, SetSelection, ToggleLock
from app.engine.models.pipeline import ModelNotTrained
from app.ui._qt.prompt_panel import EXAMPLE_PROMPT
from app.ui.app import create_window
from app.ui.main_window import MainWindow

SEGMENTS = (("a person walks forward", 0, 60), ("a person waves with the right hand", 60, 50),
            ("a person turns around and walks back", 110, 50))


def _wait(ms: int) -> None:
    """Let the event loop run (an event loop, not processEvents() in a loop: see app.ui._qt.compat)."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _finish(window: MainWindow) -> None:
    while window.worker is not None:
        _wait(20)


def run_session(window: MainWindow) -> None:
    doc, panel = window.document, window.prompt_panel
    for text, start, length in SEGMENTS:
        doc.execute(AddSegment(Segment(text, start, length)))
    panel.buttons["longTakeButton"].click()
    _finish(window)
    for frame in (20, 75, 140):
        doc.execute(ToggleLock(frame))
    panel.prompt.setPlainText("a person walks forward")
    panel.buttons["inbetweenButton"].click()
    _finish(window)
    doc.execute(SetSelection((90, 130)))
    doc.execute(SetScope("upper"))
    panel.prompt.setPlainText("a person waves with both hands")
    try:
        window.edit_actions.upper_editor()
    except ModelNotTrained:
        pass  # the picture then shows the selection ready for the edit
    else:
        panel.buttons["editUpperButton"].click()
        _finish(window)
    doc.current_frame = 112


def _save(widget, path: Path) -> bool:
    ok = widget.grab().save(str(path))
    print(f"{path}: {'written' if ok else 'FAILED'}")
    return ok


def shoot_set(folder: Path) -> bool:
    """Four pictures of a 1280 x 720 window, each made the way an animator gets there (the shipped models run)."""
    folder.mkdir(parents=True, exist_ok=True)
    window = create_window()
    window.projects.ask_unsaved = lambda: "discard"
    window.resize(1280, 720)
    window.show()
    window.edit_actions.warm_up()
    window.models_label.setVisible(window.edit_actions.warming)
    _wait(600)
    window.document.current_frame = 30
    _wait(200)
    ok = _save(window, folder / "start.png")  # the example take and the suggested prompts, models still loading
    while window.edit_actions.warming:
        _wait(50)
    doc, panel = window.document, window.prompt_panel
    for frame in (12, 56):
        doc.execute(ToggleLock(frame))
    doc.current_frame = 34
    window.viewport.reset_view()
    window.viewport.view.camera.distance = 4.6  # room for both ghosts and their labels
    _wait(400)
    ok &= _save(window, folder / "key-ghosts.png")  # two keys: ghosts in their tints, labelled, diamonds to match
    for frame in (12, 56):
        doc.execute(ToggleLock(frame))  # unlocked again: the next pictures are about other things
    window.viewport.view.camera.azimuth = 60.0
    window.viewport.frame_character()  # F: the head, nose, chest plate and foot arrows up close
    _wait(300)
    ok &= _save(window.viewport, folder / "facing-cue.png")
    window.viewport.reset_view()
    panel.prompt.setPlainText(EXAMPLE_PROMPT)
    panel.length.setValue(100)
    panel.count.setValue(4)
    panel.buttons["variationsButton"].click()
    _finish(window)
    _wait(700)  # the previews play: a moment into their loop
    ok &= _save(window, folder / "variations.png")
    window.close()
    return ok & shoot_constraints(folder / "constraints.png")


def shoot_constraints(path: Path) -> bool:
    """The example take steered: two waypoints placed beside its path (tied to frames 25 and 60), its right hand
    pinned at frame 45, a walk of the same length generated through them; seen from above, the pin selected on the
    timeline."""
    window = create_window()
    window.projects.ask_unsaved = lambda: "discard"
    window.resize(1280, 720)
    window.show()
    doc, tools = window.document, window.constraint_tools
    root = doc.take.positions[:, 0, [0, 2]]
    tools.path_mode.setChecked(True)
    for frame in (25, 60):
        doc.current_frame = frame
        tools.place_waypoint(*(root[frame] + [0.4, 0.0]))  # as a click there on the ground does
    doc.current_frame = 45
    tools.pin_effector("Hand_R")
    panel = window.prompt_panel
    panel.prompt.setPlainText("a person walks forward")
    panel.length.setValue(doc.n_frames)
    panel.buttons["generateButton"].click()
    _finish(window)
    window.timeline.select_item("pin", 0)
    doc.current_frame = 45
    viewport = window.viewport
    viewport.follow.setChecked(False)
    camera = viewport.view.camera
    camera.azimuth, camera.elevation, camera.distance = 25.0, 35.0, 3.6
    camera.center = (float(root[45, 0]) + 0.2, 0.6, float(root[45, 1]))
    _wait(500)
    ok = _save(window, path)
    window.close()
    return ok


def main(argv: list[str]) -> int:
    if argv[:1] == ["--set"]:
        app = QApplication.instance() or QApplication(["kinema"])
        return 0 if shoot_set(Path(argv[1] if len(argv) > 1 else "docs/screenshots")) else 1
    if argv[:1] == ["--constraints"]:
        app = QApplication.instance() or QApplication(["kinema"])
        return 0 if shoot_constraints(Path(argv[1] if len(argv) > 1 else "docs/screenshots/constraints.png")) else 1
    out = Path(argv[0] if argv else "docs/screenshot.png")
    app = QApplication.instance() or QApplication(["kinema"])
    window = create_window()
    window.projects.ask_unsaved = lambda: "discard"
    window.show()
    _wait(300)
    run_session(window)
    _wait(500)
    window.viewport.canvas.render()  # make sure the GL canvas has drawn the last frame before the grab
    _wait(200)
    out.parent.mkdir(parents=True, exist_ok=True)
    ok = window.grab().save(str(out))
    print(f"{out}: {'written' if ok else 'FAILED'}; status: {window.statusBar().currentMessage()!r}")
    window.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
