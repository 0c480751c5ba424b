"""FBX export: an independent reader (ufbx) finds the engine's joints, body and settings in our binary FBX."""
from __future__ import annotations

import numpy as np
import pytest
from writer_checks import box_body, linear_blend_skinning, random_animation, twisted_rig, ufbx_positions

from app.engine.io.fbx import KTIME_PER_SECOND, Node, encode_fbx, fbx_scene, write_fbx
from app.engine.io.rig import Rig, RigAnimation
from app.engine.skeleton import BANDAI_NAMCO_21, SMPL_22

ufbx = pytest.importorskip("ufbx")
MM = 1e-3


def every_10th(anim: RigAnimation) -> list[int]:
    return list(range(0, anim.n_frames, 10))


@pytest.mark.parametrize("rig", [Rig.from_skeleton(BANDAI_NAMCO_21), Rig.from_skeleton(SMPL_22), twisted_rig()],
                         ids=["bandai-namco", "smpl", "rest-rotations"])
@pytest.mark.parametrize("units", ["cm", "m"])
def test_ufbx_finds_the_engines_joint_positions_at_every_10th_frame(tmp_path, rig, units):
    anim = random_animation(rig, 61, seed=1)
    write_fbx(anim, tmp_path / "take.fbx", units=units)
    frames = every_10th(anim)
    found = ufbx_positions(tmp_path / "take.fbx", rig.names, frames, anim.fps)
    assert np.abs(found - anim.world_positions()[frames]).max() < MM


def test_file_states_y_up_units_frame_rate_rotation_order_and_bind_pose(tmp_path):
    anim = random_animation(Rig.from_skeleton(BANDAI_NAMCO_21), 41, seed=2, fps=30.0)
    write_fbx(anim, tmp_path / "take.fbx", units="m")
    scene = ufbx.load_file(str(tmp_path / "take.fbx"))
    assert not list(scene.metadata.warnings)  # nothing in the file needed ufbx to guess or repair
    settings = scene.settings
    assert settings.unit_meters == pytest.approx(1.0) and settings.frames_per_second == pytest.approx(30.0)
    assert settings.axes.up == ufbx.CoordinateAxis.POSITIVE_Y and settings.axes.front == ufbx.CoordinateAxis.POSITIVE_Z
    stack = next(iter(scene.anim_stacks))
    assert stack.time_end == pytest.approx(40 / 30.0)
    nodes = [n for n in list(scene.nodes) if n.name in BANDAI_NAMCO_21.joint_names]
    assert len(nodes) == 21 and all(n.bone is not None for n in nodes)  # LimbNodes
    assert all(n.rotation_order == ufbx.RotationOrder.XYZ for n in nodes)
    hips = next(n for n in nodes if n.name == "Hips")
    assert hips.node_depth == 1  # the root joint sits directly under the scene (reading .parent crashes ufbx 0.0.5)
    poses = list(scene.poses)
    assert len(poses) == 1 and poses[0].is_bind_pose and len(list(poses[0].bone_poses)) == 21


