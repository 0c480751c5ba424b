"""MMM's conditional masked transformer (Pinyoanuntapong et al., CVPR 2024) over motion-token sequences.

A bidirectional transformer predicts the codes hidden under [MASK] from the visible ones and the text:
the MiniLM sentence embedding is a prefix token, the MiniLM word states are attended through cross-attention.
Vocabulary of the input: the K codes, then MASK = K, PAD = K+1, END = K+2; the output is over the K codes only
(special tokens are always given, never predicted). A sequence is `n` codes, END, then PAD up to max_tokens;
PAD positions are excluded from attention, so a sequence gives the same logits alone or in a padded batch.

With `cond_codebook_size` > 0 the model also reads a second, aligned code sequence that it never predicts:
MMM's upper-body editor predicts upper-body codes from the text and the lower-body codes at the same positions
(one embedding per lower code, added to the token embedding; `cond_none_id` where there is no code: END, PAD).

With `code_dim` > 0 the model holds the tokenizer's codebook (K, code_dim) and uses it on both sides: a code's
input embedding is a learned vector plus a projection of its codebook vector, and its logit is a learned score plus
the similarity of a projected hidden state to its codebook vector. Codes close in the tokenizer's latent space then
start close here too: a walk spreads over ~350 of the 512 codes, each seen rarely, and what is learnt about one
carries to its neighbours, so a near miss is a code that decodes to a similar pose instead of an unrelated one.

With `root_keys` the model also reads, at some tokens, where the root stands at the token's first frame: x, z
relative to the sequence's first frame (in its heading frame, in units of ROOT_KEY_SCALE metres) and the heading
(sin, cos), plus a presence flag; tokens without a key read zeros (no bias), so a model trained with keys randomly
dropped also generates without them. In-betweening gives the keys' root positions so the sample arrives near them.

Dropping the text (classifier-free guidance) swaps the sentence for a learned null embedding and hides every
word; a learned "null word" is always present in the cross-attention memory so that softmax over it stays
defined when no word is visible.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class MaskedTransformerConfig:
    codebook_size: int = 512  # K real codes, from the motion tokenizer
    max_tokens: int = 50  # 196 frames / 4 = 49 codes + END
    width: int = 256
    depth: int = 4
    heads: int = 4
    text_dim: int = 384  # MiniLM hidden size
    mlp_ratio: int = 4
    dropout: float = 0.1
    cond_codebook_size: int = 0  # > 0: an aligned conditioning code sequence (lower-body codes) is read too
    code_dim: int = 0  # > 0: the tokenizer's codebook (K, code_dim) shapes the input embeddings and the logits
    root_keys: bool = False  # read per-token root keys (x, z, sin, cos, present); see the module docstring
    rotary: bool = False  # rotary position embedding in self-attention (relative offsets), beside pos_emb

    @property
    def cond_none_id(self) -> int:
        """The conditioning id at positions without a code (END, PAD)."""
        return self.cond_codebook_size

    @property
    def mask_id(self) -> int:
        return self.codebook_size

    @property
    def pad_id(self) -> int:
        return self.codebook_size + 1

    @property
    def end_id(self) -> int:
        return self.codebook_size + 2

    @property
    def vocab_size(self) -> int:
        return self.codebook_size + 3


ROOT_KEY_SCALE = 4.0  # metres: root key positions are given in this unit
ROOT_KEY_DIM = 5  # x, z, sin(heading), cos(heading), present


# cpu: ~8 ms per guided step (batch 2, 50 tokens) on 2 CPU cores, for interactive editing.
# paper: MMM's released transformer (embed 1024, 9 layers, 16 heads, ff x4, block 51, codebook 8192); MMM
#   cross-attends to the words in one "local" layer only, here every block does (same width and depth).
PRESETS: dict[str, MaskedTransformerConfig] = {
    "cpu": MaskedTransformerConfig(codebook_size=512, width=256, depth=4, heads=4),
    "paper": MaskedTransformerConfig(codebook_size=8192, width=1024, depth=9, heads=16),
}


@dataclass
class TextContext:
    """The text side of a forward pass, computed once per prompt and reused across decoding steps."""

    prefix: Tensor  # (B, 1, W) sentence (or null) token
    memory: list[tuple[Tensor, Tensor]]  # per block: cross-attention keys, values (B, H, L+1, W/H)
    memory_mask: Tensor  # (B, 1, 1, L+1) bool, True where a word may be attended


def _heads(x: Tensor, heads: int) -> Tensor:
    """(B, N, W) -> (B, H, N, W/H)."""
    b, n, w = x.shape
    return x.view(b, n, heads, w // heads).transpose(1, 2)


def rotary_tables(n: int, head_dim: int, base: float = 10000.0) -> tuple[Tensor, Tensor]:
    """cos, sin (n, head_dim) of RoPE (Su et al. 2021) for positions 0..n-1: channel pairs (i, i + d/2) turn by
    position × base^(-2i/d), so a query-key product depends on their offset, not on where they sit."""
    inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)  # (d/2,)
    angles = torch.arange(n, dtype=torch.float32)[:, None] * inv_freq[None]  # (n, d/2)
    angles = torch.cat([angles, angles], dim=-1)  # (n, d)
    return angles.cos(), angles.sin()


def _rotate(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """x (B, H, N, d) turned by the tables' first N rows."""
    n, half = x.shape[2], x.shape[-1] // 2
    turned = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos[:n].to(x.dtype) + turned * sin[:n].to(x.dtype)


