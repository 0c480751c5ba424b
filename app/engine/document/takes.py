"""Between the document's `Take` (what the studio shows: positions, plus features when known) and the engine's
`Motion` (what the operations read and return: features)."""
from __future__ import annotations

import numpy as np

from app.engine.document.model import Take
from app.engine.features import features_from_positions
from app.engine.motion import Motion
from app.engine.skeleton import Skeleton, skeleton_by_name


def features_for(positions: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """(T, D) features for canonical positions (T, J, 3). Features describe the steps between frames (T-1 of
    them), so one frame is extrapolated past the end (the last step repeated): every frame the user brought in
    is described exactly, pose included, and the editing operations get one feature row per frame."""
    if len(positions) < 2:
        raise ValueError("a take needs at least 2 frames to be edited")
    p = np.asarray(positions, np.float64)
    extended = np.concatenate([p, 2 * p[-1:] - p[-2:-1]], axis=0)  # (T + 1, J, 3)
    return np.asarray(features_from_positions(extended, skeleton), np.float32)


def take_from_positions(positions: np.ndarray, fps: float, skeleton: Skeleton) -> Take:
    """A take for imported positions, with the features the edit operations need."""
    positions = np.asarray(positions, np.float32)
    return Take(positions, float(fps), skeleton, features_for(positions, skeleton))


def take_from_motion(motion: Motion) -> Take:
    """An operation's result as a take: the positions the viewport shows are recovered from its features."""
    features = np.asarray(motion.features, np.float32)
    return Take(np.asarray(motion.positions, np.float32), float(motion.fps), skeleton_by_name(motion.skeleton_name), features)


def motion_from_take(take: Take) -> Motion:
    """The take as an operation's input (features are computed when the take has none)."""
    features = take.features if take.features is not None else features_for(take.positions, take.skeleton)
    return Motion(features, take.fps, take.skeleton.name)
