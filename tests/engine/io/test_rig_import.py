"""FBX and glTF import: real third-party rigs (Mesh2Motion's CC0 UE-mannequin and Rigify rigs, and a Mixamo-named
FBX that Blender wrote from the Rigify one, see fixtures/make_mixamo_walk.py) read into RigAnimations and takes."""
from __future__ import annotations

import numpy as np
import pytest

from app.engine.document.files import read_take
from app.engine.io.fbx_import import FBXImportError, read_fbx
from app.engine.io.gltf_import import GLTFImportError, animation_names, read_gltf
from app.engine.io.retarget import (
    JOINT_NAME_MAPS,
    RetargetError,
    import_rig,
    match_joints,
    suggest_mapping,
)
from app.engine.io.rig import Rig, RigAnimation
from app.engine.io.rig_mappings import load_mapping, save_mapping
from app.engine.skeleton import BANDAI_NAMCO_21

FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"
MIXAMO_FBX = FIXTURES / "mixamo_walk.fbx"
RIGIFY_TO_MIXAMO = {"DEF-hips": "Hips", "DEF-spine.001": "Spine", "DEF-spine.002": "Spine1", "DEF-spine.003": "Spine2",
                    "DEF-neck": "Neck", "DEF-head": "Head"}
for _s, _side in (("L", "Left"), ("R", "Right")):
    RIGIFY_TO_MIXAMO.update({f"DEF-shoulder.{_s}": f"{_side}Shoulder", f"DEF-upper_arm.{_s}": f"{_side}Arm",
                             f"DEF-forearm.{_s}": f"{_side}ForeArm", f"DEF-hand.{_s}": f"{_side}Hand",
                             f"DEF-thigh.{_s}": f"{_side}UpLeg", f"DEF-shin.{_s}": f"{_side}Leg",
                             f"DEF-foot.{_s}": f"{_side}Foot", f"DEF-toe.{_s}": f"{_side}ToeBase"})


@pytest.fixture(scope="module")
def mesh2motion(shared_data):
    return shared_data / "extra" / "mesh2motion"


def test_gltf_and_fbx_readers_agree_on_the_same_walk(mesh2motion):
    """Blender wrote the FBX from the glTF: ufbx's evaluation and our glTF sampling are independent paths, and
    every joint (the still root aside, which carries the hips' motion in both) agrees to well under a millimetre."""
    gltf = read_gltf(mesh2motion / "human-base-animations.glb", "Walk_Loop")
    fbx = read_fbx(MIXAMO_FBX)
    assert (gltf.fps, fbx.fps) == (24.0, 24.0) and gltf.n_frames == fbx.n_frames == 33
    assert fbx.rig.n_joints == 23 and fbx.rig.names[1] == "mixamorig:Hips"
    g, f = gltf.world_positions(), fbx.world_positions()
    for rigify, mixamo in RIGIFY_TO_MIXAMO.items():
        error = np.abs(g[:, gltf.rig.names.index(rigify)] - f[:, fbx.rig.names.index("mixamorig:" + mixamo)]).max()
        assert error < 1e-4, (rigify, error)


def test_mesh2motion_rigs_map_themselves(mesh2motion):
    ue = read_gltf(mesh2motion / "human-addon-animations.glb", "Run Anime")
    rigify = read_gltf(mesh2motion / "human-base-animations.glb", "Jog_Fwd_Loop")
    assert match_joints(ue.rig.names)["UpperLeg_L"] == ue.rig.names.index("thigh_l")
    assert match_joints(rigify.rig.names)["Toes_R"] == rigify.rig.names.index("DEF-toe.R")
    assert len(animation_names(mesh2motion / "human-addon-animations.glb")) == 37
    with pytest.raises(GLTFImportError, match="no animation 'Moonwalk'.*Run Anime"):
        read_gltf(mesh2motion / "human-addon-animations.glb", "Moonwalk")


@pytest.mark.parametrize("file, clip", [("human-addon-animations.glb", "Run Anime"),
                                        ("human-base-animations.glb", "Jog_Fwd_Loop"), (None, None)])
def test_imported_rigs_become_takes_that_remember_their_rig(mesh2motion, file, clip):
    path = MIXAMO_FBX if file is None else mesh2motion / file
    take = read_take(path, animation=clip)
    assert take.fps == 20.0 and np.isfinite(take.positions).all()
    head = take.positions[:, BANDAI_NAMCO_21.index("Head"), 1]
    assert 0.9 < head.max() < 1.8  # an adult's head (running bent forward, too), whatever the source's units
    assert take.source is not None and take.source.fps == 24.0 and take.source.name == path.name


def test_every_naming_scheme_maps_a_rig_named_that_way():
    for scheme, names in JOINT_NAME_MAPS[BANDAI_NAMCO_21.name].items():
        ours_to_theirs = {ours: theirs for theirs, ours in names.items()}
        rig_names = [ours_to_theirs.get(n, f"extra_{n}") for n in BANDAI_NAMCO_21.joint_names]
        found = match_joints(rig_names)
        for ours, theirs in ours_to_theirs.items():
            assert found[ours] == rig_names.index(theirs), scheme


def test_unknown_names_get_a_suggestion_and_a_hand_mapping(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    names = [f"bone{j}" for j in range(BANDAI_NAMCO_21.n_joints)]
    names[0] = "mixamorig:Hips"
    with pytest.raises(RetargetError, match="Map them by hand"):
        match_joints(names)
    assert suggest_mapping(names) == {"Hips": "mixamorig:Hips"}
    mapping = dict(zip(BANDAI_NAMCO_21.joint_names, names))
    rig = Rig(tuple(names), BANDAI_NAMCO_21.parents, BANDAI_NAMCO_21.offsets, np.repeat(np.eye(3)[None], 21, axis=0))
    anim = RigAnimation(rig, np.array([[0.0, 0.9, 0.0], [0.0, 0.9, 0.1]]), np.repeat(rig.rest_rotations[None], 2, 0), 20.0)
    assert import_rig(anim, mapping=mapping).shape == (2, 21, 3)
    with pytest.raises(RetargetError, match="no joint given for Spine"):
        import_rig(anim, mapping={k: v for k, v in mapping.items() if k != "Spine"})
    assert load_mapping(names) is None
    save_mapping(names, mapping)
    assert load_mapping(names) == mapping
    assert load_mapping(names[::-1]) is None  # another rig


def test_bad_files_are_one_clear_error(tmp_path):
    bad = tmp_path / "walk.fbx"
    bad.write_text("HIERARCHY\nROOT Hips\n")
    with pytest.raises(FBXImportError, match="walk.fbx: not a readable FBX file"):
        read_fbx(bad)
    glb = tmp_path / "walk.glb"
    glb.write_bytes(b"not json")
    with pytest.raises(GLTFImportError, match="walk.glb: not a glTF file"):
        read_gltf(glb)
