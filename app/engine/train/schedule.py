"""The learning-rate schedule every Kinema trainer uses."""
from __future__ import annotations

import math


def warmup_cosine(step: int, lr: float, warmup: int, steps: int) -> float:
    """Linear warmup over `warmup` steps, then cosine decay to a tenth of `lr` at `steps` (flat after). A resumed
    run with more `steps` stretches the decay to the new total."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
