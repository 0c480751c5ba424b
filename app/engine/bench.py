"""`kinema bench`: how long each operation takes for one 196-frame motion, batch 1, after warm-up.

Every operation is timed on the CPU, and on CUDA when a GPU is present; the median of N runs is reported with
frames per second, next to the machine's CPU model and thread count. Operations whose model is not trained yet
are listed as unavailable, with the reason, rather than skipped silently.
"""
from __future__ import annotations

import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from app.engine.models.checkpoint import SHIPPED

if TYPE_CHECKING:
    from app.engine.models.pipeline import TextToMotion

FRAMES = 196
LONG_TAKE = 10_000  # frames in the file-writing rows: a long take is where a writer's speed shows


class Unavailable(Exception):
    """The operation cannot run here (no checkpoint, no GPU); the message says why."""


@dataclass
class BenchResult:
    operation: str
    device: str
    median_ms: float | None
    runs: int
    note: str = ""
    frames: int = FRAMES

    @property
    def frames_per_second(self) -> float | None:
        return None if self.median_ms is None else self.frames / (self.median_ms / 1000.0)


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"CPU: {cpu}, torch {torch.__version__} with {torch.get_num_threads()} threads"
    if torch.cuda.is_available():
        text += f"; CUDA: {torch.cuda.get_device_name(0)}"
    return text


def _sample_features() -> np.ndarray:
    """A 196-frame motion on the Bandai Namco skeleton (the rest pose gliding forward): timing does not depend
    on what the motion looks like, and the bench needs no dataset."""
    from app.engine.features import features_from_positions
    from app.engine.skeleton import BANDAI_NAMCO_21

    t = np.arange(FRAMES + 1)[:, None] / 20.0
    eye = torch.eye(3, dtype=torch.float64).expand(FRAMES + 1, 21, 3, 3)
    rest = BANDAI_NAMCO_21.forward_kinematics(torch.zeros(FRAMES + 1, 3, dtype=torch.float64), eye).numpy()
    rest[..., 1] += 0.94
    rest[..., 2] += 1.2 * t + 0.02 * np.sin(2 * np.pi * t)
    return features_from_positions(rest, BANDAI_NAMCO_21).astype(np.float32)


def _operations(checkpoints: Path, device: str) -> dict[str, Callable[[], Callable[[], object]]]:
    """name -> setup(); setup returns the timed callable or raises Unavailable."""
    from app.engine.features import features_from_positions, positions_from_features
    from app.engine.skeleton import BANDAI_NAMCO_21

    features = _sample_features()

    def features_roundtrip():
        x = torch.from_numpy(features).to(device)
        return lambda: features_from_positions(positions_from_features(x, 21, append_last=True), BANDAI_NAMCO_21)

    def text_encoding():
        from app.engine.text import TextEncoder

        encoder = TextEncoder(device=device, cache_size=1)
        prompts = iter(f"a person walks forward and waves {i} times" for i in range(10**6))
        return lambda: encoder.encode([next(prompts)])

    def evaluator_embedding():
        from app.engine.evaluation import Evaluator, EvaluatorError

        path = checkpoints / "evaluator.safetensors"
        try:
            evaluator = Evaluator.load(path, device=device)
        except EvaluatorError as exc:
            raise Unavailable(str(exc)) from None
        return lambda: evaluator.embed_motions([features])

    return {
        "features -> positions -> features": features_roundtrip,
        "text encoding (new prompt)": text_encoding,
        "evaluator motion embedding": evaluator_embedding,
        **_model_operations(checkpoints, device, features),
        **_scan_operations(device),
        **(_writer_operations() if device == "cpu" else {}),
    }


