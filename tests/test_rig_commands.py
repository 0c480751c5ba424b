"""`kinema export-onto-rig`: the take on Mesh2Motion's UE rig, and a rig with unknown names through --map."""
from __future__ import annotations

import json

from app.cli import main
from app.engine.io.bvh import read_bvh
from app.engine.io.gltf_import import read_gltf
from app.engine.skeleton import BANDAI_NAMCO_21

WALK = "dataset-2_walk_normal_001.bvh"


def test_export_onto_a_ue_rig(shared_data, bandai_namco_sample, tmp_path, capsys):
    rig = shared_data / "extra" / "mesh2motion" / "human-addon-animations.glb"
    out = tmp_path / "walk_ue.bvh"
    assert main(["export-onto-rig", str(bandai_namco_sample / WALK), "--rig", str(rig), "-o", str(out)]) == 0
    written = read_bvh(out)
    assert tuple(written.names) == read_gltf(rig).rig.names and abs(written.fps - 24.0) < 1e-6
    assert "21 joints driven" in capsys.readouterr().out
    fbx = tmp_path / "walk_ue.fbx"  # the same through the FBX writer, read back by ufbx
    assert main(["export-onto-rig", str(bandai_namco_sample / WALK), "--rig", str(rig), "-o", str(fbx)]) == 0
    from app.engine.io.fbx_import import read_fbx

    back = read_fbx(fbx)
    assert set(back.rig.names) == set(read_gltf(rig).rig.names) and back.fps == 24.0


def test_unknown_names_need_a_map_which_is_then_remembered(bandai_namco_sample, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    rig = tmp_path / "odd.bvh"
    odd = {name: f"b{j}" for j, name in enumerate(BANDAI_NAMCO_21.joint_names)}
    text = (bandai_namco_sample / WALK).read_text()
    for name, new in sorted(odd.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(f" {name}\n", f" {new}\n").replace(f" {name}\r\n", f" {new}\r\n")
    rig.write_text(text)
    out = tmp_path / "out.bvh"
    args = ["export-onto-rig", str(bandai_namco_sample / WALK), "--rig", str(rig), "-o", str(out)]
    assert main(args) == 2
    assert "Map them by hand" in capsys.readouterr().err and not out.exists()
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps(odd))
    assert main(args + ["--map", str(mapping)]) == 0
    assert read_bvh(out).names[1] == "b0"
    out.unlink()
    assert main(args) == 0  # the mapping was saved for this rig
    assert out.exists()
