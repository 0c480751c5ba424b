"""FBX import: a user's skeleton and one animation stack as a RigAnimation, read and evaluated by ufbx.

ufbx converts the file to metres and Y up on load and evaluates every curve (pre/post rotations, pivots, Euler
orders included), so this module only picks the skeleton's nodes and reads their world matrices, in the rest
pose and at each frame. ufbx 0.0.5 crashes when one list of a scene is read twice, or when a node outlives its
scene: each list is read once here, and each evaluated scene is held while its nodes are read.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import ufbx

from app.engine.io.rig import RigAnimation


class FBXImportError(ValueError):
    """An FBX file that holds no skeleton or animation we can read; the message names the file and the reason."""


def _matrix(m: ufbx.Matrix) -> np.ndarray:
    """A ufbx affine matrix (four columns) as a 4x4 array for column vectors."""
    out = np.eye(4)
    out[:3, :] = np.array([tuple(m.c0), tuple(m.c1), tuple(m.c2), tuple(m.c3)], dtype=np.float64).T
    return out


def _load(path: Path) -> ufbx.Scene:
    try:
        return ufbx.load_file(str(path), target_axes=ufbx.axes_right_handed_y_up, target_unit_meters=1.0,
                              ignore_geometry=True, ignore_embedded=True)
    except ufbx.UfbxError as exc:
        raise FBXImportError(f"{path.name}: not a readable FBX file ({exc})") from None


def stack_names(path: str | os.PathLike) -> list[str]:
    """The names of the file's animation stacks (takes)."""
    return [stack.name for stack in _load(Path(path)).anim_stacks]


def read_fbx(path: str | os.PathLike, animation: str | int | None = None, fps: float | None = None) -> RigAnimation:
    """The file's skeleton (its bone nodes, with the non-bone nodes between them left out) and one animation stack
    (by name or index; the first when None), sampled at `fps` (the file's own rate when None)."""
    path = Path(path)
    scene = _load(path)
    nodes = list(scene.nodes)
    stacks = list(scene.anim_stacks)
    settings = scene.settings
    is_bone = [node.attrib_type == ufbx.ElementType.BONE for node in nodes]
    if not any(is_bone):
        raise FBXImportError(f"{path.name}: the file has no skeleton (no bone nodes)")
    index = {node.element_id: i for i, node in enumerate(nodes)}

    def bone_parent(i: int) -> int | None:
        node = nodes[i].parent
        while node is not None:
            k = index[node.element_id]
            if is_bone[k]:
                return k
            node = node.parent
        return None

    order, parents = [], []
    for i in sorted((i for i in range(len(nodes)) if is_bone[i]), key=lambda i: nodes[i].node_depth):
        p = bone_parent(i)
        parents.append(-1 if p is None else order.index(p))
        order.append(i)
    if parents.count(-1) != 1:
        roots = [nodes[i].name for i, p in zip(order, parents) if p < 0]
        raise FBXImportError(f"{path.name}: the skeleton has {len(roots)} root bones ({', '.join(roots)}); one is needed")
    names = tuple(nodes[i].name for i in order)
    if len(set(names)) != len(names):
        raise FBXImportError(f"{path.name}: two bones share a name; bones are matched by name")
    rest = np.stack([_matrix(nodes[i].node_to_world) for i in order])

    if stacks:
        names_of = [s.name for s in stacks]
        if animation is None:
            stack = stacks[0]
        elif isinstance(animation, int) and 0 <= animation < len(stacks):
            stack = stacks[animation]
        elif animation in names_of:
            stack = stacks[names_of.index(animation)]
        else:
            raise FBXImportError(f"{path.name} has no animation {animation!r}; it has: {', '.join(names_of)}")
        anim, begin, end = stack.anim, stack.time_begin, stack.time_end
    elif animation is not None:
        raise FBXImportError(f"{path.name} has no animations")
    else:
        anim, begin, end = scene.anim, 0.0, 0.0
    rate = float(fps) if fps else float(settings.frames_per_second or 30.0)
    times = begin + np.arange(int(np.floor((end - begin) * rate + 1e-6)) + 1) / rate
    frames = np.empty((len(times), len(order), 4, 4))
    for t, time in enumerate(times):
        evaluated = ufbx.evaluate_scene(scene, anim, float(time))  # kept alive while its nodes are read
        nodes_t = list(evaluated.nodes)
        frames[t] = [_matrix(nodes_t[i].node_to_world) for i in order]
        del nodes_t, evaluated
    return RigAnimation.from_world(names, tuple(parents), rest, frames, rate)
