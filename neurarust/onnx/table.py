"""The supported-ONNX-ops table of docs/onnx.md, generated from :data:`neurarust.onnx.ops.OPS`.

``python -m neurarust.onnx.table`` rewrites the table between the page's markers;
``--check`` only reports whether the page is current (exit status 1 if not), as the tests do::

    >>> from neurarust.onnx.table import render
    >>> render().splitlines()[0]
    '| ONNX op | NeuraRust runs |'
"""
from __future__ import annotations

import pathlib
import sys

from neurarust.errors import ArgumentError

from .ops import OPS

BEGIN, END = "<!-- onnx-ops:begin (python -m neurarust.onnx.table) -->", "<!-- onnx-ops:end -->"
PAGE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "onnx.md"


def render() -> str:
    """The Markdown table: one row per supported op type, its summary from the implementation."""
    rows = ["| ONNX op | NeuraRust runs |", "| --- | --- |"]
    rows += [f"| `{name}` | {_cell(OPS[name].summary)} |" for name in sorted(OPS)]
    return "\n".join(rows)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # a pipe would end the table cell


def updated(text: str) -> str:
    """``text`` (the page) with the table between the markers replaced by :func:`render`'s.

    >>> from neurarust.onnx.table import updated, BEGIN, END
    >>> updated(f"intro\\n{BEGIN}\\nold\\n{END}\\nmore").count("| `Conv` |")
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
            print(f"{PAGE} is out of date: run python -m neurarust.onnx.table")
            return 1
        return 0
    if new != text:
        PAGE.write_text(new)
    print(f"{PAGE}: {len(OPS)} ops")
    return 0


if __name__ == "__main__":
    sys.exit(main())
