"""glTF 2.0 import (.glb, .gltf): a user's skinned rig and one of its animations as a RigAnimation.

The container is split here (a GLB is a JSON chunk and a binary chunk; pygltflib's parser takes half a minute on
a 3 MB file with 14,000 accessors, the JSON module a few milliseconds); the sampling is ours (glTF keeps keyframes per channel, in seconds): every node's
translation, rotation and scale are sampled at one frame rate (STEP, LINEAR with slerp for rotations, or
CUBICSPLINE), composed down the node tree (nodes above the skeleton, such as Blender's armature object, included)
and handed to `RigAnimation.from_world`. glTF is in metres with Y up, as our rigs are.
"""
from __future__ import annotations

import base64
import json
import os
import struct
from pathlib import Path

import numpy as np
import torch

from app.engine.io.rig import RigAnimation
from app.engine.rotations import qslerp, quat_to_matrix

_COMPONENTS = {5120: (np.int8, 127.0), 5121: (np.uint8, 255.0), 5122: (np.int16, 32767.0),
               5123: (np.uint16, 65535.0), 5125: (np.uint32, None), 5126: (np.float32, None)}
_WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}
DEFAULT_FPS = 30.0  # for a file whose animation has a single key


class GLTFImportError(ValueError):
    """A glTF file that holds no rig or animation we can read; the message names the file and the reason."""


def _load(path: Path) -> tuple[dict, list[bytes]]:
    """(the glTF JSON, its buffers' bytes) of a .glb or .gltf file (buffers as data URIs or files beside it)."""
    data = path.read_bytes()
    binary = b""
    if data[:4] == b"glTF":
        if len(data) < 20:
            raise GLTFImportError(f"{path.name}: the file ends inside its header")
        length, kind = struct.unpack_from("<I4s", data, 12)
        if kind != b"JSON":
            raise GLTFImportError(f"{path.name}: the first chunk of a .glb must be JSON")
        text = data[20:20 + length]
        rest = 20 + length
        if rest + 8 <= len(data):
            bin_length, = struct.unpack_from("<I", data, rest)
            binary = data[rest + 8:rest + 8 + bin_length]
    else:
        text = data
    try:
        gltf = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise GLTFImportError(f"{path.name}: not a glTF file (neither a .glb nor glTF JSON)") from None
    buffers = []
    for buffer in gltf.get("buffers", []):
        uri = buffer.get("uri")
        if uri is None:
            buffers.append(binary)
        elif uri.startswith("data:"):
            buffers.append(base64.b64decode(uri.split(",", 1)[1]))
        else:
            buffers.append((path.parent / uri).read_bytes())
    return gltf, buffers


def _accessor(gltf: dict, buffers: list[bytes], index: int) -> np.ndarray:
    """(count, width) float64 values of an accessor (normalised integers scaled to [-1, 1] or [0, 1])."""
    acc = gltf["accessors"][index]
    dtype, norm = _COMPONENTS[acc["componentType"]]
    width, count = _WIDTH[acc["type"]], acc["count"]
    view = gltf["bufferViews"][acc["bufferView"]]
    itemsize = np.dtype(dtype).itemsize
    stride = view.get("byteStride") or itemsize * width
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    raw = np.frombuffer(buffers[view["buffer"]], dtype=np.uint8, count=stride * (count - 1) + itemsize * width,
                        offset=start)
    rows = np.lib.stride_tricks.as_strided(raw, (count, itemsize * width), (stride, 1))
    values = np.ascontiguousarray(rows).view(dtype).reshape(count, width).astype(np.float64)
    return np.maximum(values / norm, -1.0) if norm and acc.get("normalized") else values


