"""Evaluation metrics: the field's text-to-motion scores and the artefacts animators notice.

Text-to-motion scores follow Guo et al. 2022 ("Generating Diverse and Natural 3D Human Motions from Text") and
their evaluation code, which T2M-GPT, MMM and MoMask reuse: FID, R-precision, matching score (MM-Dist), diversity,
multimodality and the "mean ± 1.96σ/√n" reporting. They work on evaluator embeddings (any units; D dimensions).

Motion-quality measures work on joint positions (..., T, J, 3) in metres, Y up, at `fps` frames per second
(20 for our data): foot contacts and foot skating, jerk, locked-keyframe error, lower-body drift, and jerk at
clip boundaries judged against the jerk of real data. Everything is NumPy, vectorised, float64.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from app.engine.skeleton import Skeleton

FPS = 20
CONTACT_HEIGHT = 0.05  # metres above the take's floor: GMD's/MMM's foot contact height
SKATE_SPEED_CM_S = 50.0  # GMD's/MMM's 2.5 cm per frame at 20 fps: faster than this on the floor is skating


# -- text-to-motion scores (Guo et al. 2022) -----------------------------------------------------------------

def activation_statistics(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of embeddings (N, D), N >= 2: the Gaussian that FID compares."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need embeddings (N >= 2, D), got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False).reshape(x.shape[1], x.shape[1])


def _sqrtm(a: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():  # a singular product (N < D embeddings) is expected; we check finiteness
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        return linalg.sqrtm(a)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), in squared embedding units:
    |mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2)).

    As the reference: when the square root of the product is not finite, eps*I is added to both covariances;
    numerical noise can leave small imaginary parts, which are dropped (large ones raise)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, dtype=np.float64)), np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64)), np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"mismatched Gaussians: means {mu1.shape}, {mu2.shape}; covariances {sigma1.shape}, {sigma2.shape}")
    diff = mu1 - mu2
    covmean = _sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = _sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0.0, atol=1e-3):
            raise ValueError(f"sqrtm left an imaginary component of {np.abs(covmean.imag).max():.3g}")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def fid(real_embeddings: np.ndarray, generated_embeddings: np.ndarray) -> float:
    """Fréchet Inception Distance between the Gaussians fitted to real and generated embeddings (N, D)."""
    return frechet_distance(*activation_statistics(real_embeddings), *activation_statistics(generated_embeddings))


def euclidean_distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise Euclidean distances (N, M) between rows of a (N, D) and b (M, D) (or batches (..., N, D)), via
    |a|^2 + |b|^2 - 2ab (memory N*M, not N*M*D). Rounding below zero is clipped, where T2M's would give NaN."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d2 = (a**2).sum(-1)[..., :, None] + (b**2).sum(-1)[..., None, :] - 2.0 * a @ np.swapaxes(b, -1, -2)
    return np.sqrt(np.maximum(d2, 0.0))


def _check_pairs(text_embeddings: np.ndarray, motion_embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, m = np.asarray(text_embeddings, dtype=np.float64), np.asarray(motion_embeddings, dtype=np.float64)
    if t.ndim != 2 or t.shape != m.shape:
        raise ValueError(f"need paired embeddings (N, D), got {t.shape} and {m.shape}")
    return t, m


def r_precision(
    text_embeddings: np.ndarray,
    motion_embeddings: np.ndarray,
    top_k: int = 3,
    batch_size: int = 32,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """R-precision (top_k,): the share of texts whose own motion is among the k nearest, for k = 1..top_k.

    The T2M protocol: the N (text, motion) pairs are cut into consecutive batches of `batch_size` (the remainder
    is dropped; the pairs are shuffled first when `rng` is given) and each text ranks the motions of its batch
    by Euclidean distance. Chance level is k / batch_size. Ties rank by index, as a stable argsort would, so
    identical motion embeddings score chance rather than perfect."""
    t, m = _check_pairs(text_embeddings, motion_embeddings)
    n_batches = t.shape[0] // batch_size
    if n_batches == 0:
        raise ValueError(f"R-precision needs at least batch_size={batch_size} pairs, got {t.shape[0]}")
    if rng is not None:
        order = rng.permutation(t.shape[0])
        t, m = t[order], m[order]
    n = n_batches * batch_size
    t = t[:n].reshape(n_batches, batch_size, -1)
    m = m[:n].reshape(n_batches, batch_size, -1)
    dist = euclidean_distance_matrix(t, m)  # (batches, text, motion)
    own = np.diagonal(dist, axis1=1, axis2=2)[..., None]  # (batches, text, 1)
    earlier = np.tril(np.ones((batch_size, batch_size), dtype=bool), k=-1)  # motion index < text index
    rank = (dist < own).sum(-1) + ((dist == own) & earlier).sum(-1)  # 0 = nearest
    return (rank.reshape(-1, 1) < np.arange(1, top_k + 1)).mean(axis=0)


def matching_score(text_embeddings: np.ndarray, motion_embeddings: np.ndarray) -> float:
    """MM-Dist: mean Euclidean distance between each text embedding and its own motion's (N, D)."""
    t, m = _check_pairs(text_embeddings, motion_embeddings)
    return float(np.linalg.norm(t - m, axis=-1).mean())


