"""The document on disk: takes in (BVH, positions), takes out (BVH, FBX, glTF), and whole documents as .kinema projects.

Reading never touches the document: `load_document` returns an `OpenedProject` that `apply_project` puts into
the document in one step, so a file that fails to load leaves the open work exactly as it was.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from app.engine.data.bandai_namco import DatasetSourceError, take_positions
from app.engine.document.model import Document, DocumentError, Segment, Take
from app.engine.document.takes import take_from_positions
from app.engine.io import project as kinema_project
from app.engine.io.bvh import parse_bvh
from app.engine.io.formats import export_positions, reader_for
from app.engine.io.retarget import import_bvh
from app.engine.motion import Motion
from app.engine.placement import Placement, placement_of
from app.engine.skeleton import BANDAI_NAMCO_21, skeleton_by_name

TAKE_NAME = "take"
RECOVERY_SUFFIX = ".kinema.autosave"


def read_take(path: str | Path) -> Take:
    """A take from a BVH file (the Bandai Namco rig exactly, other rigs name-mapped and retargeted) or an .npy of
    canonical positions (T, J, 3) on a known skeleton; 20 fps, with features so that it can be edited."""
    path = Path(path)
    reader_for(path)
    if path.suffix.lower() == ".npy":
        positions = np.load(path, allow_pickle=False)
        skeleton = next((s for s in (BANDAI_NAMCO_21, skeleton_by_name("smpl22")) if positions.shape[1:] == (s.n_joints, 3)), None)
        if skeleton is None:
            raise ValueError(f"{path.name}: positions of shape {positions.shape} fit no known skeleton")
        return take_from_positions(positions, 20.0, skeleton)
    text = path.read_text(encoding="utf-8", errors="replace")
    bvh = parse_bvh(text, source=path.name)
    try:
        placed = take_positions(text, source=path.name, canonical=False)
    except DatasetSourceError:  # another rig: map its joints by name onto ours
        placed = import_bvh(bvh, BANDAI_NAMCO_21, canonical=False)
    positions, placement = placement_of(placed, BANDAI_NAMCO_21)
    return replace(take_from_positions(positions, 20.0, BANDAI_NAMCO_21), placement=replace(placement, fps=round(bvh.fps, 3)))


def export_take(take: Take, path: str | Path, frame_range: tuple[int, int] | None = None, fps: float | None = None) -> None:
    """Write frames [start, end) of the take (all without a range) on its own rig, in the format of the path's
    extension (BVH, FBX, glTF), at `fps` (the take's own rate when None), where the take stood when it was
    imported (`Take.placement`). The write is atomic."""
    export_positions(take.placement.to_world(take.positions), take.skeleton, path, fps=take.fps,
                     frame_range=frame_range, out_fps=fps)


@dataclass
class OpenedProject:
    """What a .kinema file holds, ready to become the document (`apply_project`)."""

    take: Take | None
    segments: list[Segment] = field(default_factory=list)
    locked: tuple[int, ...] = ()
    selection: tuple[int, int] | None = None  # inclusive, as the document keeps it
    scope: str = "full"
    settings: dict = field(default_factory=dict)  # the prompt panel's values when it was saved
    meta: dict = field(default_factory=dict)
    other_takes: int = 0  # takes beyond the first, which this studio does not show


def project_data(doc: Document, settings: dict | None = None, meta: dict | None = None) -> kinema_project.ProjectData:
    """The document as project data. Takes are never changed in place (commands copy on write), so this snapshot
    can be written on another thread while editing goes on."""
    take = doc.take
    if take is None:
        raise DocumentError("there is no take to save yet: generate, import or open one first")
    features = take.features if take.features is not None else take_from_positions(take.positions, take.fps, take.skeleton).features
    selection = None if doc.selection is None else (doc.selection[0], doc.selection[1] + 1)  # files keep the end exclusive
    data = kinema_project.TakeData(
        TAKE_NAME, take.skeleton.name, take.fps, features,
        [{"text": s.text, "start": s.start, "length": s.length} for s in doc.segments],
        list(doc.locked_frames), selection, doc.scope, take.positions,
        None if take.placement == Placement() else take.placement.to_dict())
    return kinema_project.ProjectData(dict(meta or {}), [data], dict(settings or {}))


def save_document(path: str | Path, doc: Document, settings: dict | None = None, meta: dict | None = None) -> None:
    """Save atomically (a failed save leaves the previous file); raises ProjectError or DocumentError with a
    message for the user."""
    kinema_project.save_project(path, project_data(doc, settings, meta))


def load_document(path: str | Path) -> OpenedProject:
    """Read and check a .kinema file without touching any document; ProjectError says what is wrong."""
    data = kinema_project.load_project(path)
    if not data.takes:
        return OpenedProject(None, settings=data.settings, meta=data.meta)
    first = data.takes[0]
    skeleton = skeleton_by_name(first.skeleton)
    positions = first.positions if first.positions is not None else Motion(first.features, first.fps, first.skeleton).positions
    placement = Placement() if first.placement is None else Placement.from_dict(first.placement)
    take = Take(np.asarray(positions, np.float32), first.fps, skeleton, first.features, placement)
    return OpenedProject(
        take, [Segment(s["text"], s["start"], s["length"]) for s in first.segments], tuple(first.locked_frames),
        None if first.selection is None else (first.selection[0], first.selection[1] - 1), first.scope,
        data.settings, data.meta, len(data.takes) - 1)


def apply_project(doc: Document, opened: OpenedProject) -> None:
    """Make the document what the project holds, with a fresh history (opening is not an undoable edit)."""
    doc.reset(opened.take, opened.segments, opened.locked, opened.selection, opened.scope)


def leftover_recoveries() -> list[Path]:
    """Autosaves that a clean exit would have removed (so the studio did not close properly), newest first.
    They live where `app.engine.io.project.recovery_path` puts them ($XDG_DATA_HOME/kinema/recovery)."""
    folder = kinema_project.recovery_path(None).parent
    return sorted(folder.glob(f"*{RECOVERY_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
