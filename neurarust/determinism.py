"""Deterministic mode: ops whose fast path adds with atomics (``scatter_add``, ``index_add``,
``bincount``, later embedding backward) switch to an ordered path whose results are bit-identical
from run to run.

Mirrors ``torch.use_deterministic_algorithms``: a process-wide switch, off by default.

    >>> import neurarust as nr
    >>> nr.use_deterministic_algorithms(True)
    >>> nr.are_deterministic_algorithms_enabled()
    True
    >>> nr.use_deterministic_algorithms(False)
"""
from __future__ import annotations

from .errors import SignatureError

_enabled = False
_warn_only = False


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Make every op that has a nondeterministic fast path take its deterministic path.

    ``warn_only`` is accepted for PyTorch compatibility: every NeuraRust op has a deterministic path,
    so no op ever needs to warn or raise.

    >>> import neurarust as nr
    >>> nr.use_deterministic_algorithms(False); nr.are_deterministic_algorithms_enabled()
    False
    """
    global _enabled, _warn_only
    if not isinstance(mode, bool):
        raise SignatureError(f"use_deterministic_algorithms() expects a bool, got {type(mode).__name__}")
    _enabled, _warn_only = mode, bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    """Whether deterministic mode is on (see :func:`use_deterministic_algorithms`).

    >>> import neurarust as nr
    >>> nr.are_deterministic_algorithms_enabled()
    False
    """
    return _enabled


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """Whether deterministic mode was switched on with ``warn_only=True``.

    >>> import neurarust as nr
    >>> nr.is_deterministic_algorithms_warn_only_enabled()
    False
    """
    return _warn_only
