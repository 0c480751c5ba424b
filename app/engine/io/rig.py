"""A rig and its animation: what every writer (BVH, FBX, glTF) takes and every reader gives back.

Kept apart from `Skeleton`, which also carries what training needs (feet, body parts, mirroring): a rig here is
only a hierarchy with a rest pose, so a user's own rig (Mixamo, UE mannequin, Rigify, CMU) fits it as well.
All lengths are in metres, Y up.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from app.engine.data.resample import check_fps, resample_animation
from app.engine.skeleton import Skeleton, forward_kinematics


def check_frame_range(n_frames: int, frame_range: tuple[int, int]) -> tuple[int, int]:
    """(start, end) of a take's frames start..end-1, or an error naming the take's frames."""
    start, end = (int(f) for f in frame_range)
    last = n_frames - 1
    if not 0 <= start <= last:
        raise ValueError(f"frame {start} is outside the take (0–{last})")
    if end <= start:
        raise ValueError(f"the frame range {start}–{end} is empty: its end is exclusive and must come after its start")
    if end - 1 > last:
        raise ValueError(f"frame {end - 1} is outside the take (0–{last}); the range end is exclusive, "
                         f"so {last + 1} exports up to the last frame")
    return start, end


@dataclass(frozen=True, eq=False)
class Rig:
    names: tuple[str, ...]
    parents: tuple[int, ...]           # parents[j] < j; -1 for the root (joint 0)
    offsets: np.ndarray                # (J, 3) rest translation of each joint in its parent's frame, metres
    rest_rotations: np.ndarray         # (J, 3, 3) rest local rotation of each joint (identity for BVH-style rigs)

    def __post_init__(self) -> None:
        n = len(self.names)
        if len(self.parents) != n or self.offsets.shape != (n, 3) or self.rest_rotations.shape != (n, 3, 3):
            raise ValueError(f"rig of {n} joints has {len(self.parents)} parents, offsets {self.offsets.shape} "
                             f"and rest rotations {self.rest_rotations.shape}")
        if n == 0 or self.parents[0] != -1 or any(not (0 <= p < j) for j, p in enumerate(self.parents) if j > 0):
            raise ValueError("a rig's parents must come before their children, with joint 0 the root")

    @property
    def n_joints(self) -> int:
        return len(self.names)

    def bind_matrices(self) -> np.ndarray:
        """(J, 4, 4) world matrices of the joints in the rest pose (root at its offset), column vectors, metres:
        the bind pose that skinned meshes are bound in and that exporters store."""
        out = np.zeros((self.n_joints, 4, 4))
        for j, p in enumerate(self.parents):
            local = np.eye(4)
            local[:3, :3], local[:3, 3] = self.rest_rotations[j], self.offsets[j]
            out[j] = local if p < 0 else out[p] @ local
        return out

    @classmethod
    def from_skeleton(cls, skeleton: Skeleton) -> Rig:
        """The training skeleton as a rig whose rest rotations are all identity (as in its BVH export)."""
        n = skeleton.n_joints
        return cls(tuple(skeleton.joint_names), tuple(skeleton.parents), np.asarray(skeleton.offsets, dtype=np.float64),
                   np.repeat(np.eye(3)[None], n, axis=0))

    def rest_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """(world rotations (J, 3, 3), world positions (J, 3)) of the rest pose, the root at the origin."""
        rotations, positions = _world(self.parents, self.offsets, np.zeros(3), self.rest_rotations)
        return rotations, positions


@dataclass(frozen=True, eq=False)
class RigAnimation:
    rig: Rig
    root_positions: np.ndarray         # (T, 3) world position of joint 0, metres
    local_rotations: np.ndarray        # (T, J, 3, 3) full local rotation of each joint (root: world), rest included
    fps: float

    def __post_init__(self) -> None:
        t = self.root_positions.shape[0]
        if self.root_positions.shape != (t, 3) or self.local_rotations.shape != (t, self.rig.n_joints, 3, 3):
            raise ValueError(f"animation of {t} frames has root positions {self.root_positions.shape} and local "
                             f"rotations {self.local_rotations.shape} for a rig of {self.rig.n_joints} joints")
        check_fps(self.fps)

    @property
    def n_frames(self) -> int:
        return self.root_positions.shape[0]

    def frames(self, frame_range: tuple[int, int] | None) -> RigAnimation:
        """Frames start..end-1 (all for None), with messages that name the take's frames."""
        if frame_range is None:
            return self
        start, end = check_frame_range(self.n_frames, frame_range)
        return RigAnimation(self.rig, self.root_positions[start:end], self.local_rotations[start:end], self.fps)

    def resampled(self, fps: float | None) -> RigAnimation:
        """The same motion at `fps` (None or the same rate: unchanged); rotations slerped, so bones stay rigid."""
        if fps is None or fps == self.fps:
            return self
        root, local = resample_animation(self.root_positions, self.local_rotations, self.fps, check_fps(fps))
        return RigAnimation(self.rig, root, local, float(fps))

    def world_positions(self) -> np.ndarray:
        """(T, J, 3) joint positions in metres: what every reader of an exported file must find again."""
        return forward_kinematics(self.rig.parents, self.rig.offsets, torch.from_numpy(self.root_positions),
                                  torch.from_numpy(self.local_rotations)).numpy()

    def world_rotations(self) -> np.ndarray:
        """(T, J, 3, 3) joint orientations in the world."""
        return _world(self.rig.parents, self.rig.offsets, self.root_positions, self.local_rotations)[0]

    @classmethod
    def from_world(cls, names: tuple[str, ...], parents: tuple[int, ...], rest: np.ndarray, frames: np.ndarray,
                   fps: float) -> RigAnimation:
        """A rig and its animation from world transforms, as FBX and glTF readers evaluate them.

        rest (J, 4, 4) and frames (T, J, 4, 4) are joint-to-world matrices in metres; scale is divided out. A
        rig keeps its bones rigid and only its root translates, so an animated translation of the root's only
        child (a pelvis under a still `root` bone, as in UE and Rigify rigs) is moved onto the root, which
        puts every joint where the file has it.
        """
        rest_r, rest_p = _rotation(rest[..., :3, :3]), rest[..., :3, 3]
        rot, pos = _rotation(frames[..., :3, :3]), frames[..., :3, 3]
        offsets, rest_local = np.zeros((len(names), 3)), rest_r.copy()
        local = rot.copy()
        for j, p in enumerate(parents):
            if p >= 0:
                offsets[j] = rest_r[p].T @ (rest_p[j] - rest_p[p])
                rest_local[j] = rest_r[p].T @ rest_r[j]
                local[:, j] = np.swapaxes(rot[:, p], -1, -2) @ rot[:, j]
        root = pos[:, 0]
        children = [j for j, p in enumerate(parents) if p == 0]
        if len(children) == 1:
            c = children[0]
            root = pos[:, c] - np.einsum("tij,j->ti", rot[:, 0], offsets[c])
        return cls(Rig(tuple(names), tuple(parents), offsets, rest_local), root, local, float(fps))


