"""Onto the animator's rig: a take on Mesh2Motion's UE and Rigify rigs, and imported takes back on their own rig."""
from __future__ import annotations

import numpy as np
import pytest

from app.engine.document import Document, SetTake
from app.engine.document.files import (
    export_take,
    load_document,
    read_take,
    save_document,
)
from app.engine.io.bvh import read_bvh
from app.engine.io.formats import write_animation
from app.engine.io.gltf_import import read_gltf
from app.engine.io.onto_rig import joint_map, retarget_onto
from app.engine.io.retarget import import_rig, rest_positions
from app.engine.io.rig_files import read_rig_animation
from app.engine.metrics import foot_contacts
from app.engine.skeleton import BANDAI_NAMCO_21 as OURS

WALK = "dataset-2_walk_normal_001.bvh"
ENDS = [OURS.index(n) for n in ("Hand_L", "Hand_R", "Foot_L", "Foot_R", "Head", "Toes_L", "Toes_R")]


def assert_same_contacts(actual: np.ndarray, expected: np.ndarray) -> None:
    """Contact flags (T, 4) agree, but for a frame at the very start or end of a contact (a foot landing between
    two frames crosses the threshold on either, as toes of other lengths do)."""
    edge = np.zeros_like(expected)
    change = expected[1:] != expected[:-1]
    edge[1:] |= change
    edge[:-1] |= change
    assert not ((actual != expected) & ~edge).any()
    assert (actual != expected).mean() < 0.03


def _height(rest: np.ndarray, head: int, ankle: int) -> float:
    return float(rest[head, 1] - rest[ankle, 1])


@pytest.fixture(scope="module")
def walk(bandai_namco_sample):
    take = read_take(bandai_namco_sample / WALK)
    return take.placement.to_world(take.positions).astype(np.float64), take.fps


@pytest.mark.parametrize("file", ["human-addon-animations.glb", "human-base-animations.glb"])
def test_a_take_onto_each_mesh2motion_rig_keeps_its_paths_and_contacts(shared_data, walk, tmp_path, file):
    positions, fps = walk
    rig = read_gltf(shared_data / "extra" / "mesh2motion" / file).rig
    anim = retarget_onto(positions, fps, rig)
    ours_to_theirs = joint_map(rig)

    # on their rig: every driven bone points where ours points, and the feet land on the same frames
    world = anim.world_positions()
    for j, p in enumerate(OURS.parents):
        if j and OURS.parents[p] >= 0 and len(OURS.children[p]) == 1:
            theirs = world[:, ours_to_theirs[j]] - world[:, ours_to_theirs[p]]
            ours = positions[:, j] - positions[:, p]
            cos = (theirs * ours).sum(-1) / np.linalg.norm(theirs, axis=-1) / np.linalg.norm(ours, axis=-1)
            assert cos.min() > 0.9999, OURS.joint_names[j]
    their_rest, our_rest = rig.rest_pose()[1], rest_positions(OURS.parents, OURS.offsets)
    feet = [ours_to_theirs[OURS.index(n)] for n in ("Foot_L", "Toes_L", "Foot_R", "Toes_R")]
    head, ankle = OURS.index("Head"), OURS.index("Foot_L")
    scale = _height(their_rest, ours_to_theirs[head], ours_to_theirs[ankle]) / _height(our_rest, head, ankle)
    theirs_on_ours = np.zeros_like(positions)
    theirs_on_ours[:, [OURS.index(n) for n in ("Foot_L", "Toes_L", "Foot_R", "Toes_R")]] = world[:, feet]
    assert_same_contacts(foot_contacts(theirs_on_ours, OURS, 0.05 * scale, 0.5 * scale, fps),
                         foot_contacts(positions, OURS, 0.05, 0.5, fps))

    # written as BVH, FBX and glTF and read back (independent readers: the BVH parser, ufbx, our glTF sampling),
    # then imported: paths within 2 % of body height, contacts kept
    height = _height(our_rest, head, ankle)
    for suffix in (".bvh", ".fbx", ".glb"):
        path = tmp_path / f"onto{suffix}"
        write_animation(anim, path)
        back_anim, _ = read_rig_animation(path, scale=0.01)
        assert set(back_anim.rig.names) == set(rig.names) and back_anim.fps == pytest.approx(fps)
        back = import_rig(back_anim, fps=fps, canonical=False)
        error = np.linalg.norm(back[:, ENDS] - positions[:, ENDS], axis=-1).max() / height
        assert error < 0.02, (suffix, error)
        assert_same_contacts(foot_contacts(back, OURS, 0.05, 0.5, fps), foot_contacts(positions, OURS, 0.05, 0.5, fps))


def test_an_imported_cmu_take_goes_back_out_on_its_own_rig_and_rate(shared_data, tmp_path):
    source = shared_data / "cmu-sample" / "02_01.bvh"
    take = read_take(source)
    out = tmp_path / "back.bvh"
    export_take(take, out)
    original, written = read_bvh(source), read_bvh(out)
    assert written.names == original.names and len(written.joints) == 43
    assert abs(written.fps - original.fps) < 1e-6
    a, _ = read_rig_animation(source)
    b, _ = read_rig_animation(out, scale=0.01)
    pa, pb = a.world_positions(), b.world_positions()
    step = round(original.fps / take.fps)  # frames where the 20 fps take has a key
    mapped = [a.rig.names.index(n) for n in ("hip", "head", "lHand", "rHand", "lFoot", "rFoot", "lShin")]
    n = min(len(pa), len(pb))
    assert np.abs(pa[:n:step, mapped] - pb[:n:step, mapped]).max() < 0.01  # metres
    export_take(take, tmp_path / "ours.bvh", own_rig=False)
    assert len(read_bvh(tmp_path / "ours.bvh").joints) == OURS.n_joints


def test_a_bandai_take_keeps_joint_root_and_its_rate(bandai_namco_sample, tmp_path):
    take = read_take(bandai_namco_sample / WALK)
    export_take(take, tmp_path / "back.bvh", frame_range=(10, 60))
    original, written = read_bvh(bandai_namco_sample / WALK), read_bvh(tmp_path / "back.bvh")
    assert written.names == original.names and written.names[0] == "joint_Root"
    assert abs(written.fps - original.fps) < 1e-6 and written.n_frames == int(49 / take.fps * original.fps) + 1
    np.testing.assert_allclose(written.offsets, original.offsets, atol=1e-4)  # rest directions kept


def test_the_source_rig_survives_a_project(bandai_namco_sample, tmp_path):
    doc = Document()
    doc.execute(SetTake(read_take(bandai_namco_sample / WALK)))
    save_document(tmp_path / "p.kinema", doc)
    take = load_document(tmp_path / "p.kinema").take
    assert take.source is not None and take.source.rig.names[0] == "joint_Root" and abs(take.source.fps - 30.0) < 1e-3
