import numpy as np
import torch

from app.engine.features import features_from_positions
from app.engine.left_right import PROMPTS, judged_side, left_right_accuracy
from app.engine.skeleton import BANDAI_NAMCO_21 as SKELETON

FRAMES = 60


def _rest() -> np.ndarray:
    """A standing rest pose facing +Z, (FRAMES, J, 3)."""
    eye = torch.eye(3, dtype=torch.float64).expand(FRAMES, 21, 3, 3)
    rest = SKELETON.forward_kinematics(torch.zeros(FRAMES, 3, dtype=torch.float64), eye).numpy()
    rest[..., 1] += 0.94
    return rest


def _features(positions: np.ndarray) -> np.ndarray:
    return features_from_positions(torch.from_numpy(positions), SKELETON).numpy().astype(np.float32)


def _waving_left_hand() -> np.ndarray:
    p = _rest()
    t = np.arange(FRAMES) / 20.0
    p[:, SKELETON.index("Hand_L"), 1] += 0.3 + 0.15 * np.sin(2 * np.pi * 1.5 * t)
    p[:, SKELETON.index("Hand_R"), 1] += 0.01 * np.sin(2 * np.pi * 0.5 * t)
    return p


def _stepping_left() -> np.ndarray:
    p = _rest()
    p[..., 0] += np.linspace(0, 1.0, FRAMES)[:, None]  # the whole body slides 1 m along +X: its left
    return p


def test_the_hand_that_moves_is_the_side_and_mirroring_swaps_it():
    wave = _waving_left_hand()
    assert judged_side(_features(wave), SKELETON, "hands") == "left"
    assert judged_side(_features(SKELETON.mirror_positions(wave)), SKELETON, "hands") == "right"


def test_travel_across_the_starting_heading_is_the_side():
    step = _stepping_left()
    assert judged_side(_features(step), SKELETON, "travel") == "left"
    assert judged_side(_features(SKELETON.mirror_positions(step)), SKELETON, "travel") == "right"


def test_accuracy_counts_both_sides_of_every_prompt():
    left = {"hands": _features(_waving_left_hand()), "travel": _features(_stepping_left())}
    right = {k: _features(SKELETON.mirror_positions(p)) for k, p in
             (("hands", _waving_left_hand()), ("travel", _stepping_left()))}
    by = {template.format(side=s): (kind, s) for template, kind in PROMPTS for s in ("left", "right")}

    def always_right(prompt: str, seed: int) -> np.ndarray:  # follows the prompt
        kind, side = by[prompt]
        return (left if side == "left" else right)[kind]

    def always_left(prompt: str, seed: int) -> np.ndarray:  # ignores the side
        return left[by[prompt][0]]

    assert left_right_accuracy(always_right, SKELETON, seeds=2)["all"] == 1.0
    scores = left_right_accuracy(always_left, SKELETON, seeds=2)
    assert scores["all"] == 0.5 and scores["a person waves his left/right hand"] == 0.5
