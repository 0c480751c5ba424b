"""The document model: every command undoes and redoes to the exact state, drags merge, events fire once per
change, and a failing command leaves everything as it was."""
from __future__ import annotations

import copy
import re
from collections import Counter

import numpy as np
import pytest

from app.engine.document import (
    AddSegment, Batch, Document, DocumentError, EditSegmentText, MoveSegment, RemoveSegment, ReplaceFrames,
    ResizeSegment, Segment, SetScope, SetSegments, SetSelection, SetTake, Take, ToggleLock,
)
from app.engine.skeleton import BANDAI_NAMCO_21

J = BANDAI_NAMCO_21.n_joints


def _take(n: int = 200, seed: int = 0, features: bool = False) -> Take:
    rng = np.random.default_rng(seed)
    return Take(rng.normal(size=(n, J, 3)).astype(np.float32), fps=20.0,
                features=rng.normal(size=(n, 251)).astype(np.float32) if features else None)


def _state(doc: Document) -> tuple:
    take = doc.take
    arrays = None if take is None else (take.positions.tobytes(), None if take.features is None else take.features.tobytes(), take.fps)
    return arrays, list(doc.segments), doc.locked_frames, doc.selection, doc.scope, doc.current_frame


def _recorder(doc: Document) -> Counter:
    seen: Counter = Counter()
    for name in ("take_changed", "segments_changed", "locks_changed", "selection_changed", "scope_changed", "frame_changed"):
        getattr(doc.events, name).connect(lambda *_, name=name: seen.update([name]))
    return seen


@pytest.fixture
def doc() -> Document:
    d = Document()
    d.execute(SetTake(_take(features=True)))
    d.execute(AddSegment(Segment("a person walks", 0, 60)))
    d.execute(ToggleLock(10))
    d.current_frame = 42
    d.history.undo_stack.clear()
    return d


COMMANDS = {
    "set_take": lambda: SetTake(_take(80, seed=1)),
    "replace_frames": lambda: ReplaceFrames(50, np.zeros((20, J, 3)), np.ones((20, 251))),
    "toggle_lock_on": lambda: ToggleLock(120),
    "toggle_lock_off": lambda: ToggleLock(10),
    "add_segment": lambda: AddSegment(Segment("waves", 60, 40)),
    "move_segment": lambda: MoveSegment(0, 30),
    "resize_segment": lambda: ResizeSegment(0, 5, 90),
    "edit_text": lambda: EditSegmentText(0, "a person runs"),
    "remove_segment": lambda: RemoveSegment(0),
    "set_selection": lambda: SetSelection((150, 100)),
    "set_scope": lambda: SetScope("upper"),
    "set_segments": lambda: SetSegments([Segment("walks", 0, 60), Segment("jumps", 60, 30)]),
}
EXPECTED_EVENT = {
    "set_take": "take_changed", "replace_frames": "take_changed", "toggle_lock_on": "locks_changed",
    "toggle_lock_off": "locks_changed", "add_segment": "segments_changed", "move_segment": "segments_changed",
    "resize_segment": "segments_changed", "edit_text": "segments_changed", "remove_segment": "segments_changed",
    "set_selection": "selection_changed", "set_scope": "scope_changed", "set_segments": "segments_changed",
}


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_undoes_and_redoes_exactly(doc: Document, name: str) -> None:
    before = _state(doc)
    doc.execute(COMMANDS[name]())
    after = _state(doc)
    assert after != before
    assert doc.can_undo and doc.undo_label
    doc.undo()
    assert _state(doc) == before
    doc.redo()
    assert _state(doc) == after
    doc.undo()
    assert _state(doc) == before and not doc.can_undo and doc.can_redo


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_fires_its_event_once(doc: Document, name: str) -> None:
    seen = _recorder(doc)
    doc.execute(COMMANDS[name]())
    assert seen[EXPECTED_EVENT[name]] == 1
    assert all(count == 1 for count in seen.values())
    seen.clear()
    doc.undo()
    assert seen[EXPECTED_EVENT[name]] == 1


def test_an_edit_carries_locks_and_selection_that_fit_and_undo_brings_the_rest_back(doc: Document) -> None:
    doc.execute(ToggleLock(150))
    doc.execute(SetSelection((100, 180)))
    doc.execute(SetTake(_take(120), carry=True))
    assert doc.locked_frames == (10,) and doc.selection is None and doc.n_frames == 120
    assert len(doc.segments) == 1  # an edit keeps the prompt track
    doc.undo()
    assert doc.locked_frames == (10, 150) and doc.selection == (100, 180) and doc.n_frames == 200


