"""The masked model's editing machinery: MMM's "put [MASK] where the change goes", on feature arrays.

- `refill`: frames marked `keep` stay, the rest is re-decoded for a text (in-betweening, regenerating a range),
  then the kept frames are made exact with app.engine.locks.
- `edit_upper_body`: upper-body features re-decoded within a range by the upper-body editor, the lower body and
  root untouched.
- `chain`: several prompts generated as one token sequence with transition tokens between them.

Motions longer than the transformer's window (196 frames) are edited window by window around what changes:
features are local (velocities and root-relative poses), so a regenerated stretch is spliced back into the take.
Callers validate arguments (app.engine.ops); everything here runs under the caller's torch.inference_mode().
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from app.engine.arrays import pad_to_multiple
from app.engine.features import features_from_positions, positions_from_features
from app.engine.locks import impose_locks, smoothstep
from app.engine.models.masked_decoding import empty_canvas
from app.engine.models.masked_transformer import ROOT_KEY_DIM
from app.engine.models.pipeline import TextToMotion
from app.engine.models.root_keys import root_keys
from app.engine.models.upper_editor import UpperBodyEditor
from app.engine.skeleton import Skeleton

if TYPE_CHECKING:
    from app.engine.models.diffusion_pipeline import DiffusionPipeline

CONTEXT_FRAMES = 16  # frames of the take on each side of a change that the model sees (4 tokens)


@dataclass(frozen=True)
class Decoding:
    """How the masked model decodes (app.engine.models.masked_decoding.decode_tokens)."""

    seed: int = 0
    guidance: float = 2.5  # the masked engine's default (app.engine.ops.DEFAULT_GUIDANCE)
    steps: int = 8
    temperature: float = 1.0
    top_k: int | None = None


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of every run of True in flags (T,)."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def windows_around(changed: np.ndarray, max_frames: int, what: str = "regenerated stretch",
                   hint: str = "lock a key inside it") -> list[tuple[int, int]]:
    """Frame windows [start, end), each at most max_frames long, that cover every changed frame with up to
    CONTEXT_FRAMES of context on each side; the whole take when it fits in one window. A changed run too long for
    one window is refused with a message naming `what` and what to do (`hint`)."""
    n = len(changed)
    if n <= max_frames:
        return [(0, n)]
    windows: list[tuple[int, int]] = []
    for a, b in _runs(changed):
        if b - a > max_frames - 2 * CONTEXT_FRAMES:
            raise ValueError(f"the {what} from frame {a} to {b - 1} is {b - a} frames long; the model changes at "
                             f"most {max_frames - 2 * CONTEXT_FRAMES} frames at a time in a take this long: {hint}")
        w0, w1 = max(0, a - CONTEXT_FRAMES), min(n, b + CONTEXT_FRAMES)
        if windows and w0 <= windows[-1][1] and w1 - windows[-1][0] <= max_frames:
            w0 = windows.pop()[0]  # overlapping windows that fit together are decoded together
        windows.append((w0, w1))
    return windows


def _exact_at(features: np.ndarray, original: np.ndarray, keep: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """features (T, D) whose joint positions at the kept frames equal the original's, smoothly corrected around."""
    keys = np.flatnonzero(keep)
    if len(keys) == 0:
        return features
    j = skeleton.n_joints
    wanted = positions_from_features(original.astype(np.float64), j, append_last=True)  # (T + 1, J, 3)
    got = positions_from_features(features.astype(np.float64), j, append_last=True)
    if keep[-1]:  # the extra frame fixes the last frame's velocities: keep it too
        keys = np.append(keys, len(features))
    corrected = impose_locks(got, wanted[keys], keys)
    return features_from_positions(corrected, skeleton).astype(np.float32)


