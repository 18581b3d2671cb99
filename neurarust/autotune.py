"""NeuraRust's autotuner: times each config of a kernel once per shape bucket, remembers the winner.

A result's key is (GPU name, Triton version, hash of the kernel's source, op, the call's key: dtype
and shape bucket, each dim rounded up to a power of two). Results live in memory and in a JSON file
shared by every process: ``~/.cache/neurarust/tune.json``, or ``$NEURARUST_TUNE_CACHE``. The file is
read before any tuning, and written atomically (a temporary file in the same folder, then
``os.replace``) under an exclusive lock, merged with what other processes wrote meanwhile. A
corrupted file is reported with a :class:`TuneCacheWarning` and ignored.

Without a GPU, or under Triton's interpreter, nothing is timed: the entry's default config is used::

    >>> from neurarust.registry import TuneSpec
    >>> from neurarust import autotune
    >>> spec = TuneSpec(configs=[{"BLOCK": 64}, {"BLOCK": 128}], default={"BLOCK": 64})
    >>> cfg = autotune.best_config("demo", spec, ("float32", autotune.bucket(1000)), run=lambda cfg: None)
    >>> cfg in spec.configs, autotune.bucket(1000)
    (True, 1024)
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import threading
import warnings
from typing import Callable, Iterator

from . import atomic

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; writes stay atomic, merges may race
    fcntl = None

FORMAT_VERSION = 1
_memory: dict[str, dict[str, dict]] = {}   # cache path -> {key: entry}
_mutex = threading.Lock()


class TuneCacheWarning(UserWarning):
    """The autotune cache file could not be used (corrupted or unwritable); tuning goes on without it."""


def cache_path() -> str:
    """Where tuned configs are kept: ``$NEURARUST_TUNE_CACHE`` or ``~/.cache/neurarust/tune.json``."""
    override = os.environ.get("NEURARUST_TUNE_CACHE")
    if override:
        return os.path.abspath(os.path.expanduser(override))
    return os.path.join(os.path.expanduser("~"), ".cache", "neurarust", "tune.json")


def bucket(n: int) -> int:
    """A dim rounded up to a power of two, so nearby shapes share one tuning result (0 stays 0)."""
    return 0 if n <= 0 else 1 << (int(n) - 1).bit_length()


@functools.lru_cache(maxsize=64)
def source_hash(source: str) -> str:
    """A short hash of a kernel's source text (memoised: it is part of every launch's key)."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _device_name(index: int | None = None) -> str:
    """The GPU's name: CUDA device ``index`` (the current one if None), or "cpu" without CUDA."""
    try:
        import torch

        if torch.cuda.is_available():
            return _cuda_name(torch.cuda.current_device() if index is None else index)
    except ImportError:
        pass
    return "cpu"


@functools.lru_cache(maxsize=None)
def _cuda_name(index: int) -> str:
    import torch

    return torch.cuda.get_device_name(index)


def _triton_version() -> str:
    try:
        import triton

        return triton.__version__
    except ImportError:
        return "none"


def make_key(op_name: str, key: tuple, source: str = "", *, device: str | None = None) -> str:
    """The cache key of one tuning problem, as a string (JSON object keys are strings)."""
    parts = [device or _device_name(), _triton_version(), source_hash(source), op_name, *map(str, key)]
    return "|".join(parts)


def can_time() -> bool:
    """True where configs can be timed: a CUDA device and no interpreter."""
    if os.environ.get("TRITON_INTERPRET", "0") == "1":
        return False
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _do_bench(fn: Callable[[], None]) -> float:
    import triton.testing

    return float(triton.testing.do_bench(fn))


# ----------------------------------------------------------------------------------------------
# The persistent cache
# ----------------------------------------------------------------------------------------------

def _read_file(path: str) -> dict[str, dict]:
    """The file's entries; {} if it is missing, and {} with a warning if it is unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
            raise ValueError("expected an object with an 'entries' object")
        return {k: v for k, v in data["entries"].items() if isinstance(v, dict) and isinstance(v.get("config"), dict)}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        warnings.warn(f"ignoring the autotune cache {path}: it is corrupted or unreadable ({e})",
                      TuneCacheWarning, stacklevel=3)
        return {}


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path + '.lock'`` (a sidecar: the cache file itself is replaced)."""
    with open(path + ".lock", "a+") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_UN)


def _write_atomically(path: str, entries: dict[str, dict]) -> None:
    text = json.dumps({"version": FORMAT_VERSION, "entries": entries}, indent=1, sort_keys=True)
    atomic.write_text(path, text)


def _entries(path: str) -> dict[str, dict]:
    """The in-memory view of the cache at ``path``, loaded from disk on first use."""
    with _mutex:
        if path not in _memory:
            _memory[path] = _read_file(path)
        return _memory[path]


def store(key: str, config: dict, ms: float | None = None) -> None:
    """Record a tuned config, in memory and on disk (merged with the file's other entries)."""
    path = cache_path()
    entry = {"config": dict(config), "ms": ms}
    _entries(path)[key] = entry
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with _locked(path):
            on_disk = _read_file(path)
            on_disk[key] = entry
            _write_atomically(path, on_disk)
        with _mutex:
            _memory[path].update(on_disk)
    except OSError as e:
        warnings.warn(f"could not write the autotune cache {path}: {e}", TuneCacheWarning, stacklevel=2)


def lookup(key: str) -> dict | None:
    """The cached config for ``key``, or None."""
    entry = _entries(cache_path()).get(key)
    return None if entry is None else dict(entry["config"])


def clear(*, disk: bool = True) -> None:
    """Forget tuned configs: in memory, and (``disk=True``) the cache file too."""
    path = cache_path()
    with _mutex:
        _memory.clear()
    if disk:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


# ----------------------------------------------------------------------------------------------
# Tuning
# ----------------------------------------------------------------------------------------------

def _time_configs(configs: list[dict], run: Callable[[dict], None],
                  timer: Callable[[Callable[[], None]], float]) -> tuple[dict | None, float]:
    best, best_ms = None, math.inf
    for cfg in configs:
        try:
            ms = timer(lambda cfg=cfg: run(cfg))
        except Exception:  # noqa: BLE001 - a config that fails (out of shared memory ...) just loses
            continue
        if ms < best_ms:
            best, best_ms = cfg, ms
    return best, best_ms


def best_config(op_name: str, spec, key: tuple, run: Callable[[dict], None], *, source: str = "",
                timer: Callable[[Callable[[], None]], float] | None = None, device: int | None = None) -> dict:
    """The config to launch ``op_name`` with for the call described by ``key``.

    ``spec`` is the entry's :class:`~neurarust.registry.TuneSpec`; ``run(config)`` launches the
    kernel once with a config; ``source`` is the kernel's source (its hash is part of the key, so
    editing a kernel re-tunes it). Where configs cannot be timed (no GPU, interpreter) the default
    is returned and ``run`` is never called. Otherwise the first call for a key times each config
    with ``timer`` (``triton.testing.do_bench`` unless given; tests pass a fake) and stores the
    fastest; later calls, in this process or any other, reuse it without timing. ``device`` is the
    CUDA index of the call's tensors (its GPU's name is part of the key; default: the current one).
    """
    if timer is None:
        if not can_time():
            return dict(spec.default)
        timer = _do_bench
    full_key = make_key(op_name, key, source, device=_device_name(device))
    cached = lookup(full_key)
    if cached is not None:
        return cached
    best, ms = _time_configs(list(spec.configs), run, timer)
    if best is None:
        return dict(spec.default)
    store(full_key, best, ms)
    return dict(best)
