"""Foot-contact clean-up: planted feet held still, legs re-solved by two-bone IK, blended in and out.

Generated feet slide while they are down (skating). After an engine op, each foot's contacts are found from the
features' contact channels and the foot's own height and speed; over each contact the foot (ankle and toe
together) is held where its toe stands on average, the hold fading in and out over a few frames, and the knee is
re-solved from the hip by two-bone IK, bending the way it bent (the pole is the old knee, nudged forward).

Holding a foot while the body travels on can pull the leg straight (the failed attempt in the model card: straight
legs in 30-60 % of walking frames). Two limits keep the knees bent: where a held foot is out of the leg's reach
with the knee at most `max_knee_deg`, the pelvis is lowered (at most `max_pelvis_drop`, smoothly in time); what
is still out of reach shortens the hold (the foot is drawn towards the hip, so it slides a little instead). A knee
that was already straighter than `max_knee_deg` may stay as straight as it was, no straighter.

Locked frames (keys an animator fixed) are not moved at all: the correction fades to zero at them, and a contact
that spans a locked frame is held where the foot stands at that frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.engine.editing import _runs
from app.engine.features import FeatureLayout, features_from_positions, positions_from_features
from app.engine.ik import two_bone_ik
from app.engine.locks import smoothstep
from app.engine.skeleton import Skeleton


@dataclass(frozen=True)
class CleanupConfig:
    fps: float = 20.0
    contact_height: float = 0.06   # metres above the take's floor (lowest foot joint) for a foot to be down
    contact_speed: float = 2.0     # m/s: a foot faster than this is swinging, whatever its contact channel says
    still_speed: float = 0.3       # m/s: a low foot slower than this is down even where the channel says not
    min_contact_frames: int = 2    # shorter contacts are left alone
    min_step_frames: int = 3       # shorter gaps between two contacts of a foot are part of one contact
    blend_frames: int = 4          # frames over which a hold fades in and out
    max_knee_deg: float = 172.0    # the clean-up straightens no knee beyond this (or beyond its own angle)
    max_pelvis_drop: float = 0.05  # metres
    max_hold: float = 0.5          # metres: the farthest a foot is moved to hold it


def _legs(skeleton: Skeleton) -> list[tuple[int, int, int, int]]:
    """(hip, knee, ankle, toe) of the left and the right leg."""
    return [(skeleton.parents[skeleton.parents[a]], skeleton.parents[a], a, t)
            for a, t in (skeleton.foot_left, skeleton.foot_right)]


def foot_contacts(positions: np.ndarray, skeleton: Skeleton, channels: np.ndarray | None = None,
                  config: CleanupConfig = CleanupConfig()) -> np.ndarray:
    """Which feet are planted: (T, 2) flags (left, right) for positions (T, J, 3).

    A foot is planted where it is low (its lower joint within `contact_height` of the take's floor) and either its
    contact channel (features, (T, 4): left ankle/toe, right ankle/toe) says so, or it is nearly still, or both feet
    are low and it is the slower one (a shuffling foot carries the weight); never where it moves faster than
    `contact_speed`. Gaps shorter than `min_step_frames` are filled, then contacts shorter than
    `min_contact_frames` dropped."""
    feet = np.asarray([skeleton.foot_left, skeleton.foot_right])  # (2, 2): (ankle, toe) per foot
    p = positions[:, feet]  # (T, 2, 2, 3)
    floor = p[..., 1].min()
    low = p[..., 1].min(-1) - floor < config.contact_height  # (T, 2)
    speed = np.linalg.norm(np.gradient(p[..., [0, 2]], axis=0), axis=-1).min(-1) * config.fps  # (T, 2)
    down = (speed < config.still_speed) | (low.all(-1, keepdims=True) & (speed == speed.min(-1, keepdims=True)))
    if channels is not None:
        down |= channels.reshape(len(channels), 2, 2).max(-1) > 0.5
    contact = low & down & (speed < config.contact_speed)
    for foot in range(2):
        for a, b in _runs(~contact[:, foot]):  # a foot cannot step in a few frames: it stayed down
            if 0 < a and b < len(contact) and b - a < config.min_step_frames:
                contact[a:b, foot] = True
        for a, b in _runs(contact[:, foot]):
            if b - a < config.min_contact_frames:
                contact[a:b, foot] = False
    return contact


def _distance_to(flags: np.ndarray) -> np.ndarray:
    """Frames (T,) of distance to the nearest frame where flags (T,) is True (inf where there is none)."""
    t = np.arange(len(flags), dtype=np.float64)
    before = np.maximum.accumulate(np.where(flags, t, -np.inf))
    after = np.minimum.accumulate(np.where(flags, t, np.inf)[::-1])[::-1]
    return np.minimum(t - before, after - t)


def _hold_offsets(toe: np.ndarray, contact: np.ndarray, locked: np.ndarray, blend: int, max_hold: float) -> np.ndarray:
    """Horizontal offsets (T, 2), at most `max_hold` long, that hold the toe (T, 2: x, z) still over each contact
    run, fading out over `blend` frames on both sides (overlapping fades share the frame, weights summing to at most
    one)."""
    n = len(toe)
    offset_sum = np.zeros((n, 2))
    weight_sum = np.zeros(n)
    t = np.arange(n)
    near_lock = _distance_to(locked)
    for a, b in _runs(contact):
        nearest = a + int(np.argmin(near_lock[a:b]))
        # next to a locked frame the foot stays where it stands there (the correction is zero at the key, no pop);
        # elsewhere it stands where it is on average over the contact
        anchor = toe[nearest] if near_lock[nearest] <= blend else toe[a:b].mean(0)
        inside = anchor - toe[a:b]
        length = np.linalg.norm(inside, axis=-1, keepdims=True)
        inside *= np.minimum(1.0, max_hold / np.maximum(length, 1e-9))  # a longer slide is only shortened
        offset_sum[a:b] += inside
        weight_sum[a:b] += 1.0
        before = (t >= a - blend) & (t < a)
        after = (t >= b) & (t < b + blend)
        for mask, edge, gap in ((before, a, a - t), (after, b - 1, t - (b - 1))):
            w = 1.0 - smoothstep(gap[mask] / (blend + 1.0))
            offset_sum[mask] += w[:, None] * inside[edge - a]
            weight_sum[mask] += w
    return offset_sum / np.maximum(weight_sum, 1.0)[:, None]


def _reach(l1: np.ndarray, l2: np.ndarray, angle_deg: float) -> np.ndarray:
    """Hip-to-ankle distance of a leg with bones l1, l2 and the knee at `angle_deg`."""
    return np.sqrt(l1**2 + l2**2 - 2.0 * l1 * l2 * np.cos(np.radians(angle_deg)))


def _smooth_max(x: np.ndarray, radius: int) -> np.ndarray:
    """x (T,) widened by a running max over ±radius frames, then averaged over the same window: a smooth
    envelope that is at least x wherever x peaks on its own."""
    if radius < 1 or len(x) == 0:
        return x
    padded = np.pad(x, radius, mode="edge")
    window = np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1)
    peaks = np.pad(window.max(-1), radius, mode="edge")
    return np.lib.stride_tricks.sliding_window_view(peaks, 2 * radius + 1).mean(-1)


def plant_feet(positions: np.ndarray, skeleton: Skeleton, contact: np.ndarray, locked: np.ndarray | None = None,
               config: CleanupConfig = CleanupConfig()) -> np.ndarray:
    """positions (T, J, 3) with each foot held over its contacts (T, 2) and the legs re-solved by IK (see the
    module docstring); frames where `locked` (T,) is True come back unchanged."""
    p = np.asarray(positions, dtype=np.float64)
    n = len(p)
    locked = np.zeros(n, bool) if locked is None else np.asarray(locked, bool)
    free = smoothstep(_distance_to(locked) / (config.blend_frames + 1.0))  # 0 at locked frames
    legs = _legs(skeleton)
    up = np.array([0.0, 1.0, 0.0])

    targets, drops = [], []
    for foot, (hip, knee, ankle, toe) in enumerate(legs):
        offset = _hold_offsets(p[:, toe][:, [0, 2]], contact[:, foot], locked, config.blend_frames,
                               config.max_hold) * free[:, None]
        target = p[:, ankle].copy()
        target[:, [0, 2]] += offset
        l1 = np.linalg.norm(p[:, knee] - p[:, hip], axis=-1)
        l2 = np.linalg.norm(p[:, ankle] - p[:, knee], axis=-1)
        reach = np.maximum(np.linalg.norm(p[:, ankle] - p[:, hip], axis=-1), _reach(l1, l2, config.max_knee_deg))
        across = np.linalg.norm((target - p[:, hip])[:, [0, 2]], axis=-1)
        below = p[:, hip, 1] - target[:, 1]
        # how far the hip must come down for the target to be within `reach`
        need = below - np.sqrt(np.maximum(reach**2 - across**2, 0.0))
        drops.append(np.where(reach > across, need, config.max_pelvis_drop))
        targets.append((target, reach))
    drop = np.clip(_smooth_max(np.clip(np.max(drops, axis=0), 0.0, config.max_pelvis_drop), config.blend_frames),
                   0.0, config.max_pelvis_drop) * free  # (T,)

    out = p - drop[:, None, None] * up
    for (hip, knee, ankle, toe), (target, reach) in zip(legs, targets):
        to_target = target - out[:, hip]
        distance = np.linalg.norm(to_target, axis=-1, keepdims=True)
        target = out[:, hip] + to_target * np.minimum(1.0, reach[:, None] / np.maximum(distance, 1e-9))  # shorter hold
        forward = np.cross(up, p[:, skeleton.face_joints[1]] - p[:, skeleton.face_joints[0]])  # left hip - right hip
        forward /= np.maximum(np.linalg.norm(forward, axis=-1, keepdims=True), 1e-9)
        pole = out[:, knee] + 0.01 * forward  # the old bend; forward where the old leg was straight
        new_knee, new_ankle = two_bone_ik(out[:, hip], out[:, knee], out[:, ankle], target, pole)
        out[:, knee], out[:, ankle] = new_knee, new_ankle
        out[:, toe] = new_ankle + (p[:, toe] - p[:, ankle])
    return np.where(locked[:, None, None], p, out)


def clean_up_positions(positions: np.ndarray, skeleton: Skeleton, channels: np.ndarray | None = None,
                       locked: np.ndarray | None = None, config: CleanupConfig = CleanupConfig()) -> np.ndarray:
    """positions (T, J, 3) with planted feet held (`foot_contacts` from them and the contact `channels` (T, 4)),
    the frames where `locked` (T,) is True unchanged; the same array when no foot is planted."""
    contact = foot_contacts(positions, skeleton, channels, config)
    if not contact.any():
        return positions
    return plant_feet(positions, skeleton, contact, locked, config)


def clean_up(features: np.ndarray, skeleton: Skeleton, locked: np.ndarray | None = None,
             config: CleanupConfig = CleanupConfig()) -> np.ndarray:
    """Features (T, D) of a take with its planted feet held and legs re-solved (see the module docstring). The
    joint positions of frames where `locked` (T,) is True are kept (to float precision); a take with no contact
    comes back as it was."""
    positions = positions_from_features(np.asarray(features, dtype=np.float64), skeleton.n_joints, append_last=True)
    keep = None
    if locked is not None:
        keep = np.append(locked, locked[-1])  # the appended frame carries the last frame's velocities
    cleaned = clean_up_positions(positions, skeleton, contact_channels(features, skeleton), keep, config)
    if cleaned is positions:
        return features
    return features_from_positions(cleaned, skeleton).astype(features.dtype)


def contact_channels(features: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """The features' contact channels (T, 4), with the last repeated for the frame `append_last` adds: (T + 1, 4)."""
    channels = np.asarray(features[:, FeatureLayout(skeleton.n_joints).contacts], dtype=np.float64)
    return np.concatenate([channels, channels[-1:]])
