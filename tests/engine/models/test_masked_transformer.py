import dataclasses

import pytest
import torch

from app.engine.models.masked_transformer import PRESETS, ROOT_KEY_DIM, MaskedTransformer, MaskedTransformerConfig

TINY = MaskedTransformerConfig(codebook_size=16, max_tokens=10, width=32, depth=2, heads=4, dropout=0.0)


def _model() -> MaskedTransformer:
    torch.manual_seed(0)
    return MaskedTransformer(TINY).eval()


def _text(b: int, words: int = 5, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 384, generator=g), torch.randn(b, words, 384, generator=g), torch.ones(b, words, dtype=torch.bool)


def _sequence(n: int, width: int) -> torch.Tensor:
    """n codes, END, PAD up to width."""
    seq = torch.full((1, width), TINY.pad_id)
    seq[0, :n] = torch.arange(n) % TINY.codebook_size
    seq[0, n] = TINY.end_id
    return seq


def test_special_ids_follow_the_codebook():
    assert (TINY.mask_id, TINY.pad_id, TINY.end_id, TINY.vocab_size) == (16, 17, 18, 19)
    assert PRESETS["cpu"].max_tokens == 50 and PRESETS["paper"].codebook_size == 8192


def test_logits_cover_the_real_codes_only():
    tokens = torch.randint(TINY.vocab_size, (3, 7))
    logits = _model()(tokens, *_text(3), torch.zeros(3, dtype=torch.bool))
    assert logits.shape == (3, 7, 16)


def test_too_many_tokens_is_an_error():
    with pytest.raises(ValueError, match="maximum of 10"):
        _model()(torch.zeros(1, 11, dtype=torch.long), *_text(1), torch.zeros(1, dtype=torch.bool))


def test_pad_tokens_do_not_change_the_real_positions():
    model, text, keep = _model(), _text(1), torch.zeros(1, dtype=torch.bool)
    short = model(_sequence(4, 5), *text, keep)  # codes + END only
    padded = model(_sequence(4, 10), *text, keep)
    torch.testing.assert_close(padded[:, :5], short, atol=1e-5, rtol=1e-5)


