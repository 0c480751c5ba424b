"""Draw weights per action label, shared by every trainer: each action counts, whatever its number of takes.

Bandai Namco's dataset 2 has 200–440 takes per action, dataset 1 about 15, a second corpus one or two of a kick or
jumping jacks. Drawn uniformly, a model sees a kick once per thousand draws and never learns it. With
`label_balance` b a label with n training motions is drawn in proportion to n ** (1 - b): 0 draws motions
uniformly, 1 labels uniformly, 0.75 (the trainers' default) draws dataset 1's actions about a third as often as
dataset 2's instead of a twentieth. Motions without a label ("") form one label of their own.
"""
from __future__ import annotations

import numpy as np


def label_weights(labels: list[str], balance: float) -> np.ndarray:
    """Draw probability per motion (sums to 1): a label with n motions gets n ** (1 - balance) of the total,
    shared equally among its motions."""
    _, index, counts = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True,
                                 return_counts=True)
    weights = counts.astype(np.float64) ** -balance
    per_motion = weights[index]
    return per_motion / per_motion.sum()


def draw_weights(labels: list[str], balance: float) -> np.ndarray | None:
    """`label_weights`, or None (a trainer's plain uniform draws, bit for bit as before) for balance 0."""
    return label_weights(labels, balance) if balance else None
