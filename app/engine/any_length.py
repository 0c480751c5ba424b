"""Takes longer than a model's window (196 frames, 9.8 s), made window by window and joined by generated motion.

- masked engine: the take is cut into near-equal pieces that each fit the window and generated as one long
  sequence of the same prompt (`app.engine.editing.chain`): every boundary gets transition tokens decoded from
  both neighbours, and the whole token sequence is decoded at once, so the root runs on continuously;
- diffusion engine: the first window is sampled, then each next window in-paints from the last `overlap` frames
  of what exists (their latents imposed), so every window continues the one before it; over those frames the take
  cross-fades from the old window to the new one's decoding (the VAE is lossy: cut straight from one to the other,
  the join popped at 4 x real motion's 99th-percentile jerk).

Features are local (velocities and root-relative poses), so windows joined this way integrate to one trajectory.
Callers validate arguments (app.engine.ops) and hold torch.inference_mode().
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from app.engine.editing import Decoding, chain
from app.engine.locks import smoothstep

if TYPE_CHECKING:
    from app.engine.models.diffusion_pipeline import DiffusionPipeline
    from app.engine.models.pipeline import TextToMotion

LONGEST_TAKE_S = 600  # seconds: generate and long takes refuse longer ones (they would take minutes on a laptop)


def pieces(n_frames: int, max_frames: int) -> list[int]:
    """n_frames split into the fewest near-equal lengths of at most max_frames (longer ones first)."""
    count = -(-n_frames // max_frames)
    base, extra = divmod(n_frames, count)
    return [base + 1] * extra + [base] * (count - extra)


def generate_masked(pipeline: TextToMotion, text: str, n_frames: int, decoding: Decoding) -> np.ndarray:
    """One take (n_frames, D) of `text`, longer than the window: pieces chained with generated transitions."""
    return chain(pipeline, [(text, n) for n in pieces(n_frames, pipeline.max_frames)], decoding)


def generate_diffusion(pipeline: DiffusionPipeline, text: str, n_frames: int, decoding: Decoding,
                       overlap: int = 32) -> np.ndarray:
    """One take (n_frames, D) of `text`: the first window sampled, each next one in-painted after the last
    `overlap` frames (a multiple of the latent's 4 frames), cross-faded into it over those frames."""
    window = pipeline.max_frames
    out = pipeline.generate(text, min(n_frames, window), decoding.seed, decoding.guidance, decoding.steps)
    index = 1
    while len(out) < n_frames:
        new = min(window - overlap, n_frames - len(out))
        canvas = np.concatenate([out[-overlap:], np.zeros((new, out.shape[1]), out.dtype)])  # (overlap + new, D)
        known = np.arange(len(canvas)) < overlap
        filled = pipeline.inpaint(canvas, known, text, decoding.seed + index, decoding.guidance, decoding.steps,
                                  paste=False)
        fade = smoothstep((np.arange(overlap) + 1.0) / (overlap + 1))[:, None]  # (overlap, 1): old 0, new 1
        out[-overlap:] = (1 - fade) * out[-overlap:] + fade * filled[:overlap]
        out = np.concatenate([out, filled[overlap:]])
        index += 1
    return out.astype(np.float32)
