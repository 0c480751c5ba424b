"""`kinema data build bandai-namco`: the dataset in HumanML3D's folder layout, ready for training.

Layout written (the same that `MotionFolder` reads, and that real HumanML3D / KIT-ML folders have):
  new_joints/<name>.npy (T, J, 3)   new_joint_vecs/<name>.npy (T, D)   texts/<name>.txt
  train.txt val.txt test.txt   Mean.npy Std.npy   kinema.json (skeleton, fps, split, counts)   labels.json
Mirrored copies are named "M" + name, with left/right swapped in motion, label and text.
The test split holds out whole (content, style) pairs, closed under mirroring, so that it measures
generalisation to combinations never seen in training.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from app.engine.data.bandai_namco import (
    DatasetSourceError, RawTake, TakeLabel, TakeSource, label_from_name, mirror_content, take_positions,
)
from app.engine.data.descriptions import describe, humanml3d_line, mirror_text
from app.engine.features import FeatureLayout, features_from_positions
from app.engine.io.bvh import BVHError
from app.engine.skeleton import BANDAI_NAMCO_21

FPS = 20.0
CAPTIONS_PER_TAKE = 4
VAL_SHARE = 0.05
BUILDER_VERSION = 1

# (content, style) pairs never seen in training: the test split. Each pair's mirror image is held out with it.
HELD_OUT_PAIRS: tuple[tuple[str, str], ...] = (
    # dataset 2 (10 contents x 7 styles, many repetitions)
    ("walk", "youthful"),
    ("run", "elderly"),
    ("walk-turn-left", "exhausted"),
    ("wave-left-hand", "masculine"),
    ("raise-up-both-hands", "feminine"),
    ("wave-both-hands", "active"),
    # dataset 1 (17 contents x 15 styles)
    ("kick", "angry"),
    ("bow", "tired"),
    ("walk-left", "happy"),
    ("punch", "childish"),
    ("bye", "proud"),
    ("dance-short", "sad"),
    ("run", "giant"),
)


def held_out_pairs() -> set[tuple[str, str]]:
    pairs = set(HELD_OUT_PAIRS)
    return pairs | {(mirror_content(c), s) for c, s in pairs}


def split_of(name: str, label: TakeLabel) -> str:
    """test for held-out pairs; otherwise a stable 5 % of takes (by name) for validation."""
    if (label.content, label.style) in held_out_pairs():
        return "test"
    return "val" if zlib.crc32(name.encode()) % 1000 < VAL_SHARE * 1000 else "train"


def group_std(features: np.ndarray, n_joints: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per dimension, the std averaged within each feature group as HumanML3D's Std.npy is."""
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    layout = FeatureLayout(n_joints)
    for part in (slice(0, 1), slice(1, 3), slice(3, 4), layout.ric, layout.rot, layout.vel, layout.contacts):
        std[part] = std[part].mean()
    return mean, np.maximum(std, 1e-6)


@dataclass
class ProcessedTake:
    stem: str
    positions: np.ndarray | None  # (T, 21, 3) canonical, 20 fps; None when the take could not be read
    error: str | None = None


def _process(take: RawTake) -> ProcessedTake:
    try:
        return ProcessedTake(take.stem, take_positions(take.bvh_text, take.stem + ".bvh", fps=FPS).astype(np.float32))
    except (BVHError, ValueError) as exc:
        return ProcessedTake(take.stem, None, str(exc))


def _processed(takes: Iterable[RawTake], workers: int) -> Iterator[ProcessedTake]:
    if workers <= 1:
        yield from map(_process, takes)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        batch: list[RawTake] = []
        for take in takes:  # bounded batches: the archives' text never sits in memory all at once
            batch.append(take)
            if len(batch) == 8 * workers:
                yield from pool.map(_process, batch)
                batch = []
        yield from pool.map(_process, batch)


@dataclass
class BuildSummary:
    takes: int
    skipped: dict[str, str]
    motions: dict[str, int]  # per split, mirrored copies included
    hours: dict[str, float]
    frames: int
    seconds: float

    def lines(self) -> list[str]:
        out = [f"takes read: {self.takes} ({len(self.skipped)} skipped)"]
        for split in ("train", "val", "test"):
            out.append(f"{split:>5}: {self.motions.get(split, 0):5d} motions, {self.hours.get(split, 0.0):6.2f} h")
        out.append(f"total: {sum(self.motions.values()):5d} motions, {sum(self.hours.values()):6.2f} h at {FPS:g} fps")
        out.append(f"built in {self.seconds:.0f} s")
        out.extend(f"skipped {name}: {why}" for name, why in self.skipped.items())
        return out


