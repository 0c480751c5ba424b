"""MMM's upper-body editor: upper-body codes re-decoded from the text and the motion's own lower-body codes.

Two part tokenizers split every frame's features into the upper body and the lower body (app.engine.models.
body_parts: the lower body owns the root). The editor is a masked transformer over upper-body codes that also
reads the lower-body codes at the same positions (MaskedTransformer's `cond`), so the new arms and torso are
generated to fit the legs' footwork. Only upper-body features come out; the caller keeps the lower body as it was.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from app.engine.arrays import normalised_batch
from app.engine.models.checkpoint import SHIPPED, CheckpointError, load_checkpoint
from app.engine.models.int8 import for_inference
from app.engine.models.masked_decoding import decode_tokens, empty_canvas
from app.engine.models.masked_mamba import masked_model
from app.engine.models.masked_transformer import MaskedTransformer
from app.engine.models.pipeline import ModelNotTrained, checked_tokenizer_path
from app.engine.models.tokenizer import MotionTokenizer
from app.engine.text import get_text_encoder

UPPER_FILE = "masked_upper.safetensors"


@dataclass
class UpperBodyEditor:
    upper: MotionTokenizer
    lower: MotionTokenizer
    transformer: MaskedTransformer
    mean: np.ndarray  # (D,) the tokenizers' normalisation
    std: np.ndarray  # (D,)
    skeleton_name: str = "bandai-namco21"
    fps: float = 20.0

    @property
    def device(self) -> torch.device:
        return next(self.transformer.parameters()).device

    @property
    def unit(self) -> int:
        return self.upper.config.unit

    @property
    def max_frames(self) -> int:
        return (self.transformer.config.max_tokens - 1) * self.unit

    @property
    def upper_dims(self) -> np.ndarray:
        """Indices (int64) of the upper-body feature dims."""
        return self.upper.feature_index.cpu().numpy()

    def edit(self, features: np.ndarray, regenerate: np.ndarray, text: str, seed: int, guidance: float, steps: int,
             temperature: float, top_k: int | None) -> np.ndarray:
        """features (T, D) un-normalised, T a multiple of `unit` and at most max_frames; regenerate (T / unit,) bool,
        the tokens to re-decode -> upper-body features (T, len(upper_dims)) un-normalised."""
        x = normalised_batch(features, self.mean, self.std, self.device)  # (1, T, D)
        upper_codes, lower_codes = self.upper.encode(x), self.lower.encode(x)  # (1, N) each
        n = upper_codes.shape[1]
        cfg = self.transformer.config
        canvas = empty_canvas(torch.tensor([n], device=self.device), cfg)  # (1, N + 1): MASK..., END
        keep = ~torch.from_numpy(np.asarray(regenerate, bool)).to(self.device)
        canvas[0, :n] = torch.where(keep, upper_codes[0], canvas[0, :n])
        cond = torch.full_like(canvas, cfg.cond_none_id)
        cond[0, :n] = lower_codes[0]
        generator = torch.Generator(device=self.device).manual_seed(seed)
        text_embedding = get_text_encoder(self.device).encode([text])
        tokens = decode_tokens(self.transformer, text_embedding, canvas, steps, guidance, temperature, top_k, generator, cond)
        out = self.upper.decode(tokens[:, :n])[0].cpu().numpy()  # (T, upper dims) normalised
        dims = self.upper_dims
        return out * self.std[dims] + self.mean[dims]


def load_upper_editor_from(path: str | Path, device: str = "cpu") -> UpperBodyEditor:
    """The editor in checkpoint `path` with the two part tokenizers it names (beside it), sha256-checked."""
    path = Path(path)
    state, config, extra, meta = load_checkpoint(path)
    if "lower_tokenizer_sha256" not in meta:
        raise CheckpointError(f"{path}: not an upper-body editor checkpoint (no lower-body tokenizer in its metadata)")
    upper = MotionTokenizer.load(checked_tokenizer_path(path, meta, "tokenizer"), device)
    lower = MotionTokenizer.load(checked_tokenizer_path(path, meta, "lower_tokenizer"), device)
    transformer = masked_model(config, path)
    try:
        transformer.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match the config in its header: {exc}") from None
    transformer = for_inference(transformer, device)
    return UpperBodyEditor(upper, lower, transformer, extra["mean"].numpy(), extra["std"].numpy(),
                           meta.get("skeleton") or "bandai-namco21", float(meta.get("fps", 20.0)))


@functools.lru_cache(maxsize=2)
def _cached(checkpoints_dir: str, device: str) -> UpperBodyEditor:
    return load_upper_editor_from(Path(checkpoints_dir) / UPPER_FILE, device)


def load_upper_editor(checkpoints_dir: str | Path = SHIPPED, device: str = "cpu") -> UpperBodyEditor:
    """The trained upper-body editor in `checkpoints_dir`, loaded once per folder and device."""
    folder = Path(checkpoints_dir)
    if not (folder / UPPER_FILE).is_file():
        raise ModelNotTrained(f"no upper-body editor in {folder}/: train the part tokenizers and the editor with "
                              "`kinema train tokenizer --part upper|lower` and `kinema train masked-upper --data <dir>`")
    return _cached(str(folder.resolve()), str(torch.device(device)))
