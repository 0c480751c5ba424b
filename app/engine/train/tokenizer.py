"""Training MMM's motion tokenizer (app.engine.models.tokenizer) on random windows of the train split.

The CLI (`kinema train tokenizer --data <dir> --preset cpu|paper [--steps N]`) calls

    train_tokenizer(data_dir, "checkpoints/tokenizer.safetensors", TokenizerTrainConfig(preset=...),
                    log_path="runs/tokenizer/log.jsonl")

Batches are `window`-frame crops of motions (T2M-GPT's), drawn with per-label weights (`label_balance`,
app.engine.train.sampling) so that an action with few takes is reconstructed too; 0 draws uniformly, as the
tokenizers shipped before 2026-12-03 were trained. Half of Bandai Namco's motions are shorter
than 64 frames, so rather than being skipped they are zero-padded (the normalised mean) and the padded frames
and tokens are masked out of every loss and of the codebook's EMA. Loss: smooth-L1 reconstruction +
weight_vel * smooth-L1 on the temporal difference (what makes jitter costly) + weight_commit * commitment +
weight_pose_sq * the joint positions' squared error (`pose_squared_error`: what makes a brief extreme pose, a
kick's foot above the hips, worth decoding) + weight_drift * root drift (`root_drift`: how far the root path
integrated from the reconstruction strays from the real one's; per-frame errors in the root's velocity channels are small, but a bias adds up over a take: without it
the shipped tokenizer of 2026-12-03 turned real walks by 14° over 196 frames and under-turned 90° turns by 12–18°).
`decoder_only` fine-tunes the decoder of `init` alone: the codes of every motion stay what they were, so a masked
model trained on them needs no retraining.
Every `val_every` steps the reconstruction MPJPE of whole val motions is measured (global joint positions from
positions_from_features on de-normalised features, as app.engine.evaluate does). Steps, resume state, logging and
torchrun are app.engine.train.loop's; the resume state is kept after the run, so that a rerun with more `steps`
extends a finished run. `batch_size` is the global batch: under torchrun each rank draws its own share.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from app.engine.data.dataset import MotionFolder
from app.engine.features import FeatureLayout, positions_from_features, root_from_features
from app.engine.models.checkpoint import encoder_sha256_for_fine_tune, save_checkpoint
from app.engine.models.tokenizer import PRESETS, MotionTokenizer, TokenizerConfig
from app.engine.physical import action_label
from app.engine.rotations import qinv, qrot
from app.engine.train.loop import LoopConfig, TrainingRun
from app.engine.train.sampling import draw_weights


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
    weight_drift: float = 1.0  # 0 for the tokenizers shipped before 2026-12-03's drift fix
    weight_pose_sq: float = 0.0  # `pose_squared_error`'s weight; 0 for the tokenizers shipped before 2026-12-04
    label_balance: float = 0.75  # app.engine.train.sampling; 0: motions drawn uniformly
    seed: int = 0
    val_every: int = 500
    part: str | None = None  # "upper" / "lower": a body-part tokenizer (MMM's upper-body editing)
    threads: int = 2  # per process
    device: str | None = None  # None: CUDA when there is one, else CPU
    model: TokenizerConfig | None = None  # None: PRESETS[preset]; either way with the dataset's width, skeleton and `part`
    codebook_size: int | None = None  # None: the preset's (or `init`'s); fewer codes make sequences easier to predict
    init: str | None = None  # start from this tokenizer's encoder and decoder (its codebook too, if the sizes match)
    decoder_only: bool = False  # train init's decoder alone; its encoder and codebook (so every motion's codes) stay


def _model_config(cfg: TokenizerTrainConfig, folder: MotionFolder, init: TokenizerConfig | None = None) -> TokenizerConfig:
    if cfg.model is None and init is None and cfg.preset not in PRESETS:
        raise ValueError(f"unknown preset {cfg.preset!r}; choose from {', '.join(PRESETS)}")
    if cfg.codebook_size is not None and cfg.codebook_size < 2:
        raise ValueError(f"a codebook needs at least 2 codes, got {cfg.codebook_size}")
    base = init or cfg.model or PRESETS[cfg.preset]
    skeleton = folder.info.skeleton.name if folder.info.skeleton else base.skeleton
    size = cfg.codebook_size or base.codebook_size
    if init is not None and (base.input_dim, base.part, base.skeleton) != (folder.info.feature_dim, cfg.part, skeleton):
        raise ValueError(f"--init is a tokenizer of {base.input_dim} dims (part {base.part}, skeleton {base.skeleton}); "
                         f"this run needs {folder.info.feature_dim} (part {cfg.part}, skeleton {skeleton})")
    return dataclasses.replace(base, input_dim=folder.info.feature_dim, part=cfg.part, skeleton=skeleton, codebook_size=size)


def _initial_weights(model: MotionTokenizer, state: dict[str, torch.Tensor]) -> None:
    """Load another tokenizer's weights; with a different codebook size the codebook is left to be seeded from the
    first batch's encoder outputs (the quantiser's own start), so the encoder and decoder carry over and the codes
    are drawn afresh where the data is."""
    own = model.state_dict()
    if state["quantizer.codebook"].shape != own["quantizer.codebook"].shape:
        def carried(key: str) -> bool:  # everything but the codebook and its statistics
            return not key.startswith("quantizer.") or key.startswith("quantizer.project")
        state = {k: v if carried(k) else own[k] for k, v in state.items()}
    model.load_state_dict(state)


def _batch(motions: list[np.ndarray], size: int, window: int, rng: np.random.Generator, draw: np.ndarray | None = None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """`size` random windows (B, window, D), zero-padded past short motions' ends, and their mask (B, window);
    motions drawn with probabilities `draw` (None: uniformly)."""
    x = np.zeros((size, window, motions[0].shape[1]), dtype=np.float32)
    mask = np.zeros((size, window), dtype=bool)
    picks = rng.integers(len(motions), size=size) if draw is None else rng.choice(len(motions), size, p=draw)
    for b, i in enumerate(picks):
        m = motions[i]
        start = int(rng.integers(len(m) - window + 1)) if len(m) > window else 0
        clip = m[start : start + window]
        x[b, : len(clip)], mask[b, : len(clip)] = clip, True
    return torch.from_numpy(x), torch.from_numpy(mask)


def training_motions(folder: MotionFolder, unit: int, balance: float) -> tuple[list[np.ndarray], np.ndarray | None]:
    """The split's normalised motions of at least one token (`unit` frames) and their draw probabilities
    (app.engine.train.sampling; None: uniform), for the autoencoders' window batches."""
    kept = [r for r in folder.records if len(r.features) >= unit]
    return [folder.normalize(r.features) for r in kept], draw_weights([action_label(r) for r in kept], balance)


