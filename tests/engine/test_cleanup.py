import numpy as np
import pytest
import torch

from app.engine import metrics
from app.engine.cleanup import CleanupConfig, clean_up, foot_contacts, plant_feet
from app.engine.features import canonicalize, features_from_positions, positions_from_features
from app.engine.ik import joint_angle, two_bone_ik
from app.engine.rotations import quat_to_matrix, y_rotation_quat
from app.engine.skeleton import BANDAI_NAMCO_21 as SK

HIP_L, KNEE_L, ANKLE_L, TOE_L = 13, 14, 15, 16


def _bent_pose() -> np.ndarray:
    """One standing pose (J, 3) with both knees bent by 30 degrees, feet flat."""
    rot = torch.eye(3, dtype=torch.float64).repeat(SK.n_joints, 1, 1)
    about_x = lambda deg: quat_to_matrix(torch.tensor([np.cos(np.radians(deg) / 2), np.sin(np.radians(deg) / 2), 0.0, 0.0],
                                                      dtype=torch.float64))
    for hip, knee, ankle in ((13, 14, 15), (17, 18, 19)):
        rot[hip], rot[knee], rot[ankle] = about_x(-15.0), about_x(30.0), about_x(-15.0)
    return SK.forward_kinematics(torch.zeros(3, dtype=torch.float64), rot).numpy()


def _sliding_take(n: int = 24, slide_m_s: float = 0.5) -> np.ndarray:
    """Positions (n, J, 3): a figure standing still whose left foot slides forward on the floor (the knee following
    by IK), a skating foot."""
    pose = _bent_pose()
    p = np.repeat(pose[None], n, axis=0)
    shift = np.zeros((n, 3))
    shift[:, 2] = slide_m_s / 20.0 * np.arange(n) - slide_m_s / 40.0 * n  # centred on the rest position
    knee, ankle = two_bone_ik(p[:, HIP_L], p[:, KNEE_L], p[:, ANKLE_L], p[:, ANKLE_L] + shift)
    p[:, TOE_L] = ankle + (p[:, TOE_L] - p[:, ANKLE_L])
    p[:, KNEE_L], p[:, ANKLE_L] = knee, ankle
    return canonicalize(p, SK)


def _toe_speed(positions: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.diff(positions[:, TOE_L][:, [0, 2]], axis=0), axis=-1) * 20.0


def test_a_sliding_planted_foot_is_held_still_with_its_leg_intact():
    features = features_from_positions(_sliding_take(), SK).astype(np.float32)
    before = positions_from_features(features.astype(np.float64), SK.n_joints)
    after = positions_from_features(clean_up(features, SK).astype(np.float64), SK.n_joints)
    assert _toe_speed(before)[5:-5].min() > 0.45
    assert _toe_speed(after)[5:-5].max() < 0.02  # m/s: planted
    assert metrics.foot_skating(after, SK)["skate_speed_cm_s"] < 0.3 * metrics.foot_skating(before, SK)["skate_speed_cm_s"]
    for a, b in ((HIP_L, KNEE_L), (KNEE_L, ANKLE_L), (ANKLE_L, TOE_L)):  # bone lengths kept (float32 features)
        assert np.allclose(np.linalg.norm(after[:, a] - after[:, b], axis=-1),
                           np.linalg.norm(before[:, a] - before[:, b], axis=-1), atol=1e-4)
    assert joint_angle(after[:, HIP_L], after[:, KNEE_L], after[:, ANKLE_L]).max() < 172.5
    right = [17, 18, 19, 20]  # the still right foot is left alone
    assert np.abs(after[:, right] - before[:, right]).max() < 1e-4


def test_locked_frames_do_not_move_and_the_hold_fades_in_around_them():
    features = features_from_positions(_sliding_take(), SK).astype(np.float32)
    locked = np.zeros(len(features), bool)
    locked[[0, 20, len(features) - 1]] = True
    before = positions_from_features(features.astype(np.float64), SK.n_joints)
    after = positions_from_features(clean_up(features, SK, locked).astype(np.float64), SK.n_joints)
    assert np.abs(after[locked] - before[locked]).max() < 1e-5
    assert np.abs(after[~locked] - before[~locked]).max() > 0.05  # elsewhere the foot was held


def test_a_hold_out_of_reach_lowers_the_pelvis_a_little_and_never_locks_the_knee():
    pose = _bent_pose()
    p = np.repeat(pose[None], 30, axis=0)
    p[:, :, 2] += np.linspace(0.0, 0.9, 30)[:, None]  # the body travels 0.9 m while the left foot is "planted"
    contact = np.zeros((30, 2), bool)
    contact[:, 0] = True
    out = plant_feet(p, SK, contact, config=CleanupConfig(max_pelvis_drop=0.05))
    drop = p[:, 0, 1] - out[:, 0, 1]
    assert drop.max() == pytest.approx(0.05, abs=1e-6) and drop.min() >= 0.0
    assert joint_angle(out[:, HIP_L], out[:, KNEE_L], out[:, ANKLE_L]).max() <= 172.0 + 1e-6
    held = np.linalg.norm(np.diff(out[:, TOE_L][:, [0, 2]], axis=0), axis=-1)
    assert held[10:20].max() < 0.005  # mid-contact, where the foot is in reach, it stays


def test_a_take_without_contacts_comes_back_unchanged():
    p = _sliding_take()
    p[:, :, 1] += 0.5 * np.sin(np.linspace(0, np.pi, len(p)))[:, None]  # a jump: feet off the floor...
    p[:, [ANKLE_L, TOE_L, 19, 20], 2] += np.linspace(0, 3.0, len(p))[:, None]  # ...and fast everywhere else
    features = features_from_positions(p, SK).astype(np.float32)
    positions = positions_from_features(features.astype(np.float64), SK.n_joints, append_last=True)
    if foot_contacts(positions, SK).any():
        pytest.skip("construction left a contact")
    assert clean_up(features, SK) is features
