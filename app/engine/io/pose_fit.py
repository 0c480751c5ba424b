"""Pointing a rig's bones at joint positions: the one pose solver that import and export onto a rig share.

Given a reference pose of a rig and target positions for some of its joints, every bone between two such joints
is turned to point at its target; the joints in between and below keep their pose relative to their parents.
Bone lengths are the rig's own, so only directions are taken from the targets.
"""
from __future__ import annotations

import numpy as np
import torch

from app.engine.io.rig import Rig
from app.engine.rotations import qbetween, quat_to_matrix

SHORT = 1e-6  # metres: a bone shorter than this has no direction to follow


def _frontier(rig: Rig, mapped: set[int]) -> list[list[int]]:
    """Per joint, the mapped joints below it with no mapped joint between (the ends of the bones it aims)."""
    children = [[c for c, p in enumerate(rig.parents) if p == j] for j in range(rig.n_joints)]
    out = []
    for j in range(rig.n_joints):
        found, todo = [], list(children[j])
        while todo:
            k = todo.pop(0)
            if k in mapped:
                found.append(k)
            else:
                todo += children[k]
        out.append(found)
    return out


def _twist(axis: torch.Tensor, have: torch.Tensor, want: torch.Tensor) -> torch.Tensor:
    """(T, 3, 3) turns about unit `axis` (T, 3) that best bring vectors `have` (T, n, 3) onto `want` (T, n, 3)
    as seen along the axis (least squares over their components across it)."""
    a = axis[:, None]
    h = have - (have * a).sum(-1, keepdim=True) * a
    w = want - (want * a).sum(-1, keepdim=True) * a
    angle = torch.atan2((torch.linalg.cross(h, w) * a).sum((-1, -2)), (h * w).sum((-1, -2)))  # (T,)
    half = angle[:, None] / 2
    return quat_to_matrix(torch.cat([torch.cos(half), torch.sin(half) * axis], dim=-1))


def pose_rig(rig: Rig, reference: tuple[np.ndarray, np.ndarray], targets: dict[int, np.ndarray]) -> np.ndarray:
    """(T, J, 3, 3) world rotations that turn the rig, from its `reference` pose ((J, 3, 3) world rotations,
    (J, 3) positions), so that each bone between mapped joints points as in `targets` (joint -> (T, 3)).

    A joint aiming one mapped joint takes the smallest turn from its parent's turn that points the bone there. A
    joint aiming several (hips: spine and thighs; chest: neck and collars) points its main one exactly, the one
    that best continues its parent bone (the spine, from the root: the one most upward), then turns about it to
    best fit the others, whose rest geometry differs between rigs.
    """
    ref_rot, ref_pos = (torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in reference)
    goal = {j: torch.from_numpy(np.asarray(v, dtype=np.float64)) for j, v in targets.items()}
    n_frames = next(iter(goal.values())).shape[0]
    frontier = _frontier(rig, set(goal))
    eye = torch.eye(3, dtype=torch.float64).expand(n_frames, 3, 3)
    up = torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64)
    delta: list[torch.Tensor] = []  # per joint, (T, 3, 3) turn from the reference pose
    for j, p in enumerate(rig.parents):
        turn = delta[p] if p >= 0 else eye
        ends = frontier[j] if j in goal else []
        if ends:
            incoming = ref_pos[j] - ref_pos[p] if p >= 0 and ref_pos[j].sub(ref_pos[p]).norm() > SHORT else up
            rest = ref_pos[ends] - ref_pos[j]  # (n, 3)
            main = int(torch.argmax(rest @ incoming / rest.norm(dim=-1).clamp_min(SHORT)))
            have = turn @ rest[main]  # (T, 3) the main bone as the parent's turn leaves it
            aim = goal[ends[main]] - goal[j]
            ok = ((aim.norm(dim=-1) > SHORT) & (have.norm(dim=-1) > SHORT))[:, None]
            swing = quat_to_matrix(qbetween(have, torch.where(ok, aim, have)))
            turn = swing @ turn
            if len(ends) > 1:
                axis = torch.where(ok, aim, have)
                axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(SHORT)
                others = [k for k in range(len(ends)) if k != main]
                have_others = (turn[:, None] @ rest[others][None, :, :, None])[..., 0]  # (T, n-1, 3)
                want_others = torch.stack([goal[ends[k]] - goal[j] for k in others], dim=1)
                turn = _twist(axis, have_others, want_others) @ turn
        delta.append(turn)
    return (torch.stack(delta, dim=1) @ ref_rot).numpy()


def posed_positions(rig: Rig, world_rotations: np.ndarray, root: np.ndarray) -> np.ndarray:
    """(..., J, 3) joint positions of the rig posed by world rotations (..., J, 3, 3) with its root at `root`."""
    pos = [np.broadcast_to(root, world_rotations.shape[:-3] + (3,))]
    for j in range(1, rig.n_joints):
        p = rig.parents[j]
        pos.append(pos[p] + world_rotations[..., p, :, :] @ rig.offsets[j])
    return np.stack(pos, axis=-2)
