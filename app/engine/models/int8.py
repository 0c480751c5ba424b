"""Int8 inference for the masked models on the CPU: where `generate` spends its time.

Profiled on 2 cores (model card, "Speed of the masked engine"), a guided 8-step generation is arithmetic, not
overhead: ~6 GFLOP, 60 % of it in nn.Linear. Dynamic int8 quantization (weights int8 per output channel,
activations quantized on the fly, fbgemm/VNNI kernels) halves the time of those layers; logits move by about a
percent, which the evaluation shows does not cost quality. Layers whose weight a model reads directly (Mamba's
dt_proj) stay in float.
"""
from __future__ import annotations

import warnings

import torch
from torch import nn


def for_inference(model: nn.Module, device: str | torch.device) -> nn.Module:
    """`model` in eval mode on `device`; on the CPU a copy whose Linear layers run in int8 (where PyTorch has a
    quantized engine: fbgemm on x86, qnnpack on ARM)."""
    model = model.to(device).eval()
    engines = torch.backends.quantized.supported_engines
    if torch.device(device).type != "cpu" or not {"fbgemm", "qnnpack", "x86"} & set(engines):
        return model
    names = {name for name, m in model.named_modules() if isinstance(m, nn.Linear) and not name.endswith("dt_proj")}
    spec = {name: torch.ao.quantization.per_channel_dynamic_qconfig for name in names}
    with warnings.catch_warnings():  # torch.ao's dynamic quantization is deprecated in favour of torchao, not removed
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8)
