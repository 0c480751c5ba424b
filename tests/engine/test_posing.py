from itertools import pairwise

import numpy as np
import pytest

from app.engine.data.bandai_namco import take_positions
from app.engine.document import Document, ToggleLock, take_from_positions
from app.engine.document.pose_commands import PoseFrame
from app.engine.features import positions_from_features
from app.engine.posing import drag_kind, pose_joint, turn_heading
from app.engine.skeleton import BANDAI_NAMCO_21, SMPL_22

SKELETON = BANDAI_NAMCO_21

HAND_L, FOOT_L, HEAD, ELBOW_L, KNEE_R = (SKELETON.index(n) for n in ("Hand_L", "Foot_L", "Head", "LowerArm_L", "LowerLeg_R"))


@pytest.fixture(scope="module")
def walk(bandai_namco_sample) -> np.ndarray:
    path = bandai_namco_sample / "dataset-2_walk_normal_001.bvh"
    return take_positions(path.read_text(), source=path.name).astype(np.float64)


def _bone_lengths(pose: np.ndarray) -> np.ndarray:
    parents = np.array(SKELETON.parents[1:])
    return np.linalg.norm(pose[1:] - pose[parents], axis=-1)


@pytest.mark.parametrize("joint,root", [("Hand_L", "UpperArm_L"), ("Hand_R", "UpperArm_R"), ("Foot_L", "UpperLeg_L"),
                                        ("Toes_R", "UpperLeg_R"), ("Head", "Spine"), ("Neck", "Spine")])
def test_a_dragged_joint_reaches_a_reachable_target_and_every_bone_keeps_its_length(walk, joint, root) -> None:
    joint, root = SKELETON.index(joint), SKELETON.index(root)
    effector = SKELETON.parents[joint] if joint == SKELETON.index("Toes_R") else joint  # a toe moves its foot
    chain = [effector]
    while chain[-1] != root:
        chain.append(SKELETON.parents[chain[-1]])
    rng = np.random.default_rng(joint)
    for frame in (0, 40, 90):
        pose = walk[frame]
        length = sum(np.linalg.norm(pose[a] - pose[b]) for a, b in pairwise(chain))
        for direction in rng.normal(size=(4, 3)):  # anywhere within 50-90 % of the chain's reach
            target = pose[root] + rng.uniform(0.5, 0.9) * length * direction / np.linalg.norm(direction)
            target += pose[joint] - pose[effector]
            new = pose_joint(pose, SKELETON, joint, target)
            assert 1000 * np.linalg.norm(new[joint] - target) < 1.0
            np.testing.assert_allclose(_bone_lengths(new), _bone_lengths(pose), atol=1e-9)
            assert np.abs(new[0] - pose[0]).max() == 0  # the hips stay


def test_a_hand_drag_moves_only_its_arm(walk) -> None:
    pose = walk[40]
    new = pose_joint(pose, SKELETON, HAND_L, pose[HAND_L] + [0.1, 0.3, 0.1])
    moved = np.flatnonzero(np.linalg.norm(new - pose, axis=-1) > 1e-9)
    assert set(moved) == {SKELETON.index("LowerArm_L"), HAND_L}


def test_a_target_out_of_reach_gets_the_straight_limb_towards_it_not_nan(walk) -> None:
    pose = walk[40]
    shoulder = pose[SKELETON.index("UpperArm_L")]
    for joint, root, far in ((HAND_L, SKELETON.index("UpperArm_L"), [3.0, 2.0, 1.0]),
                             (HEAD, SKELETON.index("Spine"), [0.5, 4.0, 2.0]),
                             (FOOT_L, SKELETON.index("UpperLeg_L"), [0.0, -5.0, 0.3])):
        target = pose[root] + far
        new = pose_joint(pose, SKELETON, joint, target)
        assert np.isfinite(new).all()
        np.testing.assert_allclose(_bone_lengths(new), _bone_lengths(pose), atol=1e-9)
        reach = np.linalg.norm(new[joint] - new[root])
        chain_length = {HAND_L: 2, HEAD: 3, FOOT_L: 2}[joint]
        joints = [joint]
        for _ in range(chain_length):
            joints.append(SKELETON.parents[joints[-1]])
        full = sum(np.linalg.norm(pose[a] - pose[b]) for a, b in pairwise(joints))
        assert reach == pytest.approx(full, rel=1e-6)  # straight: as far as the chain goes
        direction = (new[joint] - new[root]) / reach
        np.testing.assert_allclose(direction, np.array(far) / np.linalg.norm(far), atol=1e-6)  # towards it
    on_the_shoulder = pose_joint(pose, SKELETON, HAND_L, shoulder)  # a target on the limb's own root
    assert np.isfinite(on_the_shoulder).all()
    np.testing.assert_allclose(_bone_lengths(on_the_shoulder), _bone_lengths(pose), atol=1e-9)


def test_dragging_an_elbow_swivels_the_arm_and_keeps_the_hand(walk) -> None:
    pose = walk[40]
    out = pose[ELBOW_L] + [0.3, 0.0, 0.0]
    new = pose_joint(pose, SKELETON, ELBOW_L, out)
    assert np.abs(new[HAND_L] - pose[HAND_L]).max() < 1e-9
    assert new[ELBOW_L, 0] > pose[ELBOW_L, 0] + 0.02  # it turned towards the target
    np.testing.assert_allclose(_bone_lengths(new), _bone_lengths(pose), atol=1e-9)
    knee = pose_joint(pose, SKELETON, KNEE_R, pose[KNEE_R] + [0.0, 0.0, 0.3])
    assert np.abs(knee[SKELETON.index("Toes_R")] - pose[SKELETON.index("Toes_R")]).max() < 1e-9


