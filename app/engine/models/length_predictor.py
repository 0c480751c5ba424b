"""Motion length from text: sentence embedding -> categorical over token counts 1..max_tokens.

Used when the user gives no length. `predict` returns the mode, not the expectation: the distribution is often
multimodal ("walks" can be short or long) and the mean of two modes is a length neither mode supports; the
mode is also deterministic, so a seed only ever changes the motion, not its duration.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class LengthPredictorConfig:
    text_dim: int = 384  # MiniLM sentence embedding
    hidden: int = 256
    max_tokens: int = 49  # longest motion in tokens (196 frames / 4)
    dropout: float = 0.1


class LengthPredictor(nn.Module):
    def __init__(self, cfg: LengthPredictorConfig):
        super().__init__()
        self.config = cfg
        self.net = nn.Sequential(
            nn.Linear(cfg.text_dim, cfg.hidden), nn.GELU(), nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.hidden), nn.GELU(), nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.max_tokens),
        )

    def forward(self, sentence: Tensor) -> Tensor:
        """sentence (B, 384) -> logits (B, max_tokens); class c means c + 1 tokens."""
        return self.net(sentence)

    def loss(self, sentence: Tensor, n_tokens: Tensor) -> Tensor:
        """Cross-entropy against the true token counts n_tokens (B,) in 1..max_tokens."""
        return F.cross_entropy(self(sentence), n_tokens.long().clamp(1, self.config.max_tokens) - 1)

    @torch.no_grad()
    def predict(self, sentence: Tensor) -> Tensor:
        """sentence (B, 384) -> the most likely token count (B,) long, in 1..max_tokens."""
        return self(sentence).argmax(-1) + 1