def _merge(x: Tensor) -> Tensor:
    """(B, H, N, W/H) -> (B, N, W)."""
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


class Block(nn.Module):
    """Pre-LN: bidirectional self-attention, cross-attention to the words, MLP."""

    def __init__(self, cfg: MaskedTransformerConfig):
        super().__init__()
        w = cfg.width
        self.heads, self.dropout = cfg.heads, cfg.dropout
        self.ln_self, self.qkv, self.proj_self = nn.LayerNorm(w), nn.Linear(w, 3 * w), nn.Linear(w, w)
        self.ln_cross, self.q_cross, self.kv_cross, self.proj_cross = (
            nn.LayerNorm(w), nn.Linear(w, w), nn.Linear(w, 2 * w), nn.Linear(w, w))
        self.ln_mlp = nn.LayerNorm(w)
        self.mlp = nn.Sequential(nn.Linear(w, cfg.mlp_ratio * w), nn.GELU("tanh"), nn.Linear(cfg.mlp_ratio * w, w))
        self.drop = nn.Dropout(cfg.dropout)

    def memory(self, words: Tensor) -> tuple[Tensor, Tensor]:
        """Cross-attention keys and values of the projected words (B, L+1, W): cached across decoding steps."""
        k, v = self.kv_cross(words).chunk(2, dim=-1)
        return _heads(k, self.heads), _heads(v, self.heads)

    def forward(self, x: Tensor, self_mask: Tensor, memory: tuple[Tensor, Tensor], memory_mask: Tensor,
                rotary: tuple[Tensor, Tensor] | None = None) -> Tensor:
        p = self.dropout if self.training else 0.0
        q, k, v = (_heads(t, self.heads) for t in self.qkv(self.ln_self(x)).chunk(3, dim=-1))
        if rotary is not None:
            q, k = _rotate(q, *rotary), _rotate(k, *rotary)
        x = x + self.drop(self.proj_self(_merge(F.scaled_dot_product_attention(q, k, v, self_mask, p))))
        q = _heads(self.q_cross(self.ln_cross(x)), self.heads)
        x = x + self.drop(self.proj_cross(_merge(F.scaled_dot_product_attention(q, *memory, memory_mask, p))))
        return x + self.drop(self.mlp(self.ln_mlp(x)))


