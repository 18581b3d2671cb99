"""``explain(fn, *args)``: what :func:`neurarust.compile` would do with a call, without keeping it.

It captures the call once (forward, and backward when the output requires grad), runs the passes,
and reports the graph breaks (with the line that caused each), the op counts before and after the
passes, and every fused kernel with the ops it stands for.

    >>> import neurarust as nr
    >>> from neurarust.graph import explain
    >>> report = explain(lambda x: (x * 2).relu().sum(), nr.ones(4))
    >>> report.graph_breaks, report.kernels_before, report.kernels_after
    ([], 3, 1)
    >>> report.fusions[0].split(": ")[1]
    'mul -> relu -> sum'
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .compiler import _Entry, _build
from .capture import GraphBreak
from .ir import Graph


@dataclass
class Explanation:
    """The report of :func:`explain` (``print`` it for the whole text)."""

    graph_breaks: list[str] = field(default_factory=list)
    kernels_before: int = 0
    kernels_after: int = 0
    fusions: list[str] = field(default_factory=list)
    graphs: list[Graph] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"graphs: {len(self.graphs)}, graph breaks: {len(self.graph_breaks)}",
                 f"kernels per call: {self.kernels_before} captured, {self.kernels_after} after the passes"]
        lines += [f"graph break: {b}" for b in self.graph_breaks]
        lines += [f"fusion: {f}" for f in self.fusions]
        for g in self.graphs:
            lines.append(str(g))
        return "\n".join(lines)


def explain(fn: Callable, *args, **kwargs) -> Explanation:
    """Capture ``fn(*args, **kwargs)`` once and describe the breaks, kernel counts and fusions."""
    report = Explanation()
    names = {}
    if hasattr(fn, "named_parameters"):
        names = {id(p): n for n, p in fn.named_parameters()}
    try:
        raw = _Entry()
        _build(raw, fn, names, args, kwargs, run_passes=False, debug=False)
        entry = _Entry()
        _build(entry, fn, names, args, kwargs, run_passes=True, debug=False)
    except GraphBreak as e:
        report.graph_breaks.append(str(e))
        return report
    before = [g for g in (raw.graph, raw.backward_graph) if g is not None]
    report.graphs = [g for g in (entry.graph, entry.backward_graph) if g is not None]
    report.kernels_before = sum(g.kernel_count() for g in before)
    report.kernels_after = sum(g.kernel_count() for g in report.graphs)
    for g in report.graphs:
        for n in g.nodes:
            if n.fused is not None:
                report.fusions.append(f"{n.fused.name}: {' -> '.join(n.fused.op_names())}")
    return report
