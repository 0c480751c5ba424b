"""`kinema render take.bvh -o take.gif` (or `-o take.mp4`): the viewport's picture of a take, drawn offscreen, as an
animated GIF or an H.264 video.

No window and no Qt: vispy draws through EGL on a surfaceless platform (Mesa's llvmpipe on machines without a
GPU), so this works on a headless server. The scene is the studio's own (`SkeletonVisual`, same camera). Video goes
through the ffmpeg binary that the `imageio-ffmpeg` wheel ships; without it only GIF is offered.
"""
from __future__ import annotations

import functools
import os
import subprocess
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from app.engine.data.resample import check_fps
from app.engine.document import Take

GIF_MAX_FPS = 50.0  # GIF's practical limit: delays are in 1/100 s, and viewers slow down those under 2/100 s


@functools.cache
def ffmpeg_exe() -> str | None:
    """The ffmpeg binary imageio-ffmpeg finds (the one its wheel ships, or IMAGEIO_FFMPEG_EXE), or None without it."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError, OSError):
        return None


FORMATS = (".gif", ".mp4") if ffmpeg_exe() else (".gif",)


def output_size(out: str | Path, size: tuple[int, int]) -> tuple[int, int]:
    """The picture size written for `size`: H.264 (yuv420p) needs even sides, so .mp4 rounds odd ones up."""
    width, height = size
    if Path(out).suffix.lower() == ".mp4":
        return width + width % 2, height + height % 2
    return width, height


def render_frames(take: Take, size: tuple[int, int] = (640, 480), every: int = 1,
                  display: str = "Skeleton", smpl=None) -> Iterator[np.ndarray]:
    """(H, W, 3) uint8 images of frames 0, every, 2*every... with the camera following the character, one at a time;
    `display` is Skeleton, Body (the mannequin, or the loaded SMPL model `smpl`) or Both."""
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    import vispy

    vispy.use(app="egl")
    from vispy import scene

    from app.ui._vispy.body_visual import DISPLAYS, BodyVisual
    from app.ui._vispy.skeleton_visual import BACKGROUND, SkeletonVisual, follow, make_camera

    if display not in DISPLAYS:
        raise ValueError(f"display must be one of {', '.join(DISPLAYS)}, got {display!r}")
    canvas = scene.SceneCanvas(size=size, show=False, bgcolor=BACKGROUND)
    try:
        view = canvas.central_widget.add_view()
        view.camera = make_camera()
        skeleton = SkeletonVisual(view.scene)
        skeleton.set_take(take.positions, take.skeleton, take.fps)
        body = BodyVisual(view.scene)
        if smpl is not None:
            body.set_smpl("(loaded)", smpl)
        body.set_enabled(display != "Skeleton")
        body.set_take(take.positions, take.skeleton)
        skeleton.set_bones_visible(display != "Body")
        for frame in range(0, take.n_frames, every):
            skeleton.show_frame(frame)
            body.show_frame(frame)
            follow(view.camera, skeleton.pose)
            yield canvas.render(alpha=False)
    finally:
        canvas.close()


def render_take(take: Take, out: str | Path, size: tuple[int, int] = (640, 480), fps: float | None = None,
                display: str = "Skeleton", smpl=None) -> int:
    """Write the take as an animated GIF or an H.264 .mp4 that plays in real time with about `fps` pictures a second
    (default and most: the take's own rate; a GIF also at most 50). Odd .mp4 sizes are rounded up to even. The file
    appears whole or not at all. Returns the number of pictures written."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        hint = " (.mp4 needs a video encoder: pip install imageio-ffmpeg)" if ".mp4" not in FORMATS else ""
        raise ValueError(f"{out.name}: can only write {', '.join(FORMATS)}{hint}")
    fps = check_fps(take.fps if fps is None else fps)
    every = max(1, round(take.fps / (min(fps, GIF_MAX_FPS) if suffix == ".gif" else fps)))  # take frames per picture
    size = output_size(out, size)
    tmp = out.with_name(f".{out.name}.tmp{out.suffix}")  # same folder, so os.replace is atomic
    frames = render_frames(take, size, every, display, smpl)
    try:
        if suffix == ".gif":
            n = _write_gif(frames, tmp, round(1000 * every / take.fps))
        else:
            n = _write_mp4(frames, tmp, size, Fraction(take.fps).limit_denominator() / every)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        frames.close()  # the offscreen canvas, also when the encoder stopped early
    return n


def _write_gif(images: Iterator[np.ndarray], path: Path, duration_ms: int) -> int:
    from PIL import Image

    pictures = [Image.fromarray(image) for image in images]
    pictures[0].save(path, format="GIF", save_all=True, append_images=pictures[1:], duration=duration_ms, loop=0)
    return len(pictures)


def _write_mp4(images: Iterator[np.ndarray], path: Path, size: tuple[int, int], rate: Fraction) -> int:
    """Pipe the pictures to ffmpeg as raw RGB; H.264 in yuv420p (plays everywhere), index at the front."""
    cmd = [ffmpeg_exe(), "-y", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{size[0]}x{size[1]}",
           "-r", str(rate), "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "20",
           "-movflags", "+faststart", "-f", "mp4", str(path)]
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: ffmpeg can never block on a full stderr
        ffmpeg = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        n = 0
        try:
            for image in images:
                if image.shape != (size[1], size[0], 3):
                    raise ValueError(f"the renderer drew {image.shape[1]}x{image.shape[0]}, not {size[0]}x{size[1]}")
                ffmpeg.stdin.write(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
                n += 1
            ffmpeg.stdin.close()
            failed = ffmpeg.wait() != 0
        except BrokenPipeError:  # ffmpeg stopped reading: it says why in the log
            failed = True
        finally:
            if ffmpeg.poll() is None:
                ffmpeg.kill()
            ffmpeg.wait()
            if not ffmpeg.stdin.closed:
                try:
                    ffmpeg.stdin.close()
                except BrokenPipeError:
                    pass
        if failed:
            log.seek(0)
            why = log.read().decode(errors="replace").strip() or f"exit status {ffmpeg.returncode}"
            raise OSError(f"ffmpeg could not write the video: {why}")
    return n
