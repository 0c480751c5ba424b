"""Training MMM's motion tokenizer (app.engine.models.tokenizer) on random windows of the train split.

The CLI (`kinema train tokenizer --data <dir> --preset cpu|paper [--steps N]`) calls

    train_tokenizer(data_dir, "checkpoints/tokenizer.safetensors", TokenizerTrainConfig(preset=...),
                    log_path="runs/tokenizer/log.jsonl")

Batches are `window`-frame crops of motions drawn uniformly (T2M-GPT). Half of Bandai Namco's motions are shorter
than 64 frames, so rather than being skipped they are zero-padded (the normalised mean) and the padded frames
and tokens are masked out of every loss and of the codebook's EMA. Loss: smooth-L1 reconstruction +
weight_vel * smooth-L1 on the temporal difference (what makes jitter costly) + weight_commit * commitment.
Every `val_every` steps the reconstruction MPJPE of whole val motions is measured (global joint positions from
positions_from_features on de-normalised features, as app.engine.evaluate does) and the resume state is saved
beside the output: `<name>.resume.safetensors` (weights) and `<name>.resume-optim.safetensors` (AdamW moments),
both with the step in their metadata. A rerun continues from them; one with more `steps` extends the run
(the cosine schedule stretches to the new total). Launched by `torchrun --nproc-per-node N`, it trains with DDP:
`batch_size` is the global batch, each rank draws its own share, only rank 0 validates and writes.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from app.engine.data.dataset import MotionFolder
from app.engine.features import positions_from_features
from app.engine.models.checkpoint import CheckpointError, atomic_save, read_safetensors, save_checkpoint
from app.engine.models.tokenizer import PRESETS, MotionTokenizer, TokenizerConfig, config_from_dict
from app.engine.train.distributed import distributed, init_distributed
from app.engine.train.schedule import warmup_cosine


@dataclass
class TokenizerTrainConfig:
    preset: str = "cpu"  # a key of app.engine.models.tokenizer.PRESETS
    steps: int = 4000  # ~40 min at ~0.56 s/step (threads=1, cores shared with another run)
    batch_size: int = 64  # global, over all DDP ranks
    window: int = 64  # frames, a multiple of the model's 4 frames per token
    lr: float = 5e-4
    weight_decay: float = 0.0
    warmup: int = 300
    weight_vel: float = 0.5
    weight_commit: float = 0.02
    seed: int = 0
    val_every: int = 500
    part: str | None = None  # "upper" / "lower": a body-part tokenizer (MMM's upper-body editing)
    threads: int = 2  # per process
    device: str | None = None  # None: CUDA when there is one, else CPU
    model: TokenizerConfig | None = None  # None: PRESETS[preset]; either way with the dataset's width, skeleton and `part`


def _model_config(cfg: TokenizerTrainConfig, folder: MotionFolder) -> TokenizerConfig:
    if cfg.model is None and cfg.preset not in PRESETS:
        raise ValueError(f"unknown preset {cfg.preset!r}; choose from {', '.join(PRESETS)}")
    base = cfg.model or PRESETS[cfg.preset]
    skeleton = folder.info.skeleton.name if folder.info.skeleton else base.skeleton
    return dataclasses.replace(base, input_dim=folder.info.feature_dim, part=cfg.part, skeleton=skeleton)


def _batch(motions: list[np.ndarray], size: int, window: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """`size` random windows (B, window, D), zero-padded past short motions' ends, and their mask (B, window)."""
    x = np.zeros((size, window, motions[0].shape[1]), dtype=np.float32)
    mask = np.zeros((size, window), dtype=bool)
    for b, i in enumerate(rng.integers(len(motions), size=size)):
        m = motions[i]
        start = int(rng.integers(len(m) - window + 1)) if len(m) > window else 0
        clip = m[start : start + window]
        x[b, : len(clip)], mask[b, : len(clip)] = clip, True
    return torch.from_numpy(x), torch.from_numpy(mask)


