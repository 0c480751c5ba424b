import numpy as np
import pytest
import torch

from app.engine.rotations import quat_to_matrix, qnormalize
from app.engine.skeleton import BANDAI_NAMCO_21, SKELETONS, SMPL_22, skeleton_by_name


def _random_pose(skeleton, frames=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    quats = qnormalize(torch.randn(frames, skeleton.n_joints, 4, generator=g, dtype=torch.float64))
    root = torch.randn(frames, 3, generator=g, dtype=torch.float64)
    return root, quat_to_matrix(quats)


@pytest.mark.parametrize("skeleton", list(SKELETONS.values()), ids=lambda s: s.name)
def test_ik_drives_the_rig_through_positions_within_a_millimetre(skeleton):
    root, rotations = _random_pose(skeleton)
    positions = skeleton.forward_kinematics(root, rotations)
    root_back, local = skeleton.rotations_from_positions(positions)
    again = skeleton.forward_kinematics(root_back, local)
    assert (again - positions).norm(dim=-1).max() < 1e-3
    assert (again - positions).norm(dim=-1).max() < 1e-9  # in fact exact
    eye = torch.eye(3, dtype=torch.float64)
    assert torch.allclose(local.transpose(-1, -2) @ local, eye.expand_as(local), atol=1e-9)
    assert torch.allclose(torch.det(local), torch.ones(local.shape[:-2], dtype=torch.float64), atol=1e-9)


@pytest.mark.parametrize("skeleton", list(SKELETONS.values()), ids=lambda s: s.name)
def test_rest_pose_stands_upright_facing_z(skeleton):
    eye = torch.eye(3, dtype=torch.float64).expand(skeleton.n_joints, 3, 3)
    rest = skeleton.forward_kinematics(torch.zeros(3, dtype=torch.float64), eye).numpy()
    head_height = rest[:, 1].max() - rest[:, 1].min()
    assert 1.2 < head_height < 1.9  # metres, feet to the head joint (not the crown)
    r_hip, l_hip, r_sh, l_sh = skeleton.face_joints
    assert rest[l_hip, 0] > rest[r_hip, 0] and rest[l_sh, 0] > rest[r_sh, 0]  # the character's left is +X
    toe = skeleton.foot_left[1]
    assert rest[toe, 2] > rest[skeleton.foot_left[0], 2]  # toes point forward


@pytest.mark.parametrize("skeleton", list(SKELETONS.values()), ids=lambda s: s.name)
def test_mirror_pairs_and_body_split_cover_the_skeleton(skeleton):
    assert sorted(skeleton.mirror_index) == list(range(skeleton.n_joints))
    assert np.array_equal(skeleton.mirror_index[skeleton.mirror_index], np.arange(skeleton.n_joints))
    assert skeleton.upper_body | skeleton.lower_body == set(range(skeleton.n_joints))
    assert 0 in skeleton.lower_body and not (skeleton.upper_body & skeleton.lower_body)
    for foot in skeleton.foot_left + skeleton.foot_right:
        assert foot in skeleton.lower_body
    positions = np.random.default_rng(0).normal(size=(7, skeleton.n_joints, 3))
    np.testing.assert_array_equal(skeleton.mirror_positions(skeleton.mirror_positions(positions)), positions)


def test_chains_follow_humanml3d_layout():
    assert set(SMPL_22.kinematic_chains) == {
        (0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21), (9, 13, 16, 18, 20)
    }
    assert BANDAI_NAMCO_21.feature_dim == 251 and SMPL_22.feature_dim == 263


def test_bandai_namco_split_is_spine_and_arms_up():
    names = BANDAI_NAMCO_21.joint_names
    upper = {names[j] for j in BANDAI_NAMCO_21.upper_body}
    assert upper == {"Spine", "Chest", "Neck", "Head", "Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L",
                     "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R"}


def test_unknown_names_are_reported():
    with pytest.raises(KeyError, match="unknown skeleton"):
        skeleton_by_name("robot")
    with pytest.raises(KeyError, match="no joint named"):
        SMPL_22.index("tail")
