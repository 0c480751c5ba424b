import json
from pathlib import Path

import numpy as np
import pytest
import torch

from app.engine.data.dataset import MotionFolder
from app.engine.models.checkpoint import CheckpointError, file_sha256
from app.engine.models.diffusion_pipeline import load_diffusion, load_diffusion_pipeline
from app.engine.models.motion_mamba import DenoiserConfig
from app.engine.models.pipeline import ModelNotTrained
from app.engine.models.vae import MotionVAE, VAEConfig
from app.engine.ops import DEFAULT_GUIDANCE, DEFAULT_STEPS, generate
from app.engine.text import get_text_encoder
from app.engine.train.diffusion import DiffusionTrainConfig, train_diffusion
from app.engine.train.vae import VAETrainConfig, train_vae

TINY_VAE = VAEConfig(width=32, depth=1, latent_dim=4)
TINY_DENOISER = DenoiserConfig(width=16, scans=[2, 1], d_state=2, spatial_group=8)


@pytest.fixture(scope="module")
def trained(sample_dataset, tmp_path_factory) -> Path:
    """A VAE and a denoiser trained for a few steps on the 42 sample motions (seconds)."""
    out = tmp_path_factory.mktemp("diffusion")
    get_text_encoder("cpu")  # MiniLM loads once per process
    train_vae(sample_dataset, out / "vae.safetensors", VAETrainConfig(steps=6, batch_size=8, window=32, val_every=6,
                                                                     threads=1, model=TINY_VAE), progress=False)
    train_diffusion(sample_dataset, out / "vae.safetensors", out / "diffusion.safetensors",
                    DiffusionTrainConfig(steps=30, batch_size=8, warmup=2, lr=3e-3, val_every=15, threads=1,
                                         model=TINY_DENOISER), log_path=out / "log.jsonl", progress=False)
    return out


def test_training_writes_a_loadable_pipeline_and_lowers_the_loss(trained):
    log = [json.loads(line) for line in (trained / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 31))
    assert "val_loss" in log[14] and "val_loss" in log[29]
    assert np.mean([r["loss"] for r in log[-10:]]) < np.mean([r["loss"] for r in log[:5]])
    assert not (trained / "diffusion.resume.safetensors").exists()  # removed once the run is complete
    pipeline = load_diffusion_pipeline(trained)
    assert pipeline.max_frames == 196 and pipeline.fps == 20.0 and pipeline.skeleton_name == "bandai-namco21"


def test_generation_is_deterministic_for_a_seed_and_varies_with_it(trained):
    pipeline = load_diffusion_pipeline(trained)
    a = pipeline.generate("a person walks forward", 30, seed=3, guidance=2.0, steps=5)
    b = pipeline.generate("a person walks forward", 30, seed=3, guidance=2.0, steps=5)
    assert a.shape == (30, 251) and a.dtype == np.float32
    assert np.array_equal(a, b)
    with torch.inference_mode():  # in latent space: a decoder trained for 6 steps barely responds to its input
        sentence = pipeline._sentence("a person walks forward")
        z3, z3_again, z4 = (pipeline.sample(sentence, 8, seed, 2.0, 5) for seed in (3, 3, 4))
    assert torch.equal(z3, z3_again)
    assert (z3 - z4).abs().max() > 0.1


def test_ops_generate_routes_to_the_diffusion_engine(trained):
    pipeline = load_diffusion_pipeline(trained)
    motion = generate("a person jumps", n_frames=22, seed=1, steps=4, engine="diffusion", model=pipeline, cleanup=False)
    assert motion.features.shape == (22, 251)
    expected = pipeline.generate("a person jumps", 22, seed=1, guidance=DEFAULT_GUIDANCE["diffusion"], steps=4)
    np.testing.assert_array_equal(motion.features, expected)
    with pytest.raises(ValueError, match="4 to 12000 frames"):
        generate("a person jumps", n_frames=12_001, engine="diffusion", model=pipeline)


