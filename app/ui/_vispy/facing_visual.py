"""Where the character faces: a head with a nose, a chest plate and an arrow on each foot.

A stick figure reads the same from the front and the back; these cues settle it at a glance. Each cue is a small
mesh built once and placed per frame by its transform alone (a 4x4 matrix: nothing is uploaded per frame, which
keeps playback at full rate on a software renderer; re-uploading even a dozen vertices per frame doubled the
frame's cost). Facing comes from the joints alone (the hips' and shoulders' across vector, as the motion features
define the heading), so it works for every take, imported or generated.
"""
from __future__ import annotations

import numpy as np
from vispy import scene
from vispy.geometry import MeshData, create_cone, create_sphere
from vispy.visuals.transforms import MatrixTransform

from app.engine.skeleton import Skeleton

HEAD = (0.93, 0.9, 0.84, 1.0)
NOSE = (1.0, 0.35, 0.3, 1.0)
CHEST = (1.0, 0.62, 0.25, 0.85)
FOOT = (0.95, 0.95, 0.55, 0.9)
HEAD_RADIUS = 0.095  # metres
UP = np.array([0.0, 1.0, 0.0])
X, Z = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])


def head_joint(skeleton: Skeleton) -> int:
    """The joint named like a head, else the highest joint of the rest pose."""
    named = [j for j, name in enumerate(skeleton.joint_names) if "head" in name.lower()]
    if named:
        return named[0]
    rest = np.zeros((skeleton.n_joints, 3))
    for j, parent in enumerate(skeleton.parents):
        if parent >= 0:
            rest[j] = rest[parent] + skeleton.offsets[j]
    return int(np.argmax(rest[:, 1]))


def _unit(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-6 else fallback


def facing(pose: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """(3,) unit vector on the floor the body faces: up × (right - left) over hips and shoulders."""
    r_hip, l_hip, r_shoulder, l_shoulder = skeleton.face_joints
    across = (pose[r_hip] - pose[l_hip]) + (pose[r_shoulder] - pose[l_shoulder])
    forward = np.cross(UP, across)
    forward[1] = 0.0
    return _unit(forward, Z)


def _placement(x: np.ndarray, y: np.ndarray, z: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """4x4 matrix taking a mesh's local x, y, z axes and origin to these (vispy maps row vectors: v @ M)."""
    m = np.eye(4)
    m[0, :3], m[1, :3], m[2, :3], m[3, :3] = x, y, z, origin
    return m


def cue_placements(pose: np.ndarray, skeleton: Skeleton, head: int) -> dict[str, np.ndarray]:
    """Where each cue's mesh goes for one pose: {"head", "chest", "left_foot", "right_foot"} -> 4x4 matrix."""
    forward = facing(pose, skeleton)
    neck = skeleton.parents[head]
    up = _unit(pose[head] - pose[neck], UP) if neck >= 0 else UP
    side = _unit(np.cross(up, forward), X)
    nose_forward = _unit(np.cross(side, up), forward)
    placements = {"head": _placement(side, up, nose_forward, pose[head] + 0.6 * HEAD_RADIUS * up)}
    r_hip, l_hip, r_shoulder, l_shoulder = skeleton.face_joints
    shoulders = 0.5 * (pose[r_shoulder] + pose[l_shoulder])
    hips = 0.5 * (pose[r_hip] + pose[l_hip])
    # the plate spans the shoulders and 45 % of the way down to the hips, 5 cm in front of the bones
    placements["chest"] = _placement(pose[l_shoulder] - pose[r_shoulder], 0.45 * (hips - shoulders), 0.05 * forward,
                                     shoulders + 0.05 * forward)
    for name, (ankle, toe) in (("left_foot", skeleton.foot_left), ("right_foot", skeleton.foot_right)):
        along = pose[toe] - pose[ankle]
        flat = _unit(np.cross(UP, _unit(along, forward)), side)
        placements[name] = _placement(0.035 * flat, 0.035 * UP, along + 0.06 * _unit(along, forward), pose[ankle])
    return placements


def _head_mesh() -> MeshData:
    """A sphere with a cone for a nose along +z, in one mesh."""
    sphere = create_sphere(10, 16, radius=HEAD_RADIUS)
    cone = create_cone(10, radius=0.35 * HEAD_RADIUS, length=1.2 * HEAD_RADIUS)
    v_s, v_c = sphere.get_vertices(), cone.get_vertices() + np.array([0.0, 0.0, 0.8 * HEAD_RADIUS])
    faces = np.concatenate([sphere.get_faces(), cone.get_faces() + len(v_s)])
    colours = np.concatenate([np.tile(HEAD, (len(v_s), 1)), np.tile(NOSE, (len(v_c), 1))])
    return MeshData(vertices=np.concatenate([v_s, v_c]), faces=faces, vertex_colors=colours)


# the chest plate: x from the right shoulder (-0.5) to the left (0.5), y down; a foot arrow: tip at z = 1
CHEST_MESH = (np.array([[-0.5, 0, 0], [0.5, 0, 0], [0.5, 1, 0], [-0.5, 1, 0]], np.float32),
              np.array([[0, 1, 2], [0, 2, 3]], np.uint32))
FOOT_MESH = (np.array([[1, 0, 0], [-1, 0, 0], [0, 0, 1]], np.float32), np.array([[0, 1, 2]], np.uint32))


class FacingVisual:
    """The facing cues under `parent`; `set_skeleton` once per take, `show_pose` per frame."""

    def __init__(self, parent: scene.Node) -> None:
        self.meshes = {"head": scene.visuals.Mesh(meshdata=_head_mesh(), shading="smooth", parent=parent),
                       "chest": scene.visuals.Mesh(*CHEST_MESH, color=CHEST, parent=parent),
                       "left_foot": scene.visuals.Mesh(*FOOT_MESH, color=FOOT, parent=parent),
                       "right_foot": scene.visuals.Mesh(*FOOT_MESH, color=FOOT, parent=parent)}
        self.meshes["head"].shading_filter.ambient_light = (1, 1, 1, 0.55)  # readable from every side, still round
        for mesh in self.meshes.values():
            mesh.transform = MatrixTransform()
        self.skeleton: Skeleton | None = None
        self._head = 0
        self.forward: np.ndarray | None = None  # (3,) of the pose on screen; tests read it
        self.visible = False

    @property
    def visible(self) -> bool:
        return self.meshes["head"].visible

    @visible.setter
    def visible(self, on: bool) -> None:
        for mesh in self.meshes.values():
            mesh.visible = on

    def set_skeleton(self, skeleton: Skeleton) -> None:
        self.skeleton = skeleton
        self._head = head_joint(skeleton)

    def show_pose(self, pose: np.ndarray) -> None:
        if self.skeleton is None:
            return
        self.forward = facing(pose, self.skeleton)
        for name, matrix in cue_placements(pose, self.skeleton, self._head).items():
            self.meshes[name].transform.matrix = matrix
        self.visible = True

    def nose_tip(self) -> np.ndarray:
        """(3,) where the nose ends, in the scene (for tests and screenshots)."""
        tip = np.array([[0.0, 0.0, 2.0 * HEAD_RADIUS]])
        return self.meshes["head"].transform.map(tip)[0, :3]

    def head_centre(self) -> np.ndarray:
        return self.meshes["head"].transform.map(np.zeros((1, 3)))[0, :3]
