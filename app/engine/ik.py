"""Inverse kinematics on joint positions: two-bone limbs (hip-knee-ankle, shoulder-elbow-wrist) and short chains
(spine, neck).

The engine's motions are joint positions (app.engine.features), so the solvers move positions and keep each bone's
length as it is in the pose they are given (a generated pose's lengths can differ a little from the rig's; the
export fits the rig to them). NumPy, float64, any batch shape: (..., 3) per joint.
"""
from __future__ import annotations

import numpy as np

EPS = 1e-9


def _unit(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """v / |v| and |v| (..., 1); a zero vector stays zero."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, EPS), n


def _perpendicular(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """The part of v (..., 3) perpendicular to the unit axis (..., 3)."""
    return v - (v * axis).sum(-1, keepdims=True) * axis


def two_bone_ik(root: np.ndarray, mid: np.ndarray, end: np.ndarray, target: np.ndarray,
                pole: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """New (mid, end) positions (..., 3) of the limb root -> mid -> end whose end reaches `target`.

    The root stays; both bones keep their lengths |mid - root| and |end - mid|. The mid joint (knee, elbow) bends
    towards the `pole` point: it lies in the plane of root, target and pole, on the pole's side (default pole: the
    mid joint itself, so the limb bends the way it already did). A target beyond reach gets the straight limb
    pointing at it; one closer than |l1 - l2| the folded limb. Where the pole is on the root-target line, the old
    mid joint's side is used, and where that too is degenerate any perpendicular side.
    """
    l1 = np.linalg.norm(mid - root, axis=-1, keepdims=True)
    l2 = np.linalg.norm(end - mid, axis=-1, keepdims=True)
    axis, distance = _unit(target - root)
    reach = np.clip(distance, np.abs(l1 - l2), l1 + l2)
    along = (l1**2 - l2**2 + reach**2) / np.maximum(2.0 * reach, EPS)  # root -> foot of the mid joint on the axis
    height = np.sqrt(np.maximum(l1**2 - along**2, 0.0))
    side = _perpendicular((mid if pole is None else pole) - root, axis)
    fallback = _perpendicular(mid - root, axis)
    arbitrary = _perpendicular(np.where(np.abs(axis[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]), axis)
    for alternative in (fallback, arbitrary):
        weak = np.linalg.norm(side, axis=-1, keepdims=True) < 1e-6
        side = np.where(weak, alternative, side)
    side, _ = _unit(side)
    new_mid = root + along * axis + height * side
    new_end = root + reach * axis
    return new_mid, new_end


def chain_ik(chain: np.ndarray, target: np.ndarray, iterations: int = 100, tolerance: float = 1e-6) -> np.ndarray:
    """Positions (..., n, 3) of a chain of n >= 2 joints whose last joint reaches `target` (..., 3): FABRIK
    (Aristidou & Lasenby 2011). The first joint stays and every bone keeps its length; the chain bends as little
    as the iterations need from its current shape. A target beyond reach gets the straight chain pointing at it."""
    p = np.array(chain, dtype=np.float64)
    lengths = np.linalg.norm(np.diff(p, axis=-2), axis=-1)[..., None]  # (..., n - 1, 1)
    base = p[..., 0, :].copy()
    direction, distance = _unit(target - base)
    total = lengths.sum(-2)
    out_of_reach = distance[..., 0] >= total[..., 0]
    straight = base[..., None, :] + np.concatenate(
        [np.zeros_like(lengths[..., :1, :]), np.cumsum(lengths, axis=-2)], axis=-2) * direction[..., None, :]
    n = p.shape[-2]
    for _ in range(iterations):
        if np.all(out_of_reach | (np.linalg.norm(p[..., -1, :] - target, axis=-1) < tolerance)):
            break
        p[..., -1, :] = target  # backward: from the target towards the base
        for i in range(n - 2, -1, -1):
            d, _ = _unit(p[..., i, :] - p[..., i + 1, :])
            p[..., i, :] = p[..., i + 1, :] + d * lengths[..., i, :]
        p[..., 0, :] = base  # forward: from the base out again
        for i in range(1, n):
            d, _ = _unit(p[..., i, :] - p[..., i - 1, :])
            p[..., i, :] = p[..., i - 1, :] + d * lengths[..., i - 1, :]
    return np.where(out_of_reach[..., None, None], straight, p)


def joint_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The angle at b (degrees, (...,)) between the bones b -> a and b -> c: 180 for a straight limb."""
    u, _ = _unit(a - b)
    v, _ = _unit(c - b)
    return np.degrees(np.arccos(np.clip((u * v).sum(-1), -1.0, 1.0)))
