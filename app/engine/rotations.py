"""Quaternion, matrix and 6D rotation maths in PyTorch (any float dtype, any batch shape).

Quaternions are (w, x, y, z), as in HumanML3D. Rotations act on column vectors.
NumPy callers go through `app.engine.arrays`, which converts at the boundary.
"""
from __future__ import annotations

import torch
from torch import Tensor


def qnormalize(q: Tensor) -> Tensor:
    return q / q.norm(dim=-1, keepdim=True)


def qmul(a: Tensor, b: Tensor) -> Tensor:
    """Hamilton product a * b (apply b first, then a)."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def qinv(q: Tensor) -> Tensor:
    """Conjugate, the inverse of a unit quaternion."""
    return q * q.new_tensor([1.0, -1.0, -1.0, -1.0])


def qrot(q: Tensor, v: Tensor) -> Tensor:
    """Rotate vectors v (..., 3) by unit quaternions q (..., 4)."""
    qvec = q[..., 1:]
    uv = torch.cross(qvec, v, dim=-1)
    uuv = torch.cross(qvec, uv, dim=-1)
    return v + 2.0 * (q[..., :1] * uv + uuv)


def qbetween(v0: Tensor, v1: Tensor) -> Tensor:
    """Shortest-arc rotation taking direction v0 onto direction v1."""
    cross = torch.cross(v0, v1, dim=-1)
    w = torch.sqrt((v0 * v0).sum(-1, keepdim=True) * (v1 * v1).sum(-1, keepdim=True)) + (v0 * v1).sum(
        -1, keepdim=True
    )
    return qnormalize(torch.cat([w, cross], dim=-1))


def qfix(q: Tensor, dim: int = -3) -> Tensor:
    """Flip signs along time (axis `dim` of the quaternion tensor) so neighbouring quaternions agree."""
    q = q.movedim(dim, 0)
    dots = (q[1:] * q[:-1]).sum(-1)
    flips = torch.cumsum((dots < 0).to(torch.int64), dim=0) % 2
    signs = torch.cat([flips.new_zeros((1,) + flips.shape[1:]), flips], dim=0).to(q.dtype)  # frame 0 keeps its sign
    return (q * (1.0 - 2.0 * signs)[..., None]).movedim(0, dim)


def quat_to_matrix(q: Tensor) -> Tensor:
    w, x, y, z = qnormalize(q).unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat(m: Tensor) -> Tensor:
    """Rotation matrices (..., 3, 3) to unit quaternions with w >= 0 (numerically robust branch choice)."""
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    candidates = torch.stack(
        [
            torch.stack([1 + m00 + m11 + m22, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            torch.stack([m[..., 2, 1] - m[..., 1, 2], 1 + m00 - m11 - m22, m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
            torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 - m00 + m11 - m22, m[..., 1, 2] + m[..., 2, 1]], -1),
            torch.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 - m00 - m11 + m22], -1),
        ],
        dim=-2,
    )  # (..., 4 candidates, 4)
    best = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1).argmax(-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(best.shape + (1, 4))).squeeze(-2)
    q = qnormalize(q)
    return torch.where(q[..., :1] < 0, -q, q)


def quat_to_cont6d(q: Tensor) -> Tensor:
    """Continuous 6D representation: the first two columns of the rotation matrix (HumanML3D layout)."""
    m = quat_to_matrix(q)
    return torch.cat([m[..., 0], m[..., 1]], dim=-1)


def cont6d_to_matrix(d6: Tensor) -> Tensor:
    """Gram-Schmidt the two stored columns back into a rotation matrix."""
    a, b = d6[..., :3], d6[..., 3:]
    x = a / a.norm(dim=-1, keepdim=True)
    z = torch.cross(x, b, dim=-1)
    z = z / z.norm(dim=-1, keepdim=True)
    y = torch.cross(z, x, dim=-1)
    return torch.stack([x, y, z], dim=-1)


def rotation_between_sets(rest: Tensor, target: Tensor, weights: Tensor | None = None) -> Tensor:
    """Best rotation R with R @ rest_i ~ target_i (Kabsch). rest, target: (..., n, 3) -> (..., 3, 3)."""
    if weights is not None:
        rest = rest * weights[..., None]
    cov = target.transpose(-1, -2) @ rest  # (..., 3, 3) = sum_i target_i rest_i^T
    u, _, vh = torch.linalg.svd(cov)
    det = torch.det(u @ vh)
    fix = torch.ones(det.shape + (3,), dtype=cov.dtype, device=cov.device)
    fix[..., 2] = torch.sign(det) + (det == 0).to(cov.dtype)
    return u @ torch.diag_embed(fix) @ vh


def y_rotation_quat(angle: Tensor) -> Tensor:
    """Quaternion of a rotation by `angle` radians about +Y."""
    zero = torch.zeros_like(angle)
    return torch.stack([torch.cos(angle / 2), zero, torch.sin(angle / 2), zero], dim=-1)


def qslerp(q0: Tensor, q1: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between unit quaternions, t in [0, 1] broadcast over the last axis."""
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)
    dot = dot.abs().clamp(max=1.0)
    theta = torch.acos(dot)
    sin_theta = torch.sin(theta)
    near = sin_theta < 1e-6
    safe = torch.where(near, torch.ones_like(sin_theta), sin_theta)
    w0 = torch.where(near, 1.0 - t, torch.sin((1.0 - t) * theta) / safe)
    w1 = torch.where(near, t, torch.sin(t * theta) / safe)
    return qnormalize(w0 * q0 + w1 * q1)
