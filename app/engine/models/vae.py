"""Motion VAE for latent diffusion (MLD-style, but the latent keeps time): normalised features (B, T, D) <->
a latent sequence (B, T / 4, latent_dim).

MLD and Motion Mamba squeeze a whole motion into one or two latent vectors; a latent per 4 frames instead keeps a
timeline in the latent, which is what lets the diffusion model in-paint frames (locked keys, in-betweening) and
gives its temporal scans something to scan. The encoder and decoder are the tokenizer's 1-D conv stacks
(app.engine.models.tokenizer), with a Gaussian bottleneck (mean, log-variance) in place of the codebook.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from app.engine.models.checkpoint import CheckpointError, config_from, load_checkpoint
from app.engine.models.tokenizer import Decoder, Encoder, TokenizerConfig


@dataclass
class VAEConfig:
    input_dim: int = 251
    width: int = 256
    depth: int = 2  # residual blocks per stack
    down_t: int = 2  # 2 ** down_t frames per latent
    dilation_growth: int = 3
    latent_dim: int = 16

    @property
    def unit(self) -> int:
        """Frames per latent."""
        return 2**self.down_t

    def conv_stack(self) -> TokenizerConfig:
        return TokenizerConfig(input_dim=self.input_dim, width=self.width, depth=self.depth, down_t=self.down_t,
                               dilation_growth=self.dilation_growth)


PRESETS: dict[str, VAEConfig] = {
    "cpu": VAEConfig(width=256, depth=2, latent_dim=16),
    "paper": VAEConfig(width=512, depth=3, latent_dim=32),
}


def config_from_dict(d: dict, source: str | Path = "checkpoint") -> VAEConfig:
    return config_from(VAEConfig, d, source)


class MotionVAE(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.config = cfg
        conv = cfg.conv_stack()
        self.encoder = Encoder(cfg.input_dim, conv)
        self.to_moments = nn.Conv1d(cfg.width, 2 * cfg.latent_dim, 1)
        self.from_latent = nn.Conv1d(cfg.latent_dim, cfg.width, 1)
        self.decoder = Decoder(cfg.input_dim, conv)
        self.mean: np.ndarray | None = None  # the dataset's Mean/Std, set by load()
        self.std: np.ndarray | None = None
        self.metadata: dict = {}

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B, T, D) normalised, T a multiple of unit -> (mean, log-variance), each (B, T / unit, latent_dim)."""
        if x.shape[1] % self.config.unit or x.shape[-1] != self.config.input_dim:
            raise ValueError(f"expected (B, T, {self.config.input_dim}) with T a multiple of {self.config.unit}, "
                             f"got {tuple(x.shape)}")
        mu, logvar = self.to_moments(self.encoder(x.transpose(1, 2))).transpose(1, 2).chunk(2, dim=-1)
        return mu, logvar.clamp(-30.0, 20.0)

    def decode(self, z: Tensor) -> Tensor:
        """(B, N, latent_dim) -> normalised features (B, N * unit, D)."""
        return self.decoder(self.from_latent(z.transpose(1, 2))).transpose(1, 2)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """-> (reconstruction (B, T, D) from a sampled latent, mean, log-variance)."""
        mu, logvar = self.encode(x)
        noise = torch.randn(mu.shape, generator=generator, device=mu.device)
        return self.decode(mu + noise * (0.5 * logvar).exp()), mu, logvar

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> MotionVAE:
        """A trained VAE in eval mode, with its dataset's Mean/Std (numpy) and training metadata."""
        state, config, extra, metadata = load_checkpoint(path)
        model = cls(config_from_dict(config, path))
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise CheckpointError(f"{path}: weights do not match the config in its header: {exc}") from None
        if "mean" in extra and "std" in extra:
            model.mean, model.std = extra["mean"].numpy(), extra["std"].numpy()
        model.metadata = metadata
        return model.to(device).eval()

    def config_dict(self) -> dict:
        return asdict(self.config)
