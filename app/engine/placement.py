"""Where an imported take stood in its file, so that an edited take goes back to the same spot.

Models and the studio work on canonical takes (on the floor, starting at the origin, facing +Z: `canonicalize`).
An animator who imports a walk that starts five metres away, facing left, edits its arms and exports it expects
the result to line up with the original in their scene. `Placement` is the rigid motion that `canonicalize`
removed, a turn about the vertical axis and a shift, and `to_world` puts it back.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.engine.features import canonicalize
from app.engine.skeleton import Skeleton


@dataclass(frozen=True)
class Placement:
    """world = turn about +Y by `yaw` radians, then shift by `offset` (metres). The default places nothing.
    `fps`: the file's own frame rate (takes are edited at 20 fps), which exports offer by default."""

    yaw: float = 0.0
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    fps: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.yaw) and len(self.offset) == 3 and all(math.isfinite(v) for v in self.offset)):
            raise ValueError(f"a placement needs a finite yaw and three finite offsets, got {self.yaw!r}, {self.offset!r}")
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"a placement's frame rate must be positive, got {self.fps!r}")

    @property
    def is_identity(self) -> bool:
        return self.yaw == 0.0 and self.offset == (0.0, 0.0, 0.0)

    def to_world(self, positions: np.ndarray) -> np.ndarray:
        """Canonical positions (..., 3) -> where the take stood."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        x, y, z = positions[..., 0], positions[..., 1], positions[..., 2]
        turned = np.stack([c * x + s * z, y, -s * x + c * z], axis=-1)  # rotation about +Y by yaw
        return (turned + np.asarray(self.offset, turned.dtype)).astype(positions.dtype)

    def to_dict(self) -> dict:
        return {"yaw": self.yaw, "offset": list(self.offset), **({"fps": self.fps} if self.fps else {})}

    @classmethod
    def from_dict(cls, data: dict) -> Placement:
        fps = data.get("fps")
        return cls(float(data["yaw"]), tuple(float(v) for v in data["offset"]), None if fps is None else float(fps))


def placement_of(positions: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, Placement]:
    """(canonical positions, the placement that gives `positions` back) for positions (T, J, 3) in metres.

    canonicalize moves the take rigidly, so the turn and shift are fitted exactly (least squares over every
    joint and frame, which is exact up to float rounding for a rigid motion)."""
    canonical = np.asarray(canonicalize(positions, skeleton))
    c, w = canonical.reshape(-1, 3).astype(np.float64), np.asarray(positions, np.float64).reshape(-1, 3)
    cc, wc = c - c.mean(0), w - w.mean(0)
    # best turn about Y taking c onto w: maximise sum of (R c) . w over the x/z plane
    yaw = math.atan2(float((cc[:, 2] * wc[:, 0] - cc[:, 0] * wc[:, 2]).sum()),
                     float((cc[:, 0] * wc[:, 0] + cc[:, 2] * wc[:, 2]).sum()))
    turned = Placement(yaw).to_world(c)
    offset = tuple(float(v) for v in (w - turned).mean(0))
    return canonical, Placement(yaw, offset)
