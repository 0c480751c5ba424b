"""The extra-data builders on real inputs: a Daz-rig and a CC3-rig CMU take from the archives, Mesh2Motion glTF."""
import json
import random
import tarfile
from pathlib import Path

import numpy as np
import pytest

from app.engine.data.action_captions import action_of, captions
from app.engine.data.cmu import (
    CMUEntry,
    bvh_positions,
    drop_t_pose,
    is_t_pose,
    read_descriptions,
    windows,
)
from app.engine.data.dataset import MotionFolder
from app.engine.data.descriptions import mirror_text
from app.engine.data.extra import (
    Motion,
    assign_splits,
    build_extra,
    cmu_motions,
    draw_weights,
    repeat_loop,
)
from app.engine.io.bvh import parse_bvh
from app.engine.io.gltf_import import read_gltf
from app.engine.io.retarget import import_bvh, import_rig
from app.engine.skeleton import BANDAI_NAMCO_21

EXTRA = Path(__file__).resolve().parents[3].parent / "shared/data/extra"
if not EXTRA.exists():  # a worktree under /work/wt: the shared folder sits beside the main checkout
    EXTRA = Path("/work/shared/data/extra")
DAZ = ("cmu-przestr.tar.xz", "cmu-przestr/data/03/03_01.bvh")  # walk on uneven terrain, 120 fps, 433 frames
CC3 = ("cmu-iclone.tar.xz", "cmu-iclone/All_BVH/subjects/007/007_01.bvh")  # walk, 60 fps, 157 frames
NAMES = BANDAI_NAMCO_21.joint_names


@pytest.fixture(scope="module")
def takes(tmp_path_factory) -> Path:
    """The two takes extracted from their archives into a temporary folder."""
    root = tmp_path_factory.mktemp("cmu")
    for archive, member in (DAZ, CC3):
        with tarfile.open(EXTRA / archive) as tar:
            tar.extract(member, root, filter="data")
    return root


@pytest.fixture(scope="module")
def index():
    return read_descriptions(EXTRA / "cmu-descriptions.csv")


def _facing(frame: np.ndarray) -> np.ndarray:
    across = frame[NAMES.index("UpperLeg_L")] - frame[NAMES.index("UpperLeg_R")]
    forward = np.cross(across, [0.0, 1.0, 0.0])
    return forward / np.linalg.norm(forward)


def test_both_rigs_land_upright_on_the_floor_facing_z_and_walk_forward(takes, index):
    skipped = {}
    motions = {m.take: m for m in cmu_motions(takes, index, skipped)}
    assert skipped == {} and set(motions) == {"cmu_03_01", "cmu_07_01"}
    for m in motions.values():
        p = m.positions
        assert abs(p[..., 1].min()) < 1e-4  # on the floor
        assert np.allclose(p[0, 0, [0, 2]], 0.0, atol=1e-4)  # starts at the origin
        assert (p[:, NAMES.index("Head"), 1] - p[:, 0, 1] > 0.4).all()  # upright: head well above hips
        assert _facing(p[0])[2] > 0.95  # facing +Z
        assert p[-1, 0, 2] > 1.0 and abs(p[-1, 0, 0]) < 0.5 * p[-1, 0, 2]  # walks forward, along +Z
        assert m.action == "walk"


def test_frame_rate_from_the_index_not_the_header(takes, index):
    # CMU's `framerate` is the capture's (120 for both); the CC3 set was converted to 60 fps, which the take's
    # length in the index (`Frames 60fps`) tells.
    assert index[(7, 1)].fps == 120 and index[(7, 1)].fps_of(157) == 60.0
    assert index[(3, 1)].fps_of(433) == 120.0
    assert CMUEntry("salsa", 60.0).fps_of(1000) == 60.0  # no length known: the stated rate
    bvh = parse_bvh((takes / DAZ[1]).read_text(), source="03_01.bvh")  # 433 frames, header 120 fps: 3.6 s
    # 3.6 s at 20 fps is 73 frames, less the T-pose first frame
    assert len(bvh_positions(bvh, 120.0)) == 72
    assert len(bvh_positions(bvh, None)) == 71  # the header's 0.00833333 s is a hair over 1/120: a frame less
    assert len(bvh_positions(bvh, 60.0)) == 144  # read as 60 fps, as salsa's wrong headers must be: twice as long


