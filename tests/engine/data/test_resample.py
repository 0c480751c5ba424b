import numpy as np
import torch

from app.engine.data.resample import resample_animation
from app.engine.rotations import quat_to_matrix, y_rotation_quat


def test_resampling_a_constant_turn_keeps_its_angular_speed():
    frames = 31  # one second at 30 fps
    angles = torch.linspace(0, np.pi / 2, frames, dtype=torch.float64)  # 90 degrees per second
    rotations = quat_to_matrix(y_rotation_quat(angles))[:, None].numpy()  # (frames, 1, 3, 3)
    root = np.stack([np.linspace(0, 3, frames), np.zeros(frames), np.zeros(frames)], axis=1)
    root_out, rot_out = resample_animation(root, rotations, 30.0, 20.0)
    assert root_out.shape == (21, 3) and rot_out.shape == (21, 1, 3, 3)
    np.testing.assert_allclose(root_out[:, 0], np.linspace(0, 3, 21), atol=1e-12)
    expected = quat_to_matrix(y_rotation_quat(torch.linspace(0, np.pi / 2, 21, dtype=torch.float64)))[:, None].numpy()
    np.testing.assert_allclose(rot_out, expected, atol=1e-12)
