"""The document on disk: takes in (BVH, positions), takes out (BVH, FBX, glTF), and whole documents as .kinema projects.

Reading never touches the document: `load_document` returns an `OpenedProject` that `apply_project` puts into
the document in one step, so a file that fails to load leaves the open work exactly as it was.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from app.engine.constraints import constraints_from_dict, constraints_to_dict
from app.engine.data.bandai_namco import DatasetSourceError, take_positions
from app.engine.document.model import Document, DocumentError, Segment, Take, TakeState
from app.engine.document.takes import take_from_positions
from app.engine.io import project as kinema_project
from app.engine.io.formats import (
    export_positions,
    reader_for,
    write_animation,
    writer_for,
)
from app.engine.io.onto_rig import SourceRig
from app.engine.io.retarget import import_rig
from app.engine.io.rig import check_frame_range
from app.engine.io.rig_files import read_rig_animation
from app.engine.io.rig_mappings import load_mapping
from app.engine.motion import Motion
from app.engine.placement import Placement, placement_of
from app.engine.skeleton import BANDAI_NAMCO_21, skeleton_by_name

RECOVERY_SUFFIX = ".kinema.autosave"


def read_take(path: str | Path, mapping: dict[str, str] | None = None, animation: str | int | None = None) -> Take:
    """A take from a BVH, FBX or glTF file (the Bandai Namco rig exactly, other rigs name-mapped, by `mapping`
    where given, and retargeted) or an .npy of canonical positions (T, J, 3) on a known skeleton; 20 fps, with
    features so that it can be edited. A file's take remembers its rig and frame rate (`Take.source`).
    `animation` picks one of several takes in an FBX or glTF file (the first by default)."""
    path = Path(path)
    reader_for(path)
    if path.suffix.lower() == ".npy":
        positions = np.load(path, allow_pickle=False)
        skeleton = next((s for s in (BANDAI_NAMCO_21, skeleton_by_name("smpl22")) if positions.shape[1:] == (s.n_joints, 3)), None)
        if skeleton is None:
            raise ValueError(f"{path.name}: positions of shape {positions.shape} fit no known skeleton")
        return take_from_positions(positions, 20.0, skeleton)
    anim, tips = read_rig_animation(path, animation)
    mapping = mapping if mapping is not None else load_mapping(anim.rig.names)
    placed = None
    if path.suffix.lower() == ".bvh" and mapping is None:
        try:
            placed = take_positions(path.read_text(encoding="utf-8", errors="replace"), source=path.name,
                                    canonical=False)
        except DatasetSourceError:
            pass
    if placed is None:  # another rig: map its joints by name (or the user's mapping) onto ours
        placed = import_rig(anim, BANDAI_NAMCO_21, canonical=False, mapping=mapping, tips=tips)
    positions, placement = placement_of(placed, BANDAI_NAMCO_21)
    source = SourceRig(anim.rig, anim.fps, path.name, mapping)
    return replace(take_from_positions(positions, 20.0, BANDAI_NAMCO_21),
                   placement=replace(placement, fps=round(anim.fps, 3)), source=source)


def export_take(take: Take, path: str | Path, frame_range: tuple[int, int] | None = None, fps: float | None = None,
                own_rig: bool = True, units: str = "cm", body: bool = False) -> None:
    """Write frames [start, end) of the take (all without a range) in the format of the path's extension (BVH,
    FBX, glTF), where the take stood when it was imported (`Take.placement`). An imported take goes out on the rig
    it came on at that file's frame rate (`Take.source`; `own_rig=False` writes Kinema's rig instead), others on
    Kinema's rig at the take's rate; `fps` overrides the rate. `body` adds the mannequin (Kinema's rig, FBX and
    glTF only). The write is atomic."""
    fmt = writer_for(path)
    world = take.placement.to_world(take.positions)
    if body and not fmt.carries_body:
        raise ValueError(f"{Path(path).name}: {fmt.name} holds no body; export to .fbx, .glb or .gltf to include it")
    if take.source is None or not own_rig or body:
        from app.engine.mannequin import build_mannequin  # trimesh: imported only when a body is asked for

        mesh = build_mannequin(take.skeleton) if body else None
        export_positions(world, take.skeleton, path, fps=take.fps, frame_range=frame_range, out_fps=fps, units=units,
                         mesh=mesh)
        return
    if frame_range is not None:
        start, end = check_frame_range(len(world), frame_range)
        world = world[start:end]
    write_animation(take.source.animation(world, take.fps, take.skeleton, fps), path, units)


@dataclass
class OpenedProject:
    """What a .kinema file holds, ready to become the document (`apply_project`): every take, and which one the
    studio was editing (`take`, `segments`... are that one's)."""

    take: Take | None
    segments: list[Segment] = field(default_factory=list)
    locked: tuple[int, ...] = ()
    selection: tuple[int, int] | None = None  # inclusive, as the document keeps it
    scope: str = "full"
    settings: dict = field(default_factory=dict)  # the prompt panel's values when it was saved
    meta: dict = field(default_factory=dict)
    takes: list[TakeState] = field(default_factory=list)  # all of them, in order (empty: a project without takes)
    active: int = 0  # the index in `takes` of the take being edited


def take_data(state: TakeState) -> kinema_project.TakeData:
    take = state.take
    features = take.features if take.features is not None else take_from_positions(take.positions, take.fps, take.skeleton).features
    selection = None if state.selection is None else (state.selection[0], state.selection[1] + 1)  # files: end exclusive
    return kinema_project.TakeData(
        state.name, take.skeleton.name, take.fps, features,
        [{"text": s.text, "start": s.start, "length": s.length} for s in state.segments],
        list(state.locked), selection, state.scope, take.positions,
        None if take.placement == Placement() else take.placement.to_dict(),
        None if take.source is None else take.source.to_dict(),
        constraints_to_dict(state.constraints) if state.constraints else None)


def project_data(doc: Document, settings: dict | None = None, meta: dict | None = None) -> kinema_project.ProjectData:
    """The document as project data: every take that has motion (an empty take is not saved), and in `meta` which
    one is being edited. Takes are never changed in place (commands copy on write), so this snapshot can be
    written on another thread while editing goes on."""
    states = doc.take_states()
    if doc.take is None:
        raise DocumentError("there is no take to save yet: generate, import or open one first")
    kept = [state for state in states if state.take is not None]
    active = kept.index(next(s for s in kept if s.name == states[doc.active].name))
    return kinema_project.ProjectData({**(meta or {}), "active_take": active}, [take_data(s) for s in kept],
                                      dict(settings or {}))


def save_document(path: str | Path, doc: Document, settings: dict | None = None, meta: dict | None = None) -> None:
    """Save atomically (a failed save leaves the previous file); raises ProjectError or DocumentError with a
    message for the user."""
    kinema_project.save_project(path, project_data(doc, settings, meta))


def take_state(data: kinema_project.TakeData) -> TakeState:
    """A checked take of a project file as the document keeps it."""
    skeleton = skeleton_by_name(data.skeleton)
    positions = data.positions if data.positions is not None else Motion(data.features, data.fps, data.skeleton).positions
    placement = Placement() if data.placement is None else Placement.from_dict(data.placement)
    source = None if data.source_rig is None else SourceRig.from_dict(data.source_rig)
    take = Take(np.asarray(positions, np.float32), data.fps, skeleton, data.features, placement, source)
    return TakeState(data.name, take, tuple(Segment(s["text"], s["start"], s["length"]) for s in data.segments),
                     tuple(data.locked_frames), None if data.selection is None else (data.selection[0], data.selection[1] - 1),
                     data.scope, constraints=constraints_from_dict(data.constraints or {}))


def load_document(path: str | Path) -> OpenedProject:
    """Read and check a .kinema file without touching any document; ProjectError says what is wrong."""
    data = kinema_project.load_project(path)
    if not data.takes:
        return OpenedProject(None, settings=data.settings, meta=data.meta)
    takes = [take_state(t) for t in data.takes]
    active = data.meta.get("active_take", 0)
    active = active if isinstance(active, int) and 0 <= active < len(takes) else 0  # a hand-edited file: the first
    state = takes[active]
    return OpenedProject(state.take, list(state.segments), state.locked, state.selection, state.scope,
                         data.settings, data.meta, takes, active)


def apply_project(doc: Document, opened: OpenedProject) -> None:
    """Make the document what the project holds, with a fresh history (opening is not an undoable edit)."""
    if opened.takes:
        doc.reset_takes(opened.takes, opened.active)
    else:
        doc.reset(opened.take, opened.segments, opened.locked, opened.selection, opened.scope)


def leftover_recoveries() -> list[Path]:
    """Autosaves that a clean exit would have removed (so the studio did not close properly), newest first.
    They live where `app.engine.io.project.recovery_path` puts them ($XDG_DATA_HOME/kinema/recovery)."""
    folder = kinema_project.recovery_path(None).parent
    return sorted(folder.glob(f"*{RECOVERY_SUFFIX}"), key=lambda p: p.stat().st_mtime, reverse=True)
