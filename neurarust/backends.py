"""Which implementation runs an op: the Triton kernels or the NumPy reference.

CUDA tensors always run Triton kernels. CPU tensors run the NumPy reference, unless the ``triton``
backend is chosen (``NEURARUST_BACKEND=triton`` or :func:`use`): then the same Triton kernels run
on the CPU through Triton's interpreter, which is how the kernels are tested without a GPU::

    >>> import neurarust as nr
    >>> with nr.backends.using("triton"):
    ...     y = nr.ones(4) * 2          # runs the elementwise Triton kernel, interpreted
    >>> y.tolist()
    [2.0, 2.0, 2.0, 2.0]
"""
from __future__ import annotations

import contextlib
import os
import threading
from collections import Counter
from typing import Iterator

from .errors import ArgumentError

BACKENDS = ("reference", "triton")
_default = os.environ.get("NEURARUST_BACKEND", "reference").lower()
if _default not in BACKENDS:
    raise ArgumentError(f"NEURARUST_BACKEND={_default!r}; expected one of {BACKENDS}")


class _Local(threading.local):
    # Class-level defaults: a new thread starts on the default backend, and every op reads this,
    # so it is a plain attribute read rather than a getattr() with a default.
    name = _default
    quiet = None  # the thread's NumPy context with floating-point warnings off, made on first use


_local = _Local()

launch_counts: Counter = Counter()
"""Kernel name -> number of launches since start (tests use it to prove a kernel ran)."""


def current() -> str:
    """The backend CPU tensors use now (``"reference"`` or ``"triton"``).

    >>> import neurarust as nr
    >>> nr.backends.current() in nr.backends.BACKENDS
    True
    """
    return _local.name


def use(name: str) -> None:
    """Choose the backend for CPU tensors in this thread (CUDA tensors always use Triton).

    >>> import neurarust as nr
    >>> before = nr.backends.current()
    >>> nr.backends.use("reference"); nr.backends.current()
    'reference'
    >>> nr.backends.use(before)
    """
    if name not in BACKENDS:
        raise ArgumentError(f"unknown backend {name!r}; expected one of {BACKENDS}")
    _local.name = name


@contextlib.contextmanager
def using(name: str) -> Iterator[None]:
    """Run a block with ``name`` as the CPU backend (the previous one comes back after it).

    >>> import neurarust as nr
    >>> with nr.backends.using("triton"):
    ...     inside = nr.backends.current()
    >>> inside
    'triton'
    """
    before = current()
    use(name)
    try:
        yield
    finally:
        use(before)


def for_device(device) -> str:
    """The backend an op on ``device`` runs with."""
    if device.type == "cuda":
        return "triton"
    return _local.name


def _quiet_context():
    """A context, one per thread, in which NumPy's floating-point error state is 'ignore'."""
    import contextvars

    import numpy as np

    ctx = contextvars.copy_context()
    ctx.run(lambda: np.errstate(all="ignore").__enter__())
    return ctx


def run_reference(fn, *args, **kwargs):
    """Call a NumPy reference with floating-point warnings off: PyTorch returns inf/NaN silently.

    Entering ``np.errstate`` costs about 1 us, a sixth of a small op's whole budget; running in a
    context that already holds the 'ignore' state costs a tenth of that.
    """
    ctx = _local.quiet
    if ctx is None:
        ctx = _local.quiet = _quiet_context()
    return ctx.run(fn, *args, **kwargs)
