import pytest
import torch

from app.engine.models.body_parts import body_part_dims
from app.engine.models.checkpoint import CheckpointError, save_checkpoint
from app.engine.models.tokenizer import PRESETS, MotionTokenizer, TokenizerConfig
from app.engine.skeleton import BANDAI_NAMCO_21

TINY = TokenizerConfig(width=32, depth=2, codebook_size=64, code_dim=8)


def _model(**kw) -> MotionTokenizer:
    torch.manual_seed(0)
    return MotionTokenizer(TokenizerConfig(**{**TINY.__dict__, **kw}))


@pytest.mark.parametrize("t", [4, 8, 64, 100])
def test_shapes_give_t_over_4_tokens(t):
    model = _model()
    x = torch.randn(2, t, 251)
    recon, idx, commit, stats = model(x)
    assert recon.shape == (2, t, 251) and idx.shape == (2, t // 4) and commit.ndim == 0
    assert idx.dtype == torch.long and 0 <= int(idx.min()) and int(idx.max()) < 64
    assert model.encode(x).shape == (2, t // 4)
    assert model.decode(idx).shape == (2, t, 251)


def test_rejects_lengths_that_are_not_a_multiple_of_4():
    with pytest.raises(ValueError, match="multiple of 4"):
        _model().encode(torch.randn(1, 10, 251))


def test_encode_then_decode_equals_forward_in_eval_mode():
    model = _model().eval()
    x = torch.randn(3, 32, 251)
    with torch.inference_mode():
        recon, idx, _, _ = model(x)
        codes = model.encode(x)
        assert torch.equal(codes, idx)
        torch.testing.assert_close(model.decode(codes), recon, rtol=0, atol=0)


def test_part_tokenizer_reads_and_writes_only_its_dims():
    model = _model(part="upper")
    dims = body_part_dims(21, BANDAI_NAMCO_21, "upper")
    assert torch.equal(model.feature_index, torch.from_numpy(dims))
    x = torch.randn(2, 16, 251)
    recon, idx, _, _ = model.eval()(x)
    assert recon.shape == (2, 16, len(dims)) and idx.shape == (2, 4)
    other = x.clone()
    other[..., body_part_dims(21, BANDAI_NAMCO_21, "lower")] = 0.0  # the other part's dims are never read
    assert torch.equal(model.encode(other), model.encode(x))


def test_presets():
    assert PRESETS["paper"].codebook_size == 8192 and PRESETS["paper"].code_dim == 32 and PRESETS["paper"].width == 512
    assert PRESETS["paper"].down_t == 2 and PRESETS["paper"].depth == 3 and PRESETS["paper"].dilation_growth == 3
    assert PRESETS["paper"].ema_decay == 0.99
    assert PRESETS["cpu"].unit == 4


def test_save_and_load_round_trip(tmp_path):
    model = _model().eval()
    path = tmp_path / "tok.safetensors"
    save_checkpoint(path, model, model.config_dict(), {"mean": torch.zeros(251), "std": torch.ones(251)}, {"steps": 3})
    loaded = MotionTokenizer.load(path)
    assert loaded.config == model.config and loaded.metadata == {"steps": 3} and not loaded.training
    assert loaded.mean.shape == (251,) and loaded.std.shape == (251,)
    x = torch.randn(1, 16, 251)
    with torch.inference_mode():
        assert torch.equal(loaded.encode(x), model.encode(x))


def test_truncated_or_missing_checkpoint_raises_a_clear_error(tmp_path):
    model = _model()
    path = tmp_path / "tok.safetensors"
    save_checkpoint(path, model, model.config_dict())
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        MotionTokenizer.load(path)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        MotionTokenizer.load(tmp_path / "missing.safetensors")
