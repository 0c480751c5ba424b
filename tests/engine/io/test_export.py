"""BVH export: generated positions drive the rig exactly, the file reads back (also with an independent reader)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from app.engine.data.bandai_namco import take_positions
from app.engine.io.bvh import read_bvh
from app.engine.io.export import export_bvh, positions_to_bvh
from app.engine.skeleton import BANDAI_NAMCO_21, SMPL_22, Skeleton

MM = 1e-3


def fk_positions(skeleton: Skeleton, frames: int, seed: int, spread: float = np.pi) -> np.ndarray:
    """Positions (frames, J, 3) in metres of the skeleton's rig under random rotations and root motion."""
    rng = np.random.default_rng(seed)
    rotvecs = rng.normal(size=(frames, skeleton.n_joints, 3)) * spread / 3
    local = torch.from_numpy(Rotation.from_rotvec(rotvecs.reshape(-1, 3)).as_matrix().reshape(frames, -1, 3, 3))
    root = torch.from_numpy(rng.normal(size=(frames, 3)) + [0.0, 1.0, 0.0])
    return skeleton.forward_kinematics(root, local).numpy()


def read_back(path: Path, skeleton: Skeleton = BANDAI_NAMCO_21, units_per_metre: float = 100.0) -> np.ndarray:
    """World positions in metres, in the skeleton's joint order (files list joints depth first)."""
    bvh = read_bvh(path)
    order = [bvh.names.index(name) for name in skeleton.joint_names]
    return bvh.world_positions()[:, order] / units_per_metre


@pytest.mark.parametrize("skeleton", [BANDAI_NAMCO_21, SMPL_22], ids=lambda s: s.name)
@pytest.mark.parametrize("units, per_metre", [("cm", 100.0), ("m", 1.0)])
def test_fk_positions_round_trip_through_the_file(tmp_path, skeleton, units, per_metre):
    positions = fk_positions(skeleton, 40, seed=1)
    export_bvh(positions, skeleton, tmp_path / "take.bvh", units=units)
    back = read_back(tmp_path / "take.bvh", skeleton, per_metre)
    assert back.shape == positions.shape
    assert np.abs(back - positions).max() < 1e-5  # only the file's 6 decimals are lost


def test_hierarchy_has_rest_offsets_end_sites_and_channels():
    bvh = positions_to_bvh(fk_positions(BANDAI_NAMCO_21, 3, seed=2), BANDAI_NAMCO_21)
    assert bvh.names == list(BANDAI_NAMCO_21.joint_names)
    np.testing.assert_allclose(bvh.offsets[1:], BANDAI_NAMCO_21.offsets[1:] * 100.0)
    assert bvh.joints[0].channels == ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]
    assert all(j.channels == ["Zrotation", "Xrotation", "Yrotation"] for j in bvh.joints[1:])
    ends = {j for j, joint in enumerate(bvh.joints) if joint.end_site is not None}
    assert ends == set(BANDAI_NAMCO_21.end_sites)
    assert bvh.frame_time == pytest.approx(1 / 20)


def test_real_bandai_namco_take_round_trips(tmp_path, bandai_namco_sample):
    source = bandai_namco_sample / "dataset-2_walk_normal_001.bvh"
    positions = take_positions(source.read_text(), source.name)
    export_bvh(positions, BANDAI_NAMCO_21, tmp_path / "walk.bvh")
    # the take's own offsets differ from the rig's by float rounding only (left and right made equal)
    assert np.abs(read_back(tmp_path / "walk.bvh") - positions).max() < 1 * MM


def test_bone_length_deviation_becomes_the_position_error():
    """A forearm 1 cm too long: the elbow stays exact, the hand lands 1 cm short along the exact direction."""
    positions = fk_positions(BANDAI_NAMCO_21, 10, seed=3)
    elbow, hand = BANDAI_NAMCO_21.index("LowerArm_L"), BANDAI_NAMCO_21.index("Hand_L")
    bone = positions[:, hand] - positions[:, elbow]
    positions[:, hand] += 0.01 * bone / np.linalg.norm(bone, axis=-1, keepdims=True)
    back = positions_to_bvh(positions, BANDAI_NAMCO_21).world_positions() / 100.0
    assert np.abs(back[:, elbow] - positions[:, elbow]).max() < 1e-9
    np.testing.assert_allclose(np.linalg.norm(back[:, hand] - positions[:, hand], axis=-1), 0.01, atol=1e-9)


def test_turning_around_keeps_euler_curves_continuous(tmp_path):
    frames = 120
    base = fk_positions(BANDAI_NAMCO_21, 1, seed=4, spread=0.3)[0]
    base[:, [0, 2]] -= base[0, [0, 2]]
    angles = np.linspace(0.0, 2 * np.pi, frames)  # one full turn about Y
    turn = Rotation.from_euler("y", angles[:, None]).as_matrix()  # (frames, 3, 3)
    positions = np.einsum("fij,nj->fni", turn, base)
    export_bvh(positions, BANDAI_NAMCO_21, tmp_path / "turn.bvh")
    bvh = read_bvh(tmp_path / "turn.bvh")
    rotation_columns = [bvh.channel_slice(j).start + c for j, joint in enumerate(bvh.joints)
                        for c, channel in enumerate(joint.channels) if channel.endswith("rotation")]
    curves = bvh.motion[:, rotation_columns]
    assert np.abs(np.diff(curves, axis=0)).max() < 30.0
    assert np.abs(read_back(tmp_path / "turn.bvh") - positions).max() < 1 * MM


