"""The take as vispy visuals: bones, joints, ground grid, root trajectory, ghosts of locked keys (`KeyGhosts`),
foot contacts, and the facing cues (`FacingVisual`: head, nose, chest plate, foot arrows).

Visuals are created once; a new frame only uploads new vertex positions (`show_frame`), which is what keeps
playback smooth on a software renderer. Everything is in the motion's own frame (metres, Y up).
"""
from __future__ import annotations

import numpy as np
from vispy import scene

from app.engine.skeleton import Skeleton
from app.ui._vispy.facing_visual import FacingVisual
from app.ui._vispy.key_ghosts import KeyGhosts

TORSO = (0.86, 0.87, 0.92, 1.0)
LEFT_ARM, RIGHT_ARM = (0.35, 0.68, 1.0, 1.0), (1.0, 0.55, 0.35, 1.0)
LEFT_LEG, RIGHT_LEG = (0.25, 0.5, 0.9, 1.0), (0.9, 0.35, 0.3, 1.0)
EDIT_TINT = (1.0, 0.82, 0.2, 1.0)  # upper-body joints while an upper-body edit covers the current frame
CONTACT = (0.3, 1.0, 0.45, 1.0)
GRID = (0.45, 0.47, 0.52, 1.0)
TRAJECTORY = (1.0, 0.85, 0.3, 0.8)

EYE_HEIGHT = 0.9  # metres: the camera looks at the pelvis, not at the feet
BACKGROUND = (0.13, 0.14, 0.16, 1.0)
CONTACT_HEIGHT = 0.05  # metres above the take's lowest foot
CONTACT_SPEED = 0.6  # metres per second


def joint_colours(skeleton: Skeleton) -> np.ndarray:
    """(J, 4) colours per body part, from the upper/lower split and the joints' left/right names."""
    colours = np.empty((skeleton.n_joints, 4), np.float32)
    for j, name in enumerate(skeleton.joint_names):
        low = name.lower()
        left = low.endswith("_l") or low.startswith("left")
        right = low.endswith("_r") or low.startswith("right")
        if j in skeleton.upper_body:
            colours[j] = LEFT_ARM if left else RIGHT_ARM if right else TORSO
        else:
            colours[j] = LEFT_LEG if left else RIGHT_LEG if right else TORSO
    return colours


def foot_contacts(positions: np.ndarray, skeleton: Skeleton, fps: float) -> np.ndarray:
    """(T, 4) booleans: left ankle, left toe, right ankle, right toe close to the floor and nearly still."""
    feet = list(skeleton.foot_left) + list(skeleton.foot_right)
    p = positions[:, feet]  # (T, 4, 3)
    speed = np.zeros(p.shape[:2], np.float32)
    if len(p) > 1:
        speed[1:] = np.linalg.norm(np.diff(p, axis=0), axis=-1) * fps
        speed[0] = speed[1]
    return (p[..., 1] < p[..., 1].min() + CONTACT_HEIGHT) & (speed < CONTACT_SPEED)


def grid_lines(half_size: float, step: float = 0.5) -> np.ndarray:
    """Segment end points of a square grid on the floor (y = 0) centred on the origin."""
    ticks = np.arange(-half_size, half_size + step / 2, step)
    lines = []
    for t in ticks:
        lines += [(t, 0, -half_size), (t, 0, half_size), (-half_size, 0, t), (half_size, 0, t)]
    return np.asarray(lines, np.float32)


def make_camera() -> scene.TurntableCamera:
    """The studio's view of a take: our motions are Y up (vispy's turntable defaults to Z up)."""
    return scene.TurntableCamera(up="+y", fov=40.0, elevation=12.0, azimuth=35.0, distance=3.4,
                                 center=(0.0, EYE_HEIGHT, 0.0))


def follow(camera: scene.TurntableCamera, pose: np.ndarray) -> None:
    """Centre the camera on the character's root, at the height the view looks at (eye height unless framed)."""
    camera.center = (float(pose[0, 0]), float(camera.center[1]), float(pose[0, 2]))


