import torch

from app.engine.models.masked_transformer import MaskedTransformer, MaskedTransformerConfig
from app.engine.train.alignment import AlignmentHeads, alignment_loss, mirror_index

TINY = MaskedTransformerConfig(codebook_size=16, max_tokens=10, width=32, depth=1, heads=4, dropout=0.0)


def test_mirror_index_pairs_sided_captions_and_adds_missing_mirrors():
    table, mirror = mirror_index(["a man waves his left hand", "someone bows", "a man waves his right hand",
                                  "she turns left"])
    assert table[:4] == ["a man waves his left hand", "someone bows", "a man waves his right hand", "she turns left"]
    assert table[4:] == ["she turns right"] and mirror.tolist() == [2, -1, 0, 4]


def test_a_mirrored_caption_close_to_the_motion_raises_the_loss_and_none_leaves_it():
    g = torch.Generator().manual_seed(0)
    unit = lambda *s: torch.nn.functional.normalize(torch.randn(*s, generator=g), dim=-1)  # noqa: E731
    text, motion, labels, scale = unit(4, 8), unit(4, 8), torch.arange(4), torch.tensor(10.0)
    far, near = -motion, motion.clone()
    none = torch.zeros(4, dtype=torch.bool)
    base = alignment_loss(text, motion, far, none, labels, scale)
    assert torch.equal(base, alignment_loss(text, motion, near, none, labels, scale))
    every = torch.ones(4, dtype=torch.bool)
    assert alignment_loss(text, motion, near, every, labels, scale) > alignment_loss(text, motion, far, every, labels, scale) + 0.1


def _train(hard: bool) -> tuple[float, float, bool]:
    """-> similarity of the left wave's motion to the left and to the right caption after 60 steps, and whether
    the masked model's sentence projection changed. The captions differ by a small offset of their MiniLM vectors;
    the right caption is never a batch item, only (with `hard`) the left motion's mirrored negative."""
    torch.manual_seed(0)
    model, heads = MaskedTransformer(TINY), AlignmentHeads(TINY.width, 16)
    g = torch.Generator().manual_seed(1)
    base, side, bow = (torch.randn(384, generator=g) for _ in range(3))
    left, right = base + 0.2 * side, base - 0.2 * side
    codes = torch.tensor([[0, 1, 2, 3, 0, 1], [8, 9, 10, 11, 8, 9]])  # the left wave's codes, a bow's
    real = torch.ones_like(codes, dtype=torch.bool)
    opt = torch.optim.Adam([*model.parameters(), *heads.parameters()], lr=3e-3)

    def embed(*sentences: torch.Tensor) -> torch.Tensor:  # MiniLM words: the sentence vector three times
        s = torch.stack(sentences)
        return heads.embed_text(model, s, s[:, None].repeat(1, 3, 1), torch.ones(len(s), 3, dtype=torch.bool))

    before = model.sentence_proj.weight.detach().clone()
    for _ in range(60):
        loss = alignment_loss(embed(left, bow), heads.embed_motion(model, codes, real), embed(right, bow),
                              torch.tensor([hard, False]), torch.arange(2), heads.log_scale.exp())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        to_left, to_right = (embed(left, right) @ heads.embed_motion(model, codes[:1], real[:1])[0]).tolist()
    return to_left, to_right, not torch.equal(before, model.sentence_proj.weight)


def test_mirrored_hard_negatives_separate_left_from_right_through_the_models_own_text_projection():
    to_left, to_right, trained = _train(hard=True)
    assert trained and to_left > to_right + 0.2
    to_left, to_right, _ = _train(hard=False)  # without them the two sides stay as alike as their MiniLM vectors
    assert abs(to_left - to_right) < 0.05
