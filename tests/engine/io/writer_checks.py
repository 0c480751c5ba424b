"""Takes, rigs and bodies for the writer tests, and independent readers (ufbx for FBX, pygltflib plus our own
sampling for glTF) that give back world joint positions in metres."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from app.engine.io.rig import Rig, RigAnimation, SkinnedMesh
from app.engine.skeleton import BANDAI_NAMCO_21


def random_animation(rig: Rig, frames: int, seed: int, fps: float = 20.0, spread: float = 1.0) -> RigAnimation:
    """Smooth random motion: rotations and root path drift from frame to frame (random walks), so curves and
    interpolation are exercised as real motion does."""
    rng = np.random.default_rng(seed)
    rotvecs = rng.normal(size=(rig.n_joints, 3)) + np.cumsum(rng.normal(size=(frames, rig.n_joints, 3)) * 0.1 * spread, 0)
    local = Rotation.from_rotvec(rotvecs.reshape(-1, 3)).as_matrix().reshape(frames, rig.n_joints, 3, 3)
    root = np.cumsum(rng.normal(size=(frames, 3)) * 0.05, 0) + [0.0, 0.95, 0.0]
    return RigAnimation(rig, root, local, fps)


def twisted_rig(seed: int = 3) -> Rig:
    """The Bandai Namco rig with a random rest rotation on every joint (as FBX/glTF rigs from DCC tools have)."""
    base = Rig.from_skeleton(BANDAI_NAMCO_21)
    rest = Rotation.from_rotvec(np.random.default_rng(seed).normal(size=(base.n_joints, 3))).as_matrix()
    return Rig(base.names, base.parents, base.offsets, rest)


def box_body(rig: Rig) -> SkinnedMesh:
    """A small box around each joint of the rest pose, rigidly bound to it (plus a few vertices shared by two
    joints, to check blended weights)."""
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64) * 0.03
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    tris = np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))])
    rest = rig.bind_matrices()[:, :3, 3]
    vertices = np.concatenate([rest[j] + corners for j in range(rig.n_joints)])
    faces = np.concatenate([tris + 8 * j for j in range(rig.n_joints)])
    joints = np.repeat(np.arange(rig.n_joints), 8)[:, None].repeat(2, 1)
    weights = np.tile([1.0, 0.0], (len(vertices), 1))
    for j, p in enumerate(rig.parents):  # the first corner of each box also follows the parent, half and half
        if p >= 0:
            joints[8 * j, 1], weights[8 * j] = p, (0.5, 0.5)
    return SkinnedMesh(vertices, faces, joints, weights)


def linear_blend_skinning(anim: RigAnimation, mesh: SkinnedMesh, frame: int) -> np.ndarray:
    """(V, 3) the body's vertices posed at `frame`: sum of weight x world(t) x inverse bind per joint."""
    rig = anim.rig
    world = np.zeros((rig.n_joints, 4, 4))
    for j, p in enumerate(rig.parents):
        local = np.eye(4)
        local[:3, :3] = anim.local_rotations[frame, j]
        local[:3, 3] = anim.root_positions[frame] if p < 0 else rig.offsets[j]
        world[j] = local if p < 0 else world[p] @ local
    skin = world @ np.linalg.inv(rig.bind_matrices())  # (J, 4, 4)
    v = np.concatenate([mesh.vertices, np.ones((len(mesh.vertices), 1))], 1)
    posed = np.einsum("vkab,vb->vka", skin[mesh.joints], v)[..., :3]
    return (posed * mesh.weights[..., None]).sum(1)


# ----------------------------------------------------------------------------- independent readers


def ufbx_positions(path: Path, names: tuple[str, ...], frames: list[int], fps: float, skinned: bool = False):
    """World joint positions (len(frames), J, 3) in metres evaluated by ufbx (and with `skinned`, the body's
    vertices too). ufbx 0.0.5 crashes when a list of a scene is read twice, or when an object outlives the scene
    it came from: each list is read once here, and every scene and object is kept until the end."""
    import ufbx

    scene = ufbx.load_file(str(path))
    metres = scene.settings.unit_meters
    stacks = list(scene.anim_stacks)
    anim = stacks[0].anim
    joints, bodies, kept = [], [], []
    for f in frames:
        posed = ufbx.evaluate_scene(scene, anim, f / fps, evaluate_skinning=skinned)
        nodes = list(posed.nodes)
        kept.append((posed, nodes))
        by_name = {node.name: node for node in nodes}
        joints.append([tuple(by_name[n].node_to_world.c3) for n in names])
        if skinned:
            meshes = list(posed.meshes)
            kept.append(meshes)
            bodies.append(np.array([tuple(v) for v in list(meshes[0].skinned_position.values)]))
    joints = np.array(joints) * metres
    return (joints, np.array(bodies) * metres) if skinned else joints


