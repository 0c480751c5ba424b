import json
import os
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from app.engine.euler import euler_to_matrix
from app.engine.io.bvh import (BVH, BVHError, BVHJoint, bvh_from_rotations, format_bvh, parse_bvh, read_bvh,
                               write_bvh)

DATA = Path("/work/shared/data")
BANDAI = sorted((DATA / "bandai-namco" / "sample").glob("*.bvh"))
CMU = sorted((DATA / "cmu-sample").glob("*.bvh"))
CORPUS = Path(__file__).parent / "bvh_corpus"
CASES = json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))

THREE_JOINTS = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Spine
  {
    OFFSET 1 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT Head
    {
      OFFSET 0 1 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 0 0 2
      }
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
1 2 3 90 0 0 0 90 0 0 0 0
0 0 0 0 0 0 0 0 0 0 0 0
"""


def assert_same_bvh(a: BVH, b: BVH, atol: float = 1e-5) -> None:
    assert a.names == b.names
    np.testing.assert_array_equal(a.parents, b.parents)
    assert [j.channels for j in a.joints] == [j.channels for j in b.joints]
    np.testing.assert_allclose(a.offsets, b.offsets, atol=atol)
    for ja, jb in zip(a.joints, b.joints):
        assert (ja.end_site is None) == (jb.end_site is None)
        if ja.end_site is not None:
            np.testing.assert_allclose(ja.end_site, jb.end_site, atol=atol)
    assert a.frame_time == pytest.approx(b.frame_time, abs=1e-9)
    assert a.motion.shape == b.motion.shape
    np.testing.assert_allclose(a.motion, b.motion, atol=atol)


def reference_fk(parents, offsets, root_positions, rotmats):
    """Forward kinematics written out independently of the BVH code: (frames, J, 3)."""
    world_r = [None] * len(parents)
    world_t = [None] * len(parents)
    for j, p in enumerate(parents):
        if p < 0:
            world_r[j], world_t[j] = rotmats[:, j], root_positions  # BVH: position channels replace the offset
        else:
            world_r[j] = world_r[p] @ rotmats[:, j]
            world_t[j] = world_t[p] + (world_r[p] @ offsets[j])
    return np.stack(world_t, axis=1)


@pytest.mark.parametrize("path", BANDAI + CMU, ids=lambda p: p.name)
def test_real_files_survive_read_write_read_to_1e5(path, tmp_path):
    original = read_bvh(path)
    write_bvh(original, tmp_path / path.name)
    assert_same_bvh(read_bvh(tmp_path / path.name), original)


@pytest.mark.parametrize("path", BANDAI, ids=lambda p: p.name)
def test_bandai_namco_files_have_six_zxy_channels_per_joint_at_30_fps(path):
    bvh = read_bvh(path)
    assert bvh.names[0] == "joint_Root" and bvh.parents[0] == -1
    assert all(j.channels == ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]
               for j in bvh.joints)
    assert bvh.fps == pytest.approx(30.0, abs=1e-3)
    assert bvh.motion.shape == (bvh.n_frames, 6 * len(bvh.joints))


@pytest.mark.skipif(not CMU, reason="CMU sample not available")
def test_cmu_file_has_a_zyx_root_and_zxy_joints_at_120_fps():
    bvh = read_bvh(DATA / "cmu-sample" / "02_01.bvh")
    assert bvh.joints[0].channels[3:] == ["Zrotation", "Yrotation", "Xrotation"]
    assert all(j.channels == ["Zrotation", "Xrotation", "Yrotation"] for j in bvh.joints[1:])
    assert bvh.fps == pytest.approx(120.0, abs=1e-3) and bvh.n_frames == 344
    assert bvh.channel_slice(1) == slice(6, 9)
    np.testing.assert_allclose(bvh.motion[0, :3], [57.4159, 85.1527, -161.151])


def test_world_positions_of_a_three_joint_chain_match_a_hand_computation():
    bvh = parse_bvh(THREE_JOINTS)
    # Frame 0: root at (1, 2, 3) turned 90 about Z (x -> y), so Spine sits at (1, 2, 3) + (0, 1, 0).
    # Spine turns 90 about X (y -> z); Head's offset (0, 1, 0) becomes Rz Rx y = Rz z = z.
    expected = np.array([[[1, 2, 3], [1, 3, 3], [1, 3, 4]],
                         [[0, 0, 0], [1, 0, 0], [1, 1, 0]]], dtype=float)
    np.testing.assert_allclose(bvh.world_positions(), expected, atol=1e-12)
    np.testing.assert_allclose(bvh.world_rotations()[0, 2], euler_to_matrix([90, 0, 0], "ZXY")
                               @ euler_to_matrix([0, 90, 0], "ZXY"), atol=1e-12)
    np.testing.assert_allclose(bvh.joints[2].end_site, [0, 0, 2])


def test_position_channels_replace_the_offset_and_missing_rotations_are_identity():
    bvh = parse_bvh(THREE_JOINTS)
    np.testing.assert_allclose(bvh.local_translations()[0], [[1, 2, 3], [1, 0, 0], [0, 1, 0]])
    positions_only = BVH([BVHJoint("root", -1, np.zeros(3), ["Xposition", "Yposition", "Zposition"])],
                         1 / 30, np.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_array_equal(positions_only.local_rotations()[0, 0], np.eye(3))


def test_crlf_tabs_scientific_notation_and_spelling_variants_parse_identically():
    variant = (THREE_JOINTS.replace("  ", "\t").replace("End Site", "End site").replace("Frames:", "Frames :")
               .replace("Frame Time: 0.0333333", "Frame Time:\t0.008333").replace("Zrotation Xrotation Yrotation\n",
                                                                                  "zrotation XROTATION Yrotation\n")
               .replace("1 2 3 90", "1e0 2.0E+00 30e-1 9.0e1").replace("\n", "\r\n"))
    variant = variant.replace("\r\nMOTION", "\r\n\r\n\t\r\nMOTION")  # blank lines are ignored
    a, b = parse_bvh(THREE_JOINTS), parse_bvh(variant)
    assert [j.channels for j in a.joints] == [j.channels for j in b.joints]
    np.testing.assert_array_equal(a.motion, b.motion)
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert b.frame_time == 0.008333 and b.fps == pytest.approx(120.0, abs=0.02)


def test_frames_wrapped_over_several_lines_are_accepted_when_the_total_fits():
    lines = THREE_JOINTS.splitlines()
    wrapped = "\n".join(lines[:-2] + ["1 2 3 90 0 0", "0 90 0 0 0 0 0 0 0", "0 0 0 0 0 0 0 0 0"]) + "\n"
    np.testing.assert_array_equal(parse_bvh(wrapped).motion, parse_bvh(THREE_JOINTS).motion)


def test_format_is_deterministic_and_drops_negative_zero():
    bvh = parse_bvh(THREE_JOINTS)
    bvh.motion[1, 0] = -1e-15
    text = format_bvh(bvh)
    assert text == format_bvh(bvh)
    assert text.splitlines()[-1] == "0 0 0 0 0 0 0 0 0 0 0 0"
    assert "Frame Time: 0.0333333\n" in text


def test_bvh_from_rotations_round_trips_through_text_to_the_same_world_positions():
    # SMPL-like order: parents before children but not depth first, so the writer must reorder columns.
    names = ["pelvis", "l_hip", "r_hip", "spine", "l_knee", "r_knee", "head"]
    parents = [-1, 0, 0, 0, 1, 2, 3]
    rng = np.random.default_rng(0)
    offsets = rng.normal(0, 0.3, (7, 3))
    frames = 90
    spin = np.linspace(0, 3 * np.pi, frames)  # the pelvis turns 1.5 times: raw Euler angles would wrap
    rotvecs = rng.normal(0, 0.6, (1, 7, 3)) + np.sin(spin)[:, None, None] * rng.normal(0, 0.5, (1, 7, 3))
    rotvecs[:, 0] = np.stack([0.3 * np.sin(spin), spin, np.zeros(frames)], axis=-1)
    rotmats = Rotation.from_rotvec(rotvecs.reshape(-1, 3)).as_matrix().reshape(frames, 7, 3, 3)
    root_positions = np.stack([np.sin(spin), 0.9 + 0.05 * np.cos(spin), spin], axis=-1)
    end_sites = [None] * 4 + [np.array([0, -0.4, 0.05]), np.array([0, -0.4, 0.05]), np.array([0, 0.2, 0])]

    bvh = bvh_from_rotations(names, parents, offsets, root_positions, rotmats, 1 / 30, order="ZXY",
                             end_sites=end_sites)
    assert bvh.joints[0].channels == ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]
    assert all(j.channels == ["Zrotation", "Xrotation", "Yrotation"] for j in bvh.joints[1:])
    assert np.abs(np.diff(bvh.motion, axis=0)).max() < 20  # unwrapped: no 360 jumps in the exported curves

    expected = reference_fk(parents, offsets, root_positions, rotmats)
    np.testing.assert_allclose(bvh.world_positions(), expected, atol=1e-9)
    parsed = parse_bvh(format_bvh(bvh, precision=9))
    assert parsed.names == ["pelvis", "l_hip", "l_knee", "r_hip", "r_knee", "spine", "head"]  # depth first
    index = [parsed.names.index(n) for n in names]
    np.testing.assert_allclose(parsed.world_positions()[:, index], expected, atol=1e-6)
    # The default 6 decimals round each value by <= 5e-7; along a chain that stays well inside 1e-5.
    default = parse_bvh(format_bvh(bvh))
    np.testing.assert_allclose(default.world_positions()[:, index], expected, atol=1e-5)
    np.testing.assert_allclose(parsed.joints[parsed.names.index("head")].end_site, [0, 0.2, 0])


def test_bvh_from_rotations_refuses_a_child_listed_before_its_parent():
    with pytest.raises(ValueError, match="parent"):
        bvh_from_rotations(["a", "b"], [1, -1], np.zeros((2, 3)), np.zeros((1, 3)),
                           np.broadcast_to(np.eye(3), (1, 2, 3, 3)), 1 / 30)


def test_failed_write_leaves_the_old_file_intact_and_no_temp_files(tmp_path, monkeypatch):
    target = tmp_path / "take.bvh"
    target.write_text("old contents\n")

    def fail(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)  # the data is written, but the write cannot complete
    with pytest.raises(OSError, match="disk full"):
        write_bvh(parse_bvh(THREE_JOINTS), target)
    assert target.read_text() == "old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["take.bvh"]


def test_write_replaces_the_file_keeping_its_permissions_and_leaves_only_it(tmp_path):
    target = tmp_path / "take.bvh"
    target.write_text("old contents\n")
    target.chmod(0o640)
    write_bvh(parse_bvh(THREE_JOINTS), target)
    assert_same_bvh(read_bvh(target), parse_bvh(THREE_JOINTS), atol=1e-12)
    assert [p.name for p in tmp_path.iterdir()] == ["take.bvh"]
    assert target.stat().st_mode & 0o777 == 0o640


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_new_file_is_readable_by_others_unlike_a_bare_temp_file(tmp_path):
    write_bvh(parse_bvh(THREE_JOINTS), tmp_path / "new.bvh")
    assert (tmp_path / "new.bvh").stat().st_mode & 0o777 == 0o644


def test_read_falls_back_to_latin1_and_errors_name_the_file(tmp_path):
    latin = tmp_path / "café.bvh"
    latin.write_bytes(THREE_JOINTS.replace("Head", "Tête").encode("latin-1"))
    assert read_bvh(latin).names[2] == "Tête"
    broken = tmp_path / "take.bvh"
    broken.write_text(THREE_JOINTS.replace("Frames: 2", "Frames: 5"))
    with pytest.raises(BVHError, match=r"^take\.bvh, line 25: file ends after 2 of 5 frames$") as info:
        read_bvh(broken)
    assert info.value.line == 25 and info.value.source == "take.bvh"


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_file_raises_bvherror_naming_the_line(name):
    case = CASES[name]
    with pytest.raises(BVHError) as info:
        read_bvh(CORPUS / name)
    assert info.value.line == case["line"]
    assert str(info.value).startswith(f"{name}, line {case['line']}: ")
    assert case["contains"] in str(info.value)


def test_every_corpus_file_has_an_expectation():
    assert sorted(p.name for p in CORPUS.glob("*.bvh")) == sorted(CASES)


@pytest.mark.parametrize("where, message", [("missing/take.bvh", "the folder .*missing does not exist"),
                                            (".", "it is a folder"),
                                            ("/proc/take.bvh", "/proc/take.bvh: the folder does not accept new files")])
def test_write_errors_name_the_users_file_never_the_temp_file(tmp_path, where, message):
    target = tmp_path / where if not where.startswith("/") else Path(where)
    with pytest.raises(OSError, match=message) as error:
        write_bvh(parse_bvh(THREE_JOINTS), target)
    assert ".tmp" not in str(error.value) and str(target) in str(error.value)


def test_a_binary_file_is_named_as_such_not_printed(tmp_path):
    garbage = tmp_path / "garbage.bvh"
    garbage.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(BVHError, match="garbage.bvh, line 1: .*binary data: this is not a BVH text file") as error:
        read_bvh(garbage)
    assert str(error.value).isprintable() and "\\x" not in str(error.value)