def refill(pipeline: TextToMotion, features: np.ndarray, keep: np.ndarray, text: str, decoding: Decoding,
           skeleton: Skeleton) -> np.ndarray:
    """features (T, D) with every frame where keep (T,) is False re-decoded for `text`; kept frames come back with
    the original joint positions. Tokens that cover any kept frame are given to the model, the others masked; the
    whole decoded window replaces the take (a kept frame pasted between generated ones would pop) and the kept
    frames are then pulled back exactly by app.engine.locks. A transformer that reads root keys is also told where
    the root stands at every given token (relative to the window's first frame), so that the frames it generates
    travel to the next key instead of leaving the lock correction a root offset to spread over the gap."""
    unit = pipeline.unit
    out = features.copy()
    for index, (w0, w1) in enumerate(windows_around(~keep, pipeline.max_frames)):
        window = pad_to_multiple(features[w0:w1], unit)  # (L', D)
        given = np.zeros(len(window), bool)
        given[: w1 - w0] = keep[w0:w1]
        given_tokens = torch.from_numpy(given.reshape(-1, unit).any(1)).to(pipeline.device)  # (N,)
        codes = pipeline.encode_features(window)
        n = len(codes)
        canvas = empty_canvas(torch.tensor([n], device=pipeline.device), pipeline.transformer.config)  # (1, N + 1)
        canvas[0, :n] = torch.where(given_tokens, codes, canvas[0, :n])
        keys = None
        if pipeline.reads_root_keys:  # where the root stands at the given tokens; none at END
            keys = torch.zeros(canvas.shape + (ROOT_KEY_DIM,))  # (1, N + 1, ROOT_KEY_DIM)
            keys[0, :n] = root_keys(window, unit, given_tokens.cpu())
        tokens = pipeline.fill([text], canvas, decoding.seed + index, decoding.guidance, decoding.steps,
                               decoding.temperature, decoding.top_k, keys)
        out[w0:w1] = pipeline.decode_features(tokens[:, :n])[0][: w1 - w0]  # (L, D)
    return _exact_at(out, features, keep, skeleton)


