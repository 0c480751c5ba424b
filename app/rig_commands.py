"""`kinema export-onto-rig`: a take written on the animator's own rig (FBX, glTF or BVH), joints mapped by name."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from app.cli import CommandError


def _read_mapping(path: str) -> dict[str, str]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read the joint mapping {path}: {exc}") from None
    mapping = data.get("mapping", data) if isinstance(data, dict) else None
    if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise CommandError(f"{path}: a joint mapping is a JSON object of Kinema joint name -> your rig's joint name")
    return mapping


def _cmd_export_onto_rig(args: argparse.Namespace) -> None:
    from app.engine.document.files import read_take
    from app.engine.io.formats import write_animation, writer_for
    from app.engine.io.onto_rig import joint_map, retarget_onto
    from app.engine.io.rig_files import read_rig_animation
    from app.engine.io.rig_mappings import load_mapping, save_mapping

    try:
        writer_for(args.output)
        take = read_take(args.input)
        target, _ = read_rig_animation(args.rig, scale=args.rig_scale)
        rig = target.rig
        mapping = _read_mapping(args.map) if args.map else load_mapping(rig.names)
        mapped = joint_map(rig, take.skeleton, mapping)
        anim = retarget_onto(take.placement.to_world(take.positions), take.fps, rig, take.skeleton, mapping)
        fps = args.fps or target.fps
        anim = anim.resampled(fps)
        write_animation(anim, args.output, units=args.units)
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    if args.map:
        save_mapping(rig.names, mapping)
    print(f"wrote {args.output}: {anim.n_frames} frames at {fps:g} fps on {Path(args.rig).name}'s "
          f"{rig.n_joints}-joint rig ({len(mapped)} joints driven, the others kept in their rest pose)")


def _cmd_smpl_body(args: argparse.Namespace) -> None:
    from app.engine.document.files import read_take
    from app.engine.smpl_body import MODEL_ENV, load_smpl, model_family, smpl_animation, write_smpl_body

    location = args.model or os.environ.get(MODEL_ENV)
    if not location:
        raise CommandError(f"no SMPL model: pass --model (a file or a folder) or set {MODEL_ENV}; the SMPL model "
                           "files are licensed separately (smpl.is.tue.mpg.de) and never shipped with Kinema")
    try:
        model = load_smpl(location)
        take = read_take(args.input)
        anim = smpl_animation(model, take.placement.to_world(take.positions), take.fps, take.skeleton)
        n = write_smpl_body(model, anim, args.output, Path(args.input).stem, args.sequence)
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    vertices = len(model.v_template)
    if n == 1 and Path(args.output).suffix:
        print(f"wrote {args.output}: the {model_family(model)} body ({vertices} vertices) skinned to its "
              f"{anim.rig.n_joints} joints, "
              f"{anim.n_frames} frames at {take.fps:g} fps")
    else:
        print(f"wrote {n} {args.sequence.upper()} files ({vertices} vertices each, {take.fps:g} fps) to {args.output}")


def add_rig_commands(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export-onto-rig", help="write a take on your own character's rig (joints mapped by name)",
        description="Read a take (BVH, FBX, glTF, .npy) and a rig (FBX, glTF or BVH: Mixamo, UE mannequin, Rigify, "
        "CMU/Daz, SMPL, Reallusion CC3 names map themselves), match the rest poses (T or A), transfer the rotations "
        "and scale the root motion by leg length, and write the take on that rig. Joints the take does not drive "
        "(fingers, twist bones) keep their rest pose.")
    parser.add_argument("input", help="the take to export")
    parser.add_argument("--rig", required=True, help="your rig: .fbx, .glb, .gltf or .bvh")
    parser.add_argument("-o", "--output", required=True, help="the file to write: .fbx, .glb, .gltf or .bvh")
    parser.add_argument("--map", help="a JSON joint mapping (Kinema joint name -> your joint name) for rigs whose "
                        "names are not recognised; it is remembered for this rig")
    parser.add_argument("--fps", type=float, help="frame rate to write (default: the rig file's own)")
    parser.add_argument("--units", choices=["cm", "m"], default="cm",
                        help="lengths in a written BVH or FBX file (default cm; glTF is always metres)")
    parser.add_argument("--rig-scale", type=float, help="metres per unit of a BVH rig (default: guessed)")
    parser.set_defaults(func=_cmd_export_onto_rig)

    smpl = commands.add_parser(
        "smpl-body", help="pose an SMPL body (your own model file) with a take: skinned glTF/FBX or OBJ/PLY frames",
        description="Fit SMPL joint rotations to the take (SMPL's joints map themselves) and write the mean-shape "
        "body: skinned to the model's own rig in a .glb, .gltf or .fbx, or one OBJ (or PLY) per frame into a folder. The SMPL "
        "model files are licensed separately and never shipped: point --model or $KINEMA_SMPL at your .npz or its "
        "folder (SMPL_NEUTRAL.npz is looked for first, then SMPL-X's; an SMPL .pkl converts with numpy.savez). "
        "SMPL+H and SMPL-X bodies move their body joints; fingers, jaw and eyes stay at rest. Needs pip install "
        "smplx.")
    smpl.add_argument("input", help="the take")
    smpl.add_argument("--model", help="an SMPL, SMPL+H or SMPL-X model .npz, or a folder holding SMPL_NEUTRAL.npz "
                      "or SMPLX_NEUTRAL.npz (default: $KINEMA_SMPL)")
    smpl.add_argument("-o", "--output", required=True,
                      help="a .glb, .gltf or .fbx (the skinned body), or a folder for one mesh file per frame")
    smpl.add_argument("--sequence", choices=["obj", "ply"], default="obj",
                      help="the per-frame mesh files written into a folder (default obj)")
    smpl.set_defaults(func=_cmd_smpl_body)
