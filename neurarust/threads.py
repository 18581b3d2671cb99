"""``get_num_threads`` / ``set_num_threads``, as in PyTorch, for code that calls them.

NeuraRust's CPU path is NumPy: its element-wise work runs on one thread and its matrix products in
the BLAS library NumPy was built with, whose thread pool NumPy offers no portable way to resize. So
the number set here is recorded and returned by ``get_num_threads`` (a program that sizes its own
work by it, e.g. ``DataLoader(num_workers=...)``, can read it back) but it does not change how many
threads NumPy or BLAS use; set ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS`` / ``MKL_NUM_THREADS``
before starting Python for that. CUDA work is unaffected either way.

    >>> import neurarust as nr
    >>> old = nr.get_num_threads(); nr.set_num_threads(2); nr.get_num_threads()
    2
    >>> nr.set_num_threads(old)
"""
from __future__ import annotations

import os

from .errors import ArgumentError

_num_threads = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def get_num_threads() -> int:
    """The number last given to :func:`set_num_threads` (at first, the CPUs this process may use).

    >>> import neurarust as nr
    >>> nr.get_num_threads() >= 1
    True
    """
    return _num_threads


def set_num_threads(num: int) -> None:
    """Record ``num`` (a positive int) as the thread count: see the module docstring for what it does
    not control.

    >>> import neurarust as nr
    >>> nr.set_num_threads(0)
    Traceback (most recent call last):
        ...
    neurarust.errors.ArgumentError: set_num_threads: number of threads must be positive, got 0
    """
    global _num_threads
    if isinstance(num, bool) or not isinstance(num, int) or num <= 0:
        raise ArgumentError(f"set_num_threads: number of threads must be positive, got {num!r}")
    _num_threads = num
