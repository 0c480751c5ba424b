"""The one training loop every Kinema trainer runs: a trainer brings its networks, its batches and its loss.

    run = TrainingRun(device=cfg.device, threads=cfg.threads, seed=cfg.seed)   # torchrun, threads, initial weights
    forward = run.start(nets, opt, out_path, resume_config, resume)          # resume state loaded, DDP-wrapped
    rng = np.random.default_rng([cfg.seed, run.rank, run.step])              # the trainer's own batch draws
    metrics = run.loop(step_fn, validate, LoopConfig(...), log_path)         # the steps
    run.finish(lambda: save_checkpoint(...))                                 # rank 0 writes; processes join

A step: the learning rate of the warmup-cosine schedule, the trainer's `step_fn` (a batch and its loss), backward,
gradient clipping, AdamW, one JSON line in the log (rank 0) and a progress bar. Every `val_every` steps and at the
last one, rank 0 validates and writes the resume state beside the output (`<name>.resume.safetensors`: weights,
AdamW moments, step, elapsed time and the config the run must match), atomically. A rerun continues from it; one
with more `steps` extends the run (the cosine stretches to the new total). Under torchrun the networks train as
one DistributedDataParallel (app.engine.train.distributed); on CUDA one GPU per process.

With `ema` > 0 the run also keeps an exponential moving average of the weights (decay ramped up as
min(ema, (1 + step) / (10 + step)), so early steps do not freeze the random start). Validation and the output
use the average, the optimizer keeps stepping the live weights, and the resume state keeps both. Why: a small
denoiser's last steps swing its per-action behaviour (how far a turn goes, how high the hands rise) from one
checkpoint to the next; the average over the last few thousand steps is steadier.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn
from tqdm import tqdm

from app.engine.models.checkpoint import CheckpointError, atomic_save, read_safetensors
from app.engine.train.distributed import distributed, init_distributed
from app.engine.train.schedule import warmup_cosine


@dataclass
class LoopConfig:
    steps: int
    lr: float
    warmup: int
    val_every: int
    desc: str  # the progress bar's label
    show: tuple[str, ...] = ("loss",)  # log values shown on the progress bar
    clip: float = 1.0  # gradient-norm clipping
    progress: bool = True
    ema: float = 0.0  # decay of the weights' moving average that validation and the output use (0: none)


def resume_path(out_path: str | Path) -> Path:
    """`<name>.resume.safetensors` beside the output `<name>.safetensors`."""
    out_path = Path(out_path)
    return out_path.with_name(out_path.name.removesuffix(".safetensors") + ".resume.safetensors")


def save_resume(path: Path, nets: nn.Module, opt: torch.optim.Optimizer, step: int, elapsed: float, config: dict,
                ema: dict[str, Tensor] | None = None) -> None:
    """Weights (buffers included) + AdamW moments (+ the weights' moving average) as tensors; step, elapsed time,
    config and the optimizer's step counts in the metadata. Moments are keyed by parameter name, so they survive a
    change of parameter order."""
    tensors = {f"model.{k}": v for k, v in nets.state_dict().items()}
    tensors.update({f"ema.{k}": v for k, v in (ema or {}).items()})
    names = dict(enumerate(n for n, _ in nets.named_parameters()))
    adam_steps = {}
    for i, state in opt.state_dict()["state"].items():
        tensors[f"exp_avg.{names[i]}"], tensors[f"exp_avg_sq.{names[i]}"] = state["exp_avg"], state["exp_avg_sq"]
        adam_steps[names[i]] = float(state["step"])
    atomic_save(tensors, {"step": str(step), "elapsed": str(elapsed), "config": json.dumps(config, default=str),
                          "adam_steps": json.dumps(adam_steps)}, path)


def load_resume(path: Path, nets: nn.Module, opt: torch.optim.Optimizer, config: dict
                ) -> tuple[int, float, dict[str, Tensor]]:
    """-> (step, elapsed seconds, the weights' moving average by parameter name: empty when the run kept none) of
    the saved run, its weights and moments loaded; CheckpointError for a file of another config (model, tokenizer,
    VAE) or a truncated one."""
    tensors, meta = read_safetensors(path)
    if json.loads(meta.get("config", "null")) != json.loads(json.dumps(config, default=str)):
        raise CheckpointError(f"{path} was trained with another model config or tokenizer; delete it to start afresh")
    nets.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    adam_steps = json.loads(meta["adam_steps"])
    state = opt.state_dict()
    for i, name in enumerate(n for n, _ in nets.named_parameters()):
        if name in adam_steps:
            state["state"][i] = {"step": torch.tensor(adam_steps[name]), "exp_avg": tensors[f"exp_avg.{name}"],
                                 "exp_avg_sq": tensors[f"exp_avg_sq.{name}"]}
    opt.load_state_dict(state)
    return int(meta["step"]), float(meta["elapsed"]), {k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}


class TrainingRun:
    """One run of one trainer: its process group, networks, optimizer, step and resume file."""

    def __init__(self, device: str | None, threads: int, seed: int, distributed_ok: bool = True):
        """device None: CUDA when there is one. threads: intra-op threads per process. distributed_ok False: a trainer
        that does not train under DDP (each process then trains alone)."""
        if distributed_ok:
            self.rank, self.world, self.device, self._started_group = init_distributed(device)
        else:
            self.rank, self.world, self.device, self._started_group = 0, 1, torch.device(device or "cpu"), False
        torch.set_num_threads(max(1, threads))
        torch.manual_seed(seed)  # the same initial weights on every rank
        self.step, self.elapsed = 0, 0.0
        self.main = self.rank == 0
        self.ema: dict[str, Tensor] | None = None  # the weights' moving average by parameter name, when kept

    def start(self, nets: nn.Module, opt: torch.optim.Optimizer, out_path: str | Path, config: dict, resume: bool,
              find_unused_parameters: bool = False) -> nn.Module:
        """Load the resume state of `out_path` when there is one (and `resume`), then -> the module to call forward
        on: `nets` itself, or its DistributedDataParallel under torchrun."""
        self.nets, self.opt, self.config = nets, opt, config
        self.resume_path = resume_path(out_path)
        if resume and self.resume_path.exists():
            self.step, self.elapsed, ema = load_resume(self.resume_path, nets, opt, config)
            self.ema = {k: v.to(self.device) for k, v in ema.items()} or None
        return distributed(nets, self.world, self.device, find_unused_parameters)

    def loop(self, step_fn: Callable[[], tuple[Tensor, dict[str, float]]], validate: Callable[[], dict[str, float]],
             cfg: LoopConfig, log_path: str | Path | None = None) -> dict[str, float]:
        """Train until `cfg.steps`. step_fn() -> (the loss to minimise, the values to log); validate() -> metrics (rank 0
        only). Returns the last validation's metrics ({} when no step ran)."""
        log = None
        if log_path and self.main:
            Path(log_path).parent.mkdir(parents=True, exist_ok=True)
            log = open(log_path, "a" if self.step else "w")  # a fresh run starts a fresh log
        metrics: dict[str, float] = {}
        if cfg.ema > 0 and self.ema is None:  # a fresh run, or one saved without an average: it starts here
            self.ema = {n: p.detach().clone() for n, p in self.nets.named_parameters()}
        elif cfg.ema <= 0:
            self.ema = None
        bar = tqdm(total=cfg.steps, initial=self.step, desc=cfg.desc, unit="step", disable=not (cfg.progress and self.main))
        self.nets.train()
        t0 = time.perf_counter() - self.elapsed
        try:
            while self.step < cfg.steps:
                lr = warmup_cosine(self.step, cfg.lr, cfg.warmup, cfg.steps)
                for g in self.opt.param_groups:
                    g["lr"] = lr
                loss, values = step_fn()
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.nets.parameters(), cfg.clip)
                self.opt.step()
                self.step += 1
                if self.ema is not None:
                    self._average(min(cfg.ema, (1 + self.step) / (10 + self.step)))
                bar.update(1)
                bar.set_postfix({k: f"{values[k]:.4g}" for k in cfg.show if k in values})
                record = {"step": self.step, **{k: round(v, 5) for k, v in values.items()}, "lr": lr}
                if self.main and (self.step % cfg.val_every == 0 or self.step == cfg.steps):
                    with self.averaged():
                        metrics = validate()
                    record |= {k: round(v, 5) for k, v in metrics.items()}
                    bar.write(f"step {self.step}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
                    save_resume(self.resume_path, self.nets, self.opt, self.step, time.perf_counter() - t0, self.config,
                                self.ema)
                record["elapsed_s"] = round(time.perf_counter() - t0, 2)
                if log:
                    log.write(json.dumps(record) + "\n")
                    log.flush()
        finally:
            bar.close()
            if log:
                log.close()
        self.elapsed = time.perf_counter() - t0
        return metrics

    @torch.no_grad()
    def _average(self, decay: float) -> None:
        for name, p in self.nets.named_parameters():
            self.ema[name].lerp_(p.detach(), 1.0 - decay)

    @contextmanager
    def averaged(self) -> Iterator[None]:
        """Inside the block the networks hold the weights' moving average (when the run keeps one); after it, their
        live weights again."""
        if self.ema is None:
            yield
            return
        params = dict(self.nets.named_parameters())
        live = {n: p.detach().clone() for n, p in params.items()}
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(self.ema[n])
        try:
            yield
        finally:
            with torch.no_grad():
                for n, p in params.items():
                    p.copy_(live[n])

    def finish(self, save: Callable[[], None], keep_resume: bool = False) -> None:
        """Rank 0 calls `save` (writes the output, with the averaged weights when the run keeps an average) and
        removes the resume file (unless `keep_resume`: a trainer whose finished runs can be extended with more
        steps); then every process joins and leaves the group."""
        if self.main:
            with self.averaged():
                save()
            if not keep_resume:
                self.resume_path.unlink(missing_ok=True)
        if self.world > 1:
            dist.barrier()
        if self._started_group:
            dist.destroy_process_group()
