"""The prompt box says what the models know: a warning with the nearest known actions before an out-of-vocabulary
prompt runs (a second press runs it), silence for known actions, and a menu of the known actions."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.engine.text import get_text_encoder
from app.ui.main_window import MainWindow


def test_an_unknown_prompt_warns_before_generating_and_a_second_press_runs_it(window: MainWindow, qtbot) -> None:
    panel = window.prompt_panel
    requests: list[dict] = []
    panel.generate_requested.connect(requests.append)
    panel.prompt.setPlainText("a person rides a bicycle")
    panel.length.setValue(40)
    QTest.mouseClick(panel.buttons["generateButton"], Qt.MouseButton.LeftButton)
    assert requests == [] and window.worker is None  # nothing ran
    assert panel.vocab_notice.isVisible()
    text, details = panel.vocab_notice.text(), panel.vocab_notice.toolTip()
    assert "Far from what the models know" in text and "Nearest known actions: " in text and "Press again" in text
    assert "“a person rides a bicycle” is far from everything the models were trained on" in details
    nearest = [a.label for a, _, _ in panel.vocabulary.check("a person rides a bicycle", get_text_encoder()).nearest]
    assert ", ".join(nearest) in text
    QTest.mouseClick(panel.buttons["generateButton"], Qt.MouseButton.LeftButton)
    assert [r["text"] for r in requests] == ["a person rides a bicycle"]
    qtbot.waitUntil(lambda: window.worker is None, timeout=60_000)
    assert window.undo_action.text() == "Undo Generate “a person rides a bicycle”"


def test_editing_the_prompt_forgets_the_warning(window: MainWindow, qtbot) -> None:
    panel = window.prompt_panel
    requests: list[dict] = []
    panel.variations_requested.connect(requests.append)
    panel.prompt.setPlainText("a person juggles")
    QTest.mouseClick(panel.buttons["variationsButton"], Qt.MouseButton.LeftButton)
    assert requests == [] and panel.vocab_notice.isVisible()
    panel.prompt.setPlainText("a person juggles three balls")  # a new prompt: warned afresh, not run
    assert not panel.vocab_notice.isVisible()
    QTest.mouseClick(panel.buttons["variationsButton"], Qt.MouseButton.LeftButton)
    assert requests == [] and "three balls" in panel.vocab_notice.toolTip()


def test_a_known_action_generates_at_once_without_a_warning(window: MainWindow, qtbot) -> None:
    panel = window.prompt_panel
    requests: list[dict] = []
    panel.generate_requested.connect(requests.append)
    panel.prompt.setPlainText("a woman walks ahead and waves with her right hand")
    panel.length.setValue(40)
    QTest.mouseClick(panel.buttons["generateButton"], Qt.MouseButton.LeftButton)
    assert len(requests) == 1 and not panel.vocab_notice.isVisible()
    qtbot.waitUntil(lambda: window.worker is None, timeout=60_000)


def test_the_known_actions_menu_lists_the_actions_and_types_an_example(window: MainWindow) -> None:
    panel = window.prompt_panel
    button = window.findChild(object, "knownActionsButton")
    assert button.isEnabled()
    items = button.menu().actions()
    labels = [item.text() for item in items]
    assert any(label.startswith("walk  (") for label in labels) and any("kick" in label for label in labels)
    assert any("few examples" in label for label in labels)
    bow = next(item for item in items if item.text().startswith("bow  ("))
    bow.trigger()
    assert panel.prompt.toPlainText() == bow.data() and "bow" in bow.data()


def test_the_first_screens_prompts_are_actions_the_models_know() -> None:
    from app.engine.vocabulary import load_vocabulary
    from app.ui._qt.prompt_panel import EXAMPLE_PROMPT, SUGGESTED_PROMPTS

    vocabulary, encoder = load_vocabulary(), get_text_encoder()
    for prompt in (EXAMPLE_PROMPT, *SUGGESTED_PROMPTS):
        check = vocabulary.check(prompt, encoder)
        assert check.known and check.rare is None, check.message()


def test_the_first_screens_prompts_do_what_they_say_with_the_default_engine() -> None:
    """Not only known words: each suggested prompt's take passes its action's rule (the suite's), seeds 0-2."""
    from app.engine import ops
    from app.engine.action_rules import load_rules, measures
    from app.engine.prompt_suite import SUITE, SUITE_FRAMES
    from app.engine.skeleton import skeleton_by_name
    from app.ui._qt.prompt_panel import EXAMPLE_PROMPT, SUGGESTED_PROMPTS

    labels, rules = dict(SUITE), load_rules()
    assert EXAMPLE_PROMPT in SUGGESTED_PROMPTS
    for prompt in SUGGESTED_PROMPTS:
        rule = rules[labels[prompt]]
        for seed in range(3):
            take = ops.generate(prompt, n_frames=SUITE_FRAMES, seed=seed)
            assert rule.passes(measures(take.positions, skeleton_by_name(take.skeleton_name))), (prompt, seed)
