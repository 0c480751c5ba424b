"""Steering a take by where it goes: root waypoints (a path on the ground) and effector pins, made exact.

Coordinates are the take's canonical frame, in metres: the take starts at the origin facing +Z, the character's
left is +X, Y is up. A waypoint is a point (x, z) the root passes, at a given frame or, untied, at the frame its
place along the path gives it. A pin puts a hand, a foot, a toe or the head at (x, y, z) at one frame.

Both are applied to the engine's result as exact corrections, so they hold whatever the model generated:
- the path: the root's offset from each waypoint is interpolated smoothly across the take (zero at the first frame,
  held after the last waypoint) and the body turned about its root so it faces where the new path heads;
- the feet: then the foot clean-up (app.engine.cleanup) holds the planted feet the correction made slide;
- pins: last, each limb is re-solved by two-bone IK (the head by a short chain) so the effector is exactly at its
  pin, the change blended over `PIN_BLEND_FRAMES` frames on each side; a pin out of the limb's reach moves the body
  towards it first, one nearer the limb's root than the folded limb reaches (a hand at its own shoulder) away. A foot pinned over several frames to one place stays there: it does not slide.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.ndimage import gaussian_filter1d

from app.engine.cleanup import CleanupConfig, clean_up_positions, contact_channels
from app.engine.features import features_from_positions, positions_from_features
from app.engine.ik import chain_ik, two_bone_ik
from app.engine.locks import impose_locks, lock_correction
from app.engine.skeleton import Skeleton

PIN_BLEND_FRAMES = 8
TURN_SMOOTHING = 3.0  # frames (Gaussian sigma) for the heading change a path asks for
MIN_TURN_SPEED = 0.2  # m/s: slower than this, where a root heads is noise and the body is not turned


@dataclass(frozen=True)
class Waypoint:
    x: float
    z: float
    frame: int | None = None  # None: the frame its place along the path gives it


@dataclass(frozen=True)
class Pin:
    joint: str  # as in the exported BVH: Hand_L, Foot_R, Toes_L, Head...
    frame: int
    position: tuple[float, float, float]


@dataclass(frozen=True)
class Constraints:
    waypoints: tuple[Waypoint, ...] = ()
    pins: tuple[Pin, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.waypoints or self.pins)


_NUMBER = r"\s*(-?\d+(?:\.\d*)?(?:[eE]-?\d+)?)\s*"


def parse_waypoints(text: str) -> tuple[Waypoint, ...]:
    """'x,z@frame;x,z;...' -> waypoints (metres; @frame optional)."""
    points = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        match = re.fullmatch(f"{_NUMBER},{_NUMBER}(?:@\\s*(\\d+)\\s*)?", part)
        if match is None:
            raise ValueError(f"cannot read the waypoint {part!r}: write x,z or x,z@frame in metres, e.g. 0,2@40;1.5,4")
        x, z, frame = match.groups()
        points.append(Waypoint(float(x), float(z), None if frame is None else int(frame)))
    if not points:
        raise ValueError("no waypoints: write them as x,z@frame;x,z;... in metres")
    return tuple(points)


def parse_pin(text: str) -> Pin:
    """'JOINT@FRAME=x,y,z' -> a pin."""
    match = re.fullmatch(f"\\s*(\\w+)\\s*@\\s*(\\d+)\\s*={_NUMBER},{_NUMBER},{_NUMBER}", text)
    if match is None:
        raise ValueError(f"cannot read the pin {text!r}: write JOINT@FRAME=x,y,z in metres, e.g. Hand_R@60=0.3,1.2,0.5")
    joint, frame, x, y, z = match.groups()
    return Pin(joint, int(frame), (float(x), float(y), float(z)))


def constraints_to_dict(constraints: Constraints) -> dict:
    """The constraints as plain JSON values (a project's take keeps them so)."""
    return {"waypoints": [{"x": w.x, "z": w.z, "frame": w.frame} for w in constraints.waypoints],
            "pins": [{"joint": p.joint, "frame": p.frame, "position": list(p.position)} for p in constraints.pins]}


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object) -> bool:
    """A finite real number (not a bool)."""
    return _whole(value) or (isinstance(value, float) and bool(np.isfinite(value)))


