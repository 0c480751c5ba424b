"""The one table of file formats: every `-o`, `kinema convert` and the studio's Export and Import dialogs pick the
writer (or reader) by the file's extension here, and an extension not in it is one clear error before any file
is touched.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.engine.io.export import take_animation, write_animation_bvh
from app.engine.io.fbx import UNITS as FBX_UNITS
from app.engine.io.fbx import write_fbx
from app.engine.io.gltf import write_gltf
from app.engine.io.rig import RigAnimation, SkinnedMesh
from app.engine.skeleton import Skeleton


class UnknownFormat(ValueError):
    """The file's extension names no format Kinema can write (or read)."""


def _write_bvh(anim: RigAnimation, path: Path, units: str, mesh: SkinnedMesh | None,
               end_sites: dict[int, tuple[float, float, float]] | None) -> None:
    if mesh is not None:
        raise ValueError(f"{path.name}: BVH holds no body; export to .fbx or .glb to include it")
    write_animation_bvh(anim, path, units, end_sites)


def _write_fbx(anim: RigAnimation, path: Path, units: str, mesh: SkinnedMesh | None, end_sites) -> None:
    write_fbx(anim, path, mesh, units)


def _write_gltf(anim: RigAnimation, path: Path, units: str, mesh: SkinnedMesh | None, end_sites) -> None:
    if units not in FBX_UNITS:
        raise ValueError(f"units must be one of {', '.join(FBX_UNITS)}, got {units!r}")
    write_gltf(anim, path, mesh)  # glTF is metres by definition: the unit is for the formats that state one


@dataclass(frozen=True)
class Format:
    suffix: str
    name: str
    # (animation, path, units, body or None, leaf tips in metres or None) -> None; None: not writable
    write: Callable[[RigAnimation, Path, str, SkinnedMesh | None, dict | None], None] | None
    reads: bool  # `app.engine.document.files.read_take` reads it as a take
    carries_body: bool = False


FORMATS: dict[str, Format] = {f.suffix: f for f in (
    Format(".bvh", "BVH", _write_bvh, reads=True),
    Format(".fbx", "FBX", _write_fbx, reads=True, carries_body=True),
    Format(".glb", "glTF binary", _write_gltf, reads=True, carries_body=True),
    Format(".gltf", "glTF", _write_gltf, reads=True, carries_body=True),
    Format(".npy", "Joint positions", None, reads=True),
)}


def _suffixes(can: Callable[[Format], bool]) -> list[str]:
    return [s for s, f in FORMATS.items() if can(f)]


def writer_for(path: str | os.PathLike) -> Format:
    """The format that writes `path`, or UnknownFormat naming the extensions that work."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None or fmt.write is None:
        suffix = Path(path).suffix or "(no extension)"
        raise UnknownFormat(f"{Path(path).name}: cannot write {suffix} files; "
                            f"choose {', '.join(_suffixes(lambda f: f.write is not None))}")
    return fmt


def reader_for(path: str | os.PathLike) -> Format:
    """The format that reads `path`, or UnknownFormat naming the extensions that work."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None or not fmt.reads:
        suffix = Path(path).suffix or "(no extension)"
        raise UnknownFormat(f"{Path(path).name}: cannot read {suffix} files; "
                            f"Kinema reads {', '.join(_suffixes(lambda f: f.reads))}")
    return fmt


def file_filter(writing: bool = True) -> str:
    """A file dialog's filter list: all formats together first, then one entry per format."""
    formats = [f for f in FORMATS.values() if (f.write is not None if writing else f.reads)]
    every = " ".join(f"*{f.suffix}" for f in formats)
    return ";;".join([f"Motion ({every})", *(f"{f.name} (*{f.suffix})" for f in formats)])


def write_animation(anim: RigAnimation, path: str | os.PathLike, units: str = "cm",
                    mesh: SkinnedMesh | None = None,
                    end_sites: dict[int, tuple[float, float, float]] | None = None) -> None:
    """Write a rig's animation (and body, where the format carries one) in the format of `path`'s extension."""
    writer_for(path).write(anim, Path(path), units, mesh, end_sites)


def export_positions(positions: np.ndarray, skeleton: Skeleton, path: str | os.PathLike, fps: float = 20.0,
                     frame_range: tuple[int, int] | None = None, out_fps: float | None = None, units: str = "cm",
                     mesh: SkinnedMesh | None = None) -> None:
    """Frames `frame_range` (end exclusive) of a take's joint positions (T, J, 3), metres, on the skeleton's rig,
    optionally resampled to `out_fps`, written in the format of `path`'s extension. The write is atomic; an
    unknown extension fails before any work is done."""
    fmt = writer_for(path)
    anim = take_animation(positions, skeleton, fps, frame_range).resampled(out_fps)
    fmt.write(anim, Path(path), units, mesh, skeleton.end_sites)
