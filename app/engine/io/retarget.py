"""Import: a user's mocap BVH, on whatever skeleton it was captured, as canonical joint positions on ours.

Four steps: map the file's joints onto ours by name (known naming schemes, case-insensitive, namespace prefixes
such as "mixamorig:" ignored); resample the file's rotations to our frame rate (slerp, so its bones stay rigid);
take the world positions of the mapped joints in metres; retarget them: every bone of ours points where the
matching source bone points but has our length, built outwards from the root, whose path is scaled by the ratio
of our leg length to the source's (so strides fit the new legs). The result has exactly our bone lengths.
"""
from __future__ import annotations

import re

import numpy as np

from app.engine.data.resample import check_fps
from app.engine.features import canonicalize
from app.engine.io.bvh import BVH
from app.engine.io.convert import resample_bvh
from app.engine.skeleton import BANDAI_NAMCO_21, SMPL_22, Skeleton


class RetargetError(ValueError):
    """The file cannot be put on our skeleton; the message says which joints are missing and what the file has."""


def _sided(left_side: dict[str, str], left: str, right: str) -> dict[str, str]:
    """A left-side map plus its right side: source names swap their `left` prefix, ours swap "_L" for "_R"."""
    right_side = {right + source[len(left):]: ours.replace("_L", "_R") for source, ours in left_side.items()}
    return {**left_side, **right_side}


# Source naming scheme -> {source joint name: our joint name}, per target skeleton. Names are compared in lower
# case without namespace prefixes. A scheme without toes (cgspeed's CMU conversion) gets them from the foot's End
# Site, or, lacking one, synthesised in front of the ankle (see `_toe_positions`).
JOINT_NAME_MAPS: dict[str, dict[str, dict[str, str]]] = {
    BANDAI_NAMCO_21.name: {
        "bandai-namco": {name: name for name in BANDAI_NAMCO_21.joint_names},
        "smpl": {
            "pelvis": "Hips", "spine1": "Spine", "spine3": "Chest", "neck": "Neck", "head": "Head",
            **_sided({"left_collar": "Shoulder_L", "left_shoulder": "UpperArm_L", "left_elbow": "LowerArm_L",
                      "left_wrist": "Hand_L", "left_hip": "UpperLeg_L", "left_knee": "LowerLeg_L",
                      "left_ankle": "Foot_L", "left_foot": "Toes_L"}, "left", "right"),
        },
        "mixamo": {
            "Hips": "Hips", "Spine": "Spine", "Spine2": "Chest", "Neck": "Neck", "Head": "Head",
            **_sided({"LeftShoulder": "Shoulder_L", "LeftArm": "UpperArm_L", "LeftForeArm": "LowerArm_L",
                      "LeftHand": "Hand_L", "LeftUpLeg": "UpperLeg_L", "LeftLeg": "LowerLeg_L",
                      "LeftFoot": "Foot_L", "LeftToeBase": "Toes_L"}, "Left", "Right"),
        },
        "cmu-cgspeed": {  # B. Hahne's "Daz-friendly" conversion of the CMU database
            "hip": "Hips", "abdomen": "Spine", "chest": "Chest", "neck": "Neck", "head": "Head",
            **_sided({"lCollar": "Shoulder_L", "lShldr": "UpperArm_L", "lForeArm": "LowerArm_L", "lHand": "Hand_L",
                      "lThigh": "UpperLeg_L", "lShin": "LowerLeg_L", "lFoot": "Foot_L"}, "l", "r"),
        },
        "cmu-asf": {  # the CMU database's own ASF/AMC skeleton converted to BVH
            "hip": "Hips", "upperback": "Spine", "thorax": "Chest", "upperneck": "Neck", "head": "Head",
            **_sided({"lclavicle": "Shoulder_L", "lhumerus": "UpperArm_L", "lradius": "LowerArm_L",
                      "lwrist": "Hand_L", "lfemur": "UpperLeg_L", "ltibia": "LowerLeg_L", "lfoot": "Foot_L",
                      "ltoes": "Toes_L"}, "l", "r"),
        },
    },
    SMPL_22.name: {"smpl": {name: name for name in SMPL_22.joint_names}},
}

