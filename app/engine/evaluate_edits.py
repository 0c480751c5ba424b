"""`kinema eval` rows for the editing operations, on the test split, scored like generation plus what animators feel.

- `inbetween`: each test motion (its first 196 frames) with keys locked at its first, middle and last frame,
  everything else regenerated from its caption. Adds the locked-frame error and the jerk around the keys as a
  multiple of real data's 99th percentile of windowed jerk (<= 1: as smooth as 99 % of real motion).
  `inbetween-diffusion` is the same with the diffusion engine's in-painting.
- `edit-upper`: each test motion's upper body regenerated over the whole take from its caption, the legs and
  root kept (MMM's protocol: the ground-truth lower body, a generated upper body). Adds the lower-body drift.
- `long`: the test motions in groups of four, each group one long take of their captions (each segment at most
  `segment_frames` long), every segment cut back out and scored against its own caption. Adds the jerk at the
  boundaries, relative to real data's 99th percentile.

Each source keeps the animator metrics of its last call in `extra` (evaluate_source adds them to the row).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.engine import metrics
from app.engine.data.dataset import MotionRecord
from app.engine.evaluate import MAX_FRAMES
from app.engine.features import positions_from_features
from app.engine.motion import Motion
from app.engine.skeleton import Skeleton

JERK_WINDOW = 4  # frames each side of a key or boundary; the reference uses windows of 2 * 4 + 1 samples


def real_jerk_reference(records: list[MotionRecord], n_joints: int) -> metrics.JerkReference:
    return metrics.jerk_reference([positions_from_features(r.features.astype(np.float64), n_joints) for r in records],
                                  window=2 * JERK_WINDOW + 1)


@dataclass
class InbetweenSource:
    skeleton: Skeleton
    reference: metrics.JerkReference
    name: str = "inbetween"
    reconstructs: bool = False
    stochastic: bool = False  # MultiModality is a generation metric; edits are scored on their contracts
    extra: dict[str, float] = field(default_factory=dict)
    model: object | None = None  # a loaded pipeline (tests); default: the shipped checkpoints
    guidance: float | None = None  # None: the verb's default (app.engine.ops)
    engine: str = "masked"  # or "diffusion": its in-painting, at its own default steps and guidance

    def __call__(self, records: list[MotionRecord], captions: list[str], seed: int) -> list[np.ndarray]:
        from app.engine.ops import inbetween

        out, errors, key_jerks = [], [], []
        for i, (r, c) in enumerate(zip(records, captions)):
            motion = Motion(r.features[:MAX_FRAMES], skeleton_name=self.skeleton.name)
            t = motion.n_frames
            keys = sorted({0, t // 2, t - 1})
            edited = inbetween(motion, keys, c, seed=seed + i, guidance=self.guidance, model=self.model,
                               engine=self.engine)
            positions = edited.positions
            errors.append(metrics.keyframe_error(positions, motion.positions, keys))
            inner = [k for k in keys if JERK_WINDOW + 2 <= k <= t - JERK_WINDOW - 2]  # keys with room on both sides
            if inner:
                key_jerks.extend(metrics.transition_jerk(positions, inner, JERK_WINDOW).tolist())
            out.append(edited.features)
        self.extra = {"lock_error_mm": 1000.0 * float(np.max(errors)),
                      "key_jerk_rel_p99": float(self.reference.relative(np.percentile(key_jerks, 99))),
                      "key_jerk_within_p99": 100.0 * float(np.mean(self.reference.relative(np.array(key_jerks)) <= 1))}
        return out


@dataclass
class UpperEditSource:
    skeleton: Skeleton
    name: str = "edit-upper"
    reconstructs: bool = False
    stochastic: bool = False  # MultiModality is a generation metric; edits are scored on their contracts
    extra: dict[str, float] = field(default_factory=dict)
    model: object | None = None  # a loaded pipeline (tests); default: the shipped checkpoints
    guidance: float | None = None  # None: the verb's default (app.engine.ops)

    def __call__(self, records: list[MotionRecord], captions: list[str], seed: int) -> list[np.ndarray]:
        from app.engine.ops import edit_upper

        out, drift = [], []
        for i, (r, c) in enumerate(zip(records, captions)):
            motion = Motion(r.features[:MAX_FRAMES], skeleton_name=self.skeleton.name)
            edited = edit_upper(motion, (0, motion.n_frames), c, seed=seed + i, guidance=self.guidance,
                                model=self.model)
            drift.append(metrics.lower_body_drift(motion.positions, edited.positions, self.skeleton))
            out.append(edited.features)
        self.extra = {"lower_drift_mm": 1000.0 * float(np.max(drift))}
        return out


@dataclass
class LongTakeSource:
    skeleton: Skeleton
    reference: metrics.JerkReference
    prompts: int = 4
    segment_frames: int = 96
    name: str = "long (4 prompts)"
    reconstructs: bool = False
    stochastic: bool = False  # MultiModality is a generation metric; edits are scored on their contracts
    extra: dict[str, float] = field(default_factory=dict)
    model: object | None = None  # a loaded pipeline (tests); default: the shipped checkpoints
    guidance: float | None = None  # None: the verb's default (app.engine.ops)

    def __call__(self, records: list[MotionRecord], captions: list[str], seed: int) -> list[np.ndarray]:
        from app.engine.ops import long_sequence

        out, boundary_jerks = [], []
        for g in range(0, len(records), self.prompts):
            group = list(zip(records[g : g + self.prompts], captions[g : g + self.prompts]))
            lengths = [max(8, min(len(r.features), self.segment_frames)) for r, _ in group]
            take = long_sequence([(c, n) for (_, c), n in zip(group, lengths)], seed=seed + g,
                                 guidance=self.guidance, model=self.model)
            starts = np.cumsum([0] + lengths)
            out.extend(take.features[a:b] for a, b in zip(starts[:-1], starts[1:]))
            if len(group) > 1:
                boundary_jerks.extend(metrics.transition_jerk(take.positions, starts[1:-1].tolist(), JERK_WINDOW).tolist())
        rel = self.reference.relative(np.array(boundary_jerks))
        self.extra = {"boundary_jerk_rel_p99": float(np.percentile(rel, 99)),
                      "boundary_jerk_within_p99": 100.0 * float(np.mean(rel <= 1))}
        return out
