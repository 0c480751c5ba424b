import itertools

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from app.engine.euler import euler_to_matrix, matrix_to_euler, unwrap_euler

ORDERS = ["".join(p) for p in itertools.permutations("XYZ")]


def random_angles(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    angles = rng.uniform(-180, 180, (n, 3))
    angles[:, 1] = rng.uniform(-89.5, 89.5, n)
    return angles


@pytest.mark.parametrize("order", ORDERS)
def test_euler_to_matrix_to_euler_returns_the_same_angles(order):
    angles = random_angles(2000)
    np.testing.assert_allclose(matrix_to_euler(euler_to_matrix(angles, order), order), angles, atol=1e-9)


@pytest.mark.parametrize("order", ORDERS)
def test_matrix_to_euler_to_matrix_returns_the_same_matrix(order):
    mats = Rotation.random(2000, random_state=1).as_matrix()
    np.testing.assert_allclose(euler_to_matrix(matrix_to_euler(mats, order), order), mats, atol=1e-12)


@pytest.mark.parametrize("order", ORDERS)
def test_matrices_agree_with_scipy_intrinsic_rotations(order):
    angles = random_angles(50, seed=2)
    expected = Rotation.from_euler(order, angles, degrees=True).as_matrix()  # upper case = intrinsic
    np.testing.assert_allclose(euler_to_matrix(angles, order), expected, atol=1e-12)


def test_zxy_90_90_0_is_rz_times_rx_applied_to_column_vectors():
    # Rx(90) sends y to z; Rz(90) sends x to y: so x -> y, y -> z, z -> x.
    expected = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(euler_to_matrix([90.0, 90.0, 0.0], "ZXY"), expected, atol=1e-15)


@pytest.mark.parametrize("order", ORDERS)
def test_rotating_only_about_the_first_axis_by_90_degrees_is_recovered_exactly(order):
    angles = np.array([90.0, 0.0, 0.0])
    mat = euler_to_matrix(angles, order)
    axis = "XYZ".index(order[0])
    assert mat[axis, axis] == pytest.approx(1.0)
    np.testing.assert_allclose(matrix_to_euler(mat, order), angles, atol=1e-12)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("middle", [90.0, -90.0])
def test_gimbal_lock_still_reproduces_the_matrix(order, middle):
    angles = random_angles(200, seed=3)
    angles[:, 1] = middle
    mats = euler_to_matrix(angles, order)
    np.testing.assert_allclose(euler_to_matrix(matrix_to_euler(mats, order), order), mats, atol=1e-12)


def test_shorter_orders_compose_fewer_axes_and_empty_is_identity():
    np.testing.assert_allclose(euler_to_matrix([30.0, 40.0], "ZX"),
                               euler_to_matrix([30.0, 40.0, 0.0], "ZXY"), atol=1e-15)
    np.testing.assert_array_equal(euler_to_matrix(np.zeros((4, 0)), ""), np.broadcast_to(np.eye(3), (4, 3, 3)))


def test_repeated_axis_orders_are_refused_by_matrix_to_euler():
    with pytest.raises(ValueError, match="Tait-Bryan"):
        matrix_to_euler(np.eye(3), "ZXZ")


@pytest.mark.parametrize("order", ["ZXY", "ZYX"])
def test_unwrap_recovers_a_continuous_curve_through_180_and_past_90(order):
    t = np.linspace(0, 1, 400)
    truth = np.stack([720 * t - 30, 80 + 25 * np.sin(6 * t), -200 * t + 170], axis=-1)  # middle crosses 90
    mats = euler_to_matrix(truth, order)
    wrapped = matrix_to_euler(mats, order)
    assert np.abs(np.diff(wrapped, axis=0)).max() > 170  # the raw solution jumps
    unwrapped = unwrap_euler(wrapped)
    np.testing.assert_allclose(unwrapped, truth, atol=1e-9)
    np.testing.assert_allclose(euler_to_matrix(unwrapped, order), mats, atol=1e-12)


def test_unwrap_works_per_joint_and_keeps_the_matrices():
    rng = np.random.default_rng(4)
    truth = np.cumsum(rng.normal(0, 4, (300, 5, 3)), axis=0)  # random walks that wander far past 180
    mats = euler_to_matrix(truth, "YXZ")
    unwrapped = unwrap_euler(matrix_to_euler(mats, "YXZ"))
    assert np.abs(np.diff(unwrapped, axis=0)).max() < 30
    np.testing.assert_allclose(euler_to_matrix(unwrapped, "YXZ"), mats, atol=1e-11)