# Metres per file unit that files are written in; the one that makes the file's body closest in size to ours wins.
KNOWN_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "CMU ASF unit (inch / 0.45)": 0.0254 / 0.45}
TOE_LENGTH = 0.10  # metres in front of the ankle for a synthesised toe; only its direction survives retargeting
ZERO_BONE = 1e-3  # metres: a shorter source bone (e.g. an ASF clavicle starting at the thorax) has no direction


def _key(name: str) -> str:
    """Lower case, without a namespace ("mixamorig:Hips", "Armature|Hips") or a "mixamorig_" prefix."""
    return re.sub(r"^mixamorig\d*_", "", re.split(r"[:|]", name)[-1].lower())


def match_joints(names: list[str], skeleton: Skeleton = BANDAI_NAMCO_21) -> dict[str, int]:
    """Our joint name -> index of the file's joint, by the first known naming scheme that covers our skeleton.

    Every joint must be found except the toes, which can be derived from the feet.
    """
    schemes = JOINT_NAME_MAPS.get(skeleton.name)
    if not schemes:
        raise RetargetError(f"importing onto skeleton {skeleton.name} is not supported; "
                            f"supported: {', '.join(JOINT_NAME_MAPS)}")
    toes = {skeleton.joint_names[skeleton.foot_left[1]], skeleton.joint_names[skeleton.foot_right[1]]}
    index = {}
    for j, name in enumerate(names):
        index.setdefault(_key(name), j)
    closest: tuple[int, str, list[str]] = (-1, "", [])
    for scheme, mapping in schemes.items():
        found = {ours: index[_key(src)] for src, ours in mapping.items() if _key(src) in index}
        missing = [n for n in skeleton.joint_names if n not in found and n not in toes]
        if not missing:
            return found
        closest = max(closest, (len(found), scheme, missing), key=lambda c: c[0])
    _, scheme, missing = closest
    raise RetargetError(
        f"cannot find these joints of the {skeleton.name} skeleton in the file: {', '.join(missing)} "
        f"(closest naming scheme: {scheme}; known: {', '.join(schemes)}). The file's joints are: {', '.join(names)}")


def _rest_pose(parents: list[int] | tuple[int, ...], offsets: np.ndarray) -> np.ndarray:
    """(J, 3) joint positions with every rotation zero."""
    rest = np.zeros((len(parents), 3))
    for j, p in enumerate(parents):
        rest[j] = offsets[j] + (rest[p] if p >= 0 else 0.0)
    return rest


def _up_to_root(skeleton: Skeleton, joint: int) -> list[int]:
    """`joint` and its ancestors, the root excluded: the bones ending at them lead from the root to `joint`."""
    path = []
    while joint != 0:
        path.append(joint)
        joint = skeleton.parents[joint]
    return path


def _chain_length(positions: np.ndarray, skeleton: Skeleton, joints: list[int]) -> float:
    """Summed lengths of the bones ending at `joints`, mean over frames; positions (T, J, 3)."""
    parents = [skeleton.parents[j] for j in joints]
    return float(np.linalg.norm(positions[:, joints] - positions[:, parents], axis=-1).sum(-1).mean())


def _leg(skeleton: Skeleton) -> list[int]:
    """Thigh and shin: the bones from the left ankle up to the hip joint (not the pelvis bone to it)."""
    return [j for j in _up_to_root(skeleton, skeleton.foot_left[0]) if skeleton.parents[j] != 0]


def guess_scale(positions: np.ndarray, skeleton: Skeleton = BANDAI_NAMCO_21) -> tuple[str, float]:
    """(unit, metres per unit) of source positions (T, J, 3) mapped onto our joints, in file units.

    The bones from the left ankle up to the highest joint (head) measure body size in any pose; the known unit
    that brings their length closest to ours (our skeleton is an adult of about 1.7 m) is the file's unit.
    """
    rest = _rest_pose(skeleton.parents, skeleton.offsets)
    stature = _up_to_root(skeleton, skeleton.foot_left[0]) + _up_to_root(skeleton, int(np.argmax(rest[:, 1])))
    ours = _chain_length(rest[None], skeleton, stature)
    source = _chain_length(positions, skeleton, stature)
    return min(KNOWN_UNITS.items(), key=lambda unit: abs(np.log(source * unit[1] / ours)))


