"""Posing a frame by hand as one undoable step: the new pose replaces the frame and becomes a locked key, so the
next In-between fills around it. A drag sends one `PoseFrame` per mouse move; those of one drag merge into one
undo step (the history's gesture ends when the drag does: `History.seal`)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from app.engine.document.model import Command, Document, DocumentError, Take
from app.engine.document.takes import features_for


class PoseFrame(Command):
    """Put `pose` (J, 3) at `frame` and lock the frame with it. The take's features are recomputed from its
    positions (a pose changes the steps into and out of its frame, and the heading around it), so the editing
    operations see the posed frame; a take without features stays without."""

    def __init__(self, frame: int, pose: np.ndarray, label: str = "Pose") -> None:
        self.frame = int(frame)
        self.pose = np.asarray(pose, dtype=np.float32)
        self.label = f"{label} at frame {self.frame}"
        self._before: tuple[Take, np.ndarray | None] | None = None

    def do(self, doc: Document) -> None:
        doc.check_frame(self.frame)
        take = doc.take
        if self.pose.shape != take.positions.shape[1:]:
            raise DocumentError(f"a pose of shape {self.pose.shape} does not fit the take's {take.positions.shape[1:]}")
        if not np.isfinite(self.pose).all():
            raise DocumentError("the pose has joints at no finite position; it was not applied")
        self._before = (take, doc._locked.get(self.frame))
        positions = take.positions.copy()
        positions[self.frame] = self.pose
        features = None if take.features is None else features_for(positions, take.skeleton)
        doc.take = replace(take, positions=positions, features=features)
        doc._locked[self.frame] = self.pose.copy()
        doc.events.take_changed.emit(doc.take)
        doc.events.locks_changed.emit(doc.locked_frames)

    def undo(self, doc: Document) -> None:
        assert self._before is not None
        take, key = self._before
        doc.take = take
        if key is None:
            doc._locked.pop(self.frame, None)
        else:
            doc._locked[self.frame] = key
        doc.events.take_changed.emit(doc.take)
        doc.events.locks_changed.emit(doc.locked_frames)

    def merge_with(self, later: Command) -> bool:
        """The moves of one drag on one frame are one step: it undoes to the pose before the drag."""
        if not (isinstance(later, PoseFrame) and later.frame == self.frame and later.label == self.label):
            return False
        self.pose = later.pose
        return True
