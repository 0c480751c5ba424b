"""`kinema`: the command line. Each command parses its arguments and calls the engine; nothing deeper."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from app.errors import CommandError

BENCH_RUNS = 20

EXAMPLES = """examples:
  kinema generate "a person waves with the left hand" --frames 120 -o wave.bvh
  kinema inbetween wave.bvh --lock 0,60,119 --text "a person jumps" -o jump.bvh
  kinema edit-upper walk.bvh --range 30:90 --text "a person waves both hands" -o walk-wave.bvh
  kinema long "a person walks forward" 80 "a person waves the right hand" 60 -o long.bvh
  kinema data build bandai-namco ../shared/data/bandai-namco --out data/bandai-namco
  kinema data info data/bandai-namco
  kinema data vocab data/combined
  kinema data calibrate-rules data/combined
  kinema convert take.bvh take-20fps.bvh --fps 20
  kinema convert take.bvh take.fbx
  kinema generate "a person walks" -o walk.glb
  kinema train evaluator --data data/bandai-namco
  kinema eval --model real --data data/bandai-namco --plot docs/eval
  kinema eval --model masked --model diffusion --suite --data data/bandai-namco
  kinema bench
  kinema bench --ui
  kinema render take.bvh -o take.gif
  kinema render take.bvh -o take.mp4 --size 1280x720
  kinema                      (no command: opens the studio)
