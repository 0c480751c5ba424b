"""The editing rows of `kinema eval`: every edit source returns one motion per record and its animator metrics,
and those metrics measure what they claim (exact locks give ~0 mm, exact legs give 0 drift)."""
import numpy as np
import pytest
import torch

from app.engine import evaluate, evaluate_edits
from app.engine.data.dataset import MotionFolder
from app.engine.evaluation import Evaluator
from app.engine.models.evaluator import EvaluatorConfig, TextMotionEvaluator
from app.engine.models.length_predictor import LengthPredictor, LengthPredictorConfig
from app.engine.models.masked_transformer import MaskedTransformer, MaskedTransformerConfig
from app.engine.models.pipeline import TextToMotion
from app.engine.models.tokenizer import MotionTokenizer, TokenizerConfig
from app.engine.models.upper_editor import UpperBodyEditor

ONE = evaluate.EvalSettings(repeats=1, batch_size=8, diversity_pairs=10)


@pytest.fixture(scope="module")
def folder(sample_dataset):
    return MotionFolder(sample_dataset, "train", min_frames=8)


@pytest.fixture(scope="module")
def evaluator(folder):
    torch.manual_seed(0)
    model = TextMotionEvaluator(EvaluatorConfig(hidden=32, embed_dim=16, motion_layers=1, text_layers=1, heads=2))
    return Evaluator(model, folder.mean, folder.std, {}, "cpu")


@pytest.fixture(scope="module")
def tiny(folder):
    torch.manual_seed(0)
    tok = dict(width=32, depth=1, codebook_size=16, code_dim=8)
    pipeline = TextToMotion(MotionTokenizer(TokenizerConfig(**tok)).eval(),
                            MaskedTransformer(MaskedTransformerConfig(codebook_size=16, width=32, depth=2, heads=4)).eval(),
                            LengthPredictor(LengthPredictorConfig(hidden=32)).eval(), folder.mean, folder.std)
    editor = UpperBodyEditor(MotionTokenizer(TokenizerConfig(**tok, part="upper")).eval(),
                             MotionTokenizer(TokenizerConfig(**tok, part="lower")).eval(),
                             MaskedTransformer(MaskedTransformerConfig(codebook_size=16, width=32, depth=2, heads=4,
                                                                       cond_codebook_size=16)).eval(),
                             folder.mean, folder.std)
    return pipeline, editor


def test_inbetween_row_reports_exact_locks_and_key_jerk(folder, evaluator, tiny):
    reference = evaluate_edits.real_jerk_reference(folder.records, 21)
    source = evaluate_edits.InbetweenSource(folder.info.skeleton, reference, model=tiny[0])
    row = evaluate.evaluate_source(source, folder, evaluator, ONE)
    assert row.metrics["lock_error_mm"][0] < 0.01
    assert row.metrics["key_jerk_rel_p99"][0] > 0 and 0 <= row.metrics["key_jerk_within_p99"][0] <= 100
    assert "r_precision_top3" in row.metrics and "fid" in row.metrics


def test_inbetween_diffusion_row_in_paints_with_the_diffusion_engine(folder, evaluator):
    """The row hands its diffusion pipeline to the diffusion engine's in-painting (the masked refill cannot run it)."""
    from app.engine.models.diffusion_pipeline import load_diffusion_pipeline

    reference = evaluate_edits.real_jerk_reference(folder.records, 21)
    source = evaluate_edits.InbetweenSource(folder.info.skeleton, reference, name="inbetween-diffusion",
                                            engine="diffusion", model=load_diffusion_pipeline())
    records = folder.records[:4]
    motions = source(records, [r.captions[0] for r in records], seed=0)
    assert [len(m) for m in motions] == [min(len(r.features), 196) for r in records]
    assert source.extra["lock_error_mm"] < 0.01
    assert any(np.abs(m - r.features[: len(m)]).max() > 0.1 for m, r in zip(motions, records))  # regenerated


def test_edit_upper_row_reports_zero_leg_drift(folder, evaluator, tiny):
    source = evaluate_edits.UpperEditSource(folder.info.skeleton, model=tiny[1])
    row = evaluate.evaluate_source(source, folder, evaluator, ONE)
    assert row.metrics["lower_drift_mm"][0] < 1e-3


def test_long_take_row_cuts_one_segment_per_record(folder, tiny):
    reference = evaluate_edits.real_jerk_reference(folder.records, 21)
    source = evaluate_edits.LongTakeSource(folder.info.skeleton, reference, segment_frames=40, model=tiny[0])
    records = folder.records[:6]
    motions = source(records, [r.captions[0] for r in records], seed=0)
    assert len(motions) == 6
    assert [len(m) for m in motions] == [max(8, min(len(r.features), 40)) for r in records]
    assert np.isfinite(source.extra["boundary_jerk_rel_p99"]) and 0 <= source.extra["boundary_jerk_within_p99"] <= 100
