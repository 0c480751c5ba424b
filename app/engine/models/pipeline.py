"""Text-to-motion pipeline: MiniLM -> length predictor -> masked transformer (tokens) -> tokenizer decoder.

`load_pipeline` reads the trained checkpoints once per (folder, device) and keeps them; the masked model's
checkpoint names the tokenizer it was trained on (file name + sha256), so a retrained tokenizer that no longer
matches is refused instead of silently decoding the wrong codes.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from app.engine.arrays import normalised_batch
from app.engine.models.checkpoint import (SHIPPED, CheckpointError, config_from, file_sha256, kept_encoder_sha256s,
                                         load_checkpoint)
from app.engine.models.int8 import for_inference
from app.engine.models.length_predictor import LengthPredictor, LengthPredictorConfig
from app.engine.models.masked_decoding import decode_tokens, empty_canvas
from app.engine.models.masked_mamba import masked_model
from app.engine.models.masked_transformer import MaskedTransformer
from app.engine.text import TextEmbedding, get_text_encoder

if TYPE_CHECKING:
    from app.engine.models.tokenizer import MotionTokenizer

MASKED_FILE = "masked.safetensors"
# A take this many times as long as its action is grown around the action decoded alone (canvas_around_actions),
# for actions the length predictor gives at most CORE_MAX_TOKENS (3.2 s: a dash, a kick, a punch, jumping jacks,
# raising a hand). Longer ones (turning walks, sidesteps, bows, sits: 4.4 s and more) already fill a take decoded in
# one go, and grown into 9.8 s a turning walk turned too little (right turns 19 -> 10 of 20 seeds). The action is at
# least CORE_MIN_TOKENS (1.2 s, a jumping jack's cycle, the shortest action in the data): the length predictor gives
# walking backwards 0.8 s, and held to 2 s a 1.2 s jumping jack grown into 5 s came out in 7 of 10 seeds, at its
# own length in 9. Measured on the prompt suite at 80, 120 and 196 frames (model card).
CORE_RATIO = 1.5
CORE_MIN_TOKENS = 6
CORE_MAX_TOKENS = 16


class ModelNotTrained(FileNotFoundError):
    """The checkpoints folder has no trained masked model."""


@dataclass
class TextToMotion:
    tokenizer: MotionTokenizer
    transformer: MaskedTransformer
    length_predictor: LengthPredictor
    mean: np.ndarray  # (D,) the tokenizer's normalisation
    std: np.ndarray  # (D,)
    skeleton_name: str = "bandai-namco21"
    fps: float = 20.0

    @property
    def device(self) -> torch.device:
        return next(self.transformer.parameters()).device

    @property
    def unit(self) -> int:
        """Frames per token."""
        return self.tokenizer.config.unit

    @property
    def max_frames(self) -> int:
        return (self.transformer.config.max_tokens - 1) * self.unit

    def encode_text(self, prompts: list[str]) -> TextEmbedding:
        return get_text_encoder(self.device).encode(prompts)

    def predict_tokens(self, text: TextEmbedding) -> torch.Tensor:
        """(B,) motion lengths in tokens from the text."""
        return self.length_predictor.predict(text.sentence)

    def decode_features(self, tokens: torch.Tensor) -> np.ndarray:
        """Codes (B, N) -> un-normalised features (B, unit * N, D)."""
        x = self.tokenizer.decode(tokens).cpu().numpy()
        return x * self.std + self.mean

    def encode_features(self, features: np.ndarray) -> torch.Tensor:
        """Un-normalised features (T, D), T a multiple of `unit` -> codes (T / unit,)."""
        return self.tokenizer.encode(normalised_batch(features, self.mean, self.std, self.device))[0]

    @property
    def reads_root_keys(self) -> bool:
        """Whether the transformer takes root keys (app.engine.models.root_keys): where the root stands at tokens."""
        return self.transformer.config.root_keys

    def fill(self, texts: list[str], canvas: torch.Tensor, seed: int, guidance: float, steps: int, temperature: float,
             top_k: int | None, keys: torch.Tensor | None = None) -> torch.Tensor:
        """Every MASK of canvas (B, N) decoded, row b for texts[b], all rows as one batch; given codes stay.
        keys (B, N, ROOT_KEY_DIM): root keys, for a transformer that reads them."""
        generator = torch.Generator(device=self.device).manual_seed(seed)
        keys = keys.to(self.device) if keys is not None else None
        return decode_tokens(self.transformer, self.encode_text(texts), canvas.to(self.device), steps, guidance,
                             temperature, top_k, generator, keys=keys)

    def canvas_around_actions(self, texts: list[str], n_tokens: torch.Tensor, seed: int, guidance: float, steps: int,
                              temperature: float, top_k: int | None) -> torch.Tensor:
        """The empty canvas (B, max(n) + 1) for takes of n_tokens (B,), texts[b] each, where a take at least
        CORE_RATIO times as long as its short action (the length predictor's choice, CORE_MIN_TOKENS to
        CORE_MAX_TOKENS) holds the action's codes at its centre, decoded alone at its own length with this seed (for
        one text, the take `generate` makes of it at the predicted length, when that is CORE_MIN_TOKENS or more).
        Decoding the canvas then grows each take around its action.

        Why: decoded at 6 s in one go, a 2.4 s kick mostly stood in a guard (4 of 20 seeds kicked) and a 2.4 s dash
        slowed to a run in some seeds: the short actions' takes are all the model saw of them (model card, "An
        action shorter than its take").
        """
        cfg = self.transformer.config
        canvas = empty_canvas(n_tokens, cfg)
        actions = self.predict_tokens(self.encode_text(texts)).clamp(min=CORE_MIN_TOKENS)  # (B,)
        grow = [b for b in range(len(texts))
                if int(actions[b]) <= CORE_MAX_TOKENS and int(n_tokens[b]) >= CORE_RATIO * int(actions[b])]
        if grow:
            decoded = self.fill([texts[b] for b in grow], empty_canvas(actions[grow], cfg), seed, guidance, steps,
                                temperature, top_k)  # (G, longest action + 1)
            for row, b in zip(decoded, grow):
                n, core = int(n_tokens[b]), int(actions[b])
                start = (n - core) // 2
                canvas[b, start : start + core] = row[:core]
        return canvas

    def generate(self, text: str, n_frames: int | None, seed: int, guidance: float, steps: int, temperature: float,
                 top_k: int | None) -> np.ndarray:
        """One motion (n_frames or predicted, D) float32 for one prompt; callers validate the arguments. A take much
        longer than its action is grown around the action (`canvas_around_actions`)."""
        emb = self.encode_text([text])
        if n_frames is None:
            n_tokens = self.predict_tokens(emb)
        else:
            n_tokens = torch.tensor([-(-n_frames // self.unit)], device=self.device)  # round up, then trim
        generator = torch.Generator(device=self.device).manual_seed(seed)
        canvas = self.canvas_around_actions([text], n_tokens, seed, guidance, steps, temperature, top_k)
        tokens = decode_tokens(self.transformer, emb, canvas, steps, guidance, temperature, top_k, generator)
        n = int(n_tokens[0])
        features = self.decode_features(tokens[:, :n])[0].astype(np.float32)
        return features if n_frames is None else features[:n_frames]


def checked_tokenizer_path(model_path: Path, meta: dict, key: str, path: str | Path | None = None) -> Path:
    """The tokenizer a transformer checkpoint names under `<key>_file` (beside it unless `path` is given), refused
    unless its sha256 is the one recorded at training (`<key>_sha256`), or it is a decoder-only fine-tune of that
    tokenizer (app.engine.models.checkpoint.kept_encoder_sha256s: the same encoder and codebook, so the same codes):
    other codes would decode to garbage."""
    path = Path(path) if path else model_path.parent / meta[f"{key}_file"]
    if not path.is_file():
        raise CheckpointError(f"{model_path} needs its tokenizer {path}, which is missing")
    if meta[f"{key}_sha256"] not in {file_sha256(path)} | kept_encoder_sha256s(path):
        raise CheckpointError(f"{model_path} was trained on another tokenizer than {path} (sha256 differs): "
                              "retrain it on this tokenizer")
    return path


def load_text_to_motion(masked_path: str | Path, tokenizer_path: str | Path | None = None,
                        device: str = "cpu") -> TextToMotion:
    """The pipeline from a masked-model checkpoint and the tokenizer it names (beside it unless given); on the CPU
    the masked model runs in int8 (app.engine.models.int8)."""
    from app.engine.models.tokenizer import MotionTokenizer

    masked_path = Path(masked_path)
    state, config, extra, meta = load_checkpoint(masked_path)
    if "tokenizer_sha256" not in meta or "length_config" not in meta:
        raise CheckpointError(f"{masked_path}: not a masked-transformer checkpoint (no tokenizer/length metadata)")
    tokenizer_path = checked_tokenizer_path(masked_path, meta, "tokenizer", tokenizer_path)
    transformer = masked_model(config, masked_path)
    length = LengthPredictor(config_from(LengthPredictorConfig, meta["length_config"], masked_path))
    try:
        transformer.load_state_dict(state)
        length.load_state_dict({k[7:]: v for k, v in extra.items() if k.startswith("length.")})
    except RuntimeError as exc:
        raise CheckpointError(f"{masked_path}: weights do not match the config in its header: {exc}") from None
    transformer = for_inference(transformer, device)
    return TextToMotion(
        MotionTokenizer.load(tokenizer_path, device), transformer, length.to(device).eval(),
        extra["mean"].numpy(), extra["std"].numpy(), meta.get("skeleton") or "bandai-namco21", float(meta.get("fps", 20.0)),
    )


@functools.lru_cache(maxsize=4)
def _cached(checkpoints_dir: str, device: str) -> TextToMotion:
    return load_text_to_motion(Path(checkpoints_dir) / MASKED_FILE, device=device)


def load_pipeline(checkpoints_dir: str | Path = SHIPPED, device: str = "cpu") -> TextToMotion:
    """The trained pipeline in `checkpoints_dir`, loaded once per folder and device."""
    folder = Path(checkpoints_dir)
    if not (folder / MASKED_FILE).is_file():
        raise ModelNotTrained(f"no trained masked model in {folder}/: train one with `kinema train masked --data <dir>`")
    return _cached(str(folder.resolve()), str(torch.device(device)))