def test_a_new_take_clears_keys_selection_and_segments_in_one_undo_step(doc: Document) -> None:
    doc.execute(SetSelection((30, 90)))
    before = _state(doc)
    seen = {name: 0 for name in ("locks_changed", "selection_changed", "segments_changed")}
    for name in seen:
        getattr(doc.events, name).connect(lambda *_, n=name: seen.__setitem__(n, seen[n] + 1))
    doc.execute(SetTake(_take(200, seed=4), "Generate"))
    assert doc.locked_frames == () and doc.selection is None and doc.segments == []
    assert seen == {"locks_changed": 1, "selection_changed": 1, "segments_changed": 1}
    doc.undo()
    assert _state(doc) == before and doc.locked_frames == (10,)


def test_a_key_keeps_the_pose_it_was_locked_with(doc: Document) -> None:
    """The ghost draws the key's stored pose, not whatever the take holds there after an edit."""
    doc.execute(ToggleLock(60))
    locked = doc.take.positions[60].copy()
    doc.execute(SetTake(_take(200, seed=9), "Regenerate", carry=True))
    assert not np.allclose(doc.take.positions[60], locked)
    np.testing.assert_array_equal(doc.key_pose(60), locked)
    doc.execute(ToggleLock(60))  # unlock, then undo: the same pose comes back
    doc.undo()
    np.testing.assert_array_equal(doc.key_pose(60), locked)


def test_replace_frames_keeps_only_the_replaced_slice(doc: Document) -> None:
    command = ReplaceFrames(50, np.zeros((20, J, 3)), np.ones((20, 251)))
    doc.execute(command)
    assert command._old[0].shape == (20, J, 3)
    assert np.all(doc.take.positions[50:70] == 0) and np.all(doc.take.features[50:70] == 1)


def test_drags_merge_into_one_undo_step_until_sealed(doc: Document) -> None:
    original = doc.segments[0]
    for start in range(1, 30):
        doc.execute(MoveSegment(0, start))
    doc.history.seal()
    doc.execute(MoveSegment(0, 50))
    assert len(doc.history.undo_stack) == 2
    doc.undo()
    assert doc.segments[0].start == 29
    doc.undo()
    assert doc.segments[0] == original
    doc.redo()
    assert doc.segments[0].start == 29


def test_resizes_merge_but_not_with_moves_or_other_segments(doc: Document) -> None:
    doc.execute(AddSegment(Segment("waves", 100, 30)))
    doc.history.seal()
    doc.execute(ResizeSegment(0, 0, 70))
    doc.execute(ResizeSegment(0, 0, 80))
    doc.execute(ResizeSegment(1, 100, 50))
    doc.execute(MoveSegment(1, 110))
    assert [c.label for c in doc.history.undo_stack[-3:]] == ["Resize segment", "Resize segment", "Move segment"]


@pytest.mark.parametrize("command, message", [
    (lambda: ToggleLock(250), "frame 250 is outside the take (0–199)"),
    (lambda: SetSelection((10, 250)), "frame 250 is outside the take (0–199)"),
    (lambda: ReplaceFrames(190, np.zeros((20, J, 3)), np.zeros((20, 251))), "frame 209 is outside the take (0–199)"),
    (lambda: ReplaceFrames(0, np.zeros((20, J, 3))), "features"),
    (lambda: ReplaceFrames(0, np.zeros((20, 5, 3)), np.zeros((20, 251))), "do not fit"),
    (lambda: MoveSegment(0, -5), "cannot start before frame 0"),
    (lambda: ResizeSegment(0, 0, 0), "at least 1 frame"),
    (lambda: EditSegmentText(0, "  "), "needs a prompt text"),
    (lambda: RemoveSegment(3), "there is no segment 3"),
    (lambda: AddSegment(Segment("", 0, 10)), "needs a prompt text"),
    (lambda: SetScope("legs"), "scope must be one of full, upper"),
    (lambda: SetTake(Take(np.zeros((10, 5, 3)))), "do not fit"),
])
def test_errors_say_why_and_leave_state_unchanged(doc: Document, command, message: str) -> None:
    before, stack = _state(doc), copy.copy(doc.history.undo_stack)
    seen = _recorder(doc)
    with pytest.raises(DocumentError, match=re.escape(message)):
        doc.execute(command())
    assert _state(doc) == before and doc.history.undo_stack == stack and not seen


