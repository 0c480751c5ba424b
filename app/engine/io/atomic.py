"""Atomic file writes: exported files are either the old one or the complete new one, never half of one."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def temp_file_beside(path: Path) -> tuple[int, str, int]:
    """A new temp file in `path`'s folder -> (fd, its path, the mode the result should have: that of the file it
    replaces, since mkstemp's 0600 would hide it from others)."""
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    return fd, tmp, mode


def replace_from_temp(fd: int, tmp: str, mode: int, path: Path, data: bytes) -> None:
    """Write `data` to the temp file of `temp_file_beside`, fsync, then os.replace it over `path`; on any failure
    (an interrupt too) the temp file is removed and the error raised as it came."""
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then os.replace over `path`.

    A crash or error at any point leaves either the old file or the new one, never half of one.
    The file keeps the permissions of the one it replaces (mkstemp's 0600 would hide it from others).
    Failures are OSErrors that name `path` in plain words, never the temp file.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder; choose a file name ending in "
                                f"{path.suffix or '.bvh, .fbx or .glb'}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {path.parent} does not exist")
    try:
        fd, tmp, mode = temp_file_beside(path)
    except OSError as exc:  # e.g. a folder that takes no new files (/proc), or no permission
        reason = "the folder does not accept new files" if isinstance(exc, FileNotFoundError) else \
            (exc.strerror or str(exc)).lower()
        raise type(exc)(f"cannot write {path}: {reason}") from None
    try:
        replace_from_temp(fd, tmp, mode, path, data)
    except OSError as exc:
        raise type(exc)(f"cannot write {path}: {(exc.strerror or str(exc)).lower()}") from None
