import numpy as np
import pytest

from app.engine.constraints import (
    Constraints, Pin, Waypoint, apply_pins, check_constraints, constrain, follow_path, parse_pin, parse_waypoints,
    pin_conflicts, waypoint_frames,
)
from app.engine.features import canonicalize, features_from_positions, positions_from_features
from app.engine.skeleton import BANDAI_NAMCO_21 as SK


@pytest.fixture(scope="module")
def walk() -> np.ndarray:
    """Positions (81, J, 3) of a real walk along +Z, canonical."""
    from pathlib import Path

    from app.engine.data.bandai_namco import take_positions

    name = "dataset-2_walk_normal_001"
    sample = Path(__file__).resolve().parents[2].parent / "shared/data/bandai-namco/sample" / f"{name}.bvh"
    return canonicalize(take_positions(sample.read_text(), name)[:81], SK)


def test_waypoints_and_pins_parse_and_bad_ones_say_how_to_write_them():
    assert parse_waypoints("0.5,2@40; -1,3.5 ;2,4@100") == (Waypoint(0.5, 2.0, 40), Waypoint(-1.0, 3.5), Waypoint(2.0, 4.0, 100))
    assert parse_pin("Hand_R@60=0.3,1.2,-0.5") == Pin("Hand_R", 60, (0.3, 1.2, -0.5))
    with pytest.raises(ValueError, match="x,z@frame"):
        parse_waypoints("1,2,3@4")
    with pytest.raises(ValueError, match="JOINT@FRAME=x,y,z"):
        parse_pin("Hand_R=1,2,3")


def test_constraints_outside_the_take_or_on_unpinnable_joints_are_refused():
    with pytest.raises(ValueError, match=r"frame 90 is outside the take \(0–79\)"):
        check_constraints(Constraints((Waypoint(1, 2, 90),)), SK, 80)
    with pytest.raises(ValueError, match="cannot pin 'LowerArm_L'.*Hand_L"):
        check_constraints(Constraints(pins=(Pin("LowerArm_L", 3, (0, 1, 0)),)), SK, 80)
    with pytest.raises(ValueError, match="starts at the origin"):
        check_constraints(Constraints((Waypoint(1, 2, 0),)), SK, 80)


def test_untied_waypoints_get_frames_by_their_distance_along_the_path():
    frames = waypoint_frames((Waypoint(0, 1), Waypoint(0, 3, 60), Waypoint(0, 4)), 100)
    assert frames.tolist() == [20.0, 60.0, 99.0]


def test_the_root_passes_every_waypoint_at_its_frame_and_the_body_turns_with_the_path(walk):
    waypoints = (Waypoint(1.0, 1.0, 40), Waypoint(2.5, 1.0, 80))  # the walk goes +Z; the path turns to +X
    out = follow_path(walk, waypoints, fps=20.0)
    assert np.abs(out[[40, 80]][:, 0, [0, 2]] - [[1.0, 1.0], [2.5, 1.0]]).max() < 1e-9
    assert np.allclose(out[0], walk[0])
    left, right = SK.face_joints[1], SK.face_joints[0]  # hips: across points to the character's left
    across = out[70, left] - out[70, right]
    assert -across[2] > 0.8 * np.linalg.norm(across[[0, 2]])  # facing +X: its left is -Z
    bones = [(j, p) for j, p in enumerate(SK.parents) if p >= 0]
    length = lambda q: np.linalg.norm(q[:, [j for j, _ in bones]] - q[:, [p for _, p in bones]], axis=-1)
    assert np.allclose(length(out), length(walk), atol=1e-9)  # turned and moved, not deformed


def test_a_pinned_hand_is_exact_and_its_neighbours_blend(walk):
    hand = SK.index("Hand_R")
    target = walk[40, hand] + [0.1, 0.15, 0.05]
    out = apply_pins(walk, SK, (Pin("Hand_R", 40, tuple(target)),))
    assert np.linalg.norm(out[40, hand] - target) < 1e-9
    moved = np.linalg.norm(out[:, hand] - walk[:, hand], axis=-1)
    assert 0 < moved[36] < moved[38] < moved[40] and moved[:31].max() < 1e-9 and moved[49:].max() < 1e-9
    upper, fore = SK.index("UpperArm_R"), SK.index("LowerArm_R")
    for a, b in ((upper, fore), (fore, hand)):
        assert np.allclose(np.linalg.norm(out[:, a] - out[:, b], axis=-1), np.linalg.norm(walk[:, a] - walk[:, b], axis=-1))


