import numpy as np
import pytest

from app.engine.ik import chain_ik, joint_angle, two_bone_ik


def _leg(n: int, seed: int = 0):
    """n random bent legs: hip, knee, ankle with thigh 0.39 m and shin 0.41 m."""
    rng = np.random.default_rng(seed)
    hip = rng.normal(size=(n, 3))
    thigh = rng.normal(size=(n, 3))
    thigh *= 0.39 / np.linalg.norm(thigh, axis=-1, keepdims=True)
    shin = rng.normal(size=(n, 3))
    shin *= 0.41 / np.linalg.norm(shin, axis=-1, keepdims=True)
    knee = hip + thigh
    return hip, knee, knee + shin


def test_two_bone_ik_reaches_reachable_targets_exactly_and_keeps_bone_lengths():
    hip, knee, ankle = _leg(500)
    rng = np.random.default_rng(1)
    direction = rng.normal(size=(500, 3))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    target = hip + direction * rng.uniform(0.03, 0.79, size=(500, 1))  # between |l1 - l2| and l1 + l2
    new_knee, new_ankle = two_bone_ik(hip, knee, ankle, target)
    assert np.abs(new_ankle - target).max() < 1e-9
    assert np.allclose(np.linalg.norm(new_knee - hip, axis=-1), 0.39, atol=1e-9)
    assert np.allclose(np.linalg.norm(new_ankle - new_knee, axis=-1), 0.41, atol=1e-9)


def test_two_bone_ik_bends_towards_the_pole():
    hip, knee, ankle = np.zeros(3), np.array([0.0, -0.39, 0.0]), np.array([0.0, -0.80, 0.0])
    target = np.array([0.0, -0.6, 0.0])
    for pole in ([0.0, -0.4, 1.0], [0.0, -0.4, -1.0], [1.0, -0.4, 0.0]):
        pole = np.array(pole)
        new_knee, _ = two_bone_ik(hip, knee, ankle, target, pole)
        side = new_knee - np.array([0.0, new_knee[1], 0.0])  # off the hip-target line (the Y axis)
        assert np.linalg.norm(side) > 0.2
        assert np.allclose(side / np.linalg.norm(side), pole * [1, 0, 1])  # in the pole's plane, on its side


def test_two_bone_ik_keeps_the_old_bend_without_a_pole_and_reproduces_an_unmoved_limb():
    hip, knee, ankle = _leg(50, seed=3)
    new_knee, new_ankle = two_bone_ik(hip, knee, ankle, ankle)
    assert np.abs(new_knee - knee).max() < 1e-9 and np.abs(new_ankle - ankle).max() < 1e-9


def test_two_bone_ik_points_a_straight_limb_at_a_target_out_of_reach():
    hip, knee, ankle = np.zeros(3), np.array([0.1, -0.3, 0.2]), np.array([0.0, -0.6, 0.3])
    l1, l2 = np.linalg.norm(knee - hip), np.linalg.norm(ankle - knee)
    target = np.array([0.0, -3.0, 0.0])
    new_knee, new_ankle = two_bone_ik(hip, knee, ankle, target)
    assert np.allclose(new_ankle, [0.0, -(l1 + l2), 0.0]) and np.allclose(new_knee, [0.0, -l1, 0.0])
    assert joint_angle(hip, new_knee, new_ankle) == pytest.approx(180.0, abs=1e-4)


def test_chain_ik_reaches_the_target_from_a_fixed_base_and_keeps_lengths():
    chain = np.array([[0.0, 1.0, 0.0], [0.0, 1.157, 0.01], [0.0, 1.247, 0.02], [0.0, 1.41, 0.01], [0.0, 1.475, 0.03]])
    target = np.array([0.15, 1.40, 0.2])
    solved = chain_ik(chain, target)
    assert np.linalg.norm(solved[-1] - target) < 1e-5
    assert np.allclose(solved[0], chain[0])
    assert np.allclose(np.linalg.norm(np.diff(solved, axis=0), axis=-1), np.linalg.norm(np.diff(chain, axis=0), axis=-1))


def test_chain_ik_straightens_towards_a_target_out_of_reach():
    chain = np.array([[0.0, 0.0, 0.0], [0.0, 0.1, 0.05], [0.0, 0.2, 0.0]])
    solved = chain_ik(chain[None], np.array([[0.0, 5.0, 0.0]]))[0]
    assert np.allclose(solved[:, [0, 2]], 0.0) and solved[-1, 1] == pytest.approx(2 * np.linalg.norm([0.1, 0.05]))


def test_joint_angle_of_a_right_angle():
    assert joint_angle(np.array([1.0, 0, 0]), np.zeros(3), np.array([0, 1.0, 0])) == pytest.approx(90.0)
