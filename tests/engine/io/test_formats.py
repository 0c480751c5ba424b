"""The extension table: each extension gets its writer, the take's rig reaches every format the same, and an
unknown extension is one clear error with no file written."""
from __future__ import annotations

import numpy as np
import pytest
from writer_checks import glb_positions, random_animation, ufbx_positions

from app.cli import main
from app.engine.document.files import export_take, read_take
from app.engine.io.bvh import read_bvh
from app.engine.io.bvh_rig import bvh_animation, guess_unit
from app.engine.io.export import take_animation
from app.engine.io.formats import UnknownFormat, export_positions, file_filter, reader_for, write_animation, writer_for
from app.engine.io.rig import Rig, RigAnimation
from app.engine.skeleton import BANDAI_NAMCO_21

WALK = "dataset-2_walk_normal_001.bvh"
MAGIC = {".bvh": b"HIERARCHY", ".fbx": b"Kaydara FBX Binary  \x00", ".glb": b"glTF", ".gltf": b"{"}


@pytest.fixture(scope="module")
def walk(bandai_namco_sample):
    return read_take(bandai_namco_sample / WALK)


@pytest.mark.parametrize("suffix", [".bvh", ".fbx", ".glb", ".gltf", ".FBX"])
def test_each_extension_picks_its_writer(tmp_path, walk, suffix):
    path = tmp_path / f"walk{suffix}"
    export_take(walk, path, frame_range=(0, 40))
    assert path.read_bytes().startswith(MAGIC[suffix.lower()])


def test_an_exported_take_reads_back_the_same_in_every_format(tmp_path, walk):
    """The studio's export of a real take, read by independent readers: the same joint positions everywhere
    (the engine's rig animation through the take's IK fit, where the file has it)."""
    world = walk.placement.to_world(walk.positions)
    expected = take_animation(world, BANDAI_NAMCO_21, walk.fps).world_positions()
    frames = list(range(0, walk.n_frames, 10))
    for suffix in (".bvh", ".fbx", ".glb"):  # on Kinema's rig (an imported take otherwise goes out on its own)
        export_take(walk, tmp_path / f"walk{suffix}", own_rig=False)
    bvh = read_bvh(tmp_path / "walk.bvh")
    order = [bvh.names.index(n) for n in BANDAI_NAMCO_21.joint_names]
    found = {".bvh": bvh.world_positions()[frames][:, order] / 100.0,
             ".fbx": ufbx_positions(tmp_path / "walk.fbx", BANDAI_NAMCO_21.joint_names, frames, walk.fps),
             ".glb": glb_positions(tmp_path / "walk.glb", BANDAI_NAMCO_21.joint_names, frames, walk.fps)}
    for suffix, positions in found.items():
        assert np.abs(positions - expected[frames]).max() < 1e-3, suffix


@pytest.mark.parametrize("name", ["walk.obj", "walk", "walk.npy"])
def test_an_unknown_extension_is_one_clear_error_and_no_file(tmp_path, walk, name):
    with pytest.raises(UnknownFormat, match=r"cannot write .* files; choose \.bvh, \.fbx, \.glb, \.gltf"):
        export_positions(walk.positions, BANDAI_NAMCO_21, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_the_cli_refuses_an_unknown_extension_in_one_line(tmp_path, bandai_namco_sample, capsys):
    out = tmp_path / "walk.abc"
    assert main(["convert", str(bandai_namco_sample / WALK), str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write .abc files" in err and not out.exists()
    assert main(["generate", "a person walks", "-o", str(out)]) == 2  # refused before the model runs
    assert "cannot write .abc files" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_reading_names_what_can_be_read(tmp_path):
    assert reader_for(tmp_path / "a.BVH").suffix == ".bvh"
    with pytest.raises(UnknownFormat, match=r"cannot read \.obj files; Kinema reads \.bvh, \.fbx, \.glb, \.gltf, \.npy"):
        read_take(tmp_path / "a.obj")


def test_dialog_filters_come_from_the_table():
    assert file_filter(writing=True).startswith("Motion (*.bvh *.fbx *.glb *.gltf);;BVH (*.bvh);;FBX (*.fbx)")
    assert file_filter(writing=False).startswith("Motion (*.bvh *.fbx *.glb *.gltf *.npy)")
    assert writer_for("x.glb").carries_body and not writer_for("x.bvh").carries_body


def test_convert_keeps_a_bvh_files_own_rig_in_fbx_and_gltf(tmp_path, shared_data, capsys):
    """A 43-joint CMU take converted to FBX and glTF keeps its joints, names, frame rate and motion."""
    source = shared_data / "cmu-sample" / "02_01.bvh"
    bvh = read_bvh(source)
    unit, scale = guess_unit(bvh)
    assert unit == "cm"
    expected = bvh.world_positions() * scale
    frames = list(range(0, bvh.n_frames, 40))
    for suffix in (".fbx", ".glb"):
        assert main(["convert", str(source), str(tmp_path / f"cmu{suffix}")]) == 0
        assert f"43 joints, {bvh.n_frames} frames at 120 fps" in capsys.readouterr().out
    found = ufbx_positions(tmp_path / "cmu.fbx", tuple(bvh.names), frames, bvh.fps)
    assert np.abs(found - expected[frames]).max() < 1e-3
    found = glb_positions(tmp_path / "cmu.glb", tuple(bvh.names), frames, bvh.fps)
    assert np.abs(found - expected[frames]).max() < 1e-3


def test_convert_explains_a_rig_with_stretching_bones_and_offers_kinemas_rig(tmp_path, bandai_namco_sample, capsys):
    source = bandai_namco_sample / WALK
    with pytest.raises(ValueError, match="joint Hips moves by its position channels"):
        bvh_animation(read_bvh(source), 0.01)
    assert main(["convert", str(source), str(tmp_path / "walk.fbx")]) == 2
    assert "--kinema-rig" in capsys.readouterr().err and not (tmp_path / "walk.fbx").exists()
    assert main(["convert", str(source), str(tmp_path / "walk.fbx"), "--kinema-rig", "--fps", "30"]) == 0
    assert "Kinema's 21-joint rig" in capsys.readouterr().out and (tmp_path / "walk.fbx").is_file()


def test_a_one_frame_pose_exports_and_an_empty_take_or_a_missing_folder_writes_nothing(tmp_path):
    pose = random_animation(Rig.from_skeleton(BANDAI_NAMCO_21), 1, seed=9)
    names = BANDAI_NAMCO_21.joint_names
    for suffix, read in ((".fbx", ufbx_positions), (".glb", glb_positions)):
        write_animation(pose, tmp_path / f"pose{suffix}")
        assert np.abs(read(tmp_path / f"pose{suffix}", names, [0], pose.fps) - pose.world_positions()).max() < 1e-3
        with pytest.raises(ValueError, match="no frames to export"):
            write_animation(RigAnimation(pose.rig, pose.root_positions[:0], pose.local_rotations[:0], pose.fps),
                            tmp_path / f"empty{suffix}")
        with pytest.raises(OSError):
            write_animation(pose, tmp_path / "no-such-folder" / f"pose{suffix}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pose.fbx", "pose.glb"]
