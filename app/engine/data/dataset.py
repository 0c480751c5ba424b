"""Reading a motion dataset in HumanML3D's folder layout: ours (built by `kinema data build`), or a real
HumanML3D or KIT-ML folder as their authors distribute it, unchanged.

Captions with a time span (`caption#tokens#start#end` with end > 0) describe only that part of the motion, as in
HumanML3D; they become records of their own.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.engine.skeleton import BANDAI_NAMCO_21, SMPL_22, Skeleton, skeleton_by_name


class DatasetError(ValueError):
    """The folder is not a readable motion dataset; the message says what is missing."""


@dataclass
class MotionRecord:
    name: str
    features: np.ndarray  # (T, D) float32, not normalised
    captions: list[str]
    label: dict = field(default_factory=dict)  # content/style/... where the dataset has them


@dataclass(frozen=True)
class DatasetInfo:
    kind: str  # "bandai-namco", "humanml3d" or "kit-ml"
    skeleton: Skeleton | None  # None for KIT-ML (no preset yet): only n_joints is known
    n_joints: int
    fps: float
    feature_dim: int


def _read_spans(path: Path) -> list[tuple[str, float, float]]:
    """(caption, start s, end s) from a texts/*.txt file; start = end = 0 means the whole motion."""
    spans = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.strip().split("#")
        if not parts[0]:
            continue
        try:
            start, end = (float(parts[2]), float(parts[3])) if len(parts) >= 4 else (0.0, 0.0)
        except ValueError:
            start = end = 0.0
        spans.append((parts[0], 0.0 if np.isnan(start) else start, 0.0 if np.isnan(end) else end))
    return spans


def dataset_info(root: str | Path) -> DatasetInfo:
    root = Path(root)
    meta_path = root / "kinema.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        skeleton = skeleton_by_name(meta["skeleton"])
        return DatasetInfo(meta["source"], skeleton, skeleton.n_joints, float(meta["fps"]), int(meta["feature_dim"]))
    mean_path = root / "Mean.npy"
    if not mean_path.exists():
        raise DatasetError(f"{root}: no Mean.npy; is this a HumanML3D-layout dataset folder?")
    dim = int(np.load(mean_path).shape[-1])
    if dim == SMPL_22.feature_dim:
        return DatasetInfo("humanml3d", SMPL_22, 22, 20.0, dim)
    if dim == BANDAI_NAMCO_21.feature_dim:
        return DatasetInfo("kit-ml", None, 21, 12.5, dim)
    raise DatasetError(f"{root}: features of width {dim} are neither HumanML3D (263) nor KIT-ML (251)")


class MotionFolder:
    """One split of a HumanML3D-layout folder, loaded into memory (our datasets are a few hundred MB at most)."""

    def __init__(self, root: str | Path, split: str = "train", min_frames: int = 1, max_frames: int | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root} is not a folder")
        self.info = dataset_info(self.root)
        self.split = split
        split_file = self.root / f"{split}.txt"
        if not split_file.exists():
            raise DatasetError(f"{self.root}: no {split}.txt split file")
        for needed in ("Mean.npy", "Std.npy", "new_joint_vecs", "texts"):
            if not (self.root / needed).exists():
                raise DatasetError(f"{self.root}: {needed} is missing")
        self.mean = np.load(self.root / "Mean.npy").astype(np.float32)
        self.std = np.load(self.root / "Std.npy").astype(np.float32)
        labels_path = self.root / "labels.json"
        labels = json.loads(labels_path.read_text()) if labels_path.exists() else {}
        self.records: list[MotionRecord] = []
        names = [n.strip() for n in split_file.read_text().splitlines() if n.strip()]
        for name in names:
            vec_path, text_path = self.root / "new_joint_vecs" / f"{name}.npy", self.root / "texts" / f"{name}.txt"
            if not vec_path.exists() or not text_path.exists():
                continue  # HumanML3D's own split files list a few motions it never released
            features = np.load(vec_path).astype(np.float32)
            whole: list[str] = []
            for caption, start, end in _read_spans(text_path):
                if start == 0.0 and end == 0.0:
                    whole.append(caption)
                    continue
                part = features[int(start * self.info.fps) : int(end * self.info.fps)]
                if self._length_ok(len(part), min_frames, max_frames):
                    self.records.append(MotionRecord(f"{name}#{start:g}-{end:g}", part, [caption], labels.get(name, {})))
            if whole and self._length_ok(len(features), min_frames, max_frames):
                self.records.append(MotionRecord(name, features, whole, labels.get(name, {})))
        if not self.records:
            raise DatasetError(f"{self.root}: the {split} split has no usable motions")

    @staticmethod
    def _length_ok(n: int, min_frames: int, max_frames: int | None) -> bool:
        return n >= min_frames and (max_frames is None or n <= max_frames)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> MotionRecord:
        return self.records[i]

    def normalize(self, features: np.ndarray) -> np.ndarray:
        return (features - self.mean) / self.std

    def denormalize(self, features: np.ndarray) -> np.ndarray:
        return features * self.std + self.mean

    def total_frames(self) -> int:
        return sum(len(r.features) for r in self.records)
