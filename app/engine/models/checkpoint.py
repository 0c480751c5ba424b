"""One self-contained safetensors file per model: weights, extra tensors (e.g. the dataset's Mean/Std), the model
config and free-form metadata (both JSON in the header). Written atomically; never pickled."""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

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


def read_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, header metadata) of any safetensors file, with CheckpointError for a bad or missing file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
    except Exception as exc:  # safetensors raises its own error types for truncated and corrupt files
        raise CheckpointError(f"{path}: not a readable safetensors checkpoint (truncated or corrupt?): {exc}") from None


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
    state = {k: v for k, v in tensors.items() if not k.startswith(EXTRA)}
    extra = {k[len(EXTRA):]: v for k, v in tensors.items() if k.startswith(EXTRA)}
    return state, config, extra, metadata
