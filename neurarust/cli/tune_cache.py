"""``neurarust tune --show / --clear / --export FILE / --import FILE``: the persistent tune cache.

The cache is :mod:`neurarust.autotune`'s JSON file (``--cache PATH``, else
``$NEURARUST_TUNE_CACHE``, else ``~/.cache/neurarust/tune.json``). Each entry's key names the GPU,
the Triton version, a hash of the kernel's source, the op and the call's shape bucket, so an
exported file only ever applies on the same GPU model, Triton version and kernel source::

    >>> split_key("NVIDIA H100|3.6.0|0123abcd|matmul|float16|ieee|1024|1024|512")
    {'gpu': 'NVIDIA H100', 'triton': '3.6.0', 'kernel': '0123abcd', 'op': 'matmul', 'shape': 'float16 ieee 1024 1024 512'}
"""
from __future__ import annotations

import json
import os

from neurarust import atomic, autotune

from .usage import UsageError


def split_key(key: str) -> dict:
    """A cache key's parts (see the module docstring)."""
    gpu, triton, kernel, op, *shape = key.split("|") + [""] * 4
    return {"gpu": gpu, "triton": triton, "kernel": kernel, "op": op, "shape": " ".join(p for p in shape if p)}


def read_entries(path: str, *, what: str = "tune cache") -> dict[str, dict]:
    """The entries of a cache (or exported) file; ``{}`` when it does not exist; a corrupted file is
    a :class:`UsageError` naming it."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise UsageError(f"the {what} {path} is not a NeuraRust tune file ({e})") from e
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not all(isinstance(v, dict) and isinstance(v.get("config"), dict)
                                                for v in entries.values()):
        raise UsageError(f"the {what} {path} is not a NeuraRust tune file (expected an object with an "
                         f"'entries' object of {{'config': ...}} entries)")
    return entries


def show_rows(entries: dict[str, dict]) -> list[list]:
    from .tuning import describe

    rows = []
    for key in sorted(entries):
        parts = split_key(key)
        e = entries[key]
        rows.append([parts["op"], parts["shape"], describe(e["config"]), e.get("ms"), parts["gpu"],
                     parts["triton"], parts["kernel"]])
    return rows


SHOW_HEADER = ["op", "shape bucket", "config", "ms", "gpu", "triton", "kernel hash"]


def clear(path: str) -> int:
    """Empty the cache; returns how many entries it held."""
    n = len(read_entries(path))
    autotune.clear()
    return n


def export(path: str, out: str) -> int:
    """Write the cache's entries to ``out`` (atomically); returns how many."""
    entries = read_entries(path)
    atomic.write_text(out, json.dumps({"version": autotune.FORMAT_VERSION, "entries": entries}, indent=1,
                                      sort_keys=True) + "\n")
    return len(entries)


def import_(src: str) -> int:
    """Merge the entries of ``src`` (an exported file) into the cache; returns how many."""
    if not os.path.isfile(src):
        raise UsageError(f"--import {src!r}: no such file")
    entries = read_entries(src, what="file to import")
    for key, entry in entries.items():
        autotune.store(key, entry["config"], entry.get("ms"))
    return len(entries)
