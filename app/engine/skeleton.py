"""Skeletons: joint hierarchy, rest pose, body-part split, mirroring, forward and inverse kinematics.

All positions are in metres, Y up, characters face +Z in the rest pose and their left is +X.
The presets live here so that every other module agrees on joints, feet and the upper/lower split.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch
from torch import Tensor

from app.engine.rotations import qbetween, quat_to_matrix, rotation_between_sets


def forward_kinematics(parents, offsets: np.ndarray, root_positions: Tensor, local_rotations: Tensor) -> Tensor:
    """Joint positions (..., J, 3) of any rig (parents before children) from its root positions (..., 3) and
    local rotation matrices (..., J, 3, 3)."""
    offsets = torch.as_tensor(offsets, dtype=local_rotations.dtype, device=local_rotations.device)
    world_rot: list[Tensor] = []
    world_pos: list[Tensor] = []
    for j, p in enumerate(parents):
        if p < 0:
            world_rot.append(local_rotations[..., 0, :, :])
            world_pos.append(root_positions)
        else:
            world_rot.append(world_rot[p] @ local_rotations[..., j, :, :])
            world_pos.append(world_pos[p] + (world_rot[p] @ offsets[j, :, None])[..., 0])
    return torch.stack(world_pos, dim=-2)


@dataclass(frozen=True, eq=False)
class Skeleton:
    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]             # parents[j] < j; -1 for the root (joint 0)
    offsets: np.ndarray                  # (J, 3) rest-pose offsets from the parent, metres
    foot_left: tuple[int, int]           # (ankle, toe): used for foot contacts
    foot_right: tuple[int, int]
    face_joints: tuple[int, int, int, int]  # (right hip, left hip, right shoulder, left shoulder): facing +Z
    upper_body: frozenset[int]           # spine and above plus arms; everything else is lower body
    mirror_pairs: tuple[tuple[int, int], ...]  # (left, right) joint pairs
    end_sites: dict[int, tuple[float, float, float]] = field(default_factory=dict)  # leaf tips, for BVH export
    # The features' heading is the across vector (p[a] - p[b]) + (p[c] - p[d]); None means face_joints.
    # HumanML3D's own code pairs them differently (see SMPL_22); its features are only reproduced that way.
    heading_joints: tuple[int, int, int, int] | None = None
    # Rest direction of each bone for the 6D rotation features; None means the directions of `offsets`.
    bone_axes: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.joint_names)
        if len(self.parents) != n or self.offsets.shape != (n, 3):
            raise ValueError(f"skeleton {self.name}: {n} names, {len(self.parents)} parents, offsets {self.offsets.shape}")
        if self.parents[0] != -1 or any(not (0 <= p < j) for j, p in enumerate(self.parents) if j > 0):
            raise ValueError(f"skeleton {self.name}: parents must come before their children, with joint 0 the root")

    @property
    def n_joints(self) -> int:
        return len(self.joint_names)

    @property
    def feature_dim(self) -> int:
        """4 + 3(J-1) + 6(J-1) + 3J + 4: 263 for the 22-joint SMPL skeleton, 251 for Bandai Namco's 21 joints."""
        j = self.n_joints
        return 4 + 9 * (j - 1) + 3 * j + 4

    def index(self, name: str) -> int:
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise KeyError(f"skeleton {self.name} has no joint named {name!r}") from None

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        return tuple(tuple(c for c, p in enumerate(self.parents) if p == j) for j in range(self.n_joints))

    @cached_property
    def fit_children(self) -> tuple[tuple[int, ...], ...]:
        """The children whose directions orient each joint in `rotations_from_positions`: all of them, except at
        the root, which is oriented by its lower-body children (the hip joints) when it has two or more. So the
        pelvis, and every leg bone below it, never follows the spine: an upper-body edit leaves an exported
        lower body exactly as it was."""
        legs = tuple(c for c in self.children[0] if c not in self.upper_body)
        return (legs if len(legs) >= 2 else self.children[0],) + self.children[1:]

    @cached_property
    def kinematic_chains(self) -> tuple[tuple[int, ...], ...]:
        """Chains as HumanML3D lays them out: every child of the root starts a chain at the root; at any other
        branching joint the first child continues the chain and the others start new chains at that joint."""
        chains: list[list[int]] = []

        def walk(chain: list[int]) -> None:
            kids = self.children[chain[-1]]
            if not kids:
                chains.append(chain)
                return
            if chain[-1] == 0:
                for kid in kids:
                    walk([0, kid])
                return
            walk(chain + [kids[0]])
            for kid in kids[1:]:
                walk([chain[-1], kid])

        walk([0])
        return tuple(tuple(c) for c in chains)

    @cached_property
    def mirror_index(self) -> np.ndarray:
        """Permutation that swaps left and right joints."""
        perm = np.arange(self.n_joints)
        for left, right in self.mirror_pairs:
            perm[left], perm[right] = right, left
        return perm

    @cached_property
    def lower_body(self) -> frozenset[int]:
        return frozenset(range(self.n_joints)) - self.upper_body

    @property
    def feature_heading_joints(self) -> tuple[int, int, int, int]:
        return self.heading_joints if self.heading_joints is not None else self.face_joints

    def raw_offsets(self, like: Tensor) -> Tensor:
        """Unit rest directions of each bone (zero for the root), the reference for the 6D features."""
        axes = self.bone_axes if self.bone_axes is not None else self.offsets
        off = torch.as_tensor(axes, dtype=like.dtype, device=like.device)
        norm = off.norm(dim=-1, keepdim=True)
        return torch.where(norm > 0, off / norm.clamp_min(1e-12), off)

    # -- kinematics -------------------------------------------------------------------------------------

    def forward_kinematics(self, root_positions: Tensor, local_rotations: Tensor) -> Tensor:
        """Joint positions (..., J, 3) from root positions (..., 3) and local rotation matrices (..., J, 3, 3)."""
        return forward_kinematics(self.parents, self.offsets, root_positions, local_rotations)

    def rotations_from_positions(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        """Inverse kinematics per bone: (root positions (..., 3), local rotation matrices (..., J, 3, 3)) that
        drive this skeleton's rig through the given joint positions (..., J, 3).

        A joint with one child gets the smallest rotation that points its bone at the child (no twist added);
        a joint with several children gets the best rigid fit of them (`fit_children`: at the root, the hip
        joints only). Where the positions have this skeleton's bone lengths the result reproduces them exactly;
        leaves keep their parent's orientation.
        """
        offsets = torch.as_tensor(self.offsets, dtype=positions.dtype, device=positions.device)
        batch = positions.shape[:-2]
        eye = torch.eye(3, dtype=positions.dtype, device=positions.device).expand(batch + (3, 3))
        world: list[Tensor] = []
        for j in range(self.n_joints):
            parent_rot = world[self.parents[j]] if j > 0 else eye
            kids = self.fit_children[j]
            if not kids:
                world.append(parent_rot)
                continue
            targets = positions[..., list(kids), :] - positions[..., j : j + 1, :]  # (..., n_kids, 3)
            if len(kids) == 1:
                rest_dir = (parent_rot @ offsets[kids[0], :, None])[..., 0]
                swing = quat_to_matrix(qbetween(rest_dir, targets[..., 0, :]))
                world.append(swing @ parent_rot)
            else:
                rest = offsets[list(kids)].expand(batch + (len(kids), 3))
                world.append(rotation_between_sets(rest, targets))
        world_rot = torch.stack(world, dim=-3)  # (..., J, 3, 3)
        parent_rot = torch.cat([eye[..., None, :, :], world_rot[..., list(self.parents[1:]), :, :]], dim=-3)
        local = parent_rot.transpose(-1, -2) @ world_rot
        return positions[..., 0, :], local

    def mirror_positions(self, positions: Tensor | np.ndarray) -> Tensor | np.ndarray:
        """Swap left and right: negate X and exchange the paired joints. Mirroring twice is the identity."""
        swapped = positions[..., self.mirror_index, :].clone() if isinstance(positions, Tensor) else positions[..., self.mirror_index, :].copy()
        swapped[..., 0] = -swapped[..., 0]
        return swapped


def _pairs(names: tuple[str, ...], left: str, right: str) -> tuple[tuple[int, int], ...]:
    return tuple(
        (names.index(n), names.index(n.replace(left, right)))
        for n in names
        if left in n and n.replace(left, right) in names
    )


# -- HumanML3D's 22-joint SMPL skeleton --------------------------------------------------------------------
_SMPL_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)
_SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
# Rest offsets: HumanML3D's uniform skeleton (the bone lengths shared by every `new_joints` file). The
# children of the pelvis and of spine3 keep their measured relative geometry (needed for exact IK), turned
# so the hips/collars lie along X; single-child bones follow HumanML3D's `t2m_raw_offsets` directions.
_SMPL_OFFSETS = np.array([
    [0.0, 0.0, 0.0],
    [0.05427, -0.08399, -0.02500], [-0.06630, -0.08399, -0.02500], [0.00328, 0.13153, 0.0],
    [0.0, -0.39362, 0.0], [0.0, -0.39019, 0.0], [0.0, 0.14319, 0.0],
    [0.0, -0.43243, 0.0], [0.0, -0.42564, 0.0], [0.0, 0.05736, 0.0],
    [0.0, 0.0, 0.14338], [0.0, 0.0, 0.14942], [-0.00666, 0.21926, 0.0],
    [0.06614, 0.11958, -0.01513], [-0.07765, 0.11958, -0.01513], [0.0, 0.0, 0.10304],
    [0.13161, 0.0, 0.0], [-0.12298, 0.0, 0.0], [0.25684, 0.0, 0.0],
    [-0.26309, 0.0, 0.0], [0.26601, 0.0, 0.0], [-0.26988, 0.0, 0.0],
])

