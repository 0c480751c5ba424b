"""Posing one frame by hand: the animator drags a joint to a point and the body follows by inverse kinematics.

What a drag moves, by joint (every bone keeps its length exactly; a target out of reach gets the straightest reach
towards it):
- a hand or a foot (a toe moves its foot): two-bone IK of the limb (app.engine.ik), the elbow or knee bending
  towards the pole (by default the way it bent already); the foot keeps its orientation, so the toe goes along;
- an elbow or a knee: the limb swivels about the line from shoulder to hand (hip to ankle), the joint turning
  towards the target while the hand or foot stays;
- the head, the neck or the chest: a short FABRIK chain from the spine's first joint up to the dragged joint (the
  hips stay); what hangs on the chain (the arms on the chest, the head on the neck) turns with the bone it hangs on;
- the hips: the body moves with them and the legs are re-solved so the feet stay planted (a crouch, a lean);
- any other joint (the spine's first joint, a shoulder): its bone turns about its parent towards the target.

`turn_heading` turns the whole pose about the vertical through the hips (the ring handle in the viewport).
Poses are (J, 3) joint positions in metres, Y up, as the document keeps them.
"""
from __future__ import annotations

from itertools import pairwise

import numpy as np

from app.engine.constraints import effector_chains
from app.engine.ik import chain_ik, two_bone_ik
from app.engine.skeleton import Skeleton

MIN_DISTANCE = 1e-6  # metres: a target on a limb's root keeps the limb's direction


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation (3, 3) that turns direction a (3,) onto direction b (3,)."""
    a = a / max(np.linalg.norm(a), 1e-12)
    b = b / max(np.linalg.norm(b), 1e-12)
    axis, cos = np.cross(a, b), float(np.dot(a, b))
    if cos < -1.0 + 1e-9:  # opposite: half a turn about any axis perpendicular to a
        other = np.array([1.0, 0.0, 0.0]) if abs(a[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        axis = np.cross(a, other)
        axis /= np.linalg.norm(axis)
        return 2.0 * np.outer(axis, axis) - np.eye(3)
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + k + k @ k / (1.0 + cos)


def _subtree(skeleton: Skeleton, top: int) -> list[int]:
    """`top` and every joint below it."""
    out, stack = [], [top]
    while stack:
        j = stack.pop()
        out.append(j)
        stack.extend(skeleton.children[j])
    return out


def _carry(new: np.ndarray, old: np.ndarray, skeleton: Skeleton, chain: tuple[int, ...], turn: bool) -> None:
    """Move what hangs on the chain's moved joints (not in the chain) with them, in place: turned by the rotation of
    the bone that ends at their joint (`turn`) or only shifted (a foot's toe keeps its orientation)."""
    for parent, joint in pairwise(chain):
        rotation = _rotation_between(old[joint] - old[parent], new[joint] - new[parent]) if turn else np.eye(3)
        for child in skeleton.children[joint]:
            if child in chain:
                continue
            below = _subtree(skeleton, child)
            new[below] = (old[below] - old[joint]) @ rotation.T + new[joint]


def _spine(skeleton: Skeleton) -> tuple[int, ...]:
    """The spine from its first joint above the hips up to the head (the head's effector chain)."""
    return max((joints for joints, _ in effector_chains(skeleton).values()), key=len)


def drag_kind(skeleton: Skeleton, joint: int) -> str:
    """What dragging `joint` does, in the animator's words (for the status bar)."""
    chains = effector_chains(skeleton)
    name = skeleton.joint_names[joint]
    if joint == 0:
        return f"{name}: the body moves, the feet stay planted"
    if joint in chains and len(chains[joint][0]) == 3:
        return f"{name}: two-bone IK of the limb"
    if any(len(joints) == 3 and joint == joints[1] for joints, _ in chains.values()):
        return f"{name}: the limb swivels about its hand or foot"
    if joint in _spine(skeleton)[1:]:
        return f"{name}: the spine bends"
    return f"{name}: the bone turns about {skeleton.joint_names[skeleton.parents[joint]]}"


def pose_joint(pose: np.ndarray, skeleton: Skeleton, joint: int, target: np.ndarray,
               pole: np.ndarray | None = None) -> np.ndarray:
    """A new pose (J, 3) with `joint` dragged to `target` (3,) (see the module docstring); `pole` (3,) is where a
    dragged hand's elbow or foot's knee should bend towards (default: the way it bends now)."""
    old = np.asarray(pose, dtype=np.float64)
    new = old.copy()
    target = np.asarray(target, dtype=np.float64)
    if not 0 <= joint < skeleton.n_joints:
        raise ValueError(f"joint {joint} is not one of {skeleton.name}'s {skeleton.n_joints} joints")
    chains = effector_chains(skeleton)
    limbs = [joints for joints, _ in chains.values() if len(joints) == 3]
    if joint == 0:
        return _move_hips(old, skeleton, target)
    if joint in chains and len(chains[joint][0]) == 3:  # a hand, a foot, or a toe carried by its foot
        (root, mid, end), _ = chains[joint]
        goal = target - (old[joint] - old[end])
        if np.linalg.norm(goal - old[root]) < MIN_DISTANCE:
            goal = old[root] + (old[end] - old[root]) * MIN_DISTANCE
        new[mid], new[end] = two_bone_ik(old[root], old[mid], old[end], goal, pole)
        _carry(new, old, skeleton, (root, mid, end), turn=False)
        return new
    for root, mid, end in limbs:
        if joint == mid:  # swivel: the end stays, the middle joint bends towards the target
            new[mid], new[end] = two_bone_ik(old[root], old[mid], old[end], old[end], pole=target)
            return new
    spine = _spine(skeleton)
    chain = spine[: spine.index(joint) + 1] if joint in spine[1:] else (skeleton.parents[joint], joint)
    new[list(chain)] = chain_ik(old[list(chain)], target)
    _carry(new, old, skeleton, chain, turn=True)
    return new


def _move_hips(old: np.ndarray, skeleton: Skeleton, target: np.ndarray) -> np.ndarray:
    """The body shifted so the hips are at `target`, each leg re-solved by two-bone IK so its foot stays (a foot
    out of reach gets the straight leg towards it)."""
    new = old + (target - old[0])
    for ankle, _toe in (skeleton.foot_left, skeleton.foot_right):
        hip, knee = skeleton.parents[skeleton.parents[ankle]], skeleton.parents[ankle]
        new[knee], new[ankle] = two_bone_ik(new[hip], new[knee], new[ankle], old[ankle])
        for below in _subtree(skeleton, ankle)[1:]:
            new[below] = old[below] + (new[ankle] - old[ankle])
    return new


def turn_heading(pose: np.ndarray, angle: float) -> np.ndarray:
    """The pose (J, 3) turned by `angle` radians about the vertical through its hips (positive: from +Z towards +X,
    i.e. to the character's left when it faces +Z)."""
    p = np.asarray(pose, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    local = p - p[0] * [1.0, 0.0, 1.0]
    out = local.copy()
    out[:, 0] = c * local[:, 0] + s * local[:, 2]
    out[:, 2] = -s * local[:, 0] + c * local[:, 2]
    return out + p[0] * [1.0, 0.0, 1.0]

