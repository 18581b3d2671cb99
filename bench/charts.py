"""PNG charts of a benchmark run, written next to the markdown report (matplotlib, optional).

One horizontal bar chart of NeuraRust / PyTorch time ratios per suite whose cases have ratios (the
ops suite gets one per size, drawn against its targets (a) and (b)), and one of every target's
value against its limit. Lower is better everywhere; a dashed line marks the limit (parity, ratio 1,
where the suite has none), bars beyond it are red::

    >>> from bench.charts import ratio_rows
    >>> ratio_rows([{"op": "add", "size": "small", "ratio": 4.5}, {"case": "x", "ratio": None}])
    [('add', 4.5)]
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from bench.harness import SuiteResult

BAR_HEIGHT_IN = 0.22      # inches per bar
MAX_BARS = 120
MAX_LABEL = 50            # characters of a bar's label


def _label(case: dict) -> str:
    for key in ("op", "title", "case", "model"):
        if case.get(key):
            return str(case[key])
    return "?"


def ratio_rows(cases: Sequence[dict]) -> list[tuple[str, float]]:
    """(label, ratio) of the cases that have a finite positive ratio, in order."""
    return [(_label(c), float(c["ratio"])) for c in cases
            if isinstance(c.get("ratio"), (int, float)) and math.isfinite(c["ratio"]) and c["ratio"] > 0]


def target_rows(results: Sequence[SuiteResult]) -> list[tuple[str, float]]:
    """(target name, value as a fraction of its limit, inverted for at-least targets: below 1 passes)."""
    rows = []
    for r in results:
        for t in r.targets:
            v, lim = t["value"], t["limit"]
            if v is None or lim is None or v <= 0 or lim <= 0:
                continue
            rows.append((t["name"], lim / v if t.get("at_least") else v / lim))
    return rows


def _bar_chart(path: Path, rows: list[tuple[str, float]], title: str, xlabel: str, limit: float) -> None:
    """Bars green up to ``limit`` (dashed line), red beyond; a dotted line at parity (1)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = rows[:MAX_BARS]
    labels = [r[0] if len(r[0]) <= MAX_LABEL else r[0][:MAX_LABEL - 1] + "…" for r in rows]
    values = [r[1] for r in rows]
    fig, ax = plt.subplots(figsize=(10, 1.2 + BAR_HEIGHT_IN * len(rows)))
    colors = ["tab:green" if v <= limit else "tab:red" for v in values]
    ax.barh(range(len(rows)), values, color=colors)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(limit, color="black", linestyle="--", linewidth=1)
    if limit != 1.0:
        ax.axvline(1.0, color="gray", linestyle=":", linewidth=1)
    if max(values) / max(min(values), 1e-9) > 30:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)


def _suite_charts(r: SuiteResult) -> list[tuple[str, list[tuple[str, float]], float]]:
    """(caption, rows, limit) of each chart of one suite: the ops suite's sizes are drawn against
    their targets (a) and (b), other suites against parity."""
    if r.name == "ops":
        from bench.suites.ops import LARGE_LIMIT, SMALL_LIMIT

        sizes = [("small", "8 elements", SMALL_LIMIT, "(a)"), ("large", "large inputs", LARGE_LIMIT, "(b)")]
        return [(f"ops, {text}: NeuraRust / PyTorch time (dashed: target {letter})",
                 ratio_rows([c for c in r.cases if c.get("size") == size]), limit)
                for size, text, limit, letter in sizes]
    return [(f"{r.name}: NeuraRust / PyTorch time", ratio_rows(r.cases), 1.0)]


def write_charts(results: Sequence[SuiteResult], out_dir: str | Path) -> tuple[dict[str, list[tuple[str, str]]], str]:
    """Write the PNGs into ``out_dir``; returns ({suite: [(caption, file name)]}, a note for the page
    ("" when charts were written, else why not)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return {}, "Charts skipped: matplotlib is not installed (`pip install matplotlib`)."
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    charts: dict[str, list[tuple[str, str]]] = {}
    for r in results:
        for i, (caption, rows, limit) in enumerate(_suite_charts(r)):
            if not rows:
                continue
            name = f"{r.name}{'-' + ('small', 'large')[i] if r.name == 'ops' else ''}.png"
            _bar_chart(out / name, rows, caption, "NeuraRust / PyTorch (time ratio; lower is better)", limit)
            charts.setdefault(r.name, []).append((caption, name))
    rows = target_rows(results)
    if rows:
        _bar_chart(out / "targets.png", rows, "targets: value / limit (at-least targets inverted)",
                   "value / limit (at most 1 passes)", 1.0)
        charts.setdefault("summary", []).append(("every target: value / limit", "targets.png"))
    return charts, ""
