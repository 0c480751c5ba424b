"""Render an exported FBX (with the mannequin body) in headless Blender at a few frames, as docs/blender_fbx_body.png.

Blender is the independent reader here: it imports the FBX with its own importer and draws the skinned body.
Run with Blender as a Python module (its own venv: `pip install bpy==5.0.1`, which pins numpy < 2):
    /path/to/bpyenv/bin/python docs/render_fbx_in_blender.py take.fbx out_prefix [frame ...]
"""
import math
import sys

import bpy

path, prefix, *frames = sys.argv[1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_scene.fbx(filepath=path)
scene = bpy.context.scene


def material(name: str, colour: tuple) -> bpy.types.Material:
    m = bpy.data.materials.new(name)
    m.use_nodes = True
    m.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = colour
    return m


mesh = next(o for o in scene.objects if o.type == "MESH")
mesh.data.materials.append(material("skin", (0.78, 0.72, 0.66, 1.0)))
for poly in mesh.data.polygons:
    poly.use_smooth = True
bpy.ops.mesh.primitive_plane_add(size=40)
bpy.context.object.data.materials.append(material("floor", (0.18, 0.19, 0.22, 1.0)))
sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
sun.data.energy = 2.0
sun.rotation_euler = (math.radians(40), 0, math.radians(30))
scene.collection.objects.link(sun)
camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
scene.collection.objects.link(camera)
scene.camera = camera
scene.world = bpy.data.worlds.new("world")
scene.world.color = (0.13, 0.14, 0.16)
scene.render.engine = "CYCLES"
scene.cycles.samples = 16
scene.cycles.device = "CPU"
scene.render.resolution_x, scene.render.resolution_y = 360, 480
arm = next(o for o in scene.objects if o.type == "ARMATURE")
for frame in frames or [scene.frame_start]:
    scene.frame_set(int(frame))
    hips = arm.matrix_world @ arm.pose.bones[0].head  # Blender is Z up
    camera.location = (hips.x + 3.0, hips.y - 3.8, 1.5)
    direction = hips - camera.location
    camera.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()
    scene.render.filepath = f"{prefix}{int(frame):04d}.png"
    bpy.ops.render.render(write_still=True)
