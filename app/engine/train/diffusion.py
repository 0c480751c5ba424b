"""Training Motion Mamba's latent denoiser (app.engine.models.motion_mamba) on a frozen motion VAE.

The CLI (`kinema train diffusion --data <dir> [--vae checkpoints/vae.safetensors] --preset cpu|paper [--steps N]`)
calls

    train_diffusion(data_dir, vae_path, "checkpoints/diffusion.safetensors", DiffusionTrainConfig(preset=...),
                    log_path="runs/diffusion/log.jsonl")

Up front every train/val motion is encoded once, whole, to its latent means (normalised with the VAE's own
Mean/Std), the latents are scaled to zero mean and unit variance per channel (statistics of the train split, saved
with the weights), and every caption is embedded once by MiniLM. A batch has one length: a motion is drawn, its
length (capped at `max_latents`) is the batch's, and the batch is filled with random windows of that length from
motions at least that long. Motions are drawn with the masked trainer's weights per content label
(`label_balance`, app.engine.train.sampling), so an action with a few takes (dataset 1's, or a second corpus's
jumps and kicks) is not drowned by dataset 2's hundreds. No padding ever enters a scan (a backward scan would carry
it into real frames), and the model sees short and long motions as often as the data has them. DDPM loss: MSE
between the model's output and the scheduler's target (v or epsilon) at t ~ U{0..999}; the text is dropped for
`text_drop` of the rows (classifier-free guidance). With `ema`, validation and the output use the weights' moving
average (app.engine.train.loop). A length predictor (app.engine.models.length_predictor) learns
the motion's latent count from the sentence in the same loop, for prompts without a length.

Steps, validation, resume state, logging and torchrun are app.engine.train.loop's.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from app.engine.data.dataset import MotionFolder
from app.engine.models.checkpoint import file_sha256, save_checkpoint
from app.engine.models.ddim import DDIMScheduler, ScheduleConfig
from app.engine.models.length_predictor import LengthPredictor, LengthPredictorConfig
from app.engine.models.motion_mamba import PRESETS, DenoiserConfig, MotionMambaDenoiser
from app.engine.models.vae import MotionVAE
from app.engine.physical import action_label
from app.engine.train.distributed import JointModel
from app.engine.train.init import load_initial_weights
from app.engine.train.loop import LoopConfig, TrainingRun
from app.engine.train.sampling import draw_weights

FORMAT = "kinema-diffusion-1"
ABLATIONS = {"no-hierarchy": {"hierarchy": False}, "no-backward-bsm": {"backward_spatial": False}}


@dataclass
class DiffusionTrainConfig:
    preset: str = "cpu"  # app.engine.models.motion_mamba.PRESETS
    steps: int = 3000
    batch_size: int = 32  # global, over all DDP ranks
    max_latents: int = 49  # 196 frames
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup: int = 100
    text_drop: float = 0.1
    label_balance: float = 0.75  # a label's draw weight is n_motions ** (1 - label_balance), as the masked trainer's
    prediction: str = "v"
    val_every: int = 250
    seed: int = 0
    threads: int = 2
    device: str | None = None
    model: DenoiserConfig | None = None  # overrides the preset (tests: a tiny model)
    ablation: str | None = None  # "no-hierarchy" (one scan per level) or "no-backward-bsm" (BSM forward only)
    init: str | None = None  # start from this denoiser's weights (same config; app.engine.train.init)
    ema: float = 0.0  # the output is the weights' moving average with this decay (0: the last weights; loop.LoopConfig)


@dataclass
class _Split:
    latents: list[Tensor]  # per motion (N_i, latent_dim), normalised
    captions: list[list[int]]  # per motion, indices into the caption table
    labels: list[str]  # per motion, its content label ("" where it has none)


@torch.no_grad()
def _encode_split(folder: MotionFolder, vae: MotionVAE, caption_index: dict[str, int]) -> _Split:
    unit = vae.config.unit
    latents, captions, labels = [], [], []
    for r in folder.records:
        n = len(r.features) // unit * unit
        if n == 0:
            continue
        x = torch.from_numpy((r.features[:n] - vae.mean) / vae.std)[None]  # (1, T, D)
        latents.append(vae.encode(x)[0][0])
        captions.append([caption_index[c] for c in r.captions])
        labels.append(action_label(r))
    return _Split(latents, captions, labels)


def _embed_sentences(captions: list[str], chunk: int = 256) -> Tensor:
    from app.engine.text import get_text_encoder

    encoder = get_text_encoder("cpu")
    return torch.cat([encoder.encode(captions[i : i + chunk]).sentence for i in range(0, len(captions), chunk)])


def _batch(split: _Split, size: int, max_latents: int, rng: np.random.Generator, draw: np.ndarray | None = None
           ) -> tuple[Tensor, Tensor, Tensor]:
    """-> latents (B, L, C) of one length L, the motions' whole lengths (B,) (capped), caption indices (B,).
    `draw`: each motion's draw probability (None: uniform)."""
    lengths = np.array([len(z) for z in split.latents])
    length = min(int(lengths[rng.choice(len(lengths), p=draw)]), max_latents)
    candidates = np.flatnonzero(lengths >= length)
    p = None if draw is None else draw[candidates] / draw[candidates].sum()
    idx = rng.choice(candidates, size, replace=len(candidates) < size, p=p)
    windows = []
    for i in idx:
        start = int(rng.integers(lengths[i] - length + 1))
        windows.append(split.latents[i][start : start + length])
    caption = torch.tensor([split.captions[i][rng.integers(len(split.captions[i]))] for i in idx])
    return torch.stack(windows), torch.from_numpy(np.minimum(lengths[idx], max_latents)), caption


