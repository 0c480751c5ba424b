"""Iterative parallel decoding (MaskGIT / MMM) of a token canvas with the masked transformer.

A canvas (B, N) holds given codes, MASK where a code is unknown, END right after each motion's last token and
PAD beyond it. Every step predicts all masked positions at once, samples a code for each, and commits the most
confident ones so that the fraction still masked follows the cosine schedule; the last step commits the rest.
Only MASK positions are ever written: text-to-motion starts from an all-MASK canvas, in-betweening and
body-part editing from a partly filled one, with the same loop.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from app.engine.models.masked_transformer import MaskedTransformer, MaskedTransformerConfig
from app.engine.text import TextEmbedding


def mask_ratio(t: Tensor | float) -> Tensor | float:
    """Fraction of the unknown tokens still masked at progress t in [0, 1]: 1 at t = 0, 0 at t = 1."""
    if isinstance(t, Tensor):
        return torch.cos(math.pi / 2 * t)
    return math.cos(math.pi / 2 * t)


def empty_canvas(n_tokens: Tensor, cfg: MaskedTransformerConfig) -> Tensor:
    """n_tokens (B,) motion lengths in tokens -> (B, max(n)+1): MASK x n, END, then PAD to the longest."""
    if int(n_tokens.min()) < 1 or int(n_tokens.max()) >= cfg.max_tokens:
        raise ValueError(f"motion lengths must be 1..{cfg.max_tokens - 1} tokens, got {n_tokens.tolist()}")
    pos = torch.arange(int(n_tokens.max()) + 1, device=n_tokens.device)[None, :]  # (1, N)
    n = n_tokens[:, None]
    canvas = torch.full((len(n_tokens), pos.shape[1]), cfg.pad_id, dtype=torch.long, device=n_tokens.device)
    canvas = torch.where(pos < n, cfg.mask_id, canvas)
    return torch.where(pos == n, cfg.end_id, canvas)


def _sample(logits: Tensor, temperature: float, top_k: int | None, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """logits (M, K) -> sampled codes (M,) and their log-probabilities (M,) under the sampling distribution.

    Gumbel-max (argmax of log-probabilities plus Gumbel noise) draws from the same distribution as torch.multinomial
    at a third of its cost on the CPU."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if temperature == 0:
        logp = F.log_softmax(logits, dim=-1)
        codes = logp.argmax(-1)
    else:
        logp = F.log_softmax(logits / temperature, dim=-1)
        u = torch.rand(logp.shape, generator=generator, device=logp.device).clamp_(1e-20, 1 - 1e-7)
        codes = (logp - torch.log(-torch.log(u))).argmax(-1)
    return codes, logp.gather(-1, codes[..., None])[..., 0]


@torch.inference_mode()
def decode_tokens(
    model: MaskedTransformer,
    text: TextEmbedding,
    canvas: Tensor,
    steps: int = 8,
    guidance: float = 4.0,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    cond: Tensor | None = None,
) -> Tensor:
    """Fill every MASK of canvas (B, N) in `steps` steps; given codes, END and PAD come back unchanged.

    cond (B, N): the aligned conditioning codes of a model that reads them (the lower body, for upper-body edits).

    guidance: classifier-free scale, logits = without + guidance * (with - without text); 1 = text only (one pass),
    0 = no text. Both passes run as one batch of 2B. temperature 0 decodes greedily. Confidence is the sampled
    code's log-probability plus Gumbel noise scaled by temperature * (1 - t), which lets early steps commit
    somewhat randomly placed tokens and late steps the truly confident ones (MaskGIT's annealed choice noise).
    """
    cfg = model.config
    tokens = canvas.clone()
    unknown = tokens == cfg.mask_id  # (B, N)
    if not unknown.any():
        return tokens
    n = int((tokens != cfg.pad_id).any(0).nonzero().max()) + 1  # trailing all-PAD columns need no compute
    work = tokens[:, :n]
    total = unknown.sum(1)  # (B,)
    b = work.shape[0]
    guided = guidance != 1.0
    if cond is not None:
        cond = torch.cat([cond[:, :n], cond[:, :n]]) if guided else cond[:, :n]  # (B|2B, n)
    drop = torch.zeros(b, dtype=torch.bool, device=work.device)
    if guided:  # conditional rows, then the same rows without text: one batch of 2B
        twice = (torch.cat([t, t]) for t in (text.sentence, text.tokens, text.mask))
        context = model.encode_text(*twice, torch.cat([drop, ~drop]))
    else:
        context = model.encode_text(text.sentence, text.tokens, text.mask, drop)
    for step in range(steps):
        masked = work == cfg.mask_id
        if not masked.any():
            break
        logits = model.forward_tokens(torch.cat([work, work]) if guided else work, context, cond)  # (B|2B, n, K)
        if guided:  # only the masked positions are sampled: (M, K)
            with_text, without_text = (half[masked].float() for half in logits.chunk(2))
            logits = without_text + guidance * (with_text - without_text)
        else:
            logits = logits[masked].float()
        codes, confidence = _sample(logits, temperature, top_k, generator)  # (M,) each
        t = (step + 1) / steps
        if temperature > 0 and t < 1:
            u = torch.rand(confidence.shape, generator=generator, device=confidence.device).clamp(1e-20, 1 - 1e-7)
            confidence = confidence + temperature * (1 - t) * -torch.log(-torch.log(u))
        sampled = torch.zeros_like(work).masked_scatter(masked, codes)  # (B, n)
        confidence = torch.full(work.shape, float("inf"), device=work.device).masked_scatter(masked, confidence)
        # how many stay masked after this step: the schedule, but at least one commit per step
        remain = torch.minimum((total * mask_ratio(t)).floor().long(), masked.sum(1) - 1).clamp(min=0)  # (B,)
        ranks = confidence.argsort(1).argsort(1)  # 0 = least confident; only masked positions are finite
        commit = masked & (ranks >= remain[:, None])
        work = torch.where(commit, sampled, work)
    tokens[:, :n] = work
    return tokens
