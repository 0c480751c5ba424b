"""Import: a user's mocap (BVH, FBX, glTF), on whatever skeleton it was captured, as canonical joint positions on ours.

Four steps: map the file's joints onto ours by name (known naming schemes, case-insensitive, namespace prefixes
such as "mixamorig:" ignored; or the user's own mapping); resample the file's rotations to our frame rate (slerp, so its bones stay rigid);
take the world positions of the mapped joints in metres; retarget them: every bone of ours points where the
matching source bone points but has our length, built outwards from the root, whose path is scaled by the ratio
of our leg length to the source's (so strides fit the new legs). The result has exactly our bone lengths.
"""
from __future__ import annotations

import re

import numpy as np

from app.engine.data.resample import check_fps, resample_animation
from app.engine.features import canonicalize
from app.engine.io.bvh import BVH
from app.engine.io.pose_fit import pose_rig, posed_positions
from app.engine.io.rig import Rig, RigAnimation
from app.engine.skeleton import BANDAI_NAMCO_21, SMPL_22, Skeleton


class RetargetError(ValueError):
    """The file cannot be put on our skeleton; the message says which joints are missing and what the file has.
    `file_joints` lists the file's joint names when their names are the problem (a mapping by hand can help)."""

    def __init__(self, message: str, file_joints: tuple[str, ...] | list[str] = ()) -> None:
        super().__init__(message)
        self.file_joints = tuple(file_joints)


def _sided(left_side: dict[str, str], left: str, right: str) -> dict[str, str]:
    """A left-side map plus its right side: source names swap their `left` prefix, ours swap "_L" for "_R"."""
    right_side = {right + source[len(left):]: ours.replace("_L", "_R") for source, ours in left_side.items()}
    return {**left_side, **right_side}


def _suffixed(left_side: dict[str, str], left: str, right: str) -> dict[str, str]:
    """Like `_sided` for names that end in their side ("thigh_l", "DEF-thigh.L")."""
    right_side = {source[:-len(left)] + right: ours.replace("_L", "_R") for source, ours in left_side.items()}
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
        "ue-mannequin": {  # Unreal Engine's mannequin (UE4 and UE5), also Mesh2Motion's human rig
            "pelvis": "Hips", "spine_01": "Spine", "spine_03": "Chest", "neck_01": "Neck", "head": "Head",
            **_suffixed({"clavicle_l": "Shoulder_L", "upperarm_l": "UpperArm_L", "lowerarm_l": "LowerArm_L",
                         "hand_l": "Hand_L", "thigh_l": "UpperLeg_L", "calf_l": "LowerLeg_L", "foot_l": "Foot_L",
                         "ball_l": "Toes_L"}, "_l", "_r"),
        },
        "rigify": {  # Blender Rigify's deform bones as its human meta-rig names them
            "DEF-spine": "Hips", "DEF-spine.001": "Spine", "DEF-spine.003": "Chest", "DEF-spine.004": "Neck",
            "DEF-spine.006": "Head",
            **_suffixed({"DEF-shoulder.L": "Shoulder_L", "DEF-upper_arm.L": "UpperArm_L", "DEF-forearm.L": "LowerArm_L",
                         "DEF-hand.L": "Hand_L", "DEF-thigh.L": "UpperLeg_L", "DEF-shin.L": "LowerLeg_L",
                         "DEF-foot.L": "Foot_L", "DEF-toe.L": "Toes_L"}, ".L", ".R"),
        },
        "rigify-named": {  # Rigify deform bones with a named hips, neck and head (Mesh2Motion's base rig)
            "DEF-hips": "Hips", "DEF-spine.001": "Spine", "DEF-spine.003": "Chest", "DEF-neck": "Neck",
            "DEF-head": "Head",
            **_suffixed({"DEF-shoulder.L": "Shoulder_L", "DEF-upper_arm.L": "UpperArm_L", "DEF-forearm.L": "LowerArm_L",
                         "DEF-hand.L": "Hand_L", "DEF-thigh.L": "UpperLeg_L", "DEF-shin.L": "LowerLeg_L",
                         "DEF-foot.L": "Foot_L", "DEF-toe.L": "Toes_L"}, ".L", ".R"),
        },
        "reallusion-cc3": {  # Character Creator 3/4 and iClone
            "CC_Base_Hip": "Hips", "CC_Base_Waist": "Spine", "CC_Base_Spine02": "Chest",
            "CC_Base_NeckTwist01": "Neck", "CC_Base_Head": "Head",
            **_sided({"CC_Base_L_Clavicle": "Shoulder_L", "CC_Base_L_Upperarm": "UpperArm_L",
                      "CC_Base_L_Forearm": "LowerArm_L", "CC_Base_L_Hand": "Hand_L", "CC_Base_L_Thigh": "UpperLeg_L",
                      "CC_Base_L_Calf": "LowerLeg_L", "CC_Base_L_Foot": "Foot_L", "CC_Base_L_ToeBase": "Toes_L"},
                     "CC_Base_L_", "CC_Base_R_"),
        },
    },
    SMPL_22.name: {"smpl": {name: name for name in SMPL_22.joint_names}},
}

