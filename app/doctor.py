"""`kinema doctor`: what this machine offers, what Kinema will use, and the one command that adds what is missing.

Every check is cheap and imports nothing heavy that it does not need (no Qt window, no model weights loaded: the
checkpoints are hashed and their headers read). A check never raises: a failure is a row that says why.
"""
from __future__ import annotations

import ctypes.util
import hashlib
import importlib.util
import json
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

from app.engine.models.checkpoint import SHIPPED

OK, MISSING, INFO = "ok", "missing", "info"


@dataclass(frozen=True)
class Check:
    name: str
    status: str          # OK, MISSING (Kinema runs without it, with less), or INFO
    detail: str
    fix: str = ""        # the one command that adds it, where something is missing


def _cpu() -> Check:
    import torch

    return Check("CPU", INFO, f"{platform.machine()}, {os.cpu_count()} logical cores; torch {torch.__version__} "
                 f"uses {torch.get_num_threads()} threads (set OMP_NUM_THREADS to change)")


def _cuda() -> Check:
    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        return Check("CUDA", OK, f"{torch.cuda.device_count()} device(s), the first: {name}; torch CUDA {torch.version.cuda}")
    if torch.version.cuda is None:
        return Check("CUDA", MISSING, "this torch is the CPU build; models run on the CPU",
                     "pip install torch  (the CUDA build, on a machine with an NVIDIA driver)")
    return Check("CUDA", MISSING, f"torch has CUDA {torch.version.cuda} but no device is visible (no NVIDIA driver?)",
                 "install the NVIDIA driver; nvidia-smi must list the GPU")


def _mamba_kernels() -> Check:
    if importlib.util.find_spec("mamba_ssm") is None:
        return Check("mamba-ssm kernels", MISSING, "Motion Mamba uses Kinema's own PyTorch selective scan "
                     "(numerically the same, slower on a GPU)", "pip install -e '.[gpu]'  (CUDA machines only)")
    if importlib.util.find_spec("selective_scan_cuda") is None:
        return Check("mamba-ssm kernels", MISSING, "mamba_ssm is installed but its CUDA extension is not built",
                     "pip install --force-reinstall --no-build-isolation mamba-ssm  (needs nvcc)")
    return Check("mamba-ssm kernels", OK, "fused selective scan on CUDA")


def _egl() -> Check:
    library = ctypes.util.find_library("EGL")
    if library is None:
        return Check("EGL (offscreen viewport, kinema render)", MISSING,
                     "no libEGL: the studio falls back to vispy's GL widget and `kinema render` cannot draw",
                     "apt-get install -y libegl1 libgl1")
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    try:
        from vispy.ext import egl

        display = egl.eglGetDisplay()
        major, minor = egl.eglInitialize(display)
    except Exception as exc:  # noqa: BLE001 - any failure to start EGL is the finding
        return Check("EGL (offscreen viewport, kinema render)", MISSING, f"{library} does not start: {exc}",
                     "apt-get install -y libegl-mesa0 libgl1-mesa-dri")
    return Check("EGL (offscreen viewport, kinema render)", OK, f"{library}, EGL {major}.{minor}")


def _ffmpeg() -> Check:
    try:
        import imageio_ffmpeg

        return Check("ffmpeg (kinema render -o take.mp4)", OK, imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError, OSError):
        return Check("ffmpeg (kinema render -o take.mp4)", MISSING, "GIFs only", "pip install imageio-ffmpeg")


def _compiler() -> Check:
    for name in (os.environ.get("CXX", ""), "c++", "g++", "clang++"):
        path = shutil.which(name) if name else None
        if path:
            return Check("C++ compiler (KINEMA_COMPILED_SCAN=1)", OK, path)
    return Check("C++ compiler (KINEMA_COMPILED_SCAN=1)", MISSING,
                 "the compiled selective scan is unavailable; the eager scan runs", "apt-get install -y g++")