def build_bandai_namco(
    source: str | Path,
    out: str | Path,
    only: str | None = None,
    limit: int | None = None,
    workers: int = os.cpu_count() or 1,
    mirror: bool = True,
    progress: Callable[[Iterable], Iterable] | None = None,
    split: str | None = None,
) -> BuildSummary:
    """Read every take in `source`, write the dataset to `out` (replaced atomically when complete).

    `split` builds only that split's takes (e.g. "test" for a quick evaluation set); Mean/Std then come from it.
    """
    started = time.perf_counter()
    keep = None if split is None else (lambda stem: _split_of_name(stem) == split)
    takes = TakeSource(source, only=only, limit=limit, keep=keep)
    with staged_folder(Path(out)) as staging:
        for sub in ("new_joints", "new_joint_vecs", "texts"):
            (staging / sub).mkdir()
        stream = _processed(takes, workers)
        if progress is not None:
            stream = progress(stream)
        processed = list(stream)  # labels are only known once the whole source (cfg/) has been read
        summary = _write(staging, takes, processed, mirror, stats_split=split or "train")
        summary.seconds = time.perf_counter() - started
        (staging / "summary.txt").write_text("\n".join(summary.lines()) + "\n")
    return summary


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A new folder beside `out` to build in: it replaces `out` when the block completes and is removed when the
    block fails, so a dataset folder is never half-written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        yield staging
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _split_of_name(stem: str) -> str | None:
    try:
        return split_of(stem, label_from_name(stem))
    except DatasetSourceError:
        return None


def _write(root: Path, takes: TakeSource, processed: list[ProcessedTake], mirror: bool, stats_split: str) -> BuildSummary:
    layout_dim = BANDAI_NAMCO_21.feature_dim
    skipped = {p.stem: p.error or "" for p in processed if p.positions is None}
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    labels: dict[str, dict] = {}
    frames: dict[str, int] = {"train": 0, "val": 0, "test": 0}
    stats_features: list[np.ndarray] = []

    for take in processed:
        if take.positions is None:
            continue
        if len(take.positions) < 2:
            skipped[take.stem] = "shorter than 2 frames at 20 fps"
            continue
        label = takes.label(take.stem)
        split = split_of(take.stem, label)
        captions = describe(label.content, label.style, CAPTIONS_PER_TAKE, random.Random(zlib.crc32(take.stem.encode())))
        variants = [(take.stem, take.positions, label.content, captions, False)]
        if mirror:
            variants.append((
                "M" + take.stem,
                BANDAI_NAMCO_21.mirror_positions(take.positions),
                mirror_content(label.content),
                [mirror_text(c) for c in captions],
                True,
            ))
        for name, positions, content, texts, mirrored in variants:
            features = features_from_positions(positions.astype(np.float64), BANDAI_NAMCO_21).astype(np.float32)
            np.save(root / "new_joints" / f"{name}.npy", positions[:-1])
            np.save(root / "new_joint_vecs" / f"{name}.npy", features)
            (root / "texts" / f"{name}.txt").write_text("\n".join(humanml3d_line(t) for t in texts) + "\n")
            splits[split].append(name)
            frames[split] += len(features)
            labels[name] = {"dataset": label.dataset, "content": content, "style": label.style, "mirrored": mirrored, "split": split}
            if split == stats_split:
                stats_features.append(features)

    if not stats_features:
        raise ValueError(f"no {stats_split} motions were built: every take is in another split, skipped or filtered away")
    mean, std = group_std(np.concatenate(stats_features).astype(np.float64), BANDAI_NAMCO_21.n_joints)
    np.save(root / "Mean.npy", mean.astype(np.float32))
    np.save(root / "Std.npy", std.astype(np.float32))
    for split, names in splits.items():
        (root / f"{split}.txt").write_text("".join(f"{n}\n" for n in sorted(names)))
    (root / "labels.json").write_text(json.dumps(labels, indent=1, sort_keys=True))
    summary = BuildSummary(
        takes=len(processed),
        skipped=skipped,
        motions={k: len(v) for k, v in splits.items()},
        hours={k: v / FPS / 3600 for k, v in frames.items()},
        frames=sum(frames.values()),
        seconds=0.0,
    )
    meta = {
        "format": "humanml3d",
        "source": "bandai-namco",
        "builder_version": BUILDER_VERSION,
        "skeleton": BANDAI_NAMCO_21.name,
        "fps": FPS,
        "feature_dim": layout_dim,
        "mirrored": mirror,
        "mean_std_from": stats_split,
        "held_out_pairs": sorted(map(list, held_out_pairs())),
        "summary": {k: v for k, v in asdict(summary).items() if k != "seconds"},
    }
    (root / "kinema.json").write_text(json.dumps(meta, indent=1))
    return summary
