"""SMPL bodies from a small synthetic model file in SMPL's layout (the real files are licensed and never shipped):
the body's joints follow the take's bones, its vertices follow its joints, and frames are written as OBJ."""
from __future__ import annotations

import numpy as np
import pytest

from app.engine.document.files import read_take
from app.engine.skeleton import BANDAI_NAMCO_21 as OURS
from app.engine.smpl_body import (
    SMPLModelError,
    load_smpl,
    smpl_animation,
    smpl_vertices,
    write_obj_sequence,
)

# SMPL's kinematic tree and a T-pose of about its proportions (metres)
PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
OFFSETS = np.array([
    [0, 0.93, 0], [0.06, -0.09, 0], [-0.06, -0.09, 0], [0, 0.11, 0], [0, -0.38, 0], [0, -0.38, 0], [0, 0.14, 0],
    [0, -0.40, 0], [0, -0.40, 0], [0, 0.06, 0], [0, -0.05, 0.12], [0, -0.05, 0.12], [0, 0.21, 0], [0.07, 0.11, 0],
    [-0.07, 0.11, 0], [0, 0.09, 0.03], [0.12, 0.03, 0], [-0.12, 0.03, 0], [0.26, 0, 0], [-0.26, 0, 0], [0.25, 0, 0],
    [-0.25, 0, 0], [0.08, 0, 0], [-0.08, 0, 0]])


def synthetic_smpl(path) -> np.ndarray:
    """An SMPL-format .npz: 4 vertices around each joint, each bound to it, and a joint regressor that finds the
    joints as their vertices' mean. Returns the rest joints."""
    joints = np.zeros((24, 3))
    for j, p in enumerate(PARENTS):
        joints[j] = OFFSETS[j] + (joints[p] if p >= 0 else 0)
    corners = np.array([[0.02, 0, 0], [-0.02, 0, 0], [0, 0.02, 0.02], [0, -0.02, -0.02]])
    v_template = (joints[:, None] + corners[None]).reshape(-1, 3)
    weights = np.repeat(np.eye(24), 4, axis=0)
    regressor = weights.T / 4.0
    faces = np.array([[4 * j, 4 * j + 1, 4 * j + 2] for j in range(24)] + [[4 * j, 4 * j + 3, 4 * j + 1] for j in range(24)])
    np.savez(path, v_template=v_template, shapedirs=np.zeros((96, 3, 10)), posedirs=np.zeros((96, 3, 207)),
             J_regressor=regressor, weights=weights, kintree_table=np.array([[4294967295] + PARENTS[1:], list(range(24))]),
             f=faces)
    return joints


def test_the_take_drives_an_smpl_body(tmp_path, bandai_namco_sample):
    synthetic_smpl(tmp_path / "SMPL_TEST.npz")
    model = load_smpl(tmp_path / "SMPL_TEST.npz")
    take = read_take(bandai_namco_sample / "dataset-1_kick_normal_001.bvh")
    positions = take.placement.to_world(take.positions)[::10].astype(np.float64)
    anim = smpl_animation(model, positions, take.fps / 10)
    vertices, joints = smpl_vertices(model, anim)
    assert vertices.shape == (len(positions), 96, 3)
    np.testing.assert_allclose(joints, anim.world_positions(), atol=1e-4)  # smplx poses it as our fit says
    np.testing.assert_allclose(vertices.reshape(len(positions), 24, 4, 3).mean(2), joints, atol=1e-4)  # skin follows
    for smpl, ours in (("left_knee", "LowerLeg_L"), ("right_elbow", "LowerArm_R"), ("neck", "Neck")):
        j, o = anim.rig.names.index(smpl), OURS.index(ours)
        child = anim.rig.parents.index(j)
        theirs = joints[:, child] - joints[:, j]
        mine = positions[:, OURS.children[o][0]] - positions[:, o]
        cos = (theirs * mine).sum(-1) / np.linalg.norm(theirs, axis=-1) / np.linalg.norm(mine, axis=-1)
        assert cos.min() > 0.999, smpl
    assert write_obj_sequence(vertices, model.faces, tmp_path / "frames") == len(positions)
    first = (tmp_path / "frames" / "frame_0000.obj").read_text().splitlines()
    assert sum(line.startswith("v ") for line in first) == 96 and sum(line.startswith("f ") for line in first) == 48


def test_model_files_that_do_not_fit_are_one_clear_error(tmp_path):
    with pytest.raises(SMPLModelError, match="as .npz"):
        load_smpl(tmp_path / "SMPL_NEUTRAL.pkl")
    np.savez(tmp_path / "bad.npz", v_template=np.zeros((3, 3)))
    with pytest.raises(SMPLModelError, match="lacks shapedirs"):
        load_smpl(tmp_path / "bad.npz")


def test_the_command_writes_an_obj_per_frame(tmp_path, bandai_namco_sample, capsys):
    from app.cli import main

    synthetic_smpl(tmp_path / "SMPL_TEST.npz")
    take = bandai_namco_sample / "dataset-2_walk_normal_001.bvh"
    assert main(["smpl-body", str(take), "--model", str(tmp_path / "SMPL_TEST.npz"), "-o", str(tmp_path / "obj")]) == 0
    assert len(list((tmp_path / "obj").glob("*.obj"))) == 182 and "wrote 182 OBJ files" in capsys.readouterr().out
    assert main(["smpl-body", str(take), "--model", str(tmp_path / "none.pkl"), "-o", str(tmp_path / "x")]) == 2
