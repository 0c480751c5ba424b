"""Action rules: does a take do what its action's name says (a jump leaves the floor, a kick raises a foot)?

Physical agreement (app.engine.physical) asks whether a take moves like the real takes of its label, component by
component. A rule asks one plainer question an animator asks first, in one or two measurements with a threshold
each: "a person jumps" must have both feet off the floor and the hips rising; "a person kicks" must lift a foot
above the hips. The measurements (`MEASURES`) read joint positions (T, J, 3), metres, Y up, the first frame facing +Z
with its left on +X, as the features give them back; heights and distances are fractions of the take's body height
(its own bones in the rest pose: a take that sits throughout has the body height of one that stands), speeds m/s.

Thresholds are calibrated on real takes of each action (`calibrate`: of the thresholds that pass `TARGET` of the
action's real takes, those that pass the fewest takes of other actions, then loosened by `TOLERANCE`) and stored,
reviewed, in `action_rules.json` beside this file; `kinema data calibrate-rules` rewrites it and prints how many
real takes of the action and of every other action pass. Nothing is fitted at eval time.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from itertools import product
from pathlib import Path

import numpy as np

from app.engine.data.dataset import MotionRecord
from app.engine.features import positions_from_features
from app.engine.io.atomic import write_atomic
from app.engine.metrics import FPS
from app.engine.physical import action_label, body_joints, facing_yaw
from app.engine.skeleton import Skeleton

THRESHOLDS_PATH = Path(__file__).with_name("action_rules.json")
TARGET = 0.9        # share of an action's real takes its rule must pass
AIRBORNE_FRAMES = 3  # frames (0.15 s) both feet must stay up for a take to count as off the floor
PUNCH_BELOW_CHEST = 0.1  # x body height: a hand lower than this under the chest swings (walks), it does not punch


@dataclass(frozen=True)
class RuleJoints:
    """The joints the rules read beyond physical.BodyJoints, found from the hierarchy (any preset works)."""

    chest: int                    # the deepest joint above both hands: where a punch starts
    shoulders: tuple[int, int]    # (left, right): the hand's grandparent (upper arm / shoulder joint)


@cache
def rule_joints(skeleton: Skeleton) -> RuleJoints:
    body = body_joints(skeleton)

    def ancestors(j: int) -> list[int]:
        out = []
        while j >= 0:
            out.append(j)
            j = skeleton.parents[j]
        return out

    left, right = ancestors(body.hand_left), ancestors(body.hand_right)
    chest = next(j for j in left if j in right)
    return RuleJoints(chest, (left[2], right[2]))


def rest_heights(positions: np.ndarray, skeleton: Skeleton) -> tuple[float, float]:
    """(body height, hip height) of the take's own bones standing in the skeleton's rest pose, metres.

    A take's highest head is no body height for a take that sits, crouches or bows throughout; its bone lengths
    (median over frames) are, whatever it does."""
    p = np.asarray(positions, dtype=np.float64)
    rest = np.zeros((skeleton.n_joints, 3))
    for j, parent in enumerate(skeleton.parents):
        if parent >= 0:
            length = np.median(np.linalg.norm(p[:, j] - p[:, parent], axis=-1))
            direction = skeleton.offsets[j] / max(float(np.linalg.norm(skeleton.offsets[j])), 1e-9)
            rest[j] = rest[parent] + direction * length
    floor = rest[[*skeleton.foot_left, *skeleton.foot_right], 1].min()
    return max(float(rest[body_joints(skeleton).head, 1] - floor), 1e-6), float(rest[0, 1] - floor)


def measures(positions: np.ndarray, skeleton: Skeleton, fps: float = FPS) -> dict[str, float]:
    """Every measurement a rule can read (see MEASURES), of one take (T >= 2, J, 3)."""
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim != 3 or p.shape[0] < 2 or p.shape[1] != skeleton.n_joints:
        raise ValueError(f"need positions (T >= 2, {skeleton.n_joints}, 3), got shape {p.shape}")
    body, extra = body_joints(skeleton), rule_joints(skeleton)
    stature, hip_height = rest_heights(p, skeleton)
    feet = [*skeleton.foot_left, *skeleton.foot_right]
    height = p[..., 1] - p[:, feet, 1].min()          # (T, J) above the take's floor
    root, head, chest = height[:, 0], height[:, body.head], height[:, extra.chest]
    hands = height[:, [body.hand_left, body.hand_right]]  # (T, 2)
    shoulders = height[:, list(extra.shoulders)]          # (T, 2)
    lowest_foot = height[:, feet].min(axis=1)             # (T,): 0 while any foot touches the floor
    sustained = np.lib.stride_tricks.sliding_window_view(lowest_foot, min(AIRBORNE_FRAMES, len(p))).min(axis=1)
    yaw = facing_yaw(p, skeleton)                         # (T,) 0 = +Z, + towards +X
    facing = np.stack([np.sin(yaw), np.cos(yaw)], axis=-1)   # (T, 2) as (x, z)
    left = np.stack([np.cos(yaw), -np.sin(yaw)], axis=-1)    # (T, 2) the body's left
    chest_to_hand = (p[:, [body.hand_left, body.hand_right]] - p[:, None, extra.chest])[..., [0, 2]]  # (T, 2, 2)
    ahead = (chest_to_hand * facing[:, None]).sum(-1)     # (T, 2) how far each hand is ahead of the chest
    raised = hands >= chest[:, None] - PUNCH_BELOW_CHEST * stature
    ankles = p[:, list(body.ankles)][..., [0, 2]]         # (T, 2, 2)
    travel = (p[-1, 0, [0, 2]] - p[0, 0, [0, 2]]) / ((len(p) - 1) / fps)  # (x, z) m/s
    return {
        "feet_off_floor": float(sustained.max()) / stature,
        "root_rise": float(root.max() - hip_height) / stature,
        "foot_above_hip": float((height[:, feet].max(axis=1) - root).max()) / stature,
        "hand_forward": float(np.where(raised, ahead, -np.inf).max(initial=-1.0 * stature)) / stature,
        "hip_drop": float(hip_height - root.min()) / stature,
        "hands_above_head": float((hands.min(axis=1) - head).max()) / stature,
        "left_hand_above_head": float((hands[:, 0] - head).max()) / stature,
        "right_hand_above_head": float((hands[:, 1] - head).max()) / stature,
        "feet_spread": float(np.abs(((ankles[:, 0] - ankles[:, 1]) * left).sum(-1)).max()) / stature,
        "left_hand_above_shoulder": float((hands[:, 0] - shoulders[:, 0]).max()) / stature,
        "right_hand_above_shoulder": float((hands[:, 1] - shoulders[:, 1]).max()) / stature,
        "both_hands_above_shoulders": float((hands - shoulders).min(axis=1).max()) / stature,
        "head_drop": float(1.0 - head.min() / max(float(head.max()), 1e-6)),
        "forward_speed": float(travel @ facing[0]),
        "left_speed": float(travel @ left[0]),
        "speed": float(np.linalg.norm(travel)),
        "turn_left": float(np.degrees(yaw[-1] - yaw[0])),
        "turn": float(abs(np.degrees(yaw[-1] - yaw[0]))),
    }


MEASURES = {  # what each measurement means, for the docs and the model card
    "feet_off_floor": f"highest both feet stay above the take's floor for {AIRBORNE_FRAMES} frames running, "
                      "x body height",
    "root_rise": "highest the hips rise above their height in the rest pose, x body height",
    "foot_above_hip": "highest a foot rises above the hips, x body height",
    "hand_forward": f"farthest a hand reaches ahead of the chest along the facing direction, while no lower than "
                    f"{PUNCH_BELOW_CHEST} body height under the chest, x body height",
    "hip_drop": "how far the hips sink below their height in the rest pose, x body height",
    "hands_above_head": "highest both hands are above the head at once, x body height",
    "left_hand_above_head": "highest the left hand rises above the head, x body height",
    "right_hand_above_head": "highest the right hand rises above the head, x body height",
    "feet_spread": "widest the ankles are apart sideways (along the body's left), x body height",
    "left_hand_above_shoulder": "highest the left hand rises above its shoulder, x body height",
    "right_hand_above_shoulder": "highest the right hand rises above its shoulder, x body height",
    "both_hands_above_shoulders": "highest both hands are above their shoulders at once, x body height",
    "head_drop": "how far the head sinks below its highest, x its highest height (physical.signature's)",
    "forward_speed": "net root travel along the first frame's facing, m/s (negative: backwards)",
    "left_speed": "net root travel towards the first frame's left, m/s (negative: to the right)",
    "speed": "net horizontal root travel, m/s",
    "turn_left": "facing change from the first to the last frame, degrees (negative: to the right)",
    "turn": "facing change from the first to the last frame either way, degrees",
}

# The rule of each action label: (measurement, ">=" or "<="), all of which must hold. The thresholds are in
# action_rules.json. A band (walk at a walking speed, not a run's) is the same measurement bounded both ways.
RULES: dict[str, tuple[tuple[str, str], ...]] = {
    # a run's flight phase also lifts both feet and the hips: a jump goes up more than along
    "jump": (("feet_off_floor", ">="), ("root_rise", ">="), ("speed", "<=")),
    "kick": (("foot_above_hip", ">="),),
    "punch": (("hand_forward", ">="), ("speed", "<=")),  # a walk's swinging hands reach ahead too
    "sit": (("hip_drop", ">="),),
    "jumping jacks": (("hands_above_head", ">="), ("feet_spread", ">=")),
    "walk": (("forward_speed", ">="), ("forward_speed", "<=")),
    "run": (("forward_speed", ">="), ("forward_speed", "<=")),
    "dash": (("forward_speed", ">="),),
    "walk-back": (("forward_speed", "<="),),
    "walk-left": (("left_speed", ">="), ("turn", "<=")),  # a sidestep: a walk that turns left also goes left
    "walk-right": (("left_speed", "<="), ("turn", "<=")),
    "walk-turn-left": (("turn_left", ">="), ("speed", ">=")),  # a turn on the spot is no walk
    "walk-turn-right": (("turn_left", "<="), ("speed", ">=")),
    "bow": (("head_drop", ">="), ("speed", "<=")),
    "raise-up-both-hands": (("hands_above_head", ">="),),
    "raise-up-left-hand": (("left_hand_above_head", ">="),),
    "raise-up-right-hand": (("right_hand_above_head", ">="),),
    "wave-both-hands": (("both_hands_above_shoulders", ">="),),
    "wave-left-hand": (("left_hand_above_shoulder", ">="),),
    "wave-right-hand": (("right_hand_above_shoulder", ">="),),
}


# Each calibrated threshold is then loosened by a difference an animator would not see (physical.SLACK's idea):
# the calibration is free to pick a bow's "no faster than 0.02 m/s" when no real bow drifts, but a generated bow
# drifting 5 cm a second still bows.
TOLERANCE = {"forward_speed": 0.1, "left_speed": 0.1, "speed": 0.1, "turn_left": 10.0, "turn": 10.0}  # m/s, degrees
TOLERANCE_BODY = 0.01  # every other measurement: a hundredth of the body height (about 1.3 cm)

# Where an action has too few real takes to calibrate on (fewer than MIN_TAKES, mirrors included: one kick, one
# jumping jack), a quantile of them is that one take's own number, and a generated take would have to kick exactly
# as high. There a check never asks for more than its words do: "above the hips" is 0 above them.
MIN_TAKES = 10
WORDS_BOUND = {
    "foot_above_hip": 0.0, "hands_above_head": 0.0, "left_hand_above_head": 0.0, "right_hand_above_head": 0.0,
    "left_hand_above_shoulder": 0.0, "right_hand_above_shoulder": 0.0, "both_hands_above_shoulders": 0.0,
    # "spread the feet": wider apart than any take that stands still in Bandai Namco's corpus (raised and waving
    # hands: 0.05-0.23 body height), where the one real jumping jack spreads them 0.59
    "feet_spread": 0.3,
}


@dataclass(frozen=True)
class Rule:
    """One action's rule with its calibrated thresholds: (measurement, sense, threshold) triples, all must hold."""

    label: str
    checks: tuple[tuple[str, str, float], ...]

    def passes(self, m: dict[str, float]) -> bool:
        return all(m[name] >= t if sense == ">=" else m[name] <= t for name, sense, t in self.checks)

    def describe(self) -> str:
        return " and ".join(f"{name} {sense} {t:g}" for name, sense, t in self.checks)