def test_custom_frame_rate_keys_land_on_frames(tmp_path):
    """20 fps is no FBX preset: the file says "custom" and gives the rate; every key sits on a frame time."""
    anim = random_animation(Rig.from_skeleton(BANDAI_NAMCO_21), 21, seed=3)
    scene = fbx_scene(anim)
    settings = next(n for n in scene if n.name == "GlobalSettings").children[1].children
    props = {p.props[0]: p.props[4:] for p in settings}
    assert props["TimeMode"] == [14] and props["CustomFrameRate"] == [20.0]
    times = next(n for n in _walk(scene) if n.name == "KeyTime").props[0]
    np.testing.assert_array_equal(times, np.arange(21) * (KTIME_PER_SECOND // 20))


def _walk(nodes: list[Node]):
    for node in nodes:
        yield node
        yield from _walk(node.children)


def test_rotation_curves_stay_continuous_when_the_character_turns_round(tmp_path):
    """Three full turns about Y: the Euler curves keep going (no 360-degree jumps, no flips at +-90)."""
    rig = Rig.from_skeleton(BANDAI_NAMCO_21)
    frames = 120
    angle = np.linspace(0, 6 * np.pi, frames)
    turn = np.zeros((frames, 3, 3))
    turn[:, 0, 0] = turn[:, 2, 2] = np.cos(angle)
    turn[:, 0, 2], turn[:, 2, 0], turn[:, 1, 1] = np.sin(angle), -np.sin(angle), 1.0
    local = np.repeat(np.eye(3)[None, None], frames, 0).repeat(rig.n_joints, 1)
    local[:, 0] = turn
    anim = RigAnimation(rig, np.zeros((frames, 3)), local, 20.0)
    curves = [n.children[3].props[0] for n in _walk(fbx_scene(anim)) if n.name == "AnimationCurve"]
    assert max(np.abs(np.diff(c)).max() for c in curves) < 10.0  # degrees per frame; the turn is 9.1
    write_fbx(anim, tmp_path / "turn.fbx")
    found = ufbx_positions(tmp_path / "turn.fbx", rig.names, list(range(0, frames, 7)), 20.0)
    assert np.abs(found - anim.world_positions()[::7]).max() < MM


def test_skinned_body_follows_the_bones_in_ufbx(tmp_path):
    rig = twisted_rig()
    anim, body = random_animation(rig, 31, seed=4), box_body(rig)
    write_fbx(anim, tmp_path / "body.fbx", mesh=body)
    frames = every_10th(anim)
    joints, vertices = ufbx_positions(tmp_path / "body.fbx", rig.names, frames, anim.fps, skinned=True)
    assert np.abs(joints - anim.world_positions()[frames]).max() < MM
    assert not list(ufbx.load_file(str(tmp_path / "body.fbx")).metadata.warnings)
    expected = np.stack([linear_blend_skinning(anim, body, f) for f in frames])
    assert vertices.shape == expected.shape and np.abs(vertices - expected).max() < MM


def test_frame_range_and_frame_rate_options(tmp_path):
    anim = random_animation(Rig.from_skeleton(BANDAI_NAMCO_21), 81, seed=5)
    write_fbx(anim, tmp_path / "part.fbx", frame_range=(20, 61), fps=10.0)
    part = anim.frames((20, 61)).resampled(10.0)
    assert part.n_frames == 21
    frames = every_10th(part)
    found = ufbx_positions(tmp_path / "part.fbx", anim.rig.names, frames, 10.0)
    assert np.abs(found - part.world_positions()[frames]).max() < MM
    assert np.abs(part.world_positions()[2] - anim.world_positions()[24]).max() < 1e-9  # frame 2 at 10 fps = 24


def test_the_same_take_gives_the_same_bytes(tmp_path):
    anim = random_animation(Rig.from_skeleton(BANDAI_NAMCO_21), 30, seed=6)
    body = box_body(anim.rig)
    write_fbx(anim, tmp_path / "a.fbx", mesh=body)
    write_fbx(anim, tmp_path / "b.fbx", mesh=body)
    assert (tmp_path / "a.fbx").read_bytes() == (tmp_path / "b.fbx").read_bytes()
    other = RigAnimation(anim.rig, anim.root_positions + 0.01, anim.local_rotations, anim.fps)
    assert encode_fbx(fbx_scene(other)) != encode_fbx(fbx_scene(anim))


@pytest.mark.parametrize("bad, message", [({"units": "mm"}, "units must be one of cm, m"),
                                          ({"frame_range": (5, 500)}, "frame 499 is outside the take (0–29)"),
                                          ({"fps": -1.0}, "frame rate must be a number above 0")])
def test_bad_options_are_refused_and_leave_the_old_file(tmp_path, bad, message):
    anim = random_animation(Rig.from_skeleton(BANDAI_NAMCO_21), 30, seed=7)
    path = tmp_path / "take.fbx"
    path.write_bytes(b"previous export")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        write_fbx(anim, path, **bad)
    assert path.read_bytes() == b"previous export" and sorted(p.name for p in tmp_path.iterdir()) == ["take.fbx"]


def test_a_body_skinned_to_missing_joints_is_refused(tmp_path):
    rig = Rig.from_skeleton(BANDAI_NAMCO_21)
    body = box_body(rig)
    body.joints[0, 0] = 40
    with pytest.raises(ValueError, match="outside the rig's 0–20"):
        write_fbx(random_animation(rig, 5, seed=8), tmp_path / "body.fbx", mesh=body)
    assert not (tmp_path / "body.fbx").exists()
