import json
import subprocess
import sys

import numpy as np
import pytest

from app.cli import main
from app.engine.io.bvh import read_bvh


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for command in ("data", "convert"):
        assert command in out


def test_convert_resamples_cmu_mocap_to_30_fps(shared_data, tmp_path, capsys):
    out = tmp_path / "walk30.bvh"
    assert main(["convert", str(shared_data / "cmu-sample" / "02_01.bvh"), str(out), "--fps", "30"]) == 0
    source, converted = read_bvh(shared_data / "cmu-sample" / "02_01.bvh"), read_bvh(out)
    assert abs(converted.fps - 30.0) < 1e-6
    every_fourth = source.world_positions()[::4]
    n = min(len(every_fourth), converted.n_frames)
    assert np.abs(every_fourth[:n] - converted.world_positions()[:n]).max() < 0.01  # file units (cm-like)


def test_convert_reports_a_malformed_file_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.bvh"
    bad.write_text("HIERARCHY\nROOT hip\n{\n  OFFSET 0 0\n")
    assert main(["convert", str(bad), str(tmp_path / "out.bvh")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kinema: bad.bvh, line") and "Traceback" not in err
    assert not (tmp_path / "out.bvh").exists()


def test_data_build_and_info_on_the_sample(bandai_namco_sample, tmp_path, capsys):
    out = tmp_path / "bn"
    assert main(["data", "build", "bandai-namco", str(bandai_namco_sample), "--out", str(out), "--quiet", "--workers", "1",
                 "--only", "*wave*"]) == 0
    assert "takes read: 6" in capsys.readouterr().out
    assert main(["data", "info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "bandai-namco21" in info and "train" in info


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "app.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "kinema" in result.stdout


def test_data_vocab_embeds_the_training_captions_of_a_dataset(sample_dataset, tmp_path, capsys):
    from app.engine.data.dataset import _read_spans
    from app.engine.vocabulary import Vocabulary, caption_hash

    out = tmp_path / "vocabulary.safetensors"
    assert main(["data", "vocab", str(sample_dataset), "--out", str(out), "--threshold", "0.5", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "threshold 0.500 (as given)" in printed and "| action | takes | minutes | for example |" in printed
    names = (sample_dataset / "train.txt").read_text().split()
    captions = [c for n in names for c, _, _ in _read_spans(sample_dataset / "texts" / f"{n}.txt")]
    labels = json.loads((sample_dataset / "labels.json").read_text())
    vocabulary = Vocabulary.load(out)
    assert set(vocabulary.captions) <= set(captions) and vocabulary.meta["dataset_hash"] == caption_hash(captions)
    assert {a.name for a in vocabulary.known_actions()} == {labels[n]["content"] for n in names}
    assert vocabulary.threshold == 0.5


def test_data_vocab_of_a_folder_without_a_dataset_is_a_clear_error(tmp_path, capsys):
    assert main(["data", "vocab", str(tmp_path), "--out", str(tmp_path / "v.safetensors")]) == 2
    assert "no train.txt" in capsys.readouterr().err and not (tmp_path / "v.safetensors").exists()


def test_eval_suite_refuses_rows_that_are_not_text_to_motion_engines(sample_dataset, capsys):
    assert main(["eval", "--model", "inbetween", "--suite", "--data", str(sample_dataset), "--split", "train"]) == 2
    err = capsys.readouterr().err
    assert "the prompt suite scores text-to-motion engines (masked, diffusion), not 'inbetween'" in err
    assert "Traceback" not in err


def test_eval_suite_takes_its_length_from_frames(sample_dataset, monkeypatch, capsys):
    import app.engine.prompt_suite as prompt_suite

    lengths = []
    row = prompt_suite.SuiteRow("masked", "a person kicks", "kick", 1.0, 1.0, 0.2, 0.3, 5.0, 0.1, "-", "-")
    monkeypatch.setattr(prompt_suite, "run_suite", lambda *a, **k: lengths.append(k["n_frames"]) or [row])
    monkeypatch.setattr("app.cli._physical_reference", lambda *a: object())  # no bands needed: no takes are made
    args = ["eval", "--model", "masked", "--suite", "--data", str(sample_dataset), "--split", "train"]
    assert main(args) == 0 and "120 frames each" in capsys.readouterr().out
    assert main(args + ["--frames", "80"]) == 0 and "80 frames each" in capsys.readouterr().out
    assert lengths == [120, 80]
    for bad, message in ((["--frames", "3"], "4 to 12000 frames"), (["--frames", "12001"], "4 to 12000 frames")):
        assert main(args + bad) == 2 and message in capsys.readouterr().err
    assert main(["eval", "--model", "masked", "--data", str(sample_dataset), "--frames", "80"]) == 2
    assert "use it with --suite" in capsys.readouterr().err


def test_data_calibrate_rules_writes_thresholds_the_suite_reads(sample_dataset, tmp_path, capsys):
    from app.engine.action_rules import load_rules

    out = tmp_path / "rules.json"
    assert main(["data", "calibrate-rules", str(sample_dataset), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "most passing other" in printed and f"written to {out}" in printed
    labels = {v["content"] for v in json.loads((sample_dataset / "labels.json").read_text()).values()}
    rules = load_rules(out)
    assert "walk" in rules and set(rules) <= labels
    assert main(["data", "calibrate-rules", str(sample_dataset), "--out", str(tmp_path / "dry.json"), "--dry-run"]) == 0
    assert not (tmp_path / "dry.json").exists()


def test_eval_suite_with_an_unreadable_rules_file_is_a_clear_error(sample_dataset, tmp_path, capsys):
    missing = tmp_path / "nope.json"
    assert main(["eval", "--model", "masked", "--suite", "--data", str(sample_dataset), "--split", "train",
                 "--rules", str(missing)]) == 2
    err = capsys.readouterr().err
    assert f"cannot read the action rules' thresholds {missing}" in err and "Traceback" not in err


@pytest.mark.parametrize("fps", ["0", "-5", "nan", "inf", "1e9"])
def test_convert_refuses_absurd_frame_rates_in_one_line(shared_data, tmp_path, capsys, fps):
    out = tmp_path / "out.bvh"
    assert main(["convert", str(shared_data / "cmu-sample" / "02_01.bvh"), str(out), "--fps", fps]) == 2
    err = capsys.readouterr().err
    assert "frame rate must be a number above 0 and at most 1000" in err and "Traceback" not in err
    assert not out.exists()


def test_train_masked_passes_the_kmm_options_and_other_trainers_refuse_them(tmp_path, monkeypatch, capsys):
    import app.engine.train.masked as masked

    seen = {}
    monkeypatch.setattr(masked, "train_masked", lambda *args, **kwargs: seen.update(config=args[3]) or {})
    common = ["--data", str(tmp_path), "--out", str(tmp_path / "m.safetensors"), "--runs", str(tmp_path / "runs")]
    assert main(["train", "masked", *common, "--masking", "keyframe", "--backbone", "mamba", "--contrastive"]) == 0
    assert (seen["config"].masking, seen["config"].backbone, seen["config"].contrastive) == ("keyframe", "mamba", 0.1)
    assert main(["train", "masked-upper", *common, "--contrastive", "0.3", "--tokenizer", "t.safetensors",
                 "--lower-tokenizer", "l.safetensors"]) == 0
    assert (seen["config"].masking, seen["config"].backbone, seen["config"].contrastive) == ("random", "transformer", 0.3)
    assert main(["train", "vae", *common, "--backbone", "mamba"]) == 2
    assert "--backbone applies to `kinema train masked` and `masked-upper` only" in capsys.readouterr().err


@pytest.mark.parametrize("row", ["inbetween", "inbetween-diffusion", "edit-upper", "long", "path"])
def test_eval_edit_rows_use_the_models_of_checkpoints(sample_dataset, tmp_path, capsys, row):
    """--checkpoints names the models every row scores; an edit row once scored the shipped ones whatever was given."""
    empty = tmp_path / "no-models"
    empty.mkdir()
    assert main(["eval", "--model", row, "--data", str(sample_dataset), "--split", "train", "--repeats", "1",
                 "--checkpoints", str(empty)]) == 2
    assert str(empty) in capsys.readouterr().err


def test_train_masked_passes_rotary_and_other_trainers_refuse_it(tmp_path, monkeypatch, capsys):
    import app.engine.train.masked as masked

    seen = {}
    monkeypatch.setattr(masked, "train_masked", lambda *args, **kwargs: seen.update(config=args[3]) or {})
    common = ["--data", str(tmp_path), "--out", str(tmp_path / "m.safetensors"), "--runs", str(tmp_path / "runs")]
    assert main(["train", "masked", *common]) == 0 and seen["config"].rotary is False
    assert main(["train", "masked", *common, "--rotary"]) == 0 and seen["config"].rotary is True
    assert main(["train", "tokenizer", *common, "--rotary"]) == 2
    assert "--rotary applies to `kinema train masked` and `masked-upper` only" in capsys.readouterr().err


def test_train_init_reaches_the_masked_vae_and_diffusion_trainers_and_the_evaluator_refuses_it(tmp_path, monkeypatch,
                                                                                              capsys):
    import app.engine.train.diffusion as diffusion
    import app.engine.train.masked as masked
    import app.engine.train.vae as vae

    seen = {}
    monkeypatch.setattr(masked, "train_masked", lambda *args, **kwargs: seen.update(masked=args[3]) or {})
    monkeypatch.setattr(vae, "train_vae", lambda *args, **kwargs: seen.update(vae=args[2]) or {})
    monkeypatch.setattr(diffusion, "train_diffusion", lambda *args, **kwargs: seen.update(diffusion=args[3]) or {})
    common = ["--data", str(tmp_path), "--out", str(tmp_path / "m.safetensors"), "--runs", str(tmp_path / "runs"),
              "--init", "start.safetensors"]
    for what in ("masked", "vae", "diffusion"):
        assert main(["train", what, *common]) == 0 and seen[what].init == "start.safetensors"
    assert main(["train", "evaluator", *common]) == 2
    assert "--init applies to the tokenizer, vae, diffusion, masked and masked-upper trainers" in capsys.readouterr().err
    assert main(["train", "vae", *common, "--label-balance", "0"]) == 0 and seen["vae"].label_balance == 0.0
    assert main(["train", "diffusion", *common, "--label-balance", "1.5"]) == 2
    assert "--label-balance is a number from 0" in capsys.readouterr().err


TRAINERS = {  # what -> (module of app.engine.train, its train function, where the config is among its arguments)
    "tokenizer": ("tokenizer", "train_tokenizer", 2), "vae": ("vae", "train_vae", 2),
    "diffusion": ("diffusion", "train_diffusion", 3), "masked": ("masked", "train_masked", 3)}


@pytest.mark.parametrize("flag, field, value, bad_value, takers, refuser, message", [
    ("--ema", "ema", 0.999, "1", ("diffusion",), "masked", "--ema is the diffusion trainer's weight-average decay"),
    ("--weight-pose-sq", "weight_pose_sq", 1.0, "-1", ("tokenizer", "vae"), "masked",
     "--weight-pose-sq is the tokenizer's or VAE's weight"),
    ("--code-balance", "code_balance", 0.5, "-1", ("masked",), "vae", "--code-balance is the masked trainers' exponent"),
])
def test_a_trainers_own_flag_reaches_it_and_the_others_refuse_it(flag, field, value, bad_value, takers, refuser, message,
                                                                 tmp_path, monkeypatch, capsys):
    import importlib

    seen = {}
    for what in takers:
        module, function, index = TRAINERS[what]
        monkeypatch.setattr(importlib.import_module(f"app.engine.train.{module}"), function,
                            lambda *args, what=what, index=index, **kwargs: seen.update({what: args[index]}) or {})
    common = ["--data", str(tmp_path), "--out", str(tmp_path / "a.safetensors"), "--runs", str(tmp_path / "runs")]
    for what in takers:
        assert main(["train", what, *common]) == 0 and getattr(seen[what], field) == 0.0
        assert main(["train", what, *common, flag, str(value)]) == 0 and getattr(seen[what], field) == value
    for bad in (["train", refuser, *common, flag, str(value)], ["train", takers[0], *common, flag, bad_value]):
        assert main(bad) == 2
        assert message in capsys.readouterr().err


def test_lr_reaches_every_trainer_and_leaves_its_default_when_not_given(tmp_path, monkeypatch, capsys):
    import importlib

    seen = {}
    for what, (module, function, index) in TRAINERS.items():
        monkeypatch.setattr(importlib.import_module(f"app.engine.train.{module}"), function,
                            lambda *args, what=what, index=index, **kwargs: seen.update({what: args[index]}) or {})
    common = ["--data", str(tmp_path), "--out", str(tmp_path / "a.safetensors"), "--runs", str(tmp_path / "runs")]
    for what in TRAINERS:
        assert main(["train", what, *common]) == 0
        default = seen[what].lr
        assert main(["train", what, *common, "--lr", "1e-5"]) == 0 and seen[what].lr == 1e-5 != default
    for bad in ("0", "-1e-4"):
        assert main(["train", "masked", *common, f"--lr={bad}"]) == 2
        assert "--lr is the peak learning rate, a number above 0" in capsys.readouterr().err


def test_eval_guidance_reaches_every_row_and_none_leaves_each_verbs_default(sample_dataset, monkeypatch):
    import app.engine.ops as ops
    from app.cli import _motion_source
    from app.engine.data.dataset import MotionFolder

    test = MotionFolder(sample_dataset, "train")
    used = []
    monkeypatch.setattr(ops, "generate", lambda *args, **kwargs: used.append(kwargs["guidance"]) or ops.Motion(
        np.zeros((kwargs["n_frames"], 251), np.float32)))
    for guidance in (3.0, None):
        _motion_source("masked", _shipped_dir(), test, guidance).fn("a person walks", 8, 0)
        for row in ("inbetween", "inbetween-diffusion", "edit-upper", "long", "path"):
            assert _motion_source(row, _shipped_dir(), test, guidance).guidance == guidance
    assert used == [3.0, None]


def _shipped_dir() -> str:
    from app.engine.models.checkpoint import SHIPPED

    return str(SHIPPED)