def calibrate(real: dict[str, np.ndarray], checks: tuple[tuple[str, str], ...], others: dict[str, np.ndarray],
              target: float = TARGET, step: float = 0.0025) -> tuple[tuple[str, str, float], ...]:
    """Thresholds for `checks` that pass at least `target` of the action's real takes and as few as possible of the
    other actions' takes (`real`, `others`: measurement -> (n,) values).

    Each check's candidates are its measurement's quantiles q = 0, step, ... 1 - target over the real takes (1 - q
    for "<="), rounded to 3 decimals outwards; every combination is tried. Ties go to the stricter combination."""
    n = len(next(iter(real.values())))
    if n == 0:
        raise ValueError("calibration needs at least one real take")
    levels = np.arange(0.0, 1.0 - target + step / 2, step)
    candidates = []  # per check: (threshold, level) pairs
    for name, sense in checks:
        v = real[name]
        if sense == ">=":
            values = np.floor(np.quantile(v, levels) * 1000) / 1000
        else:
            values = np.ceil(np.quantile(v, 1.0 - levels) * 1000) / 1000
        candidates.append(list(dict(zip(values.tolist(), levels.tolist())).items()))

    def passing(values: dict[str, np.ndarray], combo) -> np.ndarray:
        ok = np.ones(len(next(iter(values.values()))), dtype=bool)
        for (name, sense), (t, _) in zip(checks, combo):
            ok &= values[name] >= t if sense == ">=" else values[name] <= t
        return ok

    best, best_key = None, None
    for combo in product(*candidates):
        real_share = passing(real, combo).mean()
        if real_share < target:
            continue
        other_share = passing(others, combo).mean() if len(next(iter(others.values()), [])) else 0.0
        key = (other_share, -sum(level for _, level in combo))
        if best_key is None or key < best_key:
            best, best_key = combo, key
    assert best is not None, "unreachable: q = 0 passes every real take"
    return tuple((name, sense, float(t)) for (name, sense), (t, _) in zip(checks, best))


