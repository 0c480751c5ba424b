import json

import numpy as np
import pytest

from app.engine.data.bandai_namco import DatasetSourceError, TakeSource, label_from_name, mirror_content
from app.engine.data.build import build_bandai_namco, held_out_pairs, split_of
from app.engine.data.dataset import MotionFolder, dataset_info
from app.engine.features import FeatureLayout, features_from_positions, mirror_features, positions_from_features
from app.engine.skeleton import BANDAI_NAMCO_21


@pytest.fixture(scope="module")
def built(bandai_namco_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "bn"
    summary = build_bandai_namco(bandai_namco_sample, out, workers=1)
    return out, summary


def test_build_writes_humanml3d_layout(built):
    out, summary = built
    for name in ("Mean.npy", "Std.npy", "train.txt", "val.txt", "test.txt", "kinema.json", "labels.json"):
        assert (out / name).exists(), name
    assert summary.takes == 21 and not summary.skipped
    names = [n for split in ("train", "val", "test") for n in (out / f"{split}.txt").read_text().split()]
    assert len(names) == 42 == len(set(names))  # every take and its mirror, each in one split
    for name in names:
        joints = np.load(out / "new_joints" / f"{name}.npy")
        vecs = np.load(out / "new_joint_vecs" / f"{name}.npy")
        assert joints.shape == (len(vecs), 21, 3) and vecs.shape[1] == 251
        lines = (out / "texts" / f"{name}.txt").read_text().splitlines()
        assert len(lines) == 4 and all(line.count("#") == 3 for line in lines)
    std = np.load(out / "Std.npy")
    layout = FeatureLayout(21)
    assert np.unique(std[layout.ric]).size == 1 and np.unique(std[layout.vel]).size == 1  # HumanML3D's group std


def test_built_motions_are_canonical_and_at_20_fps(built, bandai_namco_sample):
    out, _ = built
    joints = np.load(out / "new_joints" / "dataset-2_walk_normal_001.npy")
    frames_30fps = 273  # the source take's frame count
    assert abs(len(joints) + 1 - ((frames_30fps - 1) * 20 / 30 + 1)) <= 1
    assert abs(joints[..., 1].min()) < 0.02  # on the floor
    np.testing.assert_allclose(joints[0, 0, [0, 2]], 0.0, atol=1e-6)
    assert joints[-1, 0, 2] > 5.0  # walks forward along +Z
    bones = np.linalg.norm(joints[:, 1:] - joints[:, list(BANDAI_NAMCO_21.parents[1:])], axis=-1)
    np.testing.assert_allclose(bones, np.broadcast_to(np.linalg.norm(BANDAI_NAMCO_21.offsets[1:], axis=-1), bones.shape), atol=1e-5)


def test_mirrored_copy_swaps_motion_label_and_text(built):
    out, _ = built
    labels = json.loads((out / "labels.json").read_text())
    assert labels["Mdataset-2_wave-left-hand_normal_001"]["content"] == "wave-right-hand"
    text = (out / "texts" / "Mdataset-2_wave-left-hand_normal_001.txt").read_text()
    assert "right" in text and "left" not in text
    original = np.load(out / "new_joint_vecs" / "dataset-2_wave-left-hand_normal_001.npy").astype(np.float64)
    mirrored = np.load(out / "new_joint_vecs" / "Mdataset-2_wave-left-hand_normal_001.npy").astype(np.float64)
    np.testing.assert_allclose(mirror_features(original, BANDAI_NAMCO_21), mirrored, atol=2e-4)
    np.testing.assert_allclose(mirror_features(mirror_features(original, BANDAI_NAMCO_21), BANDAI_NAMCO_21), original, atol=0)


def test_features_positions_features_is_identity_on_real_data(built):
    out, _ = built
    for name in ("dataset-2_walk-turn-left_elderly_001", "dataset-1_kick_normal_001", "Mdataset-2_run_normal_001"):
        vecs = np.load(out / "new_joint_vecs" / f"{name}.npy").astype(np.float64)
        again = features_from_positions(positions_from_features(vecs, 21, append_last=True), BANDAI_NAMCO_21)
        assert np.abs(again - vecs).max() < 1e-4  # float32 storage


def test_test_split_holds_out_whole_label_pairs_closed_under_mirroring(built):
    out, _ = built
    labels = json.loads((out / "labels.json").read_text())
    test_pairs = {(v["content"], v["style"]) for v in labels.values() if v["split"] == "test"}
    train_pairs = {(v["content"], v["style"]) for v in labels.values() if v["split"] != "test"}
    assert test_pairs and not (test_pairs & train_pairs)
    for content, style in held_out_pairs():
        assert (mirror_content(content), style) in held_out_pairs()
    assert split_of("x", label_from_name("dataset-2_run_elderly_001")) == "test"
    assert dataset_info(out).kind == "bandai-namco"


def test_loader_reads_splits_and_normalises(built):
    out, _ = built
    train = MotionFolder(out, "train")
    assert len(train) == len(out.joinpath("train.txt").read_text().split())
    record = train[0]
    assert record.features.dtype == np.float32 and len(record.captions) == 4 and record.label["style"]
    np.testing.assert_allclose(train.denormalize(train.normalize(record.features)), record.features, atol=1e-5)


def test_loader_reads_a_humanml3d_folder_unchanged(humanml3d_sample, tmp_path):
    root = tmp_path / "HumanML3D"
    (root / "new_joint_vecs").mkdir(parents=True)
    (root / "texts").mkdir()
    for f in ("Mean.npy", "Std.npy"):
        (root / f).write_bytes((humanml3d_sample / f).read_bytes())
    (root / "new_joint_vecs" / "000000.npy").write_bytes((humanml3d_sample / "new_joint_vecs" / "000000.npy").read_bytes())
    lines = (humanml3d_sample / "texts" / "000000.txt").read_text().splitlines()
    lines.append("a man lifts his leg#a/DET man/NOUN lift/VERB his/DET leg/NOUN#1.0#3.0")  # a captioned sub-span
    (root / "texts" / "000000.txt").write_text("\n".join(lines))
    (root / "test.txt").write_text("000000\n009999\n")  # HumanML3D's split lists a few unreleased motions
    folder = MotionFolder(root, "test")
    assert folder.info.kind == "humanml3d" and folder.info.n_joints == 22
    whole = [r for r in folder.records if r.name == "000000"][0]
    assert len(whole.captions) == 4 and whole.features.shape == (116, 263)
    span = [r for r in folder.records if r.name != "000000"][0]
    assert span.features.shape == (40, 263) and span.captions == ["a man lifts his leg"]


def test_bad_sources_are_reported_plainly(tmp_path):
    with pytest.raises(DatasetSourceError, match="not a folder"):
        TakeSource(tmp_path / "missing")
    with pytest.raises(DatasetSourceError, match="no .tar.xz archives and no .bvh files"):
        TakeSource(tmp_path)
    with pytest.raises(DatasetSourceError, match="not a Bandai Namco take name"):
        label_from_name("my_take")


def test_a_malformed_take_is_skipped_and_named(bandai_namco_sample, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("dataset-2_walk_normal_001", "dataset-2_run_normal_001"):
        (src / f"{name}.bvh").write_bytes((bandai_namco_sample / f"{name}.bvh").read_bytes())
    text = (src / "dataset-2_run_normal_001.bvh").read_text()
    (src / "dataset-2_run_normal_001.bvh").write_text(text[: len(text) // 2])  # truncated
    summary = build_bandai_namco(src, tmp_path / "out", workers=1)
    assert list(summary.skipped) == ["dataset-2_run_normal_001"] and "frames" in summary.skipped["dataset-2_run_normal_001"]
    assert (tmp_path / "out" / "new_joint_vecs" / "dataset-2_walk_normal_001.npy").exists()


def test_a_failed_build_leaves_the_previous_dataset_intact(bandai_namco_sample, tmp_path):
    out = tmp_path / "out"
    build_bandai_namco(bandai_namco_sample, out, only="walk_normal", workers=1)
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(ValueError, match="no train motions"):
        build_bandai_namco(bandai_namco_sample, out, only="run_elderly", workers=1)  # a held-out pair only
    assert sorted(p.name for p in out.iterdir()) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out-")]


def test_a_failed_build_leaves_the_previous_dataset_and_no_staging_folder(tmp_path):
    from app.engine.data.build import staged_folder

    out = tmp_path / "dataset"
    out.mkdir()
    (out / "old.txt").write_text("previous build")
    with pytest.raises(RuntimeError):
        with staged_folder(out) as staging:
            (staging / "half.txt").write_text("half-written")
            raise RuntimeError("the build broke")
    assert [p.name for p in tmp_path.iterdir()] == ["dataset"] and (out / "old.txt").read_text() == "previous build"
    with staged_folder(out) as staging:
        (staging / "new.txt").write_text("complete")
    assert [p.name for p in out.iterdir()] == ["new.txt"]