def constraints_from_dict(data: object) -> Constraints:
    """`constraints_to_dict`'s values back; ValueError naming the entry that is not a waypoint or a pin."""
    number, whole = _number, _whole
    if not isinstance(data, dict) or not isinstance(data.get("waypoints", []), list) \
            or not isinstance(data.get("pins", []), list):
        raise ValueError(f"the constraints {data!r:.60} are not {{waypoints: [...], pins: [...]}}")
    waypoints, pins = [], []
    for w in data.get("waypoints", []):
        if not (isinstance(w, dict) and number(w.get("x")) and number(w.get("z"))
                and (w.get("frame") is None or whole(w["frame"]))):
            raise ValueError(f"the waypoint {w!r:.60} is not {{x, z, frame}} in metres and a frame number (or null)")
        waypoints.append(Waypoint(float(w["x"]), float(w["z"]), w.get("frame")))
    for p in data.get("pins", []):
        position = p.get("position") if isinstance(p, dict) else None
        if not (isinstance(p, dict) and isinstance(p.get("joint"), str) and whole(p.get("frame"))
                and isinstance(position, list) and len(position) == 3 and all(map(number, position))):
            raise ValueError(f"the pin {p!r:.60} is not {{joint, frame, position: [x, y, z]}}")
        pins.append(Pin(p["joint"], p["frame"], tuple(float(v) for v in position)))
    return Constraints(tuple(waypoints), tuple(pins))


def effector_chains(skeleton: Skeleton) -> dict[int, tuple[tuple[int, ...], int]]:
    """Pinnable joints -> (the joints IK solves, the joint that reaches the target): hip, knee, ankle for an ankle
    (and for a toe, carried by its ankle); upper arm, forearm, hand for a hand; the spine up to the head for the
    head (the hips stay)."""
    p = skeleton.parents
    chains: dict[int, tuple[tuple[int, ...], int]] = {}
    for ankle, toe in (skeleton.foot_left, skeleton.foot_right):
        chains[ankle] = chains[toe] = ((p[p[ankle]], p[ankle], ankle), ankle)
    for chain in skeleton.kinematic_chains:
        leaf = chain[-1]
        if leaf in chains or len(chain) < 3:
            continue
        joints = tuple(chain[1:]) if chain[0] == 0 else tuple(chain[-3:])  # the spine, or an arm off the chest
        chains[leaf] = (joints, leaf)
    return chains


def check_constraints(constraints: Constraints, skeleton: Skeleton, n_frames: int) -> None:
    """ValueError, in the user's words, for a waypoint or pin that cannot be honoured in this take."""
    pinnable = effector_chains(skeleton)
    for w in constraints.waypoints:
        if w.frame is not None and not 0 <= w.frame < n_frames:
            raise ValueError(f"the waypoint {w.x:g},{w.z:g}@{w.frame}: frame {w.frame} is outside the take (0–{n_frames - 1})")
        if w.frame == 0 and np.hypot(w.x, w.z) > 0.01:
            raise ValueError(f"the waypoint {w.x:g},{w.z:g}@0: a take starts at the origin (0,0) at frame 0")
    tied = [w.frame for w in constraints.waypoints if w.frame is not None]
    if tied != sorted(set(tied)):
        raise ValueError("waypoints tied to frames must come in the order of their frames, one per frame")
    for pin in constraints.pins:
        try:
            joint = skeleton.index(pin.joint)
        except KeyError:
            joint = -1
        if joint not in pinnable:
            names = ", ".join(skeleton.joint_names[j] for j in sorted(pinnable))
            raise ValueError(f"cannot pin {pin.joint!r}: pins go on a hand, a foot, a toe or the head ({names})")
        if not 0 <= pin.frame < n_frames:
            raise ValueError(f"the pin on {pin.joint} at frame {pin.frame} is outside the take (0–{n_frames - 1})")
    seen = {(p.joint, p.frame) for p in constraints.pins}
    if len(seen) != len(constraints.pins):
        raise ValueError("two pins on the same joint at the same frame: keep one")


