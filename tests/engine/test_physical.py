"""The physical signature on motions whose answer is known by construction, and the bands on real takes."""
import numpy as np
import pytest
import torch

from app.engine import physical
from app.engine.data.dataset import MotionFolder
from app.engine.features import FeatureLayout
from app.engine.physical import PhysicalReference, body_joints, fit_band, knee_angles, signature
from app.engine.skeleton import BANDAI_NAMCO_21 as SK

FPS = 20
BODY = body_joints(SK)


def _rest(local_rotations: dict[int, np.ndarray] | None = None) -> np.ndarray:
    """The rest pose (J, 3) standing on the floor (y = 0 at the lowest foot joint), facing +Z, left on +X."""
    rot = torch.eye(3, dtype=torch.float64).repeat(SK.n_joints, 1, 1)
    for j, r in (local_rotations or {}).items():
        rot[j] = torch.as_tensor(r)
    p = SK.forward_kinematics(torch.zeros(3, dtype=torch.float64), rot).numpy()
    p[:, 1] -= p[[*SK.foot_left, *SK.foot_right], 1].min()
    return p


def _yaw(deg: float) -> np.ndarray:
    """Rotation about +Y taking +Z towards +X for positive angles (a turn to the left)."""
    a = np.radians(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def _pitch(deg: float) -> np.ndarray:
    """Rotation about +X taking +Y towards +Z for positive angles (bending forward)."""
    a = np.radians(deg)
    return np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])


def _still(frames: int = 41) -> np.ndarray:
    return np.repeat(_rest()[None], frames, axis=0)


def test_body_joints_are_found_from_the_hierarchy():
    names = SK.joint_names
    assert names[BODY.head] == "Head" and names[BODY.hand_left] == "Hand_L" and names[BODY.hand_right] == "Hand_R"
    assert [names[k] for _, k, _ in BODY.knees] == ["LowerLeg_L", "LowerLeg_R"]


def test_a_root_moving_along_plus_x_at_1_5_m_s_travels_at_1_5_to_the_left():
    p = _still(41)
    p[..., 0] += 1.5 * np.arange(41)[:, None] / FPS
    s = signature(p, SK)
    assert s["speed"] == pytest.approx(1.5, abs=1e-9)
    assert s["direction"] == pytest.approx(90.0, abs=1e-6)  # facing +Z, left is +X
    assert s["heading_change"] == pytest.approx(0.0, abs=1e-6)
    # the ankles travel with the body: 1.5 m/s in body heights per second
    stature = p[0, BODY.head, 1]
    assert s["foot_path"] == pytest.approx(1.5 / stature, rel=1e-9)
    assert s["hand_left_path"] == pytest.approx(0.0, abs=1e-9)  # hands measured relative to the root


def test_walking_backwards_heads_180_degrees_and_standing_still_has_no_direction():
    p = _still(41)
    p[..., 2] -= 0.8 * np.arange(41)[:, None] / FPS
    assert abs(signature(p, SK)["direction"]) == pytest.approx(180.0, abs=1e-6)
    assert np.isnan(signature(_still(), SK)["direction"])


def test_a_90_degree_turn_to_the_left_changes_the_heading_by_plus_90():
    rest = _rest()
    p = np.stack([rest @ _yaw(a).T for a in np.linspace(0.0, 90.0, 41)])
    s = signature(p, SK)
    assert s["heading_change"] == pytest.approx(90.0, abs=1e-6)
    right = np.stack([rest @ _yaw(a).T for a in np.linspace(0.0, -200.0, 41)])
    assert signature(right, SK)["heading_change"] == pytest.approx(-200.0, abs=1e-6)  # unwrapped past 180


def test_a_knee_held_straight_counts_and_a_bent_one_does_not():
    assert signature(_still(), SK)["knee_straight"] == 1.0
    _, knee, _ = BODY.knees[0]
    bent = _rest({knee: _pitch(-30.0)})
    np.testing.assert_allclose(knee_angles(bent[None], SK)[0], [150.0, 180.0], atol=1e-6)
    p = np.repeat(bent[None], 41, axis=0)
    assert signature(p, SK)["knee_straight"] == pytest.approx(0.5)  # one knee of two
    assert physical.straight_knee_share(p, SK) == pytest.approx(0.5)


def test_a_bow_that_drops_the_head_by_10_percent_reports_0_10():
    rest = _rest()
    height, hips = rest[BODY.head, 1], rest[0]
    reach = np.linalg.norm(rest[BODY.head] - hips)
    # bending forward about the hips by a: head height = hips_y + reach * cos(a + lean), lean the rest offset
    lean = np.arctan2(rest[BODY.head, 2] - hips[2], rest[BODY.head, 1] - hips[1])
    bend = np.degrees(np.arccos((0.9 * height - hips[1]) / reach) - lean)
    angles = np.concatenate([np.linspace(0, bend, 20), np.linspace(bend, 0, 21)])
    upper = sorted(SK.upper_body)
    frames = []
    for a in angles:
        f = rest.copy()
        f[upper] = (rest[upper] - hips) @ _pitch(a).T + hips
        frames.append(f)
    s = signature(np.stack(frames), SK)
    assert s["head_drop"] == pytest.approx(0.10, abs=1e-6)
    assert s["speed"] == pytest.approx(0.0, abs=1e-9)