def test_no_steps_means_the_engines_default_of_sixteen(trained):
    pipeline = load_diffusion_pipeline(trained)
    assert DEFAULT_STEPS == {"masked": 8, "diffusion": 16}
    motion = generate("a person kicks", n_frames=24, seed=2, engine="diffusion", model=pipeline, cleanup=False)
    sixteen, eight = (pipeline.generate("a person kicks", 24, 2, DEFAULT_GUIDANCE["diffusion"], steps)
                      for steps in (16, 8))
    np.testing.assert_array_equal(motion.features, sixteen)
    assert not np.array_equal(sixteen, eight)


def test_sampling_adds_seeded_noise_at_every_step(trained):
    """eta 1 (the default): each step draws fresh noise from the seed's generator, never from the global one."""
    pipeline = load_diffusion_pipeline(trained)
    with torch.inference_mode():
        sentence = pipeline._sentence("a person kicks")
        torch.manual_seed(0)
        stochastic = pipeline.sample(sentence, 8, 5, 3.0, 6)
        torch.manual_seed(1)  # another global state: the same sample
        again = pipeline.sample(sentence, 8, 5, 3.0, 6, eta=1.0)
        deterministic = pipeline.sample(sentence, 8, 5, 3.0, 6, eta=0.0)
    assert torch.equal(stochastic, again)
    assert (stochastic - deterministic).abs().max() > 0.1


def test_length_comes_from_the_predictor_when_not_given(trained):
    pipeline = load_diffusion_pipeline(trained)
    features = pipeline.generate("a person walks", None, seed=0, guidance=1.0, steps=2)
    assert len(features) % 4 == 0 and 4 <= len(features) <= 196


def test_inpaint_keeps_known_frames_exactly_and_fills_the_rest(trained, sample_dataset):
    pipeline = load_diffusion_pipeline(trained)
    real = MotionFolder(sample_dataset, "train").records[0].features[:50]
    known = np.zeros(50, dtype=bool)
    known[:12] = known[40:] = True
    out = pipeline.inpaint(real, known, "a person walks", seed=0, guidance=2.0, steps=4)
    assert out.shape == real.shape
    np.testing.assert_array_equal(out[known], real[known])
    assert np.abs(out[~known] - real[~known]).max() > 1e-4  # the gap is generated, not copied


def test_inpaint_imposes_the_known_latents_during_sampling(trained, sample_dataset):
    pipeline = load_diffusion_pipeline(trained)
    real = MotionFolder(sample_dataset, "train").records[0].features[:48]
    known = torch.tensor([True] * 4 + [False] * 4 + [True] * 4)
    with torch.inference_mode():
        z_known = pipeline._encode(real)
        z = pipeline.sample(pipeline._sentence("a person walks"), 12, 0, 2.0, 4, z_known, known)
        free = pipeline.sample(pipeline._sentence("a person walks"), 12, 0, 2.0, 4)
    torch.testing.assert_close(z[0, known], z_known[0, known])
    assert (z[0, ~known] - free[0, ~known]).abs().max() > 1e-4  # the known latents shaped the unknown ones


def test_inpaint_rejects_bad_arguments_in_the_users_terms(trained):
    pipeline = load_diffusion_pipeline(trained)
    x = np.zeros((40, 251), dtype=np.float32)
    with pytest.raises(ValueError, match=r"features must be \(frames, 251\)"):
        pipeline.inpaint(x[:, :10], np.ones(40, bool), "walk", 0, 2.0, 4)
    with pytest.raises(ValueError, match="one per frame"):
        pipeline.inpaint(x, np.ones(39, bool), "walk", 0, 2.0, 4)
    with pytest.raises(ValueError, match="4 to 196 frames"):
        pipeline.inpaint(np.zeros((300, 251), np.float32), np.ones(300, bool), "walk", 0, 2.0, 4)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        pipeline.inpaint(x, np.ones(40, bool), "walk", 0, 2.0, 0)