def waypoint_frames(waypoints: tuple[Waypoint, ...], n_frames: int) -> np.ndarray:
    """The frame of every waypoint: its own, or for an untied one the frame its arc length along the path gives
    it between the tied points around it (the take's first frame at the origin; an untied last waypoint is at
    the last frame)."""
    points = np.array([[0.0, 0.0]] + [[w.x, w.z] for w in waypoints])
    frames = np.array([0.0] + [np.nan if w.frame is None else float(w.frame) for w in waypoints])
    if np.isnan(frames[-1]):
        frames[-1] = n_frames - 1
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=-1))])
    known = np.flatnonzero(~np.isnan(frames))
    frames[np.isnan(frames)] = np.interp(arc[np.isnan(frames)], arc[known], frames[known])
    return frames[1:]


def _yaw(vectors: np.ndarray) -> np.ndarray:
    """Heading angle about +Y of ground vectors (..., 2: x, z), 0 along +Z."""
    return np.arctan2(vectors[..., 0], vectors[..., 1])


def follow_path(positions: np.ndarray, waypoints: tuple[Waypoint, ...], fps: float,
                n_frames: int | None = None) -> np.ndarray:
    """positions (T, J, 3) whose root passes every waypoint at its frame exactly (see the module docstring);
    `n_frames` (default T) is the take's length, where an untied last waypoint goes (positions may carry one more
    frame, `append_last`'s)."""
    n = len(positions)
    frames = waypoint_frames(waypoints, n if n_frames is None else n_frames)
    root = positions[:, 0, [0, 2]]  # (T, 2)
    keys = np.concatenate([[0.0], frames])
    offsets = np.concatenate([[[0.0, 0.0]], np.array([[w.x, w.z] for w in waypoints]) - root[np.rint(frames).astype(int)]])
    keys, first = np.unique(np.rint(keys).astype(int), return_index=True)
    offsets = offsets[first]
    t = np.arange(n)
    if len(keys) == 1:
        correction = np.zeros((n, 2))
    else:
        correction = PchipInterpolator(keys, offsets, axis=0, extrapolate=False)(np.clip(t, keys[0], keys[-1]))
    new_root = root + correction

    # turn the body where the path heads elsewhere than the motion did, by the smoothed change of heading
    old_v = gaussian_filter1d(np.gradient(root, axis=0), TURN_SMOOTHING, axis=0, mode="nearest")
    new_v = gaussian_filter1d(np.gradient(new_root, axis=0), TURN_SMOOTHING, axis=0, mode="nearest")
    speed = np.minimum(np.linalg.norm(old_v, axis=-1), np.linalg.norm(new_v, axis=-1)) * fps
    moving = speed > MIN_TURN_SPEED
    turn = np.angle(np.exp(1j * (_yaw(new_v) - _yaw(old_v))))
    if not moving.any():
        turn = np.zeros(n)
    else:  # where the root stands still its direction is noise: keep the turn of the nearest moving frames
        valid = np.flatnonzero(moving)
        turn = np.interp(t, valid, np.unwrap(turn[valid]))
    # a turn is trusted as the root moves faster (a walk in place sways its root from side to side)
    trust = np.clip((speed - MIN_TURN_SPEED) / MIN_TURN_SPEED, 0.0, 1.0)
    trust = gaussian_filter1d(trust, 2 * TURN_SMOOTHING, mode="nearest")
    turn = gaussian_filter1d(turn * trust, 2 * TURN_SMOOTHING, mode="nearest") / np.maximum(trust, 1e-3) * \
        np.minimum(1.0, trust / 0.5)
    turn -= turn[0]  # the first frame keeps facing +Z
    c, s = np.cos(turn)[:, None], np.sin(turn)[:, None]
    local = positions - positions[:, :1] * [1.0, 0.0, 1.0]  # about the root's vertical axis
    out = local.copy()
    out[..., 0] = c * local[..., 0] + s * local[..., 2]
    out[..., 2] = -s * local[..., 0] + c * local[..., 2]
    out[..., 0] += new_root[:, None, 0]
    out[..., 2] += new_root[:, None, 1]
    return out


