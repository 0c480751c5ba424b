"""Selective state-space block (Mamba, Gu & Dao 2023) with mamba_ssm's parameter names and shapes.

`Mamba` holds exactly what `mamba_ssm.modules.mamba_simple.Mamba` holds (in_proj, conv1d, x_proj, dt_proj, A_log,
D, out_proj), so a state dict loads in either. The scan runs on mamba_ssm's fused CUDA kernel when that package
imports and the tensors are on CUDA; everywhere else on `selective_scan` below, in plain PyTorch.

The recurrence, per channel d and state n:  h_t = exp(dt_t A) h_{t-1} + dt_t B_t u_t,   y_t = C_t . h_t + D u_t.
Mamba-1's decay differs per (d, n), so Mamba-2's SSD trick (contract C_t . B_s over n first, a (Q, Q) matrix per
chunk shared by all channels) does not apply: any blocked form still has to touch all B * L * D * N states, and
measured here it is slower than a loop that keeps one step's working set in cache (see `selective_scan`).
Every decay is exp of a non-positive number, so nothing overflows (a closed-form cumulative-sum scan,
exp(+cumsum) times exp(-cumsum), does).

Eager PyTorch cannot keep a state in registers across frames, so every eager form streams (B, L, D, N) tensors
through memory. With KINEMA_COMPILED_SCAN=1, large inference scans run `_block` (BLOCK frames of the recurrence)
through torch.compile instead: one fused C++ loop per block that reads only the (B, D, N) state and the block's
inputs. That needs a C++ compiler at run time and compiles once per (B, D, N) shape (seconds; cached on disk by
torch), so it is opt-in; without a compiler it falls back to the eager loop with a warning.
"""
from __future__ import annotations

import functools
import math
import os
import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SMALL_SCAN = 1 << 20  # B * L * D * N up to which selective_scan forms all decays up front (4 MB of float32)
BLOCK = 8  # frames per compiled block: longer blocks compile more slowly and gain little


@dataclass
class MambaConfig:
    d_model: int
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    dt_rank: int = 0  # 0: ceil(d_model / 16), mamba_ssm's "auto"

    @property
    def d_inner(self) -> int:
        return self.expand * self.d_model

    @property
    def rank(self) -> int:
        return self.dt_rank or math.ceil(self.d_model / 16)


def _scan_inputs(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, delta_bias: Tensor | None, delta_softplus: bool
                 ) -> tuple[Tensor, Tensor, Tensor]:
    """-> (dt (B, L, D), log-decay dt*A (B, L, D, N) <= 0, input dt*B*u (B, L, D, N)), time-major."""
    if delta_bias is not None:
        delta = delta + delta_bias[..., None]
    if delta_softplus:
        delta = F.softplus(delta)
    dt = delta.transpose(1, 2)  # (B, L, D)
    log_decay = dt[..., None] * A  # (B, L, D, N)
    x = (dt * u.transpose(1, 2))[..., None] * B.transpose(1, 2)[:, :, None, :]  # (B, L, D, N)
    return dt, log_decay, x


def _scan_output(h: Tensor, u: Tensor, C: Tensor, D: Tensor | None, z: Tensor | None) -> Tensor:
    """States h (B, L, D, N) -> y (B, D, L): C_t . h_t, plus the skip D u, gated by silu(z)."""
    y = (h @ C.transpose(1, 2)[..., None]).squeeze(-1).transpose(1, 2)  # (B, L, D, N) @ (B, L, N, 1) -> (B, D, L)
    if D is not None:
        y = y + D[..., None] * u
    return y if z is None else y * F.silu(z)


def selective_scan_reference(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None = None,
                             z: Tensor | None = None, delta_bias: Tensor | None = None, delta_softplus: bool = False
                             ) -> Tensor:
    """The recurrence as written, one frame at a time: the definition the fast scans are tested and timed against.
    Slices come from unbind (indexing x[:, t] would make each slice's backward allocate a full-size zero tensor)."""
    _, log_decay, x = _scan_inputs(u, delta, A, B, delta_bias, delta_softplus)
    h = torch.zeros_like(x[:, 0])
    states = []
    for a, b in zip(log_decay.exp().unbind(1), x.unbind(1)):
        h = a * h + b
        states.append(h)
    return _scan_output(torch.stack(states, 1), u, C, D, z)


