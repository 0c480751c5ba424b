"""Atomic file writes: exported files are either the old one or the complete new one, never half of one."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


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
        mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:  # e.g. a folder that takes no new files (/proc), or no permission
        reason = "the folder does not accept new files" if isinstance(exc, FileNotFoundError) else \
            (exc.strerror or str(exc)).lower()
        raise type(exc)(f"cannot write {path}: {reason}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise type(exc)(f"cannot write {path}: {(exc.strerror or str(exc)).lower()}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