def load_rules(path: str | Path = THRESHOLDS_PATH) -> dict[str, Rule]:
    """The calibrated rules (label -> Rule) from the reviewed thresholds file."""
    data = json.loads(Path(path).read_text())
    return {label: Rule(label, tuple((c["measure"], c["sense"], float(c["threshold"])) for c in entry["checks"]))
            for label, entry in data["rules"].items()}


@dataclass
class Calibration:
    """One rule's thresholds and how they sort real takes: `real_pass` of its action, `other_pass` of the others."""

    rule: Rule
    n_real: int
    real_pass: float
    n_other: int
    other_pass: float
    most_passing_other: str  # the other label with the most passing takes: "label passed/takes"


def _loosen(check: tuple[str, str, float], n_real: int) -> tuple[str, str, float]:
    """A calibrated check loosened by its TOLERANCE, and capped at its words' bound where takes are few."""
    name, sense, t = check
    tolerance = TOLERANCE.get(name, TOLERANCE_BODY)
    t = round(t - tolerance if sense == ">=" else t + tolerance, 3)
    if n_real < MIN_TAKES and sense == ">=":
        t = min(t, WORDS_BOUND.get(name, t))
    return name, sense, t


def calibrate_rules(takes: list[dict[str, float]], labels: list[str], target: float = TARGET,
                    progress: Callable[[str], None] = lambda message: None) -> list[Calibration]:
    """Calibrate every rule in RULES whose action has real takes among `takes` (measurements, one per take)."""
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_label.setdefault(label, []).append(i)
    out = []
    for label, checks in RULES.items():
        mine = by_label.get(label)
        if not mine:
            progress(f"no real takes of {label!r}: its rule is left uncalibrated")
            continue
        names = {name for name, _ in checks}
        rest = [i for i, lab in enumerate(labels) if lab != label]
        thresholds = calibrate({n: np.array([takes[i][n] for i in mine]) for n in names}, checks,
                               {n: np.array([takes[i][n] for i in rest]) for n in names}, target)
        rule = Rule(label, tuple(_loosen(check, len(mine)) for check in thresholds))
        passed = np.array([rule.passes(m) for m in takes])
        others = np.array([lab != label for lab in labels])
        passing = {other: int(passed[idx].sum()) for other, idx in by_label.items() if other != label}
        most = max(passing, key=passing.get) if passing else ""
        out.append(Calibration(rule, len(mine), float(passed[~others].mean()), int(others.sum()),
                               float(passed[others].mean()) if others.any() else float("nan"),
                               f"{most} {passing[most]}/{len(by_label[most])}" if most and passing[most] else "-"))
    return out


