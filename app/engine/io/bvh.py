"""BVH motion files: a reader for what real files contain, and an exact, atomic writer.

The reader accepts any channel order, 0-6 channels per joint, End Sites, CRLF, tabs, scientific
notation, any frame rate and frames wrapped over several lines. Anything malformed raises one
BVHError naming the source and the line, never an IndexError or a bare float() ValueError.
"""

import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.engine.euler import euler_to_matrix, matrix_to_euler, unwrap_euler
from app.engine.io.atomic import write_atomic

_CHANNEL_NAMES = {n.lower(): n for n in
                  ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")}
_KEYWORDS = {"HIERARCHY", "ROOT", "JOINT", "End", "OFFSET", "CHANNELS", "MOTION", "{", "}"}
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_COUNT = re.compile(r"[0-9]+")
_NUMBER_LINE = re.compile(rf"\s*(?:{_NUMBER.pattern}(?:\s+{_NUMBER.pattern})*)?\s*")
_TOKEN = re.compile(r"[{}]|[^\s{}]+")
_FRAMES = re.compile(r"\s*Frames\s*:\s*(.*?)\s*")
_FRAME_TIME = re.compile(r"\s*Frame\s+Time\s*:\s*(.*?)\s*")


def _quote(token: str) -> str:
    """A token for an error message, cut short so a long line cannot flood the message; a binary file's bytes
    mean nothing to the user and are named, not printed."""
    if not token.replace("\t", " ").isprintable() or "\ufffd" in token:
        return "binary data: this is not a BVH text file"
    return repr(token if len(token) <= 40 else token[:40] + "...")


class BVHError(ValueError):
    """A malformed BVH file; the message names the source and the line: "take.bvh, line 12: ..."."""

    def __init__(self, source: str, line: int, message: str):
        super().__init__(f"{source}, line {line}: {message}")
        self.source, self.line = source, line


@dataclass
class BVHJoint:
    name: str
    parent: int  # index into BVH.joints, -1 for a root
    offset: np.ndarray  # (3,)
    channels: list[str]  # normalised names, e.g. ["Zrotation", "Xrotation", "Yrotation"]
    end_site: np.ndarray | None = None  # (3,) offset of the End Site child, if any


@dataclass
class BVH:
    joints: list[BVHJoint]  # file order: parents come before children
    frame_time: float  # seconds
    motion: np.ndarray  # (frames, total channels), channels in joint order

    def __post_init__(self) -> None:
        self.motion = np.asarray(self.motion, dtype=np.float64)
        n_channels = sum(len(j.channels) for j in self.joints)
        if self.motion.ndim != 2 or self.motion.shape[1] != n_channels:
            raise ValueError(f"motion of shape {self.motion.shape} does not fit {n_channels} channels")

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.joints]

    @property
    def parents(self) -> np.ndarray:
        return np.array([j.parent for j in self.joints], dtype=np.int64)

    @property
    def offsets(self) -> np.ndarray:
        return np.array([j.offset for j in self.joints], dtype=np.float64).reshape(-1, 3)

    @property
    def n_frames(self) -> int:
        return self.motion.shape[0]

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def channel_slice(self, j: int) -> slice:
        """Columns of `motion` holding joint j's channels."""
        start = sum(len(joint.channels) for joint in self.joints[:j])
        return slice(start, start + len(self.joints[j].channels))

    def _channel_values(self, j: int, kind: str) -> tuple[str, np.ndarray]:
        """Axes (e.g. "ZXY") and (frames, n) values of joint j's channels of one kind, in file order."""
        channels = self.joints[j].channels
        cols = [c for c, name in enumerate(channels) if name.endswith(kind)]
        axes = "".join(channels[c][0] for c in cols)
        return axes, self.motion[:, self.channel_slice(j)][:, cols]

    def local_rotations(self) -> np.ndarray:
        """(frames, J, 3, 3): each joint's rotation channels composed in their own order."""
        mats = []
        for j in range(len(self.joints)):
            axes, angles = self._channel_values(j, "rotation")
            mats.append(euler_to_matrix(angles, axes))
        return np.stack(mats, axis=1)

    def local_translations(self) -> np.ndarray:
        """(frames, J, 3): the offset, with each position channel replacing its axis, as BVH does."""
        out = np.broadcast_to(self.offsets, (self.n_frames, len(self.joints), 3)).copy()
        for j in range(len(self.joints)):
            axes, values = self._channel_values(j, "position")
            for k, axis in enumerate(axes):
                out[:, j, "XYZ".index(axis)] = values[:, k]
        return out

    def _forward_kinematics(self) -> tuple[np.ndarray, np.ndarray]:
        local_r, local_t = self.local_rotations(), self.local_translations()
        world_r, world_t = np.empty_like(local_r), np.empty_like(local_t)
        for j, p in enumerate(self.parents):
            if p < 0:
                world_r[:, j], world_t[:, j] = local_r[:, j], local_t[:, j]
            else:
                world_r[:, j] = world_r[:, p] @ local_r[:, j]
                world_t[:, j] = world_t[:, p] + np.einsum("fij,fj->fi", world_r[:, p], local_t[:, j])
        return world_r, world_t

    def world_positions(self) -> np.ndarray:
        """(frames, J, 3) joint positions by forward kinematics, in file units."""
        return self._forward_kinematics()[1]

    def world_rotations(self) -> np.ndarray:
        """(frames, J, 3, 3) joint orientations in the world frame."""
        return self._forward_kinematics()[0]


