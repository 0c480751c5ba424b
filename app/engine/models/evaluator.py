"""Text–motion evaluator in the style of Guo et al. 2022 (HumanML3D): two encoders into one embedding space.

Motions and captions are embedded so that a caption lies closest to the motions it describes; R-precision,
FID, diversity and multimodal distance are all measured in this space. The motion side follows Guo et al.
(a movement encoder of 1-D convolutions that downsamples time by 4, then a sequence model) with a small
transformer instead of their GRU: it handles padding exactly through the key mask and is fast on a CPU.
The text side sits on MiniLM's per-token states and sentence embedding (app.engine.text).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class EvaluatorConfig:
    feature_dim: int = 251  # HumanML3D-style features of a 21-joint skeleton
    text_dim: int = 384  # MiniLM hidden size
    hidden: int = 192  # width of both encoders (sized for training on 2 CPU cores)
    embed_dim: int = 256  # shared embedding space
    motion_layers: int = 2
    text_layers: int = 1
    heads: int = 4
    dropout: float = 0.1
    max_frames: int = 196  # longest motion embedded (longer ones are cropped by the caller)
    unit: int = 4  # temporal downsampling of the movement encoder; motion lengths are multiples of it


def _sinusoids(length: int, dim: int) -> Tensor:
    """Fixed positional encoding (length, dim): generalises to lengths not seen in training."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)
    return table


def _valid_mask(lengths: Tensor, size: int) -> Tensor:
    """(B, size) bool, True at the first lengths[b] positions."""
    return torch.arange(size, device=lengths.device)[None, :] < lengths[:, None]


def _masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of x (B, N, C) over positions where mask (B, N) is True."""
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp(min=1.0)


def _encoder(cfg: EvaluatorConfig, layers: int) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        cfg.hidden, cfg.heads, 2 * cfg.hidden, cfg.dropout, activation="gelu", batch_first=True, norm_first=True
    )
    # enable_nested_tensor=False: the same (dense) kernels in and out of a batch, so padding never changes a result
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class MovementEncoder(nn.Module):
    """Two strided convolutions: (B, T, D) -> (B, T/4, hidden) "movement" tokens, as in Guo et al.

    Activations past each motion's end are zeroed after every layer, so a padded motion gives exactly the
    tokens it gives alone (the convolution's own zero padding sees the same zeros).
    """

    def __init__(self, cfg: EvaluatorConfig):
        super().__init__()
        self.conv1 = nn.Conv1d(cfg.feature_dim, cfg.hidden, kernel_size=4, stride=2, padding=1)
        self.conv2 = nn.Conv1d(cfg.hidden, cfg.hidden, kernel_size=4, stride=2, padding=1)
        self.dropout = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.hidden, cfg.hidden)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        x = x * _valid_mask(lengths, x.shape[1]).unsqueeze(-1)
        h = x.transpose(1, 2)  # (B, D, T)
        h = F.leaky_relu(self.conv1(self.dropout(h)), 0.2)  # (B, hidden, T/2)
        h = h * _valid_mask(lengths // 2, h.shape[-1]).unsqueeze(1)
        h = F.leaky_relu(self.conv2(self.dropout(h)), 0.2)  # (B, hidden, T/4)
        return self.out(h.transpose(1, 2))  # (B, T/4, hidden)


class MotionEncoder(nn.Module):
    """Normalised features (B, T, D) with lengths (B,) -> L2-normalised embeddings (B, E)."""

    def __init__(self, cfg: EvaluatorConfig):
        super().__init__()
        self.unit = cfg.unit
        self.movement = MovementEncoder(cfg)
        self.register_buffer("positions", _sinusoids(cfg.max_frames // cfg.unit + 1, cfg.hidden), persistent=False)
        self.transformer = _encoder(cfg, cfg.motion_layers)
        self.norm = nn.LayerNorm(cfg.hidden)
        self.head = nn.Linear(cfg.hidden, cfg.embed_dim)

    def forward(self, features: Tensor, lengths: Tensor) -> Tensor:
        tokens = self.movement(features, lengths)  # (B, N = T/4, hidden)
        n = tokens.shape[1]
        valid = _valid_mask(torch.div(lengths, self.unit, rounding_mode="floor").clamp(min=1), n)  # (B, N)
        h = self.transformer(tokens + self.positions[:n], src_key_padding_mask=~valid)
        return F.normalize(self.head(_masked_mean(self.norm(h), valid)), dim=-1)


class TextEncoderHead(nn.Module):
    """MiniLM token states (B, L, 384) + mask (B, L) + sentence embedding (B, 384) -> L2-normalised (B, E).

    MiniLM is frozen; this head learns which words matter for motion (verbs, sides, manner).
    """

    def __init__(self, cfg: EvaluatorConfig):
        super().__init__()
        self.token_in = nn.Linear(cfg.text_dim, cfg.hidden)
        self.register_buffer("positions", _sinusoids(64, cfg.hidden), persistent=False)
        self.transformer = _encoder(cfg, cfg.text_layers)
        self.norm = nn.LayerNorm(cfg.hidden)
        self.sentence_in = nn.Linear(cfg.text_dim, cfg.hidden)
        self.head = nn.Sequential(nn.Linear(2 * cfg.hidden, cfg.hidden), nn.GELU(), nn.Linear(cfg.hidden, cfg.embed_dim))

    def forward(self, tokens: Tensor, mask: Tensor, sentence: Tensor) -> Tensor:
        h = self.token_in(tokens) + self.positions[: tokens.shape[1]]  # (B, L, hidden)
        h = self.transformer(h, src_key_padding_mask=~mask)
        pooled = torch.cat([_masked_mean(self.norm(h), mask), self.sentence_in(sentence)], dim=-1)  # (B, 2 hidden)
        return F.normalize(self.head(pooled), dim=-1)


class TextMotionEvaluator(nn.Module):
    def __init__(self, cfg: EvaluatorConfig):
        super().__init__()
        self.config = cfg
        self.motion = MotionEncoder(cfg)
        self.text = TextEncoderHead(cfg)

    def encode_motion(self, features: Tensor, lengths: Tensor) -> Tensor:
        """features (B, T, D) normalised with the dataset's Mean/Std, zero or anything past lengths (B,)."""
        return self.motion(features, lengths)

    def encode_text(self, tokens: Tensor, mask: Tensor, sentence: Tensor) -> Tensor:
        return self.text(tokens, mask, sentence)
