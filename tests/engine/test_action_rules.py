"""The action rules, with their shipped thresholds, on motions whose answer is known by construction; and the
calibration on a tiny set whose best thresholds are known."""
import json

import numpy as np
import pytest

from app.engine import action_rules
from app.engine.action_rules import (
    RULES,
    calibrate,
    calibrate_rules,
    load_rules,
    measures,
    write_rules,
)
from app.engine.skeleton import BANDAI_NAMCO_21 as SK
from tests.engine.test_physical import _pitch, _rest, _yaw

FPS = 20
T = 60
SHIPPED = load_rules()
UPPER_ARM_L, UPPER_ARM_R, UPPER_LEG_L, UPPER_LEG_R = (SK.index(n) for n in ("UpperArm_L", "UpperArm_R", "UpperLeg_L", "UpperLeg_R"))


def _roll(deg: float) -> np.ndarray:
    """Rotation about +Z taking +X towards +Y for positive angles (the left arm of the T-pose rising)."""
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


def _hold(pose: np.ndarray, frames: range, base: np.ndarray | None = None) -> np.ndarray:
    """A standing take (T, J, 3) that holds `pose` during `frames`."""
    p = np.repeat((_rest() if base is None else base)[None], T, axis=0)
    p[frames.start:frames.stop] = pose
    return p


def _passes(label: str, p: np.ndarray) -> bool:
    return SHIPPED[label].passes(measures(p, SK))


STILL = np.repeat(_rest()[None], T, axis=0)
ARMS_DOWN = _rest({UPPER_ARM_L: _roll(-80), UPPER_ARM_R: _roll(80)})  # a person standing, arms hanging


def _travel(velocity_xz: tuple[float, float]) -> np.ndarray:
    p = np.repeat(ARMS_DOWN[None], T, axis=0)
    t = np.arange(T)[:, None] / FPS
    p[..., 0] += velocity_xz[0] * t
    p[..., 2] += velocity_xz[1] * t
    return p


def test_every_rule_has_shipped_thresholds():
    assert set(SHIPPED) == set(RULES)
    for label, rule in SHIPPED.items():
        assert [(n, s) for n, s, _ in rule.checks] == list(RULES[label]), label


def test_a_jump_passes_the_jump_rule_and_standing_fails_it():
    jump = STILL.copy()
    jump[25:32, :, 1] += 0.3  # the whole body 30 cm up for 7 frames
    assert _passes("jump", jump)
    assert not _passes("jump", STILL)
    hop = STILL.copy()
    hop[25, :, 1] += 0.3  # one frame in the air is a glitch, not a jump
    assert measures(hop, SK)["feet_off_floor"] == 0.0


def test_a_kick_raises_a_foot_above_the_hips():
    kick = _hold(_rest({UPPER_LEG_R: _pitch(-100)}), range(20, 30))
    assert measures(kick, SK)["foot_above_hip"] > 0.0
    assert _passes("kick", kick)
    assert not _passes("kick", _hold(_rest({UPPER_LEG_R: _pitch(-45)}), range(20, 30)))  # a step, not a kick
    assert not _passes("kick", STILL)


def test_a_punch_puts_a_hand_ahead_of_the_chest():
    punch = _hold(_rest({UPPER_ARM_L: _roll(-80), UPPER_ARM_R: _yaw(90)}), range(20, 26), ARMS_DOWN)  # right arm forward
    assert _passes("punch", punch)
    assert not _passes("punch", STILL)  # T-pose: the hands are out to the sides
    assert not _passes("punch", np.repeat(ARMS_DOWN[None], T, axis=0))
    walking = punch.copy()
    walking[..., 2] += 1.0 * np.arange(T)[:, None] / FPS
    assert not _passes("punch", walking)  # the hand ahead while walking at 1 m/s: a swing, not a punch


def test_a_sit_lowers_the_hips():
    seated = _rest()
    upper = [j for j in range(SK.n_joints) if j in SK.upper_body or j == 0]
    seated[upper, 1] -= 0.35  # the upper body sinks 35 cm (the legs' lengths are off while seated: a minority)
    sit = _hold(seated, range(40, T))
    assert _passes("sit", sit)
    assert not _passes("sit", STILL)
    bend = seated.copy()
    bend[upper, 1] += 0.25  # sinks 10 cm: a knee bend
    assert not _passes("sit", _hold(bend, range(40, T)))


def test_jumping_jacks_need_both_hands_up_and_the_feet_apart():
    arms_up = {UPPER_ARM_L: _roll(80), UPPER_ARM_R: _roll(-80)}
    legs_apart = {UPPER_LEG_L: _roll(30), UPPER_LEG_R: _roll(-30)}
    jack = np.repeat(_rest()[None], T, axis=0)
    jack[10:20] = _rest(arms_up | legs_apart)
    assert _passes("jumping jacks", jack)
    assert not _passes("jumping jacks", _hold(_rest(arms_up), range(10, 20)))      # hands up, feet together
    assert not _passes("jumping jacks", _hold(_rest(legs_apart), range(10, 20)))  # feet apart, T-pose arms


@pytest.mark.parametrize(("velocity", "passing"), [
    ((0.0, 1.2), {"walk"}),
    ((0.0, 2.0), {"run"}),
    ((0.0, 3.5), {"run", "dash"}),
    ((0.0, -0.8), {"walk-back"}),
    ((0.6, 0.0), {"walk-left"}),
    ((-0.6, 0.0), {"walk-right"}),
    ((0.0, 0.0), set()),
])
def test_travel_rules_read_speed_and_direction_against_the_facing(velocity, passing):
    travel = {"walk", "run", "dash", "walk-back", "walk-left", "walk-right"}
    p = _travel(velocity)
    assert {label for label in travel if _passes(label, p)} == passing


