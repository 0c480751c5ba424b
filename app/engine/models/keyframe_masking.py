"""Key-frame masking (KMM, Zhang et al. 2024, arXiv 2411.06481): hide the tokens where the motion happens.

Uniform masking mostly hides tokens of held poses and steady cycles, which their neighbours already give away.
KMM masks key frames instead: the tokens of highest local motion density, picked as density peaks (high density
and far from any denser token, so that one burst of motion does not take every key slot), mixed with random
masking so that the model still learns to fill any gap an animator leaves.

Density of a frame: the mean absolute feature velocity plus acceleration (normalised features, so every
dimension counts alike), averaged over a `window` of frames; of a token, the mean over its `unit` frames.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def token_density(features: np.ndarray, unit: int, window: int = 5) -> np.ndarray:
    """features (T, D) normalised, T >= unit -> local motion density per token (T // unit,) float32."""
    x = features[: len(features) // unit * unit].astype(np.float32)
    vel = np.abs(np.diff(x, axis=0, prepend=x[:1])).mean(1)  # (T,)
    acc = np.abs(np.diff(x, n=2, axis=0, prepend=x[:1], append=x[-1:])).mean(1)  # (T,) centred second difference
    frame = vel + acc
    kernel = np.ones(window, np.float32) / window
    frame = np.convolve(np.pad(frame, window // 2, mode="edge"), kernel, mode="valid")[: len(frame)]
    return frame.reshape(-1, unit).mean(1)


def keyframe_scores(density: Tensor, real: Tensor) -> Tensor:
    """density (B, N), real (B, N) bool -> density-peak score (B, N): density times the distance (in tokens) to the
    nearest denser real token (the row's length for its densest one); -inf where not real."""
    b, n = density.shape
    d = density.masked_fill(~real, float("-inf"))
    pos = torch.arange(n, device=density.device)
    gap = (pos[:, None] - pos[None, :]).abs().float()  # (N, N)
    denser = d[:, None, :] > d[:, :, None]  # (B, N, N): token j denser than token i
    far = real.sum(1).float()[:, None].expand(b, n)  # no denser token: as far as the row is long
    delta = torch.where(denser, gap, torch.full_like(gap, float("inf"))).amin(-1)  # (B, N)
    delta = torch.where(torch.isinf(delta), far, delta)
    return (density * delta).masked_fill(~real, float("-inf"))


def keyframe_mask(scores: Tensor, real: Tensor, n_mask: Tensor, key_share: float, generator: torch.Generator) -> Tensor:
    """-> masked (B, N) bool, n_mask (B,) per row: the ceil(key_share * n_mask) highest-scoring tokens, and the rest
    of the n_mask chosen at random among the other real tokens. Only real tokens are ever masked."""
    b, n = scores.shape
    n_key = (key_share * n_mask.float()).ceil().long().clamp(max=n_mask)  # (B,)
    key = scores.argsort(1, descending=True).argsort(1) < n_key[:, None]  # (B, N) the top n_key per row
    priority = torch.rand(b, n, generator=generator).to(scores.device)
    priority = priority.masked_fill(key & real, -1.0).masked_fill(~real, 2.0)  # key first, then random, never PAD
    return real & (priority.argsort(1).argsort(1) < n_mask[:, None])