class MaskedTransformer(nn.Module):
    def __init__(self, cfg: MaskedTransformerConfig):
        super().__init__()
        self.config = cfg
        w = cfg.width
        self.tok_emb = nn.Embedding(cfg.vocab_size, w)
        self.cond_emb = nn.Embedding(cfg.cond_codebook_size + 1, w) if cfg.cond_codebook_size else None
        if cfg.code_dim:  # filled with the tokenizer's codebook before training, saved with the weights
            self.register_buffer("codebook", torch.zeros(cfg.codebook_size, cfg.code_dim))
            self.code_in = nn.Linear(cfg.code_dim, w, bias=False)
            self.code_out = nn.Linear(w, cfg.code_dim, bias=False)
        self.key_proj = nn.Linear(ROOT_KEY_DIM, w, bias=False) if cfg.root_keys else None
        self.pos_emb = nn.Parameter(torch.zeros(1, cfg.max_tokens + 1, w))  # +1: the sentence prefix
        if cfg.rotary:  # derived from the config, not saved
            cos, sin = rotary_tables(cfg.max_tokens + 1, w // cfg.heads)
            self.register_buffer("rotary_cos", cos, persistent=False)
            self.register_buffer("rotary_sin", sin, persistent=False)
        self.sentence_proj = nn.Linear(cfg.text_dim, w)
        self.null_sentence = nn.Parameter(torch.zeros(cfg.text_dim))
        self.word_proj = nn.Linear(cfg.text_dim, w)
        self.null_word = nn.Parameter(torch.zeros(1, 1, w))
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.ln_f = nn.LayerNorm(w)
        self.head = nn.Linear(w, cfg.codebook_size)
        self.apply(self._init)
        nn.init.normal_(self.pos_emb, std=0.02)
        nn.init.normal_(self.null_sentence, std=0.02)
        nn.init.normal_(self.null_word, std=0.02)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def encode_text(self, sentence: Tensor, words: Tensor, word_mask: Tensor, drop_text: Tensor) -> TextContext:
        """sentence (B, 384), words (B, L, 384), word_mask (B, L) bool, drop_text (B,) bool -> TextContext."""
        drop = drop_text.to(torch.bool)
        sentence = torch.where(drop[:, None], self.null_sentence.to(sentence.dtype), sentence)
        prefix = self.sentence_proj(sentence)[:, None]  # (B, 1, W)
        b = words.shape[0]
        mem = torch.cat([self.null_word.expand(b, 1, -1), self.word_proj(words)], dim=1)  # (B, L+1, W)
        visible = torch.cat([torch.ones_like(word_mask[:, :1]), word_mask & ~drop[:, None]], dim=1)  # (B, L+1)
        return TextContext(prefix, [blk.memory(mem) for blk in self.blocks], visible[:, None, None, :])

    def forward_tokens(self, tokens: Tensor, text: TextContext, cond: Tensor | None = None,
                       keys: Tensor | None = None) -> Tensor:
        """tokens (B, N) with N <= max_tokens, cond (B, N) conditioning codes (models with cond_emb), keys
        (B, N, ROOT_KEY_DIM) root keys (models with root_keys; None = no key anywhere) -> logits (B, N, K)."""
        cfg = self.config
        n = tokens.shape[1]
        if n > cfg.max_tokens:
            raise ValueError(f"{n} tokens is more than the model's maximum of {cfg.max_tokens}")
        if (cond is None) != (self.cond_emb is None):
            raise ValueError("conditioning codes are required by this model" if cond is None
                             else "this model takes no conditioning codes")
        if keys is not None and self.key_proj is None:
            raise ValueError("this model takes no root keys")
        emb = self.tok_emb(tokens)  # (B, N, W)
        if cond is not None:
            emb = emb + self.cond_emb(cond)
        if cfg.code_dim:
            real = tokens < cfg.codebook_size
            emb = emb + self.code_in(self.codebook[tokens.clamp(max=cfg.codebook_size - 1)]) * real[..., None]
        if keys is not None:
            emb = emb + self.key_proj(keys.to(emb.dtype))
        x = torch.cat([text.prefix, emb], dim=1) + self.pos_emb[:, : n + 1]  # (B, N+1, W)
        x = self.drop(x)
        keep = torch.cat([torch.ones_like(tokens[:, :1], dtype=torch.bool), tokens != self.config.pad_id], dim=1)
        self_mask = keep[:, None, None, :]  # (B, 1, 1, N+1): PAD is never attended
        rotary = ((self.rotary_cos, self.rotary_sin),) if cfg.rotary else ()  # Mamba blocks take none
        for blk, memory in zip(self.blocks, text.memory):
            x = blk(x, self_mask, memory, text.memory_mask, *rotary)
        h = self.ln_f(x[:, 1:])  # (B, N, W)
        if cfg.code_dim:
            return self.head(h) + self.code_out(h) @ self.codebook.T  # (B, N, K)
        return self.head(h)  # (B, N, K)

    def forward(self, tokens: Tensor, sentence: Tensor, words: Tensor, word_mask: Tensor, drop_text: Tensor,
                cond: Tensor | None = None, keys: Tensor | None = None) -> Tensor:
        """tokens (B, N), sentence (B, 384), words (B, L, 384), word_mask (B, L), drop_text (B,), cond (B, N) | None,
        keys (B, N, ROOT_KEY_DIM) | None -> logits (B, N, K)."""
        return self.forward_tokens(tokens, self.encode_text(sentence, words, word_mask, drop_text), cond, keys)
