"""Kinema project files (.kinema): one ZIP holding project.json (the document) and arrays.npz (each take's motion).

Saving validates first and replaces the file atomically, so a crash leaves the old project or the new one, never
half of one. Loading checks everything (archive, JSON, schema version, types, ranges, array shapes, finite values)
before returning, so a damaged or foreign file gives one plain-language ProjectError and never a half-loaded project.
Array headers are checked before any data is read, so a damaged header cannot ask for gigabytes.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from app.engine.constraints import check_constraints, constraints_from_dict, constraints_to_dict
from app.engine.io.atomic import replace_from_temp, temp_file_beside
from app.engine.io.onto_rig import SourceRig
from app.engine.skeleton import skeleton_by_name

SCHEMA_VERSION = 1
FORMAT = "kinema-project"
SCOPES = ("full", "upper")
# what a damaged archive or array can raise while being read; all of it becomes a ProjectError
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError,
                struct.error)


class ProjectError(ValueError):
    """A project that cannot be saved or loaded; the message is meant for the user as it is."""


@dataclass
class TakeData:
    name: str
    skeleton: str  # a name known to app.engine.skeleton.skeleton_by_name
    fps: float
    features: np.ndarray  # (T, skeleton feature_dim) float32
    segments: list[dict] = field(default_factory=list)  # prompt segments {"text": str, "start": int, "length": int}
    locked_frames: list[int] = field(default_factory=list)  # keyframes the engine must keep
    selection: tuple[int, int] | None = None  # (start, end), end exclusive
    scope: str = "full"  # body part that edits touch: "full" or "upper"
    positions: np.ndarray | None = None  # optional (T, J, 3) float32, kept so opening needs no recomputation
    placement: dict | None = None  # optional {"yaw": radians, "offset": [x, y, z] metres}: where an import stood
    source_rig: dict | None = None  # optional: the rig an import came on (app.engine.io.onto_rig.SourceRig.to_dict)
    constraints: dict | None = None  # optional waypoints and pins (app.engine.constraints.constraints_to_dict)


@dataclass
class ProjectData:
    meta: dict = field(default_factory=dict)  # app_version, created, modified (set on save) and anything else
    takes: list[TakeData] = field(default_factory=list)
    settings: dict = field(default_factory=dict)  # engine settings: engine, guidance, seed, steps


def _app_version() -> str:
    try:
        return version("kinema")
    except PackageNotFoundError:
        return "unknown"


# ----------------------------------------------------------------------------- validation


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite real number (not a bool)."""
    return _is_int(value) or (isinstance(value, (float, np.floating)) and math.isfinite(value))


def _float_array(array: Any, shape: tuple[int | None, ...], what: str) -> np.ndarray:
    """`array` as float32 of `shape` (None: any length), finite."""
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fiu":
        raise ProjectError(f"{what} are not an array of numbers")
    if array.ndim != len(shape) or any(want is not None and have != want for have, want in zip(array.shape, shape)):
        expected = "(" + ", ".join("T" if want is None else str(want) for want in shape) + ")"
        raise ProjectError(f"{what} have shape {array.shape}, expected {expected}")
    if not np.isfinite(array).all():
        raise ProjectError(f"{what} contain missing (NaN or infinite) values")
    return np.ascontiguousarray(array, dtype=np.float32)