def test_a_raised_right_hand_peaks_above_the_head():
    p = _still()
    p[20, BODY.hand_right] = p[20, BODY.head] + [0.0, 0.25, 0.0]
    s = signature(p, SK)
    assert s["hand_right_above_head"] == pytest.approx(0.25, abs=1e-9)
    assert s["hand_left_above_head"] < 0  # hanging at the side
    assert s["hand_right_path"] > 0 and s["hand_left_path"] == 0


def _sig(**values):
    base = {c: 0.0 for c in physical.COMPONENTS} | {"direction": np.nan}
    return base | values


def test_band_holds_the_middle_of_real_values_and_direction_wraps_around_180():
    rng = np.random.default_rng(0)
    sigs = [_sig(speed=s, direction=d) for s, d in zip(rng.normal(1.2, 0.1, 200), rng.normal(180.0, 5.0, 200))]
    band = fit_band(sigs)
    assert band.direction_centre == pytest.approx(180.0, abs=2.0) or band.direction_centre == pytest.approx(-180.0, abs=2.0)
    assert band.inside(_sig(speed=1.2, direction=-178.0))["direction"]  # across the ±180 seam
    assert not band.inside(_sig(speed=1.2, direction=90.0))["direction"]
    assert not band.inside(_sig(speed=0.3))["speed"]
    assert not band.inside(_sig(speed=0.0))["direction"]  # real takes of this label always travel
    assert band.agrees(_sig(speed=1.2, direction=179.0))
    assert not band.agrees(_sig(speed=0.1))  # a walk in place: travel outside, the body inside
    three = {"hand_left_path": 9.0, "hand_right_path": 9.0, "foot_path": 9.0}
    far = three | {"foot_peak": 9.0}
    assert band.agrees(_sig(speed=1.2, direction=179.0, **three))  # 5 of 8 body components in
    assert not band.agrees(_sig(speed=1.2, direction=179.0, **far))  # 4 of 8


def test_reference_scores_agreement_and_the_speed_ratio_of_locomotion():
    walks = [_sig(speed=s, direction=0.0) for s in np.linspace(1.0, 1.4, 21)]
    bows = [_sig(head_drop=h) for h in np.linspace(0.06, 0.2, 21)]
    ref = PhysicalReference.fit(walks + bows, ["walk"] * 21 + ["bow"] * 21)
    assert ref.locomotion == {"walk"}
    in_place = _sig(speed=0.05, foot_path=1.0)
    scores = ref.score([walks[10], in_place, bows[10]], ["walk", "walk", "bow"])
    assert scores["agreement:walk"] == 0.5 and scores["agreement:bow"] == 1.0
    assert scores["physical_agreement"] == pytest.approx(2 / 3)
    assert scores["speed_ratio"] == pytest.approx(np.median([1.0, 0.05 / 1.2]))


@pytest.fixture(scope="module")
def heldout(heldout_test_split):
    return MotionFolder(heldout_test_split, "test")


def test_real_takes_of_one_label_score_inside_their_own_band_and_walking_in_place_does_not(heldout):
    from app.engine.features import positions_from_features

    by_label: dict[str, list] = {}
    for r in heldout.records:
        by_label.setdefault(physical.action_label(r), []).append(r)
    label, records = max(by_label.items(), key=lambda kv: len(kv[1]))
    assert len(records) >= 20
    fit, held = records[0::2], records[1::2]  # bands from half the takes, scored on the other half
    ref = physical.real_reference(fit, SK, 196)
    positions = [positions_from_features(r.features[:196].astype(np.float64), SK.n_joints) for r in held]
    scores = ref.score([signature(p, SK) for p in positions], [label] * len(held))
    assert scores["physical_agreement"] >= 0.8

    walks = [r for lab, rs in by_label.items() if lab.startswith("walk") or lab in ("run", "dash") for r in rs]
    if len(walks) < 6:
        pytest.skip("the held-out sample has too few travelling takes")
    loco = physical.real_reference(walks[0::2], SK, 196)
    root = FeatureLayout(SK.n_joints).root
    honest, in_place = [], []
    for r in walks[1::2]:
        f = r.features[:196].astype(np.float64)
        honest.append(signature(positions_from_features(f, SK.n_joints), SK))
        f = f.copy()
        f[:, root.start + 1 : root.start + 3] = 0.0  # the legs still step, the root no longer travels
        in_place.append(signature(positions_from_features(f, SK.n_joints), SK))
    labels = [physical.action_label(r) for r in walks[1::2]]
    assert loco.score(honest, labels)["physical_agreement"] >= 0.8
    assert loco.score(in_place, labels)["physical_agreement"] == 0.0
    assert loco.score(in_place, labels)["speed_ratio"] < 0.1