# ----------------------------------------------------------------------------- reading


class _Parser:
    """Recursive-descent parser without recursion (deep nesting cannot overflow the stack)."""

    def __init__(self, text: str, source: str):
        self.source = source
        self.lines = re.split(r"\r\n|\r|\n", text)
        self.last_line = max((n for n, line in enumerate(self.lines, 1) if line.strip()), default=1)
        self.tokens = self._tokenise()
        self.peeked: tuple[str, int] | None = None

    def _tokenise(self) -> Iterator[tuple[str, int]]:
        """Lazily, so the motion block is never split into tokens here."""
        for number, line in enumerate(self.lines, 1):
            for match in _TOKEN.finditer(line):
                yield match.group(), number

    def error(self, line: int, message: str) -> BVHError:
        return BVHError(self.source, line, message)

    def peek(self) -> tuple[str, int] | None:
        if self.peeked is None:
            self.peeked = next(self.tokens, None)
        return self.peeked

    def take(self, expected: str) -> tuple[str, int]:
        token = self.peek()
        if token is None:
            raise self.error(self.last_line, f"file ends here, expected {expected}")
        self.peeked = None
        return token

    def expect(self, keyword: str) -> int:
        token, line = self.take(f"'{keyword}'")
        if token != keyword:
            if token in _KEYWORDS:
                raise self.error(line, f"expected '{keyword}', found {_quote(token)}")
            raise self.error(line, f"unknown keyword {_quote(token)} where '{keyword}' was expected")
        return line

    def number(self, token: str, line: int, what: str) -> float:
        if _NUMBER.fullmatch(token):
            value = float(token)
            if math.isfinite(value):
                return value
        try:
            non_finite = not math.isfinite(float(token))
        except ValueError:
            non_finite = False
        raise self.error(line, f"{what} {_quote(token)} is {'not finite' if non_finite else 'not a number'}")

    def offset(self) -> np.ndarray:
        line = self.expect("OFFSET")
        values = []
        while len(values) < 3:
            token, token_line = self.take("a number")
            if token in _KEYWORDS:
                raise self.error(line, f"OFFSET needs 3 numbers, found {len(values)}")
            values.append(self.number(token, token_line, "OFFSET value"))
        return np.array(values)

    def channels(self) -> list[str]:
        line = self.expect("CHANNELS")
        token, count_line = self.take("a channel count")
        if not _COUNT.fullmatch(token) or int(token) > 6:
            raise self.error(count_line, f"CHANNELS count must be a whole number from 0 to 6, found {_quote(token)}")
        count, names = int(token), []
        while len(names) < count:
            token, name_line = self.take("a channel name")
            if token in _KEYWORDS:
                raise self.error(line, f"CHANNELS declares {count} channels but lists {len(names)}")
            name = _CHANNEL_NAMES.get(token.lower())
            if name is None:
                raise self.error(name_line, f"invalid channel name {_quote(token)}")
            if name in names:
                raise self.error(name_line, f"channel '{name}' is listed twice")
            names.append(name)
        following = self.peek()
        if following is not None and following[0].lower() in _CHANNEL_NAMES:
            raise self.error(line, f"CHANNELS declares {count} channels but lists more")
        return names

    def joint_name(self, keyword: str, line: int) -> str:
        """The rest of the keyword's line up to '{' (a few exporters put spaces in names)."""
        parts = []
        while (token := self.peek()) is not None and token[1] == line and token[0] != "{":
            parts.append(self.take("a name")[0])
        if not parts:
            raise self.error(line, f"{keyword} has no name")
        return " ".join(parts)

    def hierarchy(self) -> tuple[list[BVHJoint], int]:
        """Joints in file order and the line of the MOTION keyword."""
        if self.peek() is None:
            raise self.error(1, "file is empty")
        token, line = self.take("HIERARCHY")
        if token != "HIERARCHY":
            raise self.error(line, f"expected HIERARCHY at the start of the file, found {_quote(token)}")
        joints: list[BVHJoint] = []
        open_joints: list[int] = []
        while True:
            token, line = self.take("a joint, '}' or MOTION")
            if token in ("ROOT", "JOINT"):
                if token == "JOINT" and not open_joints:
                    raise self.error(line, "JOINT outside of any ROOT")
                if token == "ROOT" and open_joints:
                    raise self.error(line, f"ROOT inside joint '{joints[open_joints[-1]].name}' (missing '}}'?)")
                name = self.joint_name(token, line)
                self.expect("{")
                parent = open_joints[-1] if open_joints else -1
                joints.append(BVHJoint(name, parent, self.offset(), self.channels()))
                open_joints.append(len(joints) - 1)
            elif token == "End":
                site, site_line = self.take("'Site'")
                if site.lower() != "site":
                    raise self.error(site_line, f"expected 'End Site', found {_quote('End ' + site)}")
                if not open_joints:
                    raise self.error(line, "End Site outside of any joint")
                owner = joints[open_joints[-1]]
                if owner.end_site is not None:
                    raise self.error(line, f"joint '{owner.name}' has a second End Site")
                self.expect("{")
                owner.end_site = self.offset()
                self.expect("}")
            elif token == "}":
                if not open_joints:
                    raise self.error(line, "'}' without a matching '{'")
                open_joints.pop()
            elif token == "MOTION":
                if open_joints:
                    raise self.error(line, f"joint '{joints[open_joints[-1]].name}' is not closed (missing '}}')")
                if not joints:
                    raise self.error(line, "MOTION before any ROOT")
                following = self.peek()
                if following is not None and following[1] == line:
                    raise self.error(line, f"unexpected {_quote(following[0])} after MOTION")
                return joints, line
            elif token in _KEYWORDS:
                raise self.error(line, f"unexpected {_quote(token)} here")
            else:
                raise self.error(line, f"unknown keyword {_quote(token)}")

    def header_line(self, start: int, pattern: re.Pattern, label: str) -> tuple[str, int]:
        """The value of the first non-blank line at or after index `start`, which must match `pattern`."""
        for index in range(start, len(self.lines)):
            if self.lines[index].strip():
                match = pattern.fullmatch(self.lines[index])
                if match is None:
                    raise self.error(index + 1, f"expected '{label}: ...', found {_quote(self.lines[index].strip())}")
                return match.group(1), index + 1
        raise self.error(self.last_line, f"file ends here, expected '{label}:'")

    def motion(self, motion_line: int, n_channels: int) -> tuple[float, np.ndarray]:
        value, frames_line = self.header_line(motion_line, _FRAMES, "Frames")
        if not _COUNT.fullmatch(value):
            raise self.error(frames_line, f"Frames must be a whole number, found {_quote(value)}")
        n_frames = int(value)
        if n_frames == 0:
            raise self.error(frames_line, "Frames is 0: the file has no motion")
        value, time_line = self.header_line(frames_line, _FRAME_TIME, "Frame Time")
        frame_time = self.number(value, time_line, "Frame Time")
        if frame_time <= 0:
            raise self.error(time_line, f"Frame Time must be positive, found {value}")
        if n_channels == 0:
            raise self.error(time_line, "the skeleton has no channels, so frames cannot be read")
        return frame_time, self.frames(time_line, n_frames, n_channels)

    def frames(self, time_line: int, n_frames: int, n_channels: int) -> np.ndarray:
        """Strictly one frame per line; frames wrapped over lines are accepted when the total fits."""
        rows = [(n, line.split()) for n, line in enumerate(self.lines[time_line:], time_line + 1) if line.strip()]
        for n, tokens in rows:
            if not _NUMBER_LINE.fullmatch(self.lines[n - 1]):
                for token in tokens:
                    self.number(token, n, "frame value")
        values = np.array([t for _, tokens in rows for t in tokens], dtype=np.float64)
        if not np.isfinite(values).all():  # only overflow gets here, e.g. 1e999
            first = int(np.argmin(np.isfinite(values)))
            ends = np.cumsum([len(tokens) for _, tokens in rows])
            r = int(np.searchsorted(ends, first, side="right"))
            n, tokens = rows[r]
            self.number(tokens[first - int(ends[r]) + len(tokens)], n, "frame value")
        if values.size == n_frames * n_channels:
            return values.reshape(n_frames, n_channels)
        for k, (n, tokens) in enumerate(rows):
            if k == n_frames:
                raise self.error(n, f"more frames than the {n_frames} declared by Frames")
            if len(tokens) != n_channels:
                if k == len(rows) - 1 and len(tokens) < n_channels:
                    raise self.error(n, f"file ends after {k} of {n_frames} frames "
                                        f"(the last frame has {len(tokens)} of {n_channels} numbers)")
                raise self.error(n, f"expected {n_channels} numbers on this frame, found {len(tokens)}")
        end = rows[-1][0] if rows else time_line
        raise self.error(end, f"file ends after {len(rows)} of {n_frames} frames")


