"""The CLI's motion verbs (`kinema generate | inbetween | regenerate | edit-upper | long`): each reads its input
take, calls one operation of app.engine.ops and writes the result on the Bandai Namco rig, in the format that
the output's extension names (BVH, FBX, glTF)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.errors import CommandError

DECODING_HELP = "decoding: --seed, --guidance (classifier-free scale), --steps, --temperature, --top-k"


def _decoding(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same motion")
    parser.add_argument("--guidance", type=float, default=None,
                        help="how closely to follow the text (0 = ignore it; default: the engine's measured one, "
                        "2.5 for masked, 3 for diffusion, 4 for edit-upper)")
    parser.add_argument("--steps", type=int, default=None,
                        help="decoding steps (default: the engine's, 8 for masked, 16 for diffusion)")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (0 = greedy)")
    parser.add_argument("--top-k", type=int, help="sample only among the k likeliest codes")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("-o", "--output", required=True,
                        help="the file to write; its extension picks the format: .bvh, .fbx, .glb or .gltf")
    parser.add_argument("--units", choices=["cm", "m"], default="cm",
                        help="lengths in a BVH or FBX file (default cm, as DCC tools expect; glTF is always metres)")
    parser.add_argument("--body", action="store_true",
                        help="include the mannequin body, skinned to the rig (.fbx, .glb and .gltf)")


def _cleanup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-cleanup", action="store_true", help="keep the model's feet as they come (by default "
                        "planted feet are held still and the legs re-solved by IK; locked frames never move)")


def _frames(text: str, n_frames: int) -> list[int]:
    """'0,60,100:110' -> [0, 60, 100, ..., 109]; a:b is frames a to b-1."""
    frames: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            if ":" in part:
                a, b = (int(v) if v else d for v, d in zip(part.split(":", 1), (0, n_frames)))
                if a >= b:
                    raise CommandError(f"the locked range {part} is empty")
                frames.extend(range(a, b))
            else:
                frames.append(int(part))
        except ValueError:
            raise CommandError(f"cannot read frames {text!r}: use numbers and ranges such as 0,60,100:120") from None
    return frames


def _range(text: str, n_frames: int) -> tuple[int, int]:
    """'30:90' -> (30, 90); ':90' and '30:' run from the start or to the end."""
    try:
        a, b = text.split(":", 1)
        return int(a) if a else 0, int(b) if b else n_frames
    except ValueError:
        raise CommandError(f"cannot read the range {text!r}: use START:END, e.g. 30:90 (END not included)") from None


def _warn_about_prompts(*texts: str) -> None:
    """Warnings on stderr, before the work starts: a prompt longer than the text encoder reads (naming what it
    ignores), and a prompt far from every training caption (naming the nearest known actions)."""
    from app.engine.models.checkpoint import CheckpointError
    from app.engine.text import MAX_TOKENS, TextEncoderUnavailable, get_text_encoder, ignored_words
    from app.engine.vocabulary import load_vocabulary

    try:
        for text in texts:
            ignored = ignored_words(text)
            if ignored:
                print(f"kinema: warning: the text encoder reads the first {MAX_TOKENS} tokens of a prompt; it ignores "
                      f"\"{ignored}\" (shorten the prompt, or split it into segments with `kinema long`)", file=sys.stderr)
        vocabulary = load_vocabulary()
        for text in dict.fromkeys(t for t in texts if t.strip()):
            message = vocabulary.check(text, get_text_encoder()).message()
            if message:
                print(f"kinema: warning: {message}", file=sys.stderr)
    except TextEncoderUnavailable:
        return  # the operation itself will say the encoder is missing
    except CheckpointError as exc:  # no vocabulary file, or one built with another encoder: the check is advisory
        print(f"kinema: warning: cannot check the prompt against the training captions: {exc}", file=sys.stderr)


def _run(op, args: argparse.Namespace, *positional, placement=None, **keyword) -> None:
    """Call the operation with the decoding options, write its result (where `placement` puts it: the input
    file's spot, for edits of a file), print what was written."""
    from app.engine.io.formats import export_positions, writer_for
    from app.engine.mannequin import build_mannequin
    from app.engine.models.checkpoint import CheckpointError
    from app.engine.models.pipeline import ModelNotTrained

    try:
        fmt = writer_for(args.output)  # an unknown extension is refused before the model runs
        if args.body and not fmt.carries_body:
            raise ValueError(f"{Path(args.output).name}: {fmt.name} holds no body; write .fbx, .glb or .gltf for --body")
        motion = op(*positional, seed=args.seed, guidance=args.guidance, steps=args.steps,
                    temperature=args.temperature, top_k=args.top_k, device=args.device, **keyword)
        positions = motion.positions if placement is None else placement.to_world(motion.positions)
        mesh = build_mannequin(motion.skeleton) if args.body else None
        export_positions(positions, motion.skeleton, args.output, fps=motion.fps, units=args.units, mesh=mesh)
    except (ValueError, ModelNotTrained, CheckpointError, OSError) as exc:
        raise CommandError(str(exc)) from None
    print(f"wrote {args.output}: {motion.n_frames} frames at {motion.fps:g} fps ({motion.n_frames / motion.fps:.1f} s)")


def _read(path: str):
    """-> (the file's take as a canonical Motion, the placement that puts it back where the file has it)."""
    from app.engine.document.files import read_take
    from app.engine.document.takes import motion_from_take
    from app.engine.io.bvh import BVHError

    if not Path(path).is_file():
        raise CommandError(f"{path}: no such file")
    try:
        take = read_take(path)
        return motion_from_take(take), take.placement
    except (BVHError, ValueError, OSError) as exc:
        raise CommandError(str(exc)) from None


def _cmd_generate(args: argparse.Namespace) -> None:
    from app.engine.ops import generate

    _warn_about_prompts(args.text)
    _run(generate, args, args.text, n_frames=args.frames, engine=args.engine, cleanup=not args.no_cleanup,
         constraints=_constraints(args))


def _constraints(args: argparse.Namespace):
    """--waypoints and --pin as engine constraints (None when neither is given)."""
    from app.engine.constraints import Constraints, parse_pin, parse_waypoints

    try:
        waypoints = parse_waypoints(args.waypoints) if args.waypoints else ()
        pins = tuple(parse_pin(p) for p in args.pin or ())
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return Constraints(waypoints, pins) if waypoints or pins else None


def _cmd_inbetween(args: argparse.Namespace) -> None:
    from app.engine.ops import inbetween

    motion, placement = _read(args.input)
    _warn_about_prompts(args.text)
    _run(inbetween, args, motion, _frames(args.lock, motion.n_frames), args.text, placement=placement,
         extend=args.extend, engine=args.engine, cleanup=not args.no_cleanup)


def _cmd_range_edit(args: argparse.Namespace) -> None:
    """`regenerate` and `edit-upper`: an operation on a frame range of the input take."""
    from app.engine import ops

    motion, placement = _read(args.input)
    regenerate = args.command == "regenerate"  # edit-upper keeps the legs bit for bit: nothing to clean up
    keyword = {"cleanup": not args.no_cleanup} if regenerate else {}
    locked = _frames(args.lock, motion.n_frames) if args.lock else ()
    _warn_about_prompts(args.text)
    _run(ops.regenerate if regenerate else ops.edit_upper, args, motion, _range(args.range, motion.n_frames), args.text,
         placement=placement, locked=locked, **keyword)


def _cmd_long(args: argparse.Namespace) -> None:
    from app.engine.ops import long_sequence

    items = args.segments
    if len(items) % 2:
        raise CommandError("give the segments as pairs: PROMPT FRAMES [PROMPT FRAMES ...]")
    try:
        segments = [(items[i], int(items[i + 1])) for i in range(0, len(items), 2)]
    except ValueError:
        raise CommandError("each prompt must be followed by its length in frames, e.g. \"walk forward\" 80") from None
    _warn_about_prompts(*(text for text, _ in segments))
    _run(long_sequence, args, segments, cleanup=not args.no_cleanup)


def add_motion_commands(commands: argparse._SubParsersAction) -> None:
    gen = commands.add_parser("generate", help="a motion from a text prompt, written as BVH, FBX or glTF",
                              description=f"Generate a take from text and write it (20 fps) as BVH, FBX or glTF. "
                              f"{DECODING_HELP}.")
    gen.add_argument("text", help='what the person does, e.g. "a person waves with the left hand"')
    gen.add_argument("--frames", type=int, help="length in frames at 20 fps (4..12000, i.e. up to 10 minutes; takes over "
                     "196 frames are made in windows joined by generated transitions); default: predicted from the text")
    gen.add_argument("--engine", choices=["masked", "diffusion"], default="masked")
    gen.add_argument("--waypoints", metavar="X,Z@FRAME;...", help="points the root passes, in metres (the take starts "
                     "at 0,0 facing +Z; the character's left is +X); @FRAME ties a point to a frame, untied points "
                     "get frames by their distance along the path, e.g. \"0,1.5@30;1,3@60;2,4\"")
    gen.add_argument("--pin", action="append", metavar="JOINT@FRAME=X,Y,Z", help="put a hand, foot, toe or the head "
                     "(BVH joint names: Hand_L, Foot_R, Toes_L, Head...) at a point at a frame, e.g. Hand_R@60=0.3,1.2,0.5; "
                     "repeat for more pins (a foot pinned at neighbouring frames to one point stays planted)")
    _decoding(gen)
    _cleanup(gen)
    gen.set_defaults(func=_cmd_generate)

    inb = commands.add_parser("inbetween", help="keep locked keyframes of a take, regenerate what lies between",
                              description="Read a BVH take (any rig with recognisable joint names), keep the locked "
                              "frames exactly and regenerate the frames between the first and the last key for the "
                              "text (--extend: every unlocked frame).")
    inb.add_argument("input", help="the take (BVH)")
    inb.add_argument("--lock", required=True, help="frames to keep, e.g. 0,60,119 or 0,40:60,119 (a:b = a to b-1)")
    inb.add_argument("--text", required=True, help="what happens between the keys")
    inb.add_argument("--extend", action="store_true", help="also regenerate the frames before the first key and "
                     "after the last (default: they stay as they are)")
    inb.add_argument("--engine", choices=["masked", "diffusion"], default="masked",
                     help="masked: MMM's tokens around the keys, window by window for any length; diffusion: Motion "
                     "Mamba's in-painting, takes of up to 196 frames (as the studio's engine choice)")
    _decoding(inb)
    _cleanup(inb)
    inb.set_defaults(func=_cmd_inbetween)

    regen = commands.add_parser("regenerate", help="regenerate a frame range of a take with a new prompt",
                                description="Keep every frame outside START:END, and the --lock keys inside it, exactly; "
                                "regenerate the rest of the range.")
    regen.add_argument("input", help="the take (BVH)")
    regen.add_argument("--range", required=True, help="START:END, END not included (e.g. 30:90)")
    regen.add_argument("--text", required=True)
    regen.add_argument("--lock", help="keys inside the range to keep exactly, e.g. 60 or 45,60 (a:b = a to b-1)")
    _decoding(regen)
    _cleanup(regen)
    regen.set_defaults(func=_cmd_range_edit)

    upper = commands.add_parser("edit-upper", help="regenerate the upper body in a range; the legs keep their footwork",
                                description="Keep the lower body and the root trajectory exactly, everywhere; "
                                "regenerate the spine, arms and head within START:END for the text.")
    upper.add_argument("input", help="the take (BVH)")
    upper.add_argument("--range", default=":", help="START:END, END not included (default: the whole take)")
    upper.add_argument("--text", required=True)
    upper.add_argument("--lock", help="keys inside the range whose whole pose stays exactly, e.g. 60")
    _decoding(upper)
    upper.set_defaults(func=_cmd_range_edit)

    long = commands.add_parser("long", help="one long take from several prompts, with generated transitions",
                               description="Each PROMPT FRAMES pair is one segment (4..196 frames); transitions "
                               "between segments are generated from both neighbours.")
    long.add_argument("segments", nargs="+", metavar="PROMPT FRAMES")
    _decoding(long)
    _cleanup(long)
    long.set_defaults(func=_cmd_long)
