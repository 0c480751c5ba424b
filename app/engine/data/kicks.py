"""Kicks found inside martial arts takes, cut out as motions of their own.

All the data has one take labelled a kick (Bandai Namco's dataset 1), but CMU's martial arts routines kick every
two or three seconds, each kick a foot swung above the hips for a few frames. A description says only "martial
arts", so its windows teach "martial arts", never "kick". Cutting a short window around each kick, described by the
leg that kicks, turns those routines into a dozen kicks a side. The routine's longer windows then name the kicks
inside them too (extra.py), so a kick is learnt inside a take as well as alone. Only martial arts takes are searched:
a ballet leg lift or a cartwheel also raises a foot above the hips and is no kick.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.engine.skeleton import Skeleton

KICK_HALF = 24  # frames kept either side of a kick's highest frame (2.45 s windows at 20 fps)
MIN_UP = 3  # frames running a foot must stay above the hips (0.15 s): one frame's glitch is no kick
KICKING_ACTIONS = frozenset({"martial arts"})  # actions whose takes are searched for kicks


@dataclass(frozen=True)
class Kick:
    apex: int   # frame where the foot is highest above the hips
    side: str   # "left" or "right": the leg that kicks
    start: int  # the window kept around it, [start, end) frames
    end: int


def kicks(positions: np.ndarray, skeleton: Skeleton, half: int = KICK_HALF) -> list[Kick]:
    """Every kick of a take (T, J, 3), Y up, in time order: a run of at least MIN_UP frames where one foot is above
    the hips (the root joint), with a window of `half` frames either side of its highest frame."""
    p = np.asarray(positions, dtype=np.float64)
    root = p[:, 0, 1]
    found = []
    for side, foot in (("left", skeleton.foot_left), ("right", skeleton.foot_right)):
        above = p[:, list(foot), 1].max(axis=1) - root  # (T,) highest joint of the foot over the hips
        up = np.concatenate([[False], above > 0.0, [False]])
        edges = np.flatnonzero(np.diff(up.astype(np.int8)))  # run starts and ends, alternating
        for a, b in zip(edges[::2], edges[1::2]):
            if b - a >= MIN_UP:
                apex = a + int(np.argmax(above[a:b]))
                found.append(Kick(apex, side, max(0, apex - half), min(len(p), apex + half + 1)))
    return sorted(found, key=lambda k: k.apex)
