"""Shared helpers for benchmarks: percentiles and writing a section of docs/BENCHMARKS.md."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(samples_ms: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(samples_ms, 50),
        "p99": percentile(samples_ms, 99),
        "mean": statistics.fmean(samples_ms) if samples_ms else float("nan"),
    }


def write_section(name: str, body: str, doc: Path = DOC) -> None:
    """Replace (or append) the section between ``<!-- bench:name -->`` markers."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n\nResults of the benchmarks in `bench/`, newest run.\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


def ratio_chart(path: Path, title: str, ratios: dict[str, float], *, target: float | None = None) -> str:
    """A horizontal bar chart of ratios to a reference (1.0), with the target as a dashed line; returns the
    Markdown that shows it (the PNG sits next to docs/BENCHMARKS.md)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(ratios)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.2))
    bars = ax.barh(names, [ratios[n] for n in names], color="#5b8def")
    ax.bar_label(bars, fmt="%.2fx", fontsize=8)
    ax.axvline(1.0, color="#555555", linewidth=1)
    if target is not None:
        ax.axvline(target, color="#e65100", linestyle="--", linewidth=1, label=f"target {target:g}x")
        ax.legend(fontsize=8, loc="lower right")
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"![{path.stem}]({path.name})"
