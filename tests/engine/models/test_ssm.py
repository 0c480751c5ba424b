import shutil

import pytest
import torch

from app.engine.models.ssm import Mamba, MambaConfig, parallel_mamba, selective_scan, selective_scan_reference


def _inputs(batch=3, d=12, n=5, length=41, seed=0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "u": torch.randn(batch, d, length, generator=g),
        "delta": torch.randn(batch, d, length, generator=g),
        "A": -torch.rand(d, n, generator=g) * 4 - 0.1,
        "B": torch.randn(batch, n, length, generator=g),
        "C": torch.randn(batch, n, length, generator=g),
        "D": torch.randn(d, generator=g),
        "z": torch.randn(batch, d, length, generator=g),
        "delta_bias": torch.randn(d, generator=g),
    }


@pytest.mark.parametrize("path", ["decays up front", "decays in the loop"])
def test_selective_scan_equals_the_sequential_reference_in_values_and_gradients(path, monkeypatch):
    import app.engine.models.ssm as ssm

    monkeypatch.setattr(ssm, "SMALL_SCAN", 10**9 if path == "decays up front" else 0)
    ours = {k: v.clone().requires_grad_() for k, v in _inputs().items()}
    ref = {k: v.clone().requires_grad_() for k, v in _inputs().items()}
    y = selective_scan(**ours, delta_softplus=True)
    y_ref = selective_scan_reference(**ref, delta_softplus=True)
    assert y.shape == (3, 12, 41)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)
    weight = torch.randn_like(y)  # a generic upstream gradient
    (y * weight).sum().backward()
    (y_ref * weight).sum().backward()
    for name in ours:
        torch.testing.assert_close(ours[name].grad, ref[name].grad, atol=1e-5, rtol=1e-5, msg=f"gradient of {name}")


