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
The text is dropped for `text_drop` of the sequences (classifier-free guidance). With `code_balance` > 0 the
cross-entropy weighs rare codes more (`code_weights`), so the few codes of a brief pose are learnt too.

Motions are drawn with weights per content label (the dataset's labels.json; app.engine.train.sampling): at
`label_balance` 0.75 dataset 1's actions (~30 motions each, mirrored) are drawn about a third as often as dataset
2's (300-800) instead of a twentieth.

The full-body model reads the tokenizer's codebook (`code_dim`, see app.engine.models.masked_transformer) and
root keys: for `1 - key_drop` of the sequences, 1 to `max_keys` random tokens get where the root stands at their
first frame (app.engine.models.root_keys), so in-betweening can tell it where its keys stand. The length predictor learns the
whole motion's token count from the sentence embedding in the same loop (its own loss, its own weights).

Upper-body editor (`kinema train masked-upper`): given a lower-body tokenizer too, the codes are the upper-body
tokenizer's and the model also reads the lower-body codes at the same positions (MMM's part-wise editing). Those
are lightly corrupted (`cond_noise` of them swapped for random codes) so the editor does not lean on every lower
code; no length predictor is trained (an edit keeps the motion's length).

Key-frame masking (`masking="keyframe"`, KMM): the masked positions are chosen by
app.engine.models.keyframe_masking: `key_share` of them are the key tokens (density peaks of the local motion
density of the tokenizer's own feature dims), the rest random; the ratio per sequence stays the cosine draw above.
`backbone="mamba"`: app.engine.models.masked_mamba's bidirectional Mamba layers in place of the transformer's
(its config names the backbone, so the loaders build the right model). `contrastive` > 0 adds that weight times
app.engine.train.alignment's text-motion InfoNCE (mirrored captions as hard negatives) to the loss: it trains the
model's own text projections, with alignment heads that are not saved.

Every `val_every` steps: validation (loss and accuracy at fixed seeded masks) and the resume state
(`<name>.resume.safetensors`, kept after the run so that a rerun with more `steps` extends it). Steps, logging,
resume and torchrun are app.engine.train.loop's: under torchrun each rank draws its own batches (`batch_size`
each), gradients are averaged by DDP and rank 0 logs and saves. The output is one safetensors file
(app.engine.models.checkpoint) that app.engine.models.pipeline.load_text_to_motion reads.

Timing, cpu preset at batch 32: 0.61 s of CPU time per step on one core (0.9 s wall with 1 thread on 2 cores
busy with another training run); on 2 idle cores expect ~0.4-0.5 s/step, so the default 4000 steps is ~35 min.
The log's elapsed_s tells after a few dozen steps whether a run fits its budget (it can always be resumed).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from app.engine.data.dataset import MotionFolder
from app.engine.models.checkpoint import file_sha256, save_checkpoint
from app.engine.models.keyframe_masking import keyframe_mask, keyframe_scores, token_density
from app.engine.models.length_predictor import LengthPredictor, LengthPredictorConfig
from app.engine.models.masked_mamba import MaskedMamba, MaskedMambaConfig, mamba_config
from app.engine.models.masked_transformer import PRESETS, ROOT_KEY_DIM, MaskedTransformer, MaskedTransformerConfig
from app.engine.models.root_keys import root_keys
from app.engine.physical import action_label
from app.engine.train.alignment import AlignmentHeads, mirror_index
from app.engine.train.distributed import JointModel
from app.engine.train.init import load_initial_weights
from app.engine.train.loop import LoopConfig, TrainingRun
from app.engine.train.sampling import label_weights

FORMAT = "kinema-masked-1"
MASKINGS = ("random", "keyframe")
BACKBONES = ("transformer", "mamba")


@dataclass
class MaskedTrainConfig:
    preset: str = "cpu"  # app.engine.models.masked_transformer.PRESETS
    steps: int = 4000  # ~35 min on 2 idle CPU cores with the cpu preset (see the module docstring's timing note)
    batch_size: int = 32  # per process
    lr: float = 4e-4
    weight_decay: float = 0.01
    warmup: int = 200
    text_drop: float = 0.1  # classifier-free guidance: share of sequences trained without text
    replace_ratio: float = 0.1  # share of the visible codes replaced by random codes
    val_every: int = 250
    seed: int = 0
    threads: int = 2  # shared by the processes of a torchrun
    cond_noise: float = 0.1  # upper-body editor: share of the lower-body codes replaced by random codes
    label_balance: float = 0.75  # a label's draw weight is n_motions ** (1 - label_balance); see the docstring
    key_drop: float = 0.5  # full-body model: share of sequences without root keys
    max_keys: int = 4  # full-body model: at most this many tokens with a root key per sequence
    device: str | None = None  # None: CUDA when available (one GPU per torchrun process), else the CPU
    model: MaskedTransformerConfig | None = None  # overrides the preset (tests: a tiny model)
    masking: str = "random"  # "keyframe": KMM's key-frame masking (see the docstring)
    key_share: float = 0.5  # keyframe masking: share of the masked tokens that are key tokens
    backbone: str = "transformer"  # "mamba": bidirectional Mamba layers (app.engine.models.masked_mamba)
    contrastive: float = 0.0  # weight of the text-motion contrastive loss (0: none)
    rotary: bool = False  # transformer backbone: rotary position embedding in self-attention
    init: str | None = None  # start from this masked checkpoint's weights (same model config; app.engine.train.init)
    code_balance: float = 0.0  # `code_weights`' exponent: rare codes weigh more in the cross-entropy (0: all alike)


@dataclass
class _Split:
    codes: list[Tensor]  # per motion (N_i,) long, the whole motion
    captions: list[list[int]]  # per motion, indices into the caption table
    cond: list[Tensor] | None = None  # per motion (N_i,) the lower-body codes (upper-body editor only)
    labels: list[str] | None = None  # per motion, its content label ("" where it has none)
    roots: list[Tensor] | None = None  # per motion (unit * N_i, 4) the root feature channels, for root keys
    unit: int = 4  # frames per token
    density: list[Tensor] | None = None  # per motion (N_i,) local motion density per token, for key-frame masking
    groups: Tensor | None = None  # (motions,) long: same (content, style) label, same group; unlabelled: alone


class _Batch(NamedTuple):
    targets: Tensor  # (B, N) codes, END, PAD
    real: Tensor  # (B, N) bool at code positions
    caption: Tensor  # (B,) caption indices
    cond: Tensor | None  # (B, N) the aligned conditioning codes (cond_none_id past the codes), editor only
    keys: Tensor | None  # (B, N, ROOT_KEY_DIM) root keys, models that read them
    density: Tensor  # (B, N) token density (0 past the codes)
    group: Tensor  # (B,) label groups (alignment: same group, not a negative)


@torch.no_grad()
def _encode_split(folder: MotionFolder, tokenizer: nn.Module, mean: np.ndarray, std: np.ndarray,
                  caption_index: dict[str, int], cond_tokenizer: nn.Module | None = None) -> _Split:
    """Every motion of at least one token, encoded whole (cropped to a multiple of the tokenizer's unit), by the
    tokenizer and, for the upper-body editor, by the lower-body tokenizer too."""
    unit = tokenizer.config.unit
    dims = tokenizer.feature_index.cpu().numpy()
    codes, captions, cond, labels, roots, density, groups = [], [], [], [], [], [], []
    for r in folder.records:
        n = len(r.features) // unit * unit
        if n == 0:
            continue
        norm = (r.features[:n] - mean) / std  # (T, D)
        x = torch.from_numpy(norm)[None]  # (1, T, D)
        codes.append(tokenizer.encode(x)[0].long())
        if cond_tokenizer is not None:
            cond.append(cond_tokenizer.encode(x)[0].long())
        captions.append([caption_index[c] for c in r.captions])
        labels.append(action_label(r))
        roots.append(torch.from_numpy(r.features[:n, :4].copy()))
        density.append(torch.from_numpy(token_density(norm[:, dims], unit)))
        groups.append(f"{labels[-1]}|{r.label.get('style', '')}" if labels[-1] else f"#{len(groups)}")
    group_ids = torch.from_numpy(np.unique(np.asarray(groups, dtype=str), return_inverse=True)[1].astype(np.int64))
    return _Split(codes, captions, cond if cond_tokenizer is not None else None, labels, roots, unit, density, group_ids)


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
           key_drop: float = 1.0, max_keys: int = 0) -> _Batch:
    """Windows of the motions `idx`, one random caption each, and root keys when the model reads them (none in
    `key_drop` of the rows, else 1..max_keys tokens)."""
    longest = cfg.max_tokens - 1
    starts = [int(rng.integers(0, len(split.codes[i]) - longest + 1)) if len(split.codes[i]) > longest else 0
              for i in idx]
    windows = [split.codes[i][s : s + longest] for i, s in zip(idx, starts)]
    n = torch.tensor([len(w) for w in windows])
    targets = torch.full((len(idx), int(n.max()) + 1), cfg.pad_id, dtype=torch.long)
    density = torch.zeros(targets.shape)
    for b, (w, i, s) in enumerate(zip(windows, idx, starts)):
        targets[b, : len(w)] = w
        targets[b, len(w)] = cfg.end_id
        density[b, : len(w)] = split.density[i][s : s + longest]
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
    return _Batch(targets, real, caption, cond, keys, density, split.groups[torch.as_tensor(idx)])


