"""`kinema`: the command line. Each command parses its arguments and calls the engine; nothing deeper."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXAMPLES = """examples:
  kinema data build bandai-namco ../shared/data/bandai-namco --out data/bandai-namco
  kinema data info data/bandai-namco
  kinema convert take.bvh take-20fps.bvh --fps 20
"""


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def _cmd_data_build(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from app.engine.data.bandai_namco import DatasetSourceError
    from app.engine.data.build import build_bandai_namco

    if args.source_kind != "bandai-namco":
        raise CommandError(f"unknown dataset kind {args.source_kind!r}; `kinema data build` knows: bandai-namco")
    try:
        summary = build_bandai_namco(
            args.source,
            args.out,
            only=args.only,
            limit=args.limit,
            workers=args.workers,
            mirror=not args.no_mirror,
            progress=lambda it: tqdm(it, desc="takes", unit="take", disable=args.quiet),
        )
    except (DatasetSourceError, ValueError) as exc:
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


def _cmd_convert(args: argparse.Namespace) -> None:
    from app.engine.io.bvh import BVHError, read_bvh, write_bvh
    from app.engine.io.convert import resample_bvh

    try:
        bvh = read_bvh(args.input)
        if args.fps:
            bvh = resample_bvh(bvh, args.fps)
        write_bvh(bvh, args.output)
    except (BVHError, OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    print(f"wrote {args.output}: {len(bvh.joints)} joints, {bvh.n_frames} frames at {bvh.fps:g} fps")


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
    build.add_argument("source_kind", metavar="KIND", help="the raw dataset's kind: bandai-namco")
    build.add_argument("source", help="folder with the .tar.xz archives, an unpacked copy, or loose .bvh + .json files")
    build.add_argument("--out", required=True, help="output folder (replaced when the build completes)")
    build.add_argument("--only", help="only takes whose name contains this text or matches this glob (e.g. '*walk_normal*')")
    build.add_argument("--limit", type=int, help="stop after this many takes (for quick tests)")
    build.add_argument("--workers", type=int, default=None, help="processes to use (default: all cores)")
    build.add_argument("--no-mirror", action="store_true", help="do not add left/right mirrored copies")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(func=_cmd_data_build)

    info = data_commands.add_parser("info", help="summarise a dataset folder (ours, HumanML3D or KIT-ML)",
                                    description="Print the dataset's kind, skeleton, frame rate, and per split the "
                                    "number of motions, caption records and hours.")
    info.add_argument("folder")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=_cmd_data_info)

    convert = commands.add_parser("convert", help="read a BVH file and write it again (optionally at another fps)",
                                  description="Read any BVH (any channel order, 3 or 6 channels, CRLF, tabs) and write "
                                  "a clean one; --fps resamples the animation (rotations slerped).")
    convert.add_argument("input")
    convert.add_argument("output")
    convert.add_argument("--fps", type=float, help="resample to this frame rate")
    convert.set_defaults(func=_cmd_convert)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
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