def _losses(nets: nn.Module, scheduler: DDIMScheduler, z0: Tensor, n_latents: Tensor, sentence: Tensor,
            text_drop: float, generator: torch.Generator) -> dict[str, Tensor]:
    """nets: the JointModel of "denoiser" and "length" (or its DistributedDataParallel)."""
    b = z0.shape[0]
    t = torch.randint(scheduler.config.train_steps, (b,), generator=generator).to(z0.device)
    noise = torch.randn(z0.shape, generator=generator).to(z0.device)
    drop = (torch.rand(b, generator=generator) < text_drop).to(z0.device)
    out = nets({"denoiser": (scheduler.add_noise(z0, noise, t), t, sentence, drop), "length": (sentence,)})
    return {"loss": F.mse_loss(out["denoiser"], scheduler.target(z0, noise, t)),
            "length_loss": F.cross_entropy(out["length"], n_latents - 1)}


@torch.no_grad()
def _validate(nets: JointModel, scheduler: DDIMScheduler, split: _Split, sentences: Tensor,
              cfg: DiffusionTrainConfig) -> dict[str, float]:
    """Mean losses over 8 seeded val batches (seeded lengths, windows, timesteps and noise), text kept."""
    nets.eval()
    rng, gen = np.random.default_rng(cfg.seed), torch.Generator().manual_seed(cfg.seed)
    sums = {"loss": 0.0, "length_loss": 0.0}
    for _ in range(8):
        z0, n, caption = (t.to(sentences.device) for t in _batch(split, 32, cfg.max_latents, rng))
        out = _losses(nets, scheduler, z0, n, sentences[caption], 0.0, gen)
        for k in sums:
            sums[k] += out[k].item() / 8
    nets.train()
    return {f"val_{k}": v for k, v in sums.items()}


