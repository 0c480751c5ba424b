import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

import app.engine.train.masked as masked
from app.engine.data.build import build_bandai_namco
from app.engine.data.dataset import MotionFolder
from app.engine.models.checkpoint import CheckpointError, file_sha256, load_checkpoint, save_checkpoint
from app.engine.models.masked_mamba import MaskedMamba
from app.engine.models.masked_transformer import MaskedTransformer, MaskedTransformerConfig
from app.engine.models.pipeline import load_text_to_motion
from app.engine.models.tokenizer import MotionTokenizer, TokenizerConfig
from app.engine.models.upper_editor import load_upper_editor_from
from app.engine.ops import edit_upper, generate
from app.engine.text import get_text_encoder
from app.engine.train.alignment import AlignmentHeads, mirror_index
from app.engine.train.distributed import JointModel
from app.engine.train.masked import MaskedTrainConfig, code_weights, corrupt, train_masked
from app.engine.train.tokenizer import TokenizerTrainConfig, train_tokenizer

SAMPLE = Path(__file__).resolve().parents[3].parent / "shared/data/bandai-namco/sample"
TINY = MaskedTransformerConfig(codebook_size=0, width=32, depth=2, heads=4, dropout=0.0)  # K from the tokenizer


def _save_tokenizer(path: Path, data: Path, seed: int, part: str | None = None) -> None:
    torch.manual_seed(seed)
    cfg = TokenizerConfig(width=32, depth=1, codebook_size=16, code_dim=8, part=part)
    folder = MotionFolder(data, "train")
    save_checkpoint(path, MotionTokenizer(cfg), asdict(cfg),
                    {"mean": torch.from_numpy(folder.mean), "std": torch.from_numpy(folder.std)})


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("masked")
    build_bandai_namco(SAMPLE, tmp / "bn", workers=1)
    _save_tokenizer(tmp / "tokenizer.safetensors", tmp / "bn", seed=0)
    get_text_encoder("cpu")  # MiniLM loads once per process; not part of what the tests time
    return tmp / "bn", tmp / "tokenizer.safetensors"


def _config(**kw) -> MaskedTrainConfig:
    return MaskedTrainConfig(**{"steps": 30, "batch_size": 8, "lr": 3e-3, "warmup": 3, "val_every": 10, "threads": 1,
                                "model": TINY, **kw})


def _log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_corruption_masks_at_least_one_code_and_never_special_tokens():
    cfg = MaskedTransformerConfig(codebook_size=16, max_tokens=10)
    targets = torch.full((200, 10), cfg.pad_id)
    real = torch.arange(10)[None, :] < torch.randint(1, 9, (200, 1))
    targets[real] = torch.randint(16, (int(real.sum()),))
    inputs, loss_at = corrupt(targets, real, cfg, 0.5, torch.Generator().manual_seed(0))
    assert bool(((inputs == cfg.mask_id).sum(1) >= 1).all())
    assert torch.equal(inputs[~real], targets[~real]) and not loss_at[~real].any()
    assert bool(loss_at[inputs == cfg.mask_id].all())
    assert int(((inputs != targets) & (inputs != cfg.mask_id)).sum()) > 0  # some random replacements


def test_label_weights_give_each_label_its_share_whatever_its_size():
    labels = ["walk"] * 400 + ["dash"] * 16 + ["bow"] * 16
    rng = np.random.default_rng(0)
    for balance, dash_share in [(0.0, 16 / 432), (1.0, 1 / 3), (0.75, 16**0.25 / (400**0.25 + 2 * 16**0.25))]:
        draws = np.asarray(labels)[rng.choice(len(labels), 20000, p=masked.label_weights(labels, balance))]
        assert np.mean(draws == "dash") == pytest.approx(dash_share, abs=0.01)
        assert np.mean(draws == "bow") == pytest.approx(dash_share, abs=0.01)


