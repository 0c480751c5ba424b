"""The trained text–motion evaluator as a tool: embed captions and motions (scored by app.engine.metrics).

`Evaluator.load()` reads one self-contained safetensors file written by `kinema train evaluator`
(app.engine.train.evaluator): weights, the model config, the dataset's Mean/Std and training metadata.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open

from app.engine.models.checkpoint import SHIPPED, config_from
from app.engine.models.evaluator import EvaluatorConfig, TextMotionEvaluator

DEFAULT_PATH = SHIPPED / "evaluator.safetensors"  # the shipped evaluator, wherever Kinema runs
FORMAT = "kinema-evaluator-1"
RETRAIN_HINT = "retrain with `kinema train evaluator --data <dir>`"


class EvaluatorError(RuntimeError):
    """The evaluator checkpoint is missing or unreadable; the message says how to get a good one."""


def config_from_json(text: str, source: str | Path = "checkpoint") -> EvaluatorConfig:
    return config_from(EvaluatorConfig, json.loads(text), source)


class Evaluator:
    """A loaded evaluator: `embed_texts` and `embed_motions` give L2-normalised (N, E) arrays."""

    def __init__(self, model: TextMotionEvaluator, mean: np.ndarray, std: np.ndarray, metadata: dict, device: str):
        self.model = model.eval()
        self.mean, self.std = mean.astype(np.float32), std.astype(np.float32)
        self.metadata = metadata
        self.device = torch.device(device)

    @property
    def config(self) -> EvaluatorConfig:
        return self.model.config

    @property
    def feature_dim(self) -> int:
        return self.config.feature_dim

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PATH, device: str = "cpu") -> Evaluator:
        path = Path(path)
        if not path.is_file():
            raise EvaluatorError(f"{path} does not exist; {RETRAIN_HINT}")
        try:
            with safe_open(str(path), framework="pt", device="cpu") as f:
                metadata = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
            if metadata.get("format") != FORMAT:
                raise ValueError(f"not an evaluator checkpoint (format {metadata.get('format')!r})")
            config = config_from_json(metadata["config"], path)
            model = TextMotionEvaluator(config)
            mean, std = tensors.pop("mean").numpy(), tensors.pop("std").numpy()
            model.load_state_dict(tensors, strict=True)
        except Exception as e:  # safetensors raises its own error types for truncated or garbled files
            raise EvaluatorError(f"{path} is damaged: {e}; {RETRAIN_HINT}") from e
        if mean.shape != (config.feature_dim,) or std.shape != (config.feature_dim,):
            raise EvaluatorError(f"{path} is damaged: Mean/Std do not match feature_dim {config.feature_dim}; {RETRAIN_HINT}")
        return cls(model.to(device), mean, std, metadata, device)

    @torch.no_grad()
    def embed_texts(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        from app.engine.text import get_text_encoder

        encoder = get_text_encoder(self.device)
        out = []
        for i in range(0, len(texts), batch_size):
            t = encoder.encode(list(texts[i : i + batch_size]))
            out.append(self.model.encode_text(t.tokens, t.mask, t.sentence).cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, self.config.embed_dim), np.float32)

    @torch.no_grad()
    def embed_motions(self, motions: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """Un-normalised features (T_i, D) each. Longer than max_frames: the first max_frames are used;
        lengths are floored to a multiple of `unit` (the movement encoder's stride)."""
        cfg = self.config
        clips = []
        for m in motions:
            m = np.asarray(m, dtype=np.float32)
            if m.ndim != 2 or m.shape[1] != cfg.feature_dim:
                raise ValueError(f"motion features must be (T, {cfg.feature_dim}), got {m.shape}")
            n = min(len(m), cfg.max_frames) // cfg.unit * cfg.unit
            if n == 0:
                raise ValueError(f"a motion needs at least {cfg.unit} frames, got {len(m)}")
            clips.append((m[:n] - self.mean) / self.std)
        out = []
        for i in range(0, len(clips), batch_size):
            chunk = clips[i : i + batch_size]
            lengths = torch.tensor([len(c) for c in chunk])
            batch = torch.zeros(len(chunk), int(lengths.max()), cfg.feature_dim)  # (B, T_max, D), zero padded
            for j, c in enumerate(chunk):
                batch[j, : len(c)] = torch.from_numpy(c)
            out.append(self.model.encode_motion(batch.to(self.device), lengths.to(self.device)).cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, cfg.embed_dim), np.float32)