def train_diffusion(
    data_dir: str | Path,
    vae_path: str | Path = "checkpoints/vae.safetensors",
    out_path: str | Path = "checkpoints/diffusion.safetensors",
    config: DiffusionTrainConfig | None = None,
    log_path: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
) -> dict:
    """Train on `data_dir`'s train split in `vae_path`'s latent space, validate on val; returns metrics and timings."""
    cfg = config or DiffusionTrainConfig()
    if cfg.model is None and cfg.preset not in PRESETS:
        raise ValueError(f"unknown preset {cfg.preset!r}; choose from {', '.join(PRESETS)}")
    if cfg.ablation is not None and cfg.ablation not in ABLATIONS:
        raise ValueError(f"unknown ablation {cfg.ablation!r}; choose from {', '.join(ABLATIONS)}")
    run = TrainingRun(cfg.device, cfg.threads, cfg.seed)
    device = run.device
    data_dir, vae_path, out_path = Path(data_dir), Path(vae_path), Path(out_path)

    started = time.perf_counter()
    vae = MotionVAE.load(vae_path)
    train_folder, val_folder = MotionFolder(data_dir, "train"), MotionFolder(data_dir, "val")
    if vae.mean is None or vae.std is None:
        vae.mean, vae.std = train_folder.mean, train_folder.std
    captions = sorted({c for f in (train_folder, val_folder) for r in f.records for c in r.captions})
    caption_index = {c: i for i, c in enumerate(captions)}
    sentences = _embed_sentences(captions).to(device)
    train, val = _encode_split(train_folder, vae, caption_index), _encode_split(val_folder, vae, caption_index)
    every = torch.cat(train.latents)  # (sum N_i, C)
    latent_mean, latent_std = every.mean(0), every.std(0).clamp_min(1e-6)
    for split in (train, val):
        split.latents = [(z - latent_mean) / latent_std for z in split.latents]
    vae_sha = file_sha256(vae_path)
    setup_s = time.perf_counter() - started

    mc = dataclasses.replace(cfg.model or PRESETS[cfg.preset], latent_dim=vae.config.latent_dim)
    if cfg.ablation is not None:
        mc = dataclasses.replace(mc, **ABLATIONS[cfg.ablation])
    scheduler = DDIMScheduler(ScheduleConfig(prediction=cfg.prediction))
    denoiser = MotionMambaDenoiser(mc)
    length = LengthPredictor(LengthPredictorConfig(max_tokens=cfg.max_latents))
    if cfg.init:
        load_initial_weights(denoiser, cfg.init, mc, "denoiser", {"length": length})
    nets = JointModel({"denoiser": denoiser, "length": length}).to(device)
    opt = torch.optim.AdamW(nets.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    resume_config = {"model": asdict(mc), "vae_sha256": vae_sha, "prediction": cfg.prediction}
    fwd = run.start(nets, opt, out_path, resume_config, resume, find_unused_parameters=True)
    rng = np.random.default_rng([cfg.seed, run.rank, run.step])  # a resumed run draws fresh (but reproducible) batches
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    per_rank = max(1, cfg.batch_size // run.world)
    draw = draw_weights(train.labels, cfg.label_balance)
    last: dict[str, float] = {}

    def step() -> tuple[Tensor, dict[str, float]]:
        z0, n, caption = (t.to(device) for t in _batch(train, per_rank, cfg.max_latents, rng, draw))
        out = _losses(fwd, scheduler, z0, n, sentences[caption], cfg.text_drop, gen)
        last.update(loss=out["loss"].item(), length_loss=out["length_loss"].item(), latents=z0.shape[1])
        return out["loss"] + out["length_loss"], dict(last)

    loop = LoopConfig(cfg.steps, cfg.lr, cfg.warmup, cfg.val_every, f"diffusion ({cfg.preset})",
                      show=("loss", "latents"), progress=progress, ema=cfg.ema)
    metrics = run.loop(step, lambda: _validate(nets, scheduler, val, sentences, cfg), loop, log_path)

    info = train_folder.info
    summary = {"steps": run.step, "setup_s": round(setup_s, 1), "train_wall_s": round(run.elapsed, 1),
               "data": str(data_dir), "world_size": run.world, "loss": round(last["loss"], 5) if last else None,
               **metrics, "train_config": {k: v for k, v in asdict(cfg).items() if k != "model"}}
    extra = {f"length.{k}": v for k, v in length.state_dict().items()}
    extra.update({"latent_mean": latent_mean, "latent_std": latent_std, "mean": torch.from_numpy(np.asarray(vae.mean)),
                  "std": torch.from_numpy(np.asarray(vae.std))})
    run.finish(lambda: save_checkpoint(out_path, denoiser, asdict(mc), extra, {
        "format": FORMAT, "schedule": asdict(scheduler.config), "length_config": asdict(length.config),
        "vae_file": vae_path.name, "vae_sha256": vae_sha, "skeleton": info.skeleton.name if info.skeleton else None,
        "fps": info.fps, "train": summary}))
    return summary
