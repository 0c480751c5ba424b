"""The prompt panel's buttons, as engine operations on a worker thread.

Each action reads what it needs from the document when clicked (takes never change in place, so the worker can
read them while editing goes on), calls one verb of `app.engine.ops` on the worker, and applies the result on
the UI thread as one undoable command that keeps the take it replaced (a `SetTake`; for a long take, batched with
the prompt track laid out as in the take). Models come from the studio's checkpoints folder through the engine's
loaders (cached per process). Bad input and engine failures come back as the worker's `failed` message (a
status-bar line and a dialog), never as a traceback.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from app.engine import ops
from app.engine.document import Batch, Segment, SetSegments, SetTake, Take, motion_from_take, take_from_motion
from app.engine.document.segments import placed
from app.engine.models.pipeline import load_pipeline
from app.engine.models.upper_editor import UpperBodyEditor, load_upper_editor
from app.engine.motion import Motion
from app.ui._qt.workers import Cancelled

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

Progress = Callable[[int, str], None]


def _short(text: str, width: int = 32) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class EditActions(QObject):
    def __init__(self, window: MainWindow, checkpoints: Path) -> None:
        super().__init__(window)
        self.window = window
        self.document = window.document
        self.checkpoints = Path(checkpoints)
        self.variations: list[tuple[int, Take]] = []  # (seed, take) of the last Variations run
        self._run_id = object()
        panel = window.prompt_panel
        panel.generate_requested.connect(self.generate)
        panel.variations_requested.connect(self.make_variations)
        panel.inbetween_requested.connect(self.inbetween)
        panel.regenerate_requested.connect(self.regenerate)
        panel.edit_upper_requested.connect(self.edit_upper)
        panel.long_take_requested.connect(self.build_long_take)
        panel.variation_picked.connect(self.pick_variation)

    def model(self, engine: str = "masked") -> object:
        """The engine's pipeline from the checkpoints folder, loaded once per process (the first call reads the
        files; a missing model raises ModelNotTrained, which the worker reports)."""
        if engine == "diffusion":
            from app.engine.models.diffusion_pipeline import load_diffusion_pipeline

            return load_diffusion_pipeline(self.checkpoints)
        return load_pipeline(self.checkpoints)

    def upper_editor(self) -> UpperBodyEditor:
        return load_upper_editor(self.checkpoints)

    def _model(self, cancel: threading.Event, progress: Progress, load: Callable[[], object]) -> object:
        progress(5, "Loading the model…")
        model = load()
        if cancel.is_set():
            raise Cancelled
        return model

    def _run(self, label: str, compute: Callable[[object], Motion], load: Callable[[], object] | None = None,
             segments: list[Segment] | None = None, edited: Take | None = None) -> None:
        """Run `compute(model)` on the worker, the model from `load` (default: the masked pipeline); the motion
        replaces the take (and `segments` the prompt track) as one undoable step named `label`. A new take clears
        the old one's keys, selection and segments; an edit of the take `edited` carries them, and keeps its
        placement, so the result exports to where the imported take stood."""
        def job(cancel: threading.Event, progress: Progress) -> Take:
            model = self._model(cancel, progress, load or self.model)
            progress(20, f"{label}…")
            motion = compute(model)
            if cancel.is_set():
                raise Cancelled
            progress(90, "Recovering joint positions…")
            new = take_from_motion(motion)
            return new if edited is None else replace(new, placement=edited.placement)

        def apply(take: Take) -> None:
            carry = edited is not None
            if segments is None:
                self.window.apply(SetTake(take, label, carry=carry))
            else:
                self.window.apply(Batch(label, [SetTake(take, label, carry=carry), SetSegments(segments, label)]))

        self.window.run_job(label, job, apply)

    def warm_up(self) -> None:
        """Load the models and the text encoder in the background, so the first Generate is as quick as the rest."""
        def job(cancel: threading.Event, progress: Progress) -> None:
            model = self._model(cancel, progress, self.model)
            progress(50, "Loading the text encoder…")
            model.encode_text(["warm up"])

        self.window.run_job("Loading models", job, lambda _: None)

    # -- the buttons -------------------------------------------------------------------------------------

    def generate(self, p: dict) -> None:
        self._run(f"Generate “{_short(p['text'])}”", lambda model: ops.generate(
            p["text"], p["n_frames"], p["seed"], p["guidance"], engine=p["engine"], model=model),
            lambda: self.model(p["engine"]))

    def make_variations(self, p: dict) -> None:
        """`count` takes from consecutive seeds; the first replaces the take, the list lets the user pick another."""
        seeds = [p["seed"] + i for i in range(p["count"])]

        def job(cancel: threading.Event, progress: Progress) -> list[tuple[int, Take]]:
            model = self._model(cancel, progress, lambda: self.model(p["engine"]))
            takes = []
            for i, seed in enumerate(seeds):
                progress(10 + 85 * i // len(seeds), f"Variation {i + 1} of {len(seeds)} (seed {seed})…")
                motion = ops.generate(p["text"], p["n_frames"], seed, p["guidance"], engine=p["engine"], model=model)
                if cancel.is_set():
                    raise Cancelled
                takes.append((seed, take_from_motion(motion)))
            return takes

        self.window.run_job(f"Variations of “{_short(p['text'])}”", job, self._show_variations)

    def _show_variations(self, takes: list[tuple[int, Take]]) -> None:
        self.variations = takes
        self._run_id = object()  # picks from this run merge into one undo step
        self.window.prompt_panel.show_variations([f"seed {seed} · {take.n_frames} frames" for seed, take in takes])
        self.pick_variation(0)

    def forget_variations(self) -> None:
        """A new or opened document: the last run's takes belong to the old one."""
        self.variations = []
        self.window.prompt_panel.show_variations([])

    def pick_variation(self, index: int) -> None:
        if 0 <= index < len(self.variations):
            seed, take = self.variations[index]
            self.window.apply(SetTake(take, f"Variation (seed {seed})", merge_key=self._run_id))

    def inbetween(self, p: dict) -> None:
        """Between the first and the last key (the whole take with `extend`); the upper body only, through the
        upper-body editor, when the scope is "upper"."""
        take, locked, extend = self.document.take, p["locked_frames"], p.get("extend", False)
        if take is None:
            return
        if self.document.scope == "upper":
            first, last = (0, take.n_frames - 1) if extend else (locked[0], locked[-1])
            self._edit_upper(p, take, first, last, f"In-between upper body {first}–{last}")
            return
        engine = p["engine"]  # both engines in-between: MMM's masked tokens or diffusion in-painting
        self._run(f"In-between {len(locked)} locked keys", lambda model: ops.inbetween(
            motion_from_take(take), locked, p["text"], seed=p["seed"], guidance=p["guidance"], model=model,
            engine=engine, extend=extend), lambda: self.model(engine), edited=take)

    def regenerate(self, p: dict) -> None:
        """The selection, its locked keys kept; the upper body only when the scope is "upper"."""
        take, selection = self.document.take, p["selection"]
        if take is None or selection is None:
            return
        first, last = selection
        if self.document.scope == "upper":
            self._edit_upper(p, take, first, last, f"Regenerate upper body {first}–{last}")
            return
        self._run(f"Regenerate frames {first}–{last}", lambda model: ops.regenerate(
            motion_from_take(take), (first, last + 1), p["text"], seed=p["seed"], guidance=p["guidance"], model=model,
            locked=p["locked_frames"]), edited=take)

    def edit_upper(self, p: dict) -> None:
        take, selection = self.document.take, p["selection"]
        if take is not None and selection is not None:
            self._edit_upper(p, take, *selection, f"Edit upper body {selection[0]}–{selection[1]}")

    def _edit_upper(self, p: dict, take: Take, first: int, last: int, label: str) -> None:
        """The upper-body editor on frames first..last: the lower body stays bit for bit, the locked keys whole."""
        self._run(label, lambda model: ops.edit_upper(
            motion_from_take(take), (first, last + 1), p["text"], seed=p["seed"], guidance=p["guidance"], model=model,
            locked=p["locked_frames"]), self.upper_editor, edited=take)

    def build_long_take(self, p: dict) -> None:
        """The segments become one take, each prompt starting where its segment was placed (gaps go to the segment
        before them, the first starts the take); the track then shows them where they are in it."""
        laid_out = placed(p["segments"])
        if laid_out:
            self._run(f"Long take from {len(laid_out)} segments", lambda model: ops.long_sequence(
                [(s.text, s.length) for s in laid_out], seed=p["seed"], guidance=p["guidance"], model=model),
                segments=laid_out)