def _check_take(take: TakeData) -> TakeData:
    """A clean copy of `take` (plain ints, float32 arrays) or a ProjectError naming the take and the problem."""
    if not isinstance(take.name, str) or not take.name.strip():
        raise ProjectError(f"a take has no name ({take.name!r})")
    where = f"take {take.name!r}"
    if not isinstance(take.skeleton, str):
        raise ProjectError(f"{where}: the skeleton name is not text")
    try:
        skeleton = skeleton_by_name(take.skeleton)
    except KeyError as exc:
        raise ProjectError(f"{where}: {exc.args[0]}") from None
    if not _is_number(take.fps) or take.fps <= 0:
        raise ProjectError(f"{where}: the frame rate {take.fps!r} is not a positive number")
    features = _float_array(take.features, (None, skeleton.feature_dim), f"{where}: the features")
    frames = features.shape[0]
    if frames == 0:
        raise ProjectError(f"{where} has no frames")
    positions = None if take.positions is None else _float_array(
        take.positions, (frames, skeleton.n_joints, 3), f"{where}: the joint positions")
    inside = f"outside the take (frames 0–{frames - 1})"

    if not isinstance(take.segments, list):
        raise ProjectError(f"{where}: the prompt segments are not a list")
    segments = []
    for segment in take.segments:
        if not isinstance(segment, dict) or not isinstance(segment.get("text"), str) \
                or not _is_int(segment.get("start")) or not _is_int(segment.get("length")):
            raise ProjectError(f"{where}: a prompt segment is not {{text, start, length}}: {segment!r:.80}")
        start, length = int(segment["start"]), int(segment["length"])
        if length < 1 or start < 0:  # a segment may reach past the take: it plans the long take still to build
            raise ProjectError(f"{where}: the prompt segment {segment['text']!r:.40} (frames {start}–"
                               f"{start + length - 1}) must start at frame 0 or later and last at least 1 frame")
        segments.append({**segment, "start": start, "length": length})

    if not isinstance(take.locked_frames, list) or not all(_is_int(f) for f in take.locked_frames):
        raise ProjectError(f"{where}: the locked keyframes are not a list of frame numbers")
    for frame in take.locked_frames:
        if not 0 <= frame < frames:
            raise ProjectError(f"{where}: the locked keyframe at frame {frame} is {inside}")

    selection = take.selection
    if selection is not None:
        if not isinstance(selection, (tuple, list)) or len(selection) != 2 or not all(map(_is_int, selection)):
            raise ProjectError(f"{where}: the selection {selection!r:.40} is not a (start, end) pair of frames")
        selection = (int(selection[0]), int(selection[1]))
        if not 0 <= selection[0] < selection[1] <= frames:
            raise ProjectError(f"{where}: the selection {selection[0]}–{selection[1]} (end exclusive) is empty "
                               f"or {inside}")
    if take.scope not in SCOPES:
        raise ProjectError(f"{where}: the body-part scope {take.scope!r:.40} is not one of {', '.join(SCOPES)}")
    placement = take.placement
    if placement is not None:
        offset = placement.get("offset") if isinstance(placement, dict) else None
        if not (isinstance(offset, list) and len(offset) == 3 and all(map(_is_number, offset))
                and _is_number(placement.get("yaw"))):
            raise ProjectError(f"{where}: the placement {placement!r:.80} is not {{yaw, offset: [x, y, z]}} in numbers")
        fps = placement.get("fps")
        if fps is not None and not (_is_number(fps) and fps > 0):
            raise ProjectError(f"{where}: the placement's frame rate {fps!r:.40} is not a positive number")
        placement = {"yaw": float(placement["yaw"]), "offset": [float(v) for v in offset],
                     **({"fps": float(fps)} if fps is not None else {})}
    source_rig = take.source_rig
    if source_rig is not None:
        try:
            source_rig = SourceRig.from_dict(source_rig).to_dict()
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProjectError(f"{where}: the rig it was imported on is not readable ({exc})") from None
    constraints = take.constraints
    if constraints is not None:  # projects saved before paths and pins have none
        try:
            parsed = constraints_from_dict(constraints)
            check_constraints(parsed, skeleton, frames)
        except ValueError as exc:
            raise ProjectError(f"{where}: {exc}") from None
        constraints = constraints_to_dict(parsed) if parsed else None
    return TakeData(take.name, take.skeleton, float(take.fps), features, segments,
                    [int(f) for f in take.locked_frames], selection, take.scope, positions, placement, source_rig,
                    constraints)


def _check_settings(settings: Any) -> dict:
    if not isinstance(settings, dict):
        raise ProjectError("the engine settings are not a dictionary")
    checks = {"engine": (lambda v: isinstance(v, str), "a name"),
              "guidance": (_is_number, "a number"),
              "seed": (_is_int, "a whole number"),
              "steps": (lambda v: _is_int(v) and v >= 1, "a whole number of at least 1")}
    for key, (ok, kind) in checks.items():
        if key in settings and not ok(settings[key]):
            raise ProjectError(f"the engine setting {key!r} is {settings[key]!r:.40}, expected {kind}")
    return settings


def _check_project(data: ProjectData) -> ProjectData:
    if not isinstance(data.meta, dict):
        raise ProjectError("the project's metadata is not a dictionary")
    if not isinstance(data.takes, list):
        raise ProjectError("the takes are not a list")
    takes = [_check_take(take) for take in data.takes]
    names = [take.name for take in takes]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise ProjectError(f"two takes are named {duplicate!r}")
    return ProjectData(data.meta, takes, _check_settings(data.settings))


