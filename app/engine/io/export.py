"""Export: drive a rig from generated joint positions and write it as BVH for DCC tools (Blender, Maya, MotionBuilder).

The rig is the skeleton's own hierarchy with its rest offsets, posed by per-bone inverse kinematics, so every
bone of the file points exactly where the generated bone points. Generated positions can have bone lengths that
differ slightly from the rig's; the rig keeps its own lengths, so a joint then lands off its generated position
by the length deviations of the bones above it, added along the chain (at a branching joint, hips or chest, the
children are placed by the best rigid fit of the rest pose, whose residual adds in the same way).
The hips are oriented by the hip joints alone, never by the spine (`Skeleton.fit_children`): an `edit-upper`
result, whose lower body is the input's bit for bit, exports legs identical to the input's export. The price on
generated takes, whose bone lengths wander, is the spine's: measured on 12 generated takes (6 prompts, masked
and diffusion) the exported joints sit 16.3 mm from the generated ones on average (12.4 mm with the spine in the
fit), the legs 0.8 mm closer, the upper body about 9 mm further.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from app.engine.data.resample import check_fps
from app.engine.io.bvh import BVH, bvh_from_rotations, write_bvh
from app.engine.io.rig import Rig, RigAnimation, check_frame_range
from app.engine.skeleton import Skeleton

UNITS = {"cm": 100.0, "m": 1.0}  # file units per metre; DCC tools mostly expect centimetres


def _rig_animation(positions: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """(root positions (T, 3), local rotations (T, J, 3, 3)) in metres that pose the rig through `positions`."""
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 3 or positions.shape[1:] != (skeleton.n_joints, 3):
        raise ValueError(f"expected positions of shape (frames, {skeleton.n_joints}, 3) for skeleton "
                         f"{skeleton.name}, got {positions.shape}")
    if positions.shape[0] == 0:
        raise ValueError("the motion has no frames to export")
    if not np.isfinite(positions).all():
        raise ValueError("the motion has missing (NaN or infinite) joint positions and cannot be exported")
    root, local = skeleton.rotations_from_positions(torch.from_numpy(positions))
    return root.numpy(), local.numpy()


def take_animation(positions: np.ndarray, skeleton: Skeleton, fps: float = 20.0,
                   frame_range: tuple[int, int] | None = None) -> RigAnimation:
    """Frames `frame_range` of a take's joint positions (T, J, 3), metres, as the skeleton's rig animated through
    them (per-bone IK): what every writer (BVH, FBX, glTF) takes."""
    root, local = _rig_animation(_select(np.asarray(positions), frame_range), skeleton)
    return RigAnimation(Rig.from_skeleton(skeleton), root, local, check_fps(fps))


def animation_to_bvh(anim: RigAnimation, units: str = "cm", order: str = "ZXY",
                     end_sites: dict[int, tuple[float, float, float]] | None = None) -> BVH:
    """A rig's animation as BVH: root with 6 channels, other joints 3, continuous Euler curves. BVH has no rest
    rotations: the rig's rest pose is folded into the rotation channels. `end_sites`: leaf tips in metres."""
    if units not in UNITS:
        raise ValueError(f"units must be one of {', '.join(UNITS)}, got {units!r}")
    scale, rig = UNITS[units], anim.rig
    ends = [None if j not in (end_sites or {}) else np.asarray(end_sites[j]) * scale for j in range(rig.n_joints)]
    return bvh_from_rotations(rig.names, rig.parents, rig.offsets * scale, anim.root_positions * scale,
                              anim.local_rotations, 1.0 / anim.fps, order=order, end_sites=ends)


def write_animation_bvh(anim: RigAnimation, path: str | os.PathLike, units: str = "cm",
                        end_sites: dict[int, tuple[float, float, float]] | None = None) -> None:
    """Write a rig's animation as BVH, atomically."""
    write_bvh(animation_to_bvh(anim, units, end_sites=end_sites), path)


def positions_to_bvh(positions: np.ndarray, skeleton: Skeleton, fps: float = 20.0, units: str = "cm",
                     order: str = "ZXY") -> BVH:
    """Joint positions (T, J, 3) in metres -> a BVH of the skeleton's rig: root with 6 channels, other joints 3,
    End Sites at the leaves, continuous Euler curves."""
    return animation_to_bvh(take_animation(positions, skeleton, fps), units, order, skeleton.end_sites)


def _select(positions: np.ndarray, frame_range: tuple[int, int] | None) -> np.ndarray:
    """Frames start..end-1 of the take, with messages that name the take's frames."""
    if frame_range is None:
        return positions
    start, end = check_frame_range(len(positions), frame_range)
    return positions[start:end]


def export_bvh(positions: np.ndarray, skeleton: Skeleton, path: str | os.PathLike, fps: float = 20.0,
               frame_range: tuple[int, int] | None = None, out_fps: float | None = None, units: str = "cm") -> None:
    """Write frames `frame_range` (start inclusive, end exclusive) of a take as BVH, optionally at `out_fps`.

    The frame-rate change resamples the rig's rotations (slerp), so bones stay rigid. The write is atomic.
    """
    anim = take_animation(positions, skeleton, fps, frame_range).resampled(out_fps)
    write_animation_bvh(anim, path, units, skeleton.end_sites)
