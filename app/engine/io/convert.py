"""Whole-file BVH operations that keep the rig as it is: frame-rate conversion."""
from __future__ import annotations

import numpy as np

from app.engine.data.resample import check_fps, resample_animation
from app.engine.euler import matrix_to_euler, unwrap_euler
from app.engine.io.bvh import BVH


def resample_bvh(bvh: BVH, fps: float) -> BVH:
    """The same take at `fps`: rotations slerped, position channels interpolated linearly, Euler curves unwrapped."""
    check_fps(fps)
    rotations = bvh.local_rotations()  # (frames, J, 3, 3)
    positions = bvh.motion  # every channel, interpolated linearly; rotation columns are replaced below
    _, rotations_out = resample_animation(positions, rotations, bvh.fps, fps)
    motion, _ = resample_animation(positions, rotations[:, :1], bvh.fps, fps)
    for j, joint in enumerate(bvh.joints):
        cols = [c for c, name in enumerate(joint.channels) if name.endswith("rotation")]
        if not cols:
            continue
        order = "".join(joint.channels[c][0] for c in cols)
        if len(order) != 3:
            raise ValueError(f"joint {joint.name} has {len(order)} rotation channels; resampling needs 3")
        angles = unwrap_euler(matrix_to_euler(rotations_out[:, j], order))
        start = bvh.channel_slice(j).start
        motion[:, [start + c for c in cols]] = angles
    return BVH(joints=bvh.joints, frame_time=1.0 / fps, motion=np.asarray(motion))
