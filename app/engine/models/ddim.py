"""Noise schedule for DDPM training and the DDIM sampler, as a small scheduler object (the shape of diffusers'
schedulers: `set_timesteps`, then `step` per timestep, randomness only from an explicit torch.Generator).

Cosine schedule (Nichol & Dhariwal 2021) over `train_steps` (1000): the latent is only 16 numbers per 4 frames,
and the linear schedules of image models destroy such a small signal within the first hundred steps.
The model predicts either the noise ("epsilon") or the velocity v = sqrt(a) eps - sqrt(1 - a) x0 ("v"); v stays
well scaled at both ends of the schedule, which matters when sampling with only 10-20 steps. Sampling uses
"trailing" timesteps (the first step starts at the last training timestep, pure noise).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class ScheduleConfig:
    train_steps: int = 1000
    prediction: str = "v"  # "v" or "epsilon"

    def __post_init__(self) -> None:
        if self.prediction not in ("v", "epsilon"):
            raise ValueError(f"prediction must be 'v' or 'epsilon', got {self.prediction!r}")


class DDIMScheduler:
    def __init__(self, cfg: ScheduleConfig | None = None):
        self.config = cfg or ScheduleConfig()
        n = self.config.train_steps
        f = torch.cos((torch.arange(n + 1, dtype=torch.float64) / n + 0.008) / 1.008 * math.pi / 2) ** 2
        betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
        self.alphas_cumprod = torch.cumprod(1 - betas, 0).float()  # (train_steps,) signal fraction at t
        self.timesteps = torch.arange(n - 1, -1, -1)

    def _alpha(self, t: Tensor, like: Tensor) -> Tensor:
        """alpha_bar at timesteps t (B,), shaped to broadcast against `like` (B, ...)."""
        return self.alphas_cumprod.to(like.device)[t].view(-1, *([1] * (like.dim() - 1)))

    def add_noise(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        a = self._alpha(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def target(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """What the model is trained to predict at (x0, noise, t)."""
        if self.config.prediction == "epsilon":
            return noise
        a = self._alpha(t, x0)
        return a.sqrt() * noise - (1 - a).sqrt() * x0

    def split(self, output: Tensor, sample: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """The model's output at (sample, t) -> its estimates (x0, noise)."""
        a = self._alpha(t, sample)
        if self.config.prediction == "epsilon":
            return (sample - (1 - a).sqrt() * output) / a.sqrt(), output
        return a.sqrt() * sample - (1 - a).sqrt() * output, (1 - a).sqrt() * sample + a.sqrt() * output

    def set_timesteps(self, steps: int) -> Tensor:
        """Pick `steps` of the training timesteps, evenly spaced, the first at the noisiest ("trailing")."""
        n = self.config.train_steps
        if not 1 <= steps <= n:
            raise ValueError(f"steps must be between 1 and {n}, got {steps}")
        self.timesteps = (torch.arange(n, 0, -n / steps).round().long() - 1).clamp(0, n - 1)
        return self.timesteps

    def previous(self, t: int) -> int:
        """The timestep after t in the current schedule; -1 after the last (meaning the clean sample)."""
        later = self.timesteps[self.timesteps < t]
        return int(later[0]) if len(later) else -1

    def step(self, output: Tensor, t: int, sample: Tensor, eta: float = 0.0,
             generator: torch.Generator | None = None) -> Tensor:
        """One DDIM step from timestep t to the next one in the schedule (eta 0: deterministic; 1: DDPM-like)."""
        batch = torch.full((sample.shape[0],), t, dtype=torch.long, device=sample.device)
        x0, eps = self.split(output, sample, batch)
        prev = self.previous(t)
        a_t = float(self.alphas_cumprod[t])
        a_prev = float(self.alphas_cumprod[prev]) if prev >= 0 else 1.0
        sigma = eta * math.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))
        out = math.sqrt(a_prev) * x0 + math.sqrt(max(0.0, 1 - a_prev - sigma**2)) * eps
        if sigma > 0:
            out = out + sigma * torch.randn(sample.shape, generator=generator, device=sample.device)
        return out