"""


def _shipped(name: str = "") -> Path:
    """A file of the checkpoints shipped with Kinema (or the folder): defaults that work from any folder."""
    from app.engine.models.checkpoint import SHIPPED

    return SHIPPED / name if name else SHIPPED


def _cmd_data_build(args: argparse.Namespace) -> None:
    if args.source_kind in ("extra", "cmu"):
        _build_extra(args)
        return
    from tqdm import tqdm

    from app.engine.data.bandai_namco import DatasetSourceError
    from app.engine.data.build import build_bandai_namco

    if args.source_kind != "bandai-namco":
        raise CommandError(f"unknown dataset kind {args.source_kind!r}; `kinema data build` knows: bandai-namco, extra, cmu")
    if args.with_dataset or args.descriptions:
        raise CommandError("--with and --descriptions are for `extra` and `cmu` builds")
    try:
        summary = build_bandai_namco(
            args.source,
            args.out,
            only=args.only,
            limit=args.limit,
            workers=args.workers,
            mirror=not args.no_mirror,
            split=args.split,
            progress=lambda it: tqdm(it, desc="takes", unit="take", disable=args.quiet),
        )
    except (DatasetSourceError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    print("\n".join(summary.lines()))
    print(f"written to {args.out}")


def _build_extra(args: argparse.Namespace) -> None:
    """`extra`: the extra data folder (CMU archives + index, Mesh2Motion glTF); `cmu`: any CMU BVH folder or zip."""
    import itertools

    from tqdm import tqdm

    from app.engine.data.cmu import CMUSourceError, read_descriptions
    from app.engine.data.extra import build_extra, cmu_motions, extra_motions

    if args.only or args.split:
        raise CommandError(f"--only and --split are for bandai-namco builds; `{args.source_kind}` builds take --limit")
    skipped: dict[str, str] = {}
    try:
        if args.source_kind == "extra":
            motions = extra_motions(args.source, skipped)
        else:
            if not args.descriptions:
                raise CommandError("a CMU build needs CMU's index: --descriptions cmu-descriptions.csv")
            motions = cmu_motions(args.source, read_descriptions(args.descriptions), skipped)
        if args.limit:
            motions = itertools.islice(motions, args.limit)
        summary = build_extra(motions, args.out, mirror=not args.no_mirror, with_dataset=args.with_dataset,
                              skipped=skipped,
                              progress=lambda it: tqdm(it, desc="motions", unit="motion", disable=args.quiet))
    except (CMUSourceError, ValueError, OSError) as exc:
        raise CommandError(str(exc)) from None
    print("\n".join(summary.lines()))
    print(f"written to {args.out}")


def _cmd_data_info(args: argparse.Namespace) -> None:
    from app.engine.data.dataset import DatasetError, MotionFolder, dataset_info

    try:
        info = dataset_info(args.folder)
        splits = {}
        for split in ("train", "val", "test"):
            split_file = Path(args.folder) / f"{split}.txt"
            if not split_file.exists():
                continue
            if not split_file.read_text().split():
                splits[split] = {"motions": 0, "records": 0, "captions": 0, "hours": 0.0}
                continue
            folder = MotionFolder(args.folder, split)
            splits[split] = {
                "motions": len({r.name.split("#")[0] for r in folder.records}),
                "records": len(folder),
                "captions": sum(len(r.captions) for r in folder.records),
                "hours": round(folder.total_frames() / info.fps / 3600, 3),
            }
    except (DatasetError, OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    meta_path = Path(args.folder) / "kinema.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if args.json:
        print(json.dumps({"kind": info.kind, "n_joints": info.n_joints, "fps": info.fps, "feature_dim": info.feature_dim,
                          "splits": splits, "held_out_pairs": meta.get("held_out_pairs", [])}, indent=1))
        return
    skeleton = info.skeleton.name if info.skeleton else f"{info.n_joints} joints"
    print(f"{args.folder}: {info.kind}, skeleton {skeleton}, {info.fps:g} fps, {info.feature_dim}-dim features")
    print(f"{'split':>6} {'motions':>8} {'records':>8} {'captions':>9} {'hours':>7}")
    for split, s in splits.items():
        print(f"{split:>6} {s['motions']:>8} {s['records']:>8} {s['captions']:>9} {s['hours']:>7.2f}")
    if meta.get("held_out_pairs"):
        pairs = ", ".join(f"{c}/{s}" for c, s in meta["held_out_pairs"])
        print(f"test split holds out these (content/style) pairs: {pairs}")


def _cmd_data_vocab(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from app.engine.data.dataset import DatasetError
    from app.engine.text import TextEncoderUnavailable, get_text_encoder
    from app.engine.vocabulary import actions_markdown, build_vocabulary

    out = Path(args.out) if args.out else _shipped("vocabulary.safetensors")
    try:
        vocabulary, calibration = build_vocabulary(args.folder, get_text_encoder(), args.threshold, progress=lambda it:
                                                   tqdm(it, desc="actions", unit="action", disable=args.quiet))
    except (DatasetError, TextEncoderUnavailable, OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    vocabulary.save(out)
    how = ("as given" if args.threshold is not None else f"calibrated: least similar known paraphrase "
           f"{calibration['lowest_known']:.3f}, most similar absent action {calibration['highest_absent']:.3f}")
    print(f"{len(vocabulary.captions)} distinct captions of {len(vocabulary.known_actions())} actions; threshold "
          f"{vocabulary.threshold:.3f} ({how})")
    print(actions_markdown(vocabulary))
    print(f"written to {out}")


def _cmd_data_calibrate_rules(args: argparse.Namespace) -> None:
    from app.engine import action_rules
    from app.engine.data.dataset import DatasetError, MotionFolder
    from app.engine.evaluate import MAX_FRAMES

    out = Path(args.out) if args.out else action_rules.THRESHOLDS_PATH
    try:
        folders = [MotionFolder(args.folder, split) for split in ("train", "val", "test")
                   if (Path(args.folder) / f"{split}.txt").exists() and (Path(args.folder) / f"{split}.txt").read_text().split()]
        if not folders or folders[0].info.skeleton is None:
            raise DatasetError(f"{args.folder}: the rules need a dataset with a skeleton (ours, or HumanML3D)")
        takes, labels = action_rules.real_measures([r for f in folders for r in f.records], folders[0].info.skeleton, MAX_FRAMES)
        if not takes:
            raise DatasetError(f"{args.folder} has no action labels: the rules are calibrated on labelled takes")
        calibrations = action_rules.calibrate_rules(takes, labels, args.target,
                                                    progress=lambda message: print(message, file=sys.stderr))
    except (DatasetError, OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    if not calibrations:
        raise CommandError(f"{args.folder} has no real takes of any action with a rule ({', '.join(action_rules.RULES)})")
    title = (f"action rules calibrated on {len(takes)} real takes of {args.folder} (all splits, first {MAX_FRAMES} "
             f"frames): pass = share of the action's takes (real) and of every other action's takes (others)")
    print(action_rules.format_calibration(calibrations, title))
    if not args.dry_run:
        action_rules.write_rules(calibrations, out, str(args.folder), f"kinema data calibrate-rules {args.folder}")
        print(f"written to {out}")


def _cmd_convert(args: argparse.Namespace) -> None:
    """BVH to BVH keeps the file exactly as it is (channels, End Sites); to FBX or glTF the file's own rig is kept
    (its unit guessed from its size unless --scale says it); --kinema-rig reads the take as the studio imports it
    (onto Kinema's rig) first."""
    from app.engine.io.bvh import BVHError, read_bvh, write_bvh
    from app.engine.io.bvh_rig import bvh_animation, guess_unit
    from app.engine.io.convert import resample_bvh
    from app.engine.io.formats import export_positions, reader_for, write_animation, writer_for

    try:
        fmt, source = writer_for(args.output), reader_for(args.input)
        if not Path(args.input).is_file():
            raise CommandError(f"{args.input}: no such file")
        if args.kinema_rig or source.suffix != ".bvh":
            from app.engine.document.files import read_take

            take = read_take(args.input)
            fps = args.fps if args.fps is not None else take.placement.fps or take.fps  # the source's rate, as the studio
            export_positions(take.placement.to_world(take.positions), take.skeleton, args.output, fps=take.fps,
                             out_fps=fps, units=args.units)
            print(f"wrote {args.output} ({fmt.name}): Kinema's {take.skeleton.n_joints}-joint rig, "
                  f"{take.n_frames} frames edited at {take.fps:g} fps, written at {fps:g} fps")
            return
        bvh = read_bvh(args.input)
        if fmt.suffix == ".bvh":
            if args.fps is not None:
                bvh = resample_bvh(bvh, args.fps)
            write_bvh(bvh, args.output)
            print(f"wrote {args.output}: {len(bvh.joints)} joints, {bvh.n_frames} frames at {bvh.fps:g} fps")
            return
        unit, scale = ("given by --scale", args.scale) if args.scale else guess_unit(bvh)
        anim = bvh_animation(bvh, scale).resampled(args.fps)
        write_animation(anim, args.output, units=args.units)
    except (BVHError, OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    print(f"wrote {args.output} ({fmt.name}): {anim.rig.n_joints} joints, {anim.n_frames} frames at {anim.fps:g} fps "
          f"(file unit: {unit}, {scale:g} m)")


def _cmd_train(args: argparse.Namespace) -> None:
    import dataclasses

    from app.engine.data.dataset import DatasetError

    if args.label_balance is not None and (args.what == "evaluator" or not 0 <= args.label_balance <= 1):
        raise CommandError("--label-balance is a number from 0 (motions drawn uniformly) to 1 (every action alike) "
                           "for the tokenizer, vae, diffusion, masked and masked-upper trainers")
    if args.init and args.what == "evaluator":
        raise CommandError("--init applies to the tokenizer, vae, diffusion, masked and masked-upper trainers")
    for flag, value in (("--part", args.part), ("--codebook-size", args.codebook_size)):
        if value and args.what != "tokenizer":
            raise CommandError(f"{flag} applies to `kinema train tokenizer` only")
    if args.ema is not None and (args.what != "diffusion" or not 0 <= args.ema < 1):
        raise CommandError("--ema is the diffusion trainer's weight-average decay, a number from 0 (none) to below 1")
    if args.decoder_only and (args.what not in ("tokenizer", "vae") or not args.init):
        raise CommandError("--decoder-only fine-tunes the decoder of the tokenizer or VAE given with --init")
    for flag, value in (("--masking", args.masking), ("--backbone", args.backbone), ("--contrastive", args.contrastive),
                        ("--rotary", args.rotary or None)):
        if value is not None and args.what not in ("masked", "masked-upper"):
            raise CommandError(f"{flag} applies to `kinema train masked` and `masked-upper` only")
    name = f"tokenizer_{args.part}" if args.part else args.what.replace("-", "_")
    log_path = Path(args.runs) / name / "log.jsonl"
    out = args.out or f"checkpoints/{name}.safetensors"
    if args.code_balance is not None and (args.what not in ("masked", "masked-upper") or args.code_balance < 0):
        raise CommandError("--code-balance is the masked trainers' exponent of the rare codes' weight, a number from 0")
    if args.weight_pose_sq is not None and (args.what not in ("tokenizer", "vae") or args.weight_pose_sq < 0):
        raise CommandError("--weight-pose-sq is the tokenizer's or VAE's weight of the joint positions' squared error, "
                           "a number from 0")
    if args.lr is not None and not args.lr > 0:
        raise CommandError("--lr is the peak learning rate, a number above 0")
    overrides = {k: v for k, v in (("steps", args.steps), ("batch_size", args.batch_size), ("threads", args.threads),
                                   ("lr", args.lr),
                                   ("label_balance", args.label_balance), ("weight_pose_sq", args.weight_pose_sq),
                                   ("code_balance", args.code_balance))
                 if v is not None}
    try:
        if args.what == "evaluator":
            from app.engine.train.evaluator import EvaluatorTrainConfig, train_evaluator

            config = dataclasses.replace(EvaluatorTrainConfig(), **overrides)
            result = train_evaluator(args.data, out, config, log_path=log_path, resume=not args.fresh)
        elif args.what == "tokenizer":
            from app.engine.train.tokenizer import TokenizerTrainConfig, train_tokenizer

            config = dataclasses.replace(TokenizerTrainConfig(preset=args.preset, part=args.part, init=args.init,
                                                              codebook_size=args.codebook_size,
                                                              decoder_only=args.decoder_only), **overrides)
            result = train_tokenizer(args.data, out, config, log_path=log_path, resume=not args.fresh)
        elif args.what == "vae":
            from app.engine.train.vae import VAETrainConfig, train_vae

            config = dataclasses.replace(VAETrainConfig(preset=args.preset, init=args.init,
                                                        decoder_only=args.decoder_only), **overrides)
            result = train_vae(args.data, out, config, log_path=log_path, resume=not args.fresh)
        elif args.what == "diffusion":
            from app.engine.train.diffusion import DiffusionTrainConfig, train_diffusion

            config = dataclasses.replace(DiffusionTrainConfig(preset=args.preset, ablation=args.ablation,
                                                              init=args.init, ema=args.ema or 0.0), **overrides)
            result = train_diffusion(args.data, args.vae or _shipped("vae.safetensors"), out, config,
                                     log_path=log_path, resume=not args.fresh)
        else:
            from app.engine.train.masked import MaskedTrainConfig, train_masked

            kmm = {k: v for k, v in (("masking", args.masking), ("backbone", args.backbone),
                                     ("contrastive", args.contrastive), ("rotary", args.rotary or None))
                   if v is not None}
            config = dataclasses.replace(MaskedTrainConfig(preset=args.preset, init=args.init, **kmm), **overrides)
            upper = args.what == "masked-upper"
            tokenizer = args.tokenizer or _shipped(f"{'tokenizer_upper' if upper else 'tokenizer'}.safetensors")
            lower = (args.lower_tokenizer or _shipped("tokenizer_lower.safetensors")) if upper else None
            result = train_masked(args.data, tokenizer, out, config, log_path=log_path, resume=not args.fresh,
                                  lower_tokenizer_path=lower)
    except (DatasetError, FileNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    print(json.dumps(result, indent=1, default=str))
    print(f"weights written to {out}; training log in {log_path}")


def _cmd_eval(args: argparse.Namespace) -> None:
    from app.engine import evaluate
    from app.engine.any_length import LONGEST_TAKE_S
    from app.engine.data.dataset import DatasetError, MotionFolder
    from app.engine.evaluation import Evaluator, EvaluatorError

    if args.frames is not None and not args.suite:  # before the bands are computed: refused at once
        raise CommandError("--frames is the prompt suite's take length: use it with --suite")
    if args.frames is not None and not 4 <= args.frames <= LONGEST_TAKE_S * 20:
        raise CommandError(f"--frames is the suite's take length, 4 to {LONGEST_TAKE_S * 20} frames at 20 fps, "
                           f"got {args.frames}")

    def progress(message: str) -> None:
        print(message, file=sys.stderr)

    try:
        test = MotionFolder(args.data, args.split)
        train = MotionFolder(args.data, "train")
        reference = _physical_reference(train, test, progress)
        if args.suite:
            return _eval_suite(args, test, reference, progress)
        evaluator = Evaluator.load(args.evaluator or _shipped("evaluator.safetensors"))
        settings = evaluate.EvalSettings(repeats=args.repeats, seed=args.seed)
        rows = []
        for name in args.model:
            source = _motion_source(name, args.checkpoints or _shipped(), test, args.guidance)
            rows.append(evaluate.evaluate_source(source, test, evaluator, settings, progress=progress, reference=reference))
            if name == "real":
                rows.append(evaluate.train_test_fid(train, test, evaluator))
    except (DatasetError, EvaluatorError, FileNotFoundError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    title = f"{Path(args.data).name}, {args.split} split: {len(test)} motions, {args.repeats} repeats, mean ± 95% interval"
    if args.json:
        print(json.dumps({"title": title, "rows": [{"model": r.model, "metrics": {k: {"mean": m, "ci95": c} for k, (m, c) in r.metrics.items()}}
                                                   for r in rows]}, indent=1))
    else:
        print(evaluate.format_table(rows, title))
        by_source = evaluate.format_by_source(rows)
        if by_source:
            print(by_source)
    if args.left_right:
        _left_right(args.model, args.checkpoints or _shipped(), args.guidance)
    if args.plot:
        from app.engine.plots import plot_agreement, plot_metrics, plot_training_curves

        out = Path(args.plot)
        out.mkdir(parents=True, exist_ok=True)
        written = [plot_metrics(rows, out, title), plot_agreement(rows, out, title), *plot_training_curves(Path(args.runs), out)]
        print("charts: " + ", ".join(str(p) for p in written if p is not None), file=sys.stderr)


def _physical_reference(train, test, progress):
    """Bands per action label from the real training takes; None for datasets without labels or skeleton."""
    from app.engine import physical
    from app.engine.evaluate import MAX_FRAMES

    if test.info.skeleton is None or not any(physical.action_label(r) for r in train.records):
        return None
    progress(f"physical bands from {len(train)} real training takes")
    return physical.real_reference(train.records, test.info.skeleton, MAX_FRAMES)


def _eval_suite(args: argparse.Namespace, test, reference, progress) -> None:
    from dataclasses import asdict

    from app.engine.action_rules import THRESHOLDS_PATH, load_rules
    from app.engine.prompt_suite import SUITE_FRAMES, format_suite, run_suite

    frames = SUITE_FRAMES if args.frames is None else args.frames

    if reference is None:
        raise CommandError(f"{args.data} has no action labels: the prompt suite needs them (a Bandai Namco dataset has)")
    rules_path = Path(args.rules) if args.rules else THRESHOLDS_PATH
    try:
        rules = load_rules(rules_path)
    except (OSError, ValueError, KeyError) as exc:
        raise CommandError(f"cannot read the action rules' thresholds {rules_path}: {exc}") from None
    rows = []
    for name in args.model:
        if name not in ("masked", "diffusion"):
            raise CommandError(f"the prompt suite scores text-to-motion engines (masked, diffusion), not {name!r}")
        source = _motion_source(name, args.checkpoints or _shipped(), test, args.guidance)
        rows.extend(run_suite(name, source.fn, reference, test.info.skeleton, seeds=args.seeds, progress=progress,
                              rules=rules, n_frames=frames))
    title = (f"prompt suite on {Path(args.data).name}'s bands and the action rules of {rules_path.name}: "
             f"{args.seeds} seeds per prompt, {frames} frames each")
    print(json.dumps({"title": title, "rows": [asdict(r) for r in rows]}, indent=1) if args.json else format_suite(rows, title))
    if args.plot:
        from app.engine.plots import plot_suite

        out = Path(args.plot)
        out.mkdir(parents=True, exist_ok=True)
        print(f"charts: {plot_suite(rows, out)}", file=sys.stderr)


def _left_right(models: list[str], checkpoints: str, guidance: float | None) -> None:
    """The left/right test (app.engine.left_right) of each generative model in `models`."""
    from app.engine import ops
    from app.engine.left_right import PROMPTS, left_right_accuracy
    from app.engine.models.diffusion_pipeline import load_diffusion_pipeline
    from app.engine.models.pipeline import load_pipeline
    from app.engine.skeleton import skeleton_by_name

    for name in (m for m in models if m in ("masked", "diffusion")):
        model = load_pipeline(checkpoints) if name == "masked" else load_diffusion_pipeline(checkpoints)
        scores = left_right_accuracy(lambda text, seed: ops.generate(text, seed=seed, guidance=guidance, engine=name,
                                                                     model=model).features,
                                     skeleton_by_name(model.skeleton_name))
        parts = ", ".join(f"{k!r} {v:.2f}" for k, v in scores.items() if k != "all")
        print(f"left/right test ({name}, {len(PROMPTS)} prompt pairs x 5 seeds): {scores['all']:.2f} ({parts})")


def _motion_source(name: str, checkpoints: str, test, guidance: float | None = None):
    """The rows' motion source; `guidance` None: each verb's default (app.engine.ops.DEFAULT_GUIDANCE)."""
    from app.engine import evaluate

    if name == "real":
        return evaluate.RealMotions()
    if name == "tokenizer":
        import torch

        from app.engine.models.tokenizer import MotionTokenizer

        path = Path(checkpoints) / "tokenizer.safetensors"
        if not path.is_file():
            raise FileNotFoundError(f"no {path}: train it with `kinema train tokenizer --data <dir>`")
        model = MotionTokenizer.load(path)
        mean, std = model.mean, model.std

        def reconstruct(features):
            n = len(features) // 4 * 4
            with torch.inference_mode():
                x = torch.from_numpy((features[:n] - mean) / std)[None]
                return model.decode(model.encode(x))[0].numpy() * std + mean

        return evaluate.ReconstructedMotions("tokenizer", reconstruct)
    if name in ("masked", "diffusion"):
        from app.engine.models.diffusion_pipeline import load_diffusion_pipeline
        from app.engine.models.pipeline import load_pipeline
        from app.engine.ops import generate

        model = (load_pipeline if name == "masked" else load_diffusion_pipeline)(checkpoints)
        return evaluate.GeneratedMotions(
            name, lambda text, n, seed: generate(text, n_frames=n, seed=seed, guidance=guidance, engine=name,
                                                 model=model).features)
    if name in ("inbetween", "inbetween-diffusion", "edit-upper", "long"):  # with the models of `checkpoints`
        from app.engine import evaluate_edits
        from app.engine.models.diffusion_pipeline import load_diffusion_pipeline
        from app.engine.models.pipeline import load_pipeline
        from app.engine.models.upper_editor import load_upper_editor

        skeleton = test.info.skeleton
        if name == "edit-upper":
            return evaluate_edits.UpperEditSource(skeleton, model=load_upper_editor(checkpoints), guidance=guidance)
        reference = evaluate_edits.real_jerk_reference(test.records, test.info.n_joints)
        if name == "inbetween-diffusion":
            return evaluate_edits.InbetweenSource(skeleton, reference, name=name, engine="diffusion",
                                                  model=load_diffusion_pipeline(checkpoints), guidance=guidance)
        source = evaluate_edits.InbetweenSource if name == "inbetween" else evaluate_edits.LongTakeSource
        return source(skeleton, reference, model=load_pipeline(checkpoints), guidance=guidance)
    if name in ("path", "pins"):
        from app.engine.evaluate_constraints import ConstrainedSource
        from app.engine.models.pipeline import load_pipeline

        return ConstrainedSource(test.info.skeleton, pins=name == "pins", name=name, model=load_pipeline(checkpoints),
                                 guidance=guidance)
    raise ValueError(f"unknown model {name!r}; choose from real, tokenizer, masked, diffusion, inbetween, "
                     "inbetween-diffusion, edit-upper, long, path, pins")


def _cmd_bench(args: argparse.Namespace) -> None:
    if args.long_take:
        from app.engine.long_take import format_long_take, run_long_take

        print(format_long_take(run_long_take()))
        return
    if args.startup:
        from app.ui.bench import bench_startup

        try:
            result = bench_startup(args.runs if args.runs != BENCH_RUNS else 3)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
        print(f"studio start ({result['runs']} starts): splash screen after {result['splash_first_s']:.2f} s the first "
              f"time, {result['splash_median_s']:.2f} s median; window on screen after {result['window_first_s']:.2f} s the "
              f"first time, {result['window_median_s']:.2f} s median; models loaded in the background after "
              f"{result['models_first_s']:.2f} s, {result['models_median_s']:.2f} s median")
        return
    if args.ui:
        from app.ui.bench import bench_playback

        try:
            result = bench_playback(seconds=args.seconds, display=args.display.capitalize())
        except RuntimeError as exc:
            raise CommandError(str(exc)) from None
        print(f"viewport playback: {result['fps']:.1f} fps (target {result['target_fps']:g}) for a "
              f"{result['frames']}-frame take in a {result['window']} studio window; {result['viewport']} viewport, "
              f"{result['cpu_ms_per_frame']:.1f} ms of CPU per frame, drawing {result['display'].lower()}; longest UI "
              f"stall {result['stall_ms']:.1f} ms ({result['stall_work_ms']:.1f} ms of it the UI thread's own work)")
        return
    from app.engine.bench import format_results, run_bench

    results = run_bench(args.checkpoints or _shipped(), runs=args.runs, only=args.only, progress=lambda m: print(m, file=sys.stderr))
    if not results:
        raise CommandError(f"no operation's name contains {args.only!r}")
    print(format_results(results))


def _cmd_render(args: argparse.Namespace) -> None:
    from app.engine.document.files import load_document, read_take
    from app.engine.smpl_body import MODEL_ENV, load_smpl
    from app.ui.render import output_size, render_take

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise CommandError(f"--size must look like 640x480, got {args.size!r}") from None
    try:
        if args.input.endswith(".kinema"):
            take = load_document(args.input).take
            if take is None:
                raise CommandError(f"{args.input} holds no take")
        else:
            take = read_take(args.input)
        smpl = None
        location = args.smpl or os.environ.get(MODEL_ENV)
        if location and args.display != "skeleton":
            smpl = load_smpl(location)
        n = render_take(take, args.output, (width, height), args.fps, args.display.capitalize(), smpl)
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    width, height = output_size(args.output, (width, height))
    print(f"wrote {args.output}: {n} pictures of {take.n_frames} frames, {width}x{height}")


def _cmd_doctor(args: argparse.Namespace) -> None:
    from app.doctor import MISSING, format_report, run_checks

    rows = run_checks(Path(args.checkpoints) if args.checkpoints else _shipped())
    if args.json:
        print(json.dumps([row.__dict__ for row in rows], indent=2))
    else:
        print(format_report(rows))
    if args.strict and any(row.status == MISSING for row in rows):
        raise CommandError("some pieces are missing (see above)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kinema",
        description="Kinema: text-to-motion generation and editing, offline. Without a command, opens the studio.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    data = commands.add_parser("data", help="build and inspect motion datasets")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    build = data_commands.add_parser(
        "build",
        help="build a training dataset in HumanML3D's layout from raw mocap",
        description="Read every take of a raw dataset (archives or unpacked), resample to 20 fps, put each motion on "
        "the floor at the origin facing +Z, compute features, write texts from the labels, add mirrored copies, "
        "split with whole (content, style) pairs held out for the test set, and write Mean/Std.",
    )
    build.add_argument("source_kind", metavar="KIND", help="the raw dataset's kind: bandai-namco; extra (the extra "
                       "folder: CMU archives with cmu-descriptions.csv and Mesh2Motion .glb files); cmu (any folder, "
                       ".zip or .tar.xz of CMU BVH takes named SS_TT.bvh, with --descriptions)")
    build.add_argument("source", help="folder with the .tar.xz archives, an unpacked copy, or loose .bvh + .json files")
    build.add_argument("--out", required=True, help="output folder (replaced when the build completes)")
    build.add_argument("--only", help="only takes whose name contains this text or matches this glob (e.g. '*walk_normal*')")
    build.add_argument("--limit", type=int, help="stop after this many takes (for quick tests)")
    build.add_argument("--workers", type=int, default=None, help="processes to use (default: all cores)")
    build.add_argument("--no-mirror", action="store_true", help="do not add left/right mirrored copies")
    build.add_argument("--split", choices=["train", "val", "test"], help="build only this split's takes (e.g. a quick test set)")
    build.add_argument("--descriptions", help="cmu: CMU's index, cmu-descriptions.csv (descriptions, frame rates)")
    build.add_argument("--with", dest="with_dataset", help="extra, cmu: merge a built dataset (e.g. data/bandai-namco) "
                       "into the same folder, with per-motion draw weights over both")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(func=_cmd_data_build)

    vocab = data_commands.add_parser(
        "vocab", help="embed a dataset's training captions for the prompt check (what the models know)",
        description="Embed the distinct training captions of a built dataset with MiniLM, keep a few hundred per "
        "action, calibrate the out-of-vocabulary threshold, and write the vocabulary file the studio and the CLI use "
        "to warn about prompts far from everything the models were trained on. Prints the known-actions table.")
    vocab.add_argument("folder", help="dataset folder from `kinema data build`")
    vocab.add_argument("--out", help="the file to write (default: the shipped checkpoints/vocabulary.safetensors)")
    vocab.add_argument("--threshold", type=float, help="similarity below which a prompt is out of vocabulary (default: "
                       "calibrated on built-in paraphrases of known actions and prompts about absent ones)")
    vocab.add_argument("--quiet", action="store_true", help="no progress bar")
    vocab.set_defaults(func=_cmd_data_vocab)

    rules = data_commands.add_parser(
        "calibrate-rules", help="calibrate the action rules (a jump leaves the floor...) on a dataset's real takes",
        description="Measure every labelled take of a built dataset (all splits), set each action rule's thresholds "
        "to the strictest that still pass --target of that action's real takes, print how many takes of the action "
        "and of the other actions pass, and write the thresholds file `kinema eval --suite` reads.")
    rules.add_argument("folder", help="dataset folder from `kinema data build` (e.g. the combined one)")
    rules.add_argument("--out", help="the file to write (default: app/engine/action_rules.json, shipped with Kinema)")
    rules.add_argument("--target", type=float, default=0.9, help="share of an action's real takes its rule passes")
    rules.add_argument("--dry-run", action="store_true", help="print the table, write nothing")
    rules.set_defaults(func=_cmd_data_calibrate_rules)

    info = data_commands.add_parser("info", help="summarise a dataset folder (ours, HumanML3D or KIT-ML)",
                                    description="Print the dataset's kind, skeleton, frame rate, and per split the "
                                    "number of motions, caption records and hours.")
    info.add_argument("folder")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=_cmd_data_info)

    convert = commands.add_parser("convert", help="write a take in another format (by extension: .bvh, .fbx, .glb, "
                                  ".gltf), optionally at another fps",
                                  description="Read any BVH (any channel order, 3 or 6 channels, CRLF, tabs) or .npy "
                                  "positions and write it in the format the output's extension names. BVH to BVH "
                                  "writes a clean copy of the same rig; BVH to FBX or glTF keeps the file's rig and "
                                  "names. --fps resamples the animation (rotations slerped).")
    convert.add_argument("input", help="a .bvh take or .npy positions")
    convert.add_argument("output", help="the file to write: .bvh, .fbx, .glb or .gltf")
    convert.add_argument("--fps", type=float, help="resample to this frame rate")
    convert.add_argument("--units", choices=["cm", "m"], default="cm",
                         help="lengths in the written BVH or FBX file (default cm; glTF is always metres)")
    convert.add_argument("--scale", type=float, help="metres per unit of the input BVH (default: guessed from "
                         "the body's size)")
    convert.add_argument("--kinema-rig", action="store_true", help="put the take on Kinema's rig first, as the "
                         "studio imports it (for rigs whose bones stretch, such as the Bandai Namco files)")
    convert.set_defaults(func=_cmd_convert)

    train = commands.add_parser("train", help="train a model on a built dataset",
                                description="Train a model; weights go to checkpoints/<what>.safetensors, the training "
                                "log to runs/<what>/log.jsonl. Interrupted runs resume where they stopped (--fresh to "
                                "start over). Several GPUs: torchrun --nproc_per_node=N -m app.cli train ...")
    train.add_argument("what", choices=["evaluator", "tokenizer", "masked", "masked-upper", "vae", "diffusion"],
                       help="masked-upper: MMM's upper-body editor, on the upper and lower part tokenizers; "
                       "vae, diffusion: Motion Mamba's motion VAE, then its latent denoiser")
    train.add_argument("--data", required=True, help="dataset folder from `kinema data build`, or a HumanML3D/KIT-ML folder")
    train.add_argument("--out", help="weights file (default checkpoints/<what>.safetensors)")
    train.add_argument("--preset", choices=["cpu", "paper"], default="cpu", help="model size (tokenizer, masked, vae, diffusion)")
    train.add_argument("--part", choices=["upper", "lower"],
                       help="tokenizer: a body-part tokenizer (for upper-body edits); default output "
                       "checkpoints/tokenizer_<part>.safetensors")
    train.add_argument("--init", help="start from this checkpoint's weights, to fine-tune it on new data: a tokenizer "
                       "(its encoder and decoder; its codebook too unless --codebook-size differs), or a VAE, "
                       "denoiser or masked model of the same config (masked: pass the flags it was trained with, "
                       "e.g. --rotary)")
    train.add_argument("--label-balance", type=float, help="how much each action counts whatever its number of takes: "
                       "0 draws motions uniformly, 1 every action alike (default 0.75; app.engine.train.sampling)")
    train.add_argument("--ema", type=float, help="diffusion: write the moving average of the weights with this decay "
                       "(e.g. 0.999) instead of the last weights; validation reads it too (default: none)")
    train.add_argument("--codebook-size", type=int, help="tokenizer: number of codes (default: the preset's, or --init's)")
    train.add_argument("--decoder-only", action="store_true",
                       help="tokenizer, vae: fine-tune only the decoder of --init; every motion keeps its codes (its "
                       "latents), so the masked models (denoisers) trained on them keep working")
    train.add_argument("--code-balance", type=float, help="masked, masked-upper: rare codes weigh (count / mean "
                       "count) ** -B in the cross-entropy, so the few codes of a brief pose (a kick's peak) are learnt "
                       "(default 0: every code alike)")
    train.add_argument("--weight-pose-sq", type=float, help="tokenizer, vae: weight of the joint positions' squared "
                       "error beside the smooth-L1 reconstruction, which makes brief extreme poses (a kick's foot above "
                       "the hips) worth decoding (default 0)")
    train.add_argument("--tokenizer", help="masked: its tokenizer (default: the shipped checkpoints/tokenizer.safetensors); "
                       "masked-upper: the upper-body one (default: the shipped checkpoints/tokenizer_upper.safetensors)")
    train.add_argument("--vae", help="diffusion: its motion VAE (default: the shipped checkpoints/vae.safetensors)")
    train.add_argument("--ablation", choices=["no-hierarchy", "no-backward-bsm"],
                       help="diffusion: train Motion Mamba without HTM's hierarchy or without BSM's backward scan")
    train.add_argument("--lower-tokenizer", help="masked-upper: the lower-body tokenizer "
                       "(default: the shipped checkpoints/tokenizer_lower.safetensors)")
    train.add_argument("--masking", choices=["random", "keyframe"],
                       help="masked, masked-upper: which tokens training hides: random (MMM, the default) or keyframe "
                       "(KMM: the densest motion first, half of them, the rest random)")
    train.add_argument("--backbone", choices=["transformer", "mamba"],
                       help="masked, masked-upper: attention layers (the default) or bidirectional Mamba layers with "
                       "cross-attention to the words (KMM; about a third fewer parameters)")
    train.add_argument("--contrastive", type=float, nargs="?", const=0.1, metavar="WEIGHT",
                       help="masked, masked-upper: add KMM's text-motion contrastive loss, left/right-swapped captions "
                       "as hard negatives, with this weight (0.1 when none is given)")
    train.add_argument("--rotary", action="store_true",
                       help="masked, masked-upper: rotary position embedding in self-attention, so attention sees "
                       "offsets between tokens (a gait's phase order) from the first step")
    train.add_argument("--steps", type=int, help="training steps (default: the preset's)")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float, help="peak learning rate (default: the trainer's; lower it to fine-tune "
                       "a trained checkpoint gently with --init)")
    train.add_argument("--threads", type=int, help="CPU threads per process (default 2; 1 when sharing the cores)")
    train.add_argument("--runs", default="runs", help="folder for training logs")
    train.add_argument("--fresh", action="store_true", help="ignore a saved resume state")
    train.set_defaults(func=_cmd_train)

    evaluation = commands.add_parser("eval", help="score real motions and models with the text-motion evaluator",
                                     description="Print the field's table (R-precision, FID, MM-Dist, Diversity, "
                                     "MultiModality), physical agreement with the real takes of each action, the speed ratio of locomotion, "
                                     "foot skating, straight-knee frames and jerk, mean ± 95%% interval over repeats. "
                                     "`real` is the reference row and adds the real train-vs-test FID.")
    evaluation.add_argument("--model", action="append", required=True,
                            help="real, tokenizer, masked, diffusion, or an edit: inbetween, inbetween-diffusion (the "
                            "diffusion engine's in-painting), edit-upper, long; or generation steered by each test "
                            "take's own root path (path) and also its hand and foot positions (pins); repeat for "
                            "several rows")
    evaluation.add_argument("--data", required=True)
    evaluation.add_argument("--split", default="test")
    evaluation.add_argument("--repeats", type=int, default=3)
    evaluation.add_argument("--seed", type=int, default=0)
    evaluation.add_argument("--evaluator", help="the evaluator's weights (default: the shipped one)")
    evaluation.add_argument("--checkpoints",
                            help="folder holding the models to evaluate (default: the shipped checkpoints)")
    evaluation.add_argument("--runs", default="runs", help="training logs to chart with --plot")
    evaluation.add_argument("--json", action="store_true", help="machine-readable output")
    evaluation.add_argument("--guidance", type=float, help="classifier-free guidance for every generated row, edit, "
                            "suite and left/right prompt (default: each verb's own, as `kinema generate` uses)")
    evaluation.add_argument("--left-right", action="store_true", help="also the left/right test of the generative "
                            "models: prompts that differ only in left/right, judged by which hand moves or where "
                            "the root goes")
    evaluation.add_argument("--plot", metavar="DIR",
                            help="also write PNG charts (metrics, agreement per action, training curves) to DIR")
    evaluation.add_argument("--suite", action="store_true",
                            help="instead of the table, score the plain one-line prompt suite (one prompt per action) "
                            "against the real takes' bands and the action rules (a jump leaves the floor...); for "
                            "masked and diffusion")
    evaluation.add_argument("--seeds", type=int, default=4, help="seeds per prompt with --suite")
    evaluation.add_argument("--frames", type=int, help="with --suite: each take's length in frames at 20 fps "
                            "(default 120, 6 s)")
    evaluation.add_argument("--rules", help="with --suite: the action rules' thresholds (default: the shipped ones, "
                            "from `kinema data calibrate-rules`)")
    evaluation.set_defaults(func=_cmd_eval)

    bench = commands.add_parser("bench", help="time every operation for one 196-frame motion",
                                description="Median time per operation (batch 1, after warm-up) on the CPU, and on "
                                "CUDA when present, with frames per second and the machine's CPU and threads.")
    bench.add_argument("--checkpoints", help="folder holding the models (default: the shipped checkpoints)")
    bench.add_argument("--runs", type=int, default=BENCH_RUNS, help="timed runs per operation (--startup: starts, default 3)")
    bench.add_argument("--only", help="only operations whose name contains this text")
    bench.add_argument("--ui", action="store_true", help="instead: the studio viewport's playback frame rate for a "
                       "200-frame take (needs a display, or Xvfb with pyvirtualdisplay)")
    bench.add_argument("--seconds", type=float, default=3.0, help="--ui: how long to play")
    bench.add_argument("--long-take", action="store_true", help="instead: build a 10-minute take (12,000 frames, 60 "
                       "prompt segments), save, reopen and export it (BVH, FBX, glTF); each step's time and the "
                       "process's peak memory")
    bench.add_argument("--startup", action="store_true", help="instead: seconds from launching the studio to its "
                       "window on screen and to its models loaded (a new process per start; needs a display or Xvfb)")
    bench.add_argument("--display", choices=["skeleton", "body", "both"], default="both",
                       help="--ui: what the viewport draws (default both: the heaviest)")
    bench.set_defaults(func=_cmd_bench)

    render = commands.add_parser("render", help="draw a take as the studio's viewport shows it, to a GIF or an MP4",
                                 description="Render a take (BVH, any rig that imports, or a .kinema project) "
                                 "offscreen, without a window (EGL), with the camera following the character.")
    render.add_argument("input", help="a .bvh take or a .kinema project")
    render.add_argument("-o", "--output", required=True, help="the .gif or .mp4 (H.264) to write")
    render.add_argument("--size", default="640x480", help="picture size WIDTHxHEIGHT (default 640x480; an .mp4 "
                        "rounds odd sides up to even)")
    render.add_argument("--fps", type=float, help="pictures per second (default: the take's; the take plays in "
                        "real time; a GIF shows at most 50)")
    render.add_argument("--display", choices=["skeleton", "body", "both"], default="skeleton",
                        help="draw the bones, the body, or both (default skeleton)")
    render.add_argument("--smpl", help="the body is your SMPL model: an .npz or a folder holding SMPL_NEUTRAL.npz "
                        "(default: $KINEMA_SMPL; neither: the mannequin)")
    render.set_defaults(func=_cmd_render)

    doctor = commands.add_parser("doctor", help="what this machine offers and what Kinema will use",
                                 description="CPU threads, CUDA, mamba-ssm kernels, EGL, ffmpeg, a C++ compiler, the "
                                 "text encoder, Qt, and every checkpoint with its sha256 and training summary; each "
                                 "missing piece with the one command that adds it.")
    doctor.add_argument("--checkpoints", help="the models folder to check (default: the shipped one)")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument("--strict", action="store_true", help="exit with status 2 when anything is missing")
    doctor.set_defaults(func=_cmd_doctor)

    from app.motion_commands import add_motion_commands
    from app.rig_commands import add_rig_commands

    add_motion_commands(commands)
    add_rig_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from app.ui.app import (
            run_studio,  # only the studio needs Qt: the engine commands never import it
        )

        return run_studio([])
    if getattr(args, "workers", 1) is None:
        import os

        args.workers = os.cpu_count() or 1
    try:
        args.func(args)
    except CommandError as exc:
        print(f"kinema: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kinema: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