def _model_operations(checkpoints: Path, device: str, features: np.ndarray) -> dict[str, Callable[[], Callable[[], object]]]:
    """The generative operations; each needs its trained checkpoint."""

    def needs(name: str) -> Path:
        path = checkpoints / name
        if not path.is_file():
            raise Unavailable(f"no {path}: train it first")
        return path

    def tokenizer(direction: str):
        def setup():
            path = needs("tokenizer.safetensors")
            from app.engine.models.tokenizer import MotionTokenizer

            model = MotionTokenizer.load(path, device=device)
            x = torch.from_numpy(features[: FRAMES // 4 * 4])[None].to(device)
            codes = model.encode(x)
            return (lambda: model.encode(x)) if direction == "encode" else (lambda: model.decode(codes))

        return setup

    def masked() -> TextToMotion:
        """The folder's masked pipeline (not the shipped one: `kinema bench --checkpoints` times that folder)."""
        from app.engine.models.checkpoint import CheckpointError
        from app.engine.models.pipeline import load_pipeline

        needs("masked.safetensors")
        try:
            return load_pipeline(checkpoints, device)
        except CheckpointError as exc:
            raise Unavailable(str(exc)) from None

    def generate():
        from app.engine.ops import generate as generate_op

        model, counter = masked(), iter(range(10**6))
        return lambda: generate_op("a person walks forward", n_frames=FRAMES, seed=next(counter), device=device,
                                   model=model)

    def generate_diffusion():
        needs("diffusion.safetensors")
        from app.engine.models.diffusion_pipeline import load_diffusion_pipeline
        from app.engine.ops import generate as generate_op

        model, counter = load_diffusion_pipeline(checkpoints, device), iter(range(10**6))
        return lambda: generate_op("a person walks forward", n_frames=FRAMES, seed=next(counter), device=device,
                                   engine="diffusion", model=model)

    def generate_constrained():
        from app.engine.constraints import Constraints, Pin, parse_waypoints
        from app.engine.ops import generate as generate_op

        constraints = Constraints(parse_waypoints("0.5,2@60;1.5,4@130;2.5,6"),
                                  (Pin("Hand_R", 90, (1.2, 1.3, 3.2)), Pin("Foot_L", 150, (2.0, 0.1, 4.9))))
        model, counter = masked(), iter(range(10**6))
        return lambda: generate_op("a person walks forward", n_frames=FRAMES, seed=next(counter), device=device,
                                   constraints=constraints, model=model)

    def edit(name: str):
        """An editing verb on the sample motion: keys every ~65 frames, the middle 100 frames, four prompts."""
        def setup():
            from app.engine import ops
            from app.engine.motion import Motion

            model = masked()
            editor = None
            if name == "edit_upper":
                from app.engine.models.upper_editor import load_upper_editor

                needs("masked_upper.safetensors")
                editor = load_upper_editor(checkpoints, device)
            motion = Motion(features)
            counter = iter(range(10**6))
            calls = {
                "inbetween": lambda: ops.inbetween(motion, [0, 65, 130, FRAMES - 1], "a person jumps", seed=next(counter),
                                                   device=device, model=model),
                "regenerate": lambda: ops.regenerate(motion, (48, 148), "a person kicks", seed=next(counter), device=device,
                                                     model=model),
                "edit_upper": lambda: ops.edit_upper(motion, (48, 148), "a person waves", seed=next(counter), device=device,
                                                     model=editor),
                "long_sequence": lambda: ops.long_sequence([("a person walks forward", 49), ("a person waves", 49),
                                                            ("a person jumps", 49), ("a person bows", 49)],
                                                           seed=next(counter), device=device, model=model),
            }
            return calls[name]

        return setup

    return {
        "tokenizer encode": tokenizer("encode"),
        "tokenizer decode": tokenizer("decode"),
        "inbetween (4 keys)": edit("inbetween"),
        "regenerate (100 frames)": edit("regenerate"),
        "edit_upper (100 frames)": edit("edit_upper"),
        "long_sequence (4 prompts)": edit("long_sequence"),
        "generate (masked)": generate,
        "generate (diffusion)": generate_diffusion,
        "generate (masked, path + 2 pins)": generate_constrained,
    }


def _scan_operations(device: str) -> dict[str, Callable[[], Callable[[], object]]]:
    """Motion Mamba's selective scan alone at sequence length 200 (batch 8, 512 channels, 16 states: one block of
    d_model 256, the paper preset's width), ours (eager, and in torch.compile'd blocks) against the
    one-frame-at-a-time reference."""
    from app.engine.models import ssm

    def scan(fn, **options):
        def setup():
            g = torch.Generator().manual_seed(0)
            b, d, n, length = 8, 512, 16, 200
            args = [torch.randn(b, d, length, generator=g), torch.randn(b, d, length, generator=g),
                    -torch.rand(d, n, generator=g), torch.randn(b, n, length, generator=g),
                    torch.randn(b, n, length, generator=g), torch.randn(d, generator=g)]
            args = [a.to(device) for a in args]
            if options.get("compiled"):
                if device != "cpu":
                    raise Unavailable("the compiled blocks are the CPU path")
                with torch.inference_mode():
                    fn(*args, delta_softplus=True, **options)  # compiles (seconds, once per shape)
                if ssm._compile_failed:
                    raise Unavailable("torch.compile cannot build here (no C++ compiler)")
            return lambda: fn(*args, delta_softplus=True, **options)

        return setup

    return {"selective scan L=200 (ours)": scan(ssm.selective_scan, compiled=False),
            "selective scan L=200 (ours, compiled blocks)": scan(ssm.selective_scan, compiled=True),
            "selective scan L=200 (sequential reference)": scan(ssm.selective_scan_reference)}


def _writer_operations() -> dict[str, Callable[[], Callable[[], object]]]:
    """Writing a LONG_TAKE-frame take (the Bandai Namco rig, every joint turning) as FBX and as glTF binary, from
    its rig animation to the file on disk."""
    import shutil
    import tempfile
    import weakref

    from app.engine.io.formats import write_animation
    from app.engine.io.rig import Rig, RigAnimation
    from app.engine.rotations import quat_to_matrix
    from app.engine.skeleton import BANDAI_NAMCO_21

    def write(suffix: str):
        def setup():
            g = torch.Generator().manual_seed(0)
            quats = torch.randn(LONG_TAKE, BANDAI_NAMCO_21.n_joints, 4, dtype=torch.float64, generator=g) * 0.1
            quats[..., 0] += 1.0
            local = quat_to_matrix(quats / quats.norm(dim=-1, keepdim=True)).numpy()
            root = np.cumsum(np.full((LONG_TAKE, 3), [0.0, 0.0, 0.06]), axis=0) + [0.0, 0.94, 0.0]
            anim = RigAnimation(Rig.from_skeleton(BANDAI_NAMCO_21), root, local, 20.0)
            folder = tempfile.mkdtemp(prefix="kinema-bench-")

            def timed() -> None:
                write_animation(anim, Path(folder) / f"take{suffix}")

            weakref.finalize(timed, shutil.rmtree, folder, True)  # the folder goes with the timed function
            return timed

        return setup

    return {f"write FBX ({LONG_TAKE:,} frames)": write(".fbx"), f"write GLB ({LONG_TAKE:,} frames)": write(".glb")}


def _time(fn: Callable[[], object], device: str, warmup: int, runs: int) -> list[float]:
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(runs):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    return times


def run_bench(checkpoints: str | Path = SHIPPED, runs: int = 20, warmup: int = 3, only: str | None = None,
              progress: Callable[[str], None] = lambda message: None) -> list[BenchResult]:
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results = []
    for device in devices:
        for name, setup in _operations(Path(checkpoints), device).items():
            if only and only not in name:
                continue
            progress(f"{name} on {device}")
            try:
                fn = setup()
            except Unavailable as exc:
                results.append(BenchResult(name, device, None, 0, str(exc)))
                continue
            times = _time(fn, device, warmup, runs)
            frames = LONG_TAKE if name.startswith("write ") else FRAMES
            results.append(BenchResult(name, device, 1000.0 * statistics.median(times), runs, frames=frames))
    return results


def format_results(results: list[BenchResult]) -> str:
    width = max(len(r.operation) for r in results) + 2
    lines = [machine_description(), f"one motion of {FRAMES} frames (file writing: {LONG_TAKE:,}), batch 1, "
             "median after warm-up",
             f"{'operation':<{width}}{'device':>7}{'ms/motion':>11}{'frames/s':>10}{'runs':>6}"]
    for r in results:
        if r.median_ms is None:
            lines.append(f"{r.operation:<{width}}{r.device:>7}{'-':>11}{'-':>10}{'-':>6}  ({r.note})")
        else:
            lines.append(f"{r.operation:<{width}}{r.device:>7}{r.median_ms:>11.1f}{r.frames_per_second:>10.0f}{r.runs:>6}")
    return "\n".join(lines)