# ----------------------------------------------------------------------------- saving


def _encode(data: ProjectData) -> bytes:
    """The .kinema file's bytes: project.json and arrays.npz in a ZIP."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta = {**data.meta, "app_version": _app_version(), "created": data.meta.get("created", now), "modified": now}
    arrays: dict[str, np.ndarray] = {}
    takes = []
    for i, take in enumerate(data.takes):
        arrays[f"take{i}_features"] = take.features
        if take.positions is not None:
            arrays[f"take{i}_positions"] = take.positions
        takes.append({"name": take.name, "skeleton": take.skeleton, "fps": take.fps, "frames": len(take.features),
                      "segments": take.segments, "locked_frames": take.locked_frames,
                      "selection": None if take.selection is None else list(take.selection), "scope": take.scope,
                      "has_positions": take.positions is not None,
                      **({"placement": take.placement} if take.placement is not None else {}),
                      **({"source_rig": take.source_rig} if take.source_rig is not None else {}),
                      **({"constraints": take.constraints} if take.constraints is not None else {})})
    document = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "meta": meta, "settings": data.settings,
                "takes": takes}
    try:
        text = json.dumps(document, indent=1, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ProjectError(f"the metadata, settings or segments hold something that cannot be saved ({exc})") from None
    npz = io.BytesIO()
    np.savez(npz, **arrays)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.json", text)
        archive.writestr("arrays.npz", npz.getvalue())
    return out.getvalue()


def save_project(path: str | os.PathLike, data: ProjectData) -> None:
    """Validate, then write atomically (app.engine.io.atomic: a temp file in the same folder, fsync, os.replace).

    Any failure leaves the previous file untouched and no temp file behind.
    """
    path = Path(path)
    try:
        payload = _encode(_check_project(data))
    except ProjectError as exc:
        raise ProjectError(f"cannot save {path.name}: {exc}") from None
    try:
        replace_from_temp(*temp_file_beside(path), path, payload)
    except OSError as exc:
        raise ProjectError(f"cannot save {path.name}: {exc.strerror or exc}") from exc


# ----------------------------------------------------------------------------- loading

_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _read_array(npz: zipfile.ZipFile, key: str, shape: tuple[int, ...], what: str) -> np.ndarray:
    """One array of arrays.npz, its header checked against `shape` before its data is read."""
    try:
        member = npz.open(f"{key}.npy")
    except KeyError:
        raise ProjectError(f"arrays.npz is missing {what}") from None
    with member:
        header = _NPY_HEADERS.get(np.lib.format.read_magic(member))
        if header is None:
            raise ProjectError(f"arrays.npz holds {what} in an unknown format")
        try:
            stored_shape, fortran_order, dtype = header(member)
        except Exception as exc:  # numpy parses the header as a Python literal: any parse error means damage
            raise ProjectError(f"arrays.npz holds {what} with a damaged header ({type(exc).__name__})") from None
        if stored_shape != shape or dtype.kind != "f":
            raise ProjectError(f"arrays.npz holds {what} of shape {stored_shape} ({dtype}), expected {shape} (float)")
        size = math.prod(shape) * dtype.itemsize
        raw = member.read(size + 1)
    if len(raw) != size:
        raise ProjectError(f"arrays.npz holds {what} with {len(raw)} bytes of data, expected {size}")
    return np.frombuffer(raw, dtype).reshape(shape, order="F" if fortran_order else "C").astype(np.float32)


def _field(entry: dict, key: str, where: str) -> Any:
    if key not in entry:
        raise ProjectError(f"{where} has no {key!r}")
    return entry[key]


def _document(archive: zipfile.ZipFile, name: str) -> dict:
    """project.json, once it is known to be a Kinema project this version can read."""
    names = set(archive.namelist())
    if "project.json" not in names:
        if "arrays.npz" in names:
            raise ProjectError(f"{name} is damaged: project.json is missing")
        raise ProjectError(f"{name} is not a Kinema project (a zip file without project.json)")
    try:
        document = json.loads(archive.read("project.json").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ProjectError(f"{name} is damaged: project.json is not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ProjectError(f"{name} is not a Kinema project (its project.json is not a Kinema document)")
    schema = document.get("schema_version")
    if not _is_int(schema) or schema < 1:
        raise ProjectError(f"{name} is damaged: project.json has an invalid schema version {schema!r:.40}")
    if schema > SCHEMA_VERSION:
        raise ProjectError(f"{name} was saved by a newer Kinema (schema {schema}; this version reads up to "
                           f"{SCHEMA_VERSION}). Update Kinema to open it.")
    return document


def _decode(archive: zipfile.ZipFile, document: dict) -> ProjectData:
    """The project from a readable document and its arrays; any problem is a ProjectError saying what is wrong."""
    entries = _field(document, "takes", "project.json")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ProjectError("the takes in project.json are not a list of takes")
    if "arrays.npz" not in archive.namelist():
        raise ProjectError("arrays.npz is missing")
    takes = []
    with zipfile.ZipFile(io.BytesIO(archive.read("arrays.npz"))) as npz:
        for i, entry in enumerate(entries):
            name = _field(entry, "name", f"take {i + 1}")
            where = f"take {name!r:.60}"
            frames, skeleton_name = _field(entry, "frames", where), _field(entry, "skeleton", where)
            if not _is_int(frames) or not 0 < frames < 2**31:
                raise ProjectError(f"{where} has an invalid frame count {frames!r:.40}")
            if not isinstance(skeleton_name, str):
                raise ProjectError(f"{where}: the skeleton name is not text")
            try:
                skeleton = skeleton_by_name(skeleton_name)
            except KeyError as exc:
                raise ProjectError(f"{where}: {exc.args[0]}") from None
            features = _read_array(npz, f"take{i}_features", (frames, skeleton.feature_dim), f"the features of {where}")
            positions = None
            if _field(entry, "has_positions", where) is True:
                positions = _read_array(npz, f"take{i}_positions", (frames, skeleton.n_joints, 3),
                                        f"the joint positions of {where}")
            selection = _field(entry, "selection", where)
            takes.append(TakeData(name, skeleton_name, _field(entry, "fps", where), features,
                                  _field(entry, "segments", where), _field(entry, "locked_frames", where),
                                  tuple(selection) if isinstance(selection, list) else selection,
                                  _field(entry, "scope", where), positions, entry.get("placement"),
                                  entry.get("source_rig"), entry.get("constraints")))
    return _check_project(ProjectData(_field(document, "meta", "project.json"), takes,
                                      _field(document, "settings", "project.json")))


def load_project(path: str | os.PathLike) -> ProjectData:
    """The whole project, checked; any problem with the file is one ProjectError that says what is wrong."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProjectError(f"{path.name} cannot be read: {exc.strerror or exc}") from None
    if not data:
        raise ProjectError(f"{path.name} is empty (0 bytes): it is not a Kinema project, or its save was cut short")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        if data.startswith(b"PK\x03\x04"):
            raise ProjectError(f"{path.name} is damaged: the file is cut short or corrupt (its zip index is missing)")
        raise ProjectError(f"{path.name} is not a Kinema project (not a zip file)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            document = _document(archive, path.name)
            try:
                return _decode(archive, document)
            except ProjectError as exc:
                raise ProjectError(f"{path.name} is damaged: {exc}") from None
    except ProjectError:
        raise
    except _READ_ERRORS as exc:
        raise ProjectError(f"{path.name} is damaged: its data cannot be read ({exc})") from None


def recovery_path(project_path: Path | None) -> Path:
    """Where the studio autosaves a project for crash recovery: $XDG_DATA_HOME/kinema/recovery (default
    ~/.local/share/kinema/recovery), one file per project. The folder is created if missing.

    The name carries a hash of the project's full path, so two projects with the same name in different folders
    do not share one recovery file; an unsaved project recovers to "untitled".
    """
    data_home = os.environ.get("XDG_DATA_HOME", "")
    # the XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored
    base = Path(data_home) if os.path.isabs(data_home) else Path.home() / ".local" / "share"
    folder = base / "kinema" / "recovery"
    folder.mkdir(parents=True, exist_ok=True)
    if project_path is None:
        return folder / "untitled.kinema.autosave"
    project_path = Path(project_path).absolute()
    digest = hashlib.sha1(str(project_path).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return folder / f"{project_path.stem}-{digest}.kinema.autosave"