SMPL_22 = Skeleton(
    name="smpl22",
    joint_names=_SMPL_NAMES,
    parents=_SMPL_PARENTS,
    offsets=_SMPL_OFFSETS,
    foot_left=(7, 10),
    foot_right=(8, 11),
    face_joints=(2, 1, 17, 16),
    # HumanML3D's `inverse_kinematics_np` unpacks face_joint_indx as (l_hip, r_hip, sdr_r, sdr_l), so its heading
    # is (left hip - right hip) + (right shoulder - left shoulder): the shoulders dominate. Kept for fidelity.
    heading_joints=(1, 2, 17, 16),
    bone_axes=np.array([  # HumanML3D's t2m_raw_offsets
        [0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0],
        [0, 1, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0], [1, 0, 0], [-1, 0, 0], [0, 0, 1], [0, -1, 0], [0, -1, 0],
        [0, -1, 0], [0, -1, 0], [0, -1, 0], [0, -1, 0],
    ], dtype=np.float64),
    upper_body=frozenset({3, 6, 9, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}),
    mirror_pairs=_pairs(_SMPL_NAMES, "left_", "right_"),
    end_sites={15: (0.0, 0.10, 0.0), 20: (0.08, 0.0, 0.0), 21: (-0.08, 0.0, 0.0), 10: (0.0, 0.0, 0.05), 11: (0.0, 0.0, 0.05)},
)

