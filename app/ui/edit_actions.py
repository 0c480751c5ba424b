"""The prompt panel's buttons, as engine operations on a worker thread.

Each action reads what it needs from the document when clicked (takes never change in place, so the worker can
read them while editing goes on), calls one verb of `app.engine.ops` on the worker, and applies the result on
the UI thread as one undoable command that keeps the take it replaced (a `SetTake`; for a long take, batched with
the prompt track laid out as in the take). Generate, Variations, Regenerate and In-between honour the take's waypoints and pins
(`Document.constraints`, as `kinema generate --waypoints/--pin` does), and the new take keeps them. Models come from the studio's checkpoints folder through the engine's
loaders (cached per process). Bad input and engine failures come back as the worker's `failed` message (a
status-bar line and a dialog), never as a traceback.

The controller knows the document, the prompt panel and two callables of its owner (the window): `run_job` to
run work on the worker and `apply` to execute a command; it never imports the window.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, QThreadPool, Signal

from app.engine import ops
from app.engine.constraints import Constraints, pin_conflicts
from app.engine.document import (
    Batch, Command, Document, Segment, SetSegments, SetTake, Take, motion_from_take, take_from_motion,
)
from app.engine.document.segments import placed
from app.engine.models.pipeline import load_pipeline
from app.engine.models.upper_editor import UpperBodyEditor, load_upper_editor
from app.engine.motion import Motion
from app.ui._qt.prompt_panel import PromptPanel
from app.ui._qt.workers import Cancelled, Job, Worker

Progress = Callable[[int, str], None]
RunJob = Callable[[str, Job, Callable[[object], None]], "Worker | None"]  # (label, job, on_finished) -> worker


def _short(text: str, width: int = 32) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class EditActions(QObject):
    warmed = Signal(str)  # the background warm-up finished: what to tell the user
    message = Signal(str)  # what the user should know about a result (a pin that beat a waypoint)
    variations_changed = Signal(list, str)  # [(label, take)] of the last Variations run (empty: none), a title
    def __init__(self, document: Document, panel: PromptPanel, checkpoints: Path, run_job: RunJob,
                 apply: Callable[[Command], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.panel = panel
        self.checkpoints = Path(checkpoints)
        self.run_job = run_job
        self.apply = apply
        self.variations: list[tuple[int, Take]] = []  # (seed, take) of the last Variations run
        self._variation_constraints = Constraints()  # the waypoints and pins they were made under
        self._run_id = object()
        self._loading = threading.Lock()  # the warm-up and a first Generate load the model once, not twice
        self._warm_pool = QThreadPool(self)
        self.warming = False
        panel.generate_requested.connect(self.generate)
        panel.variations_requested.connect(self.make_variations)
        panel.inbetween_requested.connect(self.inbetween)
        panel.regenerate_requested.connect(self.regenerate)
        panel.edit_upper_requested.connect(self.edit_upper)
        panel.long_take_requested.connect(self.build_long_take)

    def model(self, engine: str = "masked") -> object:
        """The engine's pipeline from the checkpoints folder, loaded once per process (the first call reads the
        files; a missing model raises ModelNotTrained, which the worker reports)."""
        with self._loading:
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
             segments: list[Segment] | None = None, edited: Take | None = None,
             constraints: Constraints | None = None) -> None:
        """Run `compute(model)` on the worker, the model from `load` (default: the masked pipeline); the motion
        replaces the take (and `segments` the prompt track) as one undoable step named `label`. A new take clears
        the old one's keys, selection and segments; an edit of the take `edited` carries them, and keeps its
        placement, so the result exports to where the imported take stood. `constraints`: those the take is made
        under, which it keeps."""
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
                self.apply(SetTake(take, label, carry=carry, constraints=constraints))
            else:
                self.apply(Batch(label, [SetTake(take, label, carry=carry, constraints=constraints),
                                         SetSegments(segments, label)]))
            said = pin_conflicts(take.positions, self.document.constraints)
            if said:
                self.message.emit(f"{label}: done, but " + "; ".join(said))

        self.run_job(label, job, apply)

    def warm_up(self) -> None:
        """Load the models and the text encoder in the background, so the first Generate is as quick as the rest.
        It is not a job: the buttons stay usable (a Generate meanwhile waits for the model, then runs)."""
        def job(cancel: threading.Event, progress: Progress) -> None:
            self.model().encode_text(["warm up"])

        def done(text: str) -> None:
            self.warming = False
            self.warmed.emit(text)

        worker = self._warm_worker = Worker(job)  # kept alive until it reports
        worker.signals.finished.connect(lambda _: done("Models loaded"))
        worker.signals.failed.connect(lambda text: done(f"The models could not be loaded: {text}"))
        self.warming = True
        self._warm_pool.start(worker)

    def wait_for_warm_up(self, timeout_ms: int = 60_000) -> bool:
        return self._warm_pool.waitForDone(timeout_ms)

    # -- the buttons -------------------------------------------------------------------------------------

    def generate(self, p: dict) -> None:
        constraints = self.document.constraints
        self._run(f"Generate “{_short(p['text'])}”", lambda model: ops.generate(
            p["text"], p["n_frames"], p["seed"], p["guidance"], engine=p["engine"], model=model, cleanup=p["cleanup"],
            constraints=constraints or None), lambda: self.model(p["engine"]), constraints=constraints)

    def make_variations(self, p: dict) -> None:
        """`count` takes from consecutive seeds; the first replaces the take, the previews let the user pick another.
        Cancel keeps the takes that had finished."""
        seeds = [p["seed"] + i for i in range(p["count"])]
        constraints = self._variation_constraints = self.document.constraints

        def job(cancel: threading.Event, progress: Progress) -> list[tuple[int, Take]]:
            model = self._model(cancel, progress, lambda: self.model(p["engine"]))
            takes: list[tuple[int, Take]] = []
            for i, seed in enumerate(seeds):
                progress(10 + 85 * i // len(seeds), f"Variation {i + 1} of {len(seeds)} (seed {seed})…")
                motion = ops.generate(p["text"], p["n_frames"], seed, p["guidance"], engine=p["engine"], model=model,
                                      cleanup=p["cleanup"], constraints=constraints or None)
                if cancel.is_set():
                    raise Cancelled(takes or None)
                takes.append((seed, take_from_motion(motion)))
            return takes

        self.run_job(f"Variations of “{_short(p['text'])}”", job, self._show_variations,
                     lambda kept: self._show_variations(kept, of=len(seeds)))

    def _show_variations(self, takes: list[tuple[int, Take]], of: int = 0) -> None:
        self.variations = takes
        self._run_id = object()  # picks from this run merge into one undo step
        title = f"{len(takes)} of {of} variations (cancelled): click one to use it" if of else ""
        self.variations_changed.emit([(f"seed {seed} · {take.n_frames} f", take) for seed, take in takes], title)
        self.pick_variation(0)

    def forget_variations(self) -> None:
        """A new or opened document: the last run's takes belong to the old one."""
        self.variations = []
        self.variations_changed.emit([], "")

    def pick_variation(self, index: int) -> None:
        if 0 <= index < len(self.variations):
            seed, take = self.variations[index]
            self.apply(SetTake(take, f"Variation (seed {seed})", merge_key=self._run_id,
                               constraints=self._variation_constraints))

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
        constraints = self.document.constraints
        self._run(f"In-between {len(locked)} locked keys", lambda model: ops.inbetween(
            motion_from_take(take), locked, p["text"], seed=p["seed"], guidance=p["guidance"], model=model,
            engine=engine, extend=extend, cleanup=p["cleanup"], constraints=constraints or None),
            lambda: self.model(engine), edited=take)

    def regenerate(self, p: dict) -> None:
        """The selection, its locked keys kept; the upper body only when the scope is "upper"."""
        take, selection = self.document.take, p["selection"]
        if take is None or selection is None:
            return
        first, last = selection
        if self.document.scope == "upper":
            self._edit_upper(p, take, first, last, f"Regenerate upper body {first}–{last}")
            return
        constraints = self.document.constraints
        self._run(f"Regenerate frames {first}–{last}", lambda model: ops.regenerate(
            motion_from_take(take), (first, last + 1), p["text"], seed=p["seed"], guidance=p["guidance"], model=model,
            locked=p["locked_frames"], cleanup=p["cleanup"], constraints=constraints or None), edited=take)

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
                [(s.text, s.length) for s in laid_out], seed=p["seed"], guidance=p["guidance"], model=model,
                cleanup=p["cleanup"]),
                segments=laid_out)
