"""Blender as the independent reader of a take written onto Mesh2Motion's UE rig, as FBX, glTF and BVH: every joint
of that rig where the retargeted animation has it, to 1 mm (slow; KINEMA_BPY_PYTHON points at a venv with bpy, as
for test_blender.py, whose Blender reading and joint check this uses)."""
from __future__ import annotations


import pytest
from test_blender import _blender_python, blender_read

from app.engine.document.files import read_take
from app.engine.io.formats import write_animation
from app.engine.io.gltf_import import read_gltf
from app.engine.io.onto_rig import retarget_onto

FRAMES = [0, 20, 45, 70]


@pytest.mark.slow
def test_blender_finds_every_joint_of_a_take_onto_the_ue_rig(shared_data, bandai_namco_sample, tmp_path):
    python = _blender_python()
    rig = read_gltf(shared_data / "extra" / "mesh2motion" / "human-addon-animations.glb").rig
    take = read_take(bandai_namco_sample / "dataset-2_walk_normal_001.bvh")
    anim = retarget_onto(take.placement.to_world(take.positions), take.fps, rig).resampled(24.0)
    paths = [str(tmp_path / f"onto{suffix}") for suffix in (".fbx", ".glb", ".bvh")]
    for path in paths:
        write_animation(anim, path)
    blender_read(python, anim, paths, FRAMES)
