"""The viewport's camera moves: frame the character (F), reset the view, and front / side / top views.

Angles are those of vispy's TurntableCamera with Y up, for a character that faces +Z (as takes start): azimuth 90
looks at its face, 0 at its side; elevation 90 looks straight down.
"""
from __future__ import annotations

import math

import numpy as np
from vispy import scene

from app.ui._vispy.skeleton_visual import EYE_HEIGHT

DEFAULT = {"azimuth": 35.0, "elevation": 12.0, "distance": 3.4, "fov": 40.0}
VIEWS = {"front": (90.0, 4.0), "side": (0.0, 4.0), "top": (90.0, 90.0)}  # name -> (azimuth, elevation)
MARGIN = 1.25  # the framed pose fills 1 / MARGIN of the view


def reset_view(camera: scene.TurntableCamera, pose: np.ndarray | None = None) -> None:
    """The studio's starting view, centred on the character's root when there is one."""
    camera.azimuth, camera.elevation, camera.distance = DEFAULT["azimuth"], DEFAULT["elevation"], DEFAULT["distance"]
    x, z = (float(pose[0, 0]), float(pose[0, 2])) if pose is not None else (0.0, 0.0)
    camera.center = (x, EYE_HEIGHT, z)


def frame_pose(camera: scene.TurntableCamera, pose: np.ndarray) -> None:
    """Centre the camera on the pose's bounding box and move in or out until the whole pose fills the view (vispy's
    field of view spans the view's shorter side, so this holds for wide and tall views alike)."""
    lo, hi = pose.min(axis=0), pose.max(axis=0)
    camera.center = tuple(float(v) for v in (lo + hi) / 2)
    radius = max(float(np.linalg.norm(hi - lo)) / 2, 0.3)
    camera.distance = MARGIN * radius / math.tan(math.radians(camera.fov) / 2)


def set_view(camera: scene.TurntableCamera, name: str) -> None:
    """One of VIEWS, keeping the centre and the distance."""
    camera.azimuth, camera.elevation = VIEWS[name]
