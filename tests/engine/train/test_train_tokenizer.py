import json
from pathlib import Path

import numpy as np
import pytest
import torch

from app.engine.data.build import build_bandai_namco
from app.engine.data.dataset import MotionFolder
from app.engine.models.checkpoint import CheckpointError, file_sha256
from app.engine.models.pipeline import checked_tokenizer_path
from app.engine.models.tokenizer import MotionTokenizer, TokenizerConfig
from app.engine.train.loop import resume_path
from app.engine.features import FeatureLayout
from app.engine.train.tokenizer import (TokenizerTrainConfig, _masked_smooth_l1, pose_squared_error, position_channels,
                                        root_drift, train_tokenizer)

SAMPLE = Path(__file__).resolve().parents[3].parent / "shared/data/bandai-namco/sample"
TINY = TokenizerConfig(width=32, depth=1, codebook_size=32, code_dim=8)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data") / "bn"
    build_bandai_namco(SAMPLE, out, workers=1)
    return out


def _config(**kw) -> TokenizerTrainConfig:
    # uniform draws: the loss-trend checks below were calibrated on them (balanced draws are tested on their own)
    base = dict(steps=20, batch_size=8, window=32, lr=2e-3, warmup=2, val_every=10, model=TINY, threads=2,
                label_balance=0.0)
    return TokenizerTrainConfig(**{**base, **kw})


def _log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_tiny_run_lowers_the_loss_and_writes_a_loadable_checkpoint(data, tmp_path):
    out, log = tmp_path / "tok.safetensors", tmp_path / "log.jsonl"
    summary = train_tokenizer(data, out, _config(), log_path=log, progress=False)
    records = _log(log)
    assert [r["step"] for r in records] == list(range(1, 21))
    assert {"loss", "recon", "vel", "commit", "perplexity", "dead_codes", "elapsed_s"} <= set(records[0])
    assert "val_mpjpe_mm" in records[9] and "val_mpjpe_mm" in records[19]
    first, last = sum(r["loss"] for r in records[:3]) / 3, sum(r["loss"] for r in records[-3:]) / 3
    assert last < 0.9 * first
    assert summary["steps"] == 20 and summary["val_mpjpe_mm"] > 0
    model = MotionTokenizer.load(out)
    assert model.config == TINY and model.metadata["steps"] == 20 and model.mean.shape == (251,)
    x = torch.from_numpy((model.mean * 0)[None, None].repeat(8, 1))
    assert model.decode(model.encode(x)).shape == (1, 8, 251)


def test_resume_continues_from_the_saved_step(data, tmp_path):
    out, log = tmp_path / "tok.safetensors", tmp_path / "log.jsonl"
    train_tokenizer(data, out, _config(steps=10), log_path=log, progress=False)
    summary = train_tokenizer(data, out, _config(steps=20), log_path=log, progress=False)
    assert [r["step"] for r in _log(log)] == list(range(1, 21))
    assert summary["steps"] == 20
    fresh = train_tokenizer(data, tmp_path / "fresh.safetensors", _config(steps=3), progress=False, resume=False)
    assert fresh["steps"] == 3


def test_part_tokenizer_trains_on_its_dims(data, tmp_path):
    out = tmp_path / "upper.safetensors"
    train_tokenizer(data, out, _config(steps=3, part="upper"), progress=False)
    model = MotionTokenizer.load(out)
    assert model.config.part == "upper" and model.decode(torch.zeros(1, 2, dtype=torch.long)).shape == (1, 8, 144)


def test_truncated_resume_file_raises_a_clear_error(data, tmp_path):
    out = tmp_path / "tok.safetensors"
    train_tokenizer(data, out, _config(steps=10), progress=False)
    weights = resume_path(out)
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        train_tokenizer(data, out, _config(steps=20), progress=False)
    out.write_bytes(out.read_bytes()[:-10])
    with pytest.raises(CheckpointError):
        MotionTokenizer.load(out)


