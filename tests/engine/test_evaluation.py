"""The shipped evaluator checkpoint on the sample takes, its error messages, and a tiny training run."""
import json
from pathlib import Path

import numpy as np
import pytest

from app.engine.data.dataset import DatasetError, MotionFolder, MotionRecord
from app.engine.evaluation import Evaluator, EvaluatorError
from app.engine.metrics import r_precision
from app.engine.models.evaluator import EvaluatorConfig
from app.engine.train import evaluator as training
from app.engine.train import loop

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "evaluator.safetensors"
CHANCE_TOP3 = 3 / 32


@pytest.fixture(scope="module")
def evaluator() -> Evaluator:
    return Evaluator.load(SHIPPED)


@pytest.fixture(scope="module")
def records(sample_dataset) -> list[MotionRecord]:
    """Every motion of the sample dataset (42), whatever its split."""
    out = []
    for split in ("train", "val", "test"):
        try:
            out += MotionFolder(sample_dataset, split).records
        except DatasetError:  # an empty split
            pass
    return out


@pytest.fixture(scope="module")
def embeddings(evaluator, records) -> tuple[np.ndarray, np.ndarray]:
    return evaluator.embed_texts([r.captions[0] for r in records]), evaluator.embed_motions([r.features for r in records])


def mean_top3(text: np.ndarray, motion: np.ndarray, seeds: int = 20) -> float:
    return float(np.mean([r_precision(text, motion, 3, 32, np.random.default_rng(seed))[2] for seed in range(seeds)]))


def test_shipped_checkpoint_is_self_contained(evaluator):
    assert evaluator.feature_dim == 251
    assert evaluator.mean.shape == evaluator.std.shape == (251,)
    assert json.loads(evaluator.metadata["train"])["steps"] > 0


def test_matching_captions_rank_their_motions_far_above_chance(embeddings):
    text, motion = embeddings
    np.testing.assert_allclose(np.linalg.norm(motion, axis=1), 1.0, atol=1e-5)
    assert mean_top3(text, motion) > 0.5 > 3 * CHANCE_TOP3


def test_shuffled_texts_drop_to_chance(embeddings):
    text, motion = embeddings
    rng = np.random.default_rng(0)
    shuffled = [mean_top3(text[rng.permutation(len(text))], motion, seeds=1) for _ in range(30)]
    assert np.mean(shuffled) < 2 * CHANCE_TOP3


def test_embed_motions_crops_floors_and_batches(evaluator, records):
    long = np.concatenate([r.features for r in records[:4]])[:300]
    odd = records[0].features[:43]
    cfg = evaluator.config
    together = evaluator.embed_motions([long, odd, records[1].features])
    np.testing.assert_allclose(together[0], evaluator.embed_motions([long[: cfg.max_frames]])[0], atol=1e-5)
    np.testing.assert_allclose(together[1], evaluator.embed_motions([odd[:40]])[0], atol=1e-5)
    with pytest.raises(ValueError, match="at least"):
        evaluator.embed_motions([odd[:3]])
    with pytest.raises(ValueError, match="251"):
        evaluator.embed_motions([odd[:, :250]])


def test_missing_or_damaged_checkpoint_says_how_to_retrain(tmp_path):
    with pytest.raises(EvaluatorError, match="does not exist.*kinema train evaluator"):
        Evaluator.load(tmp_path / "none.safetensors")
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(SHIPPED.read_bytes()[: SHIPPED.stat().st_size // 2])
    with pytest.raises(EvaluatorError, match="damaged.*kinema train evaluator"):
        Evaluator.load(truncated)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(EvaluatorError, match="damaged"):
        Evaluator.load(garbage)


TINY = training.EvaluatorTrainConfig(
    steps=4, batch_size=8, eval_every=2, warmup=2,
    model=EvaluatorConfig(hidden=32, embed_dim=16, motion_layers=1, text_layers=1, heads=2),
)


def test_tiny_training_run_writes_a_loadable_checkpoint_and_resumes(sample_dataset, tmp_path, monkeypatch):
    out, log = tmp_path / "ev.safetensors", tmp_path / "log.jsonl"
    save_resume = loop.save_resume

    def interrupt_after_first_save(*args):
        save_resume(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_resume", interrupt_after_first_save)
    with pytest.raises(KeyboardInterrupt):
        training.train_evaluator(sample_dataset, out, TINY, progress=False, log_path=log)
    assert not out.exists() and (tmp_path / "ev.resume.safetensors").exists()

    monkeypatch.setattr(loop, "save_resume", save_resume)
    summary = training.train_evaluator(sample_dataset, out, TINY, progress=False, log_path=log)
    steps = [json.loads(line)["step"] for line in log.read_text().splitlines()]
    assert steps == [1, 3, 4]  # step 2 was interrupted while saving, before its log line; the rerun went on from it
    assert summary["steps"] == 4 and 0.0 <= summary["top3"] <= 1.0
    assert not (tmp_path / "ev.resume.safetensors").exists()
    loaded = Evaluator.load(out)
    assert loaded.config == TINY.model and json.loads(loaded.metadata["train"])["data"] == "bn"
    assert loaded.embed_motions([np.zeros((40, 251), np.float32)]).shape == (1, 16)


@pytest.fixture(scope="module")
def test_split_embeddings(evaluator, heldout_test_split) -> tuple[np.ndarray, np.ndarray]:
    records = MotionFolder(heldout_test_split, "test").records
    assert {r.label["split"] for r in records} == {"test"} and len(records) == 300
    return evaluator.embed_texts([r.captions[0] for r in records]), evaluator.embed_motions([r.features for r in records])


def test_on_the_held_out_test_split_real_motions_rank_far_above_chance(test_split_embeddings):
    text, motion = test_split_embeddings
    assert mean_top3(text, motion) > 0.5 > 5 * CHANCE_TOP3


def test_on_the_held_out_test_split_shuffled_texts_drop_to_chance(test_split_embeddings):
    text, motion = test_split_embeddings
    rng = np.random.default_rng(1)
    shuffled = np.mean([mean_top3(text[rng.permutation(len(text))], motion, seeds=1) for _ in range(30)])
    assert abs(shuffled - CHANCE_TOP3) < 0.05