def _masked_smooth_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean smooth-L1 over the frames where mask (B, T) is True."""
    per_frame = F.smooth_l1_loss(pred, target, reduction="none").mean(-1)  # (B, T)
    return (per_frame * mask).sum() / mask.sum().clamp_min(1)


def tokenizer_losses(model: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor, index: torch.Tensor,
                     cfg: TokenizerTrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts (plus the quantiser's statistics) for a batch x (B, T, D) with mask (B, T)."""
    recon, _, commit, stats = model(x, mask)
    target = x[..., index]
    rec = _masked_smooth_l1(recon, target, mask)
    vel = _masked_smooth_l1(recon[:, 1:] - recon[:, :-1], target[:, 1:] - target[:, :-1], mask[:, 1:] & mask[:, :-1])
    loss = rec + cfg.weight_vel * vel + cfg.weight_commit * commit
    parts = {"recon": rec.item(), "vel": vel.item(), "commit": commit.item(),
             "perplexity": stats["perplexity"].item(), "dead_codes": int(stats["dead_codes"])}
    return loss, parts


@torch.inference_mode()
def reconstruction_mpjpe(model: MotionTokenizer, folder: MotionFolder, device: str | torch.device = "cpu") -> float:
    """Mean per-joint position error (mm) of encode -> decode over the folder's whole motions (each cropped to a
    multiple of 4 frames), joints from positions_from_features on de-normalised features. A part tokenizer
    replaces only its dims; the others keep their real values."""
    was_training = model.training
    model.eval()
    index = model.feature_index.cpu().numpy()
    unit, n_joints = model.config.unit, folder.info.n_joints
    errors = []
    for record in folder.records:
        n = len(record.features) // unit * unit
        if n == 0:
            continue
        real = record.features[:n]
        x = torch.from_numpy(folder.normalize(real)).to(device)[None]
        recon = folder.normalize(real)
        recon[:, index] = model.decode(model.encode(x))[0].float().cpu().numpy()
        pred = positions_from_features(folder.denormalize(recon).astype(np.float64), n_joints)
        true = positions_from_features(real.astype(np.float64), n_joints)
        errors.append(np.linalg.norm(pred - true, axis=-1).mean())
    model.train(was_training)
    return 1000.0 * float(np.mean(errors))


def _resume_paths(out_path: Path) -> tuple[Path, Path]:
    stem = out_path.name.removesuffix(".safetensors")
    return out_path.with_name(f"{stem}.resume.safetensors"), out_path.with_name(f"{stem}.resume-optim.safetensors")


def _save_resume(out_path: Path, model: MotionTokenizer, opt: torch.optim.Optimizer, step: int, elapsed: float) -> None:
    """Weights (with quantiser buffers) in one file, AdamW moments keyed by parameter name in another."""
    weights_path, optim_path = _resume_paths(out_path)
    names = dict(enumerate(n for n, _ in model.named_parameters()))
    tensors, adam_steps = {}, {}
    for i, state in opt.state_dict()["state"].items():
        tensors[f"exp_avg.{names[i]}"], tensors[f"exp_avg_sq.{names[i]}"] = state["exp_avg"], state["exp_avg_sq"]
        adam_steps[names[i]] = float(state["step"])
    atomic_save(tensors, {"step": str(step), "adam_steps": json.dumps(adam_steps)}, optim_path)
    meta = {"step": str(step), "elapsed": str(elapsed), "config": json.dumps(asdict(model.config))}
    atomic_save(dict(model.state_dict()), meta, weights_path)


def _load_resume(out_path: Path, model: MotionTokenizer, opt: torch.optim.Optimizer) -> tuple[int, float]:
    weights_path, optim_path = _resume_paths(out_path)
    weights, meta = read_safetensors(weights_path)
    moments, optim_meta = read_safetensors(optim_path)
    if meta.get("step") != optim_meta.get("step"):
        raise CheckpointError(f"{weights_path} (step {meta.get('step')}) and {optim_path} (step {optim_meta.get('step')}) "
                              "disagree; delete both or pass resume=False")
    if config_from_dict(json.loads(meta["config"])) != model.config:
        raise CheckpointError(f"{weights_path} was trained with another model config; delete it or pass resume=False")
    model.load_state_dict(weights)
    adam_steps = json.loads(optim_meta["adam_steps"])
    state = opt.state_dict()
    for i, name in enumerate(n for n, _ in model.named_parameters()):
        if name in adam_steps:
            state["state"][i] = {"step": torch.tensor(adam_steps[name]), "exp_avg": moments[f"exp_avg.{name}"],
                                 "exp_avg_sq": moments[f"exp_avg_sq.{name}"]}
    opt.load_state_dict(state)
    return int(meta["step"]), float(meta["elapsed"])


