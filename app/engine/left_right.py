"""The left/right test: prompts that differ only in "left" and "right", judged by what the motion does.

KMM's claim is that text-conditioned motion models confuse sides. Each prompt here names a side; the generated
motion is judged from its joint positions, the way an animator would check it:
- hands: the hand that travels more relative to the hips (path length of Hand_L against Hand_R);
- travel: where the root ends up across the starting heading (motions start facing +Z, their left is +X).
Accuracy is the share of generations whose judged side is the prompt's.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from app.engine.features import positions_from_features
from app.engine.skeleton import Skeleton

# (prompt with {side}, how its side shows): the dataset's sided contents, in its captions' words
PROMPTS: tuple[tuple[str, str], ...] = (
    ("a person waves his {side} hand", "hands"),
    ("a person raises her {side} hand", "hands"),
    ("a person walks to the {side}", "travel"),
    ("a person walks forward and turns {side}", "travel"),
)


def judged_side(features: np.ndarray, skeleton: Skeleton, by: str) -> str:
    """features (T, D) -> "left" or "right": the side the motion acts on, judged `by` "hands" or "travel"."""
    positions = positions_from_features(features.astype(np.float64), skeleton.n_joints)  # (T, J, 3)
    if by == "travel":
        return "left" if positions[-1, 0, 0] > positions[0, 0, 0] else "right"
    relative = positions - positions[:, :1]  # (T, J, 3) about the hips
    path = np.linalg.norm(np.diff(relative, axis=0), axis=-1).sum(0)  # (J,)
    left, right = skeleton.index("Hand_L"), skeleton.index("Hand_R")
    return "left" if path[left] > path[right] else "right"


def left_right_accuracy(generate: Callable[[str, int], np.ndarray], skeleton: Skeleton, seeds: int = 5
                        ) -> dict[str, float]:
    """generate(prompt, seed) -> features (T, D). -> accuracy overall and per prompt (both sides, `seeds` each)."""
    scores: dict[str, float] = {}
    for template, by in PROMPTS:
        right = [judged_side(generate(template.format(side=side), seed), skeleton, by) == side
                 for side in ("left", "right") for seed in range(seeds)]
        scores[template.format(side="left/right")] = float(np.mean(right))
    scores["all"] = float(np.mean(list(scores.values())))
    return scores
