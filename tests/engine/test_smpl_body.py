"""SMPL bodies from a small synthetic model file in SMPL's layout (the real files are licensed and never shipped):
the body's joints follow the take's bones, its vertices follow its joints, frames are written as OBJ or PLY, and
model files that do not fit are one clear error."""
from __future__ import annotations

import numpy as np
import pytest
from synthetic_smpl import write_synthetic_smpl

from app.engine.document.files import read_take
from app.engine.skeleton import BANDAI_NAMCO_21 as OURS
from app.engine.smpl_body import (
    MODEL_ENV,
    SMPLModelError,
    find_model,
    load_smpl,
    smpl_animation,
    smpl_vertices,
    write_mesh_sequence,
)

def test_the_take_drives_an_smpl_body(tmp_path, bandai_namco_sample):
    write_synthetic_smpl(tmp_path / "SMPL_TEST.npz")
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
    assert write_mesh_sequence(vertices, model.faces, tmp_path / "frames") == len(positions)
    first = (tmp_path / "frames" / "frame_0000.obj").read_text().splitlines()
    assert sum(line.startswith("v ") for line in first) == 96 and sum(line.startswith("f ") for line in first) == 48


def test_a_folder_points_at_its_model(tmp_path):
    write_synthetic_smpl(tmp_path / "SMPL_FEMALE.npz")
    assert find_model(tmp_path) == tmp_path / "SMPL_FEMALE.npz"
    (tmp_path / "smpl").mkdir()
    write_synthetic_smpl(tmp_path / "smpl" / "SMPL_NEUTRAL.npz")  # smplx's layout; the neutral model comes first
    assert find_model(tmp_path) == tmp_path / "smpl" / "SMPL_NEUTRAL.npz"
    assert load_smpl(tmp_path).faces.shape == (48, 3)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl").write_bytes(b"")
    with pytest.raises(SMPLModelError, match="no SMPL model in .*empty.*convert to .npz"):
        find_model(tmp_path / "empty")
    with pytest.raises(SMPLModelError, match="does not exist"):
        find_model(tmp_path / "nowhere")


def _broken(path, **changes):
    write_synthetic_smpl(path)
    with np.load(path) as npz:
        data = dict(npz)
    np.savez(path, **{**data, **changes})
    return path


@pytest.mark.parametrize("changes, message", [
    ({"J_regressor": np.zeros((55, 96))}, "expected SMPL's 24 joints, the model has 55"),
    ({"weights": np.zeros((96, 23))}, r"weights has shape \(96, 23\), expected \(96, 24\)"),
    ({"posedirs": np.zeros((96, 3, 10))}, "posedirs has shape"),
    ({"f": np.array([[0, 1, 400]])}, "triangles"),
    ({"kintree_table": np.array([[4294967295] + list(range(23)), list(range(24))])}, "joint tree"),
    ({"v_template": np.full((96, 3), np.nan)}, "v_template holds values that are not finite"),
])
def test_model_files_of_the_wrong_shape_are_one_clear_error(tmp_path, changes, message):
    with pytest.raises(SMPLModelError, match=message):
        load_smpl(_broken(tmp_path / "SMPL_NEUTRAL.npz", **changes))


def test_model_files_that_do_not_fit_are_one_clear_error(tmp_path):
    with pytest.raises(SMPLModelError, match="as .npz"):
        load_smpl(tmp_path / "SMPL_NEUTRAL.pkl")
    np.savez(tmp_path / "bad.npz", v_template=np.zeros((3, 3)))
    with pytest.raises(SMPLModelError, match="lacks shapedirs"):
        load_smpl(tmp_path / "bad.npz")
    good = tmp_path / "SMPL_NEUTRAL.npz"
    write_synthetic_smpl(good)
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(SMPLModelError, match="cut.npz: cannot read the model"):
        load_smpl(tmp_path / "cut.npz")
    (tmp_path / "text.npz").write_text("not a model")
    with pytest.raises(SMPLModelError, match=r"text.npz: cannot read the model \(it is not an .npz archive\)"):
        load_smpl(tmp_path / "text.npz")
    with np.load(good) as npz:
        data = dict(npz)
    data["J_regressor"] = np.array(object(), dtype=object)  # as a .pkl's sparse matrix saved unconverted
    np.savez(tmp_path / "objects.npz", **data)
    with pytest.raises(SMPLModelError, match="objects.npz holds Python objects, which Kinema never unpickles"):
        load_smpl(tmp_path / "objects.npz")


def test_a_ply_sequence_holds_the_posed_vertices(tmp_path):
    vertices = np.random.default_rng(0).normal(size=(3, 5, 3))
    faces = np.array([[0, 1, 2], [2, 3, 4]])
    assert write_mesh_sequence(vertices, faces, tmp_path / "ply", "walk", kind="ply") == 3
    data = (tmp_path / "ply" / "walk_0002.ply").read_bytes()
    header, body = data.split(b"end_header\n")
    assert b"element vertex 5" in header and b"element face 2" in header
    np.testing.assert_allclose(np.frombuffer(body[:60], "<f4").reshape(5, 3), vertices[2], atol=1e-6)
    tris = np.frombuffer(body[60:], dtype=[("n", "u1"), ("v", "<i4", 3)])
    assert (tris["n"] == 3).all() and (tris["v"] == faces).all()
    assert not list((tmp_path / "ply").glob(".*"))  # no temp files left


def test_the_command_writes_an_obj_per_frame(tmp_path, bandai_namco_sample, capsys, monkeypatch):
    from app.cli import main

    write_synthetic_smpl(tmp_path / "SMPL_TEST.npz")
    take = bandai_namco_sample / "dataset-2_walk_normal_001.bvh"
    assert main(["smpl-body", str(take), "--model", str(tmp_path / "SMPL_TEST.npz"), "-o", str(tmp_path / "obj")]) == 0
    assert len(list((tmp_path / "obj").glob("*.obj"))) == 182 and "wrote 182 OBJ files" in capsys.readouterr().out
    assert main(["smpl-body", str(take), "--model", str(tmp_path / "none.pkl"), "-o", str(tmp_path / "x")]) == 2
    monkeypatch.delenv(MODEL_ENV, raising=False)
    assert main(["smpl-body", str(take), "-o", str(tmp_path / "y")]) == 2
    assert f"set {MODEL_ENV}" in capsys.readouterr().err
    models = tmp_path / "models"
    models.mkdir()
    write_synthetic_smpl(models / "SMPL_NEUTRAL.npz")
    monkeypatch.setenv(MODEL_ENV, str(models))  # the folder, from the environment
    assert main(["smpl-body", str(take), "-o", str(tmp_path / "ply"), "--sequence", "ply"]) == 0
    assert len(list((tmp_path / "ply").glob("*.ply"))) == 182
    assert main(["smpl-body", str(take), "-o", str(tmp_path / "body.glb")]) == 0
    assert "skinned to SMPL's 24 joints" in capsys.readouterr().out and (tmp_path / "body.glb").stat().st_size > 0
    assert main(["smpl-body", str(take), "-o", str(tmp_path / "body.bvh")]) == 2  # BVH holds no body
    assert not (tmp_path / "body.bvh").exists()
