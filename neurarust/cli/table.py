"""Plain-text tables for the ``neurarust`` commands: columns sized to their widest cell.

Numbers are right-aligned, text left-aligned; ``None`` prints as ``-``::

    >>> print(render(["op", "err", "status"], [["add", 0.5, "PASS"], ["matmul", None, "FAIL"]]))
    op      err  status
    ------  ---  ------
    add     0.5  PASS
    matmul    -  FAIL
"""
from __future__ import annotations

from typing import Any, Sequence


def cell(value: Any) -> str:
    """How a value prints in a table: floats in 3 significant digits, ``None`` as ``-``.

    >>> cell(0.000123456), cell(12.0), cell(None), cell("x")
    ('0.000123', '12', '-', 'x')
    """
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _numeric(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def render(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The table as text: a header line, a rule, one line per row (no trailing spaces)."""
    texts = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in texts]) for i, h in enumerate(header)]
    numeric = [bool(rows) and all(_numeric(row[i]) for row in rows) for i in range(len(header))]

    def line(cells: Sequence[str], align: Sequence[bool]) -> str:
        parts = [c.rjust(w) if right else c.ljust(w) for c, w, right in zip(cells, widths, align)]
        return "  ".join(parts).rstrip()

    out = [line(list(header), [False] * len(header)), line(["-" * w for w in widths], [False] * len(header))]
    out += [line(r, numeric) for r in texts]
    return "\n".join(out)
