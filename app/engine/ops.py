"""The engine's verbs, as the UI and the CLI call them. Each validates its arguments with a ValueError that says
what is allowed, runs under torch.inference_mode(), draws randomness only from a seeded torch.Generator (never the
global RNG, so the same call gives the same motion), and returns a Motion (app.engine.motion)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from collections.abc import Sequence

import numpy as np

from app.engine.any_length import LONGEST_TAKE_S, generate_diffusion, generate_masked, pieces
from app.engine.cleanup import clean_up
from app.engine.constraints import Constraints, check_constraints, constrain, constrain_kept
from app.engine.editing import Decoding, chain, edit_upper_body, inpaint_with_diffusion, refill
from app.engine.models.pipeline import TextToMotion, load_pipeline
from app.engine.models.upper_editor import UpperBodyEditor, load_upper_editor
from app.engine.motion import Motion
from app.engine.skeleton import skeleton_by_name

if TYPE_CHECKING:
    from app.engine.models.diffusion_pipeline import DiffusionPipeline

ENGINES = ("masked", "diffusion")
# Classifier-free guidance when the caller gives none, per engine, measured with `kinema eval` (model card,
# "Rotary positions and guidance"): at 4 the masked model's guided logits keep what the text adds but cancel what
# the visible codes say in both passes, so a walk's phases stop following each other and it walks in place. 2.5
# keeps the walk and runs at 0.86 x real speed (2: 0.79 x) with the same R@3, FID and agreement ("Guidance 2.5").
# The upper-body editor (its lower-body codes are the context) does best at 4; the diffusion engine with its
# weight-averaged denoiser at 3 (2-5 measured: 3 keeps physical agreement and lowers FID; model card, Motion Mamba).
# With its 20 stochastic DDIM steps 4 kicks more often (25 of 40 seeds against 20 at 3.5) but walks to the left turn
# away (4 of 10 pass, 8 at 3) and Bandai agreement falls to 0.873 (model card, "Sampling: stochastic DDIM steps").
DEFAULT_GUIDANCE = {"masked": 2.5, "diffusion": 3.0}
# Decoding iterations when the caller gives none: the masked model's parallel decoding converges in 8; the diffusion
# engine's DDIM needs more, because 8 deterministic steps average a brief extreme pose away (a kick's foot above the
# hips in 2 of 20 seeds at guidance 3; 16 or 20 stochastic steps: 13 of 40) and more steps lower FID. 16, not 20:
# about 14 ms a step on 2 cores, and 20 steps (302 ms a take) would miss generate's 250 ms.
DEFAULT_STEPS = {"masked": 8, "diffusion": 16}
EDIT_UPPER_GUIDANCE = 4.0
MAX_STEPS = 1000  # decoding or denoising iterations: past this a call only burns time


def generate(
    text: str,
    n_frames: int | None = None,
    seed: int = 0,
    guidance: float | None = None,
    steps: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    device: str = "cpu",
    engine: str = "masked",
    model: TextToMotion | DiffusionPipeline | None = None,
    cleanup: bool = True,
    constraints: Constraints | None = None,
) -> Motion:
    """A motion for `text`, from nothing.

    n_frames: length in frames, 4 to 10 minutes' worth (12,000 at 20 fps); rounded up to whole tokens for
    generation and trimmed back, so the result has exactly n_frames frames. Takes longer than the model's window
    (196 frames) are made window by window, joined by generated transitions (app.engine.any_length). None: the
    length predictor's choice (at most one window). The masked engine makes an action much shorter than the take
    (a 2.4 s kick in 6 s) at its own length first and grows the take around it (TextToMotion.generate).
    guidance: classifier-free guidance scale (0 = ignore the text, 1 = plain conditional, larger = follow the
    text more closely at some cost in diversity); None: the engine's measured default (DEFAULT_GUIDANCE: masked 2.5,
    diffusion 3; MoMask/MMM use 4, which makes our masked model walk in place).
    steps: decoding iterations (more = slower, slightly better); None: the engine's default (DEFAULT_STEPS: masked
    8, diffusion 16). temperature 0 decodes greedily.
    engine: "masked" (MMM: tokens decoded in parallel) or "diffusion" (Motion Mamba: latent DDIM, `steps` denoising
    steps; temperature and top_k do not apply to it).
    model: a loaded pipeline of that engine (tests, or a caller holding one); default: the shipped checkpoints.
    cleanup: hold planted feet still and re-solve the legs (app.engine.cleanup), as every verb here does.
    constraints: root waypoints and effector pins (app.engine.constraints), made exact after generation: the root
    passes each waypoint tied to a frame at that frame, each pinned joint is at its pin; refuses waypoints or pins
    outside the take, joints that cannot be pinned.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; available: {', '.join(map(repr, ENGINES))}")
    guidance = default_guidance(engine) if guidance is None else guidance
    steps = default_steps(engine) if steps is None else steps
    _check_decoding(text, guidance, steps, temperature, top_k)
    if engine == "diffusion":
        from app.engine.models.diffusion_pipeline import load_diffusion_pipeline

        pipeline = model if model is not None else load_diffusion_pipeline(device=device)
    else:
        pipeline = model if model is not None else load_pipeline(device=device)
    longest = int(LONGEST_TAKE_S * pipeline.fps)
    if n_frames is not None and not 4 <= n_frames <= longest:
        raise ValueError(f"the length must be 4 to {longest} frames ({LONGEST_TAKE_S // 60} minutes at "
                         f"{pipeline.fps:g} fps), got {n_frames}")
    if constraints and n_frames is not None:  # before generating; a predicted length is checked by constrain
        check_constraints(constraints, skeleton_by_name(pipeline.skeleton_name), n_frames)
    with torch.inference_mode():
        if n_frames is not None and n_frames > pipeline.max_frames:  # longer than one window: windows joined
            decoding = Decoding(seed, guidance, steps, temperature, top_k)
            make = generate_diffusion if engine == "diffusion" else generate_masked
            features = make(pipeline, text, n_frames, decoding)
        elif engine == "diffusion":
            features = pipeline.generate(text, n_frames, seed, guidance, steps)
        else:
            features = pipeline.generate(text, n_frames, seed, guidance, steps, temperature, top_k)
    motion = Motion(features, pipeline.fps, pipeline.skeleton_name)
    if constraints:
        return Motion(constrain(features, motion.skeleton, constraints, cleanup, motion.fps), motion.fps,
                      motion.skeleton_name)
    return _cleaned(motion, cleanup)


