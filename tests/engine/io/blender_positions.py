"""Run by Blender's Python (bpy, in its own venv): import each file given on the command line headless and print,
as JSON, the world position of every bone head at the asked take frames, in the file's Y-up frame, in metres,
and what became of the body (mesh objects, their vertex groups and Armature modifier).

usage: python blender_positions.py FPS FRAMES(comma-separated) FILE [FILE ...]
"""
import json
import sys

import bpy


def import_file(path: str, fps: float) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = round(fps), round(fps) / fps  # glTF keys land on this rate's frames
    if path.endswith(".fbx"):
        bpy.ops.import_scene.fbx(filepath=path)
    elif path.endswith((".glb", ".gltf")):
        bpy.ops.import_scene.gltf(filepath=path)
    else:
        bpy.ops.import_anim.bvh(filepath=path, global_scale=0.01, update_scene_fps=True)


def bodies(frames: list[int], first: float) -> list[dict]:
    """Each imported mesh: vertex count, vertex groups, whether an Armature modifier deforms it, and its deformed
    vertices at the asked frames (world, Y up, metres)."""
    out = []
    for o in [o for o in bpy.context.scene.objects if o.type == "MESH"]:
        posed = []
        for f in frames:
            bpy.context.scene.frame_set(round(first) + f)
            evaluated = o.evaluated_get(bpy.context.evaluated_depsgraph_get())
            mesh = evaluated.to_mesh()
            posed.append([[c[0], c[2], -c[1]] for c in (evaluated.matrix_world @ v.co for v in mesh.vertices)])
            evaluated.to_mesh_clear()
        out.append({"vertices": len(o.data.vertices), "groups": len(o.vertex_groups), "posed": posed,
                    "armature": any(m.type == "ARMATURE" and m.object is not None for m in o.modifiers)})
    return out


def first_frame() -> float:
    """The scene frame of the take's first frame: each importer starts the take at its own frame."""
    armature = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
    return armature.animation_data.action.frame_range[0]


def positions(frames: list[int], first: float) -> dict[str, list[list[float]]]:
    armature = next(o for o in bpy.context.scene.objects if o.type == "ARMATURE")
    out: dict[str, list[list[float]]] = {b.name: [] for b in armature.pose.bones}
    for f in frames:
        bpy.context.scene.frame_set(round(first) + f)
        for bone in armature.pose.bones:
            x, y, z = armature.matrix_world @ bone.head
            out[bone.name].append([x, z, -y])  # Blender is Z-up: back to the file's Y-up
    return out


if __name__ == "__main__":
    fps, frames = float(sys.argv[1]), [int(f) for f in sys.argv[2].split(",")]
    result = {}
    for path in sys.argv[3:]:
        import_file(path, fps)
        first = first_frame()
        result[path] = {"bones": positions(frames, first), "bodies": bodies(frames, first)}
    print("JSON" + json.dumps(result))
