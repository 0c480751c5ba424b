"""CMU takes on any rig (cgspeed/Daz names, Reallusion CC3 names, the ASF set converted to BVH): reading, frame
rates from CMU's index, T-pose frames, windows of at most MAX_FRAMES with the part of the description that fits.

CMU's headers are not to be trusted for the frame rate (converted sets say 120 fps for 60 fps captures), so the
`framerate` column of `cmu-descriptions.csv` wins where the take is listed. A description is a comma-separated list
of what happens, in order ("climb, sit, dangle legs, jump down"); with nothing else known, its parts are taken as
evenly spread over the take, and each window gets the parts that overlap it most.
"""
from __future__ import annotations

import csv
import dataclasses
import math
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.engine.features import canonicalize
from app.engine.io.bvh import BVH
from app.engine.io.retarget import import_bvh
from app.engine.skeleton import BANDAI_NAMCO_21

FPS = 20.0
MAX_FRAMES = 196  # HumanML3D's longest motion (9.8 s at 20 fps): longer takes are cut into windows
MIN_FRAMES = 16  # shorter motions are dropped (less than one token window of the tokenizers' 4-frame unit x 4)
_TAKE = re.compile(r"(?<!\d)(\d{1,3})_(\d{1,3})(?!\d)")


class CMUSourceError(ValueError):
    """A CMU source or its index cannot be read."""


COMMON_RATES = (24.0, 25.0, 30.0, 48.0, 50.0, 60.0, 100.0, 120.0, 240.0)


@dataclass(frozen=True)
class CMUEntry:
    description: str
    fps: float  # the capture's rate (CMU's `framerate`)
    seconds: float | None = None  # the take's length (from `Frames 60fps`), which tells a converted file's rate

    def fps_of(self, n_frames: int) -> float:
        """The frame rate of a file of this take with `n_frames`: from the take's known length where the index
        has it (a set converted to 60 fps keeps CMU's 120 in the index), else the capture's rate."""
        if not self.seconds:
            return self.fps
        rate = n_frames / self.seconds
        return min(COMMON_RATES, key=lambda r: abs(r - rate))


def read_descriptions(path: str | Path) -> dict[tuple[int, int], CMUEntry]:
    """CMU's index (`Subject`, `Trial #`, `Motion Description`, `framerate`) as {(subject, trial): entry}."""
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise CMUSourceError(f"{path}: cannot be read ({exc.strerror})") from None
    out = {}
    for row in rows:
        try:
            key = (int(row["Subject"]), int(row["Trial #"]))
            fps = float(row.get("framerate") or 120.0)
            frames_60 = float(row.get("Frames 60fps") or 0.0)
        except (KeyError, ValueError, TypeError):
            continue
        seconds = frames_60 / 60.0 if frames_60 > 1 else None
        out[key] = CMUEntry(" ".join((row.get("Motion Description") or "").split()), fps, seconds)
    if not out:
        raise CMUSourceError(f"{path}: no rows with Subject, Trial # and Motion Description")
    return out


def take_key(path: str) -> tuple[int, int] | None:
    """(subject, trial) from a CMU file name such as `02_01.bvh`, `007_01.bvh` or `subjects/07/07_01.bvh`."""
    match = _TAKE.search(Path(path).stem)
    return (int(match.group(1)), int(match.group(2))) if match else None