def test_missing_or_mismatched_checkpoints_are_refused(trained, tmp_path):
    with pytest.raises(ModelNotTrained, match="kinema train diffusion"):
        load_diffusion_pipeline(tmp_path)
    (tmp_path / "diffusion.safetensors").write_bytes((trained / "diffusion.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="needs its VAE"):
        load_diffusion(tmp_path / "diffusion.safetensors")
    from dataclasses import asdict

    from app.engine.models.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "vae.safetensors", MotionVAE(TINY_VAE), asdict(TINY_VAE))  # another VAE
    with pytest.raises(CheckpointError, match="another VAE"):
        load_diffusion(tmp_path / "diffusion.safetensors")


def test_a_decoder_only_vae_keeps_the_latents_so_the_denoiser_reads_it(sample_dataset, trained, tmp_path):
    tuned = tmp_path / "vae.safetensors"
    train_vae(sample_dataset, tuned, VAETrainConfig(steps=3, batch_size=8, window=32, val_every=3, threads=1,
                                                    model=TINY_VAE, init=str(trained / "vae.safetensors"),
                                                    decoder_only=True), progress=False)
    before, after = MotionVAE.load(trained / "vae.safetensors"), MotionVAE.load(tuned)
    old, new = before.state_dict(), after.state_dict()
    frozen = [k for k in old if k.startswith(("encoder.", "to_moments."))]
    assert frozen and all(torch.equal(old[k], new[k]) for k in frozen)
    assert not all(torch.equal(old[k], new[k]) for k in old if k.startswith("decoder."))
    assert after.metadata["encoder_sha256"] == [file_sha256(trained / "vae.safetensors")]
    (tmp_path / "diffusion.safetensors").write_bytes((trained / "diffusion.safetensors").read_bytes())
    assert load_diffusion(tmp_path / "diffusion.safetensors").vae.metadata["encoder_sha256"]
    with pytest.raises(ValueError, match="--init"):
        train_vae(sample_dataset, tmp_path / "x.safetensors",
                  VAETrainConfig(steps=1, model=TINY_VAE, decoder_only=True), progress=False)


def test_training_resumes_from_its_saved_state(sample_dataset, trained, tmp_path):
    cfg = DiffusionTrainConfig(steps=4, batch_size=4, warmup=1, val_every=2, threads=1, model=TINY_DENOISER)
    vae = trained / "vae.safetensors"
    out = tmp_path / "diffusion.safetensors"
    import app.engine.train.loop as loop

    original = loop.save_resume

    def stop_after_first_save(*args, **kwargs):
        original(*args, **kwargs)
        raise KeyboardInterrupt

    loop.save_resume = stop_after_first_save
    try:
        with pytest.raises(KeyboardInterrupt):
            train_diffusion(sample_dataset, vae, out, cfg, log_path=tmp_path / "log.jsonl", progress=False)
    finally:
        loop.save_resume = original
    assert (tmp_path / "diffusion.resume.safetensors").exists() and not out.exists()
    summary = train_diffusion(sample_dataset, vae, out, cfg, log_path=tmp_path / "log.jsonl", progress=False)
    steps = [json.loads(line)["step"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 3, 4]  # step 2 was interrupted while saving, before its log line; the rerun went on from it
    assert summary["steps"] == 4 and out.exists()


def test_unknown_ablation_is_refused_before_any_work(sample_dataset, tmp_path):
    with pytest.raises(ValueError, match="unknown ablation 'no-mamba'; choose from no-hierarchy, no-backward-bsm"):
        train_diffusion(sample_dataset, tmp_path / "missing-vae.safetensors", tmp_path / "d.safetensors",
                        DiffusionTrainConfig(ablation="no-mamba"), progress=False)


def test_batches_draw_each_label_by_its_weight_not_by_its_number_of_motions():
    from app.engine.train.diffusion import _batch, _Split
    from app.engine.train.masked import label_weights

    # 900 motions of "walk", 100 of "kick", all 8 latents long (a batch holds a motion once: enough of each)
    split = _Split([torch.zeros(8, 4)] * 1000, [[i] for i in range(1000)], ["walk"] * 900 + ["kick"] * 100)
    rng = np.random.default_rng(0)

    def kick_share(draw):
        caps = torch.cat([_batch(split, 16, 49, rng, draw)[2] for _ in range(200)])
        return float((caps >= 900).float().mean())

    assert kick_share(None) == pytest.approx(0.10, abs=0.03)  # uniform: as many as there are
    assert kick_share(label_weights(split.labels, 1.0)) == pytest.approx(0.5, abs=0.05)  # each label alike
    assert 0.2 < kick_share(label_weights(split.labels, 0.75)) < 0.45  # the default: in between (10^.25 vs 90^.25)
