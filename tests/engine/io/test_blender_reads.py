"""Blender as an independent reader (slow; needs Blender as a module in its own venv, which pins numpy < 2:
KINEMA_BPY_PYTHON=/path/to/bpyenv/bin/python). It imports Mesh2Motion's glTF and the take we write onto that rig
as BVH, and finds every joint where our reader and our writer put it."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from app.engine.document.files import read_take
from app.engine.io.export import write_rig_bvh
from app.engine.io.gltf_import import read_gltf
from app.engine.io.onto_rig import retarget_onto

BPY = os.environ.get("KINEMA_BPY_PYTHON", "")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path(BPY).is_file(), reason="set KINEMA_BPY_PYTHON to a "
                                                   "Python with bpy 5 to run Blender as a reader")]
READER = Path(__file__).with_name("blender_read.py")


def blender_joints(path: Path, action: str | None = None) -> dict:
    out = subprocess.run([BPY, str(READER), str(path), *([action] if action else [])], capture_output=True,
                         text=True, timeout=600, check=True).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("JOINTS"))[len("JOINTS"):])


def test_blender_finds_our_gltf_joints_and_our_bvh_onto_that_rig(shared_data, bandai_namco_sample, tmp_path):
    glb = shared_data / "extra" / "mesh2motion" / "human-addon-animations.glb"
    ours = read_gltf(glb, "Jumping Jacks")
    theirs = blender_joints(glb, "Jumping Jacks")
    world = ours.world_positions()
    assert len(theirs["frames"]) == ours.n_frames == 30 and len(theirs["frames"]["0"]) == ours.rig.n_joints
    for t, pose in theirs["frames"].items():
        for name, xyz in pose.items():
            if name != "root":  # the still root carries the pelvis's motion in a RigAnimation
                assert np.abs(world[int(t), ours.rig.names.index(name)] - xyz).max() < 1e-3, (t, name)

    take = read_take(bandai_namco_sample / "dataset-2_walk_normal_001.bvh")
    anim = retarget_onto(take.placement.to_world(take.positions), take.fps, ours.rig)
    write_rig_bvh(anim, tmp_path / "onto.bvh")
    read = blender_joints(tmp_path / "onto.bvh")
    world = anim.world_positions()
    assert len(read["frames"]) == anim.n_frames
    for t, pose in read["frames"].items():
        for name, xyz in pose.items():
            assert np.abs(world[int(t), ours.rig.names.index(name)] - xyz).max() < 1e-3, (t, name)
