"""Frame-rate conversion of a rig's animation: slerp the rotations, interpolate the root linearly.

Resampling rotations rather than joint positions keeps every bone its exact length, which the inverse
kinematics used for export relies on.
"""
from __future__ import annotations

import numpy as np
import torch

from app.engine.rotations import matrix_to_quat, qfix, qslerp, quat_to_matrix

MAX_FPS = 1000.0  # mocap runs at up to a few hundred; past this a resample only allocates memory


def check_fps(fps: float) -> float:
    """`fps` as a float, or a ValueError that says what a frame rate may be (NaN, 0, inf and 1e9 are refused)."""
    if not (np.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise ValueError(f"frame rate must be a number above 0 and at most {MAX_FPS:g} frames per second, got {fps:g}")
    return float(fps)


def resample_animation(
    root_positions: np.ndarray, local_rotations: np.ndarray, src_fps: float, dst_fps: float
) -> tuple[np.ndarray, np.ndarray]:
    """(frames, 3) root positions and (frames, J, 3, 3) rotations at src_fps -> the same at dst_fps.

    The output covers the same time span: frame k samples time k / dst_fps, up to the last source frame.
    """
    n = root_positions.shape[0]
    if n < 1:
        raise ValueError("cannot resample an empty animation")
    src_fps, dst_fps = check_fps(src_fps), check_fps(dst_fps)
    duration = (n - 1) / src_fps
    n_out = int(np.floor(duration * dst_fps + 1e-9)) + 1
    source_index = np.arange(n_out) * (src_fps / dst_fps)  # fractional source frames
    i0 = np.minimum(np.floor(source_index).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    frac = source_index - i0

    root = root_positions[i0] * (1.0 - frac)[:, None] + root_positions[i1] * frac[:, None]
    quats = qfix(matrix_to_quat(torch.from_numpy(np.asarray(local_rotations, dtype=np.float64))), dim=0)  # (frames, J, 4)
    t = torch.from_numpy(frac)[:, None, None]  # (n_out, 1, 1)
    rotations = quat_to_matrix(qslerp(quats[i0], quats[i1], t)).numpy()
    return root, rotations