def test_the_hand_bends_its_elbow_towards_the_pole(walk) -> None:
    pose = walk[40]
    target = pose[HAND_L] + [0.0, 0.2, 0.1]
    up = pose_joint(pose, SKELETON, HAND_L, target, pole=pose[ELBOW_L] + [0, 1.0, 0])
    down = pose_joint(pose, SKELETON, HAND_L, target, pole=pose[ELBOW_L] - [0, 1.0, 0])
    assert up[ELBOW_L, 1] > down[ELBOW_L, 1] + 0.05
    assert np.linalg.norm(up[HAND_L] - target) < 1e-6 and np.linalg.norm(down[HAND_L] - target) < 1e-6


def test_the_spine_carries_the_arms_rigidly_and_the_hips_keep_the_feet_planted(walk) -> None:
    pose = walk[40]
    bent = pose_joint(pose, SKELETON, HEAD, pose[HEAD] + [0.0, -0.15, 0.25])  # a bow
    chest = SKELETON.index("Chest")
    arm = [SKELETON.index(n) for n in ("Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L")]
    before = np.linalg.norm(pose[arm][:, None] - pose[arm][None], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(bent[arm][:, None] - bent[arm][None], axis=-1), before, atol=1e-9)
    assert np.linalg.norm(bent[arm[0]] - bent[chest]) == pytest.approx(np.linalg.norm(pose[arm[0]] - pose[chest]))
    crouch = pose_joint(pose, SKELETON, 0, pose[0] - [0.0, 0.15, 0.0])
    assert crouch[0, 1] == pytest.approx(pose[0, 1] - 0.15)
    feet = [SKELETON.index(n) for n in ("Foot_L", "Toes_L", "Foot_R", "Toes_R")]
    assert np.abs(crouch[feet] - pose[feet]).max() < 1e-6
    np.testing.assert_allclose(_bone_lengths(crouch), _bone_lengths(pose), atol=1e-9)


def test_turning_the_heading_turns_about_the_hips_only(walk) -> None:
    pose = walk[40]
    turned = turn_heading(pose, np.pi / 2)
    np.testing.assert_allclose(turned[0], pose[0])
    np.testing.assert_allclose(_bone_lengths(turned), _bone_lengths(pose), atol=1e-9)
    before, after = pose[HEAD] - pose[0], turned[HEAD] - turned[0]
    np.testing.assert_allclose([after[0], after[1], after[2]], [before[2], before[1], -before[0]], atol=1e-9)


def test_every_joint_says_what_dragging_it_does() -> None:
    kinds = {SKELETON.joint_names[j]: drag_kind(SKELETON, j) for j in range(SKELETON.n_joints)}
    assert "two-bone IK" in kinds["Hand_R"] and "two-bone IK" in kinds["Toes_L"]
    assert "swivels" in kinds["LowerLeg_L"] and "spine bends" in kinds["Head"] and "feet stay" in kinds["Hips"]


def test_a_pose_is_one_undo_step_that_locks_its_frame_and_keeps_features_and_positions_in_step(walk) -> None:
    doc = Document()
    doc.reset(take_from_positions(walk, 20.0, SKELETON))
    doc.execute(ToggleLock(10))
    original = doc.take
    pose = walk[60]
    for step in range(1, 6):  # one drag: five moves of the hand
        doc.execute(PoseFrame(60, pose_joint(pose, SKELETON, HAND_L, pose[HAND_L] + [0.0, 0.05 * step, 0.0])))
    doc.history.seal()
    assert doc.locked_frames == (10, 60) and len(doc.history.undo_stack) == 2
    assert doc.take.positions[60, HAND_L, 1] == pytest.approx(pose[HAND_L, 1] + 0.25, abs=1e-5)
    np.testing.assert_array_equal(doc.key_pose(60), doc.take.positions[60])
    recovered = positions_from_features(doc.take.features.astype(np.float64), SKELETON.n_joints)
    assert np.abs(recovered - doc.take.positions).max() < 1e-4  # the operations see the posed frame
    doc.undo()
    assert doc.take is original and doc.locked_frames == (10,)
    doc.redo()
    assert doc.take.positions[60, HAND_L, 1] == pytest.approx(pose[HAND_L, 1] + 0.25, abs=1e-5)
    raised = doc.key_pose(60).copy()
    doc.execute(PoseFrame(60, turn_heading(doc.take.positions[60], 0.5), "Turn"))  # another gesture, another step
    assert len(doc.history.undo_stack) == 3 and doc.locked_frames == (10, 60)
    doc.undo()  # the key goes back to the pose it had, and stays locked
    np.testing.assert_array_equal(doc.key_pose(60), raised)
    np.testing.assert_array_equal(doc.take.positions[60], raised)


@pytest.mark.parametrize("skeleton", [BANDAI_NAMCO_21, SMPL_22], ids=lambda s: s.name)
def test_any_joint_of_either_skeleton_can_be_dragged_anywhere_without_stretching_a_bone(skeleton) -> None:
    rest = np.zeros((skeleton.n_joints, 3))
    for j, parent in enumerate(skeleton.parents):
        if parent >= 0:
            rest[j] = rest[parent] + skeleton.offsets[j]
    parents = np.array(skeleton.parents[1:])
    lengths = np.linalg.norm(rest[1:] - rest[parents], axis=-1)
    rng = np.random.default_rng(0)
    for joint in range(skeleton.n_joints):
        for scale in (0.1, 5.0):  # near, and far out of reach
            new = pose_joint(rest, skeleton, joint, rest[joint] + rng.normal(size=3) * scale)
            assert np.isfinite(new).all()
            np.testing.assert_allclose(np.linalg.norm(new[1:] - new[parents], axis=-1), lengths, atol=1e-9)
