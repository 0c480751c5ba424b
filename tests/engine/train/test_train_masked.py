import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

import app.engine.train.masked as masked
from app.engine.data.build import build_bandai_namco
from app.engine.data.dataset import MotionFolder
from app.engine.models.checkpoint import CheckpointError, save_checkpoint
from app.engine.models.masked_transformer import MaskedTransformerConfig
from app.engine.models.pipeline import load_text_to_motion
from app.engine.models.tokenizer import MotionTokenizer, TokenizerConfig
from app.engine.models.upper_editor import load_upper_editor_from
from app.engine.ops import edit_upper, generate
from app.engine.text import get_text_encoder
from app.engine.train.masked import MaskedTrainConfig, corrupt, train_masked

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
    targets, real, _, _, keys = masked._batch(split, idx, cfg, rng, key_drop=0.5, max_keys=3)
    per_row = keys[..., 4].sum(1)
    assert keys.shape == targets.shape + (5,) and 8 < int((per_row == 0).sum()) < 32
    assert int(per_row.max()) <= 3 and not keys[~real].any()  # keys only at codes, never at END/PAD
    assert masked._batch(split, idx, MaskedTransformerConfig(codebook_size=16), rng)[4] is None


def test_trains_and_writes_a_loadable_checkpoint(setup, tmp_path):
    data, tokenizer = setup
    out, log = tmp_path / "masked.safetensors", tmp_path / "log.jsonl"
    summary = train_masked(data, tokenizer, out, _config(), log_path=log, progress=False)
    losses = [r["loss"] for r in _log(log)]
    assert summary["steps"] == 30 and len(losses) == 30 and "val_loss" in summary
    assert np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.2
    assert out.exists() and not out.with_name("masked.resume.safetensors").exists()
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
