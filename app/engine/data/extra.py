"""`kinema data build extra` / `cmu`: CMU takes (BVH on Daz or CC3 rigs) and Mesh2Motion's CC0 game animations
(glTF), retargeted onto the training rig, in the Bandai build's layout (see build.py), optionally merged with a
built Bandai Namco dataset into one folder.

Splits hold out whole takes: per action (the action of a take's first motion: a martial arts routine's kicks,
see kicks.py, come first), about one in seven takes goes to the test split, with all its windows and mirrored
copies. labels.json gives every motion its action (`content`, which the masked trainer's label balance reads), its
source, take and description, and `weight`: its draw probability within the training split, a label with n
training motions drawing n ** 0.25 of the total (the trainer's default label_balance 0.75), so the extra actions
are not drowned by Bandai Namco's hours.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from app.engine.data.action_captions import action_of, captions
from app.engine.data.build import CAPTIONS_PER_TAKE, FPS, VAL_SHARE, group_std, staged_folder
from app.engine.data.cmu import (
    MIN_FRAMES,
    CMUEntry,
    CMUSourceError,
    bvh_members,
    bvh_positions,
    description_parts,
    drop_t_pose,
    read_descriptions,
    take_key,
    windows,
)
from app.engine.data.descriptions import humanml3d_line, mirror_text
from app.engine.data.kicks import KICKING_ACTIONS, Kick, context_window, kicks
from app.engine.features import canonicalize, features_from_positions
from app.engine.io.bvh import BVHError, parse_bvh
from app.engine.io.gltf_import import animation_names, read_gltf
from app.engine.io.retarget import import_rig
from app.engine.skeleton import BANDAI_NAMCO_21

TEST_SHARE = 1 / 7  # of each action's takes (actions with at least 3 takes)
MIN_VAL_TAKES = 7  # an action with fewer takes gives none to the validation split
LABEL_BALANCE = 0.75  # as the masked trainer's default: a label with n motions draws n ** 0.25 of the total
DANCE_FOLDERS = {"salsa": ("salsa dance", 60.0), "martial": ("martial arts", None), "indian": ("indian dance", None)}
NOT_MOTIONS = {"T-Pose", "Rest Pose"}
LOCOMOTION = {"walk", "run", "crawl", "swim", "crouch", "jump", "roll"}  # said "in place" when the root stays put
LOOP_FRAMES = 80  # game loops (often under a second) are repeated to at least 4 s


@dataclass
class Motion:
    """One window of one take, on BANDAI_NAMCO_21 at 20 fps, canonical."""
    name: str
    source: str
    take: str
    description: str
    parts: list[str]
    positions: np.ndarray  # (T, 21, 3)

    @property
    def action(self) -> str:
        return action_of(self.parts[0] if self.parts else self.description)


@dataclass
class ExtraSummary:
    motions: dict[str, int] = field(default_factory=dict)  # per split, mirrored copies included
    minutes_per_source: dict[str, float] = field(default_factory=dict)  # captured takes, before mirroring
    minutes_per_action: dict[str, float] = field(default_factory=dict)
    draw_share_per_source: dict[str, float] = field(default_factory=dict)  # of the training draws
    skipped: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"{split:>5}: {self.motions.get(split, 0):5d} motions" for split in ("train", "val", "test")]
        out += [f"source {s}: {m:6.1f} min, {100 * self.draw_share_per_source.get(s, 0):4.1f} % of training draws"
                for s, m in sorted(self.minutes_per_source.items())]
        out += [f"action {a}: {m:5.1f} min" for a, m in sorted(self.minutes_per_action.items(), key=lambda x: -x[1])]
        out += [f"skipped {name}: {why}" for name, why in self.skipped.items()]
        return out


def _kicks_in(found: list[Kick], start: int, end: int) -> list[str]:
    """The description parts ("kick left", ...) of the kicks whose highest frame lies in [start, end), in order."""
    return [f"kick {k.side}" for k in found if start <= k.apex < end]


def _windows_of(source: str, take: str, description: str, positions: np.ndarray,
                skipped: dict[str, str]) -> Iterator[Motion]:
    parts = description_parts(description) or [description]
    found = kicks(positions, BANDAI_NAMCO_21) if action_of(description) in KICKING_ACTIONS else []
    for i, kick in enumerate(found):  # first, so the take is held out (or not) among the kicks
        piece = np.asarray(canonicalize(positions[kick.start:kick.end], BANDAI_NAMCO_21), np.float32)
        yield Motion(f"{take}_kick{i}", source, take, description, [f"kick {kick.side}"], piece)
    for i, kick in enumerate(found):  # each kick again inside a take-length window, with every kick it holds named
        window = context_window(kick, len(positions))
        if window is not None:
            piece = np.asarray(canonicalize(positions[window[0]:window[1]], BANDAI_NAMCO_21), np.float32)
            yield Motion(f"{take}_kick{i}_take", source, take, description, _kicks_in(found, *window), piece)
    pieces = windows(len(positions), parts)
    for i, w in enumerate(pieces):
        inside = _kicks_in(found, w.start, w.end)
        if inside:  # the routine's kicks in their context, named in order: a kick inside a longer take, not only alone
            w = replace(w, parts=inside)
        piece = positions[w.start:w.end]
        if len(piece) < MIN_FRAMES:
            skipped[f"{take}_w{i}" if len(pieces) > 1 else take] = f"{len(piece)} frames at 20 fps, under {MIN_FRAMES}"
            continue
        if len(pieces) > 1:
            piece = np.asarray(canonicalize(piece, BANDAI_NAMCO_21), np.float32)  # each window starts at the origin
        yield Motion(f"{take}_w{i}" if len(pieces) > 1 else take, source, take, description, w.parts, piece)


def cmu_motions(source: str | Path, descriptions: dict[tuple[int, int], CMUEntry], skipped: dict[str, str],
                seen: set[tuple[int, int]] | None = None, label: str = "cmu") -> Iterator[Motion]:
    """Windows of every CMU take in a folder, .zip or .tar.xz. Takes named SS_TT take their description and frame
    rate from CMU's index; takes in a dance folder (salsa/, martial/, indian/) are described by their folder."""
    seen = set() if seen is None else seen
    for name, read in bvh_members(source):
        folder = Path(name).parent.name
        stem = Path(name).stem
        if stem == "standard":  # the dance set's 3-frame rest pose
            continue
        if folder in DANCE_FOLDERS:
            description, fps = DANCE_FOLDERS[folder]
            take = f"{folder}_{stem}"
        else:
            key = take_key(name)
            if key is None or key not in descriptions:
                skipped[name] = "not in CMU's index (cmu-descriptions.csv)" if key else "not named SS_TT"
                continue
            if key in seen:  # the same trial from another set
                continue
            seen.add(key)
            take = f"cmu_{key[0]:02d}_{key[1]:02d}"
        try:
            bvh = parse_bvh(read(), source=name)
            if folder not in DANCE_FOLDERS:
                description, fps = descriptions[key].description, descriptions[key].fps_of(bvh.n_frames)
            positions = bvh_positions(bvh, fps)
        except (BVHError, ValueError) as exc:
            skipped[name] = str(exc)
            continue
        yield from _windows_of(label, take, description, positions, skipped)


