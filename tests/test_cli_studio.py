"""The CLI's studio side: no command opens the studio (and only then is Qt imported), `render` writes a GIF or an
MP4 headless, `bench --ui` reports the viewport's playback rate."""
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


def _short_walk(bandai_namco_sample: Path, path: Path, frames: int) -> Path:
    from app.engine.document.files import export_take, read_take

    # at the studio's 20 fps (an imported take otherwise goes out at its file's own 30 fps)
    export_take(read_take(bandai_namco_sample / WALK), path, frame_range=(0, frames), fps=20.0)
    return path


def test_render_writes_an_mp4_that_plays_the_take_in_real_time(bandai_namco_sample: Path, tmp_path: Path):
    import imageio_ffmpeg

    take = _short_walk(bandai_namco_sample, tmp_path / "short.bvh", 24)  # 24 frames at 20 fps: 1.2 s
    for fps, pictures in ((None, 24), (10, 12)):
        out = tmp_path / f"walk-{fps}.mp4"
        result = _run("render", str(take), "-o", str(out), "--size", "161x121", *(["--fps", str(fps)] if fps else []),
                      env_remove=("DISPLAY", "WAYLAND_DISPLAY"))
        assert result.returncode == 0, result.stderr
        assert f"{pictures} pictures of 24 frames, 162x122" in result.stdout  # H.264 (yuv420p) needs even sides
        # read back by ffmpeg itself: every picture decodes, and the video lasts as long as the take
        assert imageio_ffmpeg.count_frames_and_secs(str(out)) == (pictures, pytest.approx(1.2))
        reader = imageio_ffmpeg.read_frames(str(out))
        meta = next(reader)
        assert meta["codec"] == "h264" and meta["size"] == (162, 122) and meta["fps"] == pytest.approx(pictures / 1.2)
        picture = np.frombuffer(next(reader), np.uint8).reshape(122, 162, 3).astype(int)
        reader.close()
        background = np.array([0.13, 0.14, 0.16]) * 255
        assert (np.abs(picture - background).max(axis=-1) > 40).sum() > 200  # grid, trajectory and skeleton
        assert ((picture[..., 2] - picture[..., 0]) > 80).sum() > 10  # the left limbs' blue: a skeleton is drawn
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.bvh", "walk-10.mp4", "walk-None.mp4"]  # no temp files


def _fake_frames(monkeypatch, size: tuple[int, int], fail_after: int | None = None, tmp: Path | None = None) -> None:
    """render_frames without EGL: grey pictures; after `fail_after` of them, wait until the encoder has created `tmp`,
    then fail as a renderer would."""
    import time

    from app.ui import render

    def frames(take, size_, every, display="Skeleton", smpl=None):
        for i in range(0, take.n_frames, every):
            if i == fail_after:
                deadline = time.monotonic() + 60
                while not tmp.exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert tmp.exists(), "ffmpeg never created the temp file"
                raise RuntimeError("the renderer broke")
            yield np.full((size[1], size[0], 3), 40 + i, np.uint8)

    monkeypatch.setattr(render, "render_frames", frames)


def test_a_failed_mp4_leaves_no_file_and_no_temp_file(monkeypatch, tmp_path: Path):
    from app.engine.document import Take
    from app.ui import render

    take = Take(np.zeros((40, 21, 3), np.float32))
    out = tmp_path / "take.mp4"
    _fake_frames(monkeypatch, (64, 48), fail_after=30, tmp=tmp_path / ".take.mp4.tmp.mp4")
    with pytest.raises(RuntimeError, match="the renderer broke"):
        render.render_take(take, out, (64, 48))
    assert list(tmp_path.iterdir()) == []
    # ffmpeg itself refusing (here: an odd width, which yuv420p cannot hold) is an OSError that says why
    monkeypatch.setattr(render, "output_size", lambda out, size: size)
    _fake_frames(monkeypatch, (63, 48))
    with pytest.raises(OSError, match="ffmpeg could not write the video: .*divisible by 2"):
        render.render_take(take, out, (63, 48))
    assert list(tmp_path.iterdir()) == []
    # and a file already there is kept as it was
    out.write_bytes(b"older video")
    with pytest.raises(OSError):
        render.render_take(take, out, (63, 48))
    assert [p.name for p in tmp_path.iterdir()] == ["take.mp4"] and out.read_bytes() == b"older video"


def test_without_an_encoder_mp4_says_how_to_get_one(monkeypatch, tmp_path: Path):
    from app.engine.document import Take
    from app.ui import render

    monkeypatch.setattr(render, "FORMATS", (".gif",))
    hint = r"can only write \.gif \(\.mp4 needs a video encoder: pip install imageio-ffmpeg\)"
    with pytest.raises(ValueError, match=hint):
        render.render_take(Take(np.zeros((4, 21, 3), np.float32)), tmp_path / "take.mp4")
    assert list(tmp_path.iterdir()) == []


def test_render_refuses_what_it_cannot_write(bandai_namco_sample: Path, tmp_path: Path):
    result = _run("render", str(bandai_namco_sample / WALK), "-o", str(tmp_path / "walk.avi"))
    assert result.returncode == 2 and "can only write .gif, .mp4" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_bench_ui_prints_the_playback_rate():
    result = _run("bench", "--ui", "--seconds", "1")
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("viewport playback: ") and "for a 200-frame take" in line
    assert float(line.split()[2]) > 10  # fps
    assert "offscreen (EGL) viewport" in line and "ms of CPU per frame" in line


def test_render_draws_the_smpl_body_when_given_a_model(bandai_namco_sample: Path, tmp_path: Path):
    from synthetic_smpl import write_capsule_smpl

    pytest.importorskip("smplx")
    take = _short_walk(bandai_namco_sample, tmp_path / "walk.bvh", 20)
    write_capsule_smpl(tmp_path / "SMPL_NEUTRAL.npz")
    pictures = {}
    for name, extra in (("smpl", ("--smpl", str(tmp_path))), ("mannequin", ())):
        out = tmp_path / f"{name}.gif"
        result = _run("render", str(take), "-o", str(out), "--size", "160x120", "--fps", "5", "--display", "body",
                      *extra, env_remove=("DISPLAY", "WAYLAND_DISPLAY", "KINEMA_SMPL"))
        assert result.returncode == 0, result.stderr
        pictures[name] = np.asarray(Image.open(out).convert("RGB"), dtype=np.float64)
    assert np.abs(pictures["smpl"] - pictures["mannequin"]).mean(-1).__gt__(30).sum() > 200  # another body drawn
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "SMPL_NEUTRAL.npz").write_text("not a model")
    result = _run("render", str(take), "-o", str(tmp_path / "x.gif"), "--display", "both", "--smpl",
                  str(tmp_path / "broken"), env_remove=("DISPLAY", "WAYLAND_DISPLAY"))
    assert result.returncode == 2 and "SMPL_NEUTRAL.npz: cannot read the model" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x.gif").exists()
