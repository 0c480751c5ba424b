"""Fuzzing FBX and glTF: a damaged file (truncated, bits flipped, bytes zeroed or repeated) is read or refused with
a ValueError naming the file; no other exception escapes, nothing crashes, and what is read holds no NaN."""
import random

import numpy as np
import pytest

from app.engine.data.bandai_namco import take_positions
from app.engine.document.files import read_take
from app.engine.io.formats import export_positions
from app.engine.io.rig_files import read_rig_animation
from app.engine.skeleton import BANDAI_NAMCO_21
from tests.ui.conftest import WALK

CASES = {".fbx": 1500, ".glb": 1500}


def _damaged(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    kind = rng.choice(("truncate", "flip", "scramble", "zero", "repeat"))
    at = rng.randrange(len(data))
    if kind == "truncate":
        return bytes(data[:at])
    if kind == "flip":
        data[at] ^= 1 << rng.randrange(8)
    elif kind == "scramble":
        for _ in range(rng.randrange(2, 30)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == "zero":
        data[at:at + 64] = bytes(len(data[at:at + 64]))
    else:
        data[at:at] = data[at:at + 100]
    return bytes(data)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    positions = take_positions(WALK.read_text(), source=WALK.name)[:30]
    folder = tmp_path_factory.mktemp("exports")
    files = {}
    for suffix in CASES:
        files[suffix] = folder / f"walk{suffix}"
        export_positions(positions, BANDAI_NAMCO_21, files[suffix])
    return files


@pytest.mark.parametrize("suffix", sorted(CASES))
def test_damaged_files_are_read_or_refused_with_a_clear_error(exported, tmp_path, suffix):
    raw, rng = exported[suffix].read_bytes(), random.Random(suffix)
    path = tmp_path / f"case{suffix}"
    refused = 0
    for case in range(CASES[suffix]):
        path.write_bytes(_damaged(raw, rng))
        try:
            anim, _ = read_rig_animation(path)
        except ValueError as error:
            assert path.name in str(error)
            refused += 1
            continue
        assert np.isfinite(anim.root_positions).all() and np.isfinite(anim.local_rotations).all(), case
    assert 0 < refused < CASES[suffix]  # the damage was real, and some files still read


@pytest.mark.parametrize("suffix", sorted(CASES))
def test_damaged_files_become_takes_or_clear_errors(exported, tmp_path, suffix):
    raw, rng = exported[suffix].read_bytes(), random.Random(f"take{suffix}")
    path = tmp_path / f"case{suffix}"
    for _ in range(60):
        path.write_bytes(_damaged(raw, rng))
        try:
            take = read_take(path)
        except ValueError:
            continue
        assert np.isfinite(take.positions).all()
