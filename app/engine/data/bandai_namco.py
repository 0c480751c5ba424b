"""Reading the Bandai Namco Research Motion Dataset 1 and 2: takes, labels, and their motion on our skeleton.

The source may be the folder of `.tar.xz` archives as distributed (read as a stream, nothing unpacked), an
unpacked copy (`Bandai-Namco-Research-Motiondataset-N/data/*.bvh` with `cfg/`), or any folder of `.bvh` files
with their JSON labels. A take is named `dataset-N_<content>_<style>_<nnn>.bvh`; its JSON holds indices into
`cfg/content_label.txt` and `cfg/style_label.txt`, and the two must agree.
"""
from __future__ import annotations

import fnmatch
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from app.engine.data.resample import resample_animation
from app.engine.features import canonicalize
from app.engine.io.bvh import parse_bvh
from app.engine.skeleton import BANDAI_NAMCO_21, forward_kinematics

SOURCE_FPS = 30.0
CM_TO_M = 0.01
_TAKE_NAME = re.compile(r"^(dataset-\d+)_([a-z-]+)_([a-z-]+)_(\d+)$")
# content labels that swap under left/right mirroring
_MIRRORED_CONTENT = {
    "walk-left": "walk-right",
    "walk-turn-left": "walk-turn-right",
    "wave-left-hand": "wave-right-hand",
    "raise-up-left-hand": "raise-up-right-hand",
}
_MIRRORED_CONTENT.update({v: k for k, v in _MIRRORED_CONTENT.items()})


class DatasetSourceError(ValueError):
    """The source folder does not hold a readable Bandai Namco dataset."""


@dataclass(frozen=True)
class TakeLabel:
    dataset: str  # "dataset-1" or "dataset-2"
    content: str
    style: str


def mirror_content(content: str) -> str:
    return _MIRRORED_CONTENT.get(content, content)


def label_from_name(stem: str) -> TakeLabel:
    match = _TAKE_NAME.match(stem)
    if not match:
        raise DatasetSourceError(f"{stem}: not a Bandai Namco take name (dataset-N_content_style_nnn)")
    return TakeLabel(match.group(1), match.group(2), match.group(3))


def label_from_json(stem: str, text: str, contents: list[str], styles: list[str]) -> TakeLabel:
    """The label that the JSON's indices name; it must match the file name's."""
    from_name = label_from_name(stem)
    try:
        data = json.loads(text)
        content, style = contents[int(data["content"])], styles[int(data["style"])]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise DatasetSourceError(f"{stem}.json: unreadable label ({exc})") from None
    label = TakeLabel(from_name.dataset, content.split("_", 1)[-1], style.split("_", 1)[-1])
    if label != from_name:
        raise DatasetSourceError(f"{stem}: its JSON says {label.content}/{label.style}, its name says {from_name.content}/{from_name.style}")
    return label


def take_positions(bvh_text: str, source: str, fps: float = 20.0, canonical: bool = True) -> np.ndarray:
    """A take's joint positions on BANDAI_NAMCO_21 (frames, 21, 3), metres, at `fps`, canonical (on the floor,
    starting at the origin, facing +Z), or where the file has them with `canonical=False`.

    joint_Root is folded into Hips (it is still in most takes but moves in some); every other bone keeps the
    take's own rest offsets, which are the same in every take of both datasets.
    """
    bvh = parse_bvh(bvh_text, source=source)
    if bvh.names[:2] != ["joint_Root", "Hips"] or len(bvh.names) != 22:
        raise DatasetSourceError(f"{source}: expected joint_Root, Hips and 20 more joints, found {len(bvh.names)} joints")
    names = bvh.names[1:]
    if tuple(names) != BANDAI_NAMCO_21.joint_names:
        raise DatasetSourceError(f"{source}: joints differ from the Bandai Namco skeleton")
    world_rot = bvh.world_rotations()
    world_pos = bvh.world_positions()
    local = bvh.local_rotations()[:, 1:].copy()  # (frames, 21, 3, 3), Hips first
    local[:, 0] = world_rot[:, 1]  # Hips carries joint_Root's rotation too
    root, local = resample_animation(world_pos[:, 1] * CM_TO_M, local, bvh.fps, fps)
    offsets = bvh.offsets[1:] * CM_TO_M
    parents = [p - 1 for p in bvh.parents[1:]]
    positions = forward_kinematics(parents, offsets, torch.from_numpy(root), torch.from_numpy(local)).numpy()
    return canonicalize(positions, BANDAI_NAMCO_21) if canonical else positions


