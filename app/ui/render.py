"""`kinema render take.bvh -o take.gif`: the viewport's picture of a take, drawn offscreen, as an animated GIF.

No window and no Qt: vispy draws through EGL on a surfaceless platform (Mesa's llvmpipe on machines without a
GPU), so this works on a headless server. The scene is the studio's own (`SkeletonVisual`, same camera).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from app.engine.document import Take

FORMATS = (".gif",)


def render_frames(take: Take, size: tuple[int, int] = (640, 480), every: int = 1) -> list[np.ndarray]:
    """(H, W, 3) uint8 images of frames 0, every, 2*every... with the camera following the character."""
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    import vispy

    vispy.use(app="egl")
    from vispy import scene

    from app.ui._vispy.skeleton_visual import BACKGROUND, SkeletonVisual, follow, make_camera

    canvas = scene.SceneCanvas(size=size, show=False, bgcolor=BACKGROUND)
    view = canvas.central_widget.add_view()
    view.camera = make_camera()
    skeleton = SkeletonVisual(view.scene)
    skeleton.set_take(take.positions, take.skeleton, take.fps)
    images = []
    for frame in range(0, take.n_frames, every):
        skeleton.show_frame(frame)
        follow(view.camera, skeleton.pose)
        images.append(canvas.render(alpha=False))
    canvas.close()
    return images


def render_take(take: Take, out: str | Path, size: tuple[int, int] = (640, 480), fps: float | None = None) -> int:
    """Write the take as an animated GIF that plays in real time with about `fps` pictures a second (default:
    the take's own rate; at most 50, GIF's practical limit). Returns the number of pictures written."""
    from PIL import Image

    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise ValueError(f"{out.name}: can only write {', '.join(FORMATS)} (no video encoder is installed)")
    fps = float(fps or take.fps)
    if not fps > 0:
        raise ValueError(f"the frame rate must be positive, got {fps}")
    every = max(1, round(take.fps / min(fps, 50.0)))  # take frames per picture
    images = [Image.fromarray(image) for image in render_frames(take, size, every)]
    tmp = out.with_name(f".{out.name}.tmp")
    images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 * every / take.fps),
                   loop=0)
    os.replace(tmp, out)
    return len(images)