def _walk_turning(degrees: float, speed: float = 1.0) -> np.ndarray:
    """Walking at `speed` m/s along the body's facing while turning `degrees` to the left."""
    heading = np.radians(degrees) * np.arange(T) / (T - 1)
    step = speed / FPS * np.stack([np.sin(heading), np.zeros(T), np.cos(heading)], axis=-1)  # (T, 3)
    root = np.cumsum(step, axis=0) - step[0]
    return np.stack([ARMS_DOWN @ _yaw(np.degrees(h)).T for h in heading]) + root[:, None]


def test_turns_and_bows():
    turn = _walk_turning(100.0)
    assert _passes("walk-turn-left", turn) and not _passes("walk-turn-right", turn)
    assert _passes("walk-turn-right", turn * [-1, 1, 1]) and not _passes("walk-turn-right", STILL)
    assert not _passes("walk-turn-left", _walk_turning(100.0, speed=0.0))  # turning on the spot is no walk
    assert measures(_walk_turning(100.0), SK)["left_speed"] > 0.3
    assert not _passes("walk-left", turn)  # goes left by turning, as diffusion's "walks to the left" did: no sidestep
    spine = SK.index("Spine")
    bow = _hold(_rest({UPPER_ARM_L: _roll(-80), UPPER_ARM_R: _roll(80), spine: _pitch(50)}), range(20, 40), ARMS_DOWN)
    assert _passes("bow", bow)
    assert not _passes("bow", np.repeat(ARMS_DOWN[None], T, axis=0))
    bow_walking_back = bow.copy()
    bow_walking_back[..., 2] -= 0.5 * np.arange(T)[:, None] / FPS
    assert not _passes("bow", bow_walking_back)  # issue 12's bow that walks backwards


def test_raised_and_waving_hands_are_told_apart_left_from_right():
    left_up = _hold(_rest({UPPER_ARM_L: _roll(80), UPPER_ARM_R: _roll(80)}), range(20, 40), ARMS_DOWN)
    assert _passes("raise-up-left-hand", left_up) and _passes("wave-left-hand", left_up)
    assert not _passes("raise-up-right-hand", left_up) and not _passes("raise-up-both-hands", left_up)
    assert not _passes("wave-right-hand", left_up) and not _passes("wave-both-hands", left_up)
    both_up = _hold(_rest({UPPER_ARM_L: _roll(80), UPPER_ARM_R: _roll(-80)}), range(20, 40), ARMS_DOWN)
    assert _passes("raise-up-both-hands", both_up) and _passes("wave-both-hands", both_up)
    hanging = np.repeat(ARMS_DOWN[None], T, axis=0)
    assert not any(_passes(label, hanging) for label in RULES if "hand" in label)


def test_measures_refuse_a_wrong_shape():
    with pytest.raises(ValueError, match="need positions"):
        measures(np.zeros((1, SK.n_joints, 3)), SK)


def test_calibration_passes_the_target_and_as_few_others_as_it_can():
    real = {"a": np.arange(1.0, 11.0)}  # ten real takes, 1..10
    others = {"a": np.array([0.5, 1.5, 1.5, 1.5])}
    (name, sense, t), = calibrate(real, (("a", ">="),), others, target=0.9)
    assert (name, sense) == ("a", ">=")
    assert 1.5 < t <= 2.0  # 9 of 10 real takes pass; every other take is left below
    (_, _, t), = calibrate(real, (("a", ">="),), {"a": np.array([100.0])}, target=0.9)
    assert t == pytest.approx(1.9)  # nothing to separate from: the strictest quantile the target allows
    (_, _, t), = calibrate(real, (("a", "<="),), {"a": np.array([9.8])}, target=0.9)
    assert 9.0 <= t < 9.8


def test_calibrate_rules_reports_both_shares_and_caps_tiny_sets_at_their_words(tmp_path):
    takes = [{"forward_speed": v} for v in (1.0, 1.1, 1.2, 1.3, 1.25, 1.15, 1.05, 1.2, 1.1, 1.3, 3.0, 3.2)]
    labels = ["walk"] * 10 + ["run"] * 2
    takes += [{"foot_above_hip": 0.15}, {"foot_above_hip": -0.4}]
    labels += ["kick", "walk-x"]
    for t in takes:  # every take carries every measurement a rule here reads
        t.setdefault("forward_speed", 0.0)
        t.setdefault("foot_above_hip", -0.5)
    by_label = {c.rule.label: c for c in calibrate_rules(takes, labels)}
    walk = by_label["walk"]
    assert walk.n_real == 10 and walk.real_pass >= 0.9 and walk.other_pass == 0.0
    assert walk.rule.checks[0][2] <= 1.0 - action_rules.TOLERANCE["forward_speed"] + 0.05  # loosened by the tolerance
    kick = by_label["kick"]
    assert kick.rule.checks == (("foot_above_hip", ">=", 0.0),)  # one take: the words' bound, not its own 0.15
    assert kick.real_pass == 1.0 and kick.other_pass == 0.0
    assert "jump" not in by_label  # no real jumps: uncalibrated
    path = tmp_path / "rules.json"
    write_rules(list(by_label.values()), path, "tiny", "kinema data calibrate-rules tiny")
    assert load_rules(path)["walk"] == walk.rule
    assert json.loads(path.read_text())["rules"]["walk"]["real_pass"] == pytest.approx(walk.real_pass, abs=1e-3)


def test_the_shipped_thresholds_file_names_its_command():
    data = json.loads(action_rules.THRESHOLDS_PATH.read_text())
    assert data["command"].startswith("kinema data calibrate-rules")
    assert all(entry["real_pass"] >= data["target"] for entry in data["rules"].values())
