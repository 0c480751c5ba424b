"""The take's constraints in the viewport: the root path through its waypoints drawn on the ground, each waypoint a
disc labelled with its frame (tied ones filled), and each effector pin a marker where it holds, labelled
"Hand_R @60". Also `ground_point`: where a click on the canvas meets the floor, for placing waypoints.

All of it is rebuilt only when the constraints change (a handful of vertices), never per frame.
"""
from __future__ import annotations

import numpy as np
from vispy import scene

from app.engine.constraints import Constraints

PATH = (0.66, 0.52, 1.0, 0.95)  # violet: apart from the limbs' blues and reds, the trajectory's yellow, contacts' green
UNTIED = (0.66, 0.52, 1.0, 0.35)
PIN = (1.0, 0.35, 0.85, 1.0)
LIFT = 0.01  # metres above the floor, so the path is not hidden by the grid
LABEL_LIFT = 0.08


def ground_point(view: scene.ViewBox, canvas_pos: tuple[float, float]) -> tuple[float, float] | None:
    """(x, z) in metres where the ray under the canvas pixel `canvas_pos` meets the floor (y = 0); None when it
    does not (looking up, or along the floor)."""
    to_scene = view.scene.node_transform(view.canvas.scene).inverse  # canvas pixels (+ depth) -> scene
    near, far = (to_scene.map([canvas_pos[0], canvas_pos[1], z, 1.0]) for z in (-1.0, 1.0))
    near, far = near[:3] / near[3], far[:3] / far[3]
    dy = far[1] - near[1]
    if abs(dy) < 1e-9:
        return None
    t = -near[1] / dy
    if t < 0:
        return None
    hit = near + t * (far - near)
    return float(hit[0]), float(hit[2])


class ConstraintsVisual:
    """Path, waypoint discs, pin markers and their labels under `parent`."""

    def __init__(self, parent: scene.Node) -> None:
        self.path = scene.visuals.Line(np.zeros((2, 3), np.float32), color=PATH, width=3, parent=parent)
        self.waypoints = scene.visuals.Markers(parent=parent)
        self.pins = scene.visuals.Markers(parent=parent)
        self.labels = scene.visuals.Text("", color="white", font_size=8, anchor_x="left", anchor_y="bottom",
                                         parent=parent)
        for visual in (self.path, self.waypoints, self.pins, self.labels):
            visual.set_gl_state("translucent", depth_test=False)
            visual.visible = False
        self.points = np.zeros((0, 3), np.float32)  # the path's vertices, origin first (tests read them)

    def set_constraints(self, constraints: Constraints) -> None:
        waypoints, pins = constraints.waypoints, constraints.pins
        self.points = np.array([[0.0, LIFT, 0.0]] + [[w.x, LIFT, w.z] for w in waypoints], np.float32)
        texts, places = [], []
        on = bool(waypoints)
        self.path.visible = self.waypoints.visible = on
        if on:
            self.path.set_data(pos=self.points)
            colours = np.array([PATH if w.frame is not None else UNTIED for w in waypoints], np.float32)
            self.waypoints.set_data(self.points[1:], face_color=colours, edge_color=PATH, size=13, edge_width=2)
            texts += ["" if w.frame is None else f"@{w.frame}" for w in waypoints]
            places += [p + [0.04, LABEL_LIFT, 0.0] for p in self.points[1:]]
        self.pins.visible = bool(pins)
        if pins:
            where = np.array([p.position for p in pins], np.float32)
            self.pins.set_data(where, face_color=PIN, edge_color="white", size=12, edge_width=1.5, symbol="diamond")
            texts += [f"{p.joint} @{p.frame}" for p in pins]
            places += [p + [0.04, LABEL_LIFT, 0.0] for p in where]
        self.labels.visible = bool(texts)
        if texts:
            self.labels.text = texts
            self.labels.pos = np.array(places, np.float32)
