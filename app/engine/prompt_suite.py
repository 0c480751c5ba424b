"""`kinema eval --suite`: plain one-line prompts, one per action, scored against the real takes' bands.

The test split's captions are long and stylised ("an exhausted man shuffles to the left and turns"); a new user
types "a person walks forward". Each prompt here names the action label its motion should match, and every
generated take is judged twice:
- by the same rule as the `phys agree` column (app.engine.physical): its signature against the 5–95 % bands of the
  real training takes with that label (where the dataset has that label);
- by the label's action rule (app.engine.action_rules: a jump leaves the floor, a kick lifts a foot above the hips),
  with thresholds calibrated on real takes and shipped with Kinema, so it needs no takes of the action in the data.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.engine import physical
from app.engine.action_rules import Rule, measures
from app.engine.features import positions_from_features
from app.engine.skeleton import Skeleton

SUITE: tuple[tuple[str, str], ...] = (  # (prompt, action label it should match)
    ("a person walks forward", "walk"),
    ("a person runs forward", "run"),
    ("a person dashes forward at full speed", "dash"),
    ("a person walks backwards", "walk-back"),
    ("a person walks to the left", "walk-left"),
    ("a person walks to the right", "walk-right"),
    ("a person walks forward and turns left", "walk-turn-left"),
    ("a person walks forward and turns right", "walk-turn-right"),
    ("a person bows", "bow"),
    ("a person raises both hands", "raise-up-both-hands"),
    ("a person raises the left hand", "raise-up-left-hand"),
    ("a person raises the right hand", "raise-up-right-hand"),
    ("a person waves both hands", "wave-both-hands"),
    ("a person waves the left hand", "wave-left-hand"),
    ("a person waves the right hand", "wave-right-hand"),
    ("a person waves goodbye", "bye"),
    ("a person points the way", "guide"),
    ("a person jumps up", "jump"),
    ("a person kicks", "kick"),
    ("a person punches forward", "punch"),
    ("a person sits down", "sit"),
    ("a person does jumping jacks", "jumping jacks"),
)
SUITE_FRAMES = 120  # 6 s at 20 fps: long enough for a turn, the length the tries used


@dataclass
class SuiteRow:
    model: str
    prompt: str
    label: str
    agreement: float      # share of seeds whose take agrees with the label's bands; nan without bands
    rule: float           # share of seeds whose take passes the label's action rule; nan without a rule
    speed: float          # median over seeds, m/s
    real_speed: float     # the label's real median, m/s; nan without bands
    heading_change: float  # median over seeds, deg
    head_drop: float      # median over seeds, fraction
    outside: str          # components outside their band in at least half of the seeds
    rule_values: str      # per check of the rule: the seeds' median measurement against its threshold; "-" without


def run_suite(model: str, engine: Callable[[str, int, int], np.ndarray], reference: physical.PhysicalReference,
              skeleton: Skeleton, seeds: int = 4, n_frames: int = SUITE_FRAMES,
              progress: Callable[[str], None] = lambda message: None,
              rules: dict[str, Rule] | None = None) -> list[SuiteRow]:
    """`engine(prompt, n_frames, seed) -> features (T, D)` for seeds 0..seeds-1, per prompt whose label has a band
    or a rule (`rules`: label -> Rule, from action_rules.load_rules)."""
    rules = rules or {}
    rows = []
    for prompt, label in SUITE:
        band, rule = reference.bands.get(label), rules.get(label)
        if band is None and rule is None:
            continue
        progress(f"{model}: {prompt!r}")
        takes = [positions_from_features(engine(prompt, n_frames, s).astype(np.float64), skeleton.n_joints) for s in range(seeds)]
        sigs = [physical.signature(p, skeleton) for p in takes]
        measured = [measures(p, skeleton) for p in takes] if rule else []
        inside = [band.inside(s) for s in sigs] if band else []
        outside = [c for c in physical.COMPONENTS if inside and np.mean([not i[c] for i in inside]) >= 0.5]
        rows.append(SuiteRow(model, prompt, label,
                             float(np.mean([band.agrees(s) for s in sigs])) if band else np.nan,
                             float(np.mean([rule.passes(m) for m in measured])) if rule else np.nan,
                             float(np.median([s["speed"] for s in sigs])), band.median["speed"] if band else np.nan,
                             float(np.median([s["heading_change"] for s in sigs])),
                             float(np.median([s["head_drop"] for s in sigs])), ", ".join(outside) or "-",
                             ", ".join(f"{n} {np.median([m[n] for m in measured]):.3g} {sense} {t:g}"
                                       for n, sense, t in rule.checks) if rule else "-"))
    if not rows:
        raise ValueError("no prompt of the suite has an action label with real takes in this dataset or an action rule")
    return rows


def format_suite(rows: list[SuiteRow], title: str) -> str:
    width = max(len(r.prompt) for r in rows) + 2
    header = (f"{'model':<10}{'prompt':<{width}}{'agree':>7}{'rule':>6}{'speed':>8}{'real':>7}{'turn°':>8}"
              f"{'head drop':>10}  outside; rule: median measurement, threshold")
    lines = [title, header]

    def cell(value: float, width: int, digits: int = 2) -> str:
        return f"{'-':>{width}}" if np.isnan(value) else f"{value:>{width}.{digits}f}"

    for r in rows:
        lines.append(f"{r.model:<10}{r.prompt:<{width}}{cell(r.agreement, 7)}{cell(r.rule, 6)}{r.speed:>8.2f}"
                     f"{cell(r.real_speed, 7)}{r.heading_change:>8.1f}{r.head_drop:>10.3f}  {r.outside}; {r.rule_values}")
    for model in dict.fromkeys(r.model for r in rows):
        banded = [r.agreement for r in rows if r.model == model and not np.isnan(r.agreement)]
        ruled = [r.rule for r in rows if r.model == model and not np.isnan(r.rule)]
        parts = [f"agreement {np.mean(banded):.2f} over {len(banded)} prompts"] if banded else []
        parts += [f"rule passed {np.mean(ruled):.2f} over {len(ruled)} prompts"] if ruled else []
        lines.append(f"{model}: " + "; ".join(parts))
    return "\n".join(lines)