def _text_encoder() -> Check:
    from app.engine.text import INSTALL_HINT, TextEncoderUnavailable, minilm_dir

    try:
        return Check("text encoder (MiniLM)", OK, str(minilm_dir()))
    except TextEncoderUnavailable as exc:
        return Check("text encoder (MiniLM)", MISSING, str(exc).splitlines()[0], INSTALL_HINT)


def _qt() -> Check:
    if importlib.util.find_spec("PySide6") is None:
        return Check("Qt (the studio)", MISSING, "PySide6 is not installed", "pip install PySide6-Essentials")
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and platform.system() == "Linux":
        return Check("Qt (the studio)", INFO, "PySide6 installed; no display here (run the studio under a desktop, "
                     "or xvfb-run -a kinema)")
    return Check("Qt (the studio)", OK, "PySide6 installed, a display is set")


def _smpl() -> Check:
    """Only $KINEMA_SMPL is read here; the studio's own preference (Edit → Preferences) lives in Qt's settings."""
    from app.engine.smpl_body import MODEL_ENV, SMPLModelError, load_smpl, model_family

    name = "SMPL body (your model files)"
    if importlib.util.find_spec("smplx") is None:
        return Check(name, INFO, "smplx is not installed: bodies are the mannequin", "pip install smplx")
    location = os.environ.get(MODEL_ENV)
    if not location:
        return Check(name, INFO, f"smplx installed; no model in ${MODEL_ENV} (the studio may have one set in Edit → "
                     "Preferences)")
    try:
        model = load_smpl(location)
    except SMPLModelError as exc:
        return Check(name, MISSING, f"${MODEL_ENV} is set but the model does not load: {exc}",
                     f"point ${MODEL_ENV} at an SMPL or SMPL-X .npz, or the folder holding it")
    return Check(name, OK, f"{location}: {model_family(model)}, {len(model.v_template)} vertices")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _training_summary(path: Path) -> str:
    """Steps and wall time from the checkpoint's header (read without loading its tensors)."""
    from app.engine.models.checkpoint import CheckpointError, read_header

    try:
        header = read_header(path)
    except CheckpointError as exc:
        return f"unreadable: {exc}"
    meta = json.loads(header.get("metadata", "{}") or "{}")
    train = meta.get("train", meta) if isinstance(meta, dict) else {}
    if "train" in header:  # the evaluator keeps its summary at the top level
        train = json.loads(header["train"])
    steps, wall = train.get("steps"), train.get("train_wall_s")
    parts = [f"{steps} steps" if steps else "", f"{wall:.0f} s of training" if isinstance(wall, (int, float)) else ""]
    return ", ".join(p for p in parts if p) or "no training summary in its header"


def checkpoint_rows(folder: Path = SHIPPED) -> list[Check]:
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        return [Check("checkpoints", MISSING, f"no .safetensors in {folder}: generation needs the trained models",
                      "git checkout -- checkpoints  (they ship with the repository)")]
    return [Check(f"checkpoint {f.name}", OK, f"{f.stat().st_size / 1e6:.1f} MB, sha256 {sha256(f)}, "
                  f"{_training_summary(f)}") for f in files]


def run_checks(checkpoints: Path = SHIPPED) -> list[Check]:
    rows = []
    for check in (_cpu, _cuda, _mamba_kernels, _egl, _ffmpeg, _compiler, _text_encoder, _qt, _smpl):
        try:
            rows.append(check())
        except Exception as exc:  # noqa: BLE001 - a doctor reports, it does not crash
            rows.append(Check(check.__name__.strip("_"), MISSING, f"the check itself failed: {exc}"))
    return rows + checkpoint_rows(checkpoints)


def format_report(rows: list[Check]) -> str:
    width = max(len(r.name) for r in rows)
    lines = [f"{r.name:<{width}}  {r.status:<7}  {r.detail}" + (f"\n{'':<{width}}  {'':<7}  -> {r.fix}" if r.fix else "")
             for r in rows]
    missing = sum(r.status == MISSING for r in rows)
    lines.append(f"\n{missing} missing piece(s); Kinema runs without them, with what the rows above say."
                 if missing else "\neverything Kinema can use is here.")
    return "\n".join(lines)
