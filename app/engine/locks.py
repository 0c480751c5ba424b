"""Make locked keyframes exact: a smooth correction of generated joint positions towards the locked poses.

A generative model only approximately reproduces the frames it was given (its codes cover 4 frames each and its
decoder is lossy), while an animator expects a locked pose to come back exactly. The correction is split in two:

- the root (hips) offset, which can be large after seconds of integrated velocity, is interpolated across the
  whole gap between two keys (smoothstep from one key's offset to the next), so the trajectory bends gently
  instead of sliding at the key; before the first key it ramps up from zero at frame 0, which keeps the take's
  first frame where it was (features store the root as velocities from a canonical start);
- the pose offset (each joint's offset beyond the root's) is largest at its key and fades out over
  `blend_frames`, or over the gap when the next key is closer, where the two keys' weights sum to one.

At every key both parts equal the key's offset exactly, so the corrected positions match the locked ones.
"""
from __future__ import annotations

import numpy as np


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def lock_correction(offsets: np.ndarray, keys: np.ndarray, n_frames: int, blend_frames: int = 10) -> np.ndarray:
    """Per-frame joint corrections (n_frames, J, 3) that equal `offsets` (K, J, 3) at the sorted, distinct frames
    `keys` (K,) and fade smoothly elsewhere (see the module docstring)."""
    keys = np.asarray(keys, dtype=np.int64)
    if keys.ndim != 1 or len(keys) == 0 or np.any(np.diff(keys) <= 0):
        raise ValueError("keys must be a non-empty, strictly increasing list of frames")
    if keys[0] < 0 or keys[-1] >= n_frames:
        raise ValueError(f"keys must lie in 0..{n_frames - 1}")
    root = offsets[:, :1]  # (K, 1, 3)
    pose = offsets - root  # (K, J, 3)
    t = np.arange(n_frames, dtype=np.float64)
    root_weight = np.zeros((n_frames, len(keys)))  # (T, K)
    pose_weight = np.zeros((n_frames, len(keys)))

    first, last = keys[0], keys[-1]
    before = t < first
    root_weight[before, 0] = _smoothstep(t[before] / first) if first > 0 else 1.0
    pose_weight[before, 0] = 1.0 - _smoothstep((first - t[before]) / min(blend_frames, first))
    after = t >= last
    root_weight[after, -1] = 1.0
    pose_weight[after, -1] = 1.0 - _smoothstep((t[after] - last) / blend_frames)
    for k, (a, b) in enumerate(zip(keys[:-1], keys[1:])):
        span = (t >= a) & (t < b)
        u = (t[span] - a) / (b - a)
        root_weight[span, k], root_weight[span, k + 1] = 1.0 - _smoothstep(u), _smoothstep(u)
        radius = min(blend_frames, b - a)
        pose_weight[span, k] = 1.0 - _smoothstep((t[span] - a) / radius)
        pose_weight[span, k + 1] = 1.0 - _smoothstep((b - t[span]) / radius)
    return np.einsum("tk,kjc->tjc", root_weight, np.broadcast_to(root, pose.shape)) + np.einsum("tk,kjc->tjc", pose_weight, pose)


def impose_locks(generated: np.ndarray, locked: np.ndarray, keys: np.ndarray, blend_frames: int = 10) -> np.ndarray:
    """generated (T, J, 3) corrected so that frames `keys` equal `locked` (K, J, 3) exactly, smoothly around them."""
    keys = np.asarray(keys, dtype=np.int64)
    offsets = locked - generated[keys]
    return generated + lock_correction(offsets, keys, len(generated), blend_frames)