def parse_bvh(text: str, source: str = "<string>") -> BVH:
    """Parse BVH text; `source` names the file in error messages."""
    parser = _Parser(text, source)
    joints, motion_line = parser.hierarchy()
    frame_time, motion = parser.motion(motion_line, sum(len(j.channels) for j in joints))
    return BVH(joints, frame_time, motion)


def read_bvh(path: str | os.PathLike) -> BVH:
    """Read a BVH file as UTF-8 (latin-1 for the odd legacy exporter); errors name the file."""
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return parse_bvh(text, source=Path(path).name)


# ----------------------------------------------------------------------------- writing


def _numbers(values: np.ndarray, precision: int) -> np.ndarray:
    """Fixed-point text rounded to `precision` decimals, trailing zeros and '-0' removed."""
    rounded = np.round(np.asarray(values, dtype=np.float64), precision) + 0.0  # + 0.0 turns -0.0 into 0.0
    text = [f"{v:.{precision}f}" for v in rounded.ravel()]
    if precision > 0:
        text = [t.rstrip("0").rstrip(".") for t in text]
    return np.array(text, dtype=object).reshape(rounded.shape)


def format_bvh(bvh: BVH, precision: int = 6) -> str:
    """Deterministic BVH text; `precision` is decimal places, so values read back within 0.5e-precision.

    Joints are written depth first (children in index order) and the motion columns follow that
    order, so any parents-before-children joint order can be written.
    """
    children: list[list[int]] = [[] for _ in bvh.joints]
    for j, joint in enumerate(bvh.joints):
        if joint.parent >= 0:
            children[joint.parent].append(j)

    def offset(values: np.ndarray) -> str:
        return "OFFSET " + " ".join(_numbers(values, precision))

    lines, order = ["HIERARCHY"], []
    roots = [j for j, joint in enumerate(bvh.joints) if joint.parent < 0]
    todo: list[tuple[str, int, int]] = [("joint", j, 0) for j in reversed(roots)]
    while todo:
        kind, j, depth = todo.pop()
        pad, joint = "\t" * depth, bvh.joints[j]
        if kind == "close":
            lines.append(pad + "}")
        elif kind == "end":
            lines += [pad + "End Site", pad + "{", pad + "\t" + offset(joint.end_site), pad + "}"]
        else:
            order.append(j)
            lines += [pad + ("ROOT " if joint.parent < 0 else "JOINT ") + joint.name, pad + "{",
                      pad + "\t" + offset(joint.offset),
                      pad + "\t" + " ".join(["CHANNELS", str(len(joint.channels)), *joint.channels])]
            todo.append(("close", j, depth))
            if joint.end_site is not None:
                todo.append(("end", j, depth + 1))
            todo += [("joint", c, depth + 1) for c in reversed(children[j])]
    columns = [c for j in order for c in range(bvh.channel_slice(j).start, bvh.channel_slice(j).stop)]
    motion = _numbers(bvh.motion[:, columns], precision)
    lines += ["MOTION", f"Frames: {bvh.n_frames}", f"Frame Time: {bvh.frame_time:.9g}"]
    lines += [" ".join(row) for row in motion]
    return "\n".join(lines) + "\n"