def pin_conflicts(positions: np.ndarray, constraints: Constraints, tolerance: float = 0.01) -> list[str]:
    """What the user should hear about a constrained take's positions (T, J, 3): each tied waypoint its root misses
    by more than `tolerance` metres, which happens only where a pin at that frame was out of reach and won."""
    said = []
    for w in constraints.waypoints:
        if w.frame is None or not 0 <= w.frame < len(positions):
            continue
        miss = float(np.hypot(positions[w.frame, 0, 0] - w.x, positions[w.frame, 0, 2] - w.z))
        pins = [p.joint for p in constraints.pins if p.frame == w.frame]
        if miss > tolerance and pins:
            said.append(f"the root misses the waypoint {w.x:g},{w.z:g}@{w.frame} by {100 * miss:.0f} cm: the pin on "
                        f"{', '.join(pins)} at that frame is out of reach and wins (move the pin or the waypoint)")
    return said


def _move_subtree(positions: np.ndarray, skeleton: Skeleton, top: int, shift: np.ndarray) -> None:
    """Shift the joint `top` and everything below it by shift (T, 3), in place."""
    stack = [top]
    while stack:
        j = stack.pop()
        positions[:, j] += shift
        stack.extend(skeleton.children[j])


def apply_pins(positions: np.ndarray, skeleton: Skeleton, pins: tuple[Pin, ...], root_frames: tuple[int, ...] = (),
               blend: int = PIN_BLEND_FRAMES) -> np.ndarray:
    """positions (T, J, 3) with every pinned effector exactly at its pin (see the module docstring); the root
    stays where it is at `root_frames` (the waypoints') unless a pin at that very frame is out of reach."""
    out = np.array(positions, dtype=np.float64)
    n = len(out)
    chains = effector_chains(skeleton)
    by_joint: dict[int, list[Pin]] = {}
    for pin in pins:
        by_joint.setdefault(skeleton.index(pin.joint), []).append(pin)
    # the spine first: bending it carries the arms, whose pins come after
    for joint in sorted(by_joint, key=lambda j: len(chains[j][0]) == 3):
        joint_pins = sorted(by_joint[joint], key=lambda p: p.frame)
        frame_of = {p.frame: p.position for p in joint_pins}
        frames = np.array(sorted(frame_of))
        joints, effector = chains[joint]
        carried = out[frames, joint] - out[frames, effector]  # a toe is placed by its ankle
        wanted = np.array([frame_of[f] for f in frames]) - carried
        # a pin beyond the limb's reach, or nearer its root than the folded limb gets (a hand pinned at its own
        # shoulder): the whole body first comes towards it or steps away from it, blended as the pin is
        bones = np.linalg.norm(np.diff(out[frames][:, list(joints)], axis=1), axis=-1)  # (K, chain bones)
        reach = bones.sum(-1, keepdims=True)
        fold = np.maximum(2.0 * bones.max(-1, keepdims=True) - reach, 0.0)  # longest bone less the others
        gap = wanted - out[frames, joints[0]]
        distance = np.linalg.norm(gap, axis=-1, keepdims=True)
        along = np.where(distance > 1e-9, gap, out[frames, joints[1]] - out[frames, joints[0]])  # pin at the root
        along /= np.maximum(np.linalg.norm(along, axis=-1, keepdims=True), 1e-12)
        shift = gap - along * np.clip(distance, 1.01 * fold, 0.99 * reach)  # the root ends within reach
        if np.abs(shift).max() > 0:
            still = np.setdiff1d(np.asarray(root_frames, dtype=np.int64), frames)
            keys = np.concatenate([frames, still])
            order = np.argsort(keys)
            shifts = np.concatenate([shift, np.zeros((len(still), 3))])[order]
            out += _blend(shifts, keys[order], n, blend)[:, None]
        target = out[:, effector] + _blend(wanted - out[frames, effector], frames, n, blend)  # (T, 3)
        before = out.copy()
        near = np.flatnonzero(np.abs(target - out[:, effector]).max(-1) > 0)  # the pins' frames and their blends
        if len(joints) == 3:
            solved = two_bone_ik(*(out[near, j] for j in joints), target[near])
            out[near, joints[1]], out[near, joints[2]] = solved
        else:
            out[near[:, None], list(joints)] = chain_ik(out[near][:, list(joints)], target[near])
        for j in joints[1:]:  # what hangs on a moved joint (a toe, the arms on the chest) moves with it
            for child in skeleton.children[j]:
                if child not in joints:
                    _move_subtree(out, skeleton, child, out[:, j] - before[:, j])
    return out


