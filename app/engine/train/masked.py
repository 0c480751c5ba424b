"""Training MMM's masked transformer (and the length predictor beside it) on token sequences of a frozen tokenizer.

The CLI (`kinema train masked --data <dir> [--tokenizer checkpoints/tokenizer.safetensors]
[--out checkpoints/masked.safetensors] [--steps N]`) calls

    train_masked(data_dir, tokenizer_path, out_path, MaskedTrainConfig(steps=N),
                 log_path=Path(out_path).parent.parent / "runs/masked/log.jsonl")

Up front, every train/val motion is encoded once, whole, by the tokenizer (normalised with the tokenizer's own
Mean/Std), and every caption is embedded once by MiniLM. A training sequence is a random window of at most
max_tokens - 1 codes of one motion, then END, then PAD. Per sequence a ratio r = cos(pi/2 * u), u ~ U(0, 1) of
its codes is masked (at least one), and `replace_ratio` of the still visible codes are swapped for random codes.
The cross-entropy covers the masked and the replaced positions: both are inputs the model must not trust
(replacement teaches it that committed tokens may be wrong, as its own samples will be at inference).
The text is dropped for `text_drop` of the sequences (classifier-free guidance).

Motions are drawn with weights per content label (the dataset's labels.json): a label with n training motions is
drawn in proportion to n ** (1 - label_balance), so at 0.75 dataset 1's actions (~30 motions each, mirrored) are
drawn about a third as often as dataset 2's (300-800) instead of a twentieth; 0 draws motions uniformly, 1 labels
uniformly. Datasets without labels are drawn uniformly.

The full-body model reads the tokenizer's codebook (`code_dim`, see app.engine.models.masked_transformer) and
root keys: for `1 - key_drop` of the sequences, 1 to `max_keys` random tokens get where the root stands at their
first frame (app.engine.models.root_keys), so in-betweening can tell it where its keys stand. The length predictor learns the
whole motion's token count from the sentence embedding in the same loop (its own loss, its own weights).

Upper-body editor (`kinema train masked-upper`): given a lower-body tokenizer too, the codes are the upper-body
tokenizer's and the model also reads the lower-body codes at the same positions (MMM's part-wise editing). Those
are lightly corrupted (`cond_noise` of them swapped for random codes) so the editor does not lean on every lower
code; no length predictor is trained (an edit keeps the motion's length).

Every `val_every` steps: validation (loss and accuracy at fixed seeded masks) and the resume state
(`<name>.resume.safetensors`: weights, AdamW moments, step); a rerun continues from it. Under torchrun each rank
draws its own batches, gradients are averaged by DDP and rank 0 logs and saves. The output is one safetensors
file (app.engine.models.checkpoint) that app.engine.models.pipeline.load_text_to_motion reads.

Timing, cpu preset at batch 32: 0.61 s of CPU time per step on one core (0.9 s wall with 1 thread on 2 cores
busy with another training run); on 2 idle cores expect ~0.4-0.5 s/step, so the default 4000 steps is ~35 min.
The log's elapsed_s tells after a few dozen steps whether a run fits its budget (it can always be resumed).
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from app.engine.data.dataset import MotionFolder
from app.engine.models.checkpoint import atomic_save, read_safetensors, save_checkpoint
from app.engine.models.length_predictor import LengthPredictor, LengthPredictorConfig
from app.engine.models.masked_transformer import PRESETS, ROOT_KEY_DIM, MaskedTransformer, MaskedTransformerConfig
from app.engine.models.root_keys import root_keys
from app.engine.train.distributed import JointModel, distributed, init_distributed
from app.engine.train.schedule import warmup_cosine

FORMAT = "kinema-masked-1"


@dataclass
class MaskedTrainConfig:
    preset: str = "cpu"  # app.engine.models.masked_transformer.PRESETS
    steps: int = 4000  # ~35 min on 2 idle CPU cores with the cpu preset (see the module docstring's timing note)
    batch_size: int = 32
    lr: float = 4e-4
    weight_decay: float = 0.01
    warmup: int = 200
    text_drop: float = 0.1  # classifier-free guidance: share of sequences trained without text
    replace_ratio: float = 0.1  # share of the visible codes replaced by random codes
    val_every: int = 250
    seed: int = 0
    threads: int = 2
    cond_noise: float = 0.1  # upper-body editor: share of the lower-body codes replaced by random codes
    label_balance: float = 0.75  # a label's draw weight is n_motions ** (1 - label_balance); see the docstring
    key_drop: float = 0.5  # full-body model: share of sequences without root keys
    max_keys: int = 4  # full-body model: at most this many tokens with a root key per sequence
    device: str | None = None  # None: CUDA when available (one GPU per torchrun process), else the CPU
    model: MaskedTransformerConfig | None = None  # overrides the preset (tests: a tiny model)


@dataclass
class _Split:
    codes: list[Tensor]  # per motion (N_i,) long, the whole motion
    captions: list[list[int]]  # per motion, indices into the caption table
    cond: list[Tensor] | None = None  # per motion (N_i,) the lower-body codes (upper-body editor only)
    labels: list[str] | None = None  # per motion, its content label ("" where it has none)
    roots: list[Tensor] | None = None  # per motion (unit * N_i, 4) the root feature channels, for root keys
    unit: int = 4  # frames per token


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@torch.no_grad()
def _encode_split(folder: MotionFolder, tokenizer: nn.Module, mean: np.ndarray, std: np.ndarray,
                  caption_index: dict[str, int], cond_tokenizer: nn.Module | None = None) -> _Split:
    """Every motion of at least one token, encoded whole (cropped to a multiple of the tokenizer's unit), by the
    tokenizer and, for the upper-body editor, by the lower-body tokenizer too."""
    unit = tokenizer.config.unit
    codes, captions, cond, labels, roots = [], [], [], [], []
    for r in folder.records:
        n = len(r.features) // unit * unit
        if n == 0:
            continue
        x = torch.from_numpy((r.features[:n] - mean) / std)[None]  # (1, T, D)
        codes.append(tokenizer.encode(x)[0].long())
        if cond_tokenizer is not None:
            cond.append(cond_tokenizer.encode(x)[0].long())
        captions.append([caption_index[c] for c in r.captions])
        labels.append(str(r.label.get("content", "")))
        roots.append(torch.from_numpy(r.features[:n, :4].copy()))
    return _Split(codes, captions, cond if cond_tokenizer is not None else None, labels, roots, unit)


def label_weights(labels: list[str], balance: float) -> np.ndarray:
    """Draw probability per motion (sums to 1): a label with n motions gets n ** (1 - balance) of the total,
    shared equally among its motions."""
    names, index, counts = np.unique(np.asarray(labels, dtype=object).astype(str), return_inverse=True,
                                     return_counts=True)
    weights = counts.astype(np.float64) ** -balance
    per_motion = weights[index]
    return per_motion / per_motion.sum()


def _embed_captions(captions: list[str], chunk: int = 256) -> tuple[Tensor, Tensor, Tensor]:
    """MiniLM (sentence (C, 384), words (C, L, 384) fp16, word mask (C, L)) of every caption, once.

    The encoder's own LRU cache (bounded, tens of MB) is left filled: a resumed run in the same process re-uses it.
    """
    from app.engine.text import get_text_encoder

    encoder = get_text_encoder("cpu")
    parts = [encoder.encode(captions[i : i + chunk]) for i in range(0, len(captions), chunk)]
    return (torch.cat([p.sentence for p in parts]), torch.cat([p.tokens.half() for p in parts]),
            torch.cat([p.mask for p in parts]))


def _batch(split: _Split, idx: np.ndarray, cfg: MaskedTransformerConfig, rng: np.random.Generator,
           key_drop: float = 1.0, max_keys: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor | None, Tensor | None]:
    """-> targets (B, N) (codes, END, PAD), real (B, N) bool at code positions, caption indices (B,), the
    aligned conditioning codes (B, N) (cond_none_id past the codes) when the split has them, and root keys
    (B, N, ROOT_KEY_DIM) when the model reads them (none in `key_drop` of the rows, else 1..max_keys tokens)."""
    longest = cfg.max_tokens - 1
    starts = [int(rng.integers(0, len(split.codes[i]) - longest + 1)) if len(split.codes[i]) > longest else 0
              for i in idx]
    windows = [split.codes[i][s : s + longest] for i, s in zip(idx, starts)]
    n = torch.tensor([len(w) for w in windows])
    targets = torch.full((len(idx), int(n.max()) + 1), cfg.pad_id, dtype=torch.long)
    for b, w in enumerate(windows):
        targets[b, : len(w)] = w
        targets[b, len(w)] = cfg.end_id
    real = torch.arange(targets.shape[1])[None, :] < n[:, None]
    caption = torch.tensor([split.captions[i][rng.integers(len(split.captions[i]))] for i in idx])
    cond = None
    if split.cond is not None:
        cond = torch.full_like(targets, cfg.cond_none_id)
        for b, (i, s) in enumerate(zip(idx, starts)):
            cond[b, : len(windows[b])] = split.cond[i][s : s + longest]
    keys = None
    if cfg.root_keys:
        keys = torch.zeros(targets.shape + (ROOT_KEY_DIM,))
        for b, (i, s) in enumerate(zip(idx, starts)):
            n_b = len(windows[b])
            if rng.random() < key_drop:
                continue
            at = np.zeros(n_b, bool)
            at[rng.choice(n_b, min(n_b, int(rng.integers(1, max_keys + 1))), replace=False)] = True
            keys[b, :n_b] = root_keys(split.roots[i][s * split.unit : (s + n_b) * split.unit], split.unit, at)
    return targets, real, caption, cond, keys


def corrupt(targets: Tensor, real: Tensor, cfg: MaskedTransformerConfig, replace_ratio: float,
            generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """MMM's training corruption -> (inputs (B, N), loss positions (B, N) bool).

    Per row, ceil(cos(pi/2 * u) * n) >= 1 of its n codes become MASK (u ~ U(0, 1): the decoding schedule's
    ratios, all equally likely), then replace_ratio of the visible codes become random codes.
    """
    b, n = targets.shape
    ratio = torch.cos(math.pi / 2 * torch.rand(b, generator=generator))  # (B,)
    n_mask = (ratio * real.sum(1)).ceil().long().clamp(min=1)
    score = torch.rand(b, n, generator=generator).masked_fill(~real, 2.0)  # PAD/END never chosen
    masked = score.argsort(1).argsort(1) < n_mask[:, None]
    replaced = real & ~masked & (torch.rand(b, n, generator=generator) < replace_ratio)
    random_codes = torch.randint(cfg.codebook_size, (b, n), generator=generator)
    inputs = torch.where(masked, cfg.mask_id, torch.where(replaced, random_codes, targets))
    return inputs, masked | replaced


def _losses(nets: nn.Module, with_length: bool, targets: Tensor, real: Tensor, caption: Tensor,
            cond: Tensor | None, keys: Tensor | None, text: tuple[Tensor, Tensor, Tensor], cfg: MaskedTrainConfig,
            mc: MaskedTransformerConfig, generator: torch.Generator, drop_text: bool = True) -> dict[str, Tensor]:
    """nets: the JointModel of "transformer" (and "length" when `with_length`), or its DistributedDataParallel.
    The batch and its random draws are made on the CPU (one seeded generator, whatever the device), then moved to
    the device of `text`, where the networks are."""
    inputs, loss_at = corrupt(targets, real, mc, cfg.replace_ratio, generator)
    drop = torch.rand(len(targets), generator=generator) < cfg.text_drop if drop_text else torch.zeros(len(targets), dtype=torch.bool)
    if cond is not None:  # the editor must cope with lower-body codes that are not exactly the training ones
        noisy = real & (torch.rand(cond.shape, generator=generator) < cfg.cond_noise)
        cond = torch.where(noisy, torch.randint(mc.cond_codebook_size, cond.shape, generator=generator), cond)
    device = text[0].device
    inputs, loss_at, targets, real, caption, drop = (t.to(device) for t in (inputs, loss_at, targets, real, caption, drop))
    cond = cond.to(device) if cond is not None else None
    keys = keys.to(device) if keys is not None else None
    sentence, words, word_mask = (t[caption] for t in text)
    calls = {"transformer": (inputs, sentence, words.float(), word_mask, drop, cond, keys)} | (
        {"length": (sentence,)} if with_length else {})
    outputs = nets(calls)
    logits = outputs["transformer"]  # (B, N, K)
    picked, wanted = logits[loss_at], targets[loss_at]
    out = {"loss": F.cross_entropy(picked, wanted), "acc": (picked.argmax(-1) == wanted).float().mean()}
    if with_length:
        out["length_loss"] = F.cross_entropy(outputs["length"], real.sum(1) - 1)
    return out


@torch.no_grad()
def _validate(nets: JointModel, split: _Split, text: tuple, cfg: MaskedTrainConfig,
              mc: MaskedTransformerConfig) -> dict[str, float]:
    """Mean loss/accuracy over (up to 512) val motions with seeded windows, captions and masks, text kept."""
    nets.eval()
    rng, gen = np.random.default_rng(cfg.seed), torch.Generator().manual_seed(cfg.seed)
    order = np.arange(min(len(split.codes), 512))
    sums: dict[str, float] = {}
    for i in range(0, len(order), 64):
        idx = order[i : i + 64]
        out = _losses(nets, "length" in nets, *_batch(split, idx, mc, rng, cfg.key_drop, cfg.max_keys), text, cfg, mc,
                      gen, drop_text=False)
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + v.item() * len(idx)
    nets.train()
    return {f"val_{k}": v / len(order) for k, v in sums.items()}


def _save_resume(path: Path, nets: nn.ModuleDict, opt: torch.optim.Optimizer, step: int, elapsed: float, config: dict) -> None:
    """Weights + AdamW moments as tensors; step, elapsed time, config and the optimizer's step counts in metadata."""
    tensors = {f"model.{k}": v for k, v in nets.state_dict().items()}
    names = dict(enumerate(n for n, _ in nets.named_parameters()))
    adam_steps = {}
    for i, state in opt.state_dict()["state"].items():
        tensors[f"exp_avg.{names[i]}"], tensors[f"exp_avg_sq.{names[i]}"] = state["exp_avg"], state["exp_avg_sq"]
        adam_steps[names[i]] = float(state["step"])
    atomic_save(tensors, {"step": str(step), "elapsed": str(elapsed), "config": json.dumps(config),
                          "adam_steps": json.dumps(adam_steps)}, path)


def _load_resume(path: Path, nets: nn.ModuleDict, opt: torch.optim.Optimizer, config: dict) -> tuple[int, float]:
    tensors, meta = read_safetensors(path)
    if json.loads(meta["config"]) != config:
        raise ValueError(f"{path} was trained with another model config or tokenizer; delete it to start afresh")
    nets.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    adam_steps = json.loads(meta["adam_steps"])
    state = opt.state_dict()
    for i, name in enumerate(n for n, _ in nets.named_parameters()):
        if name in adam_steps:
            state["state"][i] = {"step": torch.tensor(adam_steps[name]), "exp_avg": tensors[f"exp_avg.{name}"],
                                 "exp_avg_sq": tensors[f"exp_avg_sq.{name}"]}
    opt.load_state_dict(state)
    return int(meta["step"]), float(meta["elapsed"])


def train_masked(
    data_dir: str | Path,
    tokenizer_path: str | Path = "checkpoints/tokenizer.safetensors",
    out_path: str | Path = "checkpoints/masked.safetensors",
    config: MaskedTrainConfig | None = None,
    log_path: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
    lower_tokenizer_path: str | Path | None = None,
) -> dict:
    """Train on `data_dir`'s train split with `tokenizer_path`'s codes, validate on val; returns metrics and timings.

    With `lower_tokenizer_path`, `tokenizer_path` is the upper-body tokenizer and the result is the upper-body editor.
    """
    from app.engine.models.tokenizer import MotionTokenizer

    cfg = config or MaskedTrainConfig()
    rank, world, device, started_group = init_distributed(cfg.device)
    torch.set_num_threads(max(1, cfg.threads // world))  # the ranks share the cores
    torch.manual_seed(cfg.seed)  # same initial weights on every rank
    data_dir, out_path, tokenizer_path = Path(data_dir), Path(out_path), Path(tokenizer_path)
    resume_path = out_path.with_name(out_path.name.removesuffix(".safetensors") + ".resume.safetensors")

    started = time.perf_counter()
    tokenizer = MotionTokenizer.load(tokenizer_path)
    lower = MotionTokenizer.load(lower_tokenizer_path) if lower_tokenizer_path else None
    if lower is not None and (tokenizer.config.part, lower.config.part) != ("upper", "lower"):
        raise ValueError(f"the upper-body editor needs an upper-body tokenizer and a lower-body one; got parts "
                         f"{tokenizer.config.part!r} ({tokenizer_path}) and {lower.config.part!r} ({lower_tokenizer_path})")
    train_folder, val_folder = MotionFolder(data_dir, "train"), MotionFolder(data_dir, "val")
    mean = tokenizer.mean if tokenizer.mean is not None else train_folder.mean
    std = tokenizer.std if tokenizer.std is not None else train_folder.std
    if lower is not None and lower.mean is not None and not np.allclose(lower.mean, mean):
        raise ValueError("the two part tokenizers were trained with different feature normalisations")
    full_body = lower is None
    mc = replace(cfg.model or PRESETS[cfg.preset], codebook_size=tokenizer.config.codebook_size,
                 cond_codebook_size=lower.config.codebook_size if lower is not None else 0,
                 code_dim=tokenizer.config.code_dim if full_body else 0, root_keys=full_body)
    captions = sorted({c for f in (train_folder, val_folder) for r in f.records for c in r.captions})
    caption_index = {c: i for i, c in enumerate(captions)}
    text = tuple(t.to(device) for t in _embed_captions(captions))
    train = _encode_split(train_folder, tokenizer, mean, std, caption_index, lower)
    val = _encode_split(val_folder, tokenizer, mean, std, caption_index, lower)
    tokenizer_sha = file_sha256(tokenizer_path)
    lower_sha = file_sha256(lower_tokenizer_path) if lower_tokenizer_path else None
    setup_s = time.perf_counter() - started

    transformer = MaskedTransformer(mc)
    if mc.code_dim:
        transformer.codebook.copy_(tokenizer.quantizer.codebook)
    length = None
    if lower is None:
        length = LengthPredictor(LengthPredictorConfig(text_dim=mc.text_dim, max_tokens=mc.max_tokens - 1))
    nets = JointModel({"transformer": transformer} | ({"length": length} if length is not None else {})).to(device)
    opt = torch.optim.AdamW(nets.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    resume_config = {"model": asdict(mc), "tokenizer_sha256": tokenizer_sha, "lower_tokenizer_sha256": lower_sha}
    step, elapsed = 0, 0.0
    if resume and resume_path.exists():
        step, elapsed = _load_resume(resume_path, nets, opt, resume_config)
    fwd = distributed(nets, world, device)
    main = rank == 0
    if log_path and main:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "a") if log_path and main else None
    rng = np.random.default_rng([cfg.seed, rank, step])  # a resumed run draws fresh (but reproducible) batches
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    batch_size = min(cfg.batch_size, len(train.codes))
    draw = label_weights(train.labels, cfg.label_balance)
    metrics: dict = {}
    out: dict[str, Tensor] = {}
    bar = tqdm(total=cfg.steps, initial=step, desc="masked" if lower is None else "masked-upper", unit="step",
               disable=not (progress and main))
    nets.train()
    t0 = time.perf_counter() - elapsed
    try:
        while step < cfg.steps:
            idx = rng.choice(len(train.codes), batch_size, replace=False, p=draw)
            out = _losses(fwd, length is not None, *_batch(train, idx, mc, rng, cfg.key_drop, cfg.max_keys), text,
                          cfg, mc, gen)
            for g in opt.param_groups:
                g["lr"] = warmup_cosine(step, cfg.lr, cfg.warmup, cfg.steps)
            opt.zero_grad(set_to_none=True)
            (out["loss"] + out.get("length_loss", 0.0)).backward()
            torch.nn.utils.clip_grad_norm_(nets.parameters(), 1.0)
            opt.step()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{out['loss'].item():.3f}", acc=f"{out['acc'].item():.3f}")
            record = {"step": step, **{k: round(v.item(), 5) for k, v in out.items()}, "lr": warmup_cosine(step - 1, cfg.lr, cfg.warmup, cfg.steps)}
            if main and (step % cfg.val_every == 0 or step == cfg.steps):
                metrics = _validate(nets, val, text, cfg, mc)
                record |= {k: round(v, 5) for k, v in metrics.items()}
                bar.write(f"step {step}: " + " ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
                _save_resume(resume_path, nets, opt, step, time.perf_counter() - t0, resume_config)
            record["elapsed_s"] = round(time.perf_counter() - t0, 2)
            if log:
                log.write(json.dumps(record) + "\n")
                log.flush()
    finally:
        bar.close()
        if log:
            log.close()

    wall_s = time.perf_counter() - t0
    summary = {"steps": step, "train_wall_s": round(wall_s, 1), "setup_s": round(setup_s, 1), "data": data_dir.name,
               "threads": cfg.threads, "world_size": world, "final_loss": round(out["loss"].item(), 5) if out else None,
               **metrics}
    if main:
        extra = {f"length.{k}": v for k, v in length.state_dict().items()} if length is not None else {}
        extra["mean"], extra["std"] = torch.from_numpy(np.asarray(mean)), torch.from_numpy(np.asarray(std))
        info = train_folder.info
        meta = {"format": FORMAT, "tokenizer_file": tokenizer_path.name, "tokenizer_sha256": tokenizer_sha,
                "skeleton": info.skeleton.name if info.skeleton else None, "fps": info.fps, "train": summary,
                "train_config": {k: v for k, v in asdict(cfg).items() if k != "model"}}
        if length is not None:
            meta["length_config"] = asdict(length.config)
        else:
            meta |= {"lower_tokenizer_file": Path(lower_tokenizer_path).name, "lower_tokenizer_sha256": lower_sha}
        save_checkpoint(out_path, transformer, asdict(mc), extra, meta)
        resume_path.unlink(missing_ok=True)
    if world > 1:
        dist.barrier()
    if started_group:
        dist.destroy_process_group()
    return summary
