"""The CLI's studio side: no command opens the studio (and only then is Qt imported), `render` writes a GIF
headless, `bench --ui` reports the viewport's playback rate."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app import cli

WALK = "dataset-2_walk_normal_001.bvh"


def test_no_command_opens_the_studio(monkeypatch):
    import app.ui.app

    opened = []
    monkeypatch.setattr(app.ui.app, "run_studio", lambda argv: opened.append(argv) or 0)
    assert cli.main([]) == 0 and opened == [[]]


def test_the_engine_commands_never_import_qt():
    code = "import sys; from app.cli import main, build_parser; build_parser(); print('PySide6' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "False", result.stderr


def _run(*args: str, env_remove: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if k not in env_remove}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, timeout=300, env=env)


def test_render_writes_an_animated_gif_without_a_display(bandai_namco_sample: Path, tmp_path: Path):
    out = tmp_path / "walk.gif"
    result = _run("render", str(bandai_namco_sample / WALK), "-o", str(out), "--size", "160x120", "--fps", "10",
                  env_remove=("DISPLAY", "WAYLAND_DISPLAY"))
    assert result.returncode == 0, result.stderr
    gif = Image.open(out)
    assert gif.size == (160, 120) and gif.n_frames == 91 and gif.info["duration"] == 100  # 182 frames at 20 fps
    gif.seek(45)
    colours = np.unique(np.asarray(gif.convert("RGB")).reshape(-1, 3), axis=0)
    assert len(colours) > 10  # grid, trajectory and a coloured skeleton, not an empty picture


def test_render_draws_the_take_of_a_project(bandai_namco_sample: Path, tmp_path: Path):
    from app.engine.document import Document, SetTake
    from app.engine.document.files import read_take, save_document

    doc = Document()
    doc.execute(SetTake(read_take(bandai_namco_sample / WALK)))
    save_document(tmp_path / "walk.kinema", doc)
    result = _run("render", str(tmp_path / "walk.kinema"), "-o", str(tmp_path / "walk.gif"), "--size", "96x72",
                  "--fps", "5", env_remove=("DISPLAY", "WAYLAND_DISPLAY"))
    assert result.returncode == 0, result.stderr
    assert Image.open(tmp_path / "walk.gif").n_frames == 46  # every 4th of 182 frames


def test_render_refuses_what_it_cannot_write(bandai_namco_sample: Path, tmp_path: Path):
    result = _run("render", str(bandai_namco_sample / WALK), "-o", str(tmp_path / "walk.mp4"))
    assert result.returncode == 2 and "can only write .gif" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_bench_ui_prints_the_playback_rate():
    result = _run("bench", "--ui", "--seconds", "1")
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("viewport playback: ") and "for a 200-frame take" in line
    assert float(line.split()[2]) > 10  # fps
