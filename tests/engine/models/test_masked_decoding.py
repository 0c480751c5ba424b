import math

import pytest
import torch

from app.engine.models.masked_decoding import decode_tokens, empty_canvas, mask_ratio
from app.engine.models.masked_transformer import MaskedTransformer, MaskedTransformerConfig
from app.engine.text import TextEmbedding

TINY = MaskedTransformerConfig(codebook_size=16, max_tokens=12, width=32, depth=2, heads=4, dropout=0.0)
MASK, PAD, END = TINY.mask_id, TINY.pad_id, TINY.end_id


@pytest.fixture(scope="module")
def model() -> MaskedTransformer:
    torch.manual_seed(0)
    return MaskedTransformer(TINY).eval()


def _text(b: int) -> TextEmbedding:
    g = torch.Generator().manual_seed(3)
    return TextEmbedding(torch.randn(b, 384, generator=g), torch.randn(b, 4, 384, generator=g), torch.ones(b, 4, dtype=torch.bool))


def _decode(model, canvas, seed=0, **kw):
    return decode_tokens(model, _text(len(canvas)), canvas, generator=torch.Generator().manual_seed(seed), **kw)


def test_schedule_endpoints_and_monotone():
    assert mask_ratio(0.0) == 1.0 and abs(mask_ratio(1.0)) < 1e-12
    t = torch.linspace(0, 1, 11)
    r = mask_ratio(t)
    assert torch.all(r[1:] < r[:-1]) and math.isclose(float(r[5]), math.cos(math.pi / 4), rel_tol=1e-6)


def test_empty_canvas_layout():
    canvas = empty_canvas(torch.tensor([3, 1]), TINY)
    assert canvas.tolist() == [[MASK, MASK, MASK, END], [MASK, END, PAD, PAD]]
    with pytest.raises(ValueError, match="1..11 tokens"):
        empty_canvas(torch.tensor([12]), TINY)


@pytest.mark.parametrize("steps", [1, 3, 8])
def test_every_mask_is_filled_with_a_real_code(model, steps):
    canvas = empty_canvas(torch.tensor([11, 5, 1]), TINY)
    out = _decode(model, canvas, steps=steps)
    unknown = canvas == MASK
    assert not (out == MASK).any()
    assert bool(((out[unknown] >= 0) & (out[unknown] < 16)).all())
    assert torch.equal(out[~unknown], canvas[~unknown])  # END and PAD untouched


def test_given_tokens_are_never_changed(model):
    canvas = empty_canvas(torch.tensor([10, 7]), TINY)
    given = torch.zeros_like(canvas, dtype=torch.bool)
    given[0, [0, 1, 8, 9]] = True  # in-betweening: both ends known
    given[1, 2:5] = True
    canvas[given] = torch.randint(16, (int(given.sum()),))
    for guidance, temperature in [(4.0, 1.0), (1.0, 0.0), (0.0, 1.0)]:
        out = _decode(model, canvas, steps=4, guidance=guidance, temperature=temperature, top_k=5)
        assert torch.equal(out[given], canvas[given]) and not (out == MASK).any()


def test_full_canvas_comes_back_unchanged(model):
    canvas = torch.tensor([[1, 2, 3, END]])
    assert torch.equal(_decode(model, canvas), canvas)


def test_deterministic_for_a_seed_and_seeds_differ(model):
    canvas = empty_canvas(torch.tensor([11, 11]), TINY)
    a, b = _decode(model, canvas, seed=1), _decode(model, canvas, seed=1)
    assert torch.equal(a, b)
    assert not torch.equal(a, _decode(model, canvas, seed=2))


def test_batch_rows_do_not_depend_on_padding_columns(model):
    """Trailing PAD columns are trimmed before the model runs: a row decodes alike with or without them."""
    canvas = empty_canvas(torch.tensor([4]), TINY)
    padded = torch.cat([canvas, torch.full((1, 5), PAD)], dim=1)
    assert torch.equal(_decode(model, padded, temperature=0.0)[:, :5], _decode(model, canvas, temperature=0.0))


def test_sampling_draws_codes_as_often_as_their_probability():
    from app.engine.models.masked_decoding import _sample

    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]]).repeat(20000, 1)  # (M, K): one distribution, many draws
    codes, logp = _sample(logits, 1.0, None, torch.Generator().manual_seed(0))
    frequency = torch.bincount(codes, minlength=4).float() / len(codes)
    torch.testing.assert_close(frequency, logits[0].softmax(-1), atol=0.01, rtol=0)
    torch.testing.assert_close(logp, logits.log_softmax(-1).gather(-1, codes[:, None])[:, 0])
    top2, _ = _sample(logits[:2000], 1.0, 2, torch.Generator().manual_seed(1))
    assert set(top2.tolist()) == {0, 1}