def repeat_loop(positions: np.ndarray, min_frames: int) -> np.ndarray:
    """A cyclic animation (last frame = first, as game loops are) played until it lasts `min_frames`, each cycle
    carried on from where the last one ended (a 0.7 s sprint cycle becomes a sprint)."""
    cycle = positions[1:]  # (T - 1, J, 3): the first frame is the last one of the previous cycle
    step = positions[-1, 0] - positions[0, 0]
    step[1] = 0.0  # travel per cycle, on the floor
    n = max(1, -(-(min_frames - 1) // max(1, len(cycle))))
    return np.concatenate([positions[:1]] + [cycle + k * step for k in range(1, n + 1)]).astype(np.float32)


def mesh2motion_motions(folder: str | Path, skipped: dict[str, str]) -> Iterator[Motion]:
    """Every named animation of the .glb files in `folder`, described by its name ("Jump_Start")."""
    for path in sorted(Path(folder).glob("*.glb")):
        for animation in animation_names(path):
            if animation in NOT_MOTIONS:
                continue
            try:
                positions = import_rig(read_gltf(path, animation), BANDAI_NAMCO_21, fps=FPS, scale=1.0)
            except ValueError as exc:
                skipped[f"{path.name}:{animation}"] = str(exc)
                continue
            positions = drop_t_pose(np.asarray(positions, np.float32))
            if "loop" in animation.lower():
                positions = repeat_loop(positions, LOOP_FRAMES)
            take = "m2m_" + animation.replace(" ", "_")
            travel = np.linalg.norm(positions[-1, 0, [0, 2]] - positions[0, 0, [0, 2]])
            moving = action_of(animation) in LOCOMOTION
            description = f"{animation} in place" if moving and travel < 0.1 * len(positions) / FPS else animation
            yield from _windows_of("mesh2motion", take, description, positions, skipped)


def extra_motions(root: str | Path, skipped: dict[str, str]) -> Iterator[Motion]:
    """The extra folder as distributed: cmu-*.tar.xz with cmu-descriptions.csv, and mesh2motion/*.glb."""
    root = Path(root)
    index = root / "cmu-descriptions.csv"
    if not index.exists():
        raise CMUSourceError(f"{root} has no cmu-descriptions.csv: is it the extra data folder?")
    descriptions, seen = read_descriptions(index), set()
    for archive in sorted(root.glob("cmu-*.tar.xz")):
        yield from cmu_motions(archive, descriptions, skipped, seen, label=archive.name.removesuffix(".tar.xz"))
    if (root / "mesh2motion").is_dir():
        yield from mesh2motion_motions(root / "mesh2motion", skipped)


def assign_splits(motions: list[Motion]) -> dict[str, str]:
    """take -> split: per action, the takes first in a stable hash order are the test split (about TEST_SHARE of
    actions with at least 3 takes); of the rest, a stable VAL_SHARE is validation where the action has at least
    MIN_VAL_TAKES takes (an action of three takes, one held out for the test, keeps both others for training)."""
    takes_of: dict[str, set[str]] = defaultdict(set)
    first_action: dict[str, str] = {}
    for m in motions:
        first_action.setdefault(m.take, m.action)
    for take, action in first_action.items():
        takes_of[action].add(take)
    split = {}
    for action, takes in takes_of.items():
        ordered = sorted(takes, key=lambda t: zlib.crc32(t.encode()))
        n_test = round(len(ordered) * TEST_SHARE) or 1 if len(ordered) >= 3 else 0
        for i, take in enumerate(ordered):
            val = len(ordered) >= MIN_VAL_TAKES and zlib.crc32(take.encode()) % 1000 < VAL_SHARE * 1000
            split[take] = "test" if i < n_test else "val" if val else "train"
    return split


def draw_weights(labels: dict[str, dict], balance: float = LABEL_BALANCE) -> None:
    """Set `weight` on every motion: in the training split a label with n motions draws n ** (1 - balance) of the
    total (each motion n ** -balance, normalised to sum to 1); other splits get 0."""
    counts = Counter(v["content"] for v in labels.values() if v["split"] == "train")
    total = sum(n ** (1 - balance) for n in counts.values())
    for v in labels.values():
        v["weight"] = counts[v["content"]] ** -balance / total if v["split"] == "train" else 0.0


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def build_extra(motions: Iterable[Motion], out: str | Path, mirror: bool = True, with_dataset: str | Path | None = None,
                skipped: dict[str, str] | None = None,
                progress: Callable[[Iterable], Iterable] | None = None) -> ExtraSummary:
    """Write the motions (and, with `with_dataset`, a built Bandai Namco folder's) to `out`, replaced when complete."""
    out = Path(out)
    with staged_folder(out) as staging:
        summary = _write(staging, list(progress(motions) if progress else motions), mirror, with_dataset)
        summary.skipped = dict(skipped or {})
        (staging / "summary.txt").write_text("\n".join(summary.lines()) + "\n")
    return summary


def _write(root: Path, motions: list[Motion], mirror: bool, with_dataset: str | Path | None) -> ExtraSummary:
    if not motions:
        raise ValueError("no motions were read: nothing to build")
    for sub in ("new_joints", "new_joint_vecs", "texts"):
        (root / sub).mkdir()
    split_of = assign_splits(motions)
    labels: dict[str, dict] = {}
    summary = ExtraSummary()
    for m in motions:
        split = split_of[m.take]
        minutes = (len(m.positions) - 1) / FPS / 60
        summary.minutes_per_source[m.source] = summary.minutes_per_source.get(m.source, 0.0) + minutes
        summary.minutes_per_action[m.action] = summary.minutes_per_action.get(m.action, 0.0) + minutes
        texts = captions(m.parts, CAPTIONS_PER_TAKE, random.Random(zlib.crc32(m.name.encode())))
        variants = [(m.name, m.positions, texts, False)]
        if mirror:
            variants.append(("M" + m.name, BANDAI_NAMCO_21.mirror_positions(m.positions), [mirror_text(t) for t in texts], True))
        for name, positions, lines, mirrored in variants:
            features = features_from_positions(positions.astype(np.float64), BANDAI_NAMCO_21).astype(np.float32)
            np.save(root / "new_joints" / f"{name}.npy", positions[:-1])
            np.save(root / "new_joint_vecs" / f"{name}.npy", features)
            (root / "texts" / f"{name}.txt").write_text("\n".join(humanml3d_line(t) for t in lines) + "\n")
            labels[name] = {"dataset": m.source, "content": m.action, "style": "", "mirrored": mirrored, "split": split,
                            "take": m.take, "description": ", ".join(m.parts)}
    if with_dataset is not None:
        _merge(root, Path(with_dataset), labels)
    draw_weights(labels)
    train = [n for n, v in labels.items() if v["split"] == "train"]
    if not train:
        raise ValueError("no training motions: every take went to the test or validation split")
    features = np.concatenate([np.load(root / "new_joint_vecs" / f"{n}.npy") for n in train]).astype(np.float64)
    mean, std = group_std(features, BANDAI_NAMCO_21.n_joints)
    np.save(root / "Mean.npy", mean.astype(np.float32))
    np.save(root / "Std.npy", std.astype(np.float32))
    for split in ("train", "val", "test"):
        names = sorted(n for n, v in labels.items() if v["split"] == split)
        (root / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))
        summary.motions[split] = len(names)
    for v in labels.values():
        if v["split"] == "train":
            summary.draw_share_per_source[v["dataset"]] = summary.draw_share_per_source.get(v["dataset"], 0.0) + v["weight"]
    (root / "labels.json").write_text(json.dumps(labels, indent=1, sort_keys=True))
    meta = {"format": "humanml3d", "source": "extra" if with_dataset is None else "combined",
            "skeleton": BANDAI_NAMCO_21.name, "fps": FPS, "feature_dim": BANDAI_NAMCO_21.feature_dim,
            "mirrored": mirror, "mean_std_from": "train", "merged_with": str(with_dataset) if with_dataset else None,
            "label_balance": LABEL_BALANCE, "minutes_per_source": summary.minutes_per_source}
    (root / "kinema.json").write_text(json.dumps(meta, indent=1))
    return summary


def _merge(root: Path, other: Path, labels: dict[str, dict]) -> None:
    """Add a built dataset's motions (hard links where possible), splits and labels."""
    try:
        other_labels = json.loads((other / "labels.json").read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{other}: not a dataset built by `kinema data build` (labels.json: {exc})") from None
    for split in ("train", "val", "test"):
        for name in (other / f"{split}.txt").read_text().split():
            if name in labels:
                raise ValueError(f"{other}: motion {name} is in both datasets")
            for sub, ext in (("new_joints", "npy"), ("new_joint_vecs", "npy"), ("texts", "txt")):
                _link(other / sub / f"{name}.{ext}", root / sub / f"{name}.{ext}")
            labels[name] = {**other_labels.get(name, {}), "split": split}
            labels[name].setdefault("content", "")