def write_bvh(bvh: BVH, path: str | os.PathLike, precision: int = 6) -> None:
    """Write atomically (see `write_atomic`): a crash or error leaves either the old file or the new one, and
    failures name `path` in plain words, never the temp file."""
    write_atomic(path, format_bvh(bvh, precision).encode("utf-8"))


def bvh_from_rotations(names: Sequence[str], parents: Sequence[int], offsets: np.ndarray,
                       root_positions: np.ndarray, local_rotmats: np.ndarray, frame_time: float,
                       order: str = "ZXY", end_sites: Sequence[np.ndarray | None] | None = None) -> BVH:
    """Build a BVH for export: the root gets position + rotation channels, other joints rotation only.

    names/parents/offsets: (J,), parents before children, exactly one root (parent -1);
    root_positions: (frames, 3); local_rotmats: (frames, J, 3, 3); end_sites: per joint, or None.
    Euler angles are unwrapped over time so the exported curves are continuous.
    """
    parents = [int(p) for p in parents]
    if [p for p in parents if p < 0] != [-1] or any(p >= j for j, p in enumerate(parents)):
        raise ValueError("parents must list exactly one root (-1) and put every parent before its children")
    euler = unwrap_euler(matrix_to_euler(local_rotmats, order))  # (frames, J, 3)
    offsets = np.asarray(offsets, dtype=np.float64)
    rotation = [f"{axis}rotation" for axis in order.upper()]
    joints, columns = [], []
    for j, (name, parent) in enumerate(zip(names, parents)):
        end = None if end_sites is None or end_sites[j] is None else np.asarray(end_sites[j], dtype=np.float64)
        position = ["Xposition", "Yposition", "Zposition"] if parent < 0 else []
        joints.append(BVHJoint(str(name), parent, offsets[j].copy(), position + rotation, end))
        if parent < 0:
            columns.append(np.asarray(root_positions, dtype=np.float64))
        columns.append(euler[:, j])
    return BVH(joints, float(frame_time), np.concatenate(columns, axis=1))
