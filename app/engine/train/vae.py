"""Training the motion VAE (app.engine.models.vae) on random windows of the train split.

The CLI (`kinema train vae --data <dir> --preset cpu|paper [--steps N]`) calls

    train_vae(data_dir, "checkpoints/vae.safetensors", VAETrainConfig(preset=...), log_path="runs/vae/log.jsonl")

Batches, padding masks, the learning-rate schedule and DDP setup are the tokenizer's (app.engine.train.tokenizer):
the two models see the same data the same way. Loss: smooth-L1 reconstruction + weight_vel * smooth-L1 on the
temporal difference + weight_pose_sq * the joint positions' squared error (the tokenizer's
`pose_squared_error`) + weight_kl * KL to N(0, I) per latent value (MLD uses 1e-4: a nearly deterministic latent,
scaled to unit variance later by the diffusion trainer) + weight_drift * the tokenizer's root drift (a take's root
path integrated from the decoded velocities; app.engine.train.tokenizer.root_drift). `decoder_only` fine-tunes the
decoder of `init` alone: every motion's latents stay what they were, so a denoiser trained on them keeps working.
Every `val_every` steps: MPJPE of whole val motions decoded from their latent means. Steps, resume state, logging
and torchrun are app.engine.train.loop's.
"""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from app.engine.data.dataset import MotionFolder
from app.engine.models.checkpoint import encoder_sha256_for_fine_tune, save_checkpoint
from app.engine.models.vae import PRESETS, MotionVAE, VAEConfig
from app.engine.train.init import load_initial_weights
from app.engine.train.loop import LoopConfig, TrainingRun
from app.engine.train.tokenizer import (_batch, _masked_smooth_l1, autoencoder_summary, mpjpe_mm,
                                        pose_squared_error, position_channels, root_drift, root_statistics,
                                        training_motions)


@dataclass
class VAETrainConfig:
    preset: str = "cpu"  # app.engine.models.vae.PRESETS
    steps: int = 2000
    batch_size: int = 64  # global, over all DDP ranks
    window: int = 64  # frames, a multiple of the VAE's 4 frames per latent
    lr: float = 5e-4
    weight_decay: float = 0.0
    warmup: int = 200
    weight_vel: float = 0.5
    weight_kl: float = 1e-4
    weight_drift: float = 1.0  # 0 for the VAEs shipped before 2026-12-03's drift fix
    weight_pose_sq: float = 0.0  # the tokenizer's pose_squared_error; 0 for the VAEs shipped before 2026-12-04
    label_balance: float = 0.75  # app.engine.train.sampling; 0: motions drawn uniformly
    seed: int = 0
    val_every: int = 250
    threads: int = 2  # per process
    device: str | None = None  # None: CUDA when there is one, else CPU
    model: VAEConfig | None = None  # None: PRESETS[preset]; either way with the dataset's feature width
    init: str | None = None  # start from this VAE's weights (same config; app.engine.train.init)
    decoder_only: bool = False  # train init's decoder alone; its encoder (so every motion's latents) stays


