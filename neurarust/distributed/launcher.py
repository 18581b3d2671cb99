"""Start N worker processes on this machine the way torchrun does, from Python.

``spawn(fn, nproc, args)`` picks a free port, starts ``nproc`` processes with torchrun's environment
(``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``),
joins the default process group in each (``init_process_group()`` reads that environment), calls
``fn(*args)`` there and returns the ranks' results, in rank order. A rank that raises or dies makes
``spawn`` raise DistributedError naming it; the other ranks fail their next collective within the
group's ``timeout_s`` and are killed if they are still running ``grace_s`` seconds later, so a
failure never hangs the launcher. ``env`` adds variables (``NEURARUST_BACKEND``, ``OMP_NUM_THREADS``);
each child starts with its environment, as under torchrun. ``fn`` and ``args`` must be picklable
(``fn`` defined at module level), as with any spawned process. ``neurarust train --nproc N`` launches its ranks with it.

    >>> from neurarust.distributed.launcher import spawn
    >>> spawn.__name__
    'spawn'
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import socket
import tempfile
import time
import traceback
from typing import Any, Callable, Iterator, Sequence

from neurarust.errors import DistributedError


class WorkerFailed(DistributedError):
    """One or more ranks of ``spawn`` failed; ``results`` holds what the others returned (None for
    the failed ones) and ``failures`` maps each failed rank to its error text."""

    def __init__(self, message: str, results: list, failures: dict[int, str]):
        super().__init__(message)
        self.results, self.failures = results, failures


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port the OS reports free right now (bind to port 0, read it back).

    >>> from neurarust.distributed.launcher import free_port
    >>> 0 < free_port() < 65536
    True
    """
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def spawn(fn: Callable[..., Any], nproc: int, args: Sequence[Any] = (), backend: str | None = None,
          timeout_s: float | None = None, grace_s: float = 30.0, env: dict[str, str] | None = None) -> list:
    """Run ``fn(*args)`` in ``nproc`` processes joined in one process group; their results by rank."""
    if nproc < 1:
        raise DistributedError(f"spawn(): nproc must be at least 1, got {nproc}")
    ctx = mp.get_context("spawn")
    base = {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), "WORLD_SIZE": str(nproc),
            "LOCAL_WORLD_SIZE": str(nproc), **(env or {})}
    with tempfile.TemporaryDirectory(prefix="neurarust-spawn-") as tmp:
        procs = []
        for rank in range(nproc):
            rank_env = {**base, "RANK": str(rank), "LOCAL_RANK": str(rank)}
            p = ctx.Process(target=_worker, args=(fn, tuple(args), rank_env, backend, timeout_s, tmp),
                            name=f"neurarust-rank{rank}")
            with _environment(rank_env):   # the child starts with it, before anything reads it
                p.start()
            procs.append(p)
        _join(procs, grace_s)
        return _collect(procs, tmp)


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _join(procs: list, grace_s: float) -> None:
    """Wait for every process; once one has failed, give the others ``grace_s`` seconds, then kill."""
    deadline = None
    while any(p.is_alive() for p in procs):
        if deadline is None and any(p.exitcode not in (None, 0) for p in procs):
            deadline = time.monotonic() + grace_s
        if deadline is not None and time.monotonic() > deadline:
            for p in procs:
                if p.is_alive():
                    p.kill()
        time.sleep(0.05)
    for p in procs:
        p.join()


def _collect(procs: list, tmp: str) -> list:
    results: list = []
    failures: dict[int, str] = {}
    for rank, p in enumerate(procs):
        out = _read(tmp, rank)
        if p.exitcode == 0 and out is not None and "result" in out:
            results.append(out["result"])
            continue
        results.append(None)
        failures[rank] = out["error"] if out and "error" in out else f"process exited with code {p.exitcode}"
    if failures:
        lines = "\n".join(f"rank {r}: {_last_line(e)}" for r, e in sorted(failures.items()))
        raise WorkerFailed(f"{len(failures)} of {len(procs)} ranks failed:\n{lines}", results, failures)
    return results


def _last_line(error: str) -> str:
    lines = [ln for ln in error.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else error


def _read(tmp: str, rank: int) -> dict | None:
    path = os.path.join(tmp, f"rank{rank}.pkl")
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        return pickle.load(f)


def _write(tmp: str, rank: int, out: dict) -> None:
    part = os.path.join(tmp, f"rank{rank}.pkl.part")
    with open(part, "wb") as f:
        pickle.dump(out, f)
    os.replace(part, os.path.join(tmp, f"rank{rank}.pkl"))


def _worker(fn: Callable, args: tuple, env: dict, backend: str | None, timeout_s: float | None, tmp: str) -> None:
    os.environ.update(env)
    rank = int(env["RANK"])
    from . import process_group

    try:
        process_group.init_process_group(backend, timeout=timeout_s)
        result = fn(*args)
    except BaseException:
        _write(tmp, rank, {"error": traceback.format_exc()})
        raise SystemExit(1)
    _write(tmp, rank, {"result": result})
    process_group.destroy_process_group()
