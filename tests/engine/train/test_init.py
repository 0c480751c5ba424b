"""`--init`: a run starts from a trained checkpoint's weights (fine-tuning), and refuses one of another config."""
import json
from pathlib import Path

import pytest
import torch

from app.engine.data.build import build_bandai_namco
from app.engine.models.checkpoint import EXTRA, CheckpointError, atomic_save, load_checkpoint
from app.engine.models.masked_transformer import MaskedTransformerConfig
from app.engine.models.motion_mamba import DenoiserConfig
from app.engine.models.pipeline import load_text_to_motion
from app.engine.models.vae import MotionVAE, VAEConfig
from app.engine.text import get_text_encoder
from app.engine.train.diffusion import DiffusionTrainConfig, train_diffusion
from app.engine.train.masked import MaskedTrainConfig, train_masked
from app.engine.train.vae import VAETrainConfig, train_vae
from tests.engine.train.test_train_masked import SAMPLE, _save_tokenizer

TINY = MaskedTransformerConfig(codebook_size=0, width=32, depth=2, heads=4, dropout=0.0)
TINY_VAE = VAEConfig(width=32, depth=1, latent_dim=4)
TINY_DENOISER = DenoiserConfig(width=16, scans=[2, 1], d_state=2, spatial_group=8)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("init")
    build_bandai_namco(SAMPLE, tmp / "bn", workers=1)
    _save_tokenizer(tmp / "tokenizer.safetensors", tmp / "bn", seed=0)
    _save_tokenizer(tmp / "tokenizer2.safetensors", tmp / "bn", seed=1)
    get_text_encoder("cpu")
    return tmp


def _masked(**kw) -> MaskedTrainConfig:
    return MaskedTrainConfig(**{"steps": 4, "batch_size": 8, "warmup": 1, "val_every": 4, "threads": 1, "model": TINY,
                                **kw})


def test_masked_init_carries_the_weights_and_takes_the_new_tokenizers_codebook(data, tmp_path):
    first = tmp_path / "first.safetensors"
    train_masked(data / "bn", data / "tokenizer.safetensors", first, _masked(lr=3e-3), progress=False,
                 log_path=tmp_path / "a.jsonl")
    # lr 0: the run only loads; fine-tuned onto another tokenizer of the same size (as on a widened dataset)
    tuned = tmp_path / "tuned.safetensors"
    train_masked(data / "bn", data / "tokenizer2.safetensors", tuned, _masked(lr=0.0, init=str(first)),
                 progress=False, log_path=tmp_path / "b.jsonl")
    before, after = load_checkpoint(first), load_checkpoint(tuned)
    weights = [k for k in before[0] if k != "codebook"]
    assert weights and all(torch.equal(before[0][k], after[0][k]) for k in weights)
    assert all(torch.equal(before[2][k], after[2][k]) for k in before[2] if k.startswith("length."))
    new_codebook = load_text_to_motion(tuned, data / "tokenizer2.safetensors").transformer.codebook
    assert not torch.equal(new_codebook, before[0]["codebook"])
    # a fresh start (no --init) at lr 0 keeps its own random weights: the equality above is the init's doing
    fresh = tmp_path / "fresh.safetensors"
    train_masked(data / "bn", data / "tokenizer2.safetensors", fresh, _masked(lr=0.0), progress=False,
                 log_path=tmp_path / "c.jsonl")
    assert not all(torch.equal(before[0][k], load_checkpoint(fresh)[0][k]) for k in weights)


def test_masked_init_of_another_config_is_refused_naming_what_differs(data, tmp_path):
    first = tmp_path / "first.safetensors"
    train_masked(data / "bn", data / "tokenizer.safetensors", first, _masked(), progress=False,
                 log_path=tmp_path / "a.jsonl")
    with pytest.raises(CheckpointError, match=r"another config \(rotary differ: rotary False there, True here"):
        train_masked(data / "bn", data / "tokenizer.safetensors", tmp_path / "r.safetensors",
                     _masked(init=str(first), rotary=True), progress=False)
    # a file written before the config had `rotary` (the shipped upper-body editor of 2026-12-02) holds its default
    state, config, extra, meta = load_checkpoint(first)
    older = tmp_path / "older.safetensors"
    atomic_save({**state, **{EXTRA + k: v for k, v in extra.items()}},
                {"config": json.dumps({k: v for k, v in config.items() if k != "rotary"}), "metadata": json.dumps(meta)},
                older)
    train_masked(data / "bn", data / "tokenizer.safetensors", tmp_path / "o.safetensors", _masked(init=str(older)),
                 progress=False, log_path=tmp_path / "o.jsonl")
    with pytest.raises(CheckpointError, match=r"rotary differ: rotary False there, True here"):
        train_masked(data / "bn", data / "tokenizer.safetensors", tmp_path / "o2.safetensors",
                     _masked(init=str(older), rotary=True), progress=False)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(first.read_bytes()[:200])
    with pytest.raises(CheckpointError):
        train_masked(data / "bn", data / "tokenizer.safetensors", tmp_path / "t.safetensors",
                     _masked(init=str(broken)), progress=False)


def test_vae_and_denoiser_init_carry_their_weights(sample_dataset, tmp_path):
    vae_cfg = VAETrainConfig(steps=3, batch_size=8, window=32, val_every=3, threads=1, model=TINY_VAE)
    train_vae(sample_dataset, tmp_path / "vae.safetensors", vae_cfg, progress=False)
    train_vae(sample_dataset, tmp_path / "vae2.safetensors",
              VAETrainConfig(**{**vae_cfg.__dict__, "lr": 0.0, "init": str(tmp_path / "vae.safetensors")}),
              progress=False)
    a, b = MotionVAE.load(tmp_path / "vae.safetensors"), MotionVAE.load(tmp_path / "vae2.safetensors")
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())

    cfg = DiffusionTrainConfig(steps=3, batch_size=4, warmup=1, val_every=3, threads=1, model=TINY_DENOISER)
    vae = tmp_path / "vae.safetensors"
    train_diffusion(sample_dataset, vae, tmp_path / "d.safetensors", cfg, progress=False)
    train_diffusion(sample_dataset, vae, tmp_path / "d2.safetensors",
                    DiffusionTrainConfig(**{**cfg.__dict__, "lr": 0.0, "init": str(tmp_path / "d.safetensors")}),
                    progress=False)
    d, d2 = load_checkpoint(tmp_path / "d.safetensors"), load_checkpoint(tmp_path / "d2.safetensors")
    assert all(torch.equal(v, d2[0][k]) for k, v in d[0].items())
    assert all(torch.equal(v, d2[2][k]) for k, v in d[2].items() if k.startswith("length."))
    bigger = DiffusionTrainConfig(**{**cfg.__dict__, "model": DenoiserConfig(width=24, scans=[2, 1], d_state=2,
                                                                               spatial_group=8),
                                     "init": str(tmp_path / "d.safetensors")})
    with pytest.raises(CheckpointError, match="another config"):
        train_diffusion(sample_dataset, vae, tmp_path / "d3.safetensors", bigger, progress=False)
