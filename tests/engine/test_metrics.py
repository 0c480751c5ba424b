"""Every metric against an answer known in closed form (or, for sampled ones, its expectation within 5 sigma)."""
import numpy as np
import pytest

from app.engine.metrics import (
    activation_statistics,
    diversity,
    euclidean_distance_matrix,
    fid,
    foot_contacts,
    foot_skating,
    frechet_distance,
    jerk,
    jerk_reference,
    keyframe_error,
    lower_body_drift,
    matching_score,
    mean_confidence_interval,
    mean_jerk,
    multimodality,
    r_precision,
    transition_jerk,
)
from app.engine.skeleton import BANDAI_NAMCO_21, SMPL_22

FPS = 20
CIRCLE_MEAN_CHORD = 4 / np.pi  # E|x - y| for x, y independent and uniform on the unit circle
CIRCLE_CHORD_STD = np.sqrt(2 - CIRCLE_MEAN_CHORD**2)  # E|x - y|^2 = 2


def _gaussian(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) @ rng.normal(size=(d, d))  # correlated


def _circle(shape: tuple[int, ...], seed: int) -> np.ndarray:
    angle = np.random.default_rng(seed).uniform(0, 2 * np.pi, size=shape)
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1)


# -- FID --------------------------------------------------------------------------------------------------

def test_activation_statistics_of_a_known_sample():
    mu, sigma = activation_statistics(np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]]) + [5.0, -1.0])
    np.testing.assert_allclose(mu, [5.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(sigma, [[2 / 3, 0.0], [0.0, 8 / 3]], atol=1e-12)  # unbiased (N - 1)


def test_fid_of_a_sample_against_itself_is_zero():
    x = _gaussian(2000, 16)
    assert abs(fid(x, x)) < 1e-8


def test_fid_against_a_shifted_copy_is_the_squared_shift():
    x = _gaussian(2000, 16)
    shift = np.linspace(-1.0, 2.0, 16)
    assert fid(x, x + shift) == pytest.approx(shift @ shift, rel=1e-8)


def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([3.0, 1.0, 2.0])
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 0.25])
    expected = 25.0 + ((np.sqrt(s1) - np.sqrt(s2)) ** 2).sum()  # 25 + 1 + 0 + 6.25
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-10)
    assert expected == 32.25


def test_frechet_distance_of_scaled_full_covariances_is_the_closed_form():
    # sigma2 = c^2 sigma1  =>  (sigma1 sigma2)^(1/2) = c sigma1  =>  FD = |dmu|^2 + tr(sigma1) (1 - c)^2
    a = np.random.default_rng(1).normal(size=(6, 6))
    sigma = a @ a.T + 0.1 * np.eye(6)
    mu = np.arange(6.0)
    assert frechet_distance(mu, sigma, mu + 0.5, 9.0 * sigma) == pytest.approx(6 * 0.25 + 4 * np.trace(sigma), rel=1e-9)


def test_frechet_distance_survives_singular_covariances():
    zero = np.zeros((4, 4))
    assert frechet_distance(np.zeros(4), zero, np.full(4, 2.0), zero) == pytest.approx(16.0, abs=1e-4)
    x = _gaussian(5, 16)  # 5 samples in 16 dimensions: rank-4 covariance
    assert abs(fid(x, x)) < 1e-3


def test_frechet_distance_rejects_mismatched_gaussians():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


# -- distances, R-precision, matching score ----------------------------------------------------------------

def test_euclidean_distance_matrix_is_exact_and_never_nan():
    np.testing.assert_allclose(euclidean_distance_matrix(np.array([[0.0, 0.0], [3.0, 0.0]]), np.array([[3.0, 4.0], [0.0, 0.0]])),
                               [[5.0, 0.0], [4.0, 3.0]], atol=1e-12)
    big = np.full((3, 8), 1e4) + np.random.default_rng(0).normal(size=(3, 8)) * 1e-9
    d = euclidean_distance_matrix(big, big)
    assert np.isfinite(d).all() and np.abs(np.diagonal(d)).max() < 1e-3
    a, b = _gaussian(7, 5, seed=2), _gaussian(9, 5, seed=3)
    np.testing.assert_allclose(euclidean_distance_matrix(a, b), np.linalg.norm(a[:, None] - b[None], axis=-1), rtol=1e-9)


