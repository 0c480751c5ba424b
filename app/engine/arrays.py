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
