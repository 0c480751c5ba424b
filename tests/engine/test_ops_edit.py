"""The editing verbs' contracts (exact locks, exact lower body, continuous root, determinism, argument errors),
on a real take and randomly initialised models: the contracts must hold whatever the model generates."""
from pathlib import Path

import numpy as np
import pytest
import torch

from app.engine import metrics
from app.engine.data.bandai_namco import take_positions
from app.engine.features import features_from_positions
from app.engine.models.length_predictor import LengthPredictor, LengthPredictorConfig
from app.engine.models.body_parts import body_part_dims
from app.engine.models.masked_transformer import MaskedTransformer, MaskedTransformerConfig
from app.engine.models.pipeline import TextToMotion
from app.engine.models.tokenizer import MotionTokenizer, TokenizerConfig
from app.engine.models.upper_editor import UpperBodyEditor
from app.engine.motion import Motion
from app.engine.ops import edit_upper, inbetween, long_sequence, regenerate
from app.engine.skeleton import BANDAI_NAMCO_21

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared/data/bandai-namco/sample"


def _take(name: str, frames: int) -> Motion:
    positions = take_positions((SAMPLE / f"{name}.bvh").read_text(), name)
    while len(positions) < frames + 1:  # loop short takes (features need one frame more)
        positions = np.concatenate([positions, positions[-1:] + (positions[1:] - positions[:1])[: frames]])
    return Motion(features_from_positions(positions[: frames + 1], BANDAI_NAMCO_21).astype(np.float32))


@pytest.fixture(scope="module")
def walk() -> Motion:
    return _take("dataset-2_walk_elderly_001", 120)


@pytest.fixture(scope="module")
def pipeline(walk) -> TextToMotion:
    torch.manual_seed(0)
    tokenizer = MotionTokenizer(TokenizerConfig(width=32, depth=1, codebook_size=16, code_dim=8)).eval()
    transformer = MaskedTransformer(MaskedTransformerConfig(codebook_size=16, width=32, depth=2, heads=4)).eval()
    length = LengthPredictor(LengthPredictorConfig(hidden=32)).eval()
    mean, std = walk.features.mean(0), walk.features.std(0) + 0.05
    return TextToMotion(tokenizer, transformer, length, mean, std)


@pytest.fixture(scope="module")
def editor(pipeline) -> UpperBodyEditor:
    torch.manual_seed(1)
    parts = [MotionTokenizer(TokenizerConfig(width=32, depth=1, codebook_size=16, code_dim=8, part=p)).eval()
             for p in ("upper", "lower")]
    cfg = MaskedTransformerConfig(codebook_size=16, width=32, depth=2, heads=4, cond_codebook_size=16)
    return UpperBodyEditor(*parts, MaskedTransformer(cfg).eval(), pipeline.mean, pipeline.std)


def _error_mm(a: Motion, b: Motion, frames) -> float:
    return 1000 * float(np.abs(a.positions[frames] - b.positions[frames]).max())


@pytest.mark.parametrize("keys", [[0, 60, 119], [0], [119], [40, 41], [5, 6, 7, 90], [0, 1, 118, 119]])
def test_inbetween_keeps_locked_frames_exact(pipeline, walk, keys):
    out = inbetween(walk, keys, "a person walks slowly", model=pipeline, steps=3, extend=True)
    assert out.n_frames == walk.n_frames
    assert _error_mm(out, walk, keys) < 0.01
    free = np.setdiff1d(np.arange(walk.n_frames), np.arange(min(keys) - 12, max(keys) + 13))
    if len(free):  # far from every key the motion is the model's, not the input's
        assert _error_mm(out, walk, free) > 10


def test_inbetween_fills_only_between_the_first_and_last_key(pipeline, walk):
    """Frames before the first key and after the last stay as they were, exactly; between them the model's."""
    out = inbetween(walk, [20, 60, 100], "a person jumps", model=pipeline, steps=3)
    assert _error_mm(out, walk, np.r_[0:21, 100:120]) < 0.01
    assert _error_mm(out, walk, np.r_[30:50]) > 10
    extended = inbetween(walk, [20, 60, 100], "a person jumps", model=pipeline, steps=3, extend=True)
    assert _error_mm(extended, walk, np.r_[0:8, 112:120]) > 10  # asked to extend: the ends are regenerated too


