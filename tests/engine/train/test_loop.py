import pytest
import torch
from torch import nn

import app.engine.train.loop as loop
from app.engine.train.loop import LoopConfig, TrainingRun


def _train(tmp_path, steps: int, ema: float, seen: list | None = None) -> tuple[nn.Module, dict, dict]:
    """A tiny regression trained by the loop -> (the network after the run, the weights `save` wrote, the weights
    `validate` saw at the last step). `seen` collects the live weights each step starts from."""
    run = TrainingRun("cpu", threads=1, seed=0, distributed_ok=False)
    net = nn.Linear(3, 2)
    opt = torch.optim.AdamW(net.parameters(), lr=0.05)
    fwd = run.start(net, opt, tmp_path / "net.safetensors", {"what": "test"}, resume=True)
    x, y = torch.linspace(-1, 1, 12).reshape(4, 3), torch.arange(8.0).reshape(4, 2)

    def step():
        if seen is not None:
            seen.append({k: v.detach().clone() for k, v in net.named_parameters()})
        loss = ((fwd(x) - y) ** 2).mean()
        return loss, {"loss": loss.item()}

    validated, saved = {}, {}

    def validate():
        validated.update({k: v.detach().clone() for k, v in net.named_parameters()})
        return {"val": 0.0}

    run.loop(step, validate, LoopConfig(steps, 0.05, 1, val_every=2, desc="t", progress=False, ema=ema))
    run.finish(lambda: saved.update({k: v.detach().clone() for k, v in net.named_parameters()}))
    return net, saved, validated


def test_the_output_is_the_moving_average_of_the_live_weights_and_the_network_keeps_its_own(tmp_path):
    seen: list[dict] = []
    net, saved, validated = _train(tmp_path, 6, ema=0.9, seen=seen)
    live = [*seen, {k: v.detach().clone() for k, v in net.named_parameters()}]  # the weights after steps 0..6
    expected = dict(live[0])
    for step in range(1, 7):
        decay = min(0.9, (1 + step) / (10 + step))
        expected = {k: decay * expected[k] + (1 - decay) * live[step][k] for k in expected}
    for k in expected:
        assert torch.allclose(saved[k], expected[k], atol=1e-6)
        assert torch.allclose(validated[k], expected[k], atol=1e-6)  # validation reads the average too
        assert not torch.allclose(saved[k], live[-1][k], atol=1e-4)  # ... which is not the last weights
    assert all(torch.equal(p, live[-1][k]) for k, p in net.named_parameters())  # the live weights are back


def test_without_ema_the_output_is_the_last_weights(tmp_path):
    net, saved, _ = _train(tmp_path, 4, ema=0.0)
    assert all(torch.equal(saved[k], p) for k, p in net.named_parameters())


def test_an_interrupted_run_resumes_its_average_exactly(tmp_path, monkeypatch):
    _, whole, _ = _train(tmp_path / "a", 6, ema=0.9)
    original = loop.save_resume

    def stop_after_first_save(*args, **kwargs):
        original(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_resume", stop_after_first_save)
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "b", 6, ema=0.9)
    monkeypatch.setattr(loop, "save_resume", original)
    assert (tmp_path / "b" / "net.resume.safetensors").exists()
    _, resumed, _ = _train(tmp_path / "b", 6, ema=0.9)
    assert all(torch.allclose(resumed[k], whole[k], atol=1e-6) for k in whole)