def corrupt(targets: Tensor, real: Tensor, cfg: MaskedTransformerConfig, replace_ratio: float,
            generator: torch.Generator, density: Tensor | None = None, key_share: float = 0.5) -> tuple[Tensor, Tensor]:
    """MMM's training corruption -> (inputs (B, N), loss positions (B, N) bool).

    Per row, ceil(cos(pi/2 * u) * n) >= 1 of its n codes become MASK (u ~ U(0, 1): the decoding schedule's
    ratios, all equally likely), then replace_ratio of the visible codes become random codes. The masked codes
    are drawn at random or, given the tokens' `density` (B, N), `key_share` of them are the key tokens (KMM).
    """
    b, n = targets.shape
    ratio = torch.cos(math.pi / 2 * torch.rand(b, generator=generator))  # (B,)
    n_mask = (ratio * real.sum(1)).ceil().long().clamp(min=1)
    if density is None:
        score = torch.rand(b, n, generator=generator).masked_fill(~real, 2.0)  # PAD/END never chosen
        masked = score.argsort(1).argsort(1) < n_mask[:, None]
    else:
        masked = keyframe_mask(keyframe_scores(density, real), real, n_mask, key_share, generator)
    replaced = real & ~masked & (torch.rand(b, n, generator=generator) < replace_ratio)
    random_codes = torch.randint(cfg.codebook_size, (b, n), generator=generator)
    inputs = torch.where(masked, cfg.mask_id, torch.where(replaced, random_codes, targets))
    return inputs, masked | replaced


