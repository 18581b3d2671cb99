"""The export table of docs/onnx.md, generated from the registry's ``onnx`` slots.

``python -m neurarust.onnx.export_table`` rewrites the table between the page's markers;
``--check`` only reports whether the page is current (exit status 1 if not), as the tests do::

    >>> from neurarust.onnx.export_table import render
    >>> render().splitlines()[0]
    '| registry op | ONNX ops written |'
"""
from __future__ import annotations

import pathlib
import sys

from neurarust import registry
from neurarust.errors import ArgumentError

from .export_ops import attach

BEGIN = "<!-- onnx-export:begin (python -m neurarust.onnx.export_table) -->"
END = "<!-- onnx-export:end -->"
PAGE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "onnx.md"
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


def updated(text: str) -> str:
    """``text`` (the page) with the table between the markers replaced by :func:`render`'s.

    >>> from neurarust.onnx.export_table import updated, BEGIN, END
    >>> updated(f"intro\\n{BEGIN}\\nold\\n{END}\\nmore").count("| `softmax` |")
    1
    """
    if BEGIN not in text or END not in text:
        raise ArgumentError(f"the page lacks the table markers {BEGIN!r} ... {END!r}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{render()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = PAGE.read_text()
    new = updated(text)
    if "--check" in argv:
        if new != text:
            print(f"{PAGE} is out of date: run python -m neurarust.onnx.export_table")
            return 1
        return 0
    if new != text:
        from neurarust.atomic import write_text

        write_text(PAGE, new)
    print(f"{PAGE}: export table written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
