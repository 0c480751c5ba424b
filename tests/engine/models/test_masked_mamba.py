from dataclasses import asdict

import torch

from app.engine.models.masked_decoding import decode_tokens, empty_canvas
from app.engine.models.masked_mamba import MaskedMamba, MaskedMambaConfig, mamba_config, masked_model, reverse_within
from app.engine.models.masked_transformer import PRESETS, MaskedTransformer
from app.engine.text import TextEmbedding

TINY = MaskedMambaConfig(codebook_size=16, max_tokens=10, width=32, depth=2, heads=4, dropout=0.0, d_state=4)


def _model() -> MaskedMamba:
    torch.manual_seed(0)
    return MaskedMamba(TINY).eval()


def _text(b: int, words: int = 5, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 384, generator=g), torch.randn(b, words, 384, generator=g), torch.ones(b, words, dtype=torch.bool)


def _sequence(n: int, width: int) -> torch.Tensor:
    """n codes, END, PAD up to width."""
    seq = torch.full((1, width), TINY.pad_id)
    seq[0, :n] = torch.arange(n) % TINY.codebook_size
    seq[0, n] = TINY.end_id
    return seq


def test_logits_cover_the_real_codes_only():
    tokens = torch.randint(TINY.codebook_size, (3, 7))
    assert _model()(tokens, *_text(3), torch.zeros(3, dtype=torch.bool)).shape == (3, 7, 16)


def test_reverse_within_reverses_each_rows_prefix_only():
    keep = torch.tensor([[True, True, True, False], [True, True, True, True]])
    assert reverse_within(keep).tolist() == [[2, 1, 0, 3], [3, 2, 1, 0]]


def test_the_last_token_reaches_the_first_output_and_the_first_the_last():
    model, text, keep = _model(), _text(1), torch.zeros(1, dtype=torch.bool)
    seq = _sequence(8, 9)
    changed_last, changed_first = seq.clone(), seq.clone()
    changed_last[0, 7] = TINY.mask_id
    changed_first[0, 0] = TINY.mask_id
    base = model(seq, *text, keep)
    # small at initialisation (dt B u is small), but a one-way scan would leave the far end exactly unchanged
    assert (model(changed_last, *text, keep)[0, 0] - base[0, 0]).abs().max() > 1e-6  # the backward scan
    assert (model(changed_first, *text, keep)[0, 7] - base[0, 7]).abs().max() > 1e-6  # the forward scan
    model.blocks[0].backward_scan.out_proj.weight.data.zero_()
    model.blocks[1].backward_scan.out_proj.weight.data.zero_()
    torch.testing.assert_close(model(changed_last, *text, keep)[0, 0], model(seq, *text, keep)[0, 0], atol=0, rtol=0)


def test_pad_tokens_do_not_change_the_real_positions():
    model, text, keep = _model(), _text(1), torch.zeros(1, dtype=torch.bool)
    short = model(_sequence(4, 5), *text, keep)
    padded = model(_sequence(4, 10), *text, keep)
    torch.testing.assert_close(padded[:, :5], short, atol=1e-5, rtol=1e-5)


def test_the_text_changes_the_logits_and_dropping_it_removes_its_effect():
    model, keep, drop = _model(), torch.zeros(1, dtype=torch.bool), torch.ones(1, dtype=torch.bool)
    seq = _sequence(6, 7)
    a, b = model(seq, *_text(1, seed=1), keep), model(seq, *_text(1, seed=2), keep)
    assert (a - b).abs().max() > 1e-3
    torch.testing.assert_close(model(seq, *_text(1, seed=1), drop), model(seq, *_text(1, seed=2), drop))


def test_every_parameter_gets_a_gradient():
    model = MaskedMamba(TINY).train()
    tokens = torch.randint(TINY.codebook_size, (2, 9))
    model(tokens, *_text(2), torch.tensor([False, True])).logsumexp(-1).mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_checkpoint_config_builds_the_right_backbone_and_decodes():
    assert type(masked_model(asdict(TINY))) is MaskedMamba
    assert type(masked_model(asdict(PRESETS["cpu"]))) is MaskedTransformer
    small = mamba_config(PRESETS["cpu"])
    assert small.width == 256 and small.mlp_ratio == 0
    n_mamba = sum(p.numel() for p in MaskedMamba(small).parameters())
    n_transformer = sum(p.numel() for p in MaskedTransformer(PRESETS["cpu"]).parameters())
    assert n_mamba < 0.75 * n_transformer
    sentence, words, mask = _text(1)
    canvas = empty_canvas(torch.tensor([6]), TINY)
    tokens = decode_tokens(_model(), TextEmbedding(sentence, words, mask), canvas, steps=3,
                           generator=torch.Generator().manual_seed(0))
    assert ((tokens[0, :6] >= 0) & (tokens[0, :6] < 16)).all() and tokens[0, 6] == TINY.end_id
