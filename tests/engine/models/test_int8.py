import torch
from torch import nn

from app.engine.models.int8 import for_inference
from app.engine.models.masked_mamba import MaskedMamba, MaskedMambaConfig
from app.engine.models.masked_transformer import MaskedTransformer, MaskedTransformerConfig

TINY = dict(codebook_size=16, max_tokens=10, width=64, depth=2, heads=4, dropout=0.0)


def _logits(model: MaskedTransformer) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(16, (4, 9), generator=g)
    text = torch.randn(4, 384, generator=g), torch.randn(4, 5, 384, generator=g), torch.ones(4, 5, dtype=torch.bool)
    with torch.inference_mode():
        return model(tokens, *text, torch.zeros(4, dtype=torch.bool)).log_softmax(-1)


def test_cpu_inference_runs_linear_layers_in_int8_and_keeps_the_distribution():
    torch.manual_seed(0)
    model = MaskedTransformer(MaskedTransformerConfig(**TINY)).eval()
    fast = for_inference(model, "cpu")
    assert not any(type(m) is nn.Linear for m in fast.modules())
    assert fast.config == model.config and any(type(m) is nn.Linear for m in model.modules())  # the original stays
    exact, approx = _logits(model), _logits(fast)
    kl = (exact.exp() * (exact - approx)).sum(-1).mean()
    assert 0 < kl < 1e-3


def test_mamba_keeps_the_layer_whose_weight_it_reads_in_float():
    torch.manual_seed(0)
    model = MaskedMamba(MaskedMambaConfig(**TINY, d_state=4)).eval()
    fast = for_inference(model, "cpu")
    assert all(type(b.forward_scan.dt_proj) is nn.Linear for b in fast.blocks)
    assert type(fast.blocks[0].forward_scan.in_proj) is not nn.Linear
    exact, approx = _logits(model), _logits(fast)
    assert (exact.exp() * (exact - approx)).sum(-1).mean() < 1e-3
