"""glTF 2.0 writer (.glb binary, or .gltf with the data embedded) through pygltflib: what web viewers, Godot,
Unity (glTFast) and Unreal (Interchange) load.

The rig becomes one node per joint (rest translation and rotation), bound by a skin whose inverse bind matrices
come from the rest pose; the take is one animation with a LINEAR sampler per channel: the root's translation and
every joint's rotation (quaternions kept on one hemisphere from frame to frame, so slerp never takes the long
way round). A SkinnedMesh, when given, is a mesh node with positions, normals, JOINTS_0/WEIGHTS_0 (the four
heaviest influences per vertex, renormalised). glTF is always metres, Y up, +Z front: no unit option.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pygltflib as gl
import torch

from app.engine.io.atomic import write_atomic
from app.engine.io.rig import RigAnimation, SkinnedMesh
from app.engine.rotations import matrix_to_quat, qfix

GENERATOR = "Kinema"


def _quats(rotations: np.ndarray) -> np.ndarray:
    """(T, J, 3, 3) -> (T, J, 4) glTF quaternions (x, y, z, w), each joint's sign continuous over time."""
    q = qfix(matrix_to_quat(torch.from_numpy(np.asarray(rotations, dtype=np.float64))), dim=0).numpy()  # (w, x, y, z)
    return q[..., [1, 2, 3, 0]]


class _Buffer:
    """One binary buffer that accessors are appended to, each view 4-byte aligned."""

    def __init__(self, gltf: gl.GLTF2) -> None:
        self.gltf, self.data = gltf, bytearray()

    def accessor(self, array: np.ndarray, kind: str, component: int, target: int | None = None,
                 bounds: bool = False) -> int:
        array = np.ascontiguousarray(array)
        self.data += b"\x00" * (-len(self.data) % 4)
        self.gltf.bufferViews.append(gl.BufferView(buffer=0, byteOffset=len(self.data), byteLength=array.nbytes,
                                                   target=target))
        self.data += array.tobytes()
        flat = array.reshape(len(array), -1)
        self.gltf.accessors.append(gl.Accessor(
            bufferView=len(self.gltf.bufferViews) - 1, componentType=component, count=len(array), type=kind,
            min=flat.min(0).tolist() if bounds else None, max=flat.max(0).tolist() if bounds else None))
        return len(self.gltf.accessors) - 1


def gltf_document(anim: RigAnimation, mesh: SkinnedMesh | None = None) -> gl.GLTF2:
    """The take (and body) as a glTF document whose one buffer is its binary blob."""
    if anim.n_frames == 0:
        raise ValueError("the take has no frames to export")
    rig = anim.rig
    gltf = gl.GLTF2(asset=gl.Asset(version="2.0", generator=GENERATOR), scene=0)
    buffer = _Buffer(gltf)
    children: list[list[int]] = [[] for _ in rig.names]
    for j, p in enumerate(rig.parents):
        if p >= 0:
            children[p].append(j)
    rest = _quats(rig.rest_rotations[None])[0]
    for j, name in enumerate(rig.names):
        gltf.nodes.append(gl.Node(name=name, translation=rig.offsets[j].tolist(), rotation=rest[j].tolist(),
                                  children=children[j] or None))
    roots = [0]

    inverse_bind = np.linalg.inv(rig.bind_matrices()).transpose(0, 2, 1).astype("<f4")  # column-major per matrix
    gltf.skins.append(gl.Skin(name="Skeleton", joints=list(range(rig.n_joints)), skeleton=0,
                              inverseBindMatrices=buffer.accessor(inverse_bind, gl.MAT4, gl.FLOAT)))
    if mesh is not None:
        gltf.meshes.append(_mesh(buffer, mesh, rig.n_joints))
        gltf.nodes.append(gl.Node(name="Body", mesh=0, skin=0))
        roots.append(len(gltf.nodes) - 1)
    gltf.scenes.append(gl.Scene(name="Scene", nodes=roots))

    times = buffer.accessor((np.arange(anim.n_frames) / anim.fps).astype("<f4"), gl.SCALAR, gl.FLOAT, bounds=True)
    quats = _quats(anim.local_rotations).astype("<f4")  # (T, J, 4)
    outputs = [(0, "translation", buffer.accessor(anim.root_positions.astype("<f4"), gl.VEC3, gl.FLOAT))]
    outputs += [(j, "rotation", buffer.accessor(quats[:, j], gl.VEC4, gl.FLOAT)) for j in range(rig.n_joints)]
    gltf.animations.append(gl.Animation(
        name="Take",
        samplers=[gl.AnimationSampler(input=times, output=out, interpolation="LINEAR") for _, _, out in outputs],
        channels=[gl.AnimationChannel(sampler=k, target=gl.AnimationChannelTarget(node=j, path=path))
                  for k, (j, path, _) in enumerate(outputs)]))
    gltf.buffers.append(gl.Buffer(byteLength=len(buffer.data)))
    gltf.set_binary_blob(bytes(buffer.data))
    return gltf


def _mesh(buffer: _Buffer, mesh: SkinnedMesh, n_joints: int) -> gl.Mesh:
    """Positions, normals, triangle indices and the four heaviest skin influences per vertex."""
    mesh.check(n_joints)
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    joints, weights = np.asarray(mesh.joints), np.asarray(mesh.weights, dtype=np.float64)
    pad = max(0, 4 - joints.shape[1])
    joints = np.pad(joints, ((0, 0), (0, pad)))
    weights = np.pad(weights, ((0, 0), (0, pad)))
    heaviest = np.argsort(-weights, axis=1, kind="stable")[:, :4]
    joints = np.take_along_axis(joints, heaviest, 1)
    weights = np.take_along_axis(weights, heaviest, 1)
    weights /= np.maximum(weights.sum(1, keepdims=True), 1e-12)
    attributes = gl.Attributes(
        POSITION=buffer.accessor(vertices.astype("<f4"), gl.VEC3, gl.FLOAT, gl.ARRAY_BUFFER, bounds=True),
        NORMAL=buffer.accessor(mesh.vertex_normals().astype("<f4"), gl.VEC3, gl.FLOAT, gl.ARRAY_BUFFER),
        JOINTS_0=buffer.accessor(np.where(weights > 0, joints, 0).astype("<u2"), gl.VEC4, gl.UNSIGNED_SHORT,
                                 gl.ARRAY_BUFFER),
        WEIGHTS_0=buffer.accessor(weights.astype("<f4"), gl.VEC4, gl.FLOAT, gl.ARRAY_BUFFER))
    indices = buffer.accessor(np.asarray(mesh.faces, dtype="<u4").reshape(-1), gl.SCALAR, gl.UNSIGNED_INT,
                              gl.ELEMENT_ARRAY_BUFFER)
    return gl.Mesh(name="Body", primitives=[gl.Primitive(attributes=attributes, indices=indices)])


def write_gltf(anim: RigAnimation, path: str | os.PathLike, mesh: SkinnedMesh | None = None,
               frame_range: tuple[int, int] | None = None, fps: float | None = None) -> None:
    """Write frames `frame_range` (end exclusive) of the animation, resampled to `fps` when given, with the
    skinned `mesh` when given: binary .glb, or for a .gltf path one JSON file with the data embedded.
    The write is atomic."""
    path = Path(path)
    gltf = gltf_document(anim.frames(frame_range).resampled(fps), mesh)
    if path.suffix.lower() == ".gltf":
        gltf.convert_buffers(gl.BufferFormat.DATAURI)
        data = gltf.gltf_to_json().encode("utf-8")
    else:
        data = b"".join(gltf.save_to_bytes())
    write_atomic(path, data)