# Metres per file unit that files are written in; the one that makes the file's body closest in size to ours wins.
KNOWN_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "CMU ASF unit (inch / 0.45)": 0.0254 / 0.45}
TOE_LENGTH = 0.10  # metres in front of the ankle for a synthesised toe; only its direction survives retargeting


def _key(name: str) -> str:
    """Lower case, without a namespace ("mixamorig:Hips", "Armature|Hips") or a "mixamorig_" prefix."""
    return re.sub(r"^mixamorig\d*_", "", re.split(r"[:|]", name)[-1].lower())


def optional_joints(skeleton: Skeleton) -> set[str]:
    """Our joints a file may lack: the toes, which are derived from the feet."""
    return {skeleton.joint_names[skeleton.foot_left[1]], skeleton.joint_names[skeleton.foot_right[1]]}


def match_joints(names: list[str] | tuple[str, ...], skeleton: Skeleton = BANDAI_NAMCO_21,
                 mapping: dict[str, str] | None = None) -> dict[str, int]:
    """Our joint name -> index of the file's joint, by `mapping` (our name -> the file's name, as the mapping
    dialog saves it) when given, else by the first known naming scheme that covers our skeleton.

    Every joint must be found except the toes, which can be derived from the feet.
    """
    schemes = JOINT_NAME_MAPS.get(skeleton.name)
    if not schemes:
        raise RetargetError(f"importing onto skeleton {skeleton.name} is not supported; "
                            f"supported: {', '.join(JOINT_NAME_MAPS)}")
    toes = optional_joints(skeleton)
    if mapping is not None:
        by_name = {name: j for j, name in enumerate(names)}
        unknown = [f"{ours} -> {theirs}" for ours, theirs in mapping.items()
                   if theirs not in by_name or ours not in skeleton.joint_names]
        missing = [n for n in skeleton.joint_names if n not in mapping and n not in toes]
        if unknown or missing:
            raise RetargetError("the joint mapping does not fit this rig: "
                                + "; ".join(([f"unknown joints in {', '.join(unknown)}"] if unknown else [])
                                            + ([f"no joint given for {', '.join(missing)}"] if missing else [])))
        return {ours: by_name[theirs] for ours, theirs in mapping.items()}
    index = {}
    for j, name in enumerate(names):
        index.setdefault(_key(name), j)
    closest: tuple[int, str, list[str]] = (-1, "", [])
    for scheme, known in schemes.items():
        found = {ours: index[_key(src)] for src, ours in known.items() if _key(src) in index}
        missing = [n for n in skeleton.joint_names if n not in found and n not in toes]
        if not missing:
            return found
        closest = max(closest, (len(found), scheme, missing), key=lambda c: c[0])
    _, scheme, missing = closest
    raise RetargetError(
        f"cannot find these joints of the {skeleton.name} skeleton in the file: {', '.join(missing)} "
        f"(closest naming scheme: {scheme}; known: {', '.join(schemes)}). The file's joints are: {', '.join(names)}. "
        "Map them by hand: the studio asks and remembers the mapping for this rig; "
        "kinema export-onto-rig takes --map mapping.json", names)


