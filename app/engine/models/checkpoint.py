"""One self-contained safetensors file per model: weights, extra tensors (e.g. the dataset's Mean/Std), the model
config and free-form metadata (both JSON in the header). Written atomically; never pickled."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import tempfile
import types
import typing
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import torch
from safetensors import safe_open
from safetensors.torch import save_file

C = TypeVar("C")
MAX_CONFIG_INT = 1_000_000  # no model size or count of ours comes near it
EXTRA = "extra."  # key prefix of the extra tensors; model weights carry no prefix


def _shipped_folder() -> Path:
    """The trained models that come with Kinema: beside the source tree (a checkout, an editable install), else
    where a wheel installs them (its data files: <prefix>/share/kinema/checkpoints, found through the installed
    distribution's file list, so `pip install --prefix` and --user work too)."""
    beside_source = Path(__file__).resolve().parents[3] / "checkpoints"
    if beside_source.is_dir():
        return beside_source
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        for file in distribution("kinema").files or ():
            if file.parent.name == "checkpoints" and file.name == "masked.safetensors":
                return Path(file.locate()).resolve().parent
    except PackageNotFoundError:
        pass
    return Path(sys.prefix) / "share" / "kinema" / "checkpoints"


SHIPPED = _shipped_folder()


class CheckpointError(ValueError):
    """The checkpoint is missing, truncated, corrupt or not one of ours; the message names the file."""


def atomic_save(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: str | Path) -> None:
    """save_file into a temporary file beside `path`, then os.replace: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(fd)
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp, metadata=metadata)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a checkpoint is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _opened(path: Path):
    """safe_open with CheckpointError for a missing, truncated or corrupt file (also while reading tensors)."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt") as f:
            yield f
    except CheckpointError:
        raise
    except Exception as exc:  # safetensors raises its own error types for truncated and corrupt files
        raise CheckpointError(f"{path}: not a readable safetensors checkpoint (truncated or corrupt?): {exc}") from None


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, header metadata) of any safetensors file, with CheckpointError for a bad or missing file."""
    with _opened(Path(path)) as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})


def read_header(path: str | Path) -> dict[str, str]:
    """The header metadata alone (config, training summary), without reading any tensor."""
    with _opened(Path(path)) as f:
        return dict(f.metadata() or {})


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def kept_encoder_sha256s(path: str | Path) -> set[str]:
    """The sha256s of the autoencoder files whose encoder (and codebook) `path`, a decoder-only fine-tune, kept: models
    trained on any of those files' codes or latents read this one too. Empty for any other file.

    A fine-tune of a fine-tune keeps the whole line: the shipped VAE of 2026-12-03 is itself a refitted decoder, and
    its denoiser (trained on that file) must read a decoder refitted again. Files written before 2026-12-04 record
    one sha256 as a string."""
    try:
        kept = json.loads(read_header(path).get("metadata", "{}")).get("encoder_sha256")
    except (json.JSONDecodeError, AttributeError):
        return set()
    return {kept} if isinstance(kept, str) else {k for k in kept or () if isinstance(k, str)}


def encoder_sha256_for_fine_tune(init: str | Path) -> list[str]:
    """What a decoder-only fine-tune of `init` records as its `encoder_sha256`: init and every file whose encoder
    init itself kept."""
    return sorted({file_sha256(init)} | kept_encoder_sha256s(init))


def config_from(cls: type[C], values: dict, source: str | Path = "checkpoint") -> C:
    """A config dataclass from a header's JSON: unknown keys are ignored (older or newer files), known ones must
    have their field's type, so a tampered header is refused here rather than failing deep inside a model."""
    if not isinstance(values, dict):
        raise CheckpointError(f"{source}: the model config in its header is not a JSON object")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        value = values[f.name]
        if not _has_type(value, hints[f.name]):
            raise CheckpointError(f"{source}: config field {f.name!r} is {value!r}, not "
                                  f"{getattr(hints[f.name], '__name__', hints[f.name])} (tampered or corrupt header)")
        kwargs[f.name] = tuple(value) if isinstance(f.default, tuple) and isinstance(value, list) else value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{source}: the model config in its header is invalid: {exc}") from None


def _has_type(value: object, hint: object) -> bool:
    """JSON `value` fits the annotation `hint` (int, float, bool, str, None, list/tuple of those, unions)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, a) for a in args)
    if origin in (list, tuple):
        return isinstance(value, (list, tuple)) and all(_has_type(v, args[0]) for v in value) if args else True
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is int:  # sizes and counts: a huge one would allocate without bound before the weights are checked
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_CONFIG_INT
    if hint in (bool, str):
        return isinstance(value, hint)
    return True  # anything richer is checked by the model that reads it


def save_checkpoint(path: str | Path, model: torch.nn.Module, config: dict, extra_tensors: dict[str, torch.Tensor] | None = None,
                    metadata: dict | None = None) -> None:
    tensors = dict(model.state_dict())
    tensors.update({EXTRA + k: v for k, v in (extra_tensors or {}).items()})
    atomic_save(tensors, {"config": json.dumps(config), "metadata": json.dumps(metadata or {}, default=str)}, path)


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict, dict[str, torch.Tensor], dict]:
    """-> (model state dict, config dict, extra tensors, metadata dict)."""
    tensors, header = read_safetensors(path)
    if "config" not in header:
        raise CheckpointError(f"{path}: no model config in the header; not a Kinema model checkpoint")
    try:
        config, metadata = json.loads(header["config"]), json.loads(header.get("metadata", "{}"))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: corrupt header JSON: {exc}") from None
    broken = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if broken:
        raise CheckpointError(f"{path}: {len(broken)} weight tensor(s) hold NaN or infinite values ({broken[0]}, …): "
                              "the file is corrupt")
    state = {k: v for k, v in tensors.items() if not k.startswith(EXTRA)}
    extra = {k[len(EXTRA):]: v for k, v in tensors.items() if k.startswith(EXTRA)}
    return state, config, extra, metadata
