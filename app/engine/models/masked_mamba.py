"""The masked motion model with bidirectional Mamba layers in place of self-attention (KMM, arXiv 2411.06481).

Everything but the blocks is MaskedTransformer's (vocabulary, sentence prefix, word memory, null text for
classifier-free guidance, output head), so the decoder, the editing verbs and the trainer use either model alike.
A block: a forward and a backward selective scan (app.engine.models.ssm) over the sequence, summed, then
cross-attention to the MiniLM words (the text keeps a direct path into every layer: a scan alone would only see
the sentence prefix, and only in its forward direction), then an optional MLP. The gated scan already mixes
channels, so the CPU preset has no MLP: about 35 % fewer parameters than the transformer of the same width.

The backward scan reverses each row within its own length (prefix, codes, END), leaving PAD at the end: a
sequence gives the same logits alone or in a padded batch, as with the transformer's attention mask.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from app.engine.models.checkpoint import config_from
from app.engine.models.masked_transformer import MaskedTransformer, MaskedTransformerConfig, _heads, _merge
from app.engine.models.ssm import Mamba, MambaConfig, parallel_mamba


@dataclass
class MaskedMambaConfig(MaskedTransformerConfig):
    backbone: str = "mamba"  # marks the checkpoint's config: see `masked_model`
    d_state: int = 8
    expand: int = 1
    mlp_ratio: int = 0  # 0: no MLP after the scans and the cross-attention


def reverse_within(keep: Tensor) -> Tensor:
    """keep (B, N) bool, True on a prefix of each row -> gather index (B, N) that reverses that prefix and leaves
    the rest in place; applying it twice gives the identity."""
    n = keep.shape[1]
    length = keep.sum(1, keepdim=True)  # (B, 1)
    pos = torch.arange(n, device=keep.device)[None, :]  # (1, N)
    return torch.where(pos < length, length - 1 - pos, pos)


class BiMambaBlock(nn.Module):
    """Pre-LN: forward + backward selective scan, cross-attention to the words, optional MLP."""

    def __init__(self, cfg: MaskedMambaConfig):
        super().__init__()
        w = cfg.width
        self.heads, self.dropout = cfg.heads, cfg.dropout
        scan = MambaConfig(d_model=w, d_state=cfg.d_state, expand=cfg.expand)
        self.ln_scan, self.forward_scan, self.backward_scan = nn.LayerNorm(w), Mamba(scan), Mamba(scan)
        self.ln_cross, self.q_cross, self.kv_cross, self.proj_cross = (
            nn.LayerNorm(w), nn.Linear(w, w), nn.Linear(w, 2 * w), nn.Linear(w, w))
        self.mlp = None
        if cfg.mlp_ratio:
            self.mlp = nn.Sequential(nn.LayerNorm(w), nn.Linear(w, cfg.mlp_ratio * w), nn.GELU("tanh"),
                                     nn.Linear(cfg.mlp_ratio * w, w))
        self.drop = nn.Dropout(cfg.dropout)

    def memory(self, words: Tensor) -> tuple[Tensor, Tensor]:
        """Cross-attention keys and values of the projected words (B, L+1, W): cached across decoding steps."""
        k, v = self.kv_cross(words).chunk(2, dim=-1)
        return _heads(k, self.heads), _heads(v, self.heads)

    def forward(self, x: Tensor, self_mask: Tensor, memory: tuple[Tensor, Tensor], memory_mask: Tensor) -> Tensor:
        """x (B, N, W); self_mask (B, 1, 1, N) True off PAD (a prefix of each row)."""
        keep = self_mask[:, 0, 0, :]  # (B, N)
        index = reverse_within(keep)[..., None].expand_as(x)  # (B, N, W)
        h = self.ln_scan(x).masked_fill(~keep[..., None], 0.0)
        ahead, back = parallel_mamba([self.forward_scan, self.backward_scan], [h, h.gather(1, index)])
        x = x + self.drop(ahead + back.gather(1, index))
        q = _heads(self.q_cross(self.ln_cross(x)), self.heads)
        p = self.dropout if self.training else 0.0
        x = x + self.drop(self.proj_cross(_merge(F.scaled_dot_product_attention(q, *memory, memory_mask, p))))
        return x if self.mlp is None else x + self.drop(self.mlp(x))


class MaskedMamba(MaskedTransformer):
    def __init__(self, cfg: MaskedMambaConfig):
        super().__init__(replace(cfg, depth=0))  # everything but the blocks
        self.config = cfg
        self.blocks = nn.ModuleList(BiMambaBlock(cfg) for _ in range(cfg.depth))
        for blk in self.blocks:  # the scans keep Mamba's own initialisation
            for m in (blk.q_cross, blk.kv_cross, blk.proj_cross, *(blk.mlp or ())):
                self._init(m)


def masked_model(config: dict, source: str | Path = "checkpoint") -> MaskedTransformer:
    """The masked model a checkpoint's config (header JSON of `source`) describes: MaskedMamba when it names the
    Mamba backbone. A config that does not fit is a CheckpointError (app.engine.models.checkpoint.config_from)."""
    if isinstance(config, dict) and config.get("backbone") == "mamba":
        return MaskedMamba(config_from(MaskedMambaConfig, config, source))
    return MaskedTransformer(config_from(MaskedTransformerConfig, config, source))


def mamba_config(transformer: MaskedTransformerConfig, **overrides) -> MaskedMambaConfig:
    """The Mamba model of a transformer config's vocabulary, length, width, depth and heads (its MLP dropped)."""
    shared = {k: v for k, v in asdict(transformer).items() if k != "mlp_ratio"}
    return MaskedMambaConfig(**{**shared, **overrides})