def test_inbetween_with_one_key_needs_extend(pipeline, walk):
    with pytest.raises(ValueError, match="between the first and the last key"):
        inbetween(walk, [60], "a person jumps", model=pipeline)
    with pytest.raises(ValueError, match="between the first and the last key"):
        inbetween(walk, [60, 61], "a person jumps", model=pipeline)


def test_regenerate_keeps_the_locked_keys_inside_the_range(pipeline, walk):
    """Keys at 20/60/100, selection 30–90: the key at 60 is kept exactly (it moved 376 mm before)."""
    out = regenerate(walk, (30, 91), "a person kicks", model=pipeline, steps=3, locked=[20, 60, 100])
    assert _error_mm(out, walk, [20, 60, 100]) < 0.01
    assert _error_mm(out, walk, np.r_[0:30, 91:120]) < 0.01
    assert _error_mm(out, walk, np.r_[38:50]) > 10
    with pytest.raises(ValueError, match="frame 130 is outside the take"):
        regenerate(walk, (30, 91), "a person kicks", model=pipeline, locked=[130])
    with pytest.raises(ValueError, match="every frame of 30–31 is locked"):
        regenerate(walk, (30, 32), "a person kicks", model=pipeline, locked=[30, 31])


def test_regenerate_and_inbetween_honour_the_takes_path_and_pins_where_they_change_the_take(pipeline, walk):
    from app.engine.constraints import Constraints, Pin, Waypoint

    root, hand = walk.positions[60, 0], walk.positions[45, BANDAI_NAMCO_21.index("Hand_R")]
    constraints = Constraints((Waypoint(float(root[0]) + 0.3, float(root[2]) + 0.2, 60),),
                              (Pin("Hand_R", 45, tuple(float(v) for v in hand + [0.1, 0.2, 0.0])),))
    out = regenerate(walk, (30, 91), "a person walks", model=pipeline, steps=3, constraints=constraints)
    assert _error_mm(out, walk, np.r_[0:30, 91:120]) < 0.05
    steps = np.linalg.norm(np.diff(out.positions, axis=0), axis=-1).max(-1)  # (T-1,) largest joint move per frame
    assert np.r_[steps[27:33], steps[88:94]].max() <= 1.5 * np.percentile(steps, 95)  # no pop where the range ends
    assert np.abs(out.positions[60, 0, [0, 2]] - (root[[0, 2]] + [0.3, 0.2])).max() < 1e-3
    assert np.linalg.norm(out.positions[45, BANDAI_NAMCO_21.index("Hand_R")] - (hand + [0.1, 0.2, 0.0])) < 1e-3
    with pytest.raises(ValueError, match="frame 300 is outside the take"):
        regenerate(walk, (30, 91), "a person walks", model=pipeline, constraints=Constraints((Waypoint(1, 2, 300),)))
    out = inbetween(walk, [20, 100], "a person walks", model=pipeline, steps=3, constraints=constraints)
    assert _error_mm(out, walk, np.r_[0:21, 100:120]) < 0.05  # the keys and what lies outside them
    assert np.abs(out.positions[60, 0, [0, 2]] - (root[[0, 2]] + [0.3, 0.2])).max() < 1e-3


def test_edit_upper_keeps_the_locked_keys_inside_the_range(editor, walk):
    """Keys at 20/60/100, selection 30–90: the key at 60 keeps its whole pose, bit for bit (it moved 403 mm)."""
    out = edit_upper(walk, (30, 91), "a person waves both hands", model=editor, steps=3, locked=[20, 60, 100])
    np.testing.assert_array_equal(out.features[60], walk.features[60])
    assert _error_mm(out, walk, [20, 60, 100]) < 0.01
    upper = body_part_dims(21, BANDAI_NAMCO_21, "upper")
    change = np.abs(out.features[:, upper] - walk.features[:, upper]).max(1)  # (T,)
    assert change[40:52].max() > 0.05 and change[59] < change[55]  # edited, and eased into the key


def test_inbetween_has_no_pop_at_the_keys(pipeline, walk):
    """The correction fades in: frame-to-frame joint steps next to a key are no larger than elsewhere."""
    out = inbetween(walk, [30, 90], "someone walks", model=pipeline, steps=3).positions
    steps = np.linalg.norm(np.diff(out, axis=0), axis=-1).max(-1)  # (T-1,) largest joint move per frame
    near = np.concatenate([steps[27:33], steps[87:93]])
    assert near.max() <= 1.5 * np.percentile(steps, 95)


