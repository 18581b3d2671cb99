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


def updated(text: str, begin: str = BEGIN, end: str = END, body: str | None = None) -> str:
    """``text`` (the page) with what stands between the markers ``begin`` and ``end`` replaced by
    ``body`` (default: this module's :func:`render`). The export table uses it with its own markers.

    >>> from neurarust.onnx.table import updated, BEGIN, END
    >>> updated(f"intro\\n{BEGIN}\\nold\\n{END}\\nmore").count("| `Conv` |")
    1
    """
    if begin not in text or end not in text:
        raise ArgumentError(f"the page lacks the table markers {begin!r} ... {end!r}")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{render() if body is None else body}\n{end}{tail}"


def write_or_check(argv: list[str] | None, command: str, begin: str = BEGIN, end: str = END,
                   body: str | None = None) -> int:
    """The command line of a generated table: rewrite the page (atomically), or with ``--check``
    exit 1 when it is out of date."""
    argv = sys.argv[1:] if argv is None else argv
    text = PAGE.read_text()
    new = updated(text, begin, end, body)
    if "--check" in argv:
        if new != text:
            print(f"{PAGE} is out of date: run {command}")
            return 1
        return 0
    if new != text:
        from neurarust.atomic import write_text

        write_text(PAGE, new)
    print(f"{PAGE}: table written")
    return 0


def main(argv: list[str] | None = None) -> int:
    return write_or_check(argv, "python -m neurarust.onnx.table")


if __name__ == "__main__":
    sys.exit(main())