def _rotation(m: np.ndarray) -> np.ndarray:
    """The rotation of matrices (..., 3, 3) that may carry scale: the nearest orthonormal matrix (polar part)."""
    u, _, vh = np.linalg.svd(m)
    return u @ vh


def _world(parents, offsets: np.ndarray, root: np.ndarray, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(world rotations (..., J, 3, 3), world positions (..., J, 3)) by forward kinematics."""
    rot, pos = np.empty_like(local), np.empty(local.shape[:-1])
    for j, p in enumerate(parents):
        if p < 0:
            rot[..., j, :, :], pos[..., j, :] = local[..., j, :, :], root
        else:
            rot[..., j, :, :] = rot[..., p, :, :] @ local[..., j, :, :]
            pos[..., j, :] = pos[..., p, :] + (rot[..., p, :, :] @ offsets[j])
    return rot, pos


@dataclass(frozen=True, eq=False)
class SkinnedMesh:
    """A body bound to a rig in its rest pose; rigid skinning is one weight of 1 per vertex."""
    vertices: np.ndarray               # (V, 3) rest-pose world positions, metres
    faces: np.ndarray                  # (F, 3) vertex indices, counter-clockwise seen from outside
    joints: np.ndarray                 # (V, K) joint indices per vertex
    weights: np.ndarray                # (V, K) skin weights per vertex, each row summing to 1

    def check(self, n_joints: int) -> None:
        """A clear error for a body that does not fit a rig of `n_joints` (writers call it before writing)."""
        v = self.vertices.shape[0]
        if self.vertices.shape != (v, 3) or self.faces.ndim != 2 or self.faces.shape[1] != 3:
            raise ValueError(f"the body needs vertices (V, 3) and triangles (F, 3), got {self.vertices.shape} "
                             f"and {self.faces.shape}")
        if self.joints.shape != self.weights.shape or self.joints.shape[0] != v:
            raise ValueError(f"the body's skin has joints {self.joints.shape} and weights {self.weights.shape} "
                             f"for {v} vertices")
        if self.faces.size and (self.faces.min() < 0 or self.faces.max() >= v):
            raise ValueError(f"the body's triangles use vertices outside 0–{v - 1}")
        if self.joints.size and (self.joints.min() < 0 or self.joints.max() >= n_joints):
            raise ValueError(f"the body is skinned to joints outside the rig's 0–{n_joints - 1}")

    def vertex_normals(self) -> np.ndarray:
        """(V, 3) unit normals of the rest pose."""
        return vertex_normals(self.vertices, self.faces)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) unit normals of a mesh (a posed one too): area-weighted sums of the triangles around each vertex."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    corners = vertices[faces]  # (F, 3 corners, 3)
    face_normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = np.stack([np.bincount(faces.reshape(-1), np.repeat(face_normals[:, k], 3), len(vertices))
                        for k in range(3)], axis=1)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.where(length > 0, normals / np.maximum(length, 1e-12), [0.0, 1.0, 0.0])