def test_init_carries_encoder_and_decoder_and_reseeds_a_smaller_codebook(data, tmp_path):
    first = tmp_path / "first.safetensors"
    train_tokenizer(data, first, _config(steps=10), progress=False)
    coarse = tmp_path / "coarse.safetensors"
    train_tokenizer(data, coarse, _config(steps=2, lr=0.0, init=str(first), codebook_size=8, model=None), progress=False)
    before, after = MotionTokenizer.load(first).state_dict(), MotionTokenizer.load(coarse).state_dict()
    assert MotionTokenizer.load(coarse).config == TokenizerConfig(**{**TINY.__dict__, "codebook_size": 8})
    carried = [k for k in before if not k.startswith("quantizer.") or k.startswith("quantizer.project")]
    assert carried and all(torch.equal(before[k], after[k]) for k in carried)  # lr 0: the weights are the init's
    codebook = after["quantizer.codebook"]
    assert codebook.shape == (8, TINY.code_dim)
    assert not any(torch.allclose(row, old) for row in codebook for old in before["quantizer.codebook"])  # reseeded

    same = tmp_path / "same.safetensors"
    train_tokenizer(data, same, _config(steps=1, lr=0.0, init=str(first), model=None), progress=False)
    assert MotionTokenizer.load(same).state_dict()["quantizer.codebook"].shape == (32, TINY.code_dim)
    with pytest.raises(ValueError, match="part"):
        train_tokenizer(data, tmp_path / "upper.safetensors", _config(steps=1, init=str(first), part="upper"), progress=False)


def test_init_from_a_file_that_is_no_tokenizer_or_a_one_code_codebook_is_refused(data, tmp_path):
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(CheckpointError, match="damaged.safetensors"):
        train_tokenizer(data, tmp_path / "a.safetensors", _config(steps=1, init=str(damaged), model=None), progress=False)
    with pytest.raises(ValueError, match="at least 2 codes, got 1"):
        train_tokenizer(data, tmp_path / "b.safetensors", _config(steps=1, codebook_size=1), progress=False)
    assert not (tmp_path / "a.safetensors").exists() and not (tmp_path / "b.safetensors").exists()


def test_windows_are_drawn_by_label_weight_so_a_rare_action_is_seen():
    from app.engine.train.sampling import draw_weights
    from app.engine.train.tokenizer import _batch

    motions = [np.full((40, 3), 0.0, np.float32)] * 95 + [np.full((40, 3), 1.0, np.float32)] * 5  # 5 % "kick"
    labels = ["walk"] * 95 + ["kick"] * 5
    rng = np.random.default_rng(0)

    def kick_share(balance):
        x = torch.cat([_batch(motions, 32, 16, rng, draw_weights(labels, balance))[0] for _ in range(100)])
        return float(x[:, 0, 0].mean())

    assert draw_weights(labels, 0.0) is None and kick_share(0.0) == pytest.approx(0.05, abs=0.02)
    assert kick_share(1.0) == pytest.approx(0.5, abs=0.04)
    assert 0.2 < kick_share(0.75) < 0.4  # 5^.25 / (5^.25 + 95^.25) = 0.32