def suggest_mapping(names: list[str] | tuple[str, ...], skeleton: Skeleton = BANDAI_NAMCO_21) -> dict[str, str]:
    """Our joint name -> the file's joint name for every joint the closest known naming scheme finds: the mapping
    dialog's starting point for a rig whose names no scheme covers."""
    index = {}
    for j, name in enumerate(names):
        index.setdefault(_key(name), j)
    best: dict[str, str] = {}
    for known in JOINT_NAME_MAPS.get(skeleton.name, {}).values():
        found = {ours: names[index[_key(src)]] for src, ours in known.items() if _key(src) in index}
        if len(found) > len(best):
            best = found
    return best


def rest_positions(parents: list[int] | tuple[int, ...], offsets: np.ndarray) -> np.ndarray:
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
    rest = rest_positions(skeleton.parents, skeleton.offsets)
    stature = _up_to_root(skeleton, skeleton.foot_left[0]) + _up_to_root(skeleton, int(np.argmax(rest[:, 1])))
    ours = _chain_length(rest[None], skeleton, stature)
    source = _chain_length(positions, skeleton, stature)
    return min(KNOWN_UNITS.items(), key=lambda unit: abs(np.log(source * unit[1] / ours)))


def _rest_forward(rig: Rig, left_hip: int, right_hip: int) -> np.ndarray:
    """Unit forward direction of the rig's rest pose, from its hips (left x up); +Z if they coincide."""
    _, rest = rig.rest_pose()
    forward = np.cross((rest[left_hip] - rest[right_hip]) * [1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    norm = np.linalg.norm(forward)
    return forward / norm if norm > 0 else np.array([0.0, 0.0, 1.0])


def _toe_positions(anim: RigAnimation, foot: int, tip: np.ndarray | None, forward: np.ndarray) -> np.ndarray:
    """(T, 3) toe positions in the animation's units for a rig without toe joints: the foot's tip (a BVH End
    Site) where it has one, else a point TOE_LENGTH (in the same units) in front of the ankle, "front" being the
    body's forward in the rig's rest pose turned with the foot."""
    rest_rotation = anim.rig.rest_pose()[0][foot]
    if tip is None:
        tip = rest_rotation.T @ forward * TOE_LENGTH
    return anim.world_positions()[:, foot] + anim.world_rotations()[:, foot] @ tip
def retarget_positions(source: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Source joint positions (T, J, 3) in metres, in our joint order -> positions with our bone lengths.

    Each bone keeps the source bone's direction (`pose_fit.pose_rig`): at the hips and chest the spine and neck
    exactly and the thighs and collars by the best turn about them, as their rest geometry differs between rigs;
    a source bone too short to have a direction (an ASF clavicle starting at the thorax) keeps its parent's turn.
    The root's path is scaled by our leg length over the source's.
    """
    rig = Rig.from_skeleton(skeleton)
    rest = rest_positions(skeleton.parents, skeleton.offsets)
    leg = _leg(skeleton)
    root = source[:, 0] * _chain_length(rest[None], skeleton, leg) / _chain_length(source, skeleton, leg)
    world = pose_rig(rig, (rig.rest_rotations, rest), {j: source[:, j] for j in range(skeleton.n_joints)})
    return posed_positions(rig, world, root)


def import_rig(anim: RigAnimation, skeleton: Skeleton = BANDAI_NAMCO_21, fps: float = 20.0,
               scale: float | None = 1.0, canonical: bool = True, mapping: dict[str, str] | None = None,
               tips: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """A take on any rig as canonical positions (T, J, 3) in metres on `skeleton`, at `fps`, with our bone
    lengths (where the file has them, its root path scaled to our legs, with `canonical=False`).

    `scale` is metres per unit of the animation (1 for FBX and glTF, which readers give in metres); None guesses
    it from the body's size (see `guess_scale`). `mapping` is our joint name -> the rig's (see `match_joints`);
    `tips` are leaf tips (BVH End Sites) per joint in its own frame, which give feet without toe joints a toe.
    """
    check_fps(fps)
    if scale is not None and not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale (metres per file unit) must be a positive number, got {scale}")
    found = match_joints(anim.rig.names, skeleton, mapping)
    if not (np.isfinite(anim.root_positions).all() and np.isfinite(anim.local_rotations).all()):
        raise RetargetError("the file's motion has missing (NaN or infinite) values")
    root, local = resample_animation(anim.root_positions, anim.local_rotations, anim.fps, fps)
    anim = RigAnimation(anim.rig, root, local, fps)
    world = anim.world_positions()
    source = np.full((anim.n_frames, skeleton.n_joints, 3), np.nan)
    for j, name in enumerate(skeleton.joint_names):
        if name in found:
            source[:, j] = world[:, found[name]]
    if scale is None:
        _, scale = guess_scale(source, skeleton)
    right_hip, left_hip = (found[skeleton.joint_names[j]] for j in skeleton.face_joints[:2])
    forward = _rest_forward(anim.rig, left_hip, right_hip)
    for ankle, toe in (skeleton.foot_left, skeleton.foot_right):
        if skeleton.joint_names[toe] not in found:
            foot = found[skeleton.joint_names[ankle]]
            source[:, toe] = _toe_positions(anim, foot, (tips or {}).get(foot), forward / scale)
    if not np.isfinite(source).all():
        raise RetargetError("the file's motion has missing (NaN or infinite) values")
    positions = retarget_positions(source * scale, skeleton)
    return canonicalize(positions, skeleton) if canonical else positions


def rig_from_bvh(bvh: BVH, scale: float = 1.0) -> tuple[RigAnimation, dict[int, np.ndarray]]:
    """(the BVH's rig and motion, its End Sites per joint), lengths times `scale`. BVH rest rotations are identity.
    Rigs keep their bones rigid: position channels below the root count only on the root's only child (Bandai
    Namco's Hips under a still joint_Root), whose motion moves the root instead (`RigAnimation.from_world`)."""
    n = len(bvh.joints)
    rest = np.repeat(np.eye(4)[None], n, axis=0)
    rest[:, :3, 3] = rest_positions(bvh.parents, bvh.offsets) * scale
    frames = np.repeat(np.eye(4)[None, None], bvh.n_frames, axis=0).repeat(n, axis=1)
    frames[..., :3, :3], frames[..., :3, 3] = bvh.world_rotations(), bvh.world_positions() * scale
    tips = {j: joint.end_site * scale for j, joint in enumerate(bvh.joints) if joint.end_site is not None}
    return RigAnimation.from_world(tuple(bvh.names), tuple(int(p) for p in bvh.parents), rest, frames, bvh.fps), tips


def import_bvh(bvh: BVH, skeleton: Skeleton = BANDAI_NAMCO_21, fps: float = 20.0,
               scale: float | None = None, canonical: bool = True, mapping: dict[str, str] | None = None) -> np.ndarray:
    """A BVH take as canonical positions on `skeleton` (see `import_rig`); `scale` is metres per file unit, None
    guesses it from the body's size."""
    if [j.parent for j in bvh.joints].count(-1) != 1:
        raise RetargetError(f"the file has {[j.parent for j in bvh.joints].count(-1)} root joints; one is needed")
    anim, tips = rig_from_bvh(bvh)
    return import_rig(anim, skeleton, fps, scale, canonical, mapping, tips)
