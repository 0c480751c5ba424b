"""Importing mocap on other skeletons: CMU (cgspeed and ASF conversions), Bandai Namco, SMPL- and Mixamo-named rigs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from app.engine.data.bandai_namco import take_positions
from app.engine.features import canonicalize
from app.engine.io.bvh import BVH, bvh_from_rotations, read_bvh
from app.engine.io.retarget import JOINT_NAME_MAPS, RetargetError, guess_scale, import_bvh, match_joints
from app.engine.skeleton import BANDAI_NAMCO_21, SMPL_22, Skeleton

BONE_LENGTHS = np.linalg.norm(BANDAI_NAMCO_21.offsets[1:], axis=-1)
PARENTS = list(BANDAI_NAMCO_21.parents[1:])


@pytest.fixture(scope="module")
def cmu(shared_data):
    return {path.stem: read_bvh(path) for path in sorted((shared_data / "cmu-sample").glob("*.bvh"))}


def smooth_rotations(frames: int, joints: int, seed: int) -> np.ndarray:
    """(frames, joints, 3, 3) gently varying rotations, as a body moves."""
    rng = np.random.default_rng(seed)
    phase, amplitude = rng.uniform(0, 2 * np.pi, (joints, 3)), rng.uniform(0.1, 0.6, (joints, 3))
    t = np.linspace(0, 2 * np.pi, frames)[:, None, None]
    return Rotation.from_rotvec((amplitude * np.sin(t + phase)).reshape(-1, 3)).as_matrix().reshape(frames, joints, 3, 3)


def rig_bvh(skeleton: Skeleton, names: list[str], keep: list[int], rotations: np.ndarray, fps: float = 30.0) -> BVH:
    """A BVH in centimetres of the skeleton's joints `keep` (a parents-closed subset), renamed to `names`."""
    frames = len(rotations)
    root = np.stack([np.zeros(frames), np.full(frames, 90.0), np.linspace(0, 150, frames)], axis=1)
    parents = [keep.index(skeleton.parents[j]) if j else -1 for j in keep]
    return bvh_from_rotations(names, parents, skeleton.offsets[keep] * 100.0, root, rotations[:, keep], 1 / fps)


def angle(positions: np.ndarray, a: int, b: int, c: int) -> np.ndarray:
    """Angle at joint b between the bones to a and c, per frame."""
    u, v = positions[:, a] - positions[:, b], positions[:, c] - positions[:, b]
    return np.arccos(np.clip((u * v).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1), -1, 1))


def check_canonical(positions: np.ndarray) -> None:
    assert np.isfinite(positions).all()
    np.testing.assert_allclose(np.linalg.norm(positions[:, 1:] - positions[:, PARENTS], axis=-1),
                               np.broadcast_to(BONE_LENGTHS, positions[:, 1:, 0].shape), atol=1e-6)
    assert abs(positions[..., 1].min()) < 1e-9  # on the floor
    np.testing.assert_allclose(positions[0, 0, [0, 2]], 0.0, atol=1e-9)
    right_hip, left_hip, right_shoulder, left_shoulder = BANDAI_NAMCO_21.face_joints
    first = positions[0]
    across = first[right_hip] - first[left_hip] + first[right_shoulder] - first[left_shoulder]
    forward = np.cross([0.0, 1.0, 0.0], across)
    assert forward[2] / np.linalg.norm(forward) > 0.999  # facing +Z


@pytest.mark.parametrize("take", ["02_01", "07_03", "09_01", "10_04", "13_10", "16_01"])
def test_every_cmu_sample_imports(cmu, take):
    bvh = cmu[take]
    positions = import_bvh(bvh)
    duration = (bvh.n_frames - 1) * bvh.frame_time
    assert abs(len(positions) - (duration * 20 + 1)) <= 1
    check_canonical(positions)
    assert 0.6 < np.median(positions[:, 0, 1]) < 1.1  # hips at a standing adult's height


@pytest.mark.parametrize("take", ["02_01", "07_03"])
def test_cmu_walks_move_forward(cmu, take):
    positions = import_bvh(cmu[take])
    assert positions[-1, 0, 2] - positions[0, 0, 2] > 1.0


def test_units_are_guessed_from_body_size(cmu, bandai_namco_sample):
    """cgspeed's CMU conversion is in centimetres, the ASF conversion (16_01) in CMU's inch / 0.45 units."""
    def unit(bvh):
        found = match_joints(bvh.names)
        mapped = np.full((bvh.n_frames, BANDAI_NAMCO_21.n_joints, 3), np.nan)
        for j, name in enumerate(BANDAI_NAMCO_21.joint_names):
            if name in found:
                mapped[:, j] = bvh.world_positions()[:, found[name]]
        return guess_scale(mapped)[0]

    assert unit(cmu["02_01"]) == "cm"
    assert unit(cmu["16_01"]) == "CMU ASF unit (inch / 0.45)"
    assert unit(read_bvh(bandai_namco_sample / "dataset-2_walk_normal_001.bvh")) == "cm"
    # the retargeted result does not depend on the unit: the root path is scaled by the leg-length ratio
    np.testing.assert_allclose(import_bvh(cmu["09_01"], scale=0.0254), import_bvh(cmu["09_01"]), atol=1e-9)


