"""Run by Blender's Python (bpy): import a BVH or glTF file and print every bone head's world position per frame as
JSON, in Y-up metres (Blender works Z up: (x, y, z) -> (x, z, -y)). Usage: python blender_read.py FILE [ACTION]."""
import json
import sys

import bpy

path = sys.argv[1]
bpy.ops.wm.read_factory_settings(use_empty=True)
if path.endswith(".bvh"):
    bpy.ops.import_anim.bvh(filepath=path, global_scale=0.01, update_scene_fps=True, update_scene_duration=True)
else:
    bpy.ops.import_scene.gltf(filepath=path)
arm = next(o for o in bpy.data.objects if o.type == "ARMATURE")
if len(sys.argv) > 2:
    arm.animation_data.action = next(a for a in bpy.data.actions if a.name.startswith(sys.argv[2]))
first, last = (round(f) for f in arm.animation_data.action.frame_range)
scene = bpy.context.scene
frames = {}
for f in range(first, last + 1):
    scene.frame_set(f)
    frames[f - first] = {b.name: [(arm.matrix_world @ b.head)[i] for i in (0, 2, 1)] for b in arm.pose.bones}
for pose in frames.values():
    for xyz in pose.values():
        xyz[2] = -xyz[2]
print("JOINTS" + json.dumps({"fps": scene.render.fps / scene.render.fps_base, "frames": frames}))