def real_measures(records: list[MotionRecord], skeleton: Skeleton,
                  max_frames: int) -> tuple[list[dict[str, float]], list[str]]:
    """Measurements and action labels of real takes, each cut to its first `max_frames` frames (as `kinema eval`
    cuts the takes it scores); takes without a label are left out."""
    out, labels = [], []
    for r in records:
        label = action_label(r)
        if label and len(r.features) >= 2:
            positions = positions_from_features(r.features[:max_frames].astype(np.float64), skeleton.n_joints)
            out.append(measures(positions, skeleton))
            labels.append(label)
    return out, labels


def write_rules(calibrations: list[Calibration], path: str | Path, source: str, command: str) -> None:
    """Write the thresholds file (temp file, then rename: never half-written)."""
    data = {
        "about": "Action rules' thresholds, calibrated on real takes (app.engine.action_rules); measures in MEASURES.",
        "command": command,
        "calibrated_on": source,
        "target": TARGET,
        "measures": {n: MEASURES[n] for n in sorted({n for c in calibrations for n, _, _ in c.rule.checks})},
        "rules": {c.rule.label: {"checks": [{"measure": n, "sense": s, "threshold": t} for n, s, t in c.rule.checks],
                                 "real_takes": c.n_real, "real_pass": round(c.real_pass, 3),
                                 "other_pass": round(c.other_pass, 3), "most_passing_other": c.most_passing_other}
                  for c in calibrations},
    }
    write_atomic(path, (json.dumps(data, indent=1) + "\n").encode("utf-8"))


def format_calibration(calibrations: list[Calibration], title: str) -> str:
    width = max(len(c.rule.label) for c in calibrations) + 2
    lines = [title, f"{'action':<{width}}{'real':>6}{'pass':>7}{'others':>8}{'pass':>7}  {'most passing other':<28}rule"]
    for c in calibrations:
        lines.append(f"{c.rule.label:<{width}}{c.n_real:>6}{c.real_pass:>7.2f}{c.n_other:>8}{c.other_pass:>7.2f}  "
                     f"{c.most_passing_other:<28}{c.rule.describe()}")
    return "\n".join(lines)