def _sample(times: np.ndarray, values: np.ndarray, mode: str, at: np.ndarray, rotation: bool) -> np.ndarray:
    """Values (K, C) keyed at `times` (K,) sampled at `at` (T,), held before the first and after the last key."""
    if mode == "CUBICSPLINE":
        tangent_in, points, tangent_out = values[0::3], values[1::3], values[2::3]
    else:
        points = values
    k = np.clip(np.searchsorted(times, at, side="right") - 1, 0, len(times) - 1)
    k1 = np.minimum(k + 1, len(times) - 1)
    span = np.where(k1 > k, times[k1] - times[k], 1.0)
    t = np.clip((at - times[k]) / span, 0.0, 1.0)[:, None]
    if mode == "STEP" or len(times) == 1:
        out = points[k]
    elif mode == "CUBICSPLINE":
        t2, t3 = t * t, t * t * t
        out = ((2 * t3 - 3 * t2 + 1) * points[k] + (t3 - 2 * t2 + t) * span[:, None] * tangent_out[k]
               + (-2 * t3 + 3 * t2) * points[k1] + (t3 - t2) * span[:, None] * tangent_in[k1])
    elif rotation:
        q0, q1 = (torch.from_numpy(points[i][:, [3, 0, 1, 2]]) for i in (k, k1))  # glTF xyzw -> our wxyz
        out = qslerp(q0, q1, torch.from_numpy(t)).numpy()[:, [1, 2, 3, 0]]
    else:
        out = points[k] * (1 - t) + points[k1] * t
    if rotation:
        out = out / np.linalg.norm(out, axis=-1, keepdims=True)
    return out


def _matrices(translation: np.ndarray, rotation_xyzw: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(T, 4, 4) node-to-parent matrices from (T, 3) translations, (T, 4) quaternions, (T, 3) scales."""
    m = np.zeros(translation.shape[:-1] + (4, 4))
    r = quat_to_matrix(torch.from_numpy(rotation_xyzw[..., [3, 0, 1, 2]])).numpy()
    m[..., :3, :3] = r * scale[..., None, :]
    m[..., :3, 3] = translation
    m[..., 3, 3] = 1.0
    return m


def _fps(times: list[np.ndarray]) -> float:
    """The frame rate the keys were baked at: the smallest gap between keys, as a whole rate where it is one."""
    gaps = np.concatenate([np.diff(t) for t in times]) if times else np.zeros(0)
    gaps = gaps[gaps > 1e-6]
    if gaps.size == 0:
        return DEFAULT_FPS
    fps = 1.0 / gaps.min()
    return float(round(fps)) if abs(fps - round(fps)) < 0.01 else float(fps)


def animation_names(path: str | os.PathLike) -> list[str]:
    """The names of the file's animations (glTF files often hold many clips)."""
    gltf, _ = _load(Path(path))
    return [a.get("name") or f"animation {i}" for i, a in enumerate(gltf.get("animations", []))]


def read_gltf(path: str | os.PathLike, animation: str | int | None = None, fps: float | None = None) -> RigAnimation:
    """The file's skeleton (its first skin's joints) and one animation (by name or index; the first when None)
    sampled at `fps` (the rate its keys were baked at when None). A file without animation gives one rest frame.
    A damaged file (a missing field, an index out of range, a buffer too short) is a GLTFImportError naming it."""
    path = Path(path)
    try:
        anim = _read_gltf(path, animation, fps)
    except GLTFImportError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, struct.error, OverflowError) as exc:
        raise GLTFImportError(f"{path.name}: a damaged glTF file ({type(exc).__name__}: {exc})") from None
    if not (np.isfinite(anim.root_positions).all() and np.isfinite(anim.local_rotations).all()):
        raise GLTFImportError(f"{path.name}: the animation holds missing (NaN or infinite) values")
    return anim