@dataclass
class RawTake:
    stem: str
    bvh_text: str


class TakeSource:
    """Iterates over the takes of a source folder (archives, unpacked folders, or loose files) and their labels."""

    def __init__(self, root: str | Path, only: str | None = None, limit: int | None = None,
                 keep: Callable[[str], bool] | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetSourceError(f"{self.root} is not a folder")
        self.only, self.limit, self.keep = only, limit, keep
        self.archives = sorted(self.root.glob("*.tar.xz"))
        self.files = [] if self.archives else sorted(self.root.rglob("*.bvh"))
        if not self.archives and not self.files:
            raise DatasetSourceError(f"{self.root} holds no .tar.xz archives and no .bvh files")
        self.json_texts: dict[str, str] = {}
        self.label_files: dict[str, list[str]] = {}  # "content-dataset-1" -> lines

    def _wanted(self, stem: str) -> bool:
        if self.keep is not None and not self.keep(stem):
            return False
        return self.only is None or fnmatch.fnmatch(stem, self.only) or self.only in stem

    def __len__(self) -> int:
        """Number of takes, known for loose files only (archives are read as a stream)."""
        if self.archives:
            raise TypeError("the number of takes in archives is known only after reading them")
        return min(sum(self._wanted(f.stem) for f in self.files), self.limit or 10**9)

    def _remember(self, name: str, text: str) -> None:
        """Keep labels (JSON) and label lists (cfg/*.txt or content_label-dataset-N.txt)."""
        path = Path(name)
        if path.suffix == ".json":
            self.json_texts[path.stem] = text
            return
        cfg = re.match(r"(content|style)_label(?:-(dataset-\d+))?\.txt$", path.name)
        if cfg:
            dataset = cfg.group(2) or _dataset_of_folder(path)
            if dataset:
                self.label_files[f"{cfg.group(1)}-{dataset}"] = [ln.strip() for ln in text.splitlines() if ln.strip()]

    def __iter__(self) -> Iterator[RawTake]:
        count = 0
        for name, read in self._members():
            if name.endswith(".bvh"):
                stem = Path(name).stem
                if not self._wanted(stem):
                    continue
                yield RawTake(stem, read())
                count += 1
                if self.limit is not None and count >= self.limit:
                    return
            elif name.endswith((".json", ".txt")):
                self._remember(name, read())

    def _members(self) -> Iterator[tuple[str, Callable[[], str]]]:
        if self.archives:
            for archive in self.archives:
                try:
                    with tarfile.open(archive, mode="r|xz") as tar:
                        for member in tar:
                            if member.isfile():
                                handle = tar.extractfile(member)
                                yield member.name, lambda h=handle: h.read().decode("utf-8", errors="replace")
                except (tarfile.TarError, EOFError, OSError) as exc:
                    raise DatasetSourceError(f"{archive.name}: cannot be read ({exc})") from None
            return
        for path in sorted(self.root.rglob("*")):
            if path.suffix in (".json", ".txt") or path in self.files:
                yield str(path), lambda p=path: p.read_text(encoding="utf-8", errors="replace")

    def label(self, stem: str) -> TakeLabel:
        """The take's label from its JSON and the label lists where both were seen, else from its name."""
        name_label = label_from_name(stem)
        contents = self.label_files.get(f"content-{name_label.dataset}")
        styles = self.label_files.get(f"style-{name_label.dataset}")
        if stem in self.json_texts and contents and styles:
            return label_from_json(stem, self.json_texts[stem], contents, styles)
        return name_label


def _dataset_of_folder(path: Path) -> str | None:
    for part in path.parts:
        match = re.search(r"Motiondataset-(\d+)", part)
        if match:
            return f"dataset-{match.group(1)}"
    return None