def inbetween(
    motion: Motion,
    locked_frames: Sequence[int],
    text: str,
    seed: int = 0,
    guidance: float | None = None,
    steps: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    device: str = "cpu",
    model: TextToMotion | DiffusionPipeline | None = None,
    engine: str = "masked",
    extend: bool = False,
    cleanup: bool = True,
    constraints: Constraints | None = None,
) -> Motion:
    """The take with the frames between the first and the last locked key regenerated for `text` (MMM
    in-betweening, or the diffusion engine's in-painting with engine="diffusion", for takes of at most 196 frames;
    `steps` are then its DDIM steps). extend=True regenerates the frames before the first key and after the last
    one too.

    Exact: the joint positions of every locked frame (to float precision, far under 1 mm), and without `extend`
    every frame before the first key and after the last. Changes: the frames between the keys. A masked model
    trained with root keys (what `kinema train masked` trains, the shipped one of 2026-12-03 included) is told
    where the root stands and faces at each key, so its sample travels towards the next key. Around each key a
    smooth correction (largest at the key, fading over ~10 frames; the remaining root offset spread over the whole
    gap) removes the model's error at the key without a pop. Keys may be at the first or last frame, adjacent, or
    alone (with `extend`). `constraints` (waypoints and pins, as in `generate`) are made exact where they fall in
    the regenerated frames, as in `regenerate`. Refuses: no keys, a key outside the take, a single key without
    `extend` (nothing lies between), an empty prompt, constraints `generate` would refuse; takes longer than the model's window (196 frames) are fine as long as no unlocked
    stretch is longer than 164 frames.
    """
    guidance = default_guidance(engine) if guidance is None else guidance
    steps = default_steps(engine) if steps is None else steps
    _check_decoding(text, guidance, steps, temperature, top_k)
    keep = np.zeros(_check_motion(motion), bool)
    keys = _check_frames(locked_frames, motion.n_frames)
    keep[keys] = True
    if constraints:
        check_constraints(constraints, motion.skeleton, motion.n_frames)
    if not extend:
        if keys[-1] - keys[0] < 2:
            raise ValueError("in-betweening fills the frames between the first and the last key: lock two keys with "
                             "frames between them, or extend the in-between to the whole take")
        keep[: keys[0]] = keep[keys[-1] + 1 :] = True
    decoding = Decoding(seed, guidance, steps, temperature, top_k)
    if engine == "diffusion":
        from app.engine.models.diffusion_pipeline import load_diffusion_pipeline

        pipeline = model if model is not None else load_diffusion_pipeline(device=device)
        if motion.n_frames > pipeline.max_frames:
            raise ValueError(f"the diffusion engine in-betweens takes of up to {pipeline.max_frames} frames; this one "
                             f"has {motion.n_frames}: use the masked engine, which works window by window")
        with torch.inference_mode():
            features = inpaint_with_diffusion(pipeline, motion.features, keep, text, decoding, motion.skeleton)
        return _kept(Motion(features, motion.fps, motion.skeleton_name), cleanup, keep, constraints)
    if engine != "masked":
        raise ValueError(f"unknown engine {engine!r}; available: {', '.join(map(repr, ENGINES))}")
    pipeline = model if model is not None else load_pipeline(device=device)
    with torch.inference_mode():
        features = refill(pipeline, motion.features, keep, text, decoding, motion.skeleton)
    return _kept(Motion(features, motion.fps, motion.skeleton_name), cleanup, keep, constraints)


