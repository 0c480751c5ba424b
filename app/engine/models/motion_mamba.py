"""Motion Mamba's denoiser (Zhang et al. 2024): a U-Net over the VAE's latent sequence built from HTM and BSM blocks.

- HTM, Hierarchical Temporal Mamba: several selective scans over time, each reading the sequence in its own order
  (forward, backward, then both again with strides 2, 3, ...: frames far apart become neighbours), outputs summed.
  Shallow levels (long sequences, fine detail) get the most scans, deeper ones fewer, down to one.
- BSM, Bidirectional Spatial Mamba: within each latent frame, a scan across the channels (in groups of
  `spatial_group`), once forward and once backward, summed: the channels talk to each other.
- Levels halve the time axis (strided conv) on the way down and double it back (nearest + crop) on the way up,
  with a skip connection between mirrored levels. The timestep and the MiniLM sentence embedding (a learned null
  embedding when the text is dropped, for classifier-free guidance) modulate every block's LayerNorm (adaLN).

Ablations: `hierarchy=False` gives every level a single forward scan; `backward_spatial=False` drops BSM's backward
scan.
"""
from __future__ import annotations

import math
from pathlib import Path
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from app.engine.models.checkpoint import config_from

from app.engine.models.ssm import Mamba, MambaConfig, parallel_mamba


@dataclass
class DenoiserConfig:
    latent_dim: int = 16
    width: int = 128
    scans: list[int] = field(default_factory=lambda: [3, 2, 1])  # HTM scans per level, shallow -> deep
    d_state: int = 8
    expand: int = 2
    spatial_group: int = 16  # BSM: channels per scan step (width / spatial_group steps)
    text_dim: int = 384
    hierarchy: bool = True  # ablation: False = one scan per level
    backward_spatial: bool = True  # ablation: False = BSM scans forward only

    @property
    def levels(self) -> int:
        return len(self.scans)

    def scans_at(self, level: int) -> int:
        return self.scans[level] if self.hierarchy else 1


PRESETS: dict[str, DenoiserConfig] = {
    "cpu": DenoiserConfig(width=64, scans=[3, 2, 1], d_state=4),
    # Motion Mamba's paper: 21 scans at the outermost level down to 1, 11 levels; over a 49-frame latent we keep 4
    "paper": DenoiserConfig(width=256, scans=[7, 5, 3, 1], d_state=16),
}


def config_from_dict(d: dict, source: str | Path = "checkpoint") -> DenoiserConfig:
    return config_from(DenoiserConfig, d, source)


def scan_order(length: int, index: int) -> Tensor:
    """The frame order of HTM's scan `index`: forward, backward, forward by stride 2, backward by stride 2, ..."""
    stride = 1 + index // 2
    order = torch.cat([torch.arange(start, length, stride) for start in range(min(stride, length))])
    return order.flip(0) if index % 2 else order