def test_root_drift_sees_a_bias_that_adds_up_and_not_jitter_or_padding():
    t, mean, std = 64, torch.zeros(4), torch.ones(4)
    target = torch.zeros(1, t, 4)
    target[..., 2] = 0.05  # walks forward 5 cm a frame
    mask = torch.ones(1, t, dtype=torch.bool)
    assert root_drift(target, target, mask, mean, std) == 0
    bias, jitter = target.clone(), target.clone()
    bias[..., 0] += 0.002  # turns 0.11° a frame more than the real take: 7° over the window
    jitter[..., 0] += 0.002 * (-1.0) ** torch.arange(t)  # the same error per frame, alternating
    assert root_drift(bias, target, mask, mean, std) > 10 * root_drift(jitter, target, mask, mean, std) > 0
    slow = target.clone()
    slow[..., 2] = 0.04  # 1 cm a frame short: 0.32 m behind at the middle frame
    assert float(root_drift(slow, target, mask, mean, std)) == pytest.approx(0.01 * (t - 1) / 2, rel=1e-4)
    late = target.clone()
    late[:, t // 2:, 0] += 1.0
    mask[:, t // 2:] = False  # padding past the motion's end does not count
    assert root_drift(late, target, mask, mean, std) == 0


def test_pose_squared_error_makes_a_brief_far_pose_cost_its_size_where_smooth_l1_does_not():
    layout = FeatureLayout(21)
    every = torch.arange(layout.dim)
    assert position_channels(every, 21).tolist() == list(range(layout.ric.start, layout.ric.stop))
    part = torch.tensor([0, 1, 2, 3, 10, 11, 12, 200, 201])  # a part tokenizer's dims: root, a joint, rotations
    assert position_channels(part, 21).tolist() == [4, 5, 6]  # where joint 10..12 sit among the part's dims
    channels = position_channels(every, 21)
    target, mask = torch.zeros(1, 48, layout.dim), torch.ones(1, 48, dtype=torch.bool)

    def costs(miss: float, channel: int = layout.ric.start + 46) -> tuple[float, float]:
        pred = target.clone()
        pred[0, 24, channel] = miss  # one frame: a foot far up its height channel
        return (float(_masked_smooth_l1(pred, target, mask)), float(pose_squared_error(pred, target, mask, channels)))

    (l1_small, sq_small), (l1_far, sq_far) = costs(1.0), costs(19.0)
    assert sq_far / sq_small == pytest.approx(361.0)  # 19 standard deviations cost 19² times one
    assert l1_far / l1_small == pytest.approx(37.0)  # smooth-L1: (19 - 0.5) / 0.5, about linear
    assert costs(19.0, channel=layout.vel.start)[1] == 0  # a velocity spike is no pose
    mask[0, 24] = False  # nor is a padded frame
    assert costs(19.0)[1] == 0


def test_tiny_run_with_the_pose_loss_logs_it(data, tmp_path):
    log = tmp_path / "log.jsonl"
    train_tokenizer(data, tmp_path / "tok.safetensors", _config(steps=3, weight_pose_sq=1.0), log_path=log, progress=False)
    assert all(r["pose_sq"] > 0 for r in _log(log))
    plain = tmp_path / "plain.jsonl"
    train_tokenizer(data, tmp_path / "p.safetensors", _config(steps=1), log_path=plain, progress=False)
    assert "pose_sq" not in _log(plain)[0]


def test_decoder_only_keeps_every_code_and_records_whose_codes_they_are(data, tmp_path):
    first, tuned = tmp_path / "first.safetensors", tmp_path / "tuned.safetensors"
    train_tokenizer(data, first, _config(steps=5), progress=False)
    train_tokenizer(data, tuned, _config(steps=5, init=str(first), decoder_only=True, model=None), progress=False)
    before, after = MotionTokenizer.load(first), MotionTokenizer.load(tuned)
    old, new = before.state_dict(), after.state_dict()
    assert all(torch.equal(old[k], new[k]) for k in old if not k.startswith("decoder."))  # encoder, codebook, EMA
    assert not all(torch.equal(old[k], new[k]) for k in old if k.startswith("decoder."))
    x = torch.from_numpy(MotionFolder(data, "val").normalize(MotionFolder(data, "val").records[0].features[:32]))[None]
    assert torch.equal(before.encode(x), after.encode(x))
    assert after.metadata["encoder_sha256"] == [file_sha256(first)]
    again = tmp_path / "again.safetensors"  # a fine-tune of a fine-tune names both files whose codes it keeps
    train_tokenizer(data, again, _config(steps=1, init=str(tuned), decoder_only=True, model=None), progress=False)
    assert MotionTokenizer.load(again).metadata["encoder_sha256"] == sorted([file_sha256(first), file_sha256(tuned)])
    for trained_on in (first, tuned):  # so a model trained on either reads it
        meta = {"tokenizer_file": again.name, "tokenizer_sha256": file_sha256(trained_on)}
        assert checked_tokenizer_path(tmp_path / "masked.safetensors", meta, "tokenizer") == again
    with pytest.raises(ValueError, match="--init"):
        train_tokenizer(data, tmp_path / "a.safetensors", _config(steps=1, decoder_only=True), progress=False)
    with pytest.raises(ValueError, match="codebook size"):
        train_tokenizer(data, tmp_path / "b.safetensors", _config(steps=1, init=str(first), decoder_only=True,
                                                                codebook_size=8, model=None), progress=False)
