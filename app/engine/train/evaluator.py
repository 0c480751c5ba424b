"""Training the text–motion evaluator (app.engine.models.evaluator) with a CLIP-style contrastive loss, on a CPU.

The CLI (`kinema train evaluator --data <dir> [--out checkpoints/evaluator.safetensors] [--steps N]`) calls

    train_evaluator(data_dir, out_path, EvaluatorTrainConfig(steps=N), log_path="runs/evaluator/log.jsonl")

with out_path defaulting to "checkpoints/evaluator.safetensors" and every other EvaluatorTrainConfig field at
its default (steps=500). Captions are embedded by MiniLM once, up front.
Many captions describe the same (content, style) label, so in-batch "negatives" that share the anchor's label
are masked out of the loss rather than pushed away. Every `eval_every` steps the model is validated
(loss, R-precision top-1/2/3 in batches of 32); steps, resume state and logging are app.engine.train.loop's (one
process: the evaluator is small enough not to need torchrun).
The output is one self-contained safetensors file (see app.engine.evaluation.Evaluator.load).

Cost: on Bandai Namco the defaults take ~0.3-0.5 s/step on 2 idle cores (2-3 s/step while the cores are shared);
the shipped checkpoint took 934 s of training + 106 s of setup on busy cores. Test R-precision top-3 is 0.65,
against a ceiling of ~0.665: captions describe (content, style) labels, so motions of the same label in a batch
are ties that no evaluator can break.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from app.engine.data.dataset import MotionFolder, MotionRecord
from app.engine.evaluation import FORMAT
from app.engine.metrics import r_precision
from app.engine.models.checkpoint import atomic_save
from app.engine.models.evaluator import EvaluatorConfig, TextMotionEvaluator
from app.engine.train.loop import LoopConfig, TrainingRun


@dataclass
class EvaluatorTrainConfig:
    steps: int = 500  # test R-precision is at its ceiling by ~200 steps (see docstring)
    batch_size: int = 96
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup: int = 150
    temperature: float = 0.07
    min_crop: int = 40  # frames; crops are multiples of model.unit in [min_crop, model.max_frames]
    whole_prob: float = 0.5  # chance of using a motion's first max_frames frames, as the Evaluator does
    eval_every: int = 100
    seed: int = 0
    threads: int = 2
    model: EvaluatorConfig | None = None  # None: EvaluatorConfig() with the dataset's feature width


@dataclass
class _Split:
    """One split in memory: normalised features and, per record, indices into the caption table."""

    features: list[torch.Tensor]  # (T_i, D) normalised
    captions: list[list[int]]
    labels: np.ndarray  # (N,) int group id: same (content, style), or same first caption without labels


def _label_key(record: MotionRecord) -> str:
    if "content" in record.label:
        return f"{record.label['content']}|{record.label.get('style', '')}"
    return record.captions[0]


def _load_split(folder: MotionFolder, caption_index: dict[str, int]) -> _Split:
    keys: dict[str, int] = {}
    return _Split(
        [torch.from_numpy(folder.normalize(r.features)) for r in folder.records],
        [[caption_index[c] for c in r.captions] for r in folder.records],
        np.array([keys.setdefault(_label_key(r), len(keys)) for r in folder.records]),
    )


def _embed_captions(captions: list[str], chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """MiniLM (tokens (N, L, 384) fp16, mask (N, L), sentence (N, 384)) for every caption, once."""
    from app.engine.text import get_text_encoder

    encoder = get_text_encoder("cpu")
    tokens, masks, sentences = [], [], []
    for i in range(0, len(captions), chunk):
        e = encoder.encode(captions[i : i + chunk])
        tokens.append(e.tokens.half())
        masks.append(e.mask)
        sentences.append(e.sentence)
    encoder.clear_cache()
    return torch.cat(tokens), torch.cat(masks), torch.cat(sentences)


def _pad(clips: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(c) for c in clips])
    batch = torch.zeros(len(clips), int(lengths.max()), clips[0].shape[1])  # (B, T_max, D)
    for i, c in enumerate(clips):
        batch[i, : len(c)] = c
    return batch, lengths


def _crop(x: torch.Tensor, cfg: EvaluatorTrainConfig, model: EvaluatorConfig, rng: np.random.Generator) -> torch.Tensor:
    """A random window of a random length (multiple of unit), or the motion's start as the Evaluator sees it."""
    unit, longest = model.unit, min(len(x), model.max_frames) // model.unit * model.unit
    if longest <= cfg.min_crop or rng.random() < cfg.whole_prob:
        return x[:longest]
    n = int(rng.integers(cfg.min_crop // unit, longest // unit + 1)) * unit
    start = int(rng.integers(0, len(x) - n + 1))
    return x[start : start + n]


def contrastive_loss(text: torch.Tensor, motion: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE; pairs that share a label (other than the diagonal) are neither positives nor negatives."""
    logits = text @ motion.T / temperature  # (B, B), texts x motions
    same = labels[:, None] == labels[None, :]
    same.fill_diagonal_(False)
    logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(len(text), device=text.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


@torch.no_grad()
def _validate(model: TextMotionEvaluator, split: _Split, text: tuple, cfg: EvaluatorTrainConfig) -> dict:
    """Loss and R-precision (batches of 32) on whole motions (first max_frames), one seeded caption each."""
    model.eval()
    mc = model.config
    rng = np.random.default_rng(cfg.seed)
    cap = torch.tensor([c[rng.integers(len(c))] for c in split.captions])
    clips = [x[: min(len(x), mc.max_frames) // mc.unit * mc.unit] for x in split.features]
    motion = torch.cat([model.encode_motion(*_pad(clips[i : i + 256])) for i in range(0, len(clips), 256)])
    tokens, mask, sentence = text
    t = model.encode_text(tokens[cap].float(), mask[cap], sentence[cap])
    labels = torch.from_numpy(split.labels)
    batch = min(32, len(clips))  # tiny validation splits (tests) use one smaller batch
    order = torch.from_numpy(np.random.default_rng(cfg.seed).permutation(len(clips)))
    losses = [
        contrastive_loss(t[idx], motion[idx], labels[idx], cfg.temperature).item()
        for idx in order[: len(order) // batch * batch].reshape(-1, batch)
    ]
    top = r_precision(t.numpy(), motion.numpy(), top_k=3, batch_size=batch, rng=np.random.default_rng(cfg.seed))
    model.train()
    return {"val_loss": float(np.mean(losses)), "top1": float(top[0]), "top2": float(top[1]), "top3": float(top[2])}


def train_evaluator(
    data_dir: str | Path,
    out_path: str | Path = "checkpoints/evaluator.safetensors",
    config: EvaluatorTrainConfig | None = None,
    progress: bool = True,
    log_path: str | Path | None = None,
    resume: bool = True,
) -> dict:
    """Train on `data_dir`'s train split, validate on its val split; returns the final metrics and timings."""
    cfg = config or EvaluatorTrainConfig()
    run = TrainingRun("cpu", cfg.threads, cfg.seed, distributed_ok=False)
    data_dir, out_path = Path(data_dir), Path(out_path)

    unit = cfg.model.unit if cfg.model else EvaluatorConfig.unit  # shorter motions cannot be embedded
    train_folder, val_folder = (MotionFolder(data_dir, split, min_frames=unit) for split in ("train", "val"))
    mc = cfg.model or EvaluatorConfig(feature_dim=int(train_folder.mean.shape[0]))
    # sorted by length so that MiniLM batches carry little padding
    captions = sorted({c for f in (train_folder, val_folder) for r in f.records for c in r.captions}, key=lambda c: (len(c), c))
    caption_index = {c: i for i, c in enumerate(captions)}
    started = time.perf_counter()
    text = _embed_captions(captions)
    train, val = _load_split(train_folder, caption_index), _load_split(val_folder, caption_index)
    setup_s = time.perf_counter() - started

    model = TextMotionEvaluator(mc)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    run.start(model, opt, out_path, {"model": asdict(mc)}, resume)
    rng = np.random.default_rng([cfg.seed, run.step])  # a resumed run draws fresh (but reproducible) batches
    batch_size = min(cfg.batch_size, len(train.features))
    tokens, mask, sentence = text

    def step() -> tuple[torch.Tensor, dict[str, float]]:
        idx = rng.choice(len(train.features), batch_size, replace=False)
        motion, lengths = _pad([_crop(train.features[i], cfg, mc, rng) for i in idx])
        cap = torch.tensor([train.captions[i][rng.integers(len(train.captions[i]))] for i in idx])
        width = int(mask[cap].sum(1).max())  # trim token padding shared by the whole batch
        loss = contrastive_loss(
            model.encode_text(tokens[cap, :width].float(), mask[cap, :width], sentence[cap]),
            model.encode_motion(motion, lengths),
            torch.from_numpy(train.labels[idx]),
            cfg.temperature,
        )
        return loss, {"loss": loss.item()}

    loop = LoopConfig(cfg.steps, cfg.lr, cfg.warmup, cfg.eval_every, "evaluator", progress=progress)
    metrics = run.loop(step, lambda: _validate(model, val, text, cfg), loop, log_path)

    summary = {"steps": run.step, "train_wall_s": round(run.elapsed, 1), "setup_s": round(setup_s, 1),
               "data": data_dir.name, "threads": cfg.threads, **metrics}
    tensors = dict(model.state_dict())
    tensors["mean"], tensors["std"] = torch.from_numpy(train_folder.mean), torch.from_numpy(train_folder.std)
    train_cfg = {k: v for k, v in asdict(cfg).items() if k != "model"}
    run.finish(lambda: atomic_save(tensors, {"format": FORMAT, "config": json.dumps(asdict(mc)),
                                             "train": json.dumps(summary), "train_config": json.dumps(train_cfg)}, out_path))
    return summary
