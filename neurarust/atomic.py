"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every file NeuraRust writes (the autotune cache, generated tables, benchmark reports, checkpoints
later) goes through :func:`write_text` or :func:`write_bytes`::

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "table.md")
    >>> write_text(path, "| a |\\n")
    >>> open(path).read()
    '| a |\\n'
"""
from __future__ import annotations

import contextlib
import os
import tempfile


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename it over ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`write_bytes` for UTF-8 text."""
    write_bytes(path, text.encode("utf-8"))
