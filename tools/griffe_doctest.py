"""Griffe extension: NeuraRust's reST-flavoured docstrings, readable as the Markdown mkdocstrings renders.

The docstrings are written for ``help()`` and doctest: bare ``>>>`` examples, ``text::`` before a
literal block and Sphinx roles (``:class:`Tensor```). Rendered as Markdown, ``>>>`` becomes nested
block quotes and ``x[0][1]`` looks like a reference link. Before mkdocstrings parses a docstring this
extension fences every doctest run as ``pycon``, drops reST's second colon and turns roles into code.
The source is not changed, so doctest still runs the same examples.

    >>> rest_to_markdown("Sum.\\n>>> 1 + 1\\n2").splitlines()
    ['Sum.', '', '```pycon', '>>> 1 + 1', '2', '```']
    >>> rest_to_markdown("See :class:`Tensor`::\\n\\n    x[0][1]")
    'See `Tensor`:\\n\\n    x[0][1]'
"""
from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj|ref):`~?([^`]+)`")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _doctest_run(lines: list[str], start: int) -> int:
    """Index one past the doctest run starting at ``lines[start]`` (a run ends at a blank line)."""
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    return end


def _fence(lines: list[str], start: int, end: int) -> list[str]:
    margin = _indent(lines[start])
    body = [line[margin:] if _indent(line) >= margin else line.lstrip() for line in lines[start:end]]
    return ["", "```pycon", *body, "```", ""]


def _is_code_block(lines: list[str], i: int) -> bool:
    """True when line ``i`` already sits in an indented Markdown code block."""
    return _indent(lines[i]) >= 4 and (i == 0 or not lines[i - 1].strip() or _is_code_line(lines, i - 1))


def _is_code_line(lines: list[str], i: int) -> bool:
    return _indent(lines[i]) >= 4 and lines[i].strip() != ""


def rest_to_markdown(text: str) -> str:
    """The docstring ``text`` with doctest runs fenced, ``::`` as ``:`` and Sphinx roles as code."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>") and not _is_code_block(lines, i):
            end = _doctest_run(lines, i)
            if out and not out[-1].strip():
                out.pop()
            out += _fence(lines, i, end)
            i = end + (1 if end < len(lines) and not lines[end].strip() else 0)
            continue
        if line.rstrip().endswith("::") and not _is_code_line(lines, i):
            line = line.rstrip()[:-1] if line.strip() != "::" else ""
        out.append(_ROLE.sub(r"`\1`", line))
        i += 1
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Rewrites each object's docstring with :func:`rest_to_markdown` as griffe loads it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rest_to_markdown(obj.docstring.value)