def selective_scan(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None = None,
                   z: Tensor | None = None, delta_bias: Tensor | None = None, delta_softplus: bool = False,
                   compiled: bool | None = None) -> Tensor:
    """mamba_ssm's `selective_scan_fn` contract in plain PyTorch: u, delta, z (B, D, L); A (D, N); B, C (B, N, L);
    D, delta_bias (D,) -> y (B, D, L). A, D and delta_bias may also be given per batch row: (B, D, N), (B, D).

    Two loops over time, same arithmetic. Small problems (a generation step: batch 2, a few dozen frames) form
    every decay exp(dt A) and input dt B u up front, (B, L, D, N), and the loop is one fused multiply-add per
    frame: Python overhead is what costs there. Large ones (training batches) form them inside the loop from (B, D)
    and (B, N) slices, so no (B, L, D, N) intermediate is built: one step's working set stays in the CPU's cache
    and autograd keeps one state per frame instead of five full-size tensors. Large ones without gradients run
    in compiled blocks when `compiled` is True, or when it is None and KINEMA_COMPILED_SCAN=1 (module docstring).
    """
    if delta_bias is not None:
        delta = delta + delta_bias[..., None]
    if delta_softplus:
        delta = F.softplus(delta)
    dt = delta.transpose(1, 2)  # (B, L, D)
    du = dt * u.transpose(1, 2)  # (B, L, D)
    Bt, Ct = B.transpose(1, 2), C.transpose(1, 2)  # (B, L, N)
    small = u.shape[0] * u.shape[2] * A.shape[-2] * A.shape[-1] <= SMALL_SCAN
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (dt, du, Bt, Ct, A))
    y = None
    if not small and not needs_grad and (compiled_scan_wanted() if compiled is None else compiled):
        y = _scan_in_compiled_blocks(dt, du, Bt, Ct, A)
    if y is None:
        y = (_scan_decays_up_front if small else _scan_decays_in_loop)(dt, du, Bt, Ct, A)
    if D is not None:
        y = y + D[..., None] * u
    return y if z is None else y * F.silu(z)


def _scan_decays_up_front(dt: Tensor, du: Tensor, Bt: Tensor, Ct: Tensor, A: Tensor) -> Tensor:
    """dt, du (B, L, D); Bt, Ct (B, L, N); A (D, N) or (B, D, N) -> y (B, D, L) without the skip term."""
    decay = torch.exp(dt[..., None] * (A if A.dim() == 2 else A[:, None]))  # (B, L, D, N)
    inputs = du[..., None] * Bt[:, :, None, :]  # (B, L, D, N)
    h = inputs[:, 0]
    states = [h]
    for a, x in zip(decay[:, 1:].unbind(1), inputs[:, 1:].unbind(1)):
        h = torch.addcmul(x, a, h)
        states.append(h)
    return (torch.stack(states, 1) @ Ct[..., None]).squeeze(-1).transpose(1, 2)  # (B, L, D, N) @ (B, L, N, 1) -> (B, D, L)


def _scan_decays_in_loop(dt: Tensor, du: Tensor, Bt: Tensor, Ct: Tensor, A: Tensor) -> Tensor:
    """As `_scan_decays_up_front`, forming each frame's decay and input from (B, D) and (B, N) slices."""
    h = None
    ys = []
    for dt_t, du_t, b_t, c_t in zip(dt.unbind(1), du.unbind(1), Bt.unbind(1), Ct.unbind(1)):
        x = du_t[:, :, None] * b_t[:, None, :]  # (B, D, N)
        h = x if h is None else torch.addcmul(x, torch.exp(dt_t[:, :, None] * A), h)
        ys.append((h @ c_t[:, :, None]).squeeze(-1))  # (B, D)
    return torch.stack(ys, 2)  # (B, D, L)


def _block(h: Tensor, dt: Tensor, du: Tensor, Bt: Tensor, Ct: Tensor, A: Tensor) -> tuple[Tensor, Tensor]:
    """A block of frames of the recurrence from state h (B, D, N); dt, du (B, T, D); Bt, Ct (B, T, N); A (D, N) or
    (B, D, N) -> (last state, y (B, T, D)). Written frame by frame so that torch.compile fuses it into one loop."""
    ys = []
    for t in range(dt.shape[1]):
        h = torch.addcmul(du[:, t, :, None] * Bt[:, t, None, :], torch.exp(dt[:, t, :, None] * A), h)
        ys.append((h * Ct[:, t, None, :]).sum(-1))
    return h, torch.stack(ys, 1)


def compiled_scan_wanted() -> bool:
    return os.environ.get("KINEMA_COMPILED_SCAN", "") not in ("", "0")


@functools.cache
def _compiled_block():
    return torch.compile(_block, dynamic=False)  # compiles on first call, once per input shape


_compile_failed = False


