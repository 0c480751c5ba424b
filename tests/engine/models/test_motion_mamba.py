import pytest
import torch

from app.engine.models.motion_mamba import BSM, HTM, DenoiserConfig, MotionMambaDenoiser, scan_order
from app.engine.models.ssm import Mamba

SMALL = DenoiserConfig(latent_dim=4, width=16, scans=[3, 2, 1], d_state=2, spatial_group=8)


def _count(model: torch.nn.Module, kind: type) -> int:
    return sum(len(m.scans) for m in model.modules() if isinstance(m, kind))


def test_scan_orders_are_permutations_forward_backward_and_strided():
    assert scan_order(5, 0).tolist() == [0, 1, 2, 3, 4]
    assert scan_order(5, 1).tolist() == [4, 3, 2, 1, 0]
    assert scan_order(5, 2).tolist() == [0, 2, 4, 1, 3]
    assert scan_order(5, 3).tolist() == [3, 1, 4, 2, 0]
    for i in range(8):
        assert sorted(scan_order(7, i).tolist()) == list(range(7))


def test_denoiser_keeps_the_latent_shape_for_any_length():
    torch.manual_seed(0)
    model = MotionMambaDenoiser(SMALL)
    with torch.no_grad():
        for module in model.modules():  # the zero-initialised output would hide shape bugs behind zeros
            if isinstance(module, torch.nn.Linear):
                torch.nn.init.normal_(module.weight, std=0.1)
    for n in (1, 2, 7, 49):
        out = model(torch.randn(3, n, 4), torch.tensor([0, 500, 999]), torch.randn(3, 384))
        assert out.shape == (3, n, 4) and torch.isfinite(out).all()


def test_hierarchy_puts_more_scans_at_shallow_levels_and_the_ablations_remove_them():
    full = MotionMambaDenoiser(SMALL)
    assert [len(b.htm.scans) for b in full.down] == [3, 2, 1]
    assert [len(b.htm.scans) for b in full.up] == [3, 2, 1]
    flat = MotionMambaDenoiser(DenoiserConfig(**{**SMALL.__dict__, "hierarchy": False}))
    assert [len(b.htm.scans) for b in flat.down] == [1, 1, 1]
    one_way = MotionMambaDenoiser(DenoiserConfig(**{**SMALL.__dict__, "backward_spatial": False}))
    assert _count(full, BSM) == 2 * 7 and _count(one_way, BSM) == 7
    assert all(isinstance(m, Mamba) for b in full.down for m in b.htm.scans)


def test_htm_sums_its_scans_each_in_its_own_order():
    torch.manual_seed(0)
    htm = HTM(8, 3, SMALL)
    x = torch.randn(2, 6, 8)
    expected = sum(scan(x[:, scan_order(6, i)])[:, scan_order(6, i).argsort()] for i, scan in enumerate(htm.scans))
    torch.testing.assert_close(htm(x), expected, atol=1e-5, rtol=1e-5)


def test_bsm_scans_channels_both_ways_within_each_frame():
    torch.manual_seed(0)
    bsm = BSM(16, SMALL)
    x = torch.randn(2, 5, 16)
    changed = x.clone()
    changed[:, 2, -1] += 1.0  # the last channel of frame 2
    diff = (bsm(changed) - bsm(x)).abs().amax(-1)  # (B, frames)
    assert (diff[:, [0, 1, 3, 4]] == 0).all()  # other frames untouched: BSM mixes channels, not time
    first_group = (bsm(changed) - bsm(x))[:, 2, :8].abs().max()
    assert first_group > 1e-6  # the backward scan carries the last channel to the first group
    forward_only = BSM(16, DenoiserConfig(**{**SMALL.__dict__, "backward_spatial": False}))
    assert (forward_only(changed) - forward_only(x))[:, 2, :8].abs().max() == 0  # a causal scan cannot


def test_dropped_text_uses_the_null_embedding():
    torch.manual_seed(0)
    model = MotionMambaDenoiser(SMALL)
    torch.nn.init.normal_(model.out.weight)
    z, t = torch.randn(2, 5, 4), torch.tensor([10, 10])
    a = model(z, t, torch.randn(2, 384), torch.tensor([True, True]))
    b = model(z, t, torch.randn(2, 384), torch.tensor([True, True]))
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="multiple of spatial_group"):
        MotionMambaDenoiser(DenoiserConfig(width=20, spatial_group=8))
