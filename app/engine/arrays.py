"""NumPy at the edges, PyTorch inside: engine maths is written once in torch and accepts either."""
from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import numpy as np
import torch

F = TypeVar("F", bound=Callable[..., Any])


def numpy_or_torch(fn: F) -> F:
    """Run `fn` on torch tensors; if its first argument was a NumPy array, return NumPy arrays.

    float64 input stays float64 (the reference checks against HumanML3D need it); other NumPy
    dtypes become float32.
    """

    @functools.wraps(fn)
    def wrapper(x, *args, **kwargs):
        if isinstance(x, torch.Tensor):
            return fn(x, *args, **kwargs)
        arr = np.asarray(x)
        dtype = np.float64 if arr.dtype == np.float64 else np.float32
        out = fn(torch.from_numpy(np.ascontiguousarray(arr, dtype=dtype)), *args, **kwargs)
        if isinstance(out, tuple):
            return tuple(o.numpy() for o in out)
        return out.numpy()

    return wrapper  # type: ignore[return-value]


def pad_to_multiple(frames: np.ndarray, unit: int) -> np.ndarray:
    """frames (T, ...) with the last one repeated up to a multiple of `unit` (models that see `unit` frames per
    token or latent); the caller trims the result back to T."""
    extra = -len(frames) % unit
    return np.concatenate([frames, np.repeat(frames[-1:], extra, axis=0)]) if extra else frames


def normalised_batch(features: np.ndarray, mean: np.ndarray, std: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """Un-normalised features (T, D) -> the model input (1, T, D) float32 on `device`."""
    return torch.from_numpy(((features - mean) / std).astype(np.float32))[None].to(device)