def test_a_pin_out_of_reach_brings_the_body_and_the_head_pin_bends_the_spine(walk):
    head, hand = SK.index("Head"), SK.index("Hand_L")
    far = walk[50, hand] + [0.0, 0.0, 1.0]
    nod = walk[20, head] + [0.0, -0.08, 0.06]
    out = apply_pins(walk, SK, (Pin("Hand_L", 50, tuple(far)), Pin("Head", 20, tuple(nod))))
    assert np.linalg.norm(out[50, hand] - far) < 1e-6 and np.linalg.norm(out[20, head] - nod) < 1e-4
    assert out[50, 0, 2] - walk[50, 0, 2] > 0.2  # the body came forward


def test_a_pin_nearer_the_shoulder_than_the_folded_arm_reaches_moves_the_body_away_and_is_exact(walk):
    upper, fore, hand = SK.index("UpperArm_R"), SK.index("LowerArm_R"), SK.index("Hand_R")
    l1, l2 = (np.linalg.norm(walk[50, a] - walk[50, b]) for a, b in ((upper, fore), (fore, hand)))
    near = walk[50, upper] + [0.0, 0.0, 0.5 * abs(l1 - l2)]  # closer than the folded arm gets
    out = apply_pins(walk, SK, (Pin("Hand_R", 50, tuple(near)),))
    assert np.linalg.norm(out[50, hand] - near) < 1e-6
    assert np.linalg.norm(out[50, upper] - near) >= abs(l1 - l2)  # the shoulder stepped back from the pin
    at_shoulder = apply_pins(walk, SK, (Pin("Hand_R", 50, tuple(walk[50, upper])),))  # no direction to go: still exact
    assert np.linalg.norm(at_shoulder[50, hand] - walk[50, upper]) < 1e-6


def test_a_pin_out_of_reach_wins_over_a_waypoint_at_its_frame_and_the_other_waypoints_hold(walk):
    """The documented priority (apply_pins): the root stays at its waypoints, except where a pin at the very same
    frame is out of reach: the body comes towards the pin there, and the pin is exact."""
    hand = SK.index("Hand_L")
    far = walk[50, hand] + [0.0, 0.0, 1.0]
    out = apply_pins(walk, SK, (Pin("Hand_L", 50, tuple(far)),), root_frames=(30, 50, 70))
    assert np.linalg.norm(out[50, hand] - far) < 1e-6
    assert out[50, 0, 2] - walk[50, 0, 2] > 0.2  # off its waypoint: the pin won
    assert np.abs(out[[30, 70], 0] - walk[[30, 70], 0]).max() < 1e-9  # the waypoints around it held
    waypoints = tuple(Waypoint(float(walk[f, 0, 0]), float(walk[f, 0, 2]), f) for f in (30, 50, 70))
    said = pin_conflicts(out, Constraints(waypoints, (Pin("Hand_L", 50, tuple(far)),)))
    assert len(said) == 1 and said[0].startswith("the root misses the waypoint") and "@50 by" in said[0]
    assert "Hand_L at that frame is out of reach" in said[0]


def test_a_foot_pinned_over_several_frames_does_not_slide(walk):
    foot = SK.index("Foot_L")
    spot = tuple(walk[30, foot] + [0.05, 0.0, 0.1])
    out = apply_pins(walk, SK, tuple(Pin("Foot_L", f, spot) for f in range(30, 41)))
    assert np.abs(out[30:41, foot] - spot).max() < 1e-9


def test_constrain_makes_path_and_pins_exact_through_the_features(walk):
    features = features_from_positions(walk, SK).astype(np.float32)
    constraints = Constraints((Waypoint(0.3, 1.5, 30), Waypoint(1.0, 3.0)), (Pin("Hand_R", 50, (0.6, 1.3, 2.5)),))
    out = positions_from_features(constrain(features, SK, constraints).astype(np.float64), SK.n_joints)
    assert np.abs(out[30, 0, [0, 2]] - [0.3, 1.5]).max() < 1e-3
    assert np.abs(out[79, 0, [0, 2]] - [1.0, 3.0]).max() < 1e-3  # untied: at the last frame
    assert np.linalg.norm(out[50, SK.index("Hand_R")] - [0.6, 1.3, 2.5]) < 1e-3


def test_eval_constraints_come_from_the_real_take(walk):
    from app.engine.evaluate_constraints import real_constraints

    c = real_constraints(walk, SK, spacing=20, pins=True)
    assert [w.frame for w in c.waypoints] == [20, 40, 60, 80]
    assert all(np.allclose([w.x, w.z], walk[w.frame, 0, [0, 2]]) for w in c.waypoints)
    assert {p.joint for p in c.pins} == {"Hand_L", "Foot_R"}  # 81 frames: odd, the left hand and the right foot
    assert all(np.allclose(p.position, walk[p.frame, SK.index(p.joint)]) for p in c.pins)
    assert real_constraints(walk, SK, spacing=20, pins=False).pins == ()
