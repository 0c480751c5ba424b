"""`--init`: start a run from a trained checkpoint of the same model config, to fine-tune it on new data.

Retraining on a widened dataset (a second corpus beside Bandai Namco) need not start from random weights: the
tokenizer, VAE, masked model and denoiser each start from the shipped file and learn the new takes in a fraction of
the steps. Only the weights carry over (optimizer moments and the step count start afresh, so the warmup-cosine
schedule runs again in full); a resume file of the same output still wins over `--init`.
"""
from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path

from torch import nn

from app.engine.models.checkpoint import CheckpointError, config_from, load_checkpoint


def load_initial_weights(model: nn.Module, path: str | Path, config, what: str,
                         extras: dict[str, nn.Module] | None = None) -> dict:
    """Load `path`'s weights into `model` (and into each of `extras`, from the checkpoint's `<name>.*` extra
    tensors, e.g. {"length": length_predictor}); -> the checkpoint's metadata. CheckpointError when the file holds
    a model of another config than `config` (this run's config dataclass), naming the fields that differ. A field
    the file does not name was added to the config after it was written: it holds that field's default, read by
    `config_from` as when the file is loaded for inference."""
    state, saved, extra, meta = load_checkpoint(path)
    known = {f.name for f in fields(config)}  # a key the config lacks still differs (a file of another model)
    as_loaded = asdict(config_from(type(config), saved, path)) | {k: v for k, v in saved.items() if k not in known}
    saved, wanted = json.loads(json.dumps(as_loaded)), json.loads(json.dumps(asdict(config)))
    if saved != wanted:
        differ = sorted(k for k in set(saved) | set(wanted) if saved.get(k) != wanted.get(k))
        raise CheckpointError(f"--init {path} is a {what} of another config ({', '.join(differ)} differ: "
                              + "; ".join(f"{k} {saved.get(k)!r} there, {wanted.get(k)!r} here" for k in differ[:4])
                              + ")")
    try:
        model.load_state_dict(state)
        for name, net in (extras or {}).items():
            net.load_state_dict({k[len(name) + 1:]: v for k, v in extra.items() if k.startswith(name + ".")})
    except RuntimeError as exc:
        raise CheckpointError(f"--init {path}: weights do not match its config: {exc}") from None
    return meta