# -- Bandai Namco Research Motion Dataset's 21 body joints (joint_Root dropped: it never moves) -------------
_BN_NAMES = (
    "Hips", "Spine", "Chest", "Neck", "Head",
    "Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L",
    "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R",
    "UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L",
    "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R",
)
_BN_PARENTS = (-1, 0, 1, 2, 3, 2, 5, 6, 7, 2, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19)
# Rest offsets: the dataset's own bone lengths (cm -> m, left and right made equal) in a T-pose. The children of Hips and of Chest are
# the dataset's own offsets turned into this frame (its local X is along the spine, its lateral axis is -Y
# at the hips and +Z at the chest), so that branching joints keep their real relative geometry.
_BN_OFFSETS = np.array([
    [0.0, 0.0, 0.0],
    [0.0, 0.157357, 0.0], [0.0, 0.0899373, 0.0], [0.0, 0.163773, 0.0], [0.0, 0.0645672, 0.0],
    [0.0498039, 0.129942, -0.00242716], [0.0534809, 0.0, 0.0], [0.243286, 0.0, 0.0], [0.222916, 0.0, 0.0],
    [-0.0498039, 0.129942, -0.00242716], [-0.0534809, 0.0, 0.0], [-0.243286, 0.0, 0.0], [-0.222916, 0.0, 0.0],
    [0.0646944, -0.0219248, 0.0], [0.0, -0.390811, 0.0], [0.0, -0.409854, 0.0], [0.0, 0.0, 0.117543],
    [-0.0646944, -0.0219248, 0.0], [0.0, -0.390811, 0.0], [0.0, -0.409854, 0.0], [0.0, 0.0, 0.117543],
])

BANDAI_NAMCO_21 = Skeleton(
    name="bandai-namco21",
    joint_names=_BN_NAMES,
    parents=_BN_PARENTS,
    offsets=_BN_OFFSETS,
    foot_left=(15, 16),
    foot_right=(19, 20),
    face_joints=(17, 13, 10, 6),
    upper_body=frozenset(range(1, 13)),
    mirror_pairs=_pairs(_BN_NAMES, "_L", "_R"),
    end_sites={4: (0.0, 0.10, 0.0), 8: (0.05, 0.0, 0.0), 12: (-0.05, 0.0, 0.0), 16: (0.0, 0.0, 0.05), 20: (0.0, 0.0, 0.05)},
)

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (SMPL_22, BANDAI_NAMCO_21)}


def skeleton_by_name(name: str) -> Skeleton:
    try:
        return SKELETONS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton {name!r}; known: {', '.join(SKELETONS)}") from None
