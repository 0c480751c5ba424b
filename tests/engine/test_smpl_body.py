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
    model_family,
    smpl_animation,
    smpl_vertices,
    write_mesh_sequence,
)

@pytest.mark.parametrize("family, n_joints", [("SMPL", 24), ("SMPL+H", 52), ("SMPL-X", 55)])
def test_the_take_drives_an_smpl_body(tmp_path, bandai_namco_sample, family, n_joints):
    write_synthetic_smpl(tmp_path / "SMPL_TEST.npz", family=family)
    model = load_smpl(tmp_path / "SMPL_TEST.npz")
    assert model_family(model) == family
    take = read_take(bandai_namco_sample / "dataset-1_kick_normal_001.bvh")
    positions = take.placement.to_world(take.positions)[::10].astype(np.float64)
    anim = smpl_animation(model, positions, take.fps / 10)
    vertices, joints = smpl_vertices(model, anim)
    assert vertices.shape == (len(positions), 4 * n_joints, 3) and anim.rig.n_joints == n_joints
    np.testing.assert_allclose(joints, anim.world_positions(), atol=1e-4)  # smplx poses it as our fit says
    np.testing.assert_allclose(vertices.reshape(len(positions), n_joints, 4, 3).mean(2), joints, atol=1e-4)  # skin follows
    for smpl, ours in (("left_knee", "LowerLeg_L"), ("right_elbow", "LowerArm_R"), ("neck", "Neck")):
        j, o = anim.rig.names.index(smpl), OURS.index(ours)
        child = anim.rig.parents.index(j)
        theirs = joints[:, child] - joints[:, j]
        mine = positions[:, OURS.children[o][0]] - positions[:, o]
        cos = (theirs * mine).sum(-1) / np.linalg.norm(theirs, axis=-1) / np.linalg.norm(mine, axis=-1)
        assert cos.min() > 0.999, smpl
    rest = anim.rig.rest_rotations[22:]  # fingers, jaw and eyes: the take has none, they keep their rest pose
    np.testing.assert_allclose(anim.local_rotations[:, 22:], np.broadcast_to(rest, anim.local_rotations[:, 22:].shape),
                               atol=1e-9)
    assert write_mesh_sequence(vertices, model.faces, tmp_path / "frames") == len(positions)
    first = (tmp_path / "frames" / "frame_0000.obj").read_text().splitlines()
    assert sum(line.startswith("v ") for line in first) == 4 * n_joints
    assert sum(line.startswith("f ") for line in first) == 2 * n_joints


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
    (tmp_path / "x" / "smplx").mkdir(parents=True)
    write_synthetic_smpl(tmp_path / "x" / "smplx" / "SMPLX_NEUTRAL.npz", family="SMPL-X")
    assert model_family(load_smpl(tmp_path / "x")) == "SMPL-X"  # smplx's layout for SMPL-X


def _broken(path, **changes):
    write_synthetic_smpl(path)
    with np.load(path) as npz:
        data = dict(npz)
    np.savez(path, **{**data, **changes})
    return path


@pytest.mark.parametrize("changes, message", [
    ({"J_regressor": np.zeros((30, 96))}, r"expected the joints of SMPL \(24\), SMPL\+H \(52\) or SMPL-X \(55\), the "
                                          "model has 30"),
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
    import trimesh  # and an independent reader agrees

    mesh = trimesh.load(tmp_path / "ply" / "walk_0002.ply", process=False)
    np.testing.assert_allclose(mesh.vertices, vertices[2], atol=1e-6)
    np.testing.assert_array_equal(mesh.faces, faces)
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
    assert "the SMPL body (96 vertices) skinned to its 24 joints" in capsys.readouterr().out and (tmp_path / "body.glb").stat().st_size > 0
    assert main(["smpl-body", str(take), "-o", str(tmp_path / "body.bvh")]) == 2  # BVH holds no body
    assert not (tmp_path / "body.bvh").exists()
