"""Blender (bpy 5.0.1, as a module in its own venv: it pins numpy < 2) imports our FBX, glTF and BVH headless and
finds every joint where the engine has it, to 1 mm, and the FBX/glTF body bound to the armature and deformed as
linear blend skinning deforms it, to 1 mm.

Set KINEMA_BPY_PYTHON to that venv's python (e.g. `python3.11 -m venv bpyenv && bpyenv/bin/pip install
bpy==5.0.1`); without it (or with bpy in this interpreter) the test is skipped.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree
from writer_checks import box_body, linear_blend_skinning, random_animation, twisted_rig

from app.engine.io.formats import write_animation
from app.engine.io.rig import Rig, RigAnimation
from app.engine.skeleton import BANDAI_NAMCO_21

SCRIPT = Path(__file__).with_name("blender_positions.py")
FRAMES = [0, 10, 20, 30, 40]


def _blender_python() -> str:
    candidates = [os.environ.get("KINEMA_BPY_PYTHON"), sys.executable]
    for python in filter(None, candidates):
        found = subprocess.run([python, "-c", "import bpy"], capture_output=True, check=False)
        if found.returncode == 0:
            return python
    pytest.skip("no Python with bpy: set KINEMA_BPY_PYTHON to a venv with bpy==5.0.1")


def blender_read(python: str, anim: RigAnimation, paths: list[str], frames: list[int]) -> dict:
    """What Blender finds in each file (SCRIPT's JSON: bones and bodies per path), after checking that every joint
    of `anim`'s rig is where the engine has it, to 1 mm, at `frames`."""
    run = subprocess.run([python, str(SCRIPT), str(anim.fps), ",".join(map(str, frames)), *paths],
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("JSON"))[4:])
    expected = anim.world_positions()[frames]
    for path in paths:
        bones = result[path]["bones"]
        found = np.array([bones[name] for name in anim.rig.names]).transpose(1, 0, 2)  # (frames, J, 3)
        assert np.abs(found - expected).max() < 1e-3, path
    return result


@pytest.mark.slow
@pytest.mark.parametrize("rig", [Rig.from_skeleton(BANDAI_NAMCO_21), twisted_rig()], ids=["bandai-namco", "rest-rotations"])
def test_blender_imports_our_fbx_gltf_and_bvh_with_every_joint_in_place(tmp_path, rig):
    python = _blender_python()
    anim, body = random_animation(rig, 41, seed=0), box_body(rig)
    paths = []
    for suffix in (".fbx", ".glb", ".bvh"):
        paths.append(str(tmp_path / f"take{suffix}"))
        write_animation(anim, paths[-1], mesh=None if suffix == ".bvh" else body, end_sites=BANDAI_NAMCO_21.end_sites)
    result = blender_read(python, anim, paths, FRAMES)
    for path in paths[:2]:
        (found,) = [b for b in result[path]["bodies"] if b["armature"]]  # glTF adds an unbound bone-display mesh
        assert found["vertices"] == 8 * rig.n_joints and found["groups"] == rig.n_joints, path
        for f, posed in zip(FRAMES, found["posed"]):  # importers may reorder vertices: compare as point sets
            expected_body = linear_blend_skinning(anim, body, f)
            assert cKDTree(posed).query(expected_body)[0].max() < 1e-3, (path, f)
            assert cKDTree(expected_body).query(posed)[0].max() < 1e-3, (path, f)