def _quat_matrix(q: np.ndarray) -> np.ndarray:
    return Rotation.from_quat(q).as_matrix()  # glTF and scipy both order quaternions (x, y, z, w)


class _GLTFSampler:
    """A glTF file read by pygltflib, its animation sampled here by the glTF rules (LINEAR: lerp for translation,
    slerp for rotation) and the node tree composed."""

    def __init__(self, path: Path) -> None:
        import pygltflib as gl

        self.gl = gl
        gltf = self.gltf = gl.GLTF2().load(str(path))
        self.blob = gltf.binary_blob()
        if self.blob is None:  # a .gltf: the buffer is a data URI
            gltf.convert_buffers(gl.BufferFormat.BINARYBLOB)
            self.blob = gltf.binary_blob()
        self.nodes = gltf.nodes
        self.parent = {c: i for i, n in enumerate(self.nodes) for c in (n.children or [])}
        animation = gltf.animations[0]
        self.tracks = {}
        for channel in animation.channels:
            sampler = animation.samplers[channel.sampler]
            assert sampler.interpolation == "LINEAR"
            self.tracks[(channel.target.node, channel.target.path)] = (self.read(sampler.input)[:, 0],
                                                                       self.read(sampler.output))
        self.index = {n.name: i for i, n in enumerate(self.nodes)}

    def read(self, index: int) -> np.ndarray:
        gl, acc = self.gl, self.gltf.accessors[index]
        view = self.gltf.bufferViews[acc.bufferView]
        width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc.type]
        dtype = {gl.FLOAT: "<f4", gl.UNSIGNED_SHORT: "<u2", gl.UNSIGNED_INT: "<u4"}[acc.componentType]
        start = view.byteOffset + (acc.byteOffset or 0)
        return np.frombuffer(self.blob, dtype, acc.count * width, start).reshape(acc.count, width).astype(np.float64)

    def local(self, i: int, t: float) -> np.ndarray:
        m = np.eye(4)
        node, tracks = self.nodes[i], self.tracks
        translation, rotation = node.translation or [0, 0, 0], node.rotation or [0, 0, 0, 1]
        if (i, "translation") in tracks:
            times, values = tracks[(i, "translation")]
            translation = [np.interp(t, times, values[:, k]) for k in range(3)]
        if (i, "rotation") in tracks:
            times, values = tracks[(i, "rotation")]
            if len(times) == 1:
                times, values = np.concatenate([times, times + 1.0]), np.concatenate([values, values])
            k = int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2))
            u = np.clip((t - times[k]) / (times[k + 1] - times[k]), 0.0, 1.0)
            q0, q1 = values[k], values[k + 1] * (1 if values[k] @ values[k + 1] >= 0 else -1)
            angle = np.arccos(np.clip(q0 @ q1, -1.0, 1.0))
            rotation = q0 if angle < 1e-9 else (np.sin((1 - u) * angle) * q0 + np.sin(u * angle) * q1) / np.sin(angle)
        m[:3, :3], m[:3, 3] = _quat_matrix(np.asarray(rotation)), translation
        return m

    def world(self, i: int, t: float) -> np.ndarray:
        return self.local(i, t) if i not in self.parent else self.world(self.parent[i], t) @ self.local(i, t)


def glb_positions(path: Path, names: tuple[str, ...], frames: list[int], fps: float) -> np.ndarray:
    """World joint positions (len(frames), J, 3) in metres, as a glTF player finds them."""
    g = _GLTFSampler(path)
    return np.array([[g.world(g.index[n], f / fps)[:3, 3] for n in names] for f in frames])


def glb_vertices(path: Path, frames: list[int], fps: float) -> np.ndarray:
    """The skinned body's vertices (len(frames), V, 3) in metres, as a glTF player skins them: the weighted sum
    over JOINTS_0/WEIGHTS_0 of joint world matrix x inverse bind matrix x rest position."""
    g = _GLTFSampler(path)
    skin = g.gltf.skins[0]
    inverse = g.read(skin.inverseBindMatrices).reshape(-1, 4, 4).transpose(0, 2, 1)  # stored column-major
    node = next(n for n in g.nodes if n.mesh is not None)
    primitive = g.gltf.meshes[node.mesh].primitives[0]
    rest = g.read(primitive.attributes.POSITION)
    joints = g.read(primitive.attributes.JOINTS_0).astype(np.int64)
    weights = g.read(primitive.attributes.WEIGHTS_0)
    rest = np.concatenate([rest, np.ones((len(rest), 1))], 1)
    out = []
    for f in frames:
        skinning = np.stack([g.world(j, f / fps) @ inverse[k] for k, j in enumerate(skin.joints)])  # (J, 4, 4)
        posed = np.einsum("vkab,vb->vka", skinning[joints], rest)[..., :3]
        out.append((posed * weights[..., None]).sum(1))
    return np.array(out)