class Modulation(nn.Module):
    """adaLN: LayerNorm without its own affine, scaled and shifted by the conditioning (zero-initialised: identity)."""

    def __init__(self, width: int, cond_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.proj = nn.Linear(cond_dim, 2 * width)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        scale, shift = self.proj(cond)[:, None].chunk(2, dim=-1)  # (B, 1, W) each
        return self.norm(x) * (1 + scale) + shift


class HTM(nn.Module):
    """x (B, L, W) -> (B, L, W): `n_scans` Mamba scans, each in its own frame order, summed."""

    def __init__(self, width: int, n_scans: int, cfg: DenoiserConfig):
        super().__init__()
        self.scans = nn.ModuleList(Mamba(MambaConfig(width, cfg.d_state, expand=cfg.expand)) for _ in range(n_scans))

    def forward(self, x: Tensor) -> Tensor:
        orders = [scan_order(x.shape[1], i).to(x.device) for i in range(len(self.scans))]
        ys = parallel_mamba(list(self.scans), [x[:, order] for order in orders])
        return sum(y[:, order.argsort()] for y, order in zip(ys, orders))  # each back to time order


class BSM(nn.Module):
    """x (B, L, W) -> (B, L, W): per frame, a scan across W / g channel groups of g, forward (+ backward)."""

    def __init__(self, width: int, cfg: DenoiserConfig):
        super().__init__()
        if width % cfg.spatial_group:
            raise ValueError(f"width {width} is not a multiple of spatial_group {cfg.spatial_group}")
        self.group = cfg.spatial_group
        n = 2 if cfg.backward_spatial else 1
        self.scans = nn.ModuleList(Mamba(MambaConfig(self.group, cfg.d_state, expand=cfg.expand, dt_rank=4))
                                   for _ in range(n))

    def forward(self, x: Tensor) -> Tensor:
        b, length, width = x.shape
        groups = x.reshape(b * length, width // self.group, self.group)  # (B L, groups, g)
        inputs = [groups, groups.flip(1)][: len(self.scans)]
        ys = parallel_mamba(list(self.scans), inputs)
        out = ys[0] if len(ys) == 1 else ys[0] + ys[1].flip(1)
        return out.reshape(b, length, width)


class Block(nn.Module):
    """Residual HTM then residual BSM, each after an adaLN."""

    def __init__(self, width: int, n_scans: int, cond_dim: int, cfg: DenoiserConfig):
        super().__init__()
        self.mod_t, self.htm = Modulation(width, cond_dim), HTM(width, n_scans, cfg)
        self.mod_s, self.bsm = Modulation(width, cond_dim), BSM(width, cfg)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        x = x + self.htm(self.mod_t(x, cond))
        return x + self.bsm(self.mod_s(x, cond))


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding (B,) -> (B, dim), as in DDPM."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]
    return torch.cat([angles.cos(), angles.sin()], dim=-1)


class MotionMambaDenoiser(nn.Module):
    """(noisy latents (B, N, latent_dim), timesteps (B,), sentence (B, text_dim), drop_text (B,) bool)
    -> the model's prediction (B, N, latent_dim) (noise or velocity, as the scheduler was trained)."""

    def __init__(self, cfg: DenoiserConfig):
        super().__init__()
        self.config = cfg
        w = cfg.width
        cond_dim = 2 * w
        self.time_mlp = nn.Sequential(nn.Linear(w, cond_dim), nn.SiLU(), nn.Linear(cond_dim, cond_dim))
        self.text_proj = nn.Linear(cfg.text_dim, cond_dim)
        self.null_text = nn.Parameter(torch.zeros(cfg.text_dim))
        self.inp = nn.Linear(cfg.latent_dim, w)
        self.down = nn.ModuleList(Block(w, cfg.scans_at(i), cond_dim, cfg) for i in range(cfg.levels))
        self.pool = nn.ModuleList(nn.Conv1d(w, w, 3, stride=2, padding=1) for _ in range(cfg.levels))
        self.mid = Block(w, 1, cond_dim, cfg)
        self.merge = nn.ModuleList(nn.Linear(2 * w, w) for _ in range(cfg.levels))
        self.up = nn.ModuleList(Block(w, cfg.scans_at(i), cond_dim, cfg) for i in range(cfg.levels))
        self.out_norm = Modulation(w, cond_dim)
        self.out = nn.Linear(w, cfg.latent_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, z: Tensor, t: Tensor, sentence: Tensor, drop_text: Tensor | None = None) -> Tensor:
        if drop_text is not None:
            sentence = torch.where(drop_text[:, None], self.null_text.expand_as(sentence), sentence)
        cond = F.silu(self.time_mlp(timestep_embedding(t, self.config.width)) + self.text_proj(sentence))
        h = self.inp(z)  # (B, N, W)
        skips = []
        for block, pool in zip(self.down, self.pool):
            h = block(h, cond)
            skips.append(h)
            h = pool(h.transpose(1, 2)).transpose(1, 2)  # (B, ceil(N / 2), W)
        h = self.mid(h, cond)
        for level in reversed(range(self.config.levels)):
            skip = skips[level]
            h = h.repeat_interleave(2, dim=1)[:, : skip.shape[1]]  # nearest upsampling, cropped to the skip's length
            h = self.up[level](self.merge[level](torch.cat([h, skip], dim=-1)), cond)
        return self.out(self.out_norm(h, cond))
