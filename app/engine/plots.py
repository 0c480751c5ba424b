"""PNG charts for `kinema eval --plot`: metrics per model with their 95 % intervals, and training curves."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a window
import matplotlib.pyplot as plt  # noqa: E402

from app.engine.evaluate import COLUMNS, EvalRow  # noqa: E402


def plot_metrics(rows: list[EvalRow], out_dir: Path, title: str) -> Path:
    """One bar chart per metric, a bar per model, error bars at the 95 % interval."""
    used = [(label, key) for label, key in COLUMNS if any(key in r.metrics for r in rows)]
    fig, axes = plt.subplots(1, len(used), figsize=(2.6 * len(used), 3.6), squeeze=False)
    for ax, (label, key) in zip(axes[0], used):
        present = [r for r in rows if key in r.metrics]
        means = [r.metrics[key][0] for r in present]
        errors = [r.metrics[key][1] for r in present]
        ax.bar(range(len(present)), means, yerr=errors, capsize=4, color=[f"C{i}" for i in range(len(present))])
        ax.set_xticks(range(len(present)), [r.model for r in present], rotation=30, ha="right", fontsize=8)
        ax.set_title(label, fontsize=10)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    path = out_dir / "metrics.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def read_log(path: Path) -> list[dict]:
    """A `kinema train` JSON-lines log; unreadable lines (a run killed mid-write) are skipped."""
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def plot_training_curves(runs_dir: Path, out_dir: Path) -> list[Path]:
    """For each runs/<name>/log.jsonl: every numeric series against the step, one panel per series."""
    written = []
    for log in sorted(runs_dir.glob("*/log.jsonl")):
        entries = [e for e in read_log(log) if "step" in e]
        keys = sorted({k for e in entries for k, v in e.items() if isinstance(v, (int, float)) and k not in ("step", "elapsed_s")})
        if not keys:
            continue
        fig, axes = plt.subplots(1, len(keys), figsize=(3.0 * len(keys), 3.0), squeeze=False)
        for ax, key in zip(axes[0], keys):
            points = [(e["step"], e[key]) for e in entries if isinstance(e.get(key), (int, float))]
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 30 else None)
            ax.set_title(key, fontsize=9)
            ax.set_xlabel("step", fontsize=8)
        fig.suptitle(f"training: {log.parent.name}", fontsize=11)
        fig.tight_layout()
        path = out_dir / f"training-{log.parent.name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written