def test_inbetween_is_deterministic_for_a_seed(pipeline, walk):
    a = inbetween(walk, [0, 119], "a person jumps", seed=3, model=pipeline, steps=3)
    b = inbetween(walk, [0, 119], "a person jumps", seed=3, model=pipeline, steps=3)
    c = inbetween(walk, [0, 119], "a person jumps", seed=4, model=pipeline, steps=3)
    np.testing.assert_array_equal(a.features, b.features)
    assert not np.array_equal(a.features, c.features)


def test_inbetween_works_on_takes_longer_than_the_model_window(pipeline):
    long_take = _take("dataset-2_walk_elderly_001", 300)
    keys = [0, 100, 180, 299]
    out = inbetween(long_take, keys, "a person walks", model=pipeline, steps=2)
    assert out.n_frames == 300 and _error_mm(out, long_take, keys) < 0.01


def test_inbetween_refuses_a_gap_longer_than_the_window_in_a_long_take(pipeline):
    long_take = _take("dataset-2_walk_elderly_001", 300)
    with pytest.raises(ValueError, match="lock a key inside it"):
        inbetween(long_take, [0, 299], "a person walks", model=pipeline)


@pytest.mark.parametrize("keys, match", [([], "no locked frames"), ([0, 120], "frame 120 is outside the take"),
                                         ([-1], "frame -1 is outside")])
def test_inbetween_argument_errors(pipeline, walk, keys, match):
    with pytest.raises(ValueError, match=match):
        inbetween(walk, keys, "a person walks", model=pipeline)


def test_inbetween_refuses_an_empty_prompt(pipeline, walk):
    with pytest.raises(ValueError, match="empty prompt"):
        inbetween(walk, [0], "  ", model=pipeline)


def test_edit_upper_refuses_a_range_longer_than_the_window_in_a_long_take(editor):
    long_take = _take("dataset-2_walk_elderly_001", 300)
    with pytest.raises(ValueError, match="select fewer frames"):
        edit_upper(long_take, (0, 300), "a person waves", model=editor)
    out = edit_upper(long_take, (200, 280), "a person waves", model=editor, steps=2)
    lower = body_part_dims(21, BANDAI_NAMCO_21, "lower")
    np.testing.assert_array_equal(out.features[:, lower], long_take.features[:, lower])
    np.testing.assert_array_equal(out.features[:180], long_take.features[:180])


def test_regenerate_changes_only_the_range(pipeline, walk):
    out = regenerate(walk, (40, 80), "a person kicks", model=pipeline, steps=3)
    outside = np.r_[0:40, 80:120]
    assert _error_mm(out, walk, outside) < 0.01
    assert _error_mm(out, walk, np.r_[50:70]) > 10


@pytest.mark.parametrize("frame_range, match", [((50, 50), "empty"), ((60, 10), "empty"), ((0, 121), "outside"),
                                                ((-5, 10), "outside")])
def test_range_errors(pipeline, editor, walk, frame_range, match):
    with pytest.raises(ValueError, match=match):
        regenerate(walk, frame_range, "a person kicks", model=pipeline)
    with pytest.raises(ValueError, match=match):
        edit_upper(walk, frame_range, "a person waves", model=editor)


def test_edit_upper_keeps_the_lower_body_and_root_exact(editor, walk):
    out = edit_upper(walk, (30, 90), "a person waves both hands", model=editor, steps=3)
    lower = body_part_dims(21, BANDAI_NAMCO_21, "lower")
    np.testing.assert_array_equal(out.features[:, lower], walk.features[:, lower])
    lower_joints = sorted(set(range(21)) - set(BANDAI_NAMCO_21.upper_body) | {0})
    np.testing.assert_allclose(out.positions[:, lower_joints], walk.positions[:, lower_joints], atol=1e-6)
    upper = body_part_dims(21, BANDAI_NAMCO_21, "upper")
    outside = np.r_[0:30, 90:120]
    np.testing.assert_array_equal(out.features[outside][:, upper], walk.features[outside][:, upper])
    assert np.abs(out.features[40:80][:, upper] - walk.features[40:80][:, upper]).max() > 0.05


