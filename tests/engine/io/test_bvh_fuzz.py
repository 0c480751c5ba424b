"""Fuzzing: whatever a damaged file looks like, the parser returns a BVH or raises BVHError, nothing else."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.io.bvh import BVHError, format_bvh, parse_bvh

VALID = (
    "HIERARCHY\r\n"
    "ROOT Hips\r\n{\r\n"
    "\tOFFSET 0 0 0\r\n"
    "\tCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation\r\n"
    "\tJOINT Spine\r\n\t{\r\n"
    "\t\tOFFSET 0 1.5e1 0\r\n"
    "\t\tCHANNELS 3 Zrotation Xrotation Yrotation\r\n"
    "\t\tJOINT Head\r\n\t\t{\r\n"
    "\t\t\tOFFSET 0 5 0.5\r\n"
    "\t\t\tCHANNELS 3 Xrotation Yrotation Zrotation\r\n"
    "\t\t\tEnd Site\r\n\t\t\t{\r\n\t\t\t\tOFFSET 0 3 0\r\n\t\t\t}\r\n"
    "\t\t}\r\n"
    "\t}\r\n"
    "\tJOINT LeftLeg\r\n\t{\r\n"
    "\t\tOFFSET 4 -2 0\r\n"
    "\t\tCHANNELS 6 Xposition Yposition Zposition Xrotation Yrotation Zrotation\r\n"
    "\t\tEnd site\r\n\t\t{\r\n\t\t\tOFFSET 0 -40 0\r\n\t\t}\r\n"
    "\t}\r\n"
    "}\r\n"
    "MOTION\r\n"
    "Frames: 3\r\n"
    "Frame Time: 0.0333333\r\n"
    "0 90 0 10 -20 30 1 2 3 4 5 6 4 -2 0 0.5 1e-3 -170\r\n"
    "1 91 0 11 -21 31 1 2 3 4 5 6 4 -2 0 0.5 2E-3 -175\r\n"
    "2 92 0 12 -22 32 1 2 3 4 5 6 4 -2 0 0.5 3e+0 179\r\n"
)

TOKENS = ["{", "}", "ROOT", "JOINT", "End", "Site", "OFFSET", "CHANNELS", "MOTION", "HIERARCHY", "Frames:",
          "Frame", "Time:", "3", "6", "0", "-1", "1e999", "nan", "inf", "abc", "Xrotation", "Zposition", "",
          "\t", "\r\n", ".", "1.2.3", "e5", "99999999999999999999"]


@st.composite
def damaged(draw) -> str:
    """The valid file after 1-4 random edits of the kinds real damage produces."""
    text = VALID
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "delete", "duplicate", "swap", "token", "insert"]))
        lines = text.split("\n")
        i = draw(st.integers(0, len(lines) - 1))
        if kind == "truncate":
            text = text[:draw(st.integers(0, len(text)))]
        elif kind == "delete":
            text = "\n".join(lines[:i] + lines[i + 1:])
        elif kind == "duplicate":
            text = "\n".join(lines[:i + 1] + lines[i:])
        elif kind == "swap":
            k = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[k] = lines[k], lines[i]
            text = "\n".join(lines)
        elif kind == "token":
            words = lines[i].split(" ")
            words[draw(st.integers(0, len(words) - 1))] = draw(st.sampled_from(TOKENS) | st.text(max_size=6))
            lines[i] = " ".join(words)
            text = "\n".join(lines)
        else:
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.text(max_size=8)) + text[at:]
    return text


def check(text: str) -> None:
    """Parse; a file that parses must also survive a write/read round trip."""
    try:
        bvh = parse_bvh(text, "fuzz.bvh")
    except BVHError as e:
        assert str(e).startswith("fuzz.bvh, line ")
        return
    assert bvh.motion.shape == (bvh.n_frames, sum(len(j.channels) for j in bvh.joints))
    assert np.isfinite(bvh.motion).all() and bvh.frame_time > 0
    again = parse_bvh(format_bvh(bvh, precision=9))
    assert again.names == bvh.names and again.n_frames == bvh.n_frames
    np.testing.assert_allclose(again.motion, bvh.motion, rtol=1e-9, atol=1e-8)
    assert np.isfinite(bvh.world_positions()).all() or np.abs(bvh.motion).max() > 1e150


def test_the_unmodified_fuzz_seed_parses():
    assert parse_bvh(VALID).motion.shape == (3, 18)


@settings(deadline=None, max_examples=300)
@given(damaged())
def test_damaged_files_parse_or_raise_bvherror(text):
    check(text)


@settings(deadline=None, max_examples=100)
@given(st.lists(st.sampled_from(TOKENS + [" ", "\n", "\r", "x", "7"]), max_size=80).map("".join))
def test_random_token_soup_parses_or_raises_bvherror(text):
    check(text)
