"""Contrastive text–motion alignment of the masked model's text projection (KMM, arXiv 2411.06481).

The masked model reads MiniLM through its own projections (`sentence_proj` for the prefix, `word_proj` for the
cross-attention memory). Trained by the masked-token loss alone they learn little about "left" against "right":
most captions say neither, and a token predicted from its neighbours rarely needs the side. This objective
embeds the projected text and the motion's codes in one space and pulls each caption towards its own motion
(InfoNCE, both ways), so the projections must carry what tells motions apart.

Hard negatives come free from the data's mirroring: every caption with a side has its mirror image
("waves his left hand" / "waves his right hand", app.engine.data.descriptions.mirror_text), and the mirrored
caption must score below the true one for the same motion. Motions of the same (content, style) label in a batch
are neither positives nor negatives (their captions are interchangeable).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from app.engine.data.descriptions import mirror_text
from app.engine.models.masked_transformer import MaskedTransformer


def mirror_index(captions: list[str]) -> tuple[list[str], Tensor]:
    """captions -> (captions + the missing mirror images, mirror (C,) long: the row of caption i's mirror image in
    the extended table, -1 when the caption names no side)."""
    table = list(captions)
    where = {c: i for i, c in enumerate(table)}
    mirror = []
    for c in captions:
        m = mirror_text(c)
        if m == c:
            mirror.append(-1)
            continue
        if m not in where:
            where[m] = len(table)
            table.append(m)
        mirror.append(where[m])
    return table, torch.tensor(mirror, dtype=torch.long)


class AlignmentHeads(nn.Module):
    """Projects the masked model's text (projected sentence + mean of projected words) and a motion (its codes'
    embeddings, one convolution, mean over real tokens) to a shared unit sphere of `dim`."""

    def __init__(self, width: int, dim: int = 128):
        super().__init__()
        self.text = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, dim))
        self.motion_conv = nn.Conv1d(width, width, 3, padding=1)
        self.motion = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, dim))
        self.log_scale = nn.Parameter(torch.tensor(2.66))  # 1 / 0.07, CLIP's initial temperature

    def embed_text(self, model: MaskedTransformer, sentence: Tensor, words: Tensor, word_mask: Tensor) -> Tensor:
        """sentence (B, 384), words (B, L, 384), word_mask (B, L) -> (B, dim), through the model's own projections."""
        w = word_mask[..., None].float()
        pooled = (model.word_proj(words) * w).sum(1) / w.sum(1).clamp_min(1)  # (B, W)
        return F.normalize(self.text(model.sentence_proj(sentence) + pooled), dim=-1)

    def embed_motion(self, model: MaskedTransformer, codes: Tensor, real: Tensor) -> Tensor:
        """codes (B, N), real (B, N) bool at code positions -> (B, dim), from the model's code embeddings."""
        x = model.tok_emb(codes.masked_fill(~real, 0)) * real[..., None]  # (B, N, W)
        h = F.gelu(self.motion_conv(x.transpose(1, 2))).transpose(1, 2) * real[..., None]  # (B, N, W)
        return F.normalize(self.motion(h.sum(1) / real.sum(1, keepdim=True).clamp_min(1)), dim=-1)

    def forward(self, model: MaskedTransformer, text: tuple[Tensor, Tensor, Tensor], mirrored: tuple[Tensor, Tensor, Tensor],
                has_mirror: Tensor, codes: Tensor, real: Tensor, groups: Tensor) -> Tensor:
        """alignment_loss of a batch: its captions and their mirror images as (sentence, words, word mask), the
        motions' codes (B, N) with `real` (B, N), label groups (B,). A forward pass, so that one
        DistributedDataParallel over the model and these heads reduces both."""
        return alignment_loss(self.embed_text(model, *text), self.embed_motion(model, codes, real),
                              self.embed_text(model, *mirrored), has_mirror, groups, self.log_scale.exp())


def alignment_loss(text: Tensor, motion: Tensor, mirrored: Tensor, has_mirror: Tensor, labels: Tensor,
                   scale: Tensor) -> Tensor:
    """Symmetric InfoNCE over the batch, plus each motion's mirrored caption as one more negative text.

    text, motion, mirrored (B, dim) unit vectors; has_mirror (B,) bool; labels (B,) group ids (same label: not a
    negative); scale: the logits' inverse temperature."""
    logits = scale * text @ motion.T  # (B, B), texts x motions
    same = labels[:, None] == labels[None, :]
    same.fill_diagonal_(False)
    logits = logits.masked_fill(same, float("-inf"))
    hard = (scale * (mirrored * motion).sum(-1)).masked_fill(~has_mirror, float("-inf"))  # (B,)
    target = torch.arange(len(text), device=text.device)
    motion_to_text = torch.cat([logits.T, hard[:, None]], dim=1)  # (B, B+1): its captions, then its mirror caption
    return (F.cross_entropy(logits, target) + F.cross_entropy(motion_to_text, target)) / 2
