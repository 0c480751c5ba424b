"""The engine's verbs, as the UI and the CLI call them. Each validates its arguments with a ValueError that says
what is allowed, runs under torch.inference_mode(), draws randomness only from a seeded torch.Generator (never the
global RNG, so the same call gives the same motion), and returns a Motion (app.engine.motion)."""
from __future__ import annotations

import torch

from app.engine.models.pipeline import TextToMotion, load_pipeline
from app.engine.motion import Motion


def generate(
    text: str,
    n_frames: int | None = None,
    seed: int = 0,
    guidance: float = 4.0,
    steps: int = 8,
    temperature: float = 1.0,
    top_k: int | None = None,
    device: str = "cpu",
    engine: str = "masked",
    model: TextToMotion | None = None,
) -> Motion:
    """A motion for `text`, from nothing.

    n_frames: length in frames (4 .. the model's maximum, 196 for MMM's setup); rounded up to whole tokens for
    generation and trimmed back, so the result has exactly n_frames frames. None: the length predictor's choice.
    guidance: classifier-free guidance scale (0 = ignore the text, 1 = plain conditional, larger = follow the
    text more closely at some cost in diversity); 4 is MoMask/MMM's usual setting.
    steps: parallel decoding iterations (more = slower, slightly better). temperature 0 decodes greedily.
    model: a loaded TextToMotion (tests, or a caller holding one); default: load_pipeline(device=device).
    """
    if engine != "masked":
        raise ValueError(f"unknown engine {engine!r}; available: 'masked'")
    if not text or not text.strip():
        raise ValueError("empty prompt: describe the motion, e.g. 'a person walks forward'")
    if guidance < 0:
        raise ValueError(f"guidance must be >= 0, got {guidance}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")
    pipeline = model if model is not None else load_pipeline(device=device)
    if n_frames is not None and not 4 <= n_frames <= pipeline.max_frames:
        raise ValueError(f"n_frames must be between 4 and {pipeline.max_frames} (the model's maximum), got {n_frames}")
    with torch.inference_mode():
        features = pipeline.generate(text, n_frames, seed, guidance, steps, temperature, top_k)
    return Motion(features, pipeline.fps, pipeline.skeleton_name)
