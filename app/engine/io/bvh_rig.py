"""A BVH file's own rig and motion as a RigAnimation, so that `kinema convert` writes it to FBX or glTF with the
joints, names, rest offsets and frame rate of the file (no retargeting)."""
from __future__ import annotations

import numpy as np

from app.engine.io.bvh import BVH
from app.engine.io.retarget import KNOWN_UNITS
from app.engine.io.rig import Rig, RigAnimation

STATURE = 1.7  # metres: a standing adult, the size a rest pose is compared with to find the file's unit
MOVING = 1e-6  # file units: a joint whose position channels move more than this changes its bone's length


def guess_unit(bvh: BVH) -> tuple[str, float]:
    """(unit, metres per unit): the known unit that makes the rest pose's height closest to a standing adult's."""
    rest = np.zeros((len(bvh.joints), 3))
    tips = []
    for j, joint in enumerate(bvh.joints):
        rest[j] = joint.offset + (rest[joint.parent] if joint.parent >= 0 else 0.0)
        if joint.end_site is not None:
            tips.append(rest[j] + joint.end_site)
    points = np.concatenate([rest, np.reshape(tips, (-1, 3))])
    height = float(np.ptp(points[:, 1])) or float(np.ptp(points, axis=0).max()) or 1.0
    return min(KNOWN_UNITS.items(), key=lambda unit: abs(np.log(height * unit[1] / STATURE)))


def bvh_animation(bvh: BVH, metres_per_unit: float) -> RigAnimation:
    """The file's rig (rest rotations identity, as BVH has them) and motion, lengths in metres.

    Refused, with the joint named, where the rig cannot be one RigAnimation: several roots, or a joint other
    than the root whose position channels move (a stretching bone)."""
    names = [j.name for j in bvh.joints]
    roots = [n for n, j in zip(names, bvh.joints) if j.parent < 0]
    if len(roots) != 1 or bvh.joints[0].parent >= 0:
        raise ValueError(f"the file has {len(roots)} root joints ({', '.join(roots)}); FBX and glTF export needs one")
    translations = bvh.local_translations()  # (T, J, 3): offsets, or the position channels where a joint has them
    moving = np.abs(translations[:, 1:] - translations[:1, 1:]).max(axis=(0, 2)) > MOVING
    if moving.any():
        joint = names[1 + int(np.argmax(moving))]
        raise ValueError(f"joint {joint} moves by its position channels (only the root {names[0]} may): its bones "
                         f"would change length, which FBX and glTF rigs cannot; convert with --kinema-rig to put "
                         f"the take on Kinema's rig instead")
    offsets = translations[0].copy()
    offsets[0] = bvh.joints[0].offset
    n = len(names)
    rig = Rig(tuple(names), tuple(int(j.parent) for j in bvh.joints), offsets * metres_per_unit,
              np.repeat(np.eye(3)[None], n, axis=0))
    return RigAnimation(rig, translations[:, 0] * metres_per_unit, bvh.local_rotations(), bvh.fps)
