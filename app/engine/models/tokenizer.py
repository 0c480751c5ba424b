"""MMM's motion tokenizer: a 1-D convolutional VQ-VAE that turns normalised features (B, T, D) into T/4 codes.

Encoder: conv, then `down_t` blocks of (strided conv halving time, dilated residual stack); decoder mirrors it with
nearest-neighbour upsampling (T2M-GPT / MMM). Between them a factorised EMA quantiser (app.engine.models.quantizer).
With `part` set ("upper"/"lower"), the same model reads and reconstructs only that body part's feature dims
(app.engine.models.body_parts): MMM's part-wise tokenizers for upper-body edits. Inputs are always the full
feature vector; outputs have `len(model.feature_index)` dims.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from app.engine.models.body_parts import body_part_dims
from app.engine.models.checkpoint import CheckpointError, config_from, load_checkpoint
from app.engine.models.quantizer import FactorizedEMAQuantizer, QuantizerConfig
from app.engine.skeleton import skeleton_by_name


@dataclass
class TokenizerConfig:
    input_dim: int = 251  # the full feature width (12 J - 1 for J joints)
    width: int = 256
    depth: int = 3  # residual blocks per stack
    down_t: int = 2  # time is downsampled by 2 ** down_t
    dilation_growth: int = 3  # dilations 1, 3, 9, ...
    codebook_size: int = 512
    code_dim: int = 32
    ema_decay: float = 0.99
    reset_every: int = 20
    dead_threshold: float = 1.0
    part: str | None = None  # None: all dims; "upper" / "lower": that body part's dims only
    skeleton: str = "bandai-namco21"  # for `part`: which joints are upper/lower body

    @property
    def n_joints(self) -> int:
        return (self.input_dim + 1) // 12

    @property
    def unit(self) -> int:
        """Frames per token."""
        return 2**self.down_t

    def quantizer(self) -> QuantizerConfig:
        return QuantizerConfig(self.codebook_size, self.code_dim, self.ema_decay, self.reset_every, self.dead_threshold)


PRESETS: dict[str, TokenizerConfig] = {
    # sized for ~40 minutes on 2 CPU cores (see app.engine.train.tokenizer)
    "cpu": TokenizerConfig(width=256, depth=3, codebook_size=512, code_dim=32),
    # MMM (Pinyoanuntapong et al. 2024): codebook 8192 x 32, width 512, down-t 2, depth 3, dilation growth 3
    "paper": TokenizerConfig(width=512, depth=3, codebook_size=8192, code_dim=32),
}


def config_from_dict(d: dict, source: str | Path = "checkpoint") -> TokenizerConfig:
    return config_from(TokenizerConfig, d, source)


class ResBlock(nn.Module):
    """relu -> dilated conv k3 -> relu -> conv k1, plus the input. Keeps (B, width, T)."""

    def __init__(self, width: int, dilation: int):
        super().__init__()
        self.conv1 = nn.Conv1d(width, width, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(width, width, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


def _res_stack(width: int, depth: int, growth: int, reverse: bool) -> nn.Sequential:
    """Dilations growth**0 .. growth**(depth-1): receptive field grows fast at no cost in time resolution."""
    dilations = [growth**i for i in range(depth)]
    return nn.Sequential(*(ResBlock(width, d) for d in (reversed(dilations) if reverse else dilations)))


class Encoder(nn.Module):
    """(B, D, T) -> (B, width, T / 2**down_t)."""

    def __init__(self, in_dim: int, cfg: TokenizerConfig):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(in_dim, cfg.width, 3, padding=1), nn.ReLU()]
        for _ in range(cfg.down_t):
            layers += [nn.Conv1d(cfg.width, cfg.width, 4, stride=2, padding=1),
                       _res_stack(cfg.width, cfg.depth, cfg.dilation_growth, reverse=False)]
        layers.append(nn.Conv1d(cfg.width, cfg.width, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """(B, width, N) -> (B, D, N * 2**down_t): the encoder's mirror, nearest upsampling + conv instead of strides."""

    def __init__(self, out_dim: int, cfg: TokenizerConfig):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(cfg.width, cfg.width, 3, padding=1), nn.ReLU()]
        for _ in range(cfg.down_t):
            layers += [_res_stack(cfg.width, cfg.depth, cfg.dilation_growth, reverse=True),
                       nn.Upsample(scale_factor=2, mode="nearest"),
                       nn.Conv1d(cfg.width, cfg.width, 3, padding=1)]
        layers += [nn.Conv1d(cfg.width, cfg.width, 3, padding=1), nn.ReLU(), nn.Conv1d(cfg.width, out_dim, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h)


class MotionTokenizer(nn.Module):
    def __init__(self, cfg: TokenizerConfig):
        super().__init__()
        self.config = cfg
        if cfg.part is None:
            index = np.arange(cfg.input_dim)
        else:
            index = body_part_dims(cfg.n_joints, skeleton_by_name(cfg.skeleton), cfg.part)
        # which input dims are read and reconstructed; not saved (it follows from the config)
        self.register_buffer("feature_index", torch.from_numpy(index), persistent=False)
        self.encoder = Encoder(len(index), cfg)
        self.quantizer = FactorizedEMAQuantizer(cfg.width, cfg.quantizer())
        self.decoder = Decoder(len(index), cfg)
        self.mean: np.ndarray | None = None  # the dataset's Mean/Std (full width), set by load()
        self.std: np.ndarray | None = None
        self.metadata: dict = {}

    def _check(self, x: Tensor) -> None:
        if x.shape[1] % self.config.unit or x.shape[-1] != self.config.input_dim:
            raise ValueError(f"expected (B, T, {self.config.input_dim}) with T a multiple of {self.config.unit}, got {tuple(x.shape)}")

    def _encode(self, x: Tensor) -> Tensor:
        self._check(x)
        return self.encoder(x[..., self.feature_index].transpose(1, 2))  # (B, width, T/4)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
        """x (B, T, input_dim) normalised; mask (B, T) True on real frames (default: all). Returns
        (recon (B, T, part dims), indices (B, T/4), commitment loss, {"perplexity", "dead_codes"})."""
        token_mask = None if mask is None else mask[:, :: self.config.unit]  # a token is real if its first frame is
        q, indices, commit, stats = self.quantizer(self._encode(x), token_mask)
        return self.decoder(q).transpose(1, 2), indices, commit, stats

    def encode(self, x: Tensor) -> Tensor:
        """(B, T, input_dim) normalised -> code indices (B, T/4)."""
        return self.quantizer.nearest(self.quantizer._codes_in(self._encode(x)))

    def decode(self, indices: Tensor) -> Tensor:
        """Code indices (B, N) -> normalised features (B, 4N, part dims)."""
        return self.decoder(self.quantizer.lookup(indices)).transpose(1, 2)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> MotionTokenizer:
        """A trained tokenizer in eval mode, with its dataset's Mean/Std (numpy) and training metadata."""
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
