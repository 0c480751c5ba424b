"""A low-poly mannequin: one capsule per bone (flattened into rounded boxes for the torso, hands and feet),
sized from the rig's own bone lengths and rigidly skinned, so the body moves exactly with the skeleton.

Built with trimesh in the rest pose, as a `SkinnedMesh` that the FBX and glTF writers carry and the viewport draws.
Each part is bound with weight 1 to the joint whose rotation turns it: the bone's parent joint, or the joint itself
for the parts past a leaf (head, hands, toes).
"""
from __future__ import annotations

import numpy as np
import torch
import trimesh

from app.engine.io.rig import SkinnedMesh
from app.engine.skeleton import Skeleton

# (radius, width scale, depth scale) of the part along the bone into each joint of the 21-joint rig, in metres
# for an adult of the rig's size; joints left out get no part (the pelvis and chest cover them).
_PARTS = {
    "Spine": (0.11, 1.25, 0.85), "Chest": (0.115, 1.2, 0.85), "Neck": (0.12, 1.25, 0.8), "Head": (0.045, 1.0, 1.0),
    "UpperArm_L": (0.05, 1.0, 1.0), "LowerArm_L": (0.048, 1.0, 1.0), "Hand_L": (0.04, 1.0, 1.0),
    "UpperLeg_L": (0.07, 1.0, 1.0), "LowerLeg_L": (0.075, 1.0, 1.0), "Foot_L": (0.055, 1.0, 1.0),
    "Toes_L": (0.045, 1.15, 0.6),
}
# parts past a leaf joint, along its End Site: (radius, width scale, depth scale)
_TIPS = {"Head": (0.095, 0.85, 1.0), "Hand_L": (0.04, 1.1, 0.55), "Toes_L": (0.04, 1.15, 0.6)}
SEGMENTS = (10, 6)  # capsule resolution: around, and per hemisphere; low-poly but round when lit


def _sizes(table: dict[str, tuple[float, float, float]]) -> dict[str, tuple[float, float, float]]:
    """The table with the right side's names added."""
    return {**table, **{name[:-2] + "_R": size for name, size in table.items() if name.endswith("_L")}}


def _capsule(start: np.ndarray, end: np.ndarray, radius: float, width: float, depth: float) -> trimesh.Trimesh:
    """A capsule from `start` to `end` (sphere centres), its cross-section scaled by width (across the body, X) and
    depth, turned so that its axis follows the bone with the least turn (so a vertical torso part stays square
    to the body)."""
    axis = end - start
    length = float(np.linalg.norm(axis))
    mesh = trimesh.creation.capsule(height=max(length, 1e-4), radius=radius, count=list(SEGMENTS))
    mesh.apply_scale([width, depth, 1.0])
    direction = axis / length if length > 1e-9 else np.array([0.0, 0.0, 1.0])
    turn = trimesh.geometry.align_vectors([0.0, 0.0, 1.0], direction)
    if direction[2] < -0.999999:  # align_vectors picks an arbitrary axis for the half turn: keep X across
        turn = trimesh.transformations.rotation_matrix(np.pi, [1.0, 0.0, 0.0])
    mesh.apply_transform(turn)
    mesh.apply_translation((start + end) / 2.0)
    return mesh


def rest_positions(skeleton: Skeleton) -> np.ndarray:
    """(J, 3) joint positions of the rest pose, root at the origin."""
    rest = np.zeros((skeleton.n_joints, 3))
    for j in range(1, skeleton.n_joints):
        rest[j] = rest[skeleton.parents[j]] + skeleton.offsets[j]
    return rest


def build_mannequin(skeleton: Skeleton) -> SkinnedMesh:
    """The mannequin for `skeleton` in its rest pose (metres, Y up), scaled to the rig's size.

    Joints the part table does not name (another rig) get a capsule whose radius follows the bone's length."""
    rest = rest_positions(skeleton)
    size = (rest[:, 1].max() - rest[:, 1].min()) / 1.3  # the 21-joint rig's head joint is 1.3 m above its ankles
    parts, tips = _sizes(_PARTS), _sizes(_TIPS)
    meshes, owners = [], []
    for j in range(1, skeleton.n_joints):
        p, name = skeleton.parents[j], skeleton.joint_names[j]
        length = float(np.linalg.norm(skeleton.offsets[j]))
        if name in parts:
            radius, width, depth = parts[name]
            radius *= size
        elif name in skeleton.joint_names and not _known(skeleton):
            radius, width, depth = float(np.clip(0.2 * length, 0.02, 0.07)), 1.0, 1.0
        else:
            continue
        meshes.append(_capsule(rest[p], rest[j], radius, width, depth))
        owners.append(p)
        if name in tips and j in skeleton.end_sites:
            radius, width, depth = tips[name]
            meshes.append(_capsule(rest[j], rest[j] + np.asarray(skeleton.end_sites[j]) * size, radius * size, width,
                                   depth))
            owners.append(j)
    vertices = np.concatenate([m.vertices for m in meshes])
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes[:-1]])
    faces = np.concatenate([m.faces + o for m, o in zip(meshes, offsets)])
    joints = np.concatenate([np.full((len(m.vertices), 1), j) for m, j in zip(meshes, owners)])
    return SkinnedMesh(vertices.astype(np.float64), faces.astype(np.int64), joints.astype(np.int64),
                       np.ones((len(vertices), 1)))


def _known(skeleton: Skeleton) -> bool:
    return any(name in _PARTS for name in skeleton.joint_names)


def pose_vertices(mesh: SkinnedMesh, skeleton: Skeleton, positions: np.ndarray) -> np.ndarray:
    """(T, V, 3) vertex positions of the mannequin following joint positions (T, J, 3): each joint's rotation is
    the skeleton's inverse kinematics (as exported), applied rigidly about the joint."""
    positions = np.asarray(positions, dtype=np.float64)
    rest = rest_positions(skeleton)
    _, local = skeleton.rotations_from_positions(torch.from_numpy(positions))
    world = [local[:, 0]]
    for j in range(1, skeleton.n_joints):
        world.append(world[skeleton.parents[j]] @ local[:, j])
    rotations = torch.stack(world, dim=1).numpy()  # (T, J, 3, 3)
    owner = mesh.joints[:, 0]
    relative = mesh.vertices - rest[owner]  # (V, 3)
    return np.einsum("tvij,vj->tvi", rotations[:, owner], relative) + positions[:, owner]
