"""Onto the animator's rig: a take (joint positions on our skeleton) as an animation of any other rig.

Three steps. Map the rig's joints onto ours by name (the naming schemes of `retarget`, or the user's mapping).
Match rest poses: the rig's rest pose (T, A or anything else) is first turned, bone by bone, so that its mapped
bones point where ours point in our rest pose; its other joints (fingers, twist and extra spine bones) keep
their rest pose relative to their parents. Transfer: at every frame each mapped bone turns, from that matched
rest pose, to point where our bone points (the smallest turn from its parent's, so twist is not invented; a
joint with several mapped children, hips or chest, gets the best rigid fit of all of them), and the hips follow
our hips' path scaled by the ratio of the rig's leg length to ours (so strides fit its legs). Rigs translate only
at their root: on rigs whose root is a still bone above the hips (UE, Rigify), that bone carries the motion.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.engine.io.pose_fit import pose_rig, posed_positions
from app.engine.io.retarget import RetargetError, match_joints, rest_positions
from app.engine.io.rig import Rig, RigAnimation
from app.engine.skeleton import BANDAI_NAMCO_21, Skeleton


def _leg_length(positions: np.ndarray, hip: int, knee: int, ankle: int) -> float:
    return float(np.linalg.norm(positions[knee] - positions[hip]) + np.linalg.norm(positions[ankle] - positions[knee]))


def joint_map(rig: Rig, skeleton: Skeleton = BANDAI_NAMCO_21, mapping: dict[str, str] | None = None) -> dict[int, int]:
    """Our joint index -> the rig's joint index (see `match_joints`)."""
    found = match_joints(rig.names, skeleton, mapping)
    return {skeleton.index(ours): j for ours, j in found.items()}


def retarget_onto(positions: np.ndarray, fps: float, rig: Rig, skeleton: Skeleton = BANDAI_NAMCO_21,
                  mapping: dict[str, str] | None = None) -> RigAnimation:
    """Joint positions (T, J, 3) in metres on `skeleton` -> the same motion on `rig`, at `fps`."""
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[1:] != (skeleton.n_joints, 3) or positions.shape[0] == 0:
        raise ValueError(f"expected positions of shape (frames, {skeleton.n_joints}, 3), got {positions.shape}")
    if not np.isfinite(positions).all():
        raise RetargetError("the take has missing (NaN or infinite) joint positions")
    ours_to_theirs = joint_map(rig, skeleton, mapping)
    rest_rot, rest_pos = rig.rest_pose()
    our_rest = rest_positions(skeleton.parents, skeleton.offsets)
    # match rest poses: turn the rig's mapped bones onto our rest directions
    matched_rot = pose_rig(rig, (rest_rot, rest_pos), {t: our_rest[o][None] for o, t in ours_to_theirs.items()})[0]
    matched_pos = posed_positions(rig, matched_rot, np.zeros(3))
    world = pose_rig(rig, (matched_rot, matched_pos), {t: positions[:, o] for o, t in ours_to_theirs.items()})

    hip, knee, ankle = _left_leg(skeleton)
    ratio = (_leg_length(rest_pos, *(ours_to_theirs[k] for k in (hip, knee, ankle)))
             / _leg_length(our_rest, hip, knee, ankle))
    hips = ours_to_theirs[0]
    placed = posed_positions(rig, world, np.zeros(3))  # (T, J, 3) root at the origin
    root = positions[:, 0] * ratio - placed[:, hips]
    local = world.copy()
    parents = np.array(rig.parents)
    local[:, 1:] = np.swapaxes(world[:, parents[1:]], -1, -2) @ world[:, 1:]
    return RigAnimation(rig, root, local, float(fps))


def _left_leg(skeleton: Skeleton) -> tuple[int, int, int]:
    """(hip, knee, ankle) of the left leg: the two joints above the left ankle."""
    ankle = skeleton.foot_left[0]
    knee = skeleton.parents[ankle]
    return skeleton.parents[knee], knee, ankle


@dataclass(frozen=True, eq=False)
class SourceRig:
    """The rig an imported take came on, so that it goes back out on that rig at that frame rate by default."""

    rig: Rig
    fps: float
    name: str                               # the file it came from, for messages
    mapping: dict[str, str] | None = None   # our joint name -> the rig's, when the user mapped it by hand

    def animation(self, positions: np.ndarray, fps: float, skeleton: Skeleton = BANDAI_NAMCO_21,
                  out_fps: float | None = None) -> RigAnimation:
        """World positions (T, J, 3) on our skeleton at `fps` -> the take on this rig at `out_fps` (its own rate
        when None)."""
        return retarget_onto(positions, fps, self.rig, skeleton, self.mapping).resampled(out_fps or self.fps)

    def to_dict(self) -> dict:
        rig = self.rig
        return {"name": self.name, "fps": self.fps, "names": list(rig.names), "parents": list(rig.parents),
                "offsets": rig.offsets.tolist(), "rest_rotations": rig.rest_rotations.tolist(),
                **({"mapping": dict(self.mapping)} if self.mapping else {})}

    @classmethod
    def from_dict(cls, data: dict) -> SourceRig:
        """Raises ValueError (or KeyError, TypeError) naming what does not fit."""
        rig = Rig(tuple(str(n) for n in data["names"]), tuple(int(p) for p in data["parents"]),
                  np.asarray(data["offsets"], dtype=np.float64), np.asarray(data["rest_rotations"], dtype=np.float64))
        fps = float(data["fps"])
        if not (np.isfinite(fps) and fps > 0) or not (np.isfinite(rig.offsets).all() and np.isfinite(rig.rest_rotations).all()):
            raise ValueError("the source rig has a frame rate or rest pose that is not finite")
        mapping = data.get("mapping")
        return cls(rig, fps, str(data["name"]), None if mapping is None else {str(k): str(v) for k, v in mapping.items()})
