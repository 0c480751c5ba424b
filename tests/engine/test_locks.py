import numpy as np
import pytest

from app.engine.locks import impose_locks, lock_correction


def _smooth(x):
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def _reference(offsets, keys, n_frames, blend):
    """The module docstring, frame by frame: root offsets interpolated key to key (ramping up from frame 0 before
    the first key, held after the last), pose offsets fading over `blend` frames or the gap."""
    root, pose = offsets[:, :1], offsets - offsets[:, :1]
    out = np.zeros((n_frames,) + offsets.shape[1:])
    for t in range(n_frames):
        if t < keys[0]:
            w_root = _smooth(t / keys[0])
            w_pose = 1 - _smooth((keys[0] - t) / min(blend, keys[0]))
            out[t] = w_root * root[0] + w_pose * pose[0]
        elif t >= keys[-1]:
            out[t] = root[-1] + (1 - _smooth((t - keys[-1]) / blend)) * pose[-1]
        else:
            k = np.searchsorted(keys, t, side="right") - 1
            a, b = keys[k], keys[k + 1]
            u, r = _smooth((t - a) / (b - a)), min(blend, b - a)
            out[t] = ((1 - u) * root[k] + u * root[k + 1]
                      + (1 - _smooth((t - a) / r)) * pose[k] + (1 - _smooth((b - t) / r)) * pose[k + 1])
    return out


@pytest.mark.parametrize("trial", range(20))
def test_correction_is_the_documented_blend_and_exact_at_every_key(trial):
    rng = np.random.default_rng(trial)
    n_frames = int(rng.integers(2, 300))
    keys = np.sort(rng.choice(n_frames, int(rng.integers(1, min(n_frames, 40) + 1)), replace=False))
    offsets, blend = rng.normal(size=(len(keys), 21, 3)), int(rng.integers(1, 16))
    got = lock_correction(offsets, keys, n_frames, blend)
    np.testing.assert_allclose(got, _reference(offsets, keys, n_frames, blend), atol=1e-12)
    np.testing.assert_allclose(got[keys], offsets, atol=1e-12)  # root + (offset - root): exact to rounding


def test_impose_locks_puts_the_locked_poses_back_and_leaves_far_frames_to_the_root_shift():
    rng = np.random.default_rng(0)
    generated, keys = rng.normal(size=(120, 21, 3)), np.array([10, 60, 110])
    locked = generated[keys] + rng.normal(size=(3, 21, 3))
    out = impose_locks(generated, locked, keys)
    np.testing.assert_allclose(out[keys], locked, atol=1e-12)
    shift = out[35] - generated[35]  # 25 frames from either key: the pose part has faded, one offset for all joints
    np.testing.assert_allclose(shift, np.broadcast_to(shift[:1], shift.shape), atol=1e-12)


def test_keys_out_of_order_or_outside_the_take_are_refused():
    with pytest.raises(ValueError, match="increasing"):
        lock_correction(np.zeros((2, 3, 3)), [5, 5], 10)
    with pytest.raises(ValueError, match="0..9"):
        lock_correction(np.zeros((1, 3, 3)), [10], 10)