def regenerate(
    motion: Motion,
    frame_range: tuple[int, int],
    text: str,
    seed: int = 0,
    guidance: float | None = None,
    steps: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    device: str = "cpu",
    model: TextToMotion | None = None,
    locked: Sequence[int] = (),
    cleanup: bool = True,
    constraints: Constraints | None = None,
) -> Motion:
    """The take with frames [start, end) regenerated for `text`, every frame outside the range locked.

    Exact: every frame outside the range, and the `locked` keys inside it (joint positions, to float precision).
    Changes: the rest of the range, joined smoothly to both sides and to the keys. `constraints` (the take's
    waypoints and pins, as in `generate`) are made exact where they fall in the regenerated frames
    (app.engine.constraints.constrain_kept); those on kept frames are left to the kept take. Refuses an empty
    range or one outside the take, a key outside the take, a range whose every frame is locked, constraints
    `generate` would refuse, and ranges longer than 164 frames (between keys) in takes longer than 196 frames.
    """
    guidance = default_guidance("masked") if guidance is None else guidance
    steps = default_steps("masked") if steps is None else steps
    _check_decoding(text, guidance, steps, temperature, top_k)
    start, end = _check_range(frame_range, _check_motion(motion))
    if constraints:
        check_constraints(constraints, motion.skeleton, motion.n_frames)
    keep = np.ones(motion.n_frames, bool)
    keep[start:end] = False
    if len(locked):
        keep[_check_frames(locked, motion.n_frames)] = True
    if keep.all():
        raise ValueError(f"every frame of {start}–{end - 1} is locked: unlock a key or select more frames")
    pipeline = model if model is not None else load_pipeline(device=device)
    with torch.inference_mode():
        features = refill(pipeline, motion.features, keep, text, Decoding(seed, guidance, steps, temperature, top_k),
                          motion.skeleton)
    return _kept(Motion(features, motion.fps, motion.skeleton_name), cleanup, keep, constraints)


def edit_upper(
    motion: Motion,
    frame_range: tuple[int, int],
    text: str,
    seed: int = 0,
    guidance: float | None = None,
    steps: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    device: str = "cpu",
    model: UpperBodyEditor | None = None,
    locked: Sequence[int] = (),
) -> Motion:
    """The take with the upper body (spine, arms, head) of frames [start, end) regenerated for `text`.

    Exact: the lower body (hips, legs, feet) and the root trajectory, everywhere, bit for bit; the upper body
    outside the range and at the `locked` keys inside it (so a key's whole pose stays, bit for bit). Changes: the
    upper body within the range, cross-faded with the original over a few frames at each edge and around each
    key. Refuses an empty range, one outside the take, a key outside the take, or a range longer than 164 frames
    in a long take.
    """
    guidance = EDIT_UPPER_GUIDANCE if guidance is None else guidance
    steps = default_steps("masked") if steps is None else steps
    _check_decoding(text, guidance, steps, temperature, top_k)
    start, end = _check_range(frame_range, _check_motion(motion))
    keys = _check_frames(locked, motion.n_frames) if len(locked) else None
    editor = model if model is not None else load_upper_editor(device=device)
    with torch.inference_mode():
        features = edit_upper_body(editor, motion.features, start, end, text,
                                   Decoding(seed, guidance, steps, temperature, top_k), locked=keys)
    return Motion(features, motion.fps, motion.skeleton_name)


