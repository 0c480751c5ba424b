"""Training on several processes (torchrun): joining the process group, and several networks trained together as
one module, so that one DistributedDataParallel reduces them all.

Two DDP wrappers in one backward pass each launch their own all-reduces, in whatever order autograd reaches their
gradients. That order depends on the graph, and the graph on the batch's shape, which differs between ranks (each
rank draws its own sequence length). gloo pairs collectives by call order, so the ranks then wait on different
all-reduces and the run hangs. One DDP over all the networks launches its buckets in one fixed order on every rank.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import Tensor, nn


def init_distributed(device: str | None) -> tuple[int, int, torch.device, bool]:
    """(rank, world size, device, whether we started the process group) from torchrun's environment. device None:
    CUDA when available, one GPU per process (LOCAL_RANK), with NCCL; else the CPU, with gloo."""
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    kind = device or ("cuda" if torch.cuda.is_available() else "cpu")
    use_cuda = kind == "cuda"
    chosen = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}") if use_cuda else torch.device(kind)
    started = False
    if world > 1 and not dist.is_initialized():
        if use_cuda:
            torch.cuda.set_device(chosen)
        dist.init_process_group("nccl" if use_cuda else "gloo")
        started = True
    return rank, world, chosen, started


class JointModel(nn.ModuleDict):
    """`model({"denoiser": (z, t, text), "length": (text,)})` -> each named network's output, in one forward call.
    State-dict keys are `<name>.<parameter>`, as for an nn.ModuleDict, so checkpoints and resume files keep their
    layout."""

    def forward(self, calls: dict[str, tuple]) -> dict[str, Tensor]:
        return {name: self[name](*args) for name, args in calls.items()}


def distributed(model: nn.Module, world: int, device: torch.device, find_unused_parameters: bool = False) -> nn.Module:
    """`model` itself on one process; wrapped in one DistributedDataParallel under torchrun. Pass
    `find_unused_parameters` when some parameters can sit out a step on one rank only (the diffusion U-Net: a
    Mamba scan over a level one latent long never uses its decay A), so that DDP does not wait for their gradients."""
    if world <= 1:
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None,
                                               find_unused_parameters=find_unused_parameters)