def vae_losses(model: nn.Module, x: torch.Tensor, mask: torch.Tensor, cfg: VAETrainConfig,
               generator: torch.Generator | None = None, root_stats: tuple[torch.Tensor, torch.Tensor] | None = None,
               pose_channels: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts for a batch x (B, T, D) with mask (B, T) True on real frames; root_stats: the mean
    and std of the 4 root channels, for the drift loss; pose_channels: the joint-position channels
    (app.engine.train.tokenizer.position_channels), for the pose loss (needed when cfg.weight_pose_sq > 0)."""
    recon, mu, logvar = model(x, generator)
    rec = _masked_smooth_l1(recon, x, mask)
    vel = _masked_smooth_l1(recon[:, 1:] - recon[:, :-1], x[:, 1:] - x[:, :-1], mask[:, 1:] & mask[:, :-1])
    latent_mask = mask[:, :: x.shape[1] // mu.shape[1]]  # a latent is real if its first frame is
    kl_per = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).mean(-1)  # (B, N)
    kl = (kl_per * latent_mask).sum() / latent_mask.sum().clamp_min(1)
    loss = rec + cfg.weight_vel * vel + cfg.weight_kl * kl
    parts = {"recon": rec.item(), "vel": vel.item(), "kl": kl.item()}
    if cfg.weight_pose_sq:
        pose = pose_squared_error(recon, x, mask, pose_channels)
        loss = loss + cfg.weight_pose_sq * pose
        parts["pose_sq"] = pose.item()
    if root_stats is not None and cfg.weight_drift:
        drift = root_drift(recon, x, mask, *root_stats)
        loss = loss + cfg.weight_drift * drift
        parts["drift"] = drift.item()
    return loss, parts


def vae_mpjpe(model: MotionVAE, folder: MotionFolder, device: str | torch.device = "cpu", limit: int = 200) -> float:
    """mpjpe_mm of encode (mean) -> decode over (up to `limit`) whole motions."""
    return mpjpe_mm(model, folder, model.config.unit, lambda x: model.decode(model.encode(x.to(device))[0])[0], limit)


def train_vae(
    data_dir: str | Path,
    out_path: str | Path = "checkpoints/vae.safetensors",
    config: VAETrainConfig | None = None,
    log_path: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
) -> dict:
    """Train on `data_dir`'s train split, validate on its val split; returns the final metrics and timings."""
    cfg = config or VAETrainConfig()
    if cfg.model is None and cfg.preset not in PRESETS:
        raise ValueError(f"unknown preset {cfg.preset!r}; choose from {', '.join(PRESETS)}")
    run = TrainingRun(cfg.device, cfg.threads, cfg.seed)
    data_dir, out_path = Path(data_dir), Path(out_path)

    train_folder, val_folder = MotionFolder(data_dir, "train"), MotionFolder(data_dir, "val")
    mc = dataclasses.replace(cfg.model or PRESETS[cfg.preset], input_dim=train_folder.info.feature_dim)
    if cfg.window % mc.unit:
        raise ValueError(f"window {cfg.window} is not a multiple of {mc.unit} frames per latent")
    motions, draw = training_motions(train_folder, mc.unit, cfg.label_balance)

    model = MotionVAE(mc)
    if cfg.init:
        load_initial_weights(model, cfg.init, mc, "VAE")
    if cfg.decoder_only:
        if not cfg.init:
            raise ValueError("decoder-only training fine-tunes the decoder of a trained VAE: give --init")
        for frozen in (model.encoder, model.to_moments):
            frozen.requires_grad_(False)
    model = model.to(run.device)
    root_stats = root_statistics(train_folder, run.device)
    pose_channels = position_channels(torch.arange(mc.input_dim), train_folder.info.n_joints).to(run.device)
    trained = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trained, lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
    net = run.start(model, opt, out_path, {"model": asdict(mc)}, resume)
    rng = np.random.default_rng([cfg.seed, run.step, run.rank])  # each rank (and a resumed run) draws its own batches
    gen = torch.Generator(device=run.device).manual_seed(int(rng.integers(2**62)))
    per_rank = max(1, cfg.batch_size // run.world)

    def step() -> tuple[torch.Tensor, dict[str, float]]:
        x, mask = (t.to(run.device) for t in _batch(motions, per_rank, cfg.window, rng, draw))
        loss, parts = vae_losses(net, x, mask, cfg, gen, root_stats, pose_channels)
        return loss, {"loss": loss.item(), **parts}

    def validate() -> dict[str, float]:
        return {"val_mpjpe_mm": vae_mpjpe(model, val_folder, run.device)}

    loop = LoopConfig(cfg.steps, cfg.lr, cfg.warmup, cfg.val_every, f"vae ({cfg.preset})", show=("loss", "kl"),
                      progress=progress)
    metrics = run.loop(step, validate, loop, log_path)
    if run.main and not metrics:  # a rerun of a finished run
        metrics = validate()
    summary = autoencoder_summary(run, data_dir, train_folder, metrics, cfg)
    if cfg.decoder_only:  # the latents are init's: denoisers trained on init's latents accept this VAE
        summary["encoder_sha256"] = encoder_sha256_for_fine_tune(cfg.init)
    extra = {"mean": torch.from_numpy(train_folder.mean), "std": torch.from_numpy(train_folder.std)}
    run.finish(lambda: save_checkpoint(out_path, model, asdict(mc), extra, summary))
    return summary
