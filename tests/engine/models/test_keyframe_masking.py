import numpy as np
import torch

from app.engine.models.keyframe_masking import keyframe_mask, keyframe_scores, token_density

UNIT = 4


def _motion(bursts: dict[range, float], tokens: int = 16, dims: int = 12) -> np.ndarray:
    """A held pose with oscillating bursts: frames in each range shake with the given amplitude."""
    x = np.zeros((tokens * UNIT, dims), np.float32)
    for frames, amplitude in bursts.items():
        for t in frames:
            x[t] = amplitude * np.sin(np.arange(dims) + 2.0 * t)
    return x


def test_the_token_where_the_motion_happens_is_the_densest():
    density = token_density(_motion({range(36, 40): 1.0}), UNIT)  # token 9 shakes, the rest holds still
    assert density.shape == (16,) and int(density.argmax()) == 9
    assert density[0] == 0 and density[15] == 0


def test_key_frames_are_density_peaks_not_the_neighbours_of_one_burst():
    # a long burst over tokens 2-4 (strongest at 3) and a weaker short one at token 11
    x = _motion({range(8, 12): 1.0, range(12, 16): 1.2, range(16, 20): 1.0, range(44, 48): 0.7})
    density = torch.from_numpy(token_density(x, UNIT))[None]
    real = torch.ones_like(density, dtype=torch.bool)
    assert set(density[0].topk(2).indices.tolist()) <= {2, 3, 4}  # plain density would take one burst twice
    assert set(keyframe_scores(density, real)[0].topk(2).indices.tolist()) == {3, 11}


def test_the_densest_tokens_are_masked_first_and_the_rest_at_random():
    density = torch.from_numpy(token_density(_motion({range(36, 40): 1.0}), UNIT))[None].repeat(2, 1)
    real = torch.ones(2, 16, dtype=torch.bool)
    real[1, 12:] = False  # row 1 is a shorter motion: PAD from token 12
    scores = keyframe_scores(density, real)
    only_key = keyframe_mask(scores, real, torch.tensor([1, 1]), 1.0, torch.Generator().manual_seed(0))
    assert only_key[:, 9].all() and only_key.sum() == 2
    picks = []
    for seed in range(20):
        masked = keyframe_mask(scores, real, torch.tensor([6, 6]), 0.5, torch.Generator().manual_seed(seed))
        assert masked.sum(1).tolist() == [6, 6] and masked[:, 9].all() and not masked[1, 12:].any()
        picks.append(tuple(masked[0].nonzero().flatten().tolist()))
    assert len(set(picks)) > 10  # the other half is random
