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


def smoothstep(x: np.ndarray) -> np.ndarray:
    """0 at x <= 0, 1 at x >= 1, with zero slope at both ends: every blend of the engine (keys, clean-up, edits,
    window joins) eases in and out with it."""
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
    # every frame blends at most two keys: a (at or before it) and b (after it); before the first key both are
    # the first, from the last key on both are the last, with b's weights zero there
    left = np.searchsorted(keys, t, side="right") - 1  # (T,) -1 before the first key
    a_index = np.clip(left, 0, len(keys) - 1)
    b_index = np.clip(left + 1, 0, len(keys) - 1)
    a, b = keys[a_index].astype(np.float64), keys[b_index].astype(np.float64)
    between = (left >= 0) & (left < len(keys) - 1)
    before, after = left < 0, left == len(keys) - 1
    first, last = float(keys[0]), float(keys[-1])

    gap = np.where(between, b - a, 1.0)
    radius = np.minimum(blend_frames, gap)
    u = smoothstep((t - a) / gap)
    root_a = np.where(between, 1.0 - u, 0.0)
    root_b = np.where(between, u, 0.0)
    pose_a = np.where(between, 1.0 - smoothstep((t - a) / radius), 0.0)
    pose_b = np.where(between, 1.0 - smoothstep((b - t) / radius), 0.0)
    if first > 0:
        root_a[before] = smoothstep(t[before] / first)
        pose_a[before] = 1.0 - smoothstep((first - t[before]) / min(blend_frames, first))
    root_a[after] = 1.0
    pose_a[after] = 1.0 - smoothstep((t[after] - last) / blend_frames)

    w = lambda x: x[:, None, None]  # (T,) -> (T, 1, 1)
    return (w(root_a) * root[a_index] + w(root_b) * root[b_index]) + (w(pose_a) * pose[a_index] + w(pose_b) * pose[b_index])


def impose_locks(generated: np.ndarray, locked: np.ndarray, keys: np.ndarray, blend_frames: int = 10) -> np.ndarray:
    """generated (T, J, 3) corrected so that frames `keys` equal `locked` (K, J, 3) exactly, smoothly around them."""
    keys = np.asarray(keys, dtype=np.int64)
    offsets = locked - generated[keys]
    return generated + lock_correction(offsets, keys, len(generated), blend_frames)
