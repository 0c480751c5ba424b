"""Ghosts of the locked keys: each key's pose drawn translucent in its own tint, labelled with its frame.

The tint follows the key's place in the take (early keys blue, late keys orange), and the timeline draws the key's
diamond in the same tint, so a ghost and its diamond are found together at a glance.
"""
from __future__ import annotations

import colorsys

import numpy as np
from vispy import scene

GHOST_ALPHA = 0.45
LABEL_LIFT = 0.12  # metres above the ghost's highest joint


def key_colour(frame: int, n_frames: int, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """RGBA in 0..1: hue from blue (frame 0) through green to orange (the last frame)."""
    t = frame / max(n_frames - 1, 1)
    r, g, b = colorsys.hsv_to_rgb(0.6 - 0.52 * t, 0.65, 1.0)
    return (r, g, b, alpha)


class KeyGhosts:
    """Lines for the ghosts' bones and a text label per key, under `parent`."""

    def __init__(self, parent: scene.Node) -> None:
        self.lines = scene.visuals.Line(np.zeros((2, 3), np.float32), connect="segments", width=2, parent=parent)
        self.labels = scene.visuals.Text("", color="white", font_size=9, bold=True, anchor_x="center",
                                         anchor_y="bottom", parent=parent)
        self.lines.set_gl_state("translucent", depth_test=False)
        self.labels.set_gl_state("translucent", depth_test=False)
        self.frames: tuple[int, ...] = ()
        self.colours = np.zeros((0, 4), np.float32)  # (K, 4) one tint per key; tests read it
        self.visible = False

    @property
    def visible(self) -> bool:
        return self.lines.visible

    @visible.setter
    def visible(self, on: bool) -> None:
        self.lines.visible = self.labels.visible = on

    def set_keys(self, frames: tuple[int, ...], poses: np.ndarray, bone_index: np.ndarray, n_frames: int) -> None:
        """`poses` (K, J, 3) of the keys at `frames`; `bone_index` the parent, child, parent, child... joints."""
        self.frames = tuple(frames)
        if not self.frames:
            self.visible = False
            return
        self.colours = np.asarray([key_colour(f, n_frames, GHOST_ALPHA) for f in self.frames], np.float32)
        per_bone = len(bone_index)
        self.lines.set_data(pos=poses[:, bone_index].reshape(-1, 3),  # (K * bones * 2, 3)
                            color=np.repeat(self.colours, per_bone, axis=0))
        tops = poses[np.arange(len(poses)), poses[..., 1].argmax(axis=1)]  # (K, 3) each ghost's highest joint
        label_colours = self.colours.copy()
        label_colours[:, 3] = 1.0
        self.labels.text = [f"key {f}" for f in self.frames]
        self.labels.pos = tops + np.array([0.0, LABEL_LIFT, 0.0], np.float32)
        self.labels.color = label_colours
        self.visible = True