def _read_gltf(path: Path, animation: str | int | None, fps: float | None) -> RigAnimation:
    gltf, buffers = _load(path)
    nodes, animations = gltf.get("nodes", []), gltf.get("animations", [])
    if not gltf.get("skins"):
        raise GLTFImportError(f"{path.name}: the file has no skeleton (no skin)")
    joints = list(gltf["skins"][0]["joints"])
    parent_of = {c: i for i, node in enumerate(nodes) for c in node.get("children", [])}

    clip = None
    if animations:
        names = [a.get("name") for a in animations]
        if animation is None:
            clip = animations[0]
        elif isinstance(animation, int) and 0 <= animation < len(names):
            clip = animations[animation]
        elif animation in names:
            clip = animations[names.index(animation)]
        else:
            raise GLTFImportError(f"{path.name} has no animation {animation!r}; it has: {', '.join(map(str, names))}")
    elif animation is not None:
        raise GLTFImportError(f"{path.name} has no animations")

    channels = {}
    for channel in clip["channels"] if clip is not None else []:
        target = channel["target"]
        if target.get("node") is not None and target["path"] in ("translation", "rotation", "scale"):
            sampler = clip["samplers"][channel["sampler"]]
            times = _accessor(gltf, buffers, sampler["input"])[:, 0]
            channels[target["node"], target["path"]] = (times, _accessor(gltf, buffers, sampler["output"]),
                                                        sampler.get("interpolation", "LINEAR"))
    times = [t for t, _, _ in channels.values()]
    rate = float(fps) if fps else _fps(times)
    start = min((t[0] for t in times), default=0.0)
    end = max((t[-1] for t in times), default=0.0)
    at = start + np.arange(int(np.floor((end - start) * rate + 1e-6)) + 1) / rate

    def local(node_index: int, animated: bool) -> np.ndarray:
        """(T, 4, 4) node-to-parent matrices; the node's own default transform when not animated."""
        node = nodes[node_index]
        if "matrix" in node and not any((node_index, p) in channels for p in ("translation", "rotation", "scale")):
            return np.broadcast_to(np.array(node["matrix"], dtype=np.float64).reshape(4, 4).T, (len(at), 4, 4))
        trs = {"translation": node.get("translation", [0.0, 0.0, 0.0]),
               "rotation": node.get("rotation", [0.0, 0.0, 0.0, 1.0]), "scale": node.get("scale", [1.0, 1.0, 1.0])}
        values = {}
        for prop, default in trs.items():
            key = (node_index, prop)
            if animated and key in channels:
                values[prop] = _sample(*channels[key][:2], channels[key][2], at, prop == "rotation")
            else:
                values[prop] = np.broadcast_to(np.array(default, dtype=np.float64), (len(at), len(default)))
        return _matrices(values["translation"], values["rotation"], values["scale"])

    def world(node_index: int, animated: bool, cache: dict) -> np.ndarray:
        if node_index not in cache:
            parent = parent_of.get(node_index)
            m = local(node_index, animated)
            cache[node_index] = m if parent is None else world(parent, animated, cache) @ m
        return cache[node_index]

    in_skin = set(joints)
    order, parents, seen = [], [], set()
    for j in joints:  # parents before children: walk each joint's chain of skin ancestors first
        chain, node = [], j
        while node is not None and node in in_skin and node not in seen:
            chain.append(node)
            node = parent_of.get(node)
            while node is not None and node not in in_skin:
                node = parent_of.get(node)
        for n in reversed(chain):
            seen.add(n)
            order.append(n)
    for n in order:
        p = parent_of.get(n)
        while p is not None and p not in in_skin:
            p = parent_of.get(p)
        parents.append(-1 if p is None else order.index(p))
    if parents.count(-1) != 1:
        roots = [nodes[n].get("name") for n, p in zip(order, parents) if p < 0]
        raise GLTFImportError(f"{path.name}: the skeleton has {len(roots)} root joints ({', '.join(map(str, roots))}); "
                              "one is needed")
    rest_cache, anim_cache = {}, {}
    rest = np.stack([world(n, False, rest_cache)[0] for n in order])  # (J, 4, 4)
    frames = np.stack([world(n, True, anim_cache) for n in order], axis=1)  # (T, J, 4, 4)
    names = tuple(nodes[n].get("name") or f"joint{n}" for n in order)
    if len(set(names)) != len(names):
        raise GLTFImportError(f"{path.name}: two joints share a name; joints are matched by name")
    return RigAnimation.from_world(names, tuple(parents), rest, frames, rate)