def test_word_padding_does_not_change_the_output():
    model, keep = _model(), torch.zeros(2, dtype=torch.bool)
    sentence, words, mask = _text(2, words=4)
    tokens = torch.randint(16, (2, 6))
    base = model(tokens, sentence, words, mask, keep)
    more = torch.cat([words, 100 * torch.randn(2, 3, 384)], dim=1)
    more_mask = torch.cat([mask, torch.zeros(2, 3, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(model(tokens, sentence, more, more_mask, keep), base, atol=1e-5, rtol=1e-5)


def test_dropped_text_is_the_same_null_condition_whatever_the_text():
    model, tokens = _model(), torch.randint(16, (2, 6))
    drop = torch.ones(2, dtype=torch.bool)
    a = model(tokens, *_text(2, words=5, seed=1), drop)
    b = model(tokens, *_text(2, words=3, seed=2), drop)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    conditioned = model(tokens, *_text(2, words=5, seed=1), ~drop)
    assert not torch.allclose(a, conditioned)


def test_drop_text_is_per_row():
    model, tokens, text = _model(), torch.randint(16, (2, 6)), _text(2)
    mixed = model(tokens, *text, torch.tensor([True, False]))
    torch.testing.assert_close(mixed[0], model(tokens, *text, torch.tensor([True, True]))[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mixed[1], model(tokens, *text, torch.tensor([False, False]))[1], atol=1e-5, rtol=1e-5)


def test_gradients_reach_every_parameter():
    model = MaskedTransformer(TINY).train()
    tokens = torch.randint(TINY.vocab_size - 1, (2, 6))  # no PAD
    model(tokens, *_text(2), torch.tensor([True, False])).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


KEYED = dataclasses.replace(TINY, root_keys=True, code_dim=4)


def _keyed() -> MaskedTransformer:
    torch.manual_seed(0)
    model = MaskedTransformer(KEYED).eval()
    model.codebook.copy_(torch.nn.functional.normalize(torch.randn(KEYED.codebook_size, 4), dim=-1))
    return model


def test_no_root_keys_is_the_same_as_zero_keys_and_a_key_changes_the_prediction():
    model, seq = _keyed(), _sequence(6, 8)
    seq[0, 2:5] = KEYED.mask_id
    keys = torch.zeros(1, 8, ROOT_KEY_DIM)
    plain = model(seq, *_text(1), torch.zeros(1, dtype=torch.bool))
    torch.testing.assert_close(plain, model(seq, *_text(1), torch.zeros(1, dtype=torch.bool), keys=keys))
    keys[0, 5] = torch.tensor([0.0, 0.5, 0.0, 1.0, 1.0])  # the root 2 m ahead at token 5
    keyed = model(seq, *_text(1), torch.zeros(1, dtype=torch.bool), keys=keys)
    assert (keyed[0, 2:5] - plain[0, 2:5]).abs().max() > 1e-3  # the masked tokens before it see it


def test_a_model_without_root_keys_refuses_them():
    with pytest.raises(ValueError, match="no root keys"):
        _model()(_sequence(3, 5), *_text(1), torch.zeros(1, dtype=torch.bool), keys=torch.zeros(1, 5, ROOT_KEY_DIM))


def test_codes_with_the_same_codebook_vector_start_with_nearly_the_same_embedding_and_logit():
    model = _keyed()
    model.codebook[3] = model.codebook[7]
    with torch.no_grad():  # the learned parts start small (std 0.02); the codebook parts are what differ
        model.tok_emb.weight.zero_()
        model.head.weight.zero_()
    seq_a, seq_b = _sequence(6, 8), _sequence(6, 8)
    seq_a[0, 1], seq_b[0, 1] = 3, 7
    seq_c = _sequence(6, 8)
    seq_c[0, 1] = 11
    out = [model(s, *_text(1), torch.zeros(1, dtype=torch.bool)) for s in (seq_a, seq_b, seq_c)]
    torch.testing.assert_close(out[0], out[1])
    assert (out[0] - out[2]).abs().max() > 1e-4
    torch.testing.assert_close(out[0][..., 3], out[0][..., 7])  # same codebook vector, same logit


def test_rotary_attention_scores_depend_on_the_offset_between_tokens_only():
    from app.engine.models.masked_transformer import _rotate, rotary_tables

    cos, sin = rotary_tables(20, 8)
    q, k = torch.randn(8), torch.randn(8)

    def placed(x: torch.Tensor, at: int) -> torch.Tensor:
        seq = torch.zeros(1, 1, 20, 8)
        seq[0, 0, at] = x
        return _rotate(seq, cos, sin)[0, 0, at]

    near = placed(q, 2) @ placed(k, 5)
    torch.testing.assert_close(placed(q, 11) @ placed(k, 14), near)  # same offset, same score
    assert not torch.allclose(placed(q, 11) @ placed(k, 15), near)  # another offset, another score


def test_rotary_model_sees_order_where_the_plain_one_needs_learnt_positions():
    torch.manual_seed(0)
    rotary = MaskedTransformer(dataclasses.replace(TINY, rotary=True)).eval()
    with torch.no_grad():
        rotary.pos_emb.zero_()  # no absolute positions: only the rotary offsets can tell the order
    text, keep = _text(1), torch.zeros(1, dtype=torch.bool)
    seq = torch.tensor([[1, 2, TINY.mask_id, 3, 4, TINY.end_id]])
    swapped = torch.tensor([[2, 1, TINY.mask_id, 3, 4, TINY.end_id]])
    assert not torch.allclose(rotary(seq, *text, keep)[0, 2], rotary(swapped, *text, keep)[0, 2])
    assert not rotary.state_dict().keys() & {"rotary_cos", "rotary_sin"}  # derived, never saved
    plain = MaskedTransformer(TINY).eval()
    assert plain.state_dict().keys() == rotary.state_dict().keys()  # old checkpoints load into either
    with torch.no_grad():
        plain.pos_emb.zero_()
    torch.testing.assert_close(plain(seq, *text, keep)[0, 2], plain(swapped, *text, keep)[0, 2])
