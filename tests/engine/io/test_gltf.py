"""glTF export: pygltflib reads our .glb/.gltf and the glTF rules, applied here, put every joint where the engine has it."""
from __future__ import annotations

import numpy as np
import pytest
from writer_checks import box_body, glb_positions, random_animation, twisted_rig

from app.engine.io.gltf import write_gltf
from app.engine.io.rig import Rig, RigAnimation
from app.engine.skeleton import BANDAI_NAMCO_21, SMPL_22

gl = pytest.importorskip("pygltflib")
MM = 1e-3


@pytest.mark.parametrize("rig", [Rig.from_skeleton(BANDAI_NAMCO_21), Rig.from_skeleton(SMPL_22), twisted_rig()],
                         ids=["bandai-namco", "smpl", "rest-rotations"])
@pytest.mark.parametrize("suffix", [".glb", ".gltf"])
def test_glb_joint_positions_match_the_engines_at_every_10th_frame(tmp_path, rig, suffix):
    anim = random_animation(rig, 61, seed=1)
    write_gltf(anim, tmp_path / f"take{suffix}")
    frames = list(range(0, anim.n_frames, 10))
    found = glb_positions(tmp_path / f"take{suffix}", rig.names, frames, anim.fps)
    assert np.abs(found - anim.world_positions()[frames]).max() < MM


def test_between_frames_the_file_interpolates_like_the_take(tmp_path):
    """Samplers are LINEAR and quaternions keep one hemisphere, so a player halfway between two frames shows the
    slerped pose, never a spin the long way round."""
    rig = Rig.from_skeleton(BANDAI_NAMCO_21)
    anim = random_animation(rig, 21, seed=2, spread=3.0)
    write_gltf(anim, tmp_path / "take.glb")
    halfway = glb_positions(tmp_path / "take.glb", rig.names, [2 * k + 1 for k in range(10)], 2 * anim.fps)
    expected = anim.resampled(2 * anim.fps).world_positions()[1:20:2]
    assert np.abs(halfway - expected).max() < MM


def test_skin_binds_every_joint_with_inverse_bind_matrices_of_the_rest_pose(tmp_path):
    rig = twisted_rig()
    body = box_body(rig)
    write_gltf(random_animation(rig, 11, seed=3), tmp_path / "body.glb", mesh=body)
    gltf = gl.GLTF2().load(str(tmp_path / "body.glb"))
    skin, blob = gltf.skins[0], gltf.binary_blob()
    assert [gltf.nodes[j].name for j in skin.joints] == list(rig.names)
    acc = gltf.accessors[skin.inverseBindMatrices]
    view = gltf.bufferViews[acc.bufferView]
    inverse = np.frombuffer(blob, "<f4", 16 * acc.count, view.byteOffset).reshape(-1, 4, 4).transpose(0, 2, 1)
    np.testing.assert_allclose(inverse @ rig.bind_matrices(), np.broadcast_to(np.eye(4), (rig.n_joints, 4, 4)),
                               atol=1e-5)
    primitive = gltf.meshes[0].primitives[0]
    position = gltf.accessors[primitive.attributes.POSITION]
    assert position.count == len(body.vertices) and gltf.accessors[primitive.indices].count == body.faces.size
    assert gltf.nodes[-1].skin == 0 and gltf.nodes[-1].mesh == 0
    assert gltf.scenes[0].nodes == [0, len(gltf.nodes) - 1]  # the body sits beside the skeleton, not inside it


def test_the_same_take_gives_the_same_bytes(tmp_path):
    rig = Rig.from_skeleton(BANDAI_NAMCO_21)
    anim = random_animation(rig, 30, seed=4)
    write_gltf(anim, tmp_path / "a.glb", mesh=box_body(rig))
    write_gltf(anim, tmp_path / "b.glb", mesh=box_body(rig))
    assert (tmp_path / "a.glb").read_bytes() == (tmp_path / "b.glb").read_bytes()
    moved = RigAnimation(rig, anim.root_positions + 0.01, anim.local_rotations, anim.fps)
    write_gltf(moved, tmp_path / "c.glb")
    assert (tmp_path / "c.glb").read_bytes() != (tmp_path / "a.glb").read_bytes()


def test_frame_range_and_rate_options(tmp_path):
    anim = random_animation(Rig.from_skeleton(BANDAI_NAMCO_21), 81, seed=5)
    write_gltf(anim, tmp_path / "part.glb", frame_range=(20, 61), fps=10.0)
    part = anim.frames((20, 61)).resampled(10.0)
    found = glb_positions(tmp_path / "part.glb", anim.rig.names, [0, 10, 20], 10.0)
    assert np.abs(found - part.world_positions()[[0, 10, 20]]).max() < MM
    times = gl.GLTF2().load(str(tmp_path / "part.glb")).accessors[0 + 1]  # accessor 0 holds the inverse binds
    assert times.count == 21 and times.max == [pytest.approx(2.0)]
