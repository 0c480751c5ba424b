"""The studio's file formats, as calls into the engine's io modules (no Qt here: errors are exceptions with
messages for the user). Engine modules that are not written yet raise `FeatureMissing` with a plain message."""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import numpy as np

from app.engine.document import Document, Take
from app.engine.skeleton import BANDAI_NAMCO_21, skeleton_by_name


class FeatureMissing(RuntimeError):
    """This build of Kinema does not have the engine module the action needs."""


def _engine_module(name: str, what: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise FeatureMissing(f"{what} is not available in this build ({name} could not be imported: {exc})") from None


def read_take(path: str | Path) -> Take:
    """A take from a BVH file (Bandai Namco rig exactly, any other rig retargeted) or an .npy of positions (T, J, 3)."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        positions = np.load(path, allow_pickle=False).astype(np.float32)
        skeleton = next((s for s in (BANDAI_NAMCO_21, skeleton_by_name("smpl22")) if positions.shape[1:] == (s.n_joints, 3)), None)
        if skeleton is None:
            raise ValueError(f"{path.name}: positions of shape {positions.shape} fit no known skeleton")
        return Take(positions, 20.0, skeleton)
    text = path.read_text(encoding="utf-8", errors="replace")
    from app.engine.data.bandai_namco import DatasetSourceError, take_positions
    from app.engine.io.bvh import parse_bvh

    try:
        return Take(take_positions(text, source=path.name).astype(np.float32), 20.0, BANDAI_NAMCO_21)
    except DatasetSourceError:
        retarget = _engine_module("app.engine.io.retarget", "Importing BVH files of other rigs")
        positions = retarget.import_bvh(parse_bvh(text, source=path.name), BANDAI_NAMCO_21)
        return Take(np.asarray(positions, np.float32), 20.0, BANDAI_NAMCO_21)


def export_take(take: Take, path: str | Path, frame_range: tuple[int, int] | None = None) -> None:
    """Write the take (or frames [start, end) of it) as BVH on its own rig."""
    export = _engine_module("app.engine.io.export", "BVH export")
    export.export_bvh(take.positions, take.skeleton, path, fps=take.fps, frame_range=frame_range)


def open_project(path: str | Path, document: Document) -> None:
    project = _engine_module("app.engine.io.project", "Kinema projects")
    data = project.load_project(path)
    take = data.takes[0] if data.takes else None
    document.reset(
        None if take is None else Take(np.asarray(take.positions, np.float32), float(take.fps),
                                       skeleton_by_name(take.skeleton), take.features),
        list(getattr(data, "segments", [])),
        tuple(getattr(take, "locked_frames", ())),
    )


def save_project(path: str | Path, document: Document) -> None:
    project = _engine_module("app.engine.io.project", "Kinema projects")
    take = document.take
    takes = [] if take is None else [project.TakeData(positions=take.positions, features=take.features, fps=take.fps,
                                                      skeleton=take.skeleton.name, locked_frames=document.locked_frames)]
    project.save_project(path, project.ProjectData(takes=takes, segments=list(document.segments)))