def train_tokenizer(
    data_dir: str | Path,
    out_path: str | Path = "checkpoints/tokenizer.safetensors",
    config: TokenizerTrainConfig | None = None,
    log_path: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
) -> dict:
    """Train on `data_dir`'s train split, validate on its val split; returns the final metrics and timings."""
    cfg = config or TokenizerTrainConfig()
    rank, world, device, started_group = init_distributed(cfg.device)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)  # the same initial weights and codebook on every rank
    data_dir, out_path = Path(data_dir), Path(out_path)

    train_folder, val_folder = MotionFolder(data_dir, "train"), MotionFolder(data_dir, "val")
    mc = _model_config(cfg, train_folder)
    if cfg.window % mc.unit:
        raise ValueError(f"window {cfg.window} is not a multiple of {mc.unit} frames per token")
    motions = [train_folder.normalize(r.features) for r in train_folder.records if len(r.features) >= mc.unit]

    model = MotionTokenizer(mc).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
    step, elapsed = 0, 0.0
    if resume and _resume_paths(out_path)[0].exists():
        step, elapsed = _load_resume(out_path, model, opt)
    net = distributed(model, world, device)
    log = None
    if rank == 0 and log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "a")
    rng = np.random.default_rng([cfg.seed, step, rank])  # each rank (and a resumed run) draws its own batches
    per_rank = max(1, cfg.batch_size // world)
    index = model.feature_index
    val_mpjpe = float("nan")
    bar = tqdm(total=cfg.steps, initial=step, desc=f"tokenizer ({cfg.preset})", unit="step", disable=not progress or rank > 0)
    model.train()
    t0 = time.perf_counter() - elapsed
    try:
        while step < cfg.steps:
            x, mask = (t.to(device) for t in _batch(motions, per_rank, cfg.window, rng))
            for g in opt.param_groups:
                g["lr"] = warmup_cosine(step, cfg.lr, cfg.warmup, cfg.steps)
            loss, parts = tokenizer_losses(net, x, mask, index, cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}", ppl=f"{parts['perplexity']:.0f}", dead=parts["dead_codes"])
            record = {"step": step, "loss": round(loss.item(), 5), **{k: round(v, 5) for k, v in parts.items()},
                      "lr": warmup_cosine(step - 1, cfg.lr, cfg.warmup, cfg.steps)}
            if rank == 0 and (step % cfg.val_every == 0 or step == cfg.steps):
                val_mpjpe = reconstruction_mpjpe(model, val_folder, device)
                record["val_mpjpe_mm"] = round(val_mpjpe, 2)
                bar.write(f"step {step}: val MPJPE {val_mpjpe:.1f} mm, perplexity {parts['perplexity']:.0f}, "
                          f"dead codes {parts['dead_codes']}")
                _save_resume(out_path, model, opt, step, time.perf_counter() - t0)
            record["elapsed_s"] = round(time.perf_counter() - t0, 2)
            if log:
                log.write(json.dumps(record) + "\n")
                log.flush()
    finally:
        bar.close()
        if log:
            log.close()

    wall_s = time.perf_counter() - t0
    if rank == 0 and math.isnan(val_mpjpe):  # a rerun of a finished run
        val_mpjpe = reconstruction_mpjpe(model, val_folder, device)
    summary = {"steps": step, "train_wall_s": round(wall_s, 1), "data": str(data_dir), "dataset": train_folder.info.kind,
               "fps": train_folder.info.fps, "world_size": world, "val_mpjpe_mm": round(val_mpjpe, 2),
               "train_config": {k: v for k, v in asdict(cfg).items() if k != "model"}}
    if rank == 0:
        extra = {"mean": torch.from_numpy(train_folder.mean), "std": torch.from_numpy(train_folder.std)}
        save_checkpoint(out_path, model, asdict(mc), extra, summary)
    if world > 1:
        dist.barrier()
    if started_group:
        dist.destroy_process_group()
    return summary
