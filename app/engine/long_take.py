"""The long-work check: a 10-minute take (12,000 frames from 60 prompt segments) built, saved and exported, with
the time of each step and the process's peak memory. `kinema bench --long-take` prints it; a slow test bounds it.

Peak memory is the process's maximum resident set (getrusage), so it is meaningful in a fresh process: the CLI
runs it in one.
"""
from __future__ import annotations

import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ACTIONS = ("a person walks forward", "a person waves with the right hand", "a person runs forward",
           "a person raises both hands", "a person walks backwards", "a person bows")


@dataclass
class LongTakeResult:
    frames: int
    segments: int
    seconds: dict[str, float] = field(default_factory=dict)  # step -> wall seconds
    file_mb: dict[str, float] = field(default_factory=dict)  # written file -> size
    peak_mb: float = 0.0


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MB (Linux reports kB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1e3


def run_long_take(frames: int = 12_000, segments: int = 60, out_dir: str | Path | None = None,
                  model=None) -> LongTakeResult:
    """Build the take with the masked engine's long_sequence, save it as a project, export it as BVH, FBX and
    glTF, and read the BVH back; every step timed."""
    from app.engine import ops
    from app.engine.document import Document, Segment
    from app.engine.document.takes import take_from_motion
    from app.engine.document.files import export_take, load_document, save_document
    from app.engine.io.bvh import read_bvh

    lengths = [frames // segments + (i < frames % segments) for i in range(segments)]
    prompts = [(ACTIONS[i % len(ACTIONS)], n) for i, n in enumerate(lengths)]
    result = LongTakeResult(frames, segments)

    def timed(step: str, fn):
        start = time.perf_counter()
        value = fn()
        result.seconds[step] = time.perf_counter() - start
        return value

    motion = timed("build", lambda: ops.long_sequence(prompts, seed=0, model=model))
    take = take_from_motion(motion)
    doc = Document()
    starts = np.cumsum([0, *lengths[:-1]])
    doc.reset(take, [Segment(text, int(s), n) for (text, n), s in zip(prompts, starts)])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(out_dir or tmp)
        project = folder / "long.kinema"
        timed("save project", lambda: save_document(project, doc))
        opened = timed("open project", lambda: load_document(project))
        if opened.take.n_frames != frames or len(opened.segments) != segments:
            raise RuntimeError(f"the project came back with {opened.take.n_frames} frames and {len(opened.segments)} segments")
        for suffix in (".bvh", ".fbx", ".glb"):
            path = folder / f"long{suffix}"
            timed(f"export {suffix}", lambda: export_take(take, path))
            result.file_mb[path.name] = path.stat().st_size / 1e6
        back = timed("read .bvh back", lambda: read_bvh(folder / "long.bvh"))
        if back.n_frames != frames:
            raise RuntimeError(f"the BVH came back with {back.n_frames} frames, not {frames}")
        result.file_mb[project.name] = project.stat().st_size / 1e6
    result.peak_mb = peak_rss_mb()
    return result


def format_long_take(result: LongTakeResult) -> str:
    lines = [f"long take: {result.frames} frames ({result.frames / 20 / 60:.0f} min at 20 fps), {result.segments} prompt segments"]
    lines += [f"  {step:<16} {seconds:8.2f} s" for step, seconds in result.seconds.items()]
    lines += [f"  {name:<16} {mb:8.1f} MB" for name, mb in result.file_mb.items()]
    lines.append(f"  peak memory      {result.peak_mb:8.0f} MB (the whole process)")
    return "\n".join(lines)