def long_sequence(
    segments: Sequence[tuple[str, int]],
    seed: int = 0,
    guidance: float | None = None,
    steps: int | None = None,
    temperature: float = 1.0,
    top_k: int | None = None,
    device: str = "cpu",
    model: TextToMotion | None = None,
    cleanup: bool = True,
) -> Motion:
    """One take of several prompts in order, each (text, n_frames), joined by generated transitions.

    The take has exactly sum(n_frames) frames; each segment boundary snaps to the nearest 4-frame token, and the
    next segment's first two tokens (8 frames) are a transition generated from both neighbours and both prompts, so
    each segment's action runs to its last frame. A segment longer
    than the model's window (196 frames) is made of near-equal pieces of its prompt, joined the same way. The root
    trajectory and heading are continuous across boundaries. Refuses: no segments, an empty prompt, a segment
    shorter than 4 frames, a take longer than 10 minutes.
    """
    if not segments:
        raise ValueError("no segments: give at least one (prompt, frames) pair")
    guidance = default_guidance("masked") if guidance is None else guidance
    steps = default_steps("masked") if steps is None else steps
    for text, _ in segments:
        _check_decoding(text, guidance, steps, temperature, top_k)
    pipeline = model if model is not None else load_pipeline(device=device)
    for index, (text, n_frames) in enumerate(segments, 1):
        if int(n_frames) < 4:
            raise ValueError(f"segment {index} ({text!r}) has {n_frames} frames; each segment needs at least 4")
    total, longest = sum(int(n) for _, n in segments), int(LONGEST_TAKE_S * pipeline.fps)
    if total > longest:
        raise ValueError(f"the long take would have {total} frames; at most {longest} ({LONGEST_TAKE_S // 60} minutes "
                         f"at {pipeline.fps:g} fps)")
    laid_out = [(text, piece) for text, n in segments for piece in pieces(int(n), pipeline.max_frames)]
    with torch.inference_mode():
        features = chain(pipeline, laid_out, Decoding(seed, guidance, steps, temperature, top_k))
    return _cleaned(Motion(features, pipeline.fps, pipeline.skeleton_name), cleanup)


def _cleaned(motion: Motion, cleanup: bool, locked: np.ndarray | None = None) -> Motion:
    """The motion with planted feet held and legs re-solved by IK (app.engine.cleanup) when `cleanup` is on; the
    joint positions of `locked` frames (T,) stay exact. edit_upper has no clean-up: it keeps the legs bit for bit."""
    if not cleanup:
        return motion
    return Motion(clean_up(motion.features, motion.skeleton, locked), motion.fps, motion.skeleton_name)


def _kept(motion: Motion, cleanup: bool, keep: np.ndarray, constraints: Constraints | None) -> Motion:
    """An edit's result with the `keep` frames (T,) exact: cleaned up, and following `constraints` where given
    (app.engine.constraints.constrain_kept, which cleans up itself)."""
    if not constraints:
        return _cleaned(motion, cleanup, keep)
    features = constrain_kept(motion.features, motion.skeleton, constraints, keep, cleanup, motion.fps)
    return Motion(features, motion.fps, motion.skeleton_name)


def default_guidance(engine: str) -> float:
    """The guidance `engine` uses when none is given (DEFAULT_GUIDANCE; an unknown engine is refused elsewhere)."""
    return DEFAULT_GUIDANCE.get(engine, DEFAULT_GUIDANCE["diffusion"])


def default_steps(engine: str) -> int:
    """The decoding iterations `engine` uses when none are given (DEFAULT_STEPS; an unknown engine is refused
    elsewhere)."""
    return DEFAULT_STEPS.get(engine, DEFAULT_STEPS["diffusion"])


def _check_decoding(text: str, guidance: float, steps: int, temperature: float, top_k: int | None) -> None:
    if not text or not text.strip():
        raise ValueError("empty prompt: describe the motion, e.g. 'a person walks forward'")
    if not (math.isfinite(guidance) and guidance >= 0):
        raise ValueError(f"guidance must be a number >= 0, got {guidance}")
    if not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be between 1 and {MAX_STEPS}, got {steps}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a number >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None, got {top_k}")


def _check_motion(motion: Motion) -> int:
    """The take's frame count, after checking it can be edited."""
    if motion.features.ndim != 2 or motion.n_frames < 1:
        raise ValueError("the take has no frames to edit")
    if not np.isfinite(motion.features).all():
        raise ValueError("the take has missing (NaN or infinite) values and cannot be edited")
    return motion.n_frames


def _check_frames(frames: Sequence[int], n_frames: int) -> np.ndarray:
    """Locked frames as a sorted unique int array, each inside the take."""
    keys = np.unique(np.asarray(list(frames), dtype=np.int64))
    if len(keys) == 0:
        raise ValueError("no locked frames: lock at least one key (or use generate)")
    outside = [int(k) for k in keys if not 0 <= k < n_frames]
    if outside:
        raise ValueError(f"frame {outside[0]} is outside the take (0–{n_frames - 1})")
    return keys


def _check_range(frame_range: tuple[int, int], n_frames: int) -> tuple[int, int]:
    start, end = (int(v) for v in frame_range)
    if not 0 <= start < end <= n_frames:
        if start >= end:
            raise ValueError(f"the range {start}:{end} is empty: the end must come after the start")
        raise ValueError(f"the range {start}:{end} is outside the take (frames 0–{n_frames - 1})")
    return start, end
