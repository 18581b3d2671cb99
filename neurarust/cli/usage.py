"""Command-line failures that are the caller's to fix: reported in one line, exit status 2.

A command's ``run`` raises :class:`UsageError` (an unknown op, a size the interpreter refuses, a
missing GPU); :func:`reports_usage_errors` turns it into the message and the status::

    >>> @reports_usage_errors("check")
    ... def run(args):
    ...     raise UsageError("no op named 'ad'")
    >>> run(None)
    2
"""
from __future__ import annotations

import functools
import sys
from typing import Callable

from neurarust.errors import ArgumentError

USAGE_STATUS = 2


class UsageError(ArgumentError):
    """A command line that cannot run as given (the message says why and what to do instead)."""


def reports_usage_errors(command: str) -> Callable:
    """Decorate ``run(args) -> int`` so a :class:`UsageError` prints ``neurarust <command>: error: ...``
    on stderr and returns status 2."""
    def wrap(run: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(run)
        def wrapped(args) -> int:
            try:
                return run(args)
            except UsageError as e:
                print(f"neurarust {command}: error: {e}", file=sys.stderr)
                return USAGE_STATUS
        return wrapped
    return wrap


def split_list(text: str | None) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]`` (``None`` -> ``[]``).

    >>> split_list("add, mul,"), split_list(None)
    (['add', 'mul'], [])
    """
    return [part.strip() for part in (text or "").split(",") if part.strip()]