def test_exported_edit_upper_keeps_every_lower_body_joint_of_the_input_export(editor, walk, tmp_path):
    """The hips' rotation in the file comes from the hip joints only, so a new spine cannot turn the legs."""
    from app.engine.io.bvh import read_bvh
    from app.engine.io.export import export_bvh

    out = edit_upper(walk, (0, walk.n_frames), "a person bows deeply", model=editor, steps=3)

    def exported(motion: Motion, name: str) -> np.ndarray:
        export_bvh(motion.positions, BANDAI_NAMCO_21, tmp_path / name)
        bvh = read_bvh(tmp_path / name)
        return bvh.world_positions()[:, [bvh.names.index(n) for n in BANDAI_NAMCO_21.joint_names]] / 100.0

    before, after = exported(walk, "input.bvh"), exported(out, "edited.bvh")
    lower = sorted(BANDAI_NAMCO_21.lower_body)
    head = BANDAI_NAMCO_21.index("Head")
    assert np.abs(before[:, head] - after[:, head]).max() > 0.01  # the upper body did move (by more than a cm)
    assert 1000 * np.linalg.norm(before[:, lower] - after[:, lower], axis=-1).max() <= 0.01


def test_edit_upper_blends_at_the_range_edges(editor, walk):
    out = edit_upper(walk, (30, 90), "a person waves", model=editor, steps=3)
    upper = body_part_dims(21, BANDAI_NAMCO_21, "upper")
    change = np.abs(out.features[:, upper] - walk.features[:, upper]).max(1)  # (T,)
    assert change[30] < change[33] and change[89] < change[86]  # ramps in and out


def test_edit_upper_is_deterministic_for_a_seed(editor, walk):
    a = edit_upper(walk, (10, 50), "a person waves", seed=5, model=editor, steps=3)
    b = edit_upper(walk, (10, 50), "a person waves", seed=5, model=editor, steps=3)
    np.testing.assert_array_equal(a.features, b.features)


def test_long_sequence_has_every_frame_and_a_continuous_root(pipeline):
    segments = [("a person walks forward", 80), ("a person waves the right hand", 62), ("a person jumps", 41),
                ("a person sits down", 96)]
    out = long_sequence(segments, model=pipeline, steps=3)
    assert out.n_frames == sum(n for _, n in segments)
    root = out.positions[:, 0]  # (T, 3)
    step = np.linalg.norm(np.diff(root, axis=0), axis=-1)  # (T-1,)
    boundaries = np.cumsum([n for _, n in segments])[:-1]
    around = np.concatenate([step[b - 3 : b + 3] for b in boundaries])
    assert around.max() <= step.max() and np.isfinite(root).all()
    # one integrated trajectory: the take does not restart at the origin at each segment
    assert all(np.linalg.norm(root[b, [0, 2]] - root[b - 1, [0, 2]]) < 0.2 for b in boundaries)


def test_long_sequence_transitions_open_the_next_segment_and_leave_each_segments_end_its_own(pipeline, monkeypatch):
    calls, decoded = [], []
    fill, decode = pipeline.fill, pipeline.decode_features
    monkeypatch.setattr(pipeline, "fill", lambda texts, canvas, *a, **k: calls.append((texts, canvas.clone(), fill(
        texts, canvas, *a, **k))) or calls[-1][2])
    monkeypatch.setattr(pipeline, "decode_features", lambda seq: decoded.append(seq[0].clone()) or decode(seq))
    # tokens: walk 0-9, wave 10 (one token), turn 11-20
    long_sequence([("a person walks", 40), ("a person waves", 4), ("a person turns", 40)], seed=2, model=pipeline,
                  cleanup=False)
    (_, _, own), (texts, canvas, _) = calls
    sequence, mask = decoded[0], pipeline.transformer.config.mask_id
    assert texts == ["a person walks, then a person waves", "a person waves, then a person turns"]
    assert [int((row == mask).sum()) for row in canvas] == [1, 2]  # the next segment's first tokens, as many as it has
    assert torch.equal(sequence[:10], own[0][:10])  # the walk keeps every token to the boundary
    assert torch.equal(sequence[13:21], own[2][2:10])  # the turn keeps all but its two opening tokens


