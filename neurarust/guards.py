"""Guards on Python state that a captured graph bakes in.

A graph capture (``neurarust.compile``) records tensor ops; numbers read from Python objects on the
way (an optimizer's learning rate, its betas) become constants of the graph. Code that reads such
numbers calls :func:`guard` with a function returning them: while a capture runs, the compiled
function keeps the function and its value, and captures again when a later call finds another value
(a learning-rate scheduler stepped). Outside a capture :func:`guard` costs one global read.

    >>> from neurarust import guards
    >>> guards.guard(lambda: 0.1)          # no capture running: nothing happens
    >>> with guards.collecting() as seen:
    ...     guards.guard(lambda: 0.1)
    >>> [value for _, value in seen]
    [0.1]
"""
from __future__ import annotations

import contextlib
from typing import Callable, Hashable, Iterator

_sink: list | None = None


def guard(read: Callable[[], Hashable]) -> None:
    """Note ``read()`` as a value the graph being captured depends on."""
    if _sink is not None:
        _sink.append((read, read()))


@contextlib.contextmanager
def collecting() -> Iterator[list]:
    """Collect the guards noted inside the block (as ``(read, value)`` pairs)."""
    global _sink
    previous, _sink = _sink, []
    try:
        yield _sink
    finally:
        _sink = previous


def hold(guards: list) -> bool:
    """True when every collected guard still reads the value it had."""
    return all(read() == value for read, value in guards)