def _scan_in_compiled_blocks(dt: Tensor, du: Tensor, Bt: Tensor, Ct: Tensor, A: Tensor) -> Tensor | None:
    """The recurrence BLOCK frames per compiled call -> y (B, D, L), or None where torch.compile cannot build
    here (no C++ compiler; warned once). The tail is padded with dt = 0, du = 0 (decay 1, no input), which leaves
    the state as it was, so every call has one shape."""
    global _compile_failed
    if _compile_failed:
        return None
    length = dt.shape[1]
    pad = -length % BLOCK
    dt, du, Bt, Ct = (F.pad(t, (0, 0, 0, pad)) for t in (dt, du, Bt, Ct))  # (B, L + pad, ...)
    h = torch.zeros(dt.shape[0], dt.shape[2], A.shape[-1], dtype=dt.dtype, device=dt.device)  # (B, D, N)
    ys = []
    try:
        for start in range(0, length + pad, BLOCK):
            window = slice(start, start + BLOCK)
            h, y = _compiled_block()(h, dt[:, window].contiguous(), du[:, window].contiguous(),
                                     Bt[:, window].contiguous(), Ct[:, window].contiguous(), A)
            ys.append(y)
    except torch._dynamo.exc.TorchDynamoException as error:
        _compile_failed = True
        warnings.warn(f"KINEMA_COMPILED_SCAN: torch.compile cannot build here ({error}); using the eager scan")
        return None
    return torch.cat(ys, 1)[:, :length].transpose(1, 2)  # (B, L, D) -> (B, D, L)


@functools.cache
def _cuda_scan():
    """mamba_ssm's fused kernel, or None where it is not installed (imported once, lazily: it needs CUDA)."""
    try:
        from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
    except ImportError:
        return None
    return selective_scan_fn


class Mamba(nn.Module):
    """x (B, L, d_model) -> (B, L, d_model): gated selective SSM after a causal depthwise convolution.
    Initialised as mamba_ssm initialises it (S4D-real A, dt spread log-uniformly over [1e-3, 1e-1])."""

    def __init__(self, cfg: MambaConfig):
        super().__init__()
        self.config = cfg
        di, n, r = cfg.d_inner, cfg.d_state, cfg.rank
        self.in_proj = nn.Linear(cfg.d_model, 2 * di, bias=False)
        self.conv1d = nn.Conv1d(di, di, cfg.d_conv, groups=di, padding=cfg.d_conv - 1)
        self.x_proj = nn.Linear(di, r + 2 * n, bias=False)
        self.dt_proj = nn.Linear(r, di, bias=True)
        nn.init.uniform_(self.dt_proj.weight, -(r**-0.5), r**-0.5)
        dt = torch.exp(torch.rand(di) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)).clamp(min=1e-4)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # softplus^-1(dt)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(di, 1))  # (di, N)
        self.D = nn.Parameter(torch.ones(di))
        self.out_proj = nn.Linear(di, cfg.d_model, bias=False)

    def scan_inputs(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """x (B, L, d_model) -> the scan's (u, delta without bias, B, C, z), in mamba_ssm's layout."""
        length = x.shape[1]
        u, z = self.in_proj(x).transpose(1, 2).chunk(2, dim=1)  # (B, di, L) each
        u = F.silu(self.conv1d(u)[..., :length])  # causal: drop the look-ahead
        dt, B, C = self.x_proj(u.transpose(1, 2)).split([self.config.rank, self.config.d_state, self.config.d_state], -1)
        delta = (dt @ self.dt_proj.weight.t()).transpose(1, 2)  # (B, di, L); its bias is added inside the scan
        return u, delta, B.transpose(1, 2).contiguous(), C.transpose(1, 2).contiguous(), z  # B, C: (B, N, L)

    def forward(self, x: Tensor) -> Tensor:
        u, delta, B, C, z = self.scan_inputs(x)
        A = -torch.exp(self.A_log.float())
        kernel = _cuda_scan() if x.is_cuda else None
        if kernel is not None:
            y = kernel(u, delta, A, B, C, self.D.float(), z=z, delta_bias=self.dt_proj.bias.float(), delta_softplus=True)
        else:
            y = selective_scan(u, delta, A, B, C, self.D, z=z, delta_bias=self.dt_proj.bias, delta_softplus=True)
        return self.out_proj(y.transpose(1, 2))


def parallel_mamba(blocks: list[Mamba], xs: list[Tensor]) -> list[Tensor]:
    """blocks[i](xs[i]) for every i, inputs of one shape (B, L, d_model). On the CPU all blocks share one scan
    (stacked along the batch, each row with its block's A, D and dt bias): one loop over L instead of len(blocks)."""
    if xs[0].is_cuda and _cuda_scan() is not None:
        return [block(x) for block, x in zip(blocks, xs)]
    batch = xs[0].shape[0]
    parts = [block.scan_inputs(x) for block, x in zip(blocks, xs)]
    u, delta, B, C, z = (torch.cat(p) for p in zip(*parts))  # (k B, ...)
    per_row = lambda t: t.repeat_interleave(batch, 0)  # (k, ...) -> (k B, ...)  # noqa: E731
    A = per_row(torch.stack([-torch.exp(b.A_log.float()) for b in blocks]))  # (k B, di, N)
    D = per_row(torch.stack([b.D for b in blocks]))  # (k B, di)
    bias = per_row(torch.stack([b.dt_proj.bias for b in blocks]))  # (k B, di)
    y = selective_scan(u, delta, A, B, C, D, z=z, delta_bias=bias, delta_softplus=True).transpose(1, 2)
    return [block.out_proj(part) for block, part in zip(blocks, y.split(batch))]