def test_r_precision_of_perfectly_matched_embeddings_is_one():
    x = _gaussian(96, 16) * 10.0
    np.testing.assert_array_equal(r_precision(x, x), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(r_precision(x, x, top_k=5, rng=np.random.default_rng(0)), [1.0] * 5)


def test_r_precision_ranks_within_each_batch():
    # texts at 10i on a line, motions at 10i + 6: motion i-1 (at distance 4) beats a text's own (at 6), except for i=0
    text = (10.0 * np.arange(32))[:, None]
    np.testing.assert_allclose(r_precision(text, text + 6.0), [1 / 32, 1.0, 1.0], atol=1e-15)
    # a 33rd pair would join no batch of 32 and is dropped, however wrong it is
    extra_text, extra_motion = np.vstack([text, [[0.0]]]), np.vstack([text + 6.0, [[1e6]]])
    np.testing.assert_allclose(r_precision(extra_text, extra_motion), [1 / 32, 1.0, 1.0], atol=1e-15)
    # with batches of 8 each batch restarts: its first text's own motion is nearest again
    np.testing.assert_allclose(r_precision(text, text + 6.0, batch_size=8), [4 / 32, 1.0, 1.0], atol=1e-15)


def test_r_precision_of_collapsed_motions_is_chance():
    text = _gaussian(64, 8)
    np.testing.assert_allclose(r_precision(text, np.ones((64, 8))), [1 / 32, 2 / 32, 3 / 32], atol=1e-15)


def test_r_precision_of_independent_embeddings_is_chance():
    n = 32 * 2000
    rng = np.random.default_rng(4)
    got = r_precision(rng.normal(size=(n, 8)), rng.normal(size=(n, 8)), rng=rng)
    chance = np.array([1, 2, 3]) / 32
    np.testing.assert_allclose(got, chance, atol=5 * np.sqrt(chance * (1 - chance) / n).max())


def test_r_precision_needs_a_full_batch():
    with pytest.raises(ValueError):
        r_precision(np.zeros((31, 4)), np.zeros((31, 4)))


def test_matching_score():
    x = _gaussian(50, 2)
    assert matching_score(x, x) == 0.0
    assert matching_score(x, x + [3.0, -4.0]) == pytest.approx(5.0, rel=1e-12)


# -- diversity and multimodality ------------------------------------------------------------------------

def test_diversity_of_points_on_a_circle_is_the_mean_chord():
    n_pairs = 50_000
    got = diversity(_circle((100_000,), seed=5), n_pairs=n_pairs, rng=6)
    assert got == pytest.approx(CIRCLE_MEAN_CHORD, abs=5 * CIRCLE_CHORD_STD / np.sqrt(n_pairs))


def test_diversity_follows_the_t2m_sampling():
    x = _gaussian(400, 8)
    rng = np.random.default_rng(7)  # T2M's calculate_diversity, with a seeded generator for np.random
    first, second = rng.choice(400, 300, replace=False), rng.choice(400, 300, replace=False)
    expected = np.linalg.norm(x[first] - x[second], axis=1).mean()
    assert diversity(x, 300, rng=np.random.default_rng(7)) == pytest.approx(expected, rel=1e-12)
    assert diversity(3.0 * x + 1.0, 300, rng=7) == pytest.approx(3.0 * expected, rel=1e-12)
    with pytest.raises(ValueError):
        diversity(x[:300], 300)


def test_multimodality_of_identical_repeats_is_zero():
    x = np.repeat(_gaussian(20, 8)[:, None], 30, axis=1)
    assert multimodality(x, 10, rng=0) == 0.0


def test_multimodality_of_repeats_on_a_circle_is_the_mean_chord():
    n_texts, n_pairs = 4000, 10  # 1000 repeats: a repeated index among the 10 pairs is unlikely (~1%)
    got = multimodality(_circle((n_texts, 1000), seed=8), n_pairs=n_pairs, rng=9)
    assert got == pytest.approx(CIRCLE_MEAN_CHORD, abs=5 * CIRCLE_CHORD_STD / np.sqrt(n_texts * n_pairs))


def test_multimodality_follows_the_t2m_sampling():
    x = _gaussian(20 * 30, 8).reshape(20, 30, 8)
    rng = np.random.default_rng(10)  # T2M's calculate_multimodality
    first, second = rng.choice(30, 10, replace=False), rng.choice(30, 10, replace=False)
    expected = np.linalg.norm(x[:, first] - x[:, second], axis=2).mean()
    assert multimodality(x, 10, rng=np.random.default_rng(10)) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError):
        multimodality(x[:, :10], 10)