def bvh_members(source: str | Path) -> Iterator[tuple[str, Callable[[], str]]]:
    """(member name, reader) for every .bvh in a folder, a .zip or a .tar.xz, streamed (nothing unpacked)."""
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.suffix.lower() == ".bvh")
        archives = sorted(p for p in source.iterdir() if p.name.endswith((".zip", ".tar.xz")))
        for path in files:
            yield str(path.relative_to(source)), lambda p=path: p.read_text(encoding="utf-8", errors="replace")
        for archive in archives:
            yield from bvh_members(archive)
        return
    if source.name.endswith(".zip"):
        try:
            with zipfile.ZipFile(source) as zf:
                for name in sorted(zf.namelist()):
                    if name.lower().endswith(".bvh"):
                        yield name, lambda n=name: zf.read(n).decode("utf-8", errors="replace")
        except (zipfile.BadZipFile, OSError) as exc:
            raise CMUSourceError(f"{source.name}: cannot be read ({exc})") from None
        return
    if source.name.endswith((".tar.xz", ".tar", ".tar.gz", ".tgz")):
        try:
            with tarfile.open(source, mode="r|*") as tar:
                for member in tar:
                    if member.isfile() and member.name.lower().endswith(".bvh"):
                        handle = tar.extractfile(member)
                        yield member.name, lambda h=handle: h.read().decode("utf-8", errors="replace")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise CMUSourceError(f"{source.name}: cannot be read ({exc})") from None
        return
    raise CMUSourceError(f"{source}: not a folder, .zip or .tar.xz")


def is_t_pose(frame: np.ndarray) -> bool:
    """Whether a (21, 3) pose on BANDAI_NAMCO_21 has both arms straight out sideways at shoulder height."""
    names = BANDAI_NAMCO_21.joint_names
    hands = frame[[names.index("Hand_L"), names.index("Hand_R")]]
    arms = frame[[names.index("UpperArm_L"), names.index("UpperArm_R")]]
    reach = np.linalg.norm(hands - arms, axis=-1)  # (2,)
    level = np.abs(hands[:, 1] - arms[:, 1])
    span = np.linalg.norm(hands[0] - hands[1]) - np.linalg.norm(arms[0] - arms[1])  # both arms' reach sideways
    return bool((level < 0.25 * reach).all() and span > 1.8 * reach.mean())


def drop_t_pose(positions: np.ndarray, max_frames: int = 3) -> np.ndarray:
    """The take without its leading T-pose frames (rigging frames, at most `max_frames`), canonical again."""
    start = 0
    while start < min(max_frames, len(positions) - 1) and is_t_pose(positions[start]):
        start += 1
    return positions if start == 0 else canonicalize(positions[start:], BANDAI_NAMCO_21)


def bvh_positions(bvh: BVH, fps: float | None) -> np.ndarray:
    """A BVH take (any rig the importer maps) on BANDAI_NAMCO_21 at 20 fps, canonical, T-pose frames dropped.
    `fps` overrides the header's frame rate (None: trust the header)."""
    if fps is not None:
        bvh = dataclasses.replace(bvh, frame_time=1.0 / fps)
    return drop_t_pose(np.asarray(import_bvh(bvh, BANDAI_NAMCO_21, fps=FPS), dtype=np.float32))


def description_parts(description: str) -> list[str]:
    """"playground - forward jumps, turn around" -> ["forward jumps", "turn around"] (the scene before " - " goes)."""
    text = description.split(" - ", 1)[1] if " - " in description else description
    return [p.strip(" .;") for p in re.split(r",|;|\bthen\b", text) if p.strip(" .;")]


@dataclass
class Window:
    start: int
    end: int  # exclusive
    parts: list[str]  # the description parts that fit this window (all of them where the take is one window)


def windows(n_frames: int, parts: list[str], max_frames: int = MAX_FRAMES) -> list[Window]:
    """Cut a take into equal windows of at most `max_frames`; each keeps the description parts (taken as evenly
    spread over the take, in order) that overlap it by at least a third of the window, or else the one that
    overlaps it most. A take with one part, or one window, keeps the whole description."""
    n = max(1, math.ceil(n_frames / max_frames))
    bounds = np.linspace(0, n_frames, n + 1).round().astype(int)
    out = []
    for i in range(n):
        if n == 1 or len(parts) <= 1:
            out.append(Window(int(bounds[i]), int(bounds[i + 1]), list(parts)))
            continue
        a, b = i / n, (i + 1) / n
        overlap = [max(0.0, min(b, (j + 1) / len(parts)) - max(a, j / len(parts))) for j in range(len(parts))]
        chosen = [p for p, o in zip(parts, overlap) if o >= (b - a) / 3] or [parts[int(np.argmax(overlap))]]
        out.append(Window(int(bounds[i]), int(bounds[i + 1]), chosen))
    return out

