"""The mannequin: proportioned to the rig, rigidly skinned, and moving exactly with the skeleton."""
from __future__ import annotations

import numpy as np
import pytest

from app.engine.document.files import export_take, read_take
from app.engine.mannequin import build_mannequin, pose_vertices, rest_positions
from app.engine.skeleton import BANDAI_NAMCO_21, SMPL_22


def test_the_body_is_rigidly_skinned_and_proportioned_to_the_rig():
    mesh = build_mannequin(BANDAI_NAMCO_21)
    assert mesh.joints.shape == (len(mesh.vertices), 1) and (mesh.weights == 1.0).all()
    assert 0 <= mesh.joints.min() and mesh.joints.max() < BANDAI_NAMCO_21.n_joints
    assert 500 < len(mesh.vertices) < 5000  # low-poly
    rest = rest_positions(BANDAI_NAMCO_21)
    low, high = mesh.vertices.min(0), mesh.vertices.max(0)
    assert rest[:, 1].min() - 0.1 < low[1] < rest[:, 1].min()  # the soles just under the ankles
    assert rest[:, 1].max() + 0.1 < high[1] < rest[:, 1].max() + 0.3  # the head's top above the head joint
    assert high[0] - low[0] > np.ptp(rest[:, 0])  # the arms' thickness around the T-pose's reach
    every_part = set(mesh.joints[:, 0])
    assert {BANDAI_NAMCO_21.index(n) for n in ("Head", "Hand_L", "Toes_R", "LowerLeg_L", "Chest")} <= every_part
    bigger = build_mannequin(SMPL_22)  # another rig: another body, still whole
    assert len(bigger.vertices) > 500 and np.isfinite(bigger.vertices).all()


def test_the_body_moves_rigidly_with_its_joints(bandai_namco_sample):
    take = read_take(bandai_namco_sample / "dataset-1_kick_normal_001.bvh")
    mesh = build_mannequin(take.skeleton)
    posed = pose_vertices(mesh, take.skeleton, take.positions[::20])  # (T, V, 3)
    owner = mesh.joints[:, 0]
    rest_distance = np.linalg.norm(mesh.vertices - rest_positions(take.skeleton)[owner], axis=-1)
    distance = np.linalg.norm(posed - take.positions[::20][:, owner], axis=-1)
    np.testing.assert_allclose(distance, np.broadcast_to(rest_distance, distance.shape), atol=1e-4)
    assert np.ptp(posed[:, :, 1], axis=0).max() > 0.3  # and it does move: the kicking leg rises


def test_exports_carry_the_body_when_asked(bandai_namco_sample, tmp_path):
    import ufbx

    from app.engine.io.gltf_import import read_gltf

    take = read_take(bandai_namco_sample / "dataset-2_walk_normal_001.bvh")
    mesh = build_mannequin(take.skeleton)
    export_take(take, tmp_path / "walk.fbx", frame_range=(0, 40), body=True)
    scene = ufbx.load_file(str(tmp_path / "walk.fbx"))
    meshes = list(scene.meshes)
    assert len(meshes) == 1 and meshes[0].num_vertices == len(mesh.vertices)
    export_take(take, tmp_path / "walk.glb", frame_range=(0, 40), body=True)
    assert read_gltf(tmp_path / "walk.glb").rig.names == take.skeleton.joint_names  # the skin binds our rig
    with pytest.raises(ValueError, match="BVH holds no body"):
        export_take(take, tmp_path / "walk.bvh", body=True)
