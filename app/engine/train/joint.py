"""Several networks trained together, as one module, so that one DistributedDataParallel reduces them all.

Two DDP wrappers in one backward pass each launch their own all-reduces, in whatever order autograd reaches their
gradients. That order depends on the graph, and the graph on the batch's shape, which differs between ranks (each
rank draws its own sequence length). gloo pairs collectives by call order, so the ranks then wait on different
all-reduces and the run hangs. One DDP over all the networks launches its buckets in one fixed order on every rank.
"""
from __future__ import annotations

from torch import Tensor, nn


class JointModel(nn.ModuleDict):
    """`model({"denoiser": (z, t, text), "length": (text,)})` -> each named network's output, in one forward call.
    State-dict keys are `<name>.<parameter>`, as for an nn.ModuleDict, so checkpoints and resume files keep their
    layout."""

    def forward(self, calls: dict[str, tuple]) -> dict[str, Tensor]:
        return {name: self[name](*args) for name, args in calls.items()}


def distributed(model: JointModel, world: int, device) -> nn.Module:
    """`model` itself on one process; wrapped in one DistributedDataParallel under torchrun. Some parameters
    can sit out a step on one rank only (a Mamba scan over a level one latent long never uses its decay A), so DDP
    looks for unused parameters instead of waiting for their gradients."""
    if world <= 1:
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None,
                                               find_unused_parameters=True)