def test_mean_confidence_interval_is_t2ms():
    mean, half = mean_confidence_interval(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert mean == 3.0
    assert half == pytest.approx(1.96 * np.sqrt(2.0) / np.sqrt(5.0), rel=1e-12)  # population std sqrt(2)
    means, halves = mean_confidence_interval(np.array([[0.5, 1.0], [0.5, 3.0]]))  # e.g. R-precision per replication
    np.testing.assert_allclose(means, [0.5, 2.0])
    np.testing.assert_allclose(halves, [0.0, 1.96 * 1.0 / np.sqrt(2.0)])


# -- feet -------------------------------------------------------------------------------------------------

LEFT, RIGHT = SMPL_22.foot_left, SMPL_22.foot_right


def _body(t: int) -> np.ndarray:
    """A take (t, 22, 3) with every joint 1 m up and still, ready to have its feet set."""
    p = np.zeros((t, SMPL_22.n_joints, 3))
    p[..., 1] = 1.0
    return p


def _set_foot(p: np.ndarray, foot: tuple[int, int], x: np.ndarray, y: np.ndarray) -> None:
    for j in foot:
        p[:, j, 0], p[:, j, 1] = x, y


def _planted_and_sliding(t: int, speed_m_s: float) -> np.ndarray:
    """Left foot planted on the floor, right foot sliding along X on it, at speed_m_s."""
    p = _body(t)
    _set_foot(p, LEFT, np.zeros(t), np.zeros(t))
    _set_foot(p, RIGHT, 0.3 + speed_m_s * np.arange(t) / FPS, np.zeros(t))
    return p


def test_foot_contacts_are_heights_above_the_takes_floor():
    p = _body(5)
    _set_foot(p, LEFT, np.zeros(5), np.array([0.0, 0.03, 0.2, 0.03, 0.0]))
    _set_foot(p, RIGHT, np.zeros(5), np.full(5, 0.5))
    expected = np.zeros((5, 4), dtype=bool)
    expected[:, 0] = expected[:, 1] = [True, True, False, True, True]
    p[..., 1] += 1.7  # the floor is the take's lowest foot, wherever it is
    np.testing.assert_array_equal(foot_contacts(p, SMPL_22), expected)
    tight = np.zeros((5, 4), dtype=bool)
    tight[:, 0] = tight[:, 1] = [True, False, False, False, True]
    np.testing.assert_array_equal(foot_contacts(p, SMPL_22, height_threshold=0.01), tight)


def test_foot_contacts_can_require_a_still_foot():
    p = _planted_and_sliding(10, speed_m_s=0.6)
    still = foot_contacts(p, SMPL_22, speed_threshold=0.5)
    np.testing.assert_array_equal(still, np.tile([True, True, False, False], (10, 1)))
    np.testing.assert_array_equal(foot_contacts(p, SMPL_22, speed_threshold=1.0), np.ones((10, 4), dtype=bool))


def test_a_planted_foot_does_not_skate():
    p = _body(20)
    _set_foot(p, LEFT, np.full(20, 0.2), 0.03 * (np.arange(20) % 2))  # bobbing 3 cm inside the band: not sliding
    _set_foot(p, RIGHT, np.linspace(0.0, 10.0, 20), np.full(20, 0.4))  # airborne, 10 m/s: counts nothing
    assert foot_skating(p, SMPL_22) == {"skate_speed_cm_s": 0.0, "skate_ratio": 0.0}


def test_a_slow_slide_has_its_speed_but_skates_only_past_the_threshold():
    p = _body(20)
    _set_foot(p, LEFT, 0.1 * np.arange(20) / FPS, np.zeros(20))  # 10 cm/s on the floor
    _set_foot(p, RIGHT, np.linspace(0.0, 10.0, 20), np.full(20, 0.4))
    slow = foot_skating(p, SMPL_22)  # default threshold 50 cm/s
    assert slow["skate_speed_cm_s"] == pytest.approx(10.0, rel=1e-9) and slow["skate_ratio"] == 0.0
    strict = foot_skating(p, SMPL_22, slide_threshold_cm_s=5.0)
    assert strict["skate_speed_cm_s"] == pytest.approx(10.0, rel=1e-9) and strict["skate_ratio"] == 1.0


def test_skating_pools_feet_and_takes():
    one = foot_skating(_planted_and_sliding(20, speed_m_s=0.6), SMPL_22)  # one foot still, one at 60 cm/s
    assert one["skate_speed_cm_s"] == pytest.approx(30.0, rel=1e-9) and one["skate_ratio"] == 0.5
    planted, sliding = _planted_and_sliding(20, 0.0), _planted_and_sliding(20, 0.6)
    batch = foot_skating(np.stack([planted, sliding]), SMPL_22)
    assert batch["skate_speed_cm_s"] == pytest.approx(15.0, rel=1e-9) and batch["skate_ratio"] == 0.25


def test_skating_counts_only_steps_with_both_frames_on_the_floor():
    p = _body(6)  # right foot in the air throughout; left foot lands at frame 3 moving 1 m/s, then stops
    _set_foot(p, RIGHT, np.zeros(6), np.full(6, 0.5))
    _set_foot(p, LEFT, np.array([0.0, 0.05, 0.10, 0.15, 0.15, 0.15]), np.array([0.3, 0.2, 0.1, 0.0, 0.0, 0.0]))
    assert foot_skating(p, SMPL_22) == {"skate_speed_cm_s": 0.0, "skate_ratio": 0.0}
    _set_foot(p, LEFT, np.array([0.0, 0.05, 0.10, 0.15, 0.20, 0.20]), np.array([0.3, 0.2, 0.1, 0.0, 0.0, 0.0]))
    got = foot_skating(p, SMPL_22)  # steps 3->4 (100 cm/s) and 4->5 (still), for ankle and toe
    assert got["skate_speed_cm_s"] == pytest.approx(50.0, rel=1e-9) and got["skate_ratio"] == 0.5


# -- jerk -------------------------------------------------------------------------------------------------

def _cubic(t: int, n_joints: int = 3) -> np.ndarray:
    """Every joint moving x = s^3 (s in seconds): jerk exactly 6 m/s^3."""
    s = np.arange(t) / FPS
    p = np.zeros((t, n_joints, 3))
    p[..., 0] = (s**3)[:, None]
    return p


def test_jerk_of_a_cubic_is_six():
    np.testing.assert_allclose(jerk(_cubic(30)), np.full(27, 6.0), rtol=1e-9)
    assert mean_jerk(_cubic(30)) == pytest.approx(6.0, rel=1e-9)
    half_still = _cubic(30, n_joints=2)
    half_still[:, 1] = 0.0
    np.testing.assert_allclose(jerk(np.stack([_cubic(30, 2), half_still])), [np.full(27, 6.0), np.full(27, 3.0)], rtol=1e-9)
    s = np.arange(30) / FPS
    parabola = np.stack([s**2, 1 + 0 * s, -3 * s], axis=-1)[:, None]  # constant acceleration: no jerk
    np.testing.assert_allclose(jerk(parabola), 0.0, atol=1e-9)


def _popping_walk(t: int, pop_at: int, pop: float) -> np.ndarray:
    """A smooth (jerk-free) walk of every joint that jumps `pop` metres along X at frame pop_at."""
    p = np.zeros((t, 4, 3))
    p[..., 2] = (1.2 * np.arange(t) / FPS)[:, None] + np.arange(4)[None]
    p[pop_at:, :, 0] += pop
    return p


def test_transition_jerk_peaks_at_a_pop_and_respects_its_window():
    # the third difference of a step h at b is (h, -2h, h) at samples b-3, b-2, b-1
    p = _popping_walk(60, pop_at=30, pop=0.01)
    peak, side = 2 * 0.01 * FPS**3, 0.01 * FPS**3  # 160 and 80 m/s^3
    got = transition_jerk(p, [30, 34, 35, 36, 10], window=4)
    np.testing.assert_allclose(got, [peak, peak, side, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(transition_jerk(p, [31, 29], window=0), [side, side], atol=1e-6)
    with pytest.raises(ValueError):
        transition_jerk(p, [60])


def test_jerk_reference_percentiles_of_a_known_set():
    s = np.arange(20) / FPS
    takes = [np.stack([c * s**3 / 6, 0 * s, 0 * s], axis=-1)[:, None] for c in range(101)]  # jerk c everywhere
    ref = jerk_reference(takes + [takes[0][:11]], window=9)  # the 11-frame take is too short and skipped
    assert ref.window_max.shape == (101 * (20 - 3 - 9 + 1),)
    assert ref.percentile(99) == pytest.approx(99.0, rel=1e-9)
    assert ref.percentile(50) == pytest.approx(50.0, rel=1e-9)
    assert ref.relative(198.0) == pytest.approx(2.0, rel=1e-9)


def test_jerk_reference_sees_a_pop_in_every_window_that_holds_it():
    ref = jerk_reference([_popping_walk(40, pop_at=20, pop=0.01)], window=9)
    # 37 jerk samples, 29 windows; the peak (sample 18) lies in 9 of them, the side samples widen that to 11
    values, counts = np.unique(np.round(ref.window_max, 6), return_counts=True)
    np.testing.assert_allclose(values, [0.0, 80.0, 160.0], atol=1e-6)
    np.testing.assert_array_equal(counts, [18, 2, 9])
    with pytest.raises(ValueError):
        jerk_reference([np.zeros((11, 2, 3))], window=9)


# -- edits ------------------------------------------------------------------------------------------------

def test_keyframe_error_is_the_worst_joint_at_the_given_frames():
    target = _gaussian(10 * 22, 3).reshape(10, 22, 3)
    p = target.copy()
    p[3, 5] += [0.3, 0.4, 0.0]  # 0.5 m off at frame 3
    p[7, 0] += [0.0, 0.0, 0.1]  # 0.1 m off at frame 7
    assert keyframe_error(p, target, [3, 7]) == pytest.approx(0.5, rel=1e-12)
    assert keyframe_error(p, target, [0, 7, 9]) == pytest.approx(0.1, rel=1e-12)
    assert keyframe_error(p, target, [0, 9]) == 0.0
    with pytest.raises(ValueError):
        keyframe_error(p, target, [])


@pytest.mark.parametrize("skeleton", [SMPL_22, BANDAI_NAMCO_21])
def test_lower_body_drift_ignores_the_upper_body(skeleton):
    before = _gaussian(12 * skeleton.n_joints, 3).reshape(12, skeleton.n_joints, 3)
    after = before.copy()
    after[:, sorted(skeleton.upper_body)] += 1.0  # the edit itself
    assert lower_body_drift(before, after, skeleton) == 0.0
    after[4, 0] += [0.0, 0.02, 0.0]  # the root moved 2 cm
    assert lower_body_drift(before, after, skeleton) == pytest.approx(0.02, rel=1e-9)
    after[9, skeleton.foot_left[1]] += [0.0, 0.03, 0.04]  # a toe moved 5 cm
    assert lower_body_drift(before, after, skeleton) == pytest.approx(0.05, rel=1e-9)