class SkeletonVisual:
    """All the scene nodes for one take under `parent`. Call `set_take` once per take, `show_frame` per frame."""

    def __init__(self, parent: scene.Node) -> None:
        self.grid = scene.visuals.Line(grid_lines(5.0), color=GRID, connect="segments", parent=parent)
        self.trajectory = scene.visuals.Line(np.zeros((2, 3), np.float32), color=TRAJECTORY, width=2, parent=parent)
        self.key_ghosts = KeyGhosts(parent)
        self.ghosts = self.key_ghosts.lines
        self.bones = scene.visuals.Line(np.zeros((2, 3), np.float32), connect="segments", width=4, parent=parent)
        self.joints = scene.visuals.Markers(parent=parent)
        self.contacts = scene.visuals.Markers(parent=parent)
        self.facing = FacingVisual(parent)
        self.joints.set_gl_state("translucent", depth_test=False)  # joints stay visible over their bones
        self.positions: np.ndarray | None = None
        self.pose: np.ndarray | None = None  # (J, 3) of the frame on screen; tests read it
        self._bone_index = np.zeros(0, np.intp)
        self._contacts = np.zeros((0, 4), bool)
        self._feet: list[int] = []
        self._colours = self._tinted = np.zeros((0, 4), np.float32)
        self._highlight = False
        self._bones_on = True  # the display toggle: off when only the body is shown
        for node in (self.trajectory, self.ghosts, self.bones, self.joints, self.contacts):
            node.visible = False

    def set_take(self, positions: np.ndarray, skeleton: Skeleton, fps: float) -> None:
        """New take: recompute the static parts (colours, contacts, trajectory, grid extent)."""
        self.positions = np.ascontiguousarray(positions, np.float32)
        pairs = [(p, j) for j, p in enumerate(skeleton.parents) if p >= 0]
        self._bone_index = np.asarray(pairs, np.intp).reshape(-1)  # parent, child, parent, child...
        self._colours = joint_colours(skeleton)
        self._tinted = self._colours.copy()
        self._tinted[sorted(skeleton.upper_body)] = EDIT_TINT
        self._feet = list(skeleton.foot_left) + list(skeleton.foot_right)
        self._contacts = foot_contacts(self.positions, skeleton, fps)
        root = self.positions[:, 0].copy()
        root[:, 1] = 0.005  # drawn on the floor, just above the grid
        self.trajectory.set_data(pos=root if len(root) > 1 else np.repeat(root, 2, axis=0))
        extent = float(np.abs(self.positions[..., [0, 2]]).max()) + 1.0
        self.grid.set_data(pos=grid_lines(max(5.0, np.ceil(extent))))
        for node in (self.trajectory, self.contacts):
            node.visible = True
        self.bones.visible = self.joints.visible = self._bones_on
        self.facing.set_skeleton(skeleton)
        self._bone_colours()

    def set_bones_visible(self, on: bool) -> None:
        """Show or hide the bones and joints (the floor, path and contacts stay)."""
        self._bones_on = on
        if self.positions is not None:
            self.bones.visible = self.joints.visible = self.facing.visible = on

    def set_highlight(self, on: bool) -> None:
        """Tint the upper body (an upper-body edit applies to this frame)."""
        if on != self._highlight:
            self._highlight = on
            self._bone_colours()

    def _bone_colours(self) -> None:
        colours = self._tinted if self._highlight else self._colours
        self.bones.set_data(color=colours[self._bone_index])
        if self.pose is not None:
            self.joints.set_data(self.pose, face_color=colours, edge_width=0, size=9)

    def set_ghosts(self, frames: tuple[int, ...], poses: np.ndarray) -> None:
        """Translucent poses (K, J, 3) of the locked keyframes `frames`, as they were locked (not the take's
        frames: a key that moved would show it), each tinted by its place in the take and labelled with its frame."""
        if self.positions is None or not frames:
            self.key_ghosts.set_keys((), np.zeros((0, 1, 3), np.float32), self._bone_index, 1)
            return
        self.key_ghosts.set_keys(tuple(frames), np.asarray(poses, np.float32), self._bone_index, len(self.positions))

    def show_frame(self, frame: int) -> None:
        """Upload one pose: the only work done per frame during playback."""
        if self.positions is None:
            return
        self.pose = self.positions[frame]
        colours = self._tinted if self._highlight else self._colours
        self.bones.set_data(pos=self.pose[self._bone_index])
        self.joints.set_data(self.pose, face_color=colours, edge_width=0, size=9)
        contact_colours = np.tile(np.asarray(CONTACT, np.float32), (len(self._feet), 1))
        contact_colours[~self._contacts[frame], 3] = 0.0
        feet = self.pose[self._feet].copy()
        feet[:, 1] = 0.01
        self.contacts.set_data(feet, face_color=contact_colours, edge_width=0, size=14)
        if self._bones_on:  # the cues belong to the stick figure; the body shows its own facing
            self.facing.show_pose(self.pose)

    def clear(self) -> None:
        self.positions = self.pose = None
        for node in (self.trajectory, self.bones, self.joints, self.contacts):
            node.visible = False
        self.key_ghosts.visible = self.facing.visible = False
