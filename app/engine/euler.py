"""Euler angles <-> rotation matrices, in the convention BVH files and Blender use.

An order such as "ZXY" lists the axes as the rotation channels appear in a BVH file and means
R = R_Z(a0) @ R_X(a1) @ R_Y(a2) acting on column vectors (intrinsic rotations). Angles are degrees,
arrays are float64 and every function is vectorised over leading dimensions.
"""

import numpy as np

_AXIS = {"X": 0, "Y": 1, "Z": 2}
_GIMBAL_EPS = 1e-8  # below this cos(middle angle) the first and last axes coincide


def _axes(order: str) -> list[int]:
    try:
        return [_AXIS[a] for a in order.upper()]
    except KeyError:
        raise ValueError(f"Euler order must use only the axes X, Y and Z, got {order!r}") from None


def _axis_matrix(axis: int, rad: np.ndarray) -> np.ndarray:
    """Rotation by `rad` about one coordinate axis, (...) -> (..., 3, 3)."""
    c, s = np.cos(rad), np.sin(rad)
    i, j = (axis + 1) % 3, (axis + 2) % 3
    m = np.zeros(rad.shape + (3, 3))
    m[..., axis, axis] = 1.0
    m[..., i, i] = c
    m[..., j, j] = c
    m[..., i, j] = -s
    m[..., j, i] = s
    return m


def euler_to_matrix(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """(..., len(order)) degrees -> (..., 3, 3).

    `order` is usually three axes ("ZXY"), but any number is accepted (including none, giving the
    identity) because BVH joints may carry fewer than three rotation channels.
    """
    axes = _axes(order)
    angles = np.asarray(angles_deg, dtype=np.float64)
    if angles.shape[-1:] != (len(axes),):
        raise ValueError(f"angles of shape {angles.shape} do not match order {order!r}")
    rad = np.deg2rad(angles)
    m = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for k, axis in enumerate(axes):
        m = m @ _axis_matrix(axis, rad[..., k])
    return m


def matrix_to_euler(mats: np.ndarray, order: str) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) degrees; the middle angle lies in [-90, 90].

    Exact inverse of euler_to_matrix away from gimbal lock; at gimbal lock the last angle is set
    to 0 and the first one carries the whole rotation about the shared axis.
    """
    axes = _axes(order)
    if sorted(axes) != [0, 1, 2]:
        raise ValueError(f"only the six Tait-Bryan orders (XYZ, ZXY, ...) are supported, got {order!r}")
    i, j, k = axes
    sign = 1.0 if (j - i) % 3 == 1 else -1.0  # +1 for the cyclic orders XYZ, YZX, ZXY
    m = np.asarray(mats, dtype=np.float64)
    cb = np.hypot(m[..., i, i], m[..., i, j])
    b = np.arctan2(sign * m[..., i, k], cb)
    a = np.arctan2(-sign * m[..., j, k], m[..., k, k])
    c = np.arctan2(-sign * m[..., i, j], m[..., i, i])
    gimbal = cb < _GIMBAL_EPS
    a = np.where(gimbal, np.arctan2(sign * m[..., k, j], m[..., j, j]), a)
    c = np.where(gimbal, 0.0, c)
    return np.rad2deg(np.stack([a, b, c], axis=-1))


def _wrap(x: np.ndarray) -> np.ndarray:
    """Angles shifted by whole turns into [-180, 180]."""
    return x - 360.0 * np.round(x / 360.0)


def unwrap_euler(angles_deg: np.ndarray) -> np.ndarray:
    """(frames, ..., 3) -> same shape, continuous from frame to frame, same rotations.

    Each frame picks, of the two Euler triples describing its rotation ((a, b, c) and
    (a + 180, 180 - b, c + 180)) shifted by whole turns, the one closest to the previous frame,
    so curves written to a file never jump by 360 or flip at the +-90 boundary.

    Vectorised over frames (a 10,000-frame take unwraps in milliseconds): the choice at frame t depends only
    on the choice at t - 1, so each frame's choice is one of four functions of the previous one (keep, swap,
    always the first, always the second); a frame's choice is then the last "always" before it, swapped once
    per "swap" since.
    """
    cur = np.array(angles_deg, dtype=np.float64)
    if len(cur) < 2:
        return cur
    alt = cur + np.array([180.0, 0.0, 180.0])
    alt[..., 1] = 180.0 - cur[..., 1]
    branches = (cur, alt)

    def cost(prev: int, now: int) -> np.ndarray:  # (frames - 1, ...) distance from frame t - 1 to frame t
        return np.abs(_wrap(branches[now][1:] - branches[prev][:-1])).sum(-1)

    after_first = cost(0, 1) < cost(0, 0)  # the choice at t when t - 1 took the first triple
    after_second = cost(1, 1) < cost(1, 0)
    fixed = np.concatenate([np.ones_like(after_first[:1]), after_first == after_second])  # (frames, ...)
    value = np.concatenate([np.zeros_like(after_first[:1]), after_first])  # frame 0 keeps the given triple
    swaps = np.cumsum(np.concatenate([np.zeros_like(after_first[:1]), after_first & ~after_second]), axis=0)
    frames = np.arange(len(cur)).reshape((-1,) + (1,) * (fixed.ndim - 1))
    last_fixed = np.maximum.accumulate(np.where(fixed, frames, 0), axis=0)
    chosen = np.take_along_axis(value, last_fixed, 0) ^ ((swaps - np.take_along_axis(swaps, last_fixed, 0)) % 2 == 1)
    out = np.where(chosen[..., None], alt, cur)
    turns = np.cumsum(np.round((out[:-1] - out[1:]) / 360.0), axis=0)  # whole turns that keep t near t - 1
    out[1:] += 360.0 * turns
    return out