def _rest_forward(bvh: BVH, left_hip: int, right_hip: int) -> np.ndarray:
    """Unit forward direction of the file's rest pose, from its hips (left x up); +Z if they coincide."""
    rest = _rest_pose(bvh.parents, bvh.offsets)
    forward = np.cross((rest[left_hip] - rest[right_hip]) * [1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    norm = np.linalg.norm(forward)
    return forward / norm if norm > 0 else np.array([0.0, 0.0, 1.0])


def _toe_positions(bvh: BVH, foot: int, forward: np.ndarray, scale: float) -> np.ndarray:
    """(T, 3) toe positions in file units for a file without toe joints: the foot's End Site where it has one,
    else a point TOE_LENGTH in front of the ankle, "front" being the body's forward in the file's rest pose
    turned with the foot."""
    tip = bvh.joints[foot].end_site
    if tip is None:
        tip = forward * TOE_LENGTH / scale
    return bvh.world_positions()[:, foot] + bvh.world_rotations()[:, foot] @ tip


def retarget_positions(source: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Source joint positions (T, J, 3) in metres, in our joint order -> positions with our bone lengths.

    Each bone keeps the source bone's direction; a source bone too short to have one (an ASF clavicle starting
    at the thorax) takes the direction from its parent to the first descendant that is apart from it, and failing
    that our rest direction. The root's path is scaled by our leg length over the source's.
    """
    lengths = np.linalg.norm(skeleton.offsets, axis=-1)
    leg = _leg(skeleton)
    our_leg = _chain_length(_rest_pose(skeleton.parents, skeleton.offsets)[None], skeleton, leg)
    out = np.empty_like(source)
    out[:, 0] = source[:, 0] * our_leg / _chain_length(source, skeleton, leg)
    for j in range(1, skeleton.n_joints):
        p = skeleton.parents[j]
        bone, k = source[:, j] - source[:, p], j
        while skeleton.children[k]:
            k = skeleton.children[k][0]
            short = np.linalg.norm(bone, axis=-1, keepdims=True) < ZERO_BONE
            bone = np.where(short, source[:, k] - source[:, p], bone)
        norm = np.linalg.norm(bone, axis=-1, keepdims=True)
        direction = np.where(norm < ZERO_BONE, skeleton.offsets[j] / lengths[j], bone / np.maximum(norm, ZERO_BONE))
        out[:, j] = out[:, p] + lengths[j] * direction
    return out


def import_bvh(bvh: BVH, skeleton: Skeleton = BANDAI_NAMCO_21, fps: float = 20.0,
               scale: float | None = None, canonical: bool = True) -> np.ndarray:
    """A BVH take as canonical positions (T, J, 3) in metres on `skeleton`, at `fps`, with our bone lengths
    (where the file has them, its root path scaled to our legs, with `canonical=False`).

    `scale` is metres per file unit; None guesses it from the body's size (see `guess_scale`).
    """
    check_fps(fps)
    if scale is not None and not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale (metres per file unit) must be a positive number, got {scale}")
    found = match_joints(bvh.names, skeleton)
    try:
        bvh = resample_bvh(bvh, fps)
    except ValueError as exc:
        raise RetargetError(f"the file cannot be resampled to {fps:g} fps: {exc}") from None
    world = bvh.world_positions()
    source = np.full((bvh.n_frames, skeleton.n_joints, 3), np.nan)
    for j, name in enumerate(skeleton.joint_names):
        if name in found:
            source[:, j] = world[:, found[name]]
    if scale is None:
        _, scale = guess_scale(source, skeleton)
    right_hip, left_hip = (found[skeleton.joint_names[j]] for j in skeleton.face_joints[:2])
    forward = _rest_forward(bvh, left_hip, right_hip)
    for ankle, toe in (skeleton.foot_left, skeleton.foot_right):
        if skeleton.joint_names[toe] not in found:
            source[:, toe] = _toe_positions(bvh, found[skeleton.joint_names[ankle]], forward, scale)
    if not np.isfinite(source).all():
        raise RetargetError("the file's motion has missing (NaN or infinite) values")
    positions = retarget_positions(source * scale, skeleton)
    return canonicalize(positions, skeleton) if canonical else positions