def test_batches_give_root_keys_at_a_few_tokens_of_some_rows(setup):
    data, tokenizer = setup
    folder = MotionFolder(data, "train")
    tok = MotionTokenizer.load(tokenizer)
    split = masked._encode_split(folder, tok, tok.mean, tok.std, {c: 0 for r in folder.records for c in r.captions})
    assert split.labels[0] == folder.records[0].label["content"] and len(split.roots) == len(split.codes)
    cfg = MaskedTransformerConfig(codebook_size=16, root_keys=True)
    rng = np.random.default_rng(0)
    idx = np.arange(len(split.codes)).repeat(40 // len(split.codes) + 1)[:40]
    batch = masked._batch(split, idx, cfg, rng, key_drop=0.5, max_keys=3)
    per_row = batch.keys[..., 4].sum(1)
    assert batch.keys.shape == batch.targets.shape + (5,) and 8 < int((per_row == 0).sum()) < 32
    assert int(per_row.max()) <= 3 and not batch.keys[~batch.real].any()  # keys only at codes, never at END/PAD
    assert masked._batch(split, idx, MaskedTransformerConfig(codebook_size=16), rng).keys is None


def test_trains_and_writes_a_loadable_checkpoint(setup, tmp_path):
    data, tokenizer = setup
    out, log = tmp_path / "masked.safetensors", tmp_path / "log.jsonl"
    summary = train_masked(data, tokenizer, out, _config(), log_path=log, progress=False)
    losses = [r["loss"] for r in _log(log)]
    assert summary["steps"] == 30 and len(losses) == 30 and "val_loss" in summary
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.2
    assert out.exists() and out.with_name("masked.resume.safetensors").exists()  # kept: a rerun can extend the run
    pipeline = load_text_to_motion(out, tokenizer)
    assert pipeline.transformer.config.codebook_size == 16 and pipeline.max_frames == 196
    # the full-body model reads the tokenizer's codebook (saved with it) and root keys
    torch.testing.assert_close(pipeline.transformer.codebook, MotionTokenizer.load(tokenizer).quantizer.codebook)
    assert pipeline.reads_root_keys
    assert generate("someone bows", n_frames=20, model=pipeline, steps=2).features.shape == (20, 251)


def test_resumes_after_an_interruption_and_refuses_another_tokenizer(setup, tmp_path, monkeypatch):
    data, tokenizer = setup
    out, log = tmp_path / "masked.safetensors", tmp_path / "log.jsonl"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(masked, "save_checkpoint", interrupted)  # dies after the last step, before the output
    with pytest.raises(KeyboardInterrupt):
        train_masked(data, tokenizer, out, _config(steps=6, val_every=3), log_path=log, progress=False)
    assert out.with_name("masked.resume.safetensors").exists()
    monkeypatch.undo()
    summary = train_masked(data, tokenizer, out, _config(steps=8, val_every=3), log_path=log, progress=False)
    assert [r["step"] for r in _log(log)] == list(range(1, 9)) and summary["steps"] == 8 and out.exists()
    _save_tokenizer(tmp_path / "other.safetensors", data, seed=1)
    with pytest.raises(CheckpointError, match="another tokenizer"):
        load_text_to_motion(out, tmp_path / "other.safetensors")
    # a decoder-only fine-tune keeps the codes: the model reads it
    tuned = tmp_path / "tuned.safetensors"
    train_tokenizer(data, tuned, TokenizerTrainConfig(steps=2, batch_size=4, window=32, warmup=1, threads=1,
                                                      init=str(tokenizer), decoder_only=True), progress=False)
    assert load_text_to_motion(out, tuned).tokenizer.metadata["encoder_sha256"] == [file_sha256(tokenizer)]


def test_a_rerun_with_more_steps_extends_a_finished_run_and_fresh_starts_over(setup, tmp_path):
    data, tokenizer = setup
    out, log = tmp_path / "masked.safetensors", tmp_path / "log.jsonl"
    train_masked(data, tokenizer, out, _config(steps=4, val_every=2), log_path=log, progress=False)
    first, first_log = load_checkpoint(out)[0], _log(log)
    # another seed: a run started afresh would train other weights from step 1
    again = train_masked(data, tokenizer, out, _config(steps=4, val_every=2, seed=1), log_path=log, progress=False)
    assert again["steps"] == 4 and "val_loss" in again and _log(log) == first_log  # nothing left to train
    assert all(torch.equal(first[k], v) for k, v in load_checkpoint(out)[0].items())
    longer = train_masked(data, tokenizer, out, _config(steps=7, val_every=2, seed=1), log_path=log, progress=False)
    assert longer["steps"] == 7 and _log(log)[:4] == first_log and [r["step"] for r in _log(log)[4:]] == [5, 6, 7]
    assert not torch.equal(first["head.weight"], load_checkpoint(out)[0]["head.weight"])
    train_masked(data, tokenizer, out, _config(steps=2, val_every=2), log_path=log, resume=False, progress=False)
    assert [r["step"] for r in _log(log)] == [1, 2]  # --fresh: a new run, a new log


def _densest_token_masked(setup, density: bool) -> float:
    """How often corrupt() masks each sequence's densest token, over 100 draws of 32 real windows."""
    data, tokenizer = setup
    folder, tok = MotionFolder(data, "train"), MotionTokenizer.load(tokenizer)
    split = masked._encode_split(folder, tok, tok.mean, tok.std, {c: 0 for r in folder.records for c in r.captions})
    mc = MaskedTransformerConfig(codebook_size=16)
    batch = masked._batch(split, np.arange(32) % len(split.codes), mc, np.random.default_rng(0))
    densest = batch.density.argmax(1)
    gen, hits = torch.Generator().manual_seed(0), []
    for _ in range(100):
        inputs, _ = corrupt(batch.targets, batch.real, mc, 0.0, gen, batch.density if density else None)
        hits.append((inputs.gather(1, densest[:, None]) == mc.mask_id).float().mean().item())
    return float(np.mean(hits))


def test_keyframe_masking_masks_the_densest_token_more_often_than_random_masking(setup):
    keyframe, random = _densest_token_masked(setup, True), _densest_token_masked(setup, False)
    assert keyframe > 0.95  # the densest token is a key token: among the first masked whatever the ratio
    assert random < 0.8  # uniform masking hides it as often as any token: the mean masking ratio, ~2/pi


def test_a_mamba_backbone_with_keyframe_masking_trains_saves_loads_and_generates(setup, tmp_path):
    data, tokenizer = setup
    out, log = tmp_path / "masked.safetensors", tmp_path / "log.jsonl"
    summary = train_masked(data, tokenizer, out, _config(backbone="mamba", masking="keyframe"), log_path=log,
                           progress=False)
    losses = [r["loss"] for r in _log(log)]
    assert summary["steps"] == 30 and np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.2
    config, meta = load_checkpoint(out)[1], load_checkpoint(out)[3]
    assert config["backbone"] == "mamba" and config["mlp_ratio"] == 0
    assert (meta["train_config"]["backbone"], meta["train_config"]["masking"]) == ("mamba", "keyframe")
    pipeline = load_text_to_motion(out, tokenizer)
    assert type(pipeline.transformer) is MaskedMamba and pipeline.reads_root_keys
    assert generate("someone bows", n_frames=20, model=pipeline, steps=2).features.shape == (20, 251)


def test_contrastive_loss_trains_the_text_projection_and_nothing_it_does_not_read(setup):
    data, tokenizer = setup
    folder, tok = MotionFolder(data, "train"), MotionTokenizer.load(tokenizer)
    captions = sorted({c for r in folder.records for c in r.captions})
    table, mirror = mirror_index(captions)
    assert (mirror >= 0).any()  # the sample's sided captions, whose mirror images are the hard negatives
    text = masked._Text(*masked._embed_captions(table), mirror)
    split = masked._encode_split(folder, tok, tok.mean, tok.std, {c: i for i, c in enumerate(captions)})
    mc = MaskedTransformerConfig(codebook_size=16, width=32, depth=1, heads=4, dropout=0.0)
    batch = masked._batch(split, np.arange(16) % len(split.codes), mc, np.random.default_rng(0))
    torch.manual_seed(0)
    nets = JointModel({"transformer": MaskedTransformer(mc), "align": AlignmentHeads(mc.width)})

    def grads(weight: float) -> dict[str, torch.Tensor]:
        nets.zero_grad()
        out = masked._losses(nets, batch, text, _config(), mc, torch.Generator().manual_seed(0))
        (out["loss"] + weight * out["align_loss"]).backward()
        return {n: p.grad.clone() for n, p in nets["transformer"].named_parameters() if p.grad is not None}

    without, with_ = grads(0.0), grads(1.0)
    for name in ("sentence_proj.weight", "word_proj.weight", "tok_emb.weight"):  # what the alignment reads
        assert (with_[name] - without[name]).abs().max() > 1e-4, name
    for name in ("head.weight", "blocks.0.mlp.0.weight"):  # what it does not
        torch.testing.assert_close(with_[name], without[name], rtol=0, atol=0)


def test_contrastive_training_logs_its_loss_and_saves_a_plain_masked_model(setup, tmp_path):
    data, tokenizer = setup
    out, log = tmp_path / "masked.safetensors", tmp_path / "log.jsonl"
    summary = train_masked(data, tokenizer, out, _config(steps=4, val_every=4, contrastive=0.5), log_path=log,
                           progress=False)
    assert all(r["align_loss"] > 0 for r in _log(log)) and "val_align_loss" in summary
    state, _, _, meta = load_checkpoint(out)
    assert meta["train_config"]["contrastive"] == 0.5 and not any(k.startswith("align") for k in state)
    assert type(load_text_to_motion(out, tokenizer).transformer) is MaskedTransformer
    with pytest.raises(CheckpointError, match="another model config"):  # its resume state holds the alignment heads
        train_masked(data, tokenizer, out, _config(steps=6), progress=False)


def test_rotary_training_saves_a_model_that_loads_with_rotary_positions(setup, tmp_path):
    data, tokenizer = setup
    out = tmp_path / "masked.safetensors"
    train_masked(data, tokenizer, out, _config(steps=2, rotary=True), progress=False, log_path=tmp_path / "log.jsonl")
    model = load_text_to_motion(out, tokenizer).transformer
    assert model.config.rotary and load_checkpoint(out)[3]["train_config"]["rotary"]


def test_refuses_unknown_masking_and_backbone_in_the_users_words(setup, tmp_path):
    data, tokenizer = setup
    for bad, message in (({"masking": "dense"}, "unknown masking 'dense'; choose from random, keyframe"),
                         ({"backbone": "rnn"}, "unknown backbone 'rnn'"), ({"contrastive": -1.0}, "contrastive weight"),
                         ({"backbone": "mamba", "rotary": True}, "rotary positions are for the transformer")):
        with pytest.raises(ValueError, match=message):
            train_masked(data, tokenizer, tmp_path / "x.safetensors", _config(steps=1, **bad), progress=False)


def test_trains_the_upper_body_editor_on_part_tokenizers(setup, tmp_path):
    data, _ = setup
    _save_tokenizer(tmp_path / "tokenizer_upper.safetensors", data, seed=2, part="upper")
    _save_tokenizer(tmp_path / "tokenizer_lower.safetensors", data, seed=3, part="lower")
    out, log = tmp_path / "masked_upper.safetensors", tmp_path / "log.jsonl"
    summary = train_masked(data, tmp_path / "tokenizer_upper.safetensors", out, _config(), log_path=log,
                           progress=False, lower_tokenizer_path=tmp_path / "tokenizer_lower.safetensors")
    losses = [r["loss"] for r in _log(log)]
    assert summary["steps"] == 30 and "length_loss" not in _log(log)[-1]
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.2
    editor = load_upper_editor_from(out)
    assert editor.transformer.config.cond_codebook_size == 16
    assert not editor.transformer.config.root_keys and editor.transformer.config.code_dim == 0
    motion = generate("someone bows", n_frames=40, model=load_text_to_motion(*_full_model(data, tmp_path)), steps=2)
    edited = edit_upper(motion, (8, 32), "someone waves", model=editor, steps=2)
    lower = ~np.isin(np.arange(251), editor.upper_dims)
    np.testing.assert_array_equal(edited.features[:, lower], motion.features[:, lower])


def test_the_upper_body_editor_can_have_the_mamba_backbone(setup, tmp_path):
    data, _ = setup
    _save_tokenizer(tmp_path / "tokenizer_upper.safetensors", data, seed=2, part="upper")
    _save_tokenizer(tmp_path / "tokenizer_lower.safetensors", data, seed=3, part="lower")
    out = tmp_path / "masked_upper.safetensors"
    train_masked(data, tmp_path / "tokenizer_upper.safetensors", out, _config(steps=2, backbone="mamba"), progress=False,
                 lower_tokenizer_path=tmp_path / "tokenizer_lower.safetensors")
    editor = load_upper_editor_from(out)
    assert type(editor.transformer) is MaskedMamba and editor.transformer.config.cond_codebook_size == 16


def test_upper_body_editor_refuses_tokenizers_of_the_wrong_parts(setup, tmp_path):
    data, tokenizer = setup
    _save_tokenizer(tmp_path / "tokenizer_lower.safetensors", data, seed=3, part="lower")
    with pytest.raises(ValueError, match="upper-body tokenizer and a lower-body one"):
        train_masked(data, tokenizer, tmp_path / "x.safetensors", _config(steps=1), progress=False,
                     lower_tokenizer_path=tmp_path / "tokenizer_lower.safetensors")


def _full_model(data: Path, tmp: Path) -> tuple[Path, Path]:
    """A (barely) trained full-body model to make a motion to edit."""
    tokenizer = tmp / "tokenizer.safetensors"
    _save_tokenizer(tokenizer, data, seed=0)
    train_masked(data, tokenizer, tmp / "masked.safetensors", _config(steps=2), progress=False)
    return tmp / "masked.safetensors", tokenizer


def test_code_weights_make_a_rare_code_count_and_keep_the_mean_token_at_one():
    codes = [torch.tensor([0] * 90 + [1] * 9 + [2])]  # code 2 is a kick's peak: one token in a hundred
    assert code_weights(codes, 4, 0.0) is None
    w = code_weights(codes, 4, 0.5)
    assert w[2] / w[0] == pytest.approx(90 ** 0.5) and w[1] / w[0] == pytest.approx(10 ** 0.5)
    assert float((w[:3] * torch.tensor([90.0, 9.0, 1.0])).sum() / 100) == pytest.approx(1.0)  # mean token weight
    assert w[3] == 1.0  # never seen: no reason to weigh it either way


def test_code_balance_reaches_the_training_loss(setup, tmp_path):
    data, tokenizer = setup
    losses = {}
    for balance in (0.0, 1.0):  # the same seed draws the same batches: only the code weights differ
        log = tmp_path / f"log{balance}.jsonl"
        train_masked(data, tokenizer, tmp_path / f"m{balance}.safetensors", _config(steps=1, code_balance=balance),
                     progress=False, log_path=log)
        losses[balance] = _log(log)[0]["loss"]
    assert losses[1.0] != pytest.approx(losses[0.0], rel=1e-4)
    assert load_checkpoint(tmp_path / "m1.0.safetensors")[3]["train_config"]["code_balance"] == 1.0
