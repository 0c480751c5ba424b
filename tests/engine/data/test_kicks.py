"""Kicks cut out of martial arts takes: found where a foot stays above the hips, on synthetic and real takes."""
import tarfile
from pathlib import Path

import numpy as np
import torch

from app.engine.data.extra import assign_splits, cmu_motions
from app.engine.data.kicks import CONTEXT_FRAMES, KICK_HALF, MIN_UP, Kick, context_window, kicks
from app.engine.skeleton import BANDAI_NAMCO_21

EXTRA = Path(__file__).resolve().parents[3].parent / "shared/data/extra"
if not EXTRA.exists():  # a worktree under /work/wt: the shared folder sits beside the main checkout
    EXTRA = Path("/work/shared/data/extra")
SK = BANDAI_NAMCO_21


def _standing(n_frames: int) -> np.ndarray:
    """The rest pose on the floor, (n_frames, J, 3)."""
    eye = torch.eye(3, dtype=torch.float64).expand(SK.n_joints, 3, 3)
    rest = SK.forward_kinematics(torch.zeros(3, dtype=torch.float64), eye).numpy()
    rest[:, 1] -= rest[[*SK.foot_left, *SK.foot_right], 1].min()
    return np.repeat(rest[None], n_frames, axis=0)


def _lift(p: np.ndarray, foot: tuple[int, ...], frames: range) -> None:
    for t in frames:
        p[t, list(foot), 1] = p[t, 0, 1] + 0.1 + 0.01 * (t - frames.start)  # highest on the run's last frame


def test_a_foot_above_the_hips_for_a_few_frames_is_a_kick_with_its_side_and_window():
    p = _standing(200)
    _lift(p, SK.foot_right, range(30, 30 + MIN_UP + 2))
    _lift(p, SK.foot_left, range(150, 150 + MIN_UP))
    _lift(p, SK.foot_left, range(100, 100 + MIN_UP - 1))  # too short: a glitch, not a kick
    found = kicks(p, SK)
    assert [(k.side, k.apex) for k in found] == [("right", 34), ("left", 152)]
    assert (found[0].start, found[0].end) == (34 - KICK_HALF, 34 + KICK_HALF + 1)
    assert (found[1].start, found[1].end) == (152 - KICK_HALF, 152 + KICK_HALF + 1)
    edge = _standing(40)
    _lift(edge, SK.foot_left, range(0, MIN_UP))
    assert [(k.start, k.end) for k in kicks(edge, SK)] == [(0, MIN_UP - 1 + KICK_HALF + 1)]  # clipped to the take
    assert kicks(_standing(50), SK) == []


def test_a_kicks_take_length_window_is_centred_on_it_and_shifted_inside_the_take():
    def kick(apex: int) -> Kick:
        return Kick(apex, "left", apex - KICK_HALF, apex + KICK_HALF + 1)

    assert context_window(kick(100), 300) == (100 - CONTEXT_FRAMES // 2, 100 + CONTEXT_FRAMES // 2)
    assert context_window(kick(10), 300) == (0, CONTEXT_FRAMES)  # near the start: the window starts with the take
    assert context_window(kick(290), 300) == (300 - CONTEXT_FRAMES, 300)
    assert context_window(kick(50), CONTEXT_FRAMES) == (0, CONTEXT_FRAMES)
    assert context_window(kick(50), CONTEXT_FRAMES - 1) is None  # a take shorter than the window gives none


def test_a_martial_arts_routine_gives_its_kicks_first_and_is_held_out_among_the_kicks(tmp_path):
    with tarfile.open(EXTRA / "cmu-dance.tar.xz") as tar:  # a routine of four high kicks, right and left in turn
        tar.extract("cmu-dance/train_data_bvh/martial/07.bvh", tmp_path, filter="data")
    motions = list(cmu_motions(tmp_path / "cmu-dance/train_data_bvh", {}, {}))
    kick_motions = motions[:4]
    assert [m.parts for m in kick_motions] == [["kick right"], ["kick left"], ["kick right"], ["kick left"]]
    assert [m.name for m in motions[:4]] == [f"martial_07_kick{i}" for i in range(4)]
    in_takes = motions[4:8]  # each kick again in a take-length window, naming every kick it holds
    assert [m.name for m in in_takes] == [f"martial_07_kick{i}_take" for i in range(4)]
    assert all(len(m.positions) == CONTEXT_FRAMES for m in in_takes)
    assert all(k.parts[0] in m.parts and len(m.parts) >= 2 for m, k in zip(in_takes, kick_motions))  # 2-3 s apart
    assert [m.action for m in in_takes] == ["kick"] * 4
    routine = motions[8:]  # its windows name the kicks inside them, in order, so a kick is also learnt in context
    assert [m.parts for m in routine] == [["kick right", "kick left"], ["kick right", "kick left"]]
    assert [m.action for m in routine] == ["kick", "kick"]
    assert {m.take for m in motions} == {"martial_07"}
    for m in kick_motions:  # each window starts on the floor at the origin and lifts a foot above the hips
        assert 2 * KICK_HALF - 5 <= len(m.positions) <= 2 * KICK_HALF + 1
        assert np.allclose(m.positions[0, 0, [0, 2]], 0.0, atol=1e-4)
        foot = SK.foot_right if m.parts == ["kick right"] else SK.foot_left
        assert (m.positions[:, list(foot), 1].max(axis=1) - m.positions[:, 0, 1]).max() > 0.2
    others = [m.__class__(f"k{i}_w0", "test", f"k{i}", "kick", ["kick"], m.positions) for i, m in enumerate(motions[:2])]
    split = assign_splits(motions + others)  # three takes whose first motion kicks: one is held out
    assert sorted(split[t] for t in ("martial_07", "k0", "k1")) == ["test", "train", "train"]  # none to validation