def test_t_pose_frames_are_dropped(takes):
    bvh = parse_bvh((takes / DAZ[1]).read_text(), source="03_01.bvh")  # CMU's Daz-rig takes start in a T-pose
    assert is_t_pose(import_bvh(bvh, BANDAI_NAMCO_21)[0]) and not is_t_pose(bvh_positions(bvh, 120.0)[0])
    glb = EXTRA / "mesh2motion/human-base-animations.glb"
    t_pose = import_rig(read_gltf(glb, "T-Pose"), BANDAI_NAMCO_21, scale=1.0)
    walk = import_rig(read_gltf(glb, "Walk_Loop"), BANDAI_NAMCO_21, scale=1.0)
    assert is_t_pose(t_pose[0]) and not any(is_t_pose(f) for f in walk)
    joined = np.concatenate([t_pose[:1] + walk[:1, :1] - t_pose[:1, :1], walk])
    kept = drop_t_pose(joined)
    assert len(kept) == len(walk) and np.allclose(kept, walk, atol=1e-5)


def test_long_takes_are_cut_into_windows_with_the_parts_that_fit():
    parts = ["climb", "sit", "dangle legs", "jump down"]
    cut = windows(500, parts)  # 500 frames: 3 windows of at most 196
    assert [(w.start, w.end) for w in cut] == [(0, 167), (167, 333), (333, 500)]
    # parts taken as quarters of the take: a window keeps those covering a third of it
    assert [w.parts for w in cut] == [["climb"], ["sit", "dangle legs"], ["jump down"]]
    assert [w.parts for w in windows(500, ["boxing"])] == [["boxing"]] * 3  # one part: the whole description
    assert [w.parts for w in windows(150, parts)] == [parts]  # one window: the whole description
    assert all(w.end - w.start <= 196 for w in windows(1961, parts))


def test_captions_from_descriptions_and_names_and_their_mirror_images():
    rng = random.Random(0)
    assert action_of("Jump_Start") == "jump" and action_of("Punch_Jab") == "jab"
    assert action_of("playground - forward jumps, turn around") == "jump"
    jab = captions(["Fighting Left Jab"], 4, rng)
    assert len(set(jab)) == 4 and all("jab" in c for c in jab)
    assert ["left hand" in c for c in jab] == [True, False, True, False]  # every second caption leaves the hand out
    assert all("right" in mirror_text(c) and "left" not in mirror_text(c) for c in jab[::2])
    kicks = captions(["kick right", "kick left"], 4, rng)  # a routine's window naming its two kicks
    assert [c.count(" leg") for c in kicks] == [2, 0, 2, 0] and all(c.count("kick") == 2 for c in kicks)
    two = captions(["forward jumps", "turn around"], 3, rng)
    assert all(", then " in c and "forward" in c and "around" in c for c in two)
    assert captions(["dangle legs"], 1, rng)[0].endswith("dangles legs")  # unknown: read as a verb phrase
    # names that are no verb read as sentences, not "a person confuseds" or "a person drivs"
    assert captions(["Driving"], 1, rng)[0].split(" ", 2)[-1] not in ("drivs", "drives")
    assert all(c.endswith(" is skating") for c in captions(["skating"], 2, rng))  # an unknown -ing word
    assert all(" moves with arms held high" in c for c in captions(["arms held high"], 2, rng))
    # a past participle names no verb either: "moves with raised leg", "is scared", not "raiseds", "scareds"
    assert captions(["raised leg above hip-height"], 1, rng)[0].endswith(" moves with raised leg above hip height")
    assert captions(["Scared"], 1, rng)[0].endswith(" is scared")
    kick = captions(["kick right"], 4, rng)  # a martial arts routine's kick (kicks.py), with its leg
    assert all(c.endswith("right leg") and "leg out" not in c for c in kick[::2])
    assert all(c.split()[-1] in ("kicks", "out") for c in kick[1::2])  # "a man kicks", "someone kicks out"
    for name, label in (("Confused", "confused"), ("Dizzy", "dizzy"), ("Tired hunched", "tired"), ("Head Nod", "nod"),
                        ("Upper body rotation", "twist"), ("Expressive arms", "expressive"), ("Sleeping", "sleep")):
        assert action_of(name) == label
        assert not any(w.endswith(("eds", "izzies", "ives")) for c in captions([name], 3, rng) for w in c.split())
    assert not any(c.endswith("up up") or c.endswith("push-ups up") for c in captions(["push up"], 3, rng))
    assert all(c.endswith("in place") and "forward" not in c for c in captions(["Jog_Fwd_Loop in place"], 3, rng))


