"""The shipped vocabulary (checkpoints/vocabulary.safetensors): what the models know, and the check that warns about
prompts far from every training caption. The prompts here are not the calibration prompts (held out)."""
import json

import pytest
import torch

from app.engine.models.checkpoint import CheckpointError
from app.engine.text import get_text_encoder
from app.engine.vocabulary import (
    CALIBRATION_ABSENT,
    CALIBRATION_KNOWN,
    Action,
    Vocabulary,
    VocabularyMismatch,
    absent_prompts,
    actions_markdown,
    load_vocabulary,
    text_encoder_identity,
)

# activities absent from Bandai Namco, CMU and Mesh2Motion alike (the shipped file is built on their combination)
ABSENT = ["a person knits a scarf", "a person rows a boat", "someone shovels snow", "a man flies a kite",
          "a woman plays the piano", "a person milks a cow", "a person plays tennis", "a person rides a horse",
          "a person skateboards", "a person chops wood", "a person ties their shoes"]
PARAPHRASES = ["a woman walks ahead", "someone runs quickly", "a man waves his right hand",
               "the person lifts both hands up", "a person takes a bow", "a person walks back", "someone turns right while walking",
               "a guy waves bye", "a person jogs"]
NEW_ACTIONS = ["a person jumps up high", "someone sits on a chair", "a man punches", "someone kicks with the right leg",
               "a person climbs a ladder", "a person does jumping jacks"]  # the second corpus's, few takes each


@pytest.fixture(scope="module")
def vocabulary() -> Vocabulary:
    return load_vocabulary()


@pytest.fixture(scope="module")
def encoder():
    return get_text_encoder()


def test_held_out_prompts_are_not_calibration_prompts():
    assert not set(ABSENT + PARAPHRASES + NEW_ACTIONS) & set(CALIBRATION_KNOWN + tuple(p for p, _ in CALIBRATION_ABSENT))


def test_calibration_leaves_out_absent_prompts_whose_activity_the_corpus_has():
    every = [p for p, _ in CALIBRATION_ABSENT]
    assert absent_prompts(["walk", "run", "bow"]) == every
    kept = absent_prompts(["walk", "swim", "climb", "consume", "sleeping"])
    assert {"a person swims", "a person climbs a rope", "a person eats a sandwich", "a person drinks a cup of coffee",
            "a person lies down and sleeps"}.isdisjoint(kept) and "a person juggles" in kept


@pytest.mark.parametrize("prompt", ABSENT + ["a person rides a bicycle", "a person juggles"])
def test_the_check_fires_for_actions_absent_from_the_data(vocabulary, encoder, prompt):
    check = vocabulary.check(prompt, encoder)
    assert not check.known, f"{prompt!r}: similarity {check.similarity:.3f} >= {check.threshold:.3f}"
    message = check.message()
    assert prompt in message and "Nearest known actions" in message
    assert len({a.name for a, _, _ in check.nearest}) == 3  # three distinct actions to suggest


@pytest.mark.parametrize("prompt", PARAPHRASES)
def test_the_check_is_quiet_for_paraphrases_of_known_actions(vocabulary, encoder, prompt):
    check = vocabulary.check(prompt, encoder)
    assert check.known, f"{prompt!r}: similarity {check.similarity:.3f} < {check.threshold:.3f}"
    assert check.message() == ""


@pytest.mark.parametrize("prompt", NEW_ACTIONS)
def test_the_second_corpus_actions_are_known_with_a_note_that_they_have_few_takes(vocabulary, encoder, prompt):
    check = vocabulary.check(prompt, encoder)
    assert check.known, f"{prompt!r}: similarity {check.similarity:.3f} < {check.threshold:.3f}"
    assert "far from everything" not in check.message()
    assert check.rare is None or check.message().startswith("The models saw only")


@pytest.mark.parametrize(("prompt", "known"), [("run", True), ("waves goodbye", True), ("bow", True),
                                               ("sits down", True), ("ride a bike", False), ("play tennis", False)])
def test_a_prompt_without_a_subject_is_read_as_the_captions_are(vocabulary, encoder, prompt, known):
    """Captions all name who moves: a bare "run" is compared as "a person run", not flagged for lacking a subject."""
    assert vocabulary.check(prompt, encoder).known is known


def test_suggestions_are_the_nearest_actions(vocabulary, encoder):
    check = vocabulary.check("a person strolls along slowly, then waves goodbye with the left hand", encoder)
    assert check.known and {a.name for a, _, _ in check.nearest} & {"walk", "wave-left-hand", "bye", "byebye"}


def test_a_rare_action_is_said_to_have_few_examples(vocabulary, encoder):
    check = vocabulary.check("a person kicks forward", encoder)
    assert check.known and check.rare is not None and check.rare.name == "kick"
    assert "only 8 take" in check.message()  # the Bandai kick and a martial arts routine's seven (data.kicks)


def test_the_file_names_its_dataset_and_text_encoder(vocabulary):
    assert vocabulary.meta["dataset"] == "combined" and len(vocabulary.meta["dataset_hash"]) == 64
    assert vocabulary.meta["text_encoder"] == text_encoder_identity()
    calibration = json.loads(vocabulary.meta["calibration"])
    assert calibration["lowest_known"] > vocabulary.threshold > calibration["highest_absent"]
    assert 200 <= len(vocabulary.captions) <= 2000 and len(vocabulary.captions) == len(vocabulary.embeddings)


def test_the_known_actions_list_comes_from_the_training_labels(vocabulary):
    names = [a.name for a in vocabulary.known_actions()]
    assert {"walk", "run", "wave-right-hand", "bow", "raise-up-both-hands", "jump", "sit", "punch", "salsa"} <= set(names)
    table = actions_markdown(vocabulary)
    assert table.count("\n") == len(names) + 1 and "| kick (few examples) | 8 |" in table


def test_a_vocabulary_from_another_encoder_is_refused(vocabulary, encoder, tmp_path):
    other = Vocabulary(vocabulary.captions[:3], vocabulary.caption_actions[:3], torch.eye(3, 384), vocabulary.actions,
                       0.5, dict(vocabulary.meta))
    other.save(tmp_path / "v.safetensors")
    with pytest.raises(VocabularyMismatch, match="another text encoder"):
        Vocabulary.load(tmp_path / "v.safetensors").check("a person walks", encoder)


def test_calibration_refuses_a_corpus_that_does_not_separate_the_prompts(encoder):
    captions = ["a person swims", "a person walks"]
    tiny = Vocabulary(captions, ["swim", "walk"], encoder.encode_sentences(captions), {"walk": Action("walk", 1, 1.0, "")},
                      0.0, {})
    with pytest.raises(ValueError, match="cannot calibrate"):
        tiny.calibrate(encoder)


def test_a_file_that_is_not_a_vocabulary_is_a_clear_error(tmp_path):
    from app.engine.models.checkpoint import atomic_save

    atomic_save({"x": torch.zeros(1)}, {}, tmp_path / "x.safetensors")
    with pytest.raises(CheckpointError, match="not a Kinema vocabulary file"):
        Vocabulary.load(tmp_path / "x.safetensors")

