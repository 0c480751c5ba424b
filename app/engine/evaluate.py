"""`kinema eval`: the field's text-to-motion table for real motions and for models, with 95 % intervals.

Each repeat draws one caption per test motion (seeded), asks the source for a motion of the real one's length,
embeds both with the trained evaluator and scores them (app.engine.metrics). The real test motions are the
reference row (the ceiling); "real train" gives the FID between the real train and test motions, the yardstick
that generated FIDs are read against. Sources that reconstruct (the tokenizer) also report MPJPE in mm.
Given a `PhysicalReference` (bands per action label from the real training takes, app.engine.physical), every
row also reports physical agreement and the speed ratio of locomotion, overall and per label.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from app.engine import metrics, physical
from app.engine.data.dataset import MotionFolder, MotionRecord
from app.engine.evaluation import Evaluator
from app.engine.features import positions_from_features
from app.engine.skeleton import Skeleton

MAX_FRAMES = 196


class MotionSource(Protocol):
    """Makes one motion (features (T, D), un-normalised) per (record, caption), deterministically for a seed."""

    name: str
    reconstructs: bool  # compares to the record's own motion (MPJPE), rather than generating from text
    stochastic: bool  # several seeds give different motions: MultiModality is measured

    def __call__(self, records: list[MotionRecord], captions: list[str], seed: int) -> list[np.ndarray]: ...


@dataclass
class RealMotions:
    name: str = "real"
    reconstructs: bool = False
    stochastic: bool = False

    def __call__(self, records: list[MotionRecord], captions: list[str], seed: int) -> list[np.ndarray]:
        return [r.features[:MAX_FRAMES] for r in records]


@dataclass
class GeneratedMotions:
    """A text-to-motion engine behind `fn(caption, n_frames, seed) -> features`."""

    name: str
    fn: Callable[[str, int, int], np.ndarray]
    reconstructs: bool = False
    stochastic: bool = True

    def __call__(self, records: list[MotionRecord], captions: list[str], seed: int) -> list[np.ndarray]:
        return [self.fn(c, min(len(r.features), MAX_FRAMES), seed + i) for i, (r, c) in enumerate(zip(records, captions))]


@dataclass
class ReconstructedMotions:
    """A tokenizer behind `fn(features) -> reconstructed features`."""

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    reconstructs: bool = True
    stochastic: bool = False

    def __call__(self, records: list[MotionRecord], captions: list[str], seed: int) -> list[np.ndarray]:
        return [self.fn(r.features[:MAX_FRAMES]) for r in records]


@dataclass
class EvalSettings:
    repeats: int = 3
    seed: int = 0
    batch_size: int = 32
    diversity_pairs: int = 300
    mm_texts: int = 32
    mm_repeats: int = 12
    mm_pairs: int = 10


@dataclass
class EvalRow:
    model: str
    metrics: dict[str, tuple[float, float]] = field(default_factory=dict)  # name -> (mean, 95 % half-width)


COLUMNS = [
    ("R@1", "r_precision_top1"), ("R@2", "r_precision_top2"), ("R@3", "r_precision_top3"), ("FID", "fid"),
    ("MM-Dist", "mm_dist"), ("Diversity", "diversity"), ("MModality", "multimodality"),
    ("MPJPE mm", "mpjpe_mm"), ("pose MPJPE mm", "pose_mpjpe_mm"), ("phys agree", "physical_agreement"),
    ("speed ratio", "speed_ratio"), ("skate cm/s", "skate_speed_cm_s"), ("skate %", "skate_percent"),
    ("knee>175° %", "straight_knee_percent"), ("jerk m/s3", "jerk"),
    ("lock err mm", "lock_error_mm"), ("key jerk/p99", "key_jerk_rel_p99"), ("keys<=p99 %", "key_jerk_within_p99"),
    ("legs drift mm", "lower_drift_mm"), ("join jerk/p99", "boundary_jerk_rel_p99"), ("joins<=p99 %", "boundary_jerk_within_p99"),
    ("path err cm", "path_error_cm"), ("waypoint err cm", "waypoint_error_cm"), ("pin err cm", "pin_error_cm"),
]


def _motion_quality(positions: list[np.ndarray], skeleton: Skeleton | None) -> dict[str, float]:
    out = {"jerk": float(np.mean([metrics.mean_jerk(p) for p in positions if len(p) >= 4]))}
    if skeleton is not None:
        skates = [metrics.foot_skating(p, skeleton) for p in positions]
        out["skate_speed_cm_s"] = float(np.mean([s["skate_speed_cm_s"] for s in skates]))
        out["skate_percent"] = 100.0 * float(np.mean([s["skate_ratio"] for s in skates]))
        straight = np.concatenate([physical.knee_angles(p, skeleton) > physical.STRAIGHT_KNEE_DEG for p in positions])
        out["straight_knee_percent"] = 100.0 * float(straight.mean())  # over all frames and knees
    return out


def _physical(positions: list[np.ndarray], records: list[MotionRecord], skeleton: Skeleton,
              reference: physical.PhysicalReference) -> dict[str, float]:
    """Physical scores of the takes; on a dataset of several sources (a combined build) also `agreement@<source>`
    per source (the record's `dataset` label), so a widened corpus shows what each part of it gets."""
    usable = [i for i, p in enumerate(positions) if len(p) >= 2]
    signatures = [physical.signature(positions[i], skeleton) for i in usable]
    labels = [physical.action_label(records[i]) for i in usable]
    scores = reference.score(signatures, labels)
    sources = [str(records[i].label.get("dataset", "")) for i in usable]
    if len(set(sources)) > 1:
        for source in sorted(set(sources)):
            part = reference.score([s for s, o in zip(signatures, sources) if o == source],
                                   [lab for lab, o in zip(labels, sources) if o == source])
            if part:
                scores[f"agreement@{source}"] = part["physical_agreement"]
    return scores


def _mpjpe_mm(motions: list[np.ndarray], records: list[MotionRecord], n_joints: int) -> dict[str, float]:
    """Mean joint error in mm: on world positions (root drift included, as it accumulates over the take) and on
    root-relative poses (what the body does, wherever it is)."""
    world, pose = [], []
    for m, r in zip(motions, records):
        n = min(len(m), len(r.features))
        pred = positions_from_features(m[:n].astype(np.float64), n_joints)
        real = positions_from_features(r.features[:n].astype(np.float64), n_joints)
        world.append(np.linalg.norm(pred - real, axis=-1).mean())
        pose.append(np.linalg.norm((pred - pred[:, :1]) - (real - real[:, :1]), axis=-1).mean())
    return {"mpjpe_mm": 1000.0 * float(np.mean(world)), "pose_mpjpe_mm": 1000.0 * float(np.mean(pose))}


def evaluate_source(
    source: MotionSource, folder: MotionFolder, evaluator: Evaluator, settings: EvalSettings = EvalSettings(),
    progress: Callable[[str], None] = lambda message: None, reference: physical.PhysicalReference | None = None,
) -> EvalRow:
    records = [r for r in folder.records if len(r.features) >= evaluator.config.unit]
    real_embeddings = evaluator.embed_motions([r.features for r in records])
    per_repeat: dict[str, list[float]] = {}
    for repeat in range(settings.repeats):
        progress(f"{source.name}: repeat {repeat + 1}/{settings.repeats}")
        rng = np.random.default_rng(settings.seed + repeat)
        captions = [r.captions[rng.integers(len(r.captions))] for r in records]
        motions = source(records, captions, settings.seed + 1000 * repeat)
        extra = dict(getattr(source, "extra", {}))  # an editing source's own metrics for this call
        text_emb = evaluator.embed_texts(captions)
        motion_emb = evaluator.embed_motions(motions)
        scores = dict(zip(("r_precision_top1", "r_precision_top2", "r_precision_top3"),
                          metrics.r_precision(text_emb, motion_emb, 3, settings.batch_size, rng)))
        scores["fid"] = metrics.fid(real_embeddings, motion_emb)
        scores["mm_dist"] = metrics.matching_score(text_emb, motion_emb)
        scores["diversity"] = metrics.diversity(motion_emb, settings.diversity_pairs, rng)
        positions = [positions_from_features(m.astype(np.float64), folder.info.n_joints) for m in motions]
        scores.update(_motion_quality(positions, folder.info.skeleton))
        if reference is not None and folder.info.skeleton is not None:
            scores.update(_physical(positions, records, folder.info.skeleton, reference))
        scores.update(extra)
        if source.reconstructs:
            scores.update(_mpjpe_mm(motions, records, folder.info.n_joints))
        if source.stochastic:
            chosen = rng.choice(len(records), min(settings.mm_texts, len(records)), replace=False)
            chosen_records = [records[i] for i in chosen]
            chosen_captions = [captions[i] for i in chosen]
            runs = [motion_emb_of(source, evaluator, chosen_records, chosen_captions, settings.seed + 7919 * (k + 1) + repeat)
                    for k in range(settings.mm_repeats)]
            scores["multimodality"] = metrics.multimodality(np.stack(runs, axis=1), settings.mm_pairs, rng)
        for name, value in scores.items():
            per_repeat.setdefault(name, []).append(float(value))
    return EvalRow(source.name, {k: metrics.mean_confidence_interval(np.array(v)) for k, v in per_repeat.items()})


def motion_emb_of(source: MotionSource, evaluator: Evaluator, records: list[MotionRecord], captions: list[str], seed: int) -> np.ndarray:
    return evaluator.embed_motions(source(records, captions, seed))


def train_test_fid(train: MotionFolder, test: MotionFolder, evaluator: Evaluator) -> EvalRow:
    """FID between every real train motion and every real test motion: what 'close to real data' means here."""
    unit = evaluator.config.unit
    train_emb = evaluator.embed_motions([r.features for r in train.records if len(r.features) >= unit])
    test_emb = evaluator.embed_motions([r.features for r in test.records if len(r.features) >= unit])
    return EvalRow("real train vs test", {"fid": (metrics.fid(test_emb, train_emb), 0.0)})


def format_table(rows: list[EvalRow], title: str) -> str:
    used = [(label, key) for label, key in COLUMNS if any(key in r.metrics for r in rows)]
    width = max(len(r.model) for r in rows) + 2
    lines = [title, f"{'model':<{width}}" + "".join(f"{label:>17}" for label, _ in used)]
    for row in rows:
        cells = []
        for _, key in used:
            if key not in row.metrics:
                cells.append(f"{'-':>17}")
                continue
            mean, half = row.metrics[key]
            cells.append(f"{mean:>9.3f} ±{half:<6.3f}" if half else f"{mean:>9.3f}        ")
        lines.append(f"{row.model:<{width}}" + "".join(cells))
    return "\n".join(lines)


def format_by_source(rows: list[EvalRow]) -> str:
    """Physical agreement per source of a combined dataset, a line per row; "" on a single-source dataset."""
    lines = []
    for row in rows:
        parts = [f"{k.split('@', 1)[1]} {row.metrics[k][0]:.3f}"
                 for k in sorted(row.metrics) if k.startswith("agreement@")]
        if parts:
            lines.append(f"physical agreement per source ({row.model}): " + ", ".join(parts))
    return "\n".join(lines)