def _masked_smooth_l1(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean smooth-L1 over the frames where mask (B, T) is True."""
    per_frame = F.smooth_l1_loss(pred, target, reduction="none").mean(-1)  # (B, T)
    return (per_frame * mask).sum() / mask.sum().clamp_min(1)


def position_channels(index: torch.Tensor, n_joints: int) -> torch.Tensor:
    """Where, among the reconstructed channels `index` (the feature dims a tokenizer decodes), the root-relative
    joint positions lie."""
    ric = FeatureLayout(n_joints).ric
    return torch.nonzero((index >= ric.start) & (index < ric.stop)).flatten()


def pose_squared_error(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, channels: torch.Tensor
                       ) -> torch.Tensor:
    """Mean squared error of the joint-position `channels` over the frames where mask (B, T) is True.

    Why: smooth-L1 grows linearly, so a brief pose far from the usual costs its decoder little more than a small
    miss. A kick's foot at head height is 19 standard deviations up its height channel; under smooth-L1 alone the
    autoencoders decoded every real kick with the foot 0.2-0.4 body heights under the hips. The square makes
    such a miss cost what it looks like."""
    sq = (pred[..., channels] - target[..., channels]).pow(2).mean(-1)  # (B, T)
    return (sq * mask).sum() / mask.sum().clamp_min(1)


def root_drift(recon: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, mean: torch.Tensor, std: torch.Tensor
               ) -> torch.Tensor:
    """Mean over the real frames (mask (B, T)) of the ground distance (m) between the root paths integrated from
    normalised features recon and target (B, T, >= 4), plus the chord between their facing directions (about the
    heading error in radians); mean and std: the first 4 channels' (root angular velocity, ground velocity, height)."""
    def path(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        quat, root = root_from_features(x[..., :4] * std + mean)  # (B, T, 4), (B, T, 3)
        facing = qrot(qinv(quat), torch.tensor([0.0, 0.0, 1.0], dtype=x.dtype).expand(quat.shape[:-1] + (3,)))
        return root[..., [0, 2]], facing[..., [0, 2]]
    (root_pred, facing_pred), (root_true, facing_true) = path(recon), path(target)
    per_frame = (root_pred - root_true).norm(dim=-1) + (facing_pred - facing_true).norm(dim=-1)  # (B, T)
    return (per_frame * mask).sum() / mask.sum().clamp_min(1)


def root_statistics(folder: MotionFolder, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The mean and std of the 4 root channels (angular velocity, ground velocity, height), for `root_drift`."""
    return tuple(torch.from_numpy(a[:4]).float().to(device) for a in (folder.mean, folder.std))


def tokenizer_losses(model: torch.nn.Module, x: torch.Tensor, mask: torch.Tensor, index: torch.Tensor,
                     cfg: TokenizerTrainConfig, root_stats: tuple[torch.Tensor, torch.Tensor] | None = None,
                     pose_channels: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts (plus the quantiser's statistics) for a batch x (B, T, D) with mask (B, T);
    root_stats: the mean and std of the 4 root channels, for the drift loss (None: a part without the root);
    pose_channels: `position_channels` of `index`, for the pose loss (needed when cfg.weight_pose_sq > 0)."""
    recon, _, commit, stats = model(x, mask)
    target = x[..., index]
    rec = _masked_smooth_l1(recon, target, mask)
    vel = _masked_smooth_l1(recon[:, 1:] - recon[:, :-1], target[:, 1:] - target[:, :-1], mask[:, 1:] & mask[:, :-1])
    loss = rec + cfg.weight_vel * vel + cfg.weight_commit * commit
    parts = {"recon": rec.item(), "vel": vel.item(), "commit": commit.item(),
             "perplexity": stats["perplexity"].item(), "dead_codes": int(stats["dead_codes"])}
    if cfg.weight_pose_sq:
        pose = pose_squared_error(recon, target, mask, pose_channels)
        loss = loss + cfg.weight_pose_sq * pose
        parts["pose_sq"] = pose.item()
    if root_stats is not None and cfg.weight_drift:
        drift = root_drift(recon, target, mask, *root_stats)
        loss = loss + cfg.weight_drift * drift
        parts["drift"] = drift.item()
    return loss, parts


@torch.inference_mode()
def mpjpe_mm(model: torch.nn.Module, folder: MotionFolder, unit: int, reconstruct: Callable[[torch.Tensor], torch.Tensor],
             limit: int | None = None) -> float:
    """Mean per-joint position error (mm) of `reconstruct` (normalised features (1, T, D) -> (T, D)) over (up to
    `limit`) whole motions of the folder, each cropped to a multiple of `unit` frames; joints from
    positions_from_features on de-normalised features, as app.engine.evaluate measures them."""
    was_training = model.training
    model.eval()
    errors = []
    for record in folder.records[:limit]:
        n = len(record.features) // unit * unit
        if n == 0:
            continue
        real = record.features[:n]
        recon = reconstruct(torch.from_numpy(folder.normalize(real))[None]).float().cpu().numpy()
        pred = positions_from_features(folder.denormalize(recon).astype(np.float64), folder.info.n_joints)
        true = positions_from_features(real.astype(np.float64), folder.info.n_joints)
        errors.append(np.linalg.norm(pred - true, axis=-1).mean())
    model.train(was_training)
    return 1000.0 * float(np.mean(errors))


def reconstruction_mpjpe(model: MotionTokenizer, folder: MotionFolder, device: str | torch.device = "cpu") -> float:
    """mpjpe_mm of encode -> decode over every motion. A part tokenizer replaces only its dims; the others keep
    their real values."""
    index = model.feature_index.cpu()

    def reconstruct(x: torch.Tensor) -> torch.Tensor:
        out = x[0].clone()
        out[:, index] = model.decode(model.encode(x.to(device)))[0].float().cpu()
        return out

    return mpjpe_mm(model, folder, model.config.unit, reconstruct)


def autoencoder_summary(run: TrainingRun, data_dir: Path, folder: MotionFolder, metrics: dict[str, float], cfg: object) -> dict:
    """The training summary the tokenizer and the VAE store in their checkpoints' metadata."""
    info = folder.info
    return {"steps": run.step, "train_wall_s": round(run.elapsed, 1), "data": str(data_dir), "dataset": info.kind,
            "fps": info.fps, "world_size": run.world, "val_mpjpe_mm": round(metrics.get("val_mpjpe_mm", float("nan")), 2),
            "skeleton": info.skeleton.name if info.skeleton else None,
            "train_config": {k: v for k, v in asdict(cfg).items() if k != "model"}}


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
    run = TrainingRun(cfg.device, cfg.threads, cfg.seed)
    data_dir, out_path = Path(data_dir), Path(out_path)

    train_folder, val_folder = MotionFolder(data_dir, "train"), MotionFolder(data_dir, "val")
    init = MotionTokenizer.load(cfg.init) if cfg.init else None  # a checked load: a damaged file is a clear error
    mc = _model_config(cfg, train_folder, init.config if init else None)
    if cfg.window % mc.unit:
        raise ValueError(f"window {cfg.window} is not a multiple of {mc.unit} frames per token")
    motions, draw = training_motions(train_folder, mc.unit, cfg.label_balance)

    model = MotionTokenizer(mc)
    if init is not None:
        _initial_weights(model, init.state_dict())
    if cfg.decoder_only:
        if init is None or init.config.codebook_size != mc.codebook_size:
            raise ValueError("decoder-only training fine-tunes the decoder of a trained tokenizer: give --init, "
                             "with its own codebook size")
        for frozen in (model.encoder, model.quantizer):
            frozen.requires_grad_(False)
    model = model.to(run.device)
    root_there = model.feature_index[:4].tolist() == [0, 1, 2, 3]  # the whole body or the lower part
    root_stats = root_statistics(train_folder, run.device) if root_there else None
    pose_channels = position_channels(model.feature_index, train_folder.info.n_joints)
    trained = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trained, lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
    net = run.start(model, opt, out_path, {"model": asdict(mc)}, resume)
    rng = np.random.default_rng([cfg.seed, run.step, run.rank])  # each rank (and a resumed run) draws its own batches
    per_rank = max(1, cfg.batch_size // run.world)

    def step() -> tuple[torch.Tensor, dict[str, float]]:
        if cfg.decoder_only:  # eval mode: the quantiser's EMA would move the codes (validation sets train mode back)
            model.encoder.eval()
            model.quantizer.eval()
        x, mask = (t.to(run.device) for t in _batch(motions, per_rank, cfg.window, rng, draw))
        loss, parts = tokenizer_losses(net, x, mask, model.feature_index, cfg, root_stats, pose_channels)
        return loss, {"loss": loss.item(), **parts}

    def validate() -> dict[str, float]:
        return {"val_mpjpe_mm": reconstruction_mpjpe(model, val_folder, run.device)}

    loop = LoopConfig(cfg.steps, cfg.lr, cfg.warmup, cfg.val_every, f"tokenizer ({cfg.preset})",
                      show=("loss", "perplexity", "dead_codes"), progress=progress)
    metrics = run.loop(step, validate, loop, log_path)
    if run.main and not metrics:  # a rerun of a finished run
        metrics = validate()
    summary = autoencoder_summary(run, data_dir, train_folder, metrics, cfg)
    if cfg.decoder_only:  # the codes are init's: masked models trained on init's codes accept this tokenizer
        summary["encoder_sha256"] = encoder_sha256_for_fine_tune(cfg.init)
    extra = {"mean": torch.from_numpy(train_folder.mean), "std": torch.from_numpy(train_folder.std)}
    run.finish(lambda: save_checkpoint(out_path, model, asdict(mc), extra, summary), keep_resume=True)
    return summary