def test_a_kick_between_walks_in_a_long_take_kicks():
    """The shipped masked model: a 5 s kick segment between walks, seeds 0-2. Each segment decoded in one go, none
    kicked (the foot at most 0.02 body heights above the hips); grown around the kick decoded alone, the foot rises
    0.32-0.44 body heights above the hips (the kick rule: 0.146)."""
    from app.engine.action_rules import load_rules, measures
    from app.engine.models.pipeline import load_pipeline

    shipped, rule = load_pipeline(), load_rules()["kick"]
    for seed in range(3):
        take = long_sequence([("a person walks forward", 80), ("a person kicks", 100), ("a person walks forward", 80)],
                             seed=seed, model=shipped)
        assert rule.passes(measures(take.positions[88:180], take.skeleton)), seed  # after the transition's 8 frames


def test_long_sequence_is_deterministic_and_checks_its_segments(pipeline):
    segments = [("walk", 40), ("run", 40)]
    a = long_sequence(segments, seed=2, model=pipeline, steps=2)
    np.testing.assert_array_equal(a.features, long_sequence(segments, seed=2, model=pipeline, steps=2).features)
    with pytest.raises(ValueError, match="no segments"):
        long_sequence([], model=pipeline)
    with pytest.raises(ValueError, match="segment 2 .* needs at least 4"):
        long_sequence([("walk", 40), ("run", 3)], model=pipeline)
    with pytest.raises(ValueError, match="would have 12004 frames; at most 12000"):
        long_sequence([("walk", 6000), ("run", 6004)], model=pipeline)
    with pytest.raises(ValueError, match="empty prompt"):
        long_sequence([("walk", 40), ("", 40)], model=pipeline)


def test_a_long_take_segment_longer_than_the_window_is_made_whole(pipeline):
    motion = long_sequence([("walk", 40), ("run", 300), ("wave", 40)], seed=1, model=pipeline, steps=2)
    assert motion.n_frames == 380 and np.isfinite(motion.features).all()
    step = np.linalg.norm(np.diff(motion.positions[:, 0, [0, 2]], axis=0), axis=-1)  # ground travel per frame
    assert step.max() < 0.5  # the pieces of "run" join without a jump


def test_diffusion_inbetweening_keeps_locked_frames_exact(walk):
    from app.engine.models.diffusion_pipeline import load_diffusion_pipeline

    pipeline = load_diffusion_pipeline()  # the shipped checkpoint
    out = inbetween(walk, [0, 60, 119], "a person jumps", engine="diffusion", model=pipeline, steps=4)
    assert out.n_frames == walk.n_frames and _error_mm(out, walk, [0, 60, 119]) < 0.01
    assert _error_mm(out, walk, np.r_[20:40]) > 10
    # the decoded take is pulled to the keys smoothly: pasted into it, a key popped at 1,700-1,900 m/s^3 (seeds 0-3;
    # the walk itself peaks at 98, the in-between at 170-290 now)
    assert metrics.transition_jerk(out.positions, [60], 4)[0] < 700
    inner = inbetween(walk, [20, 60, 100], "a person jumps", engine="diffusion", model=pipeline, steps=4)
    assert _error_mm(inner, walk, np.r_[0:21, 100:120]) < 0.01  # only between the first and the last key
    with pytest.raises(ValueError, match="up to 196 frames"):
        inbetween(_take("dataset-2_walk_elderly_001", 300), [0, 299], "a person walks", engine="diffusion", model=pipeline)
    with pytest.raises(ValueError, match="unknown engine"):
        inbetween(walk, [0, 60], "a person walks", engine="nope")


def test_inbetween_tells_a_key_reading_model_where_the_root_stands_at_the_keys(pipeline, walk, monkeypatch):
    import dataclasses

    from app.engine.models.root_keys import root_keys

    torch.manual_seed(0)
    cfg = dataclasses.replace(pipeline.transformer.config, root_keys=True)
    keyed = dataclasses.replace(pipeline, transformer=MaskedTransformer(cfg).eval())
    seen = []
    fill = TextToMotion.fill
    monkeypatch.setattr(TextToMotion, "fill", lambda self, *a: seen.append(a[-1]) or fill(self, *a))
    out = inbetween(walk, [0, 61, 119], "a person walks", model=keyed)
    (keys,) = seen
    at = np.zeros(30, bool)
    at[[0, 15, 29]] = True  # the tokens holding frames 0, 61 and 119
    torch.testing.assert_close(keys[0, :30], root_keys(walk.features, 4, at))
    assert not keys[0, 30:].any()  # END
    assert keys[0, 15, 1] * 4.0 > 1.0  # the middle key stands over a metre ahead: the walk travels
    assert _error_mm(out, walk, [0, 61, 119]) < 1e-3