def inpaint_with_diffusion(pipeline: DiffusionPipeline, features: np.ndarray, keep: np.ndarray, text: str,
                           decoding: Decoding, skeleton: Skeleton) -> np.ndarray:
    """The diffusion engine's in-betweening: the latents of every 4-frame block holding a kept frame are imposed at
    each denoising step (the take's own latents there), the rest is denoised for `text`; the whole decoded take
    replaces the original and the kept frames are then made exact as in `refill` (pasted, they popped: jerk at the
    keys 10 x real's 99th percentile). Takes of at most the model's window."""
    unit = pipeline.unit
    blocks = np.zeros(-(-len(keep) // unit) * unit, bool)
    blocks[: len(keep)] = keep
    known = blocks.reshape(-1, unit).any(1).repeat(unit)[: len(keep)]  # whole blocks around each kept frame
    out = pipeline.inpaint(features, known, text, decoding.seed, decoding.guidance, decoding.steps, paste=False)
    return _exact_at(out, features, keep, skeleton)


def edit_upper_body(editor: UpperBodyEditor, features: np.ndarray, start: int, end: int, text: str,
                    decoding: Decoding, blend_frames: int = 4, locked: np.ndarray | None = None) -> np.ndarray:
    """features (T, D) with the upper body of frames [start, end) re-decoded for `text`; the lower-body dims
    (root included) are returned untouched, and the new upper body is cross-faded with the old over
    `blend_frames` inside each edge of the range and around every `locked` frame, where it is the old one exactly
    (the editor is also given the tokens holding those frames, so it moves towards the key)."""
    unit = editor.unit
    locked = np.asarray([] if locked is None else locked, dtype=np.int64)
    changed = np.zeros(len(features), bool)
    changed[start:end] = True
    ((w0, w1),) = windows_around(changed, editor.max_frames, "edited range", "select fewer frames")
    window = pad_to_multiple(features[w0:w1], unit)
    regenerate = np.zeros(len(window), bool)
    regenerate[start - w0 : end - w0] = True
    tokens = regenerate.reshape(-1, unit).any(1)  # (L' / unit,)
    inside = locked[(locked >= start) & (locked < end)]
    tokens[(inside - w0) // unit] = False
    if not tokens.any():  # every token holds a key: nothing is free to change
        return features.copy()
    upper = editor.edit(window, tokens, text, decoding.seed, decoding.guidance,
                        decoding.steps, decoding.temperature, decoding.top_k)[: w1 - w0]  # (L, upper dims)
    t = np.arange(w0, w1, dtype=np.float64)
    ramp = max(1, min(blend_frames, (end - start) // 3))
    weight = np.clip(np.minimum(t - start + 1, end - t) / (ramp + 1), 0.0, 1.0)
    for key in inside:  # 0 at the key, back to 1 `ramp + 1` frames away
        weight = np.minimum(weight, np.clip(np.abs(t - key) / (ramp + 1), 0.0, 1.0))
    weight = smoothstep(weight)[:, None]  # 0 outside [start, end) and at the keys
    dims = editor.upper_dims
    out = features.copy()
    out[w0:w1, dims] = ((1 - weight) * features[w0:w1, dims] + weight * upper).astype(features.dtype)
    return out


def chain(pipeline: TextToMotion, segments: list[tuple[str, int]], decoding: Decoding, transition_tokens: int = 2,
          context_tokens: int = 6) -> np.ndarray:
    """One take (sum of lengths, D) of the segments in order: each segment's tokens decoded for its own text (grown
    around its action where the segment is much longer than it: TextToMotion.canvas_around_actions), then
    the first `transition_tokens` after every boundary (fewer where the segment is shorter) re-decoded with the
    neighbours' tokens as context and both texts, and the whole token sequence decoded at once, so the root
    trajectory and heading run on continuously. The transition opens the next segment rather than straddling the
    boundary, so a segment's own action runs to its last frame: an action at the end of its prompt (a turn after a
    walk) kept its last token, which had carried up to a quarter of the turn (long-take agreement 0.577 -> 0.600,
    3 repeats).

    Segment lengths snap to whole tokens (4 frames) at the boundaries; the take has exactly sum(n) frames.
    """
    unit, cfg = pipeline.unit, pipeline.transformer.config
    total = sum(n for _, n in segments)
    bounds = np.floor(np.cumsum([0] + [n for _, n in segments]) / unit + 0.5).astype(int)  # token index of each start
    bounds[-1] = -(-total // unit)
    for i in range(len(segments) - 1, 0, -1):  # rounding must not push a segment past the model's window
        bounds[i] = max(bounds[i], bounds[i + 1] - (cfg.max_tokens - 1))
    lengths = torch.from_numpy(np.diff(bounds)).to(pipeline.device)
    texts = [text for text, _ in segments]
    canvas = pipeline.canvas_around_actions(texts, lengths, decoding.seed, decoding.guidance, decoding.steps,
                                            decoding.temperature, decoding.top_k)  # a kick segment: its kick first
    tokens = pipeline.fill(texts, canvas, decoding.seed, decoding.guidance, decoding.steps, decoding.temperature,
                           decoding.top_k)  # (S, longest + 1): every segment in one batch
    sequence = torch.cat([row[:n] for row, n in zip(tokens, lengths.tolist())])  # (N,)
    if len(segments) > 1:  # every transition in one batch, each window seeing its neighbours' codes
        ends = [min(b + transition_tokens, bounds[i + 2]) for i, b in enumerate(bounds[1:-1])]  # transitions end
        windows = [(max(bounds[i], b - context_tokens), min(bounds[i + 2], end + context_tokens), b, end)
                   for i, (b, end) in enumerate(zip(bounds[1:-1], ends))]  # (lo, hi, m0, m1)
        canvas = empty_canvas(torch.tensor([hi - lo for lo, hi, _, _ in windows], device=pipeline.device), cfg)
        for row, (lo, hi, m0, m1) in zip(canvas, windows):
            row[: hi - lo] = sequence[lo:hi]
            row[m0 - lo : m1 - lo] = cfg.mask_id
        joined = [a if a == b else f"{a.rstrip('. ')}, then {b}" for a, b in zip(texts[:-1], texts[1:])]
        filled = pipeline.fill(joined, canvas, decoding.seed + 1, decoding.guidance, decoding.steps,
                               decoding.temperature, decoding.top_k)
        for row, (lo, _, m0, m1) in zip(filled, windows):
            sequence[m0:m1] = row[m0 - lo : m1 - lo]
    return pipeline.decode_features(sequence[None])[0][:total].astype(np.float32)
