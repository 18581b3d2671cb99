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
import stat
import tempfile


def _read_umask() -> int:
    # The only way to read the umask is to set it; done once, at import, before any thread writes.
    mask = os.umask(0)
    os.umask(mask)
    return mask


_NEW_FILE_MODE = 0o666 & ~_read_umask()


def _mode_for(path: str) -> int:
    """The existing file's permission bits, or what ``open(path, "w")`` would give a new file."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return _NEW_FILE_MODE


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, flush it to disk, then rename it over ``path``.

    The file keeps the permission bits of the one it replaces (a new one gets ``0o666 & ~umask``, as
    ``open`` would give it), not the private 0600 of a temporary file.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "blob.bin")
    >>> write_bytes(path, b"ab")
    >>> open(path, "rb").read()
    b'ab'
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), _mode_for(path))
            else:  # Windows before Python 3.13
                os.chmod(tmp, _mode_for(path))
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`write_bytes` for UTF-8 text.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "note.txt")
    >>> write_text(path, "hi")
    >>> open(path).read()
    'hi'
    """
    write_bytes(path, text.encode("utf-8"))
