"""A user's rig and its animation from a file of any format Kinema reads (BVH, FBX, glTF), in metres.

Imports read a take through here; `kinema export-onto-rig` and the studio read the target rig through here.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from app.engine.io.bvh import BVH, read_bvh
from app.engine.io.fbx_import import read_fbx
from app.engine.io.gltf_import import read_gltf
from app.engine.io.retarget import (
    KNOWN_UNITS,
    RetargetError,
    guess_scale,
    match_joints,
    rest_positions,
    rig_from_bvh,
)
from app.engine.io.rig import RigAnimation
from app.engine.skeleton import BANDAI_NAMCO_21

RIG_SUFFIXES = (".bvh", ".fbx", ".glb", ".gltf")
STATURE = 1.7  # metres: a standing adult, the size a BVH rest pose is compared with to find the file's unit


def _bvh_scale(bvh: BVH) -> float:
    """Metres per unit of a BVH: from the body's size where its joints map onto ours (`guess_scale`), else the
    known unit that makes its rest pose (End Sites included) closest in height to a standing adult."""
    anim, tips = rig_from_bvh(bvh)
    try:
        found = match_joints(anim.rig.names)
    except RetargetError:
        rest = rest_positions(bvh.parents, bvh.offsets)
        points = np.concatenate([rest, np.reshape([rest[j] + tip for j, tip in tips.items()], (-1, 3))])
        height = float(np.ptp(points[:, 1])) or float(np.ptp(points, axis=0).max()) or 1.0
        return min(KNOWN_UNITS.values(), key=lambda unit: abs(np.log(height * unit / STATURE)))
    world = anim.world_positions()
    source = np.full((anim.n_frames, BANDAI_NAMCO_21.n_joints, 3), np.nan)
    for ours, j in found.items():
        source[:, BANDAI_NAMCO_21.index(ours)] = world[:, j]
    return guess_scale(source)[1]


def read_rig_animation(path: str | os.PathLike, animation: str | int | None = None,
                       scale: float | None = None) -> tuple[RigAnimation, dict[int, np.ndarray]]:
    """(the file's rig and animation in metres, leaf tips per joint in metres: BVH End Sites). `animation` picks a
    take in files that hold several (FBX stacks, glTF animations); `scale` is metres per BVH unit (guessed when
    None; FBX and glTF state theirs)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".bvh":
        bvh = read_bvh(path)
        if scale is None:
            scale = _bvh_scale(bvh)
        return rig_from_bvh(bvh, scale)
    if suffix == ".fbx":
        return read_fbx(path, animation), {}
    if suffix in (".glb", ".gltf"):
        return read_gltf(path, animation), {}
    raise ValueError(f"{path.name}: cannot read {suffix or '(no extension)'} rigs; Kinema reads "
                     f"{', '.join(RIG_SUFFIXES)}")
