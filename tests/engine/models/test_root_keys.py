import numpy as np
import pytest
import torch

from app.engine.features import positions_from_features
from app.engine.models.masked_transformer import ROOT_KEY_SCALE
from app.engine.models.root_keys import root_keys


def _walk(frames: int, speed: float, turn_deg_per_frame: float = 0.0) -> np.ndarray:
    """Root features (T, 4) of a walk at `speed` m/s (20 fps), turning at a constant rate."""
    f = np.zeros((frames, 4))
    f[:, 0] = np.radians(turn_deg_per_frame) / 2  # HumanML3D's half-angle root angular velocity
    f[:, 2] = speed / 20  # forward, in the heading frame
    f[:, 3] = 0.9
    return f


def test_a_straight_walk_has_keys_along_plus_z_facing_forward():
    keys = root_keys(_walk(40, 1.2), 4, np.ones(10, bool))
    assert keys.shape == (10, 5)
    np.testing.assert_allclose(keys[:, 1] * ROOT_KEY_SCALE, 1.2 / 20 * 4 * np.arange(10), atol=1e-6)
    np.testing.assert_allclose(keys[:, 0], 0, atol=1e-7)
    np.testing.assert_allclose(keys[:, 2:], np.tile([0.0, 1.0, 1.0], (10, 1)), atol=1e-6)


def test_keys_follow_the_recovered_root_of_a_turning_walk():
    f = np.zeros((80, 251))
    f[:, :4] = _walk(80, 1.0, turn_deg_per_frame=1.5)
    keys = root_keys(f, 4, np.ones(20, bool)).numpy()
    root = positions_from_features(f, 21)[::4, 0]  # (20, 3)
    np.testing.assert_allclose(keys[:, 0] * ROOT_KEY_SCALE, root[:, 0], atol=1e-5)
    np.testing.assert_allclose(keys[:, 1] * ROOT_KEY_SCALE, root[:, 2], atol=1e-5)
    heading = np.degrees(np.arctan2(keys[:, 2], keys[:, 3]))
    np.testing.assert_allclose(np.abs(np.diff(heading)), 1.5 * 4, atol=1e-4)  # 1.5° per frame
    travel = np.diff(root[:, [0, 2]], axis=0)
    travel /= np.linalg.norm(travel, axis=1, keepdims=True)
    # it walks where it faces: the heading at a token is between the travel before and after it
    np.testing.assert_allclose(keys[1:-1, 2:4], (travel[:-1] + travel[1:]) / 2, atol=0.02)
    assert abs(root[-1, 0]) > 1.0  # it really curved


def test_tokens_without_a_key_read_zeros():
    at = np.zeros(10, bool)
    at[[0, 7]] = True
    keys = root_keys(_walk(40, 1.0), 4, at)
    assert torch.count_nonzero(keys[~torch.from_numpy(at)]) == 0 and bool((keys[at, 4] == 1).all())


def test_too_few_frames_for_the_tokens_is_an_error():
    with pytest.raises(ValueError, match="need at least 37 frames"):
        root_keys(_walk(30, 1.0), 4, np.ones(10, bool))
