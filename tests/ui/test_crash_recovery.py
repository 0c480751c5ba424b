"""Crash safety: a studio killed with SIGKILL in the middle of editing leaves a recovery file that restores the
take, its keys and its segments as they were at most one autosave interval before the kill."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.engine.document.files import leftover_recoveries, load_document
from tests.ui.conftest import WALK

AUTOSAVE_S = 0.3


def _state(opened) -> dict:
    return {"frames": opened.take.n_frames, "locked": list(opened.locked),
            "segments": [[s.text, s.start, s.length] for s in opened.segments],
            "root_x_10": float(opened.take.positions[10, 0, 0])}


@pytest.mark.slow
def test_sigkill_mid_edit_loses_at_most_the_autosave_interval(tmp_path: Path, recovery_home: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data-home"), "PYTHONUNBUFFERED": "1"}
    driver = Path(__file__).with_name("crash_driver.py")
    process = subprocess.Popen([sys.executable, str(driver), str(WALK)], env=env, stdout=subprocess.PIPE, text=True,
                               cwd=Path(__file__).resolve().parents[2])
    printed = []
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            line = process.stdout.readline()
            assert line, f"the studio exited early with {process.poll()}"
            printed.append(json.loads(line))
            # kill mid-edit, once several autosaves have had time to happen
            if len(printed) >= 25 and any(recovery_home.glob("*.kinema.autosave")):
                break
        killed_at = time.time()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    leftovers = leftover_recoveries()
    assert len(leftovers) == 1
    recovered = _state(load_document(leftovers[0]))
    matches = [p for p in printed if p["state"] == recovered]
    assert matches, "the recovery file holds a state the session never had"
    # The edits lost are those made after the recovered state: within one autosave interval of the kill, plus
    # the time the pool thread takes to write the file on a loaded machine.
    lost_since = matches[-1]["t"]
    next_edits = [p["t"] for p in printed if p["t"] > lost_since]
    assert not next_edits or killed_at - next_edits[0] <= AUTOSAVE_S + 1.5
    assert recovered["locked"] and recovered["segments"]