def test_frame_range_and_frame_rate(tmp_path):
    positions = fk_positions(BANDAI_NAMCO_21, 200, seed=5)
    export_bvh(positions, BANDAI_NAMCO_21, tmp_path / "part.bvh", frame_range=(50, 150))
    assert np.abs(read_back(tmp_path / "part.bvh") - positions[50:150]).max() < 1e-5

    smooth = fk_positions(BANDAI_NAMCO_21, 1, seed=6, spread=0.3) + np.linspace(0, 2, 21)[:, None, None] * [0, 0, 1]
    export_bvh(smooth, BANDAI_NAMCO_21, tmp_path / "60fps.bvh", fps=20.0, out_fps=60.0)
    bvh = read_bvh(tmp_path / "60fps.bvh")
    assert bvh.fps == pytest.approx(60.0) and bvh.n_frames == 61  # the same second, three times as dense
    back = bvh.world_positions() / 100.0
    assert np.abs(back[::3] - smooth).max() < 1e-5
    np.testing.assert_allclose(back[1::3, 0, 2], (smooth[:-1, 0, 2] * 2 + smooth[1:, 0, 2]) / 3, atol=1e-5)


@pytest.mark.parametrize("frame_range, message", [
    ((250, 260), "frame 250 is outside the take (0–199)"),
    ((-1, 10), "frame -1 is outside the take (0–199)"),
    ((10, 201), "frame 200 is outside the take (0–199)"),
    ((20, 20), "is empty"),
])
def test_bad_frame_range_names_the_take(tmp_path, frame_range, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        export_bvh(fk_positions(BANDAI_NAMCO_21, 200, seed=7), BANDAI_NAMCO_21, tmp_path / "x.bvh",
                   frame_range=frame_range)
    assert not (tmp_path / "x.bvh").exists()


def test_bad_positions_are_refused(tmp_path):
    positions = fk_positions(BANDAI_NAMCO_21, 5, seed=8)
    positions[2, 3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        positions_to_bvh(positions, BANDAI_NAMCO_21)
    with pytest.raises(ValueError, match="shape"):
        positions_to_bvh(positions[:, :20], BANDAI_NAMCO_21)
    with pytest.raises(ValueError, match="units"):
        positions_to_bvh(fk_positions(BANDAI_NAMCO_21, 5, seed=8), BANDAI_NAMCO_21, units="inch")


# -- an independent reader: a minimal BVH parser and FK written here, Euler angles by scipy ----------------------

def independent_world_positions(text: str) -> dict[str, np.ndarray]:
    """Joint name -> (frames, 3) by the textbook definition: world = parent_world @ T(offset or position) @ R(euler)."""
    tokens = text.split()
    joints: list[dict] = []  # name, parent, offset, channels
    stack: list[int] = []
    i, last = 0, -1
    while tokens[i] != "MOTION":
        token = tokens[i]
        if token in ("ROOT", "JOINT"):
            joints.append({"name": tokens[i + 1], "parent": stack[-1] if stack else -1, "channels": []})
            last, i = len(joints) - 1, i + 2
        elif token == "End":
            last, i = -1, i + 2  # an End Site's offset moves no joint
        elif token == "{":
            stack.append(last)
            i += 1
        elif token == "}":
            stack.pop()
            i += 1
        elif token == "OFFSET":
            if last >= 0:
                joints[last]["offset"] = np.array([float(v) for v in tokens[i + 1:i + 4]])
            i += 4
        elif token == "CHANNELS":
            n = int(tokens[i + 1])
            joints[last]["channels"] = tokens[i + 2:i + 2 + n]
            i += 2 + n
        else:
            i += 1
    stack_parents = [j["parent"] for j in joints]
    n_frames = int(tokens[i + 2])
    values = np.array([float(v) for v in tokens[i + 6:]]).reshape(n_frames, -1)
    out = np.zeros((n_frames, len(joints), 3))
    for f in range(n_frames):
        column, world = 0, []
        for j, joint in enumerate(joints):
            channels = joint["channels"]
            frame = dict(zip(channels, values[f, column:column + len(channels)]))
            column += len(channels)
            translation = joint["offset"].copy()
            for axis, k in zip("XYZ", range(3)):
                translation[k] = frame.get(f"{axis}position", translation[k])
            axes = "".join(c[0] for c in channels if c.endswith("rotation"))
            rotation = Rotation.from_euler(axes, [frame[f"{a}rotation"] for a in axes], degrees=True)  # intrinsic
            matrix = np.eye(4)
            matrix[:3, :3], matrix[:3, 3] = rotation.as_matrix(), translation
            world.append(matrix if stack_parents[j] < 0 else world[stack_parents[j]] @ matrix)
            out[f, j] = world[-1][:3, 3]
    return {joint["name"]: out[:, j] for j, joint in enumerate(joints)}


@pytest.mark.parametrize("skeleton", [BANDAI_NAMCO_21, SMPL_22], ids=lambda s: s.name)
def test_independent_reader_agrees(tmp_path, skeleton):
    positions = fk_positions(skeleton, 15, seed=9)
    export_bvh(positions, skeleton, tmp_path / "take.bvh")
    by_name = independent_world_positions((tmp_path / "take.bvh").read_text())
    back = np.stack([by_name[name] for name in skeleton.joint_names], axis=1) / 100.0
    assert np.abs(back - positions).max() < 1 * MM