def diversity(embeddings: np.ndarray, n_pairs: int = 300, rng: np.random.Generator | int | None = None) -> float:
    """Mean distance between n_pairs random pairs of embeddings (N, D), N > n_pairs.

    As T2M: two index lists of length n_pairs are drawn independently, each without replacement, and paired
    position by position; so each pair is uniform over all N^2 ordered pairs (a pair may repeat an index)."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] <= n_pairs:
        raise ValueError(f"diversity needs embeddings (N > n_pairs={n_pairs}, D), got shape {x.shape}")
    rng = np.random.default_rng(rng)
    first = rng.choice(x.shape[0], n_pairs, replace=False)
    second = rng.choice(x.shape[0], n_pairs, replace=False)
    return float(np.linalg.norm(x[first] - x[second], axis=-1).mean())


def multimodality(embeddings: np.ndarray, n_pairs: int = 10, rng: np.random.Generator | int | None = None) -> float:
    """Mean distance between generations for the same text: embeddings (n_texts, n_repeats, D), n_repeats > n_pairs.

    As T2M: two lists of n_pairs repeat indices are drawn as in `diversity` and shared by every text."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 3 or x.shape[1] <= n_pairs:
        raise ValueError(f"multimodality needs embeddings (n_texts, n_repeats > n_pairs={n_pairs}, D), got {x.shape}")
    rng = np.random.default_rng(rng)
    first = rng.choice(x.shape[1], n_pairs, replace=False)
    second = rng.choice(x.shape[1], n_pairs, replace=False)
    return float(np.linalg.norm(x[:, first] - x[:, second], axis=-1).mean())


def mean_confidence_interval(values: np.ndarray) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Mean and 95% half-width over replications (axis 0) exactly as T2M's `get_metric_statistics` reports
    "mean ± CI": 1.96 * std / sqrt(n), with the population std (ddof=0)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 0 or v.shape[0] == 0:
        raise ValueError("need at least one replication")
    mean, half = v.mean(axis=0), 1.96 * v.std(axis=0) / np.sqrt(v.shape[0])
    return (float(mean), float(half)) if v.ndim == 1 else (mean, half)


# -- feet ---------------------------------------------------------------------------------------------------

def _feet(skeleton: Skeleton) -> list[int]:
    return [*skeleton.foot_left, *skeleton.foot_right]  # left ankle, left toe, right ankle, right toe


def foot_contacts(
    positions: np.ndarray,
    skeleton: Skeleton,
    height_threshold: float = CONTACT_HEIGHT,
    speed_threshold: float | None = None,
    fps: float = FPS,
) -> np.ndarray:
    """Contact flags (..., T, 4) for (left ankle, left toe, right ankle, right toe) of positions (..., T, J, 3).

    A foot joint is in contact when its height above the take's floor (the lowest height any foot joint reaches
    in that take) is below `height_threshold` metres, and, if `speed_threshold` (m/s) is given, its 3D speed
    (central differences) is below it too. One floor per take keeps a foot that never lands out of contact;
    the price is that ankle joints, which sit several cm above the sole, seldom count at the 5 cm default."""
    p = np.asarray(positions, dtype=np.float64)
    feet = p[..., _feet(skeleton), :]  # (..., T, 4, 3)
    height = feet[..., 1]
    floor = height.min(axis=(-1, -2), keepdims=True)
    contact = height - floor < height_threshold
    if speed_threshold is not None:
        if p.shape[-3] < 2:
            raise ValueError("speeds need at least 2 frames")
        speed = np.linalg.norm(np.gradient(feet, axis=-3), axis=-1) * fps
        contact &= speed < speed_threshold
    return contact


def foot_skating(
    positions: np.ndarray,
    skeleton: Skeleton,
    fps: float = FPS,
    height_threshold: float = CONTACT_HEIGHT,
    slide_threshold_cm_s: float = SKATE_SPEED_CM_S,
) -> dict[str, float]:
    """How much planted feet slide, for one take (T, J, 3) or a batch (B, T, J, 3).

    A contact step is a step t -> t+1 of one foot joint that is in contact (`foot_contacts`, height only) at both
    frames. Over all contact steps of all foot joints (and takes):
      skate_speed_cm_s: mean horizontal (XZ) speed, cm/s; 0 for a planted foot.
      skate_ratio: share of contact steps faster than `slide_threshold_cm_s`; the default 50 cm/s is GMD's/MMM's
        2.5 cm per frame at 20 fps, so ordinary landings and toe-offs inside the 5 cm band do not count.
    With no contact steps both are 0."""
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim not in (3, 4) or p.shape[-3] < 2:
        raise ValueError(f"need positions (T >= 2, J, 3) or (B, T, J, 3), got shape {p.shape}")
    contact = foot_contacts(p, skeleton, height_threshold)
    steady = contact[..., 1:, :] & contact[..., :-1, :]  # (..., T-1, 4)
    step = np.diff(p[..., _feet(skeleton), :], axis=-3)[..., [0, 2]]  # horizontal
    speed = np.linalg.norm(step, axis=-1) * fps * 100.0  # cm/s
    on_floor = speed[steady]
    if on_floor.size == 0:
        return {"skate_speed_cm_s": 0.0, "skate_ratio": 0.0}
    return {"skate_speed_cm_s": float(on_floor.mean()), "skate_ratio": float((on_floor > slide_threshold_cm_s).mean())}


