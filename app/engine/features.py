"""HumanML3D's motion representation for any skeleton, in both directions, batched.

For J joints a frame is `4 + 3(J-1) + 6(J-1) + 3J + 4` numbers:
root angular velocity about Y (1), root linear velocity on the ground in the heading frame (2), root height (1),
root-relative joint positions in the heading frame (3(J-1)), per-bone rotations in 6D (6(J-1)),
joint velocities in the heading frame (3J), foot contacts (left ankle/toe, right ankle/toe).
T frames of positions give T-1 frames of features, as in HumanML3D's `process_file`; `positions_from_features`
is its `recover_from_ric`. The quirks of the reference (half-angle root velocity, identity root rotation on the
first frame, the heading smoothed with a Gaussian of sigma 20 frames) are kept on purpose: they make our features
equal to the published dataset's (checked against ../shared/data/humanml3d-sample in the tests).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from app.engine.arrays import numpy_or_torch
from app.engine.rotations import qbetween, qfix, qinv, qmul, qrot, quat_to_cont6d
from app.engine.skeleton import Skeleton

CONTACT_THRESHOLD = 0.002  # squared metres per frame at 20 fps, HumanML3D's `feet_thre`
HEADING_SMOOTHING_SIGMA = 20.0  # frames


@dataclass(frozen=True)
class FeatureLayout:
    """Where each part of the feature vector lives, for J joints."""

    n_joints: int

    @property
    def dim(self) -> int:
        return 4 + 9 * (self.n_joints - 1) + 3 * self.n_joints + 4

    @property
    def root(self) -> slice:  # angular velocity, linear velocity x/z, height
        return slice(0, 4)

    @property
    def ric(self) -> slice:
        return slice(4, 4 + 3 * (self.n_joints - 1))

    @property
    def rot(self) -> slice:
        start = self.ric.stop
        return slice(start, start + 6 * (self.n_joints - 1))

    @property
    def vel(self) -> slice:
        start = self.rot.stop
        return slice(start, start + 3 * self.n_joints)

    @property
    def contacts(self) -> slice:
        return slice(self.vel.stop, self.vel.stop + 4)


def _gaussian_smooth(x: Tensor, sigma: float) -> Tensor:
    """scipy.ndimage.gaussian_filter1d(x, sigma, axis=-2, mode='nearest') for x (batch, T, C)."""
    radius = int(4.0 * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = (kernel / kernel.sum()).flip(0)
    b, n, c = x.shape
    channels = x.permute(0, 2, 1).reshape(b * c, 1, n)  # (batch * C, 1, T)
    padded = F.pad(channels, (radius, radius), mode="replicate")
    return F.conv1d(padded, kernel[None, None]).reshape(b, c, n).permute(0, 2, 1)


def _heading_quats(positions: Tensor, joints: tuple[int, int, int, int], smooth: bool) -> Tensor:
    """Rotation about Y that turns each frame to face +Z, from hips and shoulders. (batch, T, 4)"""
    a, b, c, d = joints
    across = (positions[..., a, :] - positions[..., b, :]) + (positions[..., c, :] - positions[..., d, :])
    across = across / across.norm(dim=-1, keepdim=True)
    up = torch.zeros_like(across)
    up[..., 1] = 1.0
    forward = torch.cross(up, across, dim=-1)
    if smooth:
        forward = _gaussian_smooth(forward, HEADING_SMOOTHING_SIGMA)
    forward = forward / forward.norm(dim=-1, keepdim=True)
    target = torch.zeros_like(forward)
    target[..., 2] = 1.0
    return qbetween(forward, target)


def _bone_quats(positions: Tensor, root_quat: Tensor, skeleton: Skeleton) -> Tensor:
    """HumanML3D's per-bone IK along the kinematic chains (every chain restarts from the root's rotation).
    positions (batch, T, J, 3), root_quat (batch, T, 4) -> (batch, T, J, 4)

    Along a chain the reference accumulates r <- r * (r^-1 * swing), which is each bone's own swing from its rest
    direction: so every bone's local rotation is (the previous bone's swing, or the root's rotation)^-1 * its swing,
    all bones at once."""
    raw = skeleton.raw_offsets(positions)
    pairs = [(a, b) for chain in skeleton.kinematic_chains for a, b in zip(chain[:-1], chain[1:])]
    starts, ends = [a for a, _ in pairs], [b for _, b in pairs]
    bone = positions[..., ends, :] - positions[..., starts, :]  # (batch, T, bones, 3)
    bone = bone / bone.norm(dim=-1, keepdim=True)
    swing = qbetween(raw[ends].expand_as(bone), bone)  # (batch, T, bones, 4)
    index = {b: i for i, b in enumerate(ends)}
    first = {(chain[0], chain[1]) for chain in skeleton.kinematic_chains}  # these start from the root's rotation
    before = torch.stack([root_quat if (a, b) in first else swing[..., index[a], :] for a, b in pairs], dim=-2)
    quats = torch.empty(positions.shape[:-1] + (4,), dtype=positions.dtype, device=positions.device)
    quats[..., 0, :] = root_quat
    quats[..., ends, :] = qmul(qinv(before), swing)
    return quats


@numpy_or_torch
def features_from_positions(positions: Tensor, skeleton: Skeleton, contact_threshold: float = CONTACT_THRESHOLD) -> Tensor:
    """Joint positions (..., T, J, 3), already canonical (see `canonicalize`), -> features (..., T-1, D)."""
    batch_shape = positions.shape[:-3]
    t, j = positions.shape[-3], positions.shape[-2]
    if j != skeleton.n_joints:
        raise ValueError(f"positions have {j} joints but skeleton {skeleton.name} has {skeleton.n_joints}")
    if t < 2:
        raise ValueError(f"a motion needs at least 2 frames to have features, got {t}")
    p = positions.reshape((-1, t, j, 3))  # (batch, T, J, 3)

    step = p[:, 1:] - p[:, :-1]  # (batch, T-1, J, 3)
    speed2 = (step**2).sum(-1)
    feet = list(skeleton.foot_left) + list(skeleton.foot_right)
    contacts = (speed2[..., feet] < contact_threshold).to(p.dtype)  # (batch, T-1, 4)

    root_quat = _heading_quats(p, skeleton.feature_heading_joints, smooth=True)
    root_quat[:, 0] = root_quat.new_tensor([1.0, 0.0, 0.0, 0.0])  # as the reference does
    cont6d = quat_to_cont6d(_bone_quats(p, root_quat, skeleton))  # (batch, T, J, 6)

    root_velocity = qrot(root_quat[:, 1:], p[:, 1:, 0] - p[:, :-1, 0])  # (batch, T-1, 3)
    # neighbouring headings with agreeing signs: where the heading passes 180 degrees qbetween flips the sign, and
    # the arcsin below would then turn the wrong way (the reference's features break on such takes)
    continuous = qfix(root_quat, dim=-2)
    root_turn = qmul(continuous[:, 1:], qinv(continuous[:, :-1]))
    root_angular = torch.arcsin(root_turn[..., 2:3].clamp(-1.0, 1.0))  # half-angle, as the reference stores it

    local = p.clone()
    local[..., 0] -= p[:, :, 0:1, 0]
    local[..., 2] -= p[:, :, 0:1, 2]
    local = qrot(root_quat[:, :, None].expand(-1, -1, j, -1), local)  # heading frame
    root_y = local[:, :-1, 0, 1:2]

    joint_velocity = qrot(root_quat[:, :-1, None].expand(-1, -1, j, -1), step)

    n = t - 1
    feats = torch.cat(
        [
            root_angular,
            root_velocity[..., [0, 2]],
            root_y,
            local[:, :-1, 1:].reshape(-1, n, 3 * (j - 1)),
            cont6d[:, :-1, 1:].reshape(-1, n, 6 * (j - 1)),
            joint_velocity.reshape(-1, n, 3 * j),
            contacts,
        ],
        dim=-1,
    )
    return feats.reshape(batch_shape + (n, feats.shape[-1]))


def root_from_features(features: Tensor) -> tuple[Tensor, Tensor]:
    """Integrate root heading and ground velocity: (heading quats (..., T, 4), root positions (..., T, 3))."""
    angular = features[..., 0]
    angle = torch.zeros_like(angular)
    angle[..., 1:] = angular[..., :-1]
    angle = torch.cumsum(angle, dim=-1)
    quat = torch.zeros(features.shape[:-1] + (4,), dtype=features.dtype, device=features.device)
    quat[..., 0] = torch.cos(angle)
    quat[..., 2] = torch.sin(angle)

    step = torch.zeros(features.shape[:-1] + (3,), dtype=features.dtype, device=features.device)
    step[..., 1:, 0] = features[..., :-1, 1]
    step[..., 1:, 2] = features[..., :-1, 2]
    root = torch.cumsum(qrot(qinv(quat), step), dim=-2)
    root[..., 1] = features[..., 3]
    return quat, root


@numpy_or_torch
def positions_from_features(features: Tensor, n_joints: int, append_last: bool = False) -> Tensor:
    """Features (..., T, D) -> joint positions (..., T, J, 3) (HumanML3D's `recover_from_ric`).

    With `append_last`, the final step's joint velocities also give back the frame that `features_from_positions`
    consumed, so (..., T+1, J, 3) come back and features -> positions -> features is exact.
    """
    layout = FeatureLayout(n_joints)
    if features.shape[-1] < layout.ric.stop:
        raise ValueError(f"features of width {features.shape[-1]} are too narrow for {n_joints} joints")
    quat, root = root_from_features(features)
    local = features[..., layout.ric].reshape(features.shape[:-1] + (n_joints - 1, 3))
    world = qrot(qinv(quat)[..., None, :].expand(local.shape[:-1] + (4,)), local)
    world = torch.cat([world[..., :1] + root[..., None, 0:1], world[..., 1:2], world[..., 2:3] + root[..., None, 2:3]], dim=-1)
    positions = torch.cat([root[..., None, :], world], dim=-2)
    if not append_last:
        return positions
    if features.shape[-1] < layout.vel.stop:
        raise ValueError("append_last needs the velocity part of the features")
    last_step = features[..., -1, layout.vel].reshape(features.shape[:-2] + (n_joints, 3))
    heading = qinv(quat[..., -1:, :]).expand(last_step.shape[:-1] + (4,))
    last = positions[..., -1, :, :] + qrot(heading, last_step)
    return torch.cat([positions, last[..., None, :, :]], dim=-3)


@numpy_or_torch
def canonicalize(positions: Tensor, skeleton: Skeleton) -> Tensor:
    """Put a motion (..., T, J, 3) on the floor, its first root position at the origin, its first frame facing +Z."""
    p = positions.clone()
    floor = p[..., 1].amin(dim=(-1, -2), keepdim=True)  # (..., 1, 1)
    p[..., 1] -= floor
    start = p[..., :1, :1, :].clone()  # (..., 1, 1, 3)
    start[..., 1] = 0.0
    p = p - start
    first = p[..., :1, :, :].reshape((-1, 1, skeleton.n_joints, 3))
    heading = _heading_quats(first, skeleton.face_joints, smooth=False).reshape(p.shape[:-3] + (1, 1, 4))
    return qrot(heading.expand(p.shape[:-1] + (4,)), p)


@numpy_or_torch
def mirror_features(features: Tensor, skeleton: Skeleton) -> Tensor:
    """Left-right mirror in feature space: exact, so mirroring twice is the identity."""
    layout = FeatureLayout(skeleton.n_joints)
    j = skeleton.n_joints
    perm = torch.as_tensor(skeleton.mirror_index)
    flip_x = features.new_tensor([-1.0, 1.0, 1.0])
    out = features.clone()
    out[..., 0] = -features[..., 0]
    out[..., 1] = -features[..., 1]

    ric = features[..., layout.ric].reshape(features.shape[:-1] + (j - 1, 3))
    ric = torch.cat([torch.zeros_like(ric[..., :1, :]), ric], dim=-2)[..., perm, :][..., 1:, :] * flip_x
    out[..., layout.ric] = ric.reshape(features.shape[:-1] + (-1,))

    rot = features[..., layout.rot].reshape(features.shape[:-1] + (j - 1, 2, 3))
    rot = torch.cat([torch.zeros_like(rot[..., :1, :, :]), rot], dim=-3)[..., perm, :, :][..., 1:, :, :]
    # a rotation R mirrors to M R M with M = diag(-1, 1, 1); stored columns c0, c1 become M c0 * (-1), M c1
    rot = rot * torch.stack([-flip_x, flip_x])
    out[..., layout.rot] = rot.reshape(features.shape[:-1] + (-1,))

    vel = features[..., layout.vel].reshape(features.shape[:-1] + (j, 3))[..., perm, :] * flip_x
    out[..., layout.vel] = vel.reshape(features.shape[:-1] + (-1,))

    c = features[..., layout.contacts]
    out[..., layout.contacts] = torch.cat([c[..., 2:4], c[..., 0:2]], dim=-1)
    return out
