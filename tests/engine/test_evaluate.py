import numpy as np
import pytest
import torch

from app.engine import evaluate
from app.engine.data.dataset import MotionFolder
from app.engine.evaluation import Evaluator
from app.engine.models.evaluator import EvaluatorConfig, TextMotionEvaluator

SMALL = evaluate.EvalSettings(repeats=2, batch_size=8, diversity_pairs=10, mm_texts=4, mm_repeats=3, mm_pairs=2)


@pytest.fixture(scope="module")
def evaluator(sample_dataset):
    torch.manual_seed(0)
    model = TextMotionEvaluator(EvaluatorConfig(hidden=32, embed_dim=16, motion_layers=1, text_layers=1, heads=2))
    folder = MotionFolder(sample_dataset, "train")
    return Evaluator(model, folder.mean, folder.std, {}, "cpu")


def test_real_row_has_the_fields_metrics_and_zero_fid(sample_dataset, evaluator):
    folder = MotionFolder(sample_dataset, "train", min_frames=8)
    row = evaluate.evaluate_source(evaluate.RealMotions(), folder, evaluator, SMALL)
    for key in ("r_precision_top1", "r_precision_top3", "fid", "mm_dist", "diversity", "skate_speed_cm_s", "jerk"):
        assert key in row.metrics
    assert "multimodality" not in row.metrics and "mpjpe_mm" not in row.metrics
    assert abs(row.metrics["fid"][0]) < 1e-3  # real against itself
    assert 0.0 <= row.metrics["straight_knee_percent"][0] < 5.0  # real people walk with bent knees
    r1, r3 = row.metrics["r_precision_top1"][0], row.metrics["r_precision_top3"][0]
    assert 0.0 <= r1 <= r3 <= 1.0


def test_reconstruction_row_reports_mpjpe_and_an_exact_copy_scores_zero(sample_dataset, evaluator):
    folder = MotionFolder(sample_dataset, "train", min_frames=8)
    exact = evaluate.evaluate_source(evaluate.ReconstructedMotions("copy", lambda f: f.copy()), folder, evaluator, SMALL)
    assert exact.metrics["mpjpe_mm"][0] < 1e-6 and exact.metrics["pose_mpjpe_mm"][0] < 1e-6
    shifted = evaluate.ReconstructedMotions("noisy", lambda f: f + np.float32(0.05) * np.sign(np.sin(np.arange(f.size))).reshape(f.shape).astype(np.float32))
    assert evaluate.evaluate_source(shifted, folder, evaluator, SMALL).metrics["mpjpe_mm"][0] > 1.0


