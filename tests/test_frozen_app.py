"""The PyInstaller build (`bash packaging/build.sh`) starts, shows its window, loads its models, generates once
when Generate is pressed, and exits 0. The build takes minutes and 1.5 GB, so this runs where one exists
(dist/kinema, or $KINEMA_FROZEN_APP) and is skipped otherwise."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from app.ui.app import STARTUP_GENERATE, STARTUP_PROBE

ROOT = Path(__file__).resolve().parents[1]
FROZEN = Path(os.environ.get("KINEMA_FROZEN_APP", ROOT / "dist" / "kinema" / "kinema"))


@pytest.mark.slow
@pytest.mark.skipif(not FROZEN.is_file(), reason=f"no frozen build at {FROZEN}: run `bash packaging/build.sh`")
def test_the_frozen_app_starts_generates_once_and_exits_0(tmp_path):
    out = tmp_path / "startup.json"
    env = {**os.environ, STARTUP_PROBE: str(out), STARTUP_GENERATE: "1", "XDG_DATA_HOME": str(tmp_path)}
    done = subprocess.run([str(FROZEN)], env=env, cwd=tmp_path, timeout=600, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    times = json.loads(out.read_text())
    assert times["splash_shown"] <= times["window_shown"] <= times["models_ready"] <= times["generate_pressed"]
    assert times["generated_frames"] > 0
