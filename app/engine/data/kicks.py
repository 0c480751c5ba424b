"""Kicks found inside martial arts takes, cut out as motions of their own.

All the data has one take labelled a kick (Bandai Namco's dataset 1), but CMU's martial arts routines kick every
two or three seconds, each kick a foot swung above the hips for a few frames. A description says only "martial
arts", so its windows teach "martial arts", never "kick". Cutting a short window around each kick, described by the
leg that kicks, turns those routines into a dozen kicks a side. The routine's longer windows then name the kicks
inside them too (extra.py), and a take-length window around each kick (`CONTEXT_FRAMES`, centred on it) shows the
same kick again in a 6 s take, with what the routine does before and after it: the routine's own windows are only a
few, cut where they fall, and a model that saw kicks mostly as 2.4 s motions stood in a guard for most of a 6 s take
asked to kick. Only martial arts takes are searched: a ballet leg lift or a cartwheel also raises a foot above the
hips and is no kick.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.engine.skeleton import Skeleton

KICK_HALF = 24  # frames kept either side of a kick's highest frame (2.45 s windows at 20 fps)
MIN_UP = 3  # frames running a foot must stay above the hips (0.15 s): one frame's glitch is no kick
CONTEXT_FRAMES = 120  # a kick's take-length window (6 s at 20 fps: the suite's and the studio's default length)
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


def context_window(kick: Kick, n_frames: int, length: int = CONTEXT_FRAMES) -> tuple[int, int] | None:
    """[start, end) of the `length`-frame window centred on the kick's highest frame, shifted to lie inside a take of
    `n_frames`; None when the take is shorter than that."""
    if n_frames < length:
        return None
    start = min(max(0, kick.apex - length // 2), n_frames - length)
    return start, start + length
