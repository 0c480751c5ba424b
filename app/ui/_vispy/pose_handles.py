"""The posing handles: a ring on the ground around the hips (drag it to turn the character's heading), the joint
being dragged, where the mouse asks it to go (apart from the joint when the target is out of reach), and the axis
a drag is held to (X red, Y green, Z blue, as DCC tools colour them).

The ring is built once at the origin and placed per frame by its transform (nothing uploaded), like the facing cues.
"""
from __future__ import annotations

import numpy as np
from vispy import scene
from vispy.visuals.transforms import STTransform

RING_RADIUS = 0.55  # metres around the hips, on the floor: outside the feet of a standing character
RING = (0.95, 0.8, 0.3, 0.55)
RING_HOT = (1.0, 0.9, 0.35, 1.0)
ACTIVE = (1.0, 1.0, 1.0, 1.0)
TARGET = (1.0, 0.9, 0.35, 1.0)
AXIS_COLOURS = {"x": (1.0, 0.3, 0.3, 0.9), "y": (0.4, 1.0, 0.4, 0.9), "z": (0.35, 0.55, 1.0, 0.9)}
AXES = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}
AXIS_HALF_LENGTH = 3.0  # metres each side of the joint


def ring_points(n: int = 96) -> np.ndarray:
    """(n + 1, 3) a closed circle of RING_RADIUS on the floor (y slightly above the grid), centred on the origin."""
    a = np.linspace(0.0, 2.0 * np.pi, n + 1)
    return np.stack([RING_RADIUS * np.sin(a), np.full_like(a, 0.008), RING_RADIUS * np.cos(a)], axis=-1).astype(np.float32)


class PoseHandles:
    """The ring and the drag markers under `parent`; `place_ring` per frame, `show_drag` per mouse move."""

    def __init__(self, parent: scene.Node) -> None:
        self.ring = scene.visuals.Line(ring_points(), color=RING, width=3, parent=parent)
        self.ring.transform = STTransform()
        self.axis = scene.visuals.Line(np.zeros((2, 3), np.float32), width=2, parent=parent)
        self.active = scene.visuals.Markers(parent=parent)
        self.target = scene.visuals.Markers(parent=parent)
        for node in (self.ring, self.axis, self.active, self.target):
            node.set_gl_state("translucent", depth_test=False)
            node.visible = False

    def place_ring(self, root: np.ndarray | None) -> None:
        """Around the hips (3,) on the floor; None hides it (no take)."""
        self.ring.visible = root is not None
        if root is not None:
            self.ring.transform.translate = (float(root[0]), 0.0, float(root[2]))

    def set_ring_hot(self, hot: bool) -> None:
        self.ring.set_data(color=RING_HOT if hot else RING)

    def show_drag(self, joint: np.ndarray, target: np.ndarray, axis: str | None, through: np.ndarray) -> None:
        """The dragged joint (3,), the target (3,) the mouse gives, and the `axis` ("x", "y", "z" or None) held to,
        drawn `through` the point (3,) the drag started at."""
        self.active.set_data(np.asarray([joint], np.float32), face_color=ACTIVE, edge_color=TARGET, edge_width=2, size=15)
        self.target.set_data(np.asarray([target], np.float32), face_color=(0, 0, 0, 0), edge_color=TARGET,
                             edge_width=2, size=11)
        self.active.visible = self.target.visible = True
        self.axis.visible = axis is not None
        if axis is not None:
            d = np.asarray(AXES[axis], np.float32) * AXIS_HALF_LENGTH
            self.axis.set_data(pos=np.stack([through - d, through + d]).astype(np.float32), color=AXIS_COLOURS[axis])

    def show_hover(self, joint: np.ndarray | None, ring: bool) -> None:
        """Light the joint (3,) under the mouse, or the ring; None and False: nothing is under it."""
        self.active.visible = joint is not None
        if joint is not None:
            self.active.set_data(np.asarray([joint], np.float32), face_color=(0, 0, 0, 0), edge_color=ACTIVE,
                                 edge_width=2, size=17)
        self.set_ring_hot(ring)

    def end_drag(self) -> None:
        self.active.visible = self.target.visible = self.axis.visible = False
        self.set_ring_hot(False)