def test_reference_scan_is_the_recurrence_written_out():
    x = _inputs(batch=1, d=1, n=1, length=3)
    a = torch.exp(x["delta"][0, 0] * x["A"][0, 0])  # no softplus, no bias, no gate
    b = x["delta"][0, 0] * x["B"][0, 0] * x["u"][0, 0]
    h0 = b[0]
    h1 = a[1] * h0 + b[1]
    h2 = a[2] * h1 + b[2]
    expected = torch.stack([h0, h1, h2]) * x["C"][0, 0]
    y = selective_scan_reference(x["u"], x["delta"], x["A"], x["B"], x["C"])
    torch.testing.assert_close(y[0, 0], expected)
    torch.testing.assert_close(selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"])[0, 0], expected)


@pytest.mark.parametrize("small_scan", [10**9, 0])
def test_scan_stays_finite_under_strong_decay(small_scan, monkeypatch):
    import app.engine.models.ssm as ssm

    monkeypatch.setattr(ssm, "SMALL_SCAN", small_scan)
    x = _inputs(length=64)
    x["delta"] = x["delta"].abs() * 50  # exp(dt * A) underflows to 0: states reset, nothing overflows
    y = selective_scan(**x, delta_softplus=True)
    assert torch.isfinite(y).all()
    torch.testing.assert_close(y, selective_scan_reference(**x, delta_softplus=True), atol=1e-5, rtol=1e-5)


def test_mamba_has_mamba_ssm_parameter_names_and_shapes():
    # mamba_ssm.modules.mamba_simple.Mamba(d_model=64) with its defaults: d_state 16, d_conv 4, expand 2,
    # dt_rank ceil(64 / 16) = 4, conv_bias True, bias False
    expected = {
        "A_log": (128, 16),
        "D": (128,),
        "in_proj.weight": (256, 64),
        "conv1d.weight": (128, 1, 4),
        "conv1d.bias": (128,),
        "x_proj.weight": (4 + 2 * 16, 128),
        "dt_proj.weight": (128, 4),
        "dt_proj.bias": (128,),
        "out_proj.weight": (64, 128),
    }
    state = Mamba(MambaConfig(d_model=64)).state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == expected


def test_mamba_initialisation_matches_mamba_ssm():
    block = Mamba(MambaConfig(d_model=32, d_state=8))
    torch.testing.assert_close(block.A_log[5], torch.log(torch.arange(1.0, 9.0)))  # S4D-real: A = -(1..N)
    dt = torch.nn.functional.softplus(block.dt_proj.bias.detach())
    assert 1e-4 <= float(dt.min()) and float(dt.max()) <= 0.1 + 1e-6
    assert torch.equal(block.D.detach(), torch.ones(64))


def test_mamba_block_is_causal():
    torch.manual_seed(0)
    block = Mamba(MambaConfig(d_model=16, d_state=4))
    x = torch.randn(2, 30, 16)
    later_changed = x.clone()
    later_changed[:, 20:] = torch.randn(2, 10, 16)
    with torch.no_grad():
        y, y2 = block(x), block(later_changed)
    torch.testing.assert_close(y[:, :20], y2[:, :20])
    assert (y[:, 20:] - y2[:, 20:]).abs().max() > 1e-3


def test_mamba_uses_the_cuda_kernel_only_for_cuda_tensors(monkeypatch):
    import app.engine.models.ssm as ssm

    def kernel(*args, **kwargs):
        raise AssertionError("the CUDA kernel must not run on CPU tensors")

    monkeypatch.setattr(ssm, "_cuda_scan", lambda: kernel)
    block = Mamba(MambaConfig(d_model=8, d_state=4))
    assert block(torch.randn(1, 5, 8)).shape == (1, 5, 8)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_path_matches_the_cpu_scan():
    torch.manual_seed(0)
    block = Mamba(MambaConfig(d_model=32))
    x = torch.randn(2, 50, 32)
    with torch.no_grad():
        torch.testing.assert_close(block.cuda()(x.cuda()).cpu(), block.cpu()(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("small_scan", [10**9, 0])
def test_parallel_mamba_equals_each_block_on_its_own(small_scan, monkeypatch):
    import app.engine.models.ssm as ssm

    monkeypatch.setattr(ssm, "SMALL_SCAN", small_scan)
    torch.manual_seed(0)
    blocks = [Mamba(MambaConfig(d_model=16, d_state=4)) for _ in range(3)]
    with torch.no_grad():
        for b in blocks:  # distinct A, D and dt biases, so a mix-up between blocks would show
            b.A_log.add_(torch.rand_like(b.A_log))
            b.D.add_(torch.randn_like(b.D))
            b.dt_proj.bias.add_(torch.randn_like(b.dt_proj.bias))
    xs = [torch.randn(2, 9, 16) for _ in blocks]
    for y, block, x in zip(parallel_mamba(blocks, xs), blocks, xs):
        torch.testing.assert_close(y, block(x), atol=1e-5, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("clang++") is None,
                    reason="torch.compile needs a C++ compiler on the CPU")
def test_compiled_blocks_equal_the_reference(monkeypatch):
    import app.engine.models.ssm as ssm

    monkeypatch.setenv("KINEMA_COMPILED_SCAN", "1")
    monkeypatch.setattr(ssm, "SMALL_SCAN", 0)
    calls = []
    compiled = ssm._compiled_block()
    monkeypatch.setattr(ssm, "_compiled_block", lambda: calls.append(1) or compiled)
    x = _inputs(length=21)  # not a whole number of blocks: the padded tail must leave the state alone
    with torch.no_grad():
        y = selective_scan(**x, delta_softplus=True)
    assert len(calls) == 3  # ceil(21 / BLOCK) compiled calls: the compiled path ran
    torch.testing.assert_close(y, selective_scan_reference(**x, delta_softplus=True), atol=1e-5, rtol=1e-5)


def test_compiled_scan_falls_back_to_the_eager_loop_when_compiling_fails(monkeypatch):
    import app.engine.models.ssm as ssm

    def no_compiler(*args):
        raise torch._dynamo.exc.TorchDynamoException("no C++ compiler")

    monkeypatch.setenv("KINEMA_COMPILED_SCAN", "1")
    monkeypatch.setattr(ssm, "SMALL_SCAN", 0)
    monkeypatch.setattr(ssm, "_compile_failed", False)
    monkeypatch.setattr(ssm, "_compiled_block", lambda: no_compiler)
    x = _inputs()
    with torch.no_grad(), pytest.warns(UserWarning, match=r"no C\+\+ compiler"):
        y = selective_scan(**x, delta_softplus=True)
    torch.testing.assert_close(y, selective_scan_reference(**x, delta_softplus=True), atol=1e-5, rtol=1e-5)
    assert ssm._compile_failed  # warned once, then the eager loop without trying again


def test_compiled_scan_is_not_used_for_training(monkeypatch):
    import app.engine.models.ssm as ssm

    def must_not_run():
        raise AssertionError("gradients need the eager scan")

    monkeypatch.setenv("KINEMA_COMPILED_SCAN", "1")
    monkeypatch.setattr(ssm, "SMALL_SCAN", 0)
    monkeypatch.setattr(ssm, "_compiled_block", must_not_run)
    x = {k: v.clone().requires_grad_() for k, v in _inputs().items()}
    selective_scan(**x, delta_softplus=True).sum().backward()
    assert x["u"].grad is not None
