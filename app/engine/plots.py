"""PNG charts for `kinema eval --plot`: metrics per model with their 95 % intervals, and training curves."""
from __future__ import annotations

import json
import math
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


def _grouped_bars(groups: list[str], series: dict[str, list[float]], path: Path, title: str, ylabel: str) -> Path:
    """One group of bars per label, one bar per series (model), values in 0..1."""
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(groups) * max(1, len(series)) ** 0.5 + 2), 4.0))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        ax.bar([g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))], values, width, label=name, color=f"C{i}")
    ax.set_xticks(range(len(groups)), groups, rotation=40, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_agreement(rows: list[EvalRow], out_dir: Path, title: str) -> Path | None:
    """Physical agreement per action label (the `agreement:<label>` metrics), a bar per model; None without them."""
    labels = sorted({k.split(":", 1)[1] for r in rows for k in r.metrics if k.startswith("agreement:")})
    if not labels:
        return None
    series = {r.model: [r.metrics.get(f"agreement:{label}", (0.0, 0.0))[0] for label in labels]
              for r in rows if any(k.startswith("agreement:") for k in r.metrics)}
    return _grouped_bars(labels, series, out_dir / "agreement.png", f"physical agreement per action — {title}", "agreement")


def plot_suite(rows: list, out_dir: Path) -> Path:
    """The prompt suite's agreement and rule pass per prompt (rows: app.engine.prompt_suite.SuiteRow), bars per model."""
    prompts = list(dict.fromkeys(r.prompt for r in rows))
    series: dict[str, list[float]] = {}
    for r in rows:
        for kind, value in (("agree", r.agreement), ("rule", r.rule)):
            if not math.isnan(value):
                series.setdefault(f"{r.model} {kind}", [0.0] * len(prompts))[prompts.index(r.prompt)] = value
    return _grouped_bars(prompts, series, out_dir / "suite.png",
                         "prompt suite: agreement with the real takes' bands, and the action rule passed", "share of seeds")
