"""Which feature dims belong to the upper and the lower body, for MMM's part-wise tokenizers (upper-body edits).

The lower body owns the root (angular/linear velocity, height), its joints' positions, rotations and velocities,
the root joint's velocity and the foot contacts; the upper body owns the rest. The two sets partition the features.
"""
from __future__ import annotations

import numpy as np

from app.engine.features import FeatureLayout
from app.engine.skeleton import Skeleton

PARTS = ("upper", "lower")


def body_part_dims(n_joints: int, skeleton: Skeleton, part: str) -> np.ndarray:
    """Sorted feature indices (int64) of `part` ("upper" or "lower") for features of `n_joints` joints."""
    if part not in PARTS:
        raise ValueError(f"unknown body part {part!r}; expected one of {PARTS}")
    if n_joints != skeleton.n_joints:
        raise ValueError(f"{n_joints} joints but skeleton {skeleton.name} has {skeleton.n_joints}")
    layout = FeatureLayout(n_joints)
    upper = set(skeleton.upper_body) - {0}  # the root joint always goes with the lower body (it carries the root)
    joints = sorted(upper if part == "upper" else set(range(n_joints)) - upper)
    dims: list[int] = list(range(layout.root.start, layout.root.stop)) if part == "lower" else []
    for j in joints:
        if j > 0:  # ric and rot have no entry for the root joint
            dims += range(layout.ric.start + 3 * (j - 1), layout.ric.start + 3 * j)
            dims += range(layout.rot.start + 6 * (j - 1), layout.rot.start + 6 * j)
        dims += range(layout.vel.start + 3 * j, layout.vel.start + 3 * (j + 1))
    if part == "lower":
        dims += range(layout.contacts.start, layout.contacts.stop)
    return np.array(sorted(dims), dtype=np.int64)
