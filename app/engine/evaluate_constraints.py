"""`kinema eval` rows for generation under constraints, on the test split: each test take's own root path and
hand/foot positions are given to the engine, and the result is scored like generation plus how well it obeys.

- `path`: waypoints every `spacing` frames (1 s) of the real take's root path, each tied to its frame. Adds the
  path error (cm, the root's mean distance from the real path over every frame) and the error at the waypoints
  (cm, the largest).
- `pins`: the same path, plus a hand and a foot pinned to where the real take has them at a third and at two
  thirds of the take. Adds the pin error (cm, the largest over all pins).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.engine.constraints import Constraints, Pin, Waypoint, effector_chains
from app.engine.data.dataset import MotionRecord
from app.engine.evaluate import MAX_FRAMES
from app.engine.features import positions_from_features
from app.engine.skeleton import Skeleton


def real_constraints(positions: np.ndarray, skeleton: Skeleton, spacing: int, pins: bool) -> Constraints:
    """The waypoints (every `spacing` frames and the last frame) and, with `pins`, a hand and a foot at a third and
    two thirds of a real take's positions (T, J, 3), alternating sides by take length."""
    n = len(positions)
    frames = sorted({*range(spacing, n, spacing), n - 1} - {0})
    waypoints = tuple(Waypoint(float(positions[f, 0, 0]), float(positions[f, 0, 2]), f) for f in frames)
    if not pins:
        return Constraints(waypoints)
    side = n % 2  # 0: right hand, left foot; 1: left hand, right foot
    feet = {*skeleton.foot_left, *skeleton.foot_right}
    limbs = [j for j, (joints, _) in effector_chains(skeleton).items() if len(joints) == 3 and j not in feet]
    hands = sorted(limbs, key=lambda j: positions[0, j, 0])  # the right hand (-X) first
    foot = (skeleton.foot_left, skeleton.foot_right)[side][0]
    chosen = ((hands[side], n // 3), (foot, 2 * n // 3))
    return Constraints(waypoints, tuple(Pin(skeleton.joint_names[j], f, tuple(float(v) for v in positions[f, j]))
                                        for j, f in chosen))


@dataclass
class ConstrainedSource:
    skeleton: Skeleton
    pins: bool = False
    engine: str = "masked"
    spacing: int = 20
    name: str = "path"
    reconstructs: bool = False
    stochastic: bool = False  # scored on obeying the constraints; MultiModality is generation's
    extra: dict[str, float] = field(default_factory=dict)
    model: object | None = None  # a loaded pipeline (tests); default: the shipped checkpoints
    guidance: float | None = None  # None: the verb's default (app.engine.ops)

    def __call__(self, records: list[MotionRecord], captions: list[str], seed: int) -> list[np.ndarray]:
        from app.engine.ops import generate

        out, path, at_waypoints, at_pins = [], [], [], []
        for i, (r, c) in enumerate(zip(records, captions)):
            real = positions_from_features(r.features[:MAX_FRAMES].astype(np.float64), self.skeleton.n_joints)
            constraints = real_constraints(real, self.skeleton, self.spacing, self.pins)
            motion = generate(c, len(real), seed=seed + i, guidance=self.guidance, engine=self.engine, model=self.model,
                              constraints=constraints)
            got = motion.positions
            path.append(np.linalg.norm(got[:, 0, [0, 2]] - real[:, 0, [0, 2]], axis=-1).mean())
            frames = [w.frame for w in constraints.waypoints]
            at_waypoints.append(np.linalg.norm(got[frames][:, 0, [0, 2]] - real[frames][:, 0, [0, 2]], axis=-1).max())
            at_pins.extend(np.linalg.norm(got[p.frame, self.skeleton.index(p.joint)] - p.position)
                           for p in constraints.pins)
            out.append(motion.features)
        self.extra = {"path_error_cm": 100.0 * float(np.mean(path)),
                      "waypoint_error_cm": 100.0 * float(np.max(at_waypoints))}
        if self.pins:
            self.extra["pin_error_cm"] = 100.0 * float(np.max(at_pins))
        return out
