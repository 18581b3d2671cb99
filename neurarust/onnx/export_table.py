"""The export table of docs/onnx.md, generated from the registry's ``onnx`` slots.

``python -m neurarust.onnx.export_table`` rewrites the table between the page's markers;
``--check`` only reports whether the page is current (exit status 1 if not), as the tests do::

    >>> from neurarust.onnx.export_table import render
    >>> render().splitlines()[0]
    '| registry op | ONNX ops written |'
"""
from __future__ import annotations

import sys

from neurarust import registry

from .export_ops import attach
from .table import write_or_check

BEGIN = "<!-- onnx-export:begin (python -m neurarust.onnx.export_table) -->"
END = "<!-- onnx-export:end -->"
VIEWS = "Reshape, Transpose, Slice, Expand (whichever the strides need; see above)"


def render() -> str:
    """The Markdown table (one row per mapped registry op) and the list of ops with no mapping."""
    attach()
    ops = registry.all_ops()
    rows = ["| registry op | ONNX ops written |", "| --- | --- |", f"| views (`view`, `t`, slicing, ...) | {VIEWS} |"]
    rows += [f"| `{op.name}` | {op.onnx.emits.replace('|', '/')} |" for op in sorted(ops, key=lambda o: o.name)
             if op.onnx is not None]
    missing = sorted(op.name for op in ops if op.onnx is None)
    rows += ["", f"No mapping ({len(missing)} ops; exporting a model that calls one raises "
                 f"`UnsupportedExportError`): " + ", ".join(f"`{n}`" for n in missing) + "."]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    return write_or_check(argv, "python -m neurarust.onnx.export_table", BEGIN, END, render())


if __name__ == "__main__":
    sys.exit(main())
