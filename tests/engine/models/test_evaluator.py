import pytest
import torch

from app.engine.models.evaluator import EvaluatorConfig, TextMotionEvaluator

CFG = EvaluatorConfig(hidden=32, embed_dim=16, motion_layers=1, text_layers=1, heads=2)


@pytest.fixture(scope="module")
def model() -> TextMotionEvaluator:
    torch.manual_seed(0)
    return TextMotionEvaluator(CFG).eval()


def test_shapes_and_unit_norm(model):
    motion = model.encode_motion(torch.randn(3, 48, CFG.feature_dim), torch.tensor([48, 40, 8]))
    mask = torch.zeros(3, 7, dtype=torch.bool)
    mask[:, :4] = True
    text = model.encode_text(torch.randn(3, 7, CFG.text_dim), mask, torch.randn(3, CFG.text_dim))
    assert motion.shape == text.shape == (3, CFG.embed_dim)
    torch.testing.assert_close(motion.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(3))


def test_motion_padding_does_not_change_the_embedding(model):
    torch.manual_seed(1)
    short, long = torch.randn(40, CFG.feature_dim), torch.randn(120, CFG.feature_dim)
    alone = model.encode_motion(short[None], torch.tensor([40]))
    batch = torch.full((2, 120, CFG.feature_dim), 7.0)  # garbage past the short motion's end
    batch[0, :40], batch[1] = short, long
    together = model.encode_motion(batch, torch.tensor([40, 120]))
    torch.testing.assert_close(together[0], alone[0], atol=1e-5, rtol=1e-4)


def test_text_padding_does_not_change_the_embedding(model):
    torch.manual_seed(2)
    tokens, sentence = torch.randn(1, 5, CFG.text_dim), torch.randn(1, CFG.text_dim)
    alone = model.encode_text(tokens, torch.ones(1, 5, dtype=torch.bool), sentence)
    padded = torch.cat([tokens, torch.randn(1, 11, CFG.text_dim)], dim=1)
    mask = torch.zeros(1, 16, dtype=torch.bool)
    mask[:, :5] = True
    torch.testing.assert_close(model.encode_text(padded, mask, sentence), alone, atol=1e-5, rtol=1e-4)


def test_eval_mode_is_deterministic_and_train_mode_uses_dropout(model):
    x, lengths = torch.randn(2, 64, CFG.feature_dim), torch.tensor([64, 32])
    torch.testing.assert_close(model.encode_motion(x, lengths), model.encode_motion(x, lengths), atol=0, rtol=0)
    model.train()
    try:
        assert not torch.equal(model.encode_motion(x, lengths), model.encode_motion(x, lengths))
    finally:
        model.eval()


def test_embeddings_depend_on_the_input(model):
    x = torch.randn(2, 64, CFG.feature_dim)
    e = model.encode_motion(x, torch.tensor([64, 64]))
    assert not torch.allclose(e[0], e[1])
