import numpy as np
import pytest
import torch

from app.engine.features import FeatureLayout, canonicalize, features_from_positions, mirror_features, positions_from_features
from app.engine.skeleton import BANDAI_NAMCO_21, SMPL_22

SAMPLES = ["012314", "000000"]


def _load(sample_dir, kind, name):
    return np.load(sample_dir / kind / f"{name}.npy").astype(np.float64)


@pytest.mark.parametrize("name", SAMPLES)
def test_recovered_positions_reproduce_humanml3d_joints(humanml3d_sample, name):
    vecs = _load(humanml3d_sample, "new_joint_vecs", name)
    joints = _load(humanml3d_sample, "new_joints", name)
    recovered = positions_from_features(vecs, 22)
    assert recovered.shape == joints.shape
    assert np.abs(recovered - joints).max() <= 1e-4


@pytest.mark.parametrize("name", SAMPLES)
def test_features_from_humanml3d_joints_match_the_files_features(humanml3d_sample, name):
    vecs = _load(humanml3d_sample, "new_joint_vecs", name)
    joints = _load(humanml3d_sample, "new_joints", name)
    ours = features_from_positions(joints, SMPL_22)  # T-1 frames from T joints
    layout = FeatureLayout(22)
    # The heading is smoothed over +-80 frames and the file's joints lack the original last frame,
    # so compare away from the end; the whole vector is compared exactly in the next test.
    interior = slice(0, len(ours) - 50)
    for part in (layout.root, layout.ric):
        assert np.abs(ours[interior, part] - vecs[interior, part]).max() <= 1e-4


@pytest.mark.parametrize("name", SAMPLES)
def test_whole_humanml3d_feature_vector_is_reproduced_from_recovered_positions(humanml3d_sample, name):
    vecs = _load(humanml3d_sample, "new_joint_vecs", name)
    positions = positions_from_features(vecs, 22, append_last=True)
    assert positions.shape == (len(vecs) + 1, 22, 3)
    ours = features_from_positions(positions, SMPL_22)
    assert ours.shape == vecs.shape == (len(vecs), 263)
    assert np.abs(ours - vecs).max() <= 1e-5  # root, positions, 6D rotations, velocities and contacts


def test_feature_dims_follow_the_joint_count():
    assert FeatureLayout(22).dim == SMPL_22.feature_dim == 263
    assert FeatureLayout(21).dim == BANDAI_NAMCO_21.feature_dim == 251
    layout = FeatureLayout(21)
    assert layout.contacts.stop == 251 and layout.rot.start == 4 + 60 and layout.vel.start == 4 + 60 + 120


def test_numpy_and_torch_agree_and_batches_equal_single_motions(humanml3d_sample):
    joints = np.stack([_load(humanml3d_sample, "new_joints", "012314")[:100], _load(humanml3d_sample, "new_joints", "000000")[:100]])
    batched = features_from_positions(torch.from_numpy(joints), SMPL_22)
    assert isinstance(batched, torch.Tensor) and batched.shape == (2, 99, 263)
    for i in range(2):
        single = features_from_positions(joints[i], SMPL_22)
        assert isinstance(single, np.ndarray)
        np.testing.assert_allclose(batched[i].numpy(), single, atol=1e-9)
    back = positions_from_features(batched, 22)
    assert back.shape == (2, 99, 22, 3)
    np.testing.assert_allclose(back[1].numpy(), positions_from_features(batched[1].numpy(), 22), atol=1e-9)


def test_mirroring_features_twice_is_the_identity(humanml3d_sample):
    vecs = _load(humanml3d_sample, "new_joint_vecs", "012314")
    once = mirror_features(vecs, SMPL_22)
    assert np.abs(once - vecs).max() > 0.1  # it does change the motion
    np.testing.assert_array_equal(mirror_features(once, SMPL_22), vecs)


def test_mirrored_features_equal_features_of_mirrored_positions(humanml3d_sample):
    vecs = _load(humanml3d_sample, "new_joint_vecs", "012314")
    positions = positions_from_features(vecs, 22, append_last=True)
    from_positions = features_from_positions(SMPL_22.mirror_positions(positions), SMPL_22)
    layout = FeatureLayout(22)
    mirrored = mirror_features(vecs, SMPL_22)
    # SMPL's rest directions are symmetric, so every part mirrors exactly; contacts too
    for part in (layout.root, layout.ric, layout.rot, layout.vel, layout.contacts):
        assert np.abs(mirrored[:, part] - from_positions[:, part]).max() <= 1e-5


def test_canonicalize_puts_motion_on_floor_at_origin_facing_z(humanml3d_sample):
    joints = _load(humanml3d_sample, "new_joints", "012314")
    yaw = np.deg2rad(130.0)
    rot = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    moved = joints @ rot.T + np.array([3.0, 0.7, -2.0])
    canon = canonicalize(moved, SMPL_22)
    assert abs(canon[..., 1].min()) < 1e-9
    np.testing.assert_allclose(canon[0, 0, [0, 2]], 0.0, atol=1e-9)
    r_hip, l_hip, r_sh, l_sh = SMPL_22.face_joints
    across = canon[0, r_hip] - canon[0, l_hip] + canon[0, r_sh] - canon[0, l_sh]
    forward = np.cross([0.0, 1.0, 0.0], across)
    forward /= np.linalg.norm(forward)
    np.testing.assert_allclose(forward, [0.0, 0.0, 1.0], atol=1e-9)
    # canonical joints are the original up to a rigid motion: the sample was already canonical
    np.testing.assert_allclose(canon, joints, atol=1e-6)


def test_errors_speak_plainly():
    with pytest.raises(ValueError, match="joints"):
        features_from_positions(np.zeros((10, 21, 3)), SMPL_22)
    with pytest.raises(ValueError, match="at least 2 frames"):
        features_from_positions(np.zeros((1, 22, 3)), SMPL_22)


def test_a_take_that_turns_past_180_degrees_round_trips(bandai_namco_sample):
    """The heading's quaternion flips sign where it passes 180 degrees; the turn rate must not flip with it."""
    from app.engine.data.bandai_namco import take_positions

    name = "dataset-2_walk_normal_001"
    p = canonicalize(take_positions((bandai_namco_sample / f"{name}.bvh").read_text(), name)[:100], BANDAI_NAMCO_21)
    angle = np.radians(np.linspace(0.0, 300.0, len(p)))[:, None]  # each frame turned about its root, up to 300
    local = p - p[:, :1] * [1.0, 0.0, 1.0]
    turned = local.copy()
    turned[..., 0] = np.cos(angle) * local[..., 0] + np.sin(angle) * local[..., 2]
    turned[..., 2] = -np.sin(angle) * local[..., 0] + np.cos(angle) * local[..., 2]
    turned += p[:, :1] * [1.0, 0.0, 1.0]
    back = positions_from_features(features_from_positions(turned, BANDAI_NAMCO_21), 21, append_last=True)
    assert np.abs(back - turned).max() < 1e-6