@dataclass
class _Text:
    """MiniLM of the caption table (on the networks' device); with `mirror`, the table ends with the mirror images
    of the sided captions that had none."""

    sentence: Tensor  # (C, 384)
    words: Tensor  # (C, L, 384) fp16
    word_mask: Tensor  # (C, L)
    mirror: Tensor | None = None  # (captions,) long: the row of each caption's mirror image, -1 where it has no side

    def rows(self, caption: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        return self.sentence[caption], self.words[caption].float(), self.word_mask[caption]


def code_weights(codes: list[Tensor], n_classes: int, balance: float) -> Tensor | None:
    """Cross-entropy weights (n_classes,) of the codes in `codes` (per motion (N_i,)): (count / mean count) **
    -balance, normalised to a mean of 1 over the tokens, codes never seen weigh 1; None for balance 0.

    Why: a kick's peak is two or three codes that only a handful of motions use. The masked model trained with every
    code alike refilled them with standing codes even with the rest of a training kick given (model card, "Brief
    extreme poses")."""
    if not balance:
        return None
    counts = torch.bincount(torch.cat(codes), minlength=n_classes)[:n_classes].double()
    seen = counts > 0
    weights = torch.ones(n_classes, dtype=torch.float64)
    weights[seen] = (counts[seen] / counts[seen].mean()) ** -balance
    weights[seen] /= (weights[seen] * counts[seen]).sum() / counts[seen].sum()  # the mean token weighs 1
    return weights.float()


def _losses(nets: nn.Module, batch: _Batch, text: _Text, cfg: MaskedTrainConfig, mc: MaskedTransformerConfig,
            generator: torch.Generator, drop_text: bool = True, weights: Tensor | None = None) -> dict[str, Tensor]:
    """nets: the JointModel of "transformer" (and "length", "align" when trained), or its DistributedDataParallel.
    The batch and its random draws are made on the CPU (one seeded generator, whatever the device), then moved to
    the device of `text`, where the networks are. weights (K,): the cross-entropy's per code (`code_weights`), on that
    device."""
    joint = nets.module if isinstance(nets, nn.parallel.DistributedDataParallel) else nets
    density = batch.density if cfg.masking == "keyframe" else None
    inputs, loss_at = corrupt(batch.targets, batch.real, mc, cfg.replace_ratio, generator, density, cfg.key_share)
    b = len(inputs)
    drop = torch.rand(b, generator=generator) < cfg.text_drop if drop_text else torch.zeros(b, dtype=torch.bool)
    cond = batch.cond
    if cond is not None:  # the editor must cope with lower-body codes that are not exactly the training ones
        noisy = batch.real & (torch.rand(cond.shape, generator=generator) < cfg.cond_noise)
        cond = torch.where(noisy, torch.randint(mc.cond_codebook_size, cond.shape, generator=generator), cond)
    device = text.sentence.device
    inputs, loss_at, targets, real, caption, drop = (
        t.to(device) for t in (inputs, loss_at, batch.targets, batch.real, batch.caption, drop))
    cond = cond.to(device) if cond is not None else None
    keys = batch.keys.to(device) if batch.keys is not None else None
    said = text.rows(caption)  # (sentence, words, word mask) of each row's caption
    calls = {"transformer": (inputs, *said, drop, cond, keys)}
    if "length" in joint:
        calls["length"] = (said[0],)
    if "align" in joint:  # the clean codes against the caption, and against its mirror image where it has a side
        mirror = text.mirror[caption]
        calls["align"] = (joint["transformer"], said, text.rows(mirror.clamp(min=0)), mirror >= 0, targets, real,
                          batch.group.to(device))
    outputs = nets(calls)
    logits = outputs["transformer"]  # (B, N, K)
    picked, wanted = logits[loss_at], targets[loss_at]
    loss = F.cross_entropy(picked, wanted, weight=weights)
    out = {"loss": loss, "acc": (picked.argmax(-1) == wanted).float().mean()}
    if "length" in outputs:
        out["length_loss"] = F.cross_entropy(outputs["length"], real.sum(1) - 1)
    if "align" in outputs:
        out["align_loss"] = outputs["align"]
    return out


@torch.no_grad()
def _validate(nets: JointModel, split: _Split, text: _Text, cfg: MaskedTrainConfig,
              mc: MaskedTransformerConfig) -> dict[str, float]:
    """Mean losses/accuracy over (up to 512) val motions with seeded windows, captions and masks, text kept."""
    nets.eval()
    rng, gen = np.random.default_rng(cfg.seed), torch.Generator().manual_seed(cfg.seed)
    order = np.arange(min(len(split.codes), 512))
    sums: dict[str, float] = {}
    for i in range(0, len(order), 64):
        idx = order[i : i + 64]
        out = _losses(nets, _batch(split, idx, mc, rng, cfg.key_drop, cfg.max_keys), text, cfg, mc, gen, drop_text=False)
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + v.item() * len(idx)
    nets.train()
    return {f"val_{k}": v / len(order) for k, v in sums.items()}


def _model_config(cfg: MaskedTrainConfig, tokenizer: nn.Module, lower: nn.Module | None) -> MaskedTransformerConfig:
    """The preset (or `cfg.model`) with the backbone asked for, sized to the tokenizers' codebooks; a ValueError
    in the user's words for settings that cannot train."""
    for name, value, choices in (("masking", cfg.masking, MASKINGS), ("backbone", cfg.backbone, BACKBONES)):
        if value not in choices:
            raise ValueError(f"unknown {name} {value!r}; choose from {', '.join(choices)}")
    if cfg.contrastive < 0 or not 0 <= cfg.key_share <= 1:
        raise ValueError(f"the contrastive weight must be 0 or more (got {cfg.contrastive:g}) and the key share "
                         f"between 0 and 1 (got {cfg.key_share:g})")
    if cfg.model is None and cfg.preset not in PRESETS:
        raise ValueError(f"unknown preset {cfg.preset!r}; choose from {', '.join(PRESETS)}")
    base = cfg.model or PRESETS[cfg.preset]
    if cfg.backbone == "mamba" and not isinstance(base, MaskedMambaConfig):
        base = mamba_config(base)
    elif cfg.backbone == "transformer" and isinstance(base, MaskedMambaConfig):
        raise ValueError("the model config given is a Mamba one; train it with backbone 'mamba'")
    if cfg.rotary and cfg.backbone == "mamba":
        raise ValueError("rotary positions are for the transformer backbone; the Mamba scans are ordered already")
    full_body = lower is None
    return replace(base, codebook_size=tokenizer.config.codebook_size,
                   cond_codebook_size=lower.config.codebook_size if lower is not None else 0,
                   code_dim=tokenizer.config.code_dim if full_body else 0, root_keys=full_body,
                   rotary=cfg.rotary or base.rotary)


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
    run = TrainingRun(cfg.device, cfg.threads, cfg.seed)
    torch.set_num_threads(max(1, cfg.threads // run.world))  # the ranks share the cores
    data_dir, out_path, tokenizer_path = Path(data_dir), Path(out_path), Path(tokenizer_path)

    started = time.perf_counter()
    tokenizer = MotionTokenizer.load(tokenizer_path)
    lower = MotionTokenizer.load(lower_tokenizer_path) if lower_tokenizer_path else None
    if lower is not None and (tokenizer.config.part, lower.config.part) != ("upper", "lower"):
        raise ValueError(f"the upper-body editor needs an upper-body tokenizer and a lower-body one; got parts "
                         f"{tokenizer.config.part!r} ({tokenizer_path}) and {lower.config.part!r} ({lower_tokenizer_path})")
    mc = _model_config(cfg, tokenizer, lower)
    train_folder, val_folder = MotionFolder(data_dir, "train"), MotionFolder(data_dir, "val")
    mean = tokenizer.mean if tokenizer.mean is not None else train_folder.mean
    std = tokenizer.std if tokenizer.std is not None else train_folder.std
    if lower is not None and lower.mean is not None and not np.allclose(lower.mean, mean):
        raise ValueError("the two part tokenizers were trained with different feature normalisations")
    captions = sorted({c for f in (train_folder, val_folder) for r in f.records for c in r.captions})
    caption_index = {c: i for i, c in enumerate(captions)}
    table, mirror = mirror_index(captions) if cfg.contrastive else (captions, None)
    sentence, words, word_mask = (t.to(run.device) for t in _embed_captions(table))
    text = _Text(sentence, words, word_mask, mirror.to(run.device) if mirror is not None else None)
    train = _encode_split(train_folder, tokenizer, mean, std, caption_index, lower)
    val = _encode_split(val_folder, tokenizer, mean, std, caption_index, lower)
    tokenizer_sha = file_sha256(tokenizer_path)
    lower_sha = file_sha256(lower_tokenizer_path) if lower_tokenizer_path else None
    setup_s = time.perf_counter() - started

    transformer = MaskedMamba(mc) if isinstance(mc, MaskedMambaConfig) else MaskedTransformer(mc)
    length = None
    if lower is None:
        length = LengthPredictor(LengthPredictorConfig(text_dim=mc.text_dim, max_tokens=mc.max_tokens - 1))
    if cfg.init:
        load_initial_weights(transformer, cfg.init, mc, "masked model",
                             {"length": length} if length is not None else {})
    if mc.code_dim:  # after --init: the codes' vectors are this tokenizer's, not the initial model's
        transformer.codebook.copy_(tokenizer.quantizer.codebook)
    nets = JointModel({"transformer": transformer} | ({"length": length} if length is not None else {}) |
                      ({"align": AlignmentHeads(mc.width)} if cfg.contrastive else {})).to(run.device)
    opt = torch.optim.AdamW(nets.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.99))
    resume_config = {"model": asdict(mc), "tokenizer_sha256": tokenizer_sha, "lower_tokenizer_sha256": lower_sha}
    if cfg.contrastive:  # the alignment heads are in the resume state
        resume_config["contrastive"] = True
    fwd = run.start(nets, opt, out_path, resume_config, resume)
    rng = np.random.default_rng([cfg.seed, run.rank, run.step])  # a resumed run draws fresh (but reproducible) batches
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    batch_size = min(cfg.batch_size, len(train.codes))
    draw = label_weights(train.labels, cfg.label_balance)
    weights = code_weights(train.codes, mc.codebook_size, cfg.code_balance)
    weights = weights.to(run.device) if weights is not None else None  # once, not every step
    last: dict[str, float] = {}

    def step() -> tuple[Tensor, dict[str, float]]:
        idx = rng.choice(len(train.codes), batch_size, replace=False, p=draw)
        out = _losses(fwd, _batch(train, idx, mc, rng, cfg.key_drop, cfg.max_keys), text, cfg, mc, gen,
                      weights=weights)
        last.update({k: v.item() for k, v in out.items()})
        return out["loss"] + out.get("length_loss", 0.0) + cfg.contrastive * out.get("align_loss", 0.0), dict(last)

    def validate() -> dict[str, float]:
        return _validate(nets, val, text, cfg, mc)

    loop = LoopConfig(cfg.steps, cfg.lr, cfg.warmup, cfg.val_every, "masked" if lower is None else "masked-upper",
                      show=("loss", "acc"), progress=progress)
    metrics = run.loop(step, validate, loop, log_path)
    if run.main and not metrics:  # a rerun of a finished run
        metrics = validate()

    summary = {"steps": run.step, "train_wall_s": round(run.elapsed, 1), "setup_s": round(setup_s, 1),
               "data": data_dir.name, "threads": cfg.threads, "world_size": run.world,
               "final_loss": round(last["loss"], 5) if last else None, **metrics}
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
    run.finish(lambda: save_checkpoint(out_path, transformer, asdict(mc), extra, meta), keep_resume=True)
    return summary
