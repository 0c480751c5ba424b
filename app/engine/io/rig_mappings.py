"""Joint mappings the user made by hand, saved per rig so that the next file on the same rig maps itself.

A rig is known by its joint names (the set, in order), so a mapping made for one Mixamo export serves every
export of that character. Files live in $XDG_CONFIG_HOME/kinema/rig-mappings (default ~/.config/...).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from app.engine.io.atomic import write_atomic


def mappings_folder() -> Path:
    config = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(config) if os.path.isabs(config) else Path.home() / ".config"  # a relative one is invalid (XDG)
    return base / "kinema" / "rig-mappings"


def mapping_path(names: tuple[str, ...] | list[str]) -> Path:
    digest = hashlib.sha1("\n".join(names).encode("utf-8")).hexdigest()[:16]
    return mappings_folder() / f"{digest}.json"


def load_mapping(names: tuple[str, ...] | list[str]) -> dict[str, str] | None:
    """The saved mapping (our joint name -> the rig's) for a rig with these joint names, if any; a file that
    does not fit the rig (edited by hand, say) is ignored."""
    path = mapping_path(names)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    mapping = data.get("mapping") if isinstance(data, dict) else None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) and v in names for v in mapping.values()):
        return None
    return {str(k): v for k, v in mapping.items()}


def save_mapping(names: tuple[str, ...] | list[str], mapping: dict[str, str]) -> Path:
    """Save atomically (app.engine.io.atomic: the old file or the whole new one); returns where."""
    path = mapping_path(names)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps({"joints": list(names), "mapping": mapping}, indent=1).encode("utf-8"))
    return path
