"""Root keys for the masked transformer: where the root stands at the first frame of chosen tokens.

A key is (x, z, sin(heading), cos(heading), 1): the root's ground position relative to the sequence's first frame,
in that frame's heading frame (which is how features integrate: the first frame stands at the origin facing +Z),
divided by ROOT_KEY_SCALE, and the direction it faces. In-betweening gives the keys' tokens this, so the tokens in
between are drawn to arrive where the next key stands (app.engine.editing.refill); training gives it at a few
random tokens (app.engine.train.masked).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from app.engine.features import root_from_features
from app.engine.models.masked_transformer import ROOT_KEY_SCALE
from app.engine.rotations import qinv, qrot


def root_keys(features: Tensor | np.ndarray, unit: int, at: Tensor | np.ndarray) -> Tensor:
    """features (T, D) of a sequence starting at its first token, at (N,) bool: the tokens that get a key
    -> keys (N, ROOT_KEY_DIM) float32, zero where `at` is False. T may end mid-token (the last token's first frame
    is what counts)."""
    f = torch.as_tensor(np.asarray(features, np.float64) if isinstance(features, np.ndarray) else features.double())
    at = torch.as_tensor(at, dtype=torch.bool)
    quat, root = root_from_features(f)  # (T, 4), (T, 3)
    first = torch.arange(len(at)) * unit
    if len(at) and int(first[-1]) >= len(f):
        raise ValueError(f"{len(at)} tokens of {unit} frames need at least {int(first[-1]) + 1} frames, got {len(f)}")
    facing = qrot(qinv(quat[first]), f.new_tensor([0.0, 0.0, 1.0]).expand(len(first), 3))  # (N, 3)
    keys = torch.stack([root[first, 0] / ROOT_KEY_SCALE, root[first, 2] / ROOT_KEY_SCALE, facing[:, 0], facing[:, 2],
                        torch.ones(len(first), dtype=f.dtype)], dim=-1)  # (N, ROOT_KEY_DIM)
    return (keys * at[:, None]).float()
