"""Grad modes: whether ops record the graph, per thread.

``no_grad`` and ``inference_mode`` switch recording off (initialisers, optimizer updates and
evaluation run under them); ``enable_grad`` switches it back on inside; ``set_grad_enabled(mode)``
does either. Each works as a context manager and as a decorator, and the setting is thread-local as
in PyTorch: a new thread starts with recording on.

    >>> import neurarust as nr
    >>> x = nr.ones(2, requires_grad=True)
    >>> with nr.no_grad():
    ...     y = x * 2
    >>> y.requires_grad, (x * 2).requires_grad
    (False, True)
"""
from __future__ import annotations

import functools
import inspect
import threading
from typing import Any, Callable



class _State(threading.local):
    # Class-level defaults: every thread starts with grad on, and reading them needs no getattr().
    enabled = True
    inference = False


_state = _State()


def is_grad_enabled() -> bool:
    """Whether ops record the graph on this thread.

    >>> import neurarust as nr
    >>> nr.is_grad_enabled()
    True
    """
    return _state.enabled


def is_inference_mode_enabled() -> bool:
    """Whether this thread is inside ``inference_mode()``.

    >>> import neurarust as nr
    >>> with nr.inference_mode():
    ...     print(nr.is_inference_mode_enabled())
    True
    """
    return _state.inference


def _set(enabled: bool, inference: bool | None = None) -> tuple[bool, bool]:
    previous = (is_grad_enabled(), is_inference_mode_enabled())
    _state.enabled = enabled
    if inference is not None:
        _state.inference = inference
    return previous


class _GradMode:
    """A context manager that is also a decorator; subclasses say which mode it sets."""

    enabled = True
    inference: bool | None = None

    def __enter__(self) -> None:
        self._previous = _set(self.enabled, self.inference)

    def __exit__(self, *exc: Any) -> None:
        _set(*self._previous)

    def __call__(self, fn: Callable) -> Callable:
        # A fresh instance per call keeps nested, recursive and concurrent calls independent.
        return _fresh_per_call(self, fn)


def _fresh_per_call(mode: _GradMode, fn: Callable) -> Callable:
    if inspect.isgeneratorfunction(fn):
        return _per_resumption(mode, fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with mode.clone():
            return fn(*args, **kwargs)

    return wrapper


def _per_resumption(mode: _GradMode, fn: Callable) -> Callable:
    """A decorated generator function: the body runs under the mode each time it resumes, and the
    caller's mode is back in force while the generator is suspended (as PyTorch's decorators do)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        gen = fn(*args, **kwargs)
        try:
            with mode.clone():
                value = gen.send(None)
            while True:
                try:
                    sent = yield value
                except GeneratorExit:
                    with mode.clone():
                        gen.close()
                    raise
                except BaseException as exc:   # thrown in by the caller: the body handles it under the mode
                    with mode.clone():
                        value = gen.throw(exc)
                else:
                    with mode.clone():
                        value = gen.send(sent)
        except StopIteration as stop:
            return stop.value

    return wrapper


class no_grad(_GradMode):
    """Ops inside record no graph: their results do not require grad.

    >>> import neurarust as nr
    >>> @nr.no_grad()
    ... def step(w):
    ...     return w * 2
    >>> step(nr.ones(1, requires_grad=True)).requires_grad
    False
    """

    enabled = False

    def clone(self) -> "no_grad":
        return no_grad()


class enable_grad(_GradMode):
    """Recording back on inside a ``no_grad`` block.

    >>> import neurarust as nr
    >>> x = nr.ones(1, requires_grad=True)
    >>> with nr.no_grad():
    ...     with nr.enable_grad():
    ...         y = x * 2
    >>> y.requires_grad
    True
    """

    enabled = True

    def clone(self) -> "enable_grad":
        return enable_grad()


class set_grad_enabled(_GradMode):
    """Recording on or off: as a call it takes effect at once, as a context manager until the block
    ends.

    >>> import neurarust as nr
    >>> with nr.set_grad_enabled(False):
    ...     print(nr.is_grad_enabled())
    False
    >>> nr.is_grad_enabled()
    True
    """

    def __init__(self, mode: bool) -> None:
        self.enabled = bool(mode)
        self._previous = _set(self.enabled)

    def __enter__(self) -> None:
        pass  # already set by the constructor

    def __call__(self, fn: Callable) -> Callable:
        _set(*self._previous)  # as a decorator it changes nothing until the function runs
        return super().__call__(fn)

    def clone(self) -> "set_grad_enabled":
        return set_grad_enabled(self.enabled)


class inference_mode(_GradMode):
    """Like ``no_grad``, for evaluation and serving: nothing inside records a graph.

    >>> import neurarust as nr
    >>> with nr.inference_mode():
    ...     y = nr.ones(2, requires_grad=True) * 3
    >>> y.requires_grad
    False
    """

    inference = True

    def __init__(self, mode: bool = True) -> None:
        self.enabled = not mode
        self.inference = bool(mode)

    def clone(self) -> "inference_mode":
        return inference_mode(self.inference)