# -- smoothness ---------------------------------------------------------------------------------------------

def jerk(positions: np.ndarray, fps: float = FPS) -> np.ndarray:
    """Per-frame jerk (..., T-3) in m/s^3: the magnitude of each joint's third finite difference times fps^3,
    averaged over joints. Sample i spans frames i..i+3 (exact for cubic trajectories)."""
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim < 3 or p.shape[-3] < 4:
        raise ValueError(f"jerk needs positions (..., T >= 4, J, 3), got shape {p.shape}")
    return (np.linalg.norm(np.diff(p, n=3, axis=-3), axis=-1) * fps**3).mean(axis=-1)


def mean_jerk(positions: np.ndarray, fps: float = FPS) -> float:
    """Mean of `jerk` over frames (and any batch), m/s^3."""
    return float(jerk(positions, fps).mean())


def transition_jerk(positions: np.ndarray, boundaries: list[int], window: int = 4, fps: float = FPS) -> np.ndarray:
    """Largest per-frame jerk (m/s^3) near each clip boundary of a take (T, J, 3): (len(boundaries),).

    Boundary b is the cut between frames b-1 and b (b = first frame of the next clip). Jerk sample i is centred
    on frame i+1.5, and it counts when that centre is within `window` frames of the cut, |i + 2 - b| <= window:
    2*window + 1 samples, the same span as `jerk_reference(window=2*window + 1)`. A one-frame pop at b peaks at
    sample b-2."""
    j = jerk(positions, fps)  # (T-3,)
    b = np.asarray(boundaries, dtype=np.int64).reshape(-1)
    t = np.asarray(positions).shape[-3]
    if np.any((b < 1) | (b > t - 1)):
        raise ValueError(f"boundaries must lie in 1..{t - 1}, got {b.tolist()}")
    near = np.abs(np.arange(j.shape[0])[None, :] + 2 - b[:, None]) <= window  # (boundaries, T-3)
    if not near.any(axis=1).all():
        raise ValueError(f"some boundary has no jerk sample within {window} frames (take of {t} frames)")
    return np.where(near, j, -np.inf).max(axis=1)


@dataclass(frozen=True)
class JerkReference:
    """The distribution of windowed jerk in real motion: the max of `jerk` over every `window` consecutive
    samples of every real take. A transition is as smooth as real data when its `transition_jerk` is within
    the 99th percentile, i.e. `relative(...) <= 1`."""

    window_max: np.ndarray  # (n_windows,) sorted, m/s^3
    window: int
    fps: float

    def percentile(self, q: float) -> float:
        """The q-th percentile (0..100, linear interpolation) of windowed jerk, m/s^3."""
        return float(np.percentile(self.window_max, q))

    def relative(self, value: float | np.ndarray) -> float | np.ndarray:
        """Jerk as a multiple of real data's 99th percentile: above 1 is rougher than 99% of real windows."""
        return value / self.percentile(99.0)


def jerk_reference(motions: list[np.ndarray], window: int = 9, fps: float = FPS) -> JerkReference:
    """Fit a `JerkReference` from real takes, each (T, J, 3); takes too short for one window are skipped."""
    maxima = [
        np.lib.stride_tricks.sliding_window_view(jerk(m, fps), window).max(axis=-1)
        for m in motions
        if np.asarray(m).shape[-3] >= window + 3
    ]
    if not maxima:
        raise ValueError(f"no take has the {window + 3} frames one window of {window} jerk samples needs")
    return JerkReference(window_max=np.sort(np.concatenate(maxima)), window=window, fps=fps)


# -- edits --------------------------------------------------------------------------------------------------

def keyframe_error(positions: np.ndarray, target: np.ndarray, frames: list[int]) -> float:
    """Locked-frame error: the largest joint distance (metres) between positions and target (T, J, 3) over the
    given frames. Callers report it in mm."""
    if len(frames) == 0:
        raise ValueError("keyframe_error needs at least one frame")
    p, q = np.asarray(positions, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"positions {p.shape} and target {q.shape} differ")
    idx = list(frames)
    return float(np.linalg.norm(p[..., idx, :, :] - q[..., idx, :, :], axis=-1).max())


def lower_body_drift(before: np.ndarray, after: np.ndarray, skeleton: Skeleton) -> float:
    """How far an upper-body edit moved the legs: the largest distance (metres) of any lower-body joint, root
    included, between input and output (T, J, 3), over all frames."""
    a, b = np.asarray(before, dtype=np.float64), np.asarray(after, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"before {a.shape} and after {b.shape} differ")
    legs = sorted(skeleton.lower_body | {0})
    return float(np.linalg.norm(a[..., legs, :] - b[..., legs, :], axis=-1).max())