def _blend(deltas: np.ndarray, frames: np.ndarray, n: int, blend: int) -> np.ndarray:
    """Per-frame offsets (n, 3): exactly deltas (K, 3) at the sorted frames (K,), fading over `blend` frames
    on each side (app.engine.locks' pose correction, with a zero root)."""
    offsets = np.stack([np.zeros_like(deltas), deltas], axis=1)  # (K, 2, 3): joint 0 is the "root"
    return lock_correction(offsets, frames, n, blend)[:, 1]


def constrain(features: np.ndarray, skeleton: Skeleton, constraints: Constraints, cleanup: bool = True,
              fps: float = 20.0) -> np.ndarray:
    """features (T, D) following the waypoints, feet cleaned up (when `cleanup`), effectors at their pins."""
    n = len(features)
    check_constraints(constraints, skeleton, n)
    positions = positions_from_features(np.asarray(features, dtype=np.float64), skeleton.n_joints, append_last=True)
    if constraints.waypoints:
        positions = follow_path(positions, constraints.waypoints, fps, n)
    channels, config = contact_channels(features, skeleton), CleanupConfig(fps=fps)
    if cleanup:
        positions = clean_up_positions(positions, skeleton, channels, config=config)
    if constraints.pins:
        tied = tuple(int(f) for f in np.rint(waypoint_frames(constraints.waypoints, n))) if constraints.waypoints else ()
        positions = apply_pins(positions, skeleton, constraints.pins, tied)
    if cleanup:  # again, on the feet the corrections moved, leaving the pinned frames as they are
        pinned = np.zeros(len(positions), bool)
        pinned[[p.frame for p in constraints.pins]] = True
        positions = clean_up_positions(positions, skeleton, channels, pinned, config)
    return features_from_positions(positions, skeleton).astype(features.dtype)


def constrain_kept(features: np.ndarray, skeleton: Skeleton, constraints: Constraints, keep: np.ndarray,
                   cleanup: bool = True, fps: float = 20.0) -> np.ndarray:
    """features (T, D) of an edit that kept the frames `keep` (T,), following the constraints in the frames it
    changed while every kept frame stays exact: the whole take is constrained (`constrain`), then the kept frames
    are put back, the changed ones corrected smoothly (app.engine.locks) from the kept frames that border them to
    the constrained frames, which stay where they were made. Constraints on kept frames are the kept take's
    business: they are not re-applied."""
    n = len(features)
    check_constraints(constraints, skeleton, n)
    original = positions_from_features(np.asarray(features, np.float64), skeleton.n_joints, append_last=True)
    made = positions_from_features(constrain(features, skeleton, constraints, cleanup, fps).astype(np.float64),
                                   skeleton.n_joints, append_last=True)  # (T + 1, J, 3)
    kept = np.append(keep, keep[-1])  # the extra last frame goes with the last frame
    held = np.zeros(n + 1, bool)
    if constraints.waypoints:
        held[np.rint(waypoint_frames(constraints.waypoints, n)).astype(int)] = True
    held[[p.frame for p in constraints.pins]] = True
    held &= ~kept
    edge = kept & (np.r_[False, ~kept[:-1]] | np.r_[~kept[1:], False])  # kept frames next to changed ones
    keys = np.flatnonzero(edge | held)  # a few per edit, however long the take
    out = made
    if len(keys):
        targets = np.where(kept[keys, None, None], original[keys], made[keys])  # (K, J, 3)
        out = impose_locks(made, targets, keys, PIN_BLEND_FRAMES)
    out[kept] = original[kept]
    return features_from_positions(out, skeleton).astype(features.dtype)
