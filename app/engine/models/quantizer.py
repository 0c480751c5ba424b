"""Factorised, L2-normalised vector quantiser with EMA codebook updates and dead-code reset (as in MMM / ViT-VQGAN).

Why factorised: the nearest-code search runs in a small space (code_dim, e.g. 32) rather than the encoder's width,
and with unit vectors the L2 distance is the cosine distance, so codes are chosen by direction only. Both make
large codebooks (MMM: 8192) train with high usage. The codebook is not a parameter: it follows an exponential
moving average of the encoder outputs assigned to each code, and codes nobody picked for `reset_every` updates
are re-seeded from random encoder outputs of the current batch.

Under torch.distributed (DDP) the per-code counts and sums are all-reduced and re-seeded codes are broadcast from
rank 0, so every rank keeps the same codebook.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class QuantizerConfig:
    codebook_size: int
    code_dim: int
    ema_decay: float = 0.99
    reset_every: int = 20  # updates between dead-code checks
    dead_threshold: float = 1.0  # a code picked by fewer inputs than this since the last check is dead


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def perplexity(counts: Tensor) -> Tensor:
    """exp(entropy) of the code usage counts (K,): K for uniform use, 1 when one code takes everything."""
    p = counts / counts.sum().clamp_min(1e-12)
    return torch.exp(-(p * torch.log(p.clamp_min(1e-12))).sum())


class FactorizedEMAQuantizer(nn.Module):
    """(B, width, N) encoder output -> nearest of `codebook_size` unit codes in code_dim, projected back to width."""

    def __init__(self, width: int, cfg: QuantizerConfig):
        super().__init__()
        self.config = cfg
        self.project_in = nn.Conv1d(width, cfg.code_dim, 1)
        self.project_out = nn.Conv1d(cfg.code_dim, width, 1)
        codebook = F.normalize(torch.randn(cfg.codebook_size, cfg.code_dim), dim=-1)
        self.register_buffer("codebook", codebook)  # (K, C), unit rows
        self.register_buffer("cluster_size", torch.ones(cfg.codebook_size))  # EMA of inputs per code
        self.register_buffer("embed_sum", codebook.clone())  # EMA of the sum of inputs per code, (K, C)
        self.register_buffer("usage", torch.zeros(cfg.codebook_size))  # inputs per code since the last check
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self.register_buffer("dead_codes", torch.zeros((), dtype=torch.long))  # found dead at the last check
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))  # seeded from the first batch

    def _codes_in(self, h: Tensor) -> Tensor:
        """(B, width, N) -> unit vectors (B, N, C)."""
        return F.normalize(self.project_in(h).transpose(1, 2), dim=-1)

    def nearest(self, z: Tensor) -> Tensor:
        """Unit vectors (..., C) -> code indices (...): max cosine = min L2 between unit vectors."""
        return (z @ self.codebook.T).argmax(dim=-1)

    def lookup(self, indices: Tensor) -> Tensor:
        """Code indices (B, N) -> (B, width, N), what the decoder reads."""
        return self.project_out(self.codebook[indices].transpose(1, 2))

    def forward(self, h: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
        """h (B, width, N); mask (B, N) True where a token covers real frames (padding is ignored by the EMA,
        the commitment loss and the statistics). Returns (quantised (B, width, N), indices (B, N),
        commitment loss, {"perplexity", "dead_codes"})."""
        z = self._codes_in(h)  # (B, N, C)
        valid = torch.ones(z.shape[:2], dtype=torch.bool, device=z.device) if mask is None else mask
        flat = z[valid]  # (M, C): the real tokens only
        if self.training and not self.initialised:
            self._seed(flat.detach())
        indices = self.nearest(z)  # (B, N)
        q = self.codebook[indices]  # (B, N, C)
        commit = ((z - q.detach()) ** 2).mean(-1)[valid].mean() if len(flat) else z.sum() * 0.0
        counts = torch.bincount(indices[valid], minlength=self.config.codebook_size).to(z.dtype)
        if self.training:
            counts = self._update(flat.detach(), indices[valid], counts)
            q = z + (q - z).detach()  # straight-through: the decoder's gradient goes to the encoder
        stats = {"perplexity": perplexity(counts).detach(), "dead_codes": self.dead_codes.clone()}
        return self.project_out(q.transpose(1, 2)), indices, commit, stats

    @torch.no_grad()
    def _seed(self, flat: Tensor) -> None:
        """Start the codebook from encoder outputs rather than noise, so every code begins near the data."""
        codes = self._random_rows(flat, self.config.codebook_size)
        self.codebook.copy_(codes)
        self.embed_sum.copy_(codes)
        self.cluster_size.fill_(1.0)
        self.initialised.fill_(True)

    @torch.no_grad()
    def _update(self, flat: Tensor, indices: Tensor, counts: Tensor) -> Tensor:
        """One EMA step from the real tokens flat (M, C) and their codes (M,); returns the (all-reduced) counts."""
        sums = torch.zeros_like(self.embed_sum).index_add_(0, indices, flat)  # (K, C)
        if _distributed():
            dist.all_reduce(counts)
            dist.all_reduce(sums)
        decay = self.config.ema_decay
        self.cluster_size.mul_(decay).add_(counts, alpha=1 - decay)
        self.embed_sum.mul_(decay).add_(sums, alpha=1 - decay)
        self.codebook.copy_(F.normalize(self.embed_sum, dim=-1))  # the mean's direction: codes stay unit vectors
        self.usage.add_(counts)
        self.updates.add_(1)
        if int(self.updates) % self.config.reset_every == 0:
            self._reset_dead(flat)
        return counts

    @torch.no_grad()
    def _reset_dead(self, flat: Tensor) -> None:
        """Re-seed every code picked by fewer than dead_threshold inputs since the last check."""
        dead = self.usage < self.config.dead_threshold
        self.dead_codes.fill_(int(dead.sum()))
        self.usage.zero_()
        n = int(self.dead_codes)
        if n == 0 or len(flat) == 0:
            return
        fresh = self._random_rows(flat, n)
        self.codebook[dead] = fresh
        self.embed_sum[dead] = fresh  # as if one input had picked it: a new code gets a fair chance
        self.cluster_size[dead] = 1.0

    @staticmethod
    def _random_rows(flat: Tensor, n: int) -> Tensor:
        """n random rows of flat (M, C) (with replacement when M < n, jittered so copies differ), the same on every rank."""
        picks = torch.randint(len(flat), (n,), device=flat.device) if len(flat) < n else torch.randperm(len(flat), device=flat.device)[:n]
        rows = flat[picks]
        if len(flat) < n:
            rows = F.normalize(rows + 0.01 * torch.randn_like(rows), dim=-1)
        if _distributed():
            dist.broadcast(rows, 0)
        return rows
