"""One DistributedDataParallel over all the networks a trainer trains, checked with real torchrun processes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from app.engine.models.checkpoint import load_checkpoint
from app.engine.train.distributed import JointModel

REPO = Path(__file__).resolve().parents[3]


def test_joint_model_runs_each_named_network_and_keeps_module_dict_keys():
    torch.manual_seed(0)
    a, b = nn.Linear(3, 2), nn.Linear(4, 1)
    joint = JointModel({"a": a, "b": b})
    x, y = torch.randn(5, 3), torch.randn(5, 4)
    out = joint({"a": (x,), "b": (y,)})
    torch.testing.assert_close(out["a"], a(x))
    torch.testing.assert_close(out["b"], b(y))
    assert set(joint({"b": (y,)})) == {"b"}
    assert set(joint.state_dict()) == set(nn.ModuleDict({"a": a, "b": b}).state_dict())


@pytest.mark.slow
@pytest.mark.parametrize("what", ["diffusion", "masked", "masked-kmm", "tokenizer", "vae"])
def test_torchrun_trains_on_two_processes(what, sample_dataset, tmp_path):
    """Two gloo processes of the one training loop, each drawing its own batch shapes. The diffusion trainer used to
    hang here (two DDP wrappers all-reducing in a different order on each rank), then stop on a Mamba decay unused by
    a 1-latent level. masked-kmm: the Mamba backbone, key-frame masking and the contrastive heads in the one DDP."""
    tokenizer = ["--tokenizer", str(REPO / "checkpoints/tokenizer.safetensors")]
    model_args = {"diffusion": ["--vae", str(REPO / "checkpoints/vae.safetensors")], "masked": tokenizer,
                  "masked-kmm": [*tokenizer, "--backbone", "mamba", "--masking", "keyframe", "--contrastive"]}.get(what, [])
    what = what.removesuffix("-kmm")
    out = tmp_path / f"{what}.safetensors"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "app.cli",
               "train", what, "--data", str(sample_dataset), "--out", str(out), "--runs", str(tmp_path / "runs"),
               "--steps", "6", "--batch-size", "4", "--threads", "1", *model_args]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    _, config, _, meta = load_checkpoint(out)
    train = meta.get("train", meta)  # the tokenizer's and VAE's metadata is their training summary itself
    assert train["world_size"] == 2 and train["steps"] == 6
    log = [json.loads(line) for line in (tmp_path / "runs" / what / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 7))  # rank 0 alone writes the log
    if "--contrastive" in model_args:
        assert config["backbone"] == "mamba" and all("align_loss" in r for r in log)
