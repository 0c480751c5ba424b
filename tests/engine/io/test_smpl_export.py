"""The SMPL (and SMPL-X) body leaves as a skinned mesh on its own rig: independent readers (pygltflib with the glTF skinning
rules applied here, ufbx for FBX) find its vertices where the engine poses them, frame by frame."""
from __future__ import annotations

import numpy as np
import pytest
from synthetic_smpl import write_synthetic_smpl
from writer_checks import glb_positions, glb_vertices, ufbx_positions

from app.engine.document.files import read_take
from app.engine.smpl_body import load_smpl, smpl_animation, smpl_vertices, write_smpl_body

pytest.importorskip("smplx")
MM = 1e-3
FRAMES = [0, 9, 23, 40]
SAMPLED = [0, 11, 30, 57, 62, 85, 94]  # vertices on the pelvis, legs, spine, arms and hands; some blended


@pytest.fixture(scope="module", params=["SMPL", "SMPL-X"])
def posed(tmp_path_factory, bandai_namco_sample, request):
    """A synthetic model with blended skin weights, driven by a real kick (every 4th frame)."""
    path = tmp_path_factory.mktemp("smpl") / "SMPL_NEUTRAL.npz"
    write_synthetic_smpl(path, blend=True, family=request.param)
    model = load_smpl(path)
    take = read_take(bandai_namco_sample / "dataset-1_kick_normal_001.bvh")
    anim = smpl_animation(model, take.placement.to_world(take.positions)[::4], take.fps / 4)
    vertices, _ = smpl_vertices(model, anim)
    return model, anim, vertices


@pytest.mark.parametrize("suffix", [".glb", ".gltf"])
def test_the_gltf_body_is_skinned_and_animated_as_the_engine_poses_it(tmp_path, posed, suffix):
    model, anim, vertices = posed
    path = tmp_path / f"body{suffix}"
    assert write_smpl_body(model, anim, path) == 1
    found = glb_vertices(path, FRAMES, anim.fps)
    assert found.shape == (len(FRAMES), len(vertices[0]), 3)
    assert np.abs(found[:, SAMPLED] - vertices[FRAMES][:, SAMPLED]).max() < MM
    assert np.abs(found - vertices[FRAMES]).max() < MM  # and every other vertex
    joints = glb_positions(path, anim.rig.names, FRAMES, anim.fps)
    assert np.abs(joints - anim.world_positions()[FRAMES]).max() < MM
    moved = np.linalg.norm(vertices[FRAMES[-1]] - vertices[0], axis=-1)
    assert moved.max() > 0.2  # the kick moves the body: the check above is not of a statue


def test_the_fbx_body_is_skinned_and_animated_as_the_engine_poses_it(tmp_path, posed):
    pytest.importorskip("ufbx")
    model, anim, vertices = posed
    write_smpl_body(model, anim, tmp_path / "body.fbx")
    _, found = ufbx_positions(tmp_path / "body.fbx", anim.rig.names, FRAMES, anim.fps, skinned=True)
    assert np.abs(found - vertices[FRAMES]).max() < MM
