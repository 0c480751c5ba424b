import math

import torch
import torch.nn.functional as F

from app.engine.models.quantizer import FactorizedEMAQuantizer, QuantizerConfig, perplexity


def _quantizer(k: int = 16, c: int = 4, width: int = 8, **kw) -> FactorizedEMAQuantizer:
    torch.manual_seed(0)
    q = FactorizedEMAQuantizer(width, QuantizerConfig(k, c, **kw))
    q.initialised.fill_(True)  # keep the random codebook: the tests control what the codes see
    return q


def test_shapes_and_unit_codes():
    q = _quantizer().eval()
    out, idx, commit, stats = q(torch.randn(3, 8, 5))
    assert out.shape == (3, 8, 5) and idx.shape == (3, 5) and commit.ndim == 0
    assert set(stats) == {"perplexity", "dead_codes"}
    torch.testing.assert_close(q.codebook.norm(dim=-1), torch.ones(16))
    torch.testing.assert_close(q.lookup(idx), out.detach())  # the output is the looked-up code


def test_nearest_is_max_cosine():
    q = _quantizer()
    z = F.normalize(torch.randn(50, 4), dim=-1)
    brute = torch.cdist(z, q.codebook).argmin(-1)
    assert torch.equal(q.nearest(z), brute)


def test_straight_through_gradient_reaches_the_encoder_side():
    q = _quantizer()
    h = torch.randn(2, 8, 5, requires_grad=True)
    out, _, commit, _ = q.train()(h)
    (out.sum() + commit).backward()
    assert h.grad is not None and h.grad.abs().sum() > 0


def test_ema_moves_codes_toward_assigned_inputs():
    q = _quantizer(ema_decay=0.9, reset_every=10**6).train()
    h = torch.randn(1, 8, 1).expand(4, 8, 6).contiguous()  # every token is the same input
    z = F.normalize(q.project_in(h).transpose(1, 2), dim=-1)[0, 0].detach()
    code = int(q.nearest(z))
    before = float(q.codebook[code] @ z)
    for _ in range(5):
        q(h)
    after = float(q.codebook[code] @ z)
    assert after > before and after > 0.99
    torch.testing.assert_close(q.codebook.norm(dim=-1), torch.ones(16))
    others = [i for i in range(16) if i != code]
    assert q.cluster_size[code] > 1.0 and (q.cluster_size[others] < 1.0).all()


def test_dead_code_reset_revives_unused_codes():
    q = _quantizer(reset_every=3).train()
    h = torch.randn(1, 8, 1).expand(2, 8, 10).contiguous()  # one code takes every input
    z = F.normalize(q.project_in(h).transpose(1, 2), dim=-1)[0, 0].detach()
    used = int(q.nearest(z))
    before = q.codebook.clone()
    for _ in range(3):
        _, _, _, stats = q(h)
    assert int(stats["dead_codes"]) == 15
    revived = [i for i in range(16) if i != used]
    assert not torch.allclose(q.codebook[revived], before[revived])
    torch.testing.assert_close(q.codebook[revived] @ z, torch.ones(15))  # re-seeded from the encoder's outputs
    assert (q.usage == 0).all()


def test_eval_mode_leaves_the_codebook_alone():
    q = _quantizer().eval()
    before = q.codebook.clone()
    with torch.inference_mode():
        q(torch.randn(2, 8, 7))
    assert torch.equal(before, q.codebook) and int(q.updates) == 0


def test_padding_mask_is_ignored_by_the_ema():
    q = _quantizer(reset_every=10**6).train()
    mask = torch.zeros(2, 6, dtype=torch.bool)
    mask[:, :2] = True
    q(torch.randn(2, 8, 6), mask)
    assert float(q.usage.sum()) == 4.0


def test_perplexity_of_uniform_and_collapsed_usage():
    assert math.isclose(float(perplexity(torch.full((512,), 7.0))), 512, rel_tol=1e-4)
    assert math.isclose(float(perplexity(torch.tensor([5.0, 0.0, 0.0]))), 1.0, rel_tol=1e-6)
    q = _quantizer(k=8, c=8, width=8).eval()
    with torch.no_grad():  # make project_in the identity so each input selects the code it equals
        q.project_in.weight.copy_(torch.eye(8)[:, :, None])
        q.project_in.bias.zero_()
    h = q.codebook.T.repeat(1, 4)[None]  # (1, 8, 32): every code four times
    _, idx, _, stats = q(h)
    assert torch.equal(idx[0], torch.arange(8).repeat(4))
    assert math.isclose(float(stats["perplexity"]), 8, rel_tol=1e-4)