def test_try_execute_returns_the_refusal_instead_of_raising(doc: Document) -> None:
    before = _state(doc)
    assert doc.try_execute(ToggleLock(250)) == "frame 250 is outside the take (0–199)"
    assert _state(doc) == before and not doc.can_undo
    assert doc.try_execute(ToggleLock(120)) is None and doc.undo_label == "Toggle lock at frame 120"


def test_commands_need_a_take() -> None:
    with pytest.raises(DocumentError, match="no take yet"):
        Document().execute(ToggleLock(0))


def test_current_frame_is_clamped_and_emits_only_on_change(doc: Document) -> None:
    seen = _recorder(doc)
    doc.current_frame = 999
    doc.current_frame = 999
    assert doc.current_frame == 199 and seen["frame_changed"] == 1 and not doc.history.redo_stack


def test_new_command_clears_redo(doc: Document) -> None:
    doc.execute(ToggleLock(5))
    doc.undo()
    doc.execute(ToggleLock(6))
    assert not doc.can_redo and doc.undo_label == "Toggle lock at frame 6"


def test_reset_starts_over_without_history(doc: Document) -> None:
    seen = _recorder(doc)
    doc.execute(ToggleLock(3))
    doc.reset(_take(50), [Segment("jumps", 0, 10)], locked=(4,))
    assert doc.n_frames == 50 and doc.locked_frames == (4,) and doc.segments[0].text == "jumps"
    assert not doc.can_undo and doc.current_frame == 0 and seen["take_changed"] == 1


def test_a_batch_is_one_undo_step_and_a_refused_part_undoes_the_rest(doc: Document) -> None:
    before = _state(doc)
    doc.execute(Batch("Long take", [SetTake(_take(90, seed=2)), SetSegments([Segment("walks", 0, 90)])]))
    after = _state(doc)
    assert doc.undo_label == "Long take" and len(doc.history.undo_stack) == 1
    assert doc.n_frames == 90 and doc.segments == [Segment("walks", 0, 90)]
    doc.undo()
    assert _state(doc) == before
    doc.redo()
    assert _state(doc) == after
    with pytest.raises(DocumentError, match="needs a prompt text"):
        doc.execute(Batch("Bad", [SetTake(_take(50, seed=3)), SetSegments([Segment(" ", 0, 10)])]))
    assert _state(doc) == after and doc.undo_label == "Long take"


def test_takes_set_under_one_key_merge_into_one_step(doc: Document) -> None:
    before = _state(doc)
    run = object()
    for seed in (5, 6, 7):
        doc.execute(SetTake(_take(100, seed=seed), f"Variation (seed {seed})", merge_key=run))
    assert len(doc.history.undo_stack) == 1 and doc.undo_label == "Variation (seed 7)"
    picked = _state(doc)
    doc.undo()
    assert _state(doc) == before
    doc.redo()
    assert _state(doc) == picked
    doc.execute(SetTake(_take(100, seed=8), "Variation (seed 8)", merge_key=object()))  # another run: its own step
    assert len(doc.history.undo_stack) == 2


def test_long_take_segments_start_where_they_were_placed() -> None:
    """Placed at 2, 50 and 95 (they came out at 0/40/80): each runs to the next one's start, the first from 0."""
    from app.engine.document.segments import placed

    track = [Segment("jumps", 95, 40), Segment("walks", 2, 40), Segment("waves", 50, 40)]
    assert placed(track) == [Segment("walks", 0, 50), Segment("waves", 50, 45), Segment("jumps", 95, 40)]
    overlapping = [Segment("walks", 0, 80), Segment("waves", 60, 40)]  # the later segment wins the overlap
    assert placed(overlapping) == [Segment("walks", 0, 60), Segment("waves", 60, 40)]
    assert placed([]) == []


@pytest.mark.parametrize("fps", [0.0, -20.0, float("nan"), float("inf"), 1e9])
def test_a_take_refuses_an_absurd_frame_rate(fps):
    with pytest.raises(DocumentError, match="frame rate must be a number above 0 and at most 1000"):
        Take(np.zeros((4, BANDAI_NAMCO_21.n_joints, 3), np.float32), fps)