def test_generated_row_measures_multimodality_and_is_reproducible(sample_dataset, evaluator):
    folder = MotionFolder(sample_dataset, "train", min_frames=8)
    real = {len(r.features): r.features for r in folder.records}

    def fake_engine(text: str, n_frames: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        base = next(f for n, f in real.items() if n >= n_frames)[:n_frames]
        return base + rng.normal(0, 0.01, base.shape).astype(np.float32)

    source = evaluate.GeneratedMotions("fake", fake_engine)
    first = evaluate.evaluate_source(source, folder, evaluator, SMALL)
    again = evaluate.evaluate_source(source, folder, evaluator, SMALL)
    assert first.metrics["multimodality"][0] > 0
    assert first.metrics == again.metrics


def test_table_lists_every_row_with_intervals():
    rows = [evaluate.EvalRow("real", {"r_precision_top3": (0.7, 0.01), "fid": (0.0, 0.0)}),
            evaluate.EvalRow("masked", {"r_precision_top3": (0.65, 0.02), "fid": (0.4, 0.05), "multimodality": (1.2, 0.1)})]
    table = evaluate.format_table(rows, "title")
    lines = table.splitlines()
    assert lines[0] == "title" and "R@3" in lines[1] and "MModality" in lines[1]
    assert "0.700 ±0.010" in lines[2] and lines[2].count("-") >= 1
    assert "0.650 ±0.020" in lines[3]


def test_plots_are_written_as_png(tmp_path):
    from app.engine.plots import plot_metrics, plot_training_curves

    rows = [evaluate.EvalRow("real", {"r_precision_top3": (0.7, 0.01)}), evaluate.EvalRow("model", {"r_precision_top3": (0.6, 0.03)})]
    runs = tmp_path / "runs" / "tokenizer"
    runs.mkdir(parents=True)
    (runs / "log.jsonl").write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.5}\n{"step": 3, "lo')  # killed mid-line
    written = [plot_metrics(rows, tmp_path, "t"), *plot_training_curves(tmp_path / "runs", tmp_path)]
    assert [p.name for p in written] == ["metrics.png", "training-tokenizer.png"]
    for p in written:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _walk_in_place(features: np.ndarray) -> np.ndarray:
    out = features.copy()
    out[:, 1:3] = 0.0  # root velocity on the ground: the legs still step, the body stays put
    return out


def test_rows_report_physical_agreement_against_the_real_bands(sample_dataset, evaluator):
    from app.engine import physical

    folder = MotionFolder(sample_dataset, "train", min_frames=8)
    reference = physical.real_reference(folder.records, folder.info.skeleton, evaluate.MAX_FRAMES)
    settings = evaluate.EvalSettings(repeats=1, batch_size=8, diversity_pairs=10)
    real = evaluate.evaluate_source(evaluate.RealMotions(), folder, evaluator, settings, reference=reference)
    assert real.metrics["physical_agreement"][0] >= 0.9
    assert real.metrics["speed_ratio"][0] == pytest.approx(1.0, abs=0.1)
    assert 0.0 <= real.metrics["straight_knee_percent"][0] <= 100.0
    assert real.metrics["agreement:walk"][0] == 1.0
    in_place = evaluate.ReconstructedMotions("in place", _walk_in_place)
    row = evaluate.evaluate_source(in_place, folder, evaluator, settings, reference=reference)
    assert row.metrics["speed_ratio"][0] < 0.1
    for label in reference.locomotion:
        assert row.metrics[f"agreement:{label}"][0] == 0.0
    assert "phys agree" in evaluate.format_table([real, row], "t")
    # the sample has takes of Bandai Namco's two datasets: agreement per source, where the in-place walks lose it
    sources = {r.label["dataset"] for r in folder.records}
    assert sources == {"dataset-1", "dataset-2"}
    for source in sources:
        assert real.metrics[f"agreement@{source}"][0] >= 0.75  # dataset-1: 10 takes, a 5-95 % band leaves one out
    walks_in = {r.label["dataset"] for r in folder.records if physical.action_label(r) in reference.locomotion}
    assert all(row.metrics[f"agreement@{s}"][0] < real.metrics[f"agreement@{s}"][0] for s in walks_in)
    listed = evaluate.format_by_source([real, row])
    assert "physical agreement per source (in place): dataset-1 " in listed and "dataset-2 " in listed
    assert evaluate.format_by_source([evaluate.EvalRow("one source", {"physical_agreement": (1.0, 0.0)})]) == ""


def test_prompt_suite_scores_each_prompt_against_its_label(sample_dataset, tmp_path):
    from app.engine import physical
    from app.engine.action_rules import load_rules
    from app.engine.plots import plot_agreement, plot_suite
    from app.engine.prompt_suite import SUITE, format_suite, run_suite

    folder = MotionFolder(sample_dataset, "train", min_frames=8)
    reference = physical.real_reference(folder.records, folder.info.skeleton, evaluate.MAX_FRAMES)
    by_label = {physical.action_label(r): r.features for r in folder.records}
    label_of = dict(SUITE)

    def faithful(prompt: str, n_frames: int, seed: int) -> np.ndarray:
        return by_label[label_of[prompt]][:n_frames]

    def in_place(prompt: str, n_frames: int, seed: int) -> np.ndarray:
        return _walk_in_place(faithful(prompt, n_frames, seed))

    rules = {"walk": load_rules()["walk"]}  # the shipped walk rule: forward at a walking speed
    rows = run_suite("faithful", faithful, reference, folder.info.skeleton, seeds=1, rules=rules)
    rows += run_suite("in place", in_place, reference, folder.info.skeleton, seeds=1, rules=rules)
    walk = {r.model: r for r in rows if r.prompt == "a person walks forward"}
    assert walk["faithful"].agreement == 1.0 and walk["in place"].agreement == 0.0
    assert walk["faithful"].rule == 1.0 and walk["in place"].rule == 0.0
    assert walk["in place"].rule_values.startswith("forward_speed ") and " >= " in walk["in place"].rule_values
    assert all(np.isnan(r.rule) and r.rule_values == "-" for r in rows if r.label != "walk")
    assert walk["in place"].speed < 0.05 and "speed" in walk["in place"].outside
    assert "agreement" in format_suite(rows, "t")
    assert plot_suite(rows, tmp_path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    chart = plot_agreement([evaluate.EvalRow("real", {"agreement:walk": (1.0, 0.0), "agreement:bow": (0.5, 0.0)})], tmp_path, "t")
    assert chart is not None and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