def _motion(take: str, action: str, i: int = 0) -> Motion:
    return Motion(f"{take}_w{i}", "test", take, action, [action], np.zeros((20, 21, 3), np.float32))


def test_splits_hold_out_whole_takes_per_action_and_weights_balance_labels():
    motions = [_motion(f"jump{t}", "jump", i) for t in range(14) for i in range(2)]
    motions += [_motion(f"walk{t}", "walk") for t in range(2)]
    split = assign_splits(motions)
    jumps = [s for t, s in split.items() if t.startswith("jump")]
    assert jumps.count("test") == 2  # one in seven of the action's takes
    assert [split[t] for t in ("walk0", "walk1")] != ["test", "test"]  # too few takes to hold one out
    few = assign_splits([_motion(f"sit{t}", "sit") for t in (1, 5, 99)])  # sit1 hashes into validation...
    assert sorted(few.values()) == ["test", "train", "train"]  # ...but three takes keep two for training
    many = assign_splits([_motion(f"sit{t}", "sit") for t in range(1, 13)])
    assert "val" in many.values() and list(many.values()).count("test") == 2
    labels = {f"a{i}": {"content": "walk", "split": "train"} for i in range(16)}
    labels |= {"b0": {"content": "jump", "split": "train"}, "c0": {"content": "jump", "split": "test"}}
    draw_weights(labels)
    assert sum(v["weight"] for v in labels.values()) == pytest.approx(1.0) and labels["c0"]["weight"] == 0.0
    walk_share = sum(v["weight"] for v in labels.values() if v["content"] == "walk")
    assert walk_share / labels["b0"]["weight"] == pytest.approx(16 ** 0.25)  # n ** 0.25 per label, not n


def test_build_and_merge_into_one_dataset(takes, index, tmp_path):
    daz = tmp_path / "daz"
    (daz / "03").mkdir(parents=True)
    (daz / "03/03_01.bvh").write_text((takes / DAZ[1]).read_text())
    build_extra(cmu_motions(daz, index, {}), tmp_path / "first")
    summary = build_extra(cmu_motions(takes / "cmu-iclone", index, {}), tmp_path / "both",
                          with_dataset=tmp_path / "first")
    labels = json.loads((tmp_path / "both/labels.json").read_text())
    assert set(labels) == {"cmu_03_01", "Mcmu_03_01", "cmu_07_01", "Mcmu_07_01"}
    assert sum(v["weight"] for v in labels.values()) == pytest.approx(1.0)
    assert summary.minutes_per_source == {"cmu": pytest.approx(52 / 20 / 60)}  # the merged folder counts apart
    folder = MotionFolder(tmp_path / "both", "train")
    assert {r.name.split("#")[0] for r in folder.records} == {n for n, v in labels.items() if v["split"] == "train"}
    mirrored = (tmp_path / "both/texts/Mcmu_07_01.txt").read_text()
    assert "walk" in mirrored


def test_cli_builds_a_cmu_folder_and_says_what_is_missing(takes, tmp_path, capsys):
    from app.cli import main

    out = tmp_path / "cmu"
    assert main(["data", "build", "cmu", str(takes), "--out", str(out), "--quiet"]) == 2
    assert "--descriptions cmu-descriptions.csv" in capsys.readouterr().err
    assert main(["data", "build", "cmu", str(takes), "--out", str(out), "--quiet",
                 "--descriptions", str(EXTRA / "cmu-descriptions.csv")]) == 0
    assert "source cmu:" in capsys.readouterr().out
    assert (out / "Mean.npy").exists() and len(json.loads((out / "labels.json").read_text())) == 4


def test_game_loops_repeat_into_longer_motions():
    walk = import_rig(read_gltf(EXTRA / "mesh2motion/human-base-animations.glb", "Walk_Loop"), BANDAI_NAMCO_21,
                      scale=1.0).astype(np.float32)
    long = repeat_loop(walk, 80)
    assert len(long) >= 80 and (len(long) - 1) % (len(walk) - 1) == 0
    cycle = len(walk) - 1
    step = (walk[-1, 0] - walk[0, 0]) * [1, 0, 1]
    assert np.allclose(long[cycle + 1:2 * cycle + 1], walk[1:] + 2 * step, atol=1e-5)  # the cycle again, moved on
    assert np.abs(np.diff(long[:, 0], axis=0)).max() < 0.2  # no jump at the seams