def test_cmu_feet_get_toes_from_their_end_sites(cmu):
    positions = import_bvh(cmu["07_03"])
    for ankle, toe in (BANDAI_NAMCO_21.foot_left, BANDAI_NAMCO_21.foot_right):
        assert (positions[0, toe, 2] - positions[0, ankle, 2]) > 0.08  # in front of the ankle
        assert positions[0, toe, 1] < positions[0, ankle, 1]  # and below it


def test_bandai_namco_take_matches_the_dataset_reader(bandai_namco_sample):
    path = bandai_namco_sample / "dataset-2_walk_normal_001.bvh"
    expected = take_positions(path.read_text(), path.name)
    positions = import_bvh(read_bvh(path))
    assert positions.shape == expected.shape
    assert np.abs(positions - expected).max() < 3e-3


def test_unknown_names_say_what_is_missing_and_what_the_file_has():
    names = [f"Bone{j}" for j in range(BANDAI_NAMCO_21.n_joints)]
    bvh = rig_bvh(BANDAI_NAMCO_21, names, list(range(BANDAI_NAMCO_21.n_joints)), smooth_rotations(4, 21, 0))
    with pytest.raises(RetargetError, match="Hips, Spine, Chest") as error:
        import_bvh(bvh)
    assert "Bone0, Bone1" in str(error.value) and "Toes_L" not in str(error.value)


def test_smpl_named_rig_imports_with_its_joint_angles():
    """Knee and elbow angles survive retargeting (bone directions are kept)."""
    rotations = smooth_rotations(45, SMPL_22.n_joints, seed=1)
    positions = import_bvh(rig_bvh(SMPL_22, list(SMPL_22.joint_names), list(range(SMPL_22.n_joints)), rotations))
    assert len(positions) == 30  # 1.47 s at 20 fps
    check_canonical(positions)
    zero = torch.zeros(45, 3, dtype=torch.float64)
    source = SMPL_22.forward_kinematics(zero, torch.from_numpy(rotations)).numpy()[::3]  # even frames at 20 fps
    for ours, theirs in [(("UpperLeg_L", "LowerLeg_L", "Foot_L"), ("left_hip", "left_knee", "left_ankle")),
                         (("UpperArm_R", "LowerArm_R", "Hand_R"), ("right_shoulder", "right_elbow", "right_wrist"))]:
        np.testing.assert_allclose(angle(positions[::2], *map(BANDAI_NAMCO_21.index, ours)),
                                   angle(source, *map(SMPL_22.index, theirs)), atol=1e-6)


def test_mixamo_rig_with_namespaced_names_and_no_toes_imports():
    """Names like "mixamorig:LeftUpLeg" in any case; toes synthesised in front of the ankle."""
    mixamo = {ours: src for src, ours in JOINT_NAME_MAPS[BANDAI_NAMCO_21.name]["mixamo"].items()}
    toes = {BANDAI_NAMCO_21.foot_left[1], BANDAI_NAMCO_21.foot_right[1]}
    keep = [j for j in range(BANDAI_NAMCO_21.n_joints) if j not in toes]
    names = [f"mixamorig:{mixamo[BANDAI_NAMCO_21.joint_names[j]]}" for j in keep]
    names[3] = names[3].upper()
    rotations = np.tile(np.eye(3), (31, BANDAI_NAMCO_21.n_joints, 1, 1))  # T-pose, gliding forward
    rotations[:, [14, 18]] = Rotation.from_euler("x", 20, degrees=True).as_matrix()  # knees bent a little
    positions = import_bvh(rig_bvh(BANDAI_NAMCO_21, names, keep, rotations))
    check_canonical(positions)
    rest = BANDAI_NAMCO_21.forward_kinematics(torch.zeros(21, 3, dtype=torch.float64), torch.from_numpy(rotations[:21]))
    expected = canonicalize(rest.numpy(), BANDAI_NAMCO_21)
    body = keep[1:]
    np.testing.assert_allclose(positions[:, body] - positions[:, :1], expected[:, body] - expected[:, :1], atol=1e-6)
    knee = Rotation.from_euler("x", 20, degrees=True).as_matrix()
    for ankle, toe in (BANDAI_NAMCO_21.foot_left, BANDAI_NAMCO_21.foot_right):  # forward, turned with the foot
        np.testing.assert_allclose(positions[:, toe] - positions[:, ankle],
                                   np.tile(knee @ [0.0, 0.0, BONE_LENGTHS[toe - 1]], (21, 1)), atol=1e-6)
