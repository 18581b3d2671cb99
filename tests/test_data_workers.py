"""DataLoader worker processes: determinism across 0 and 2 workers, seeding, IterableDataset sharding,
error propagation, killed and hung workers, cleanup (no zombie processes, no shared-memory files)."""
import gc
import glob
import multiprocessing as mp
import os
import signal
import time

import numpy as np
import pytest
import torch.utils.data as tud

import neurarust as nr
from neurarust.data import DataLoader, IterableDataset, TensorDataset, get_worker_info
from neurarust.data._worker import SHM_DIR

pytestmark = pytest.mark.timeout(60)


def _leftover_files():
    return glob.glob(os.path.join(SHM_DIR, f"neurarust-data-{os.getpid()}-*"))


def _gone(pid):
    """No process (running, or a zombie not yet reaped) has this pid."""
    return not os.path.exists(f"/proc/{pid}")


def _as_lists(batches):
    return [[t.tolist() if isinstance(t, nr.Tensor) else t for t in b] for b in batches]


class Noisy:
    """Each sample carries a draw from the worker's global generator, and the worker id."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return np.float32(i), nr.rand(1).item(), -1 if info is None else info.id


@pytest.fixture(autouse=True)
def _no_leaks():
    before = {p.pid for p in mp.active_children()}
    yield
    gc.collect()
    assert not [p for p in mp.active_children() if p.pid not in before], "worker processes left running"
    assert not _leftover_files(), "shared-memory files left behind"


def test_zero_and_two_workers_give_the_same_batches():
    ds = TensorDataset(nr.arange(22.0).reshape(11, 2), nr.arange(11))

    def run(workers):
        loader = DataLoader(ds, batch_size=3, shuffle=True, num_workers=workers, prefetch_factor=1 if workers else None,
                            generator=nr.Generator().manual_seed(7))
        return _as_lists(loader)

    single = run(0)
    assert run(2) == single
    assert [len(b[1]) for b in single] == [3, 3, 3, 2]


def test_worker_seeds_repeat_across_runs_and_differ_across_workers():
    def run():
        return _as_lists(DataLoader(Noisy(), batch_size=2, num_workers=2, generator=nr.Generator().manual_seed(3)))

    a = run()
    assert a == run()
    assert [b[2] for b in a] == [[0, 0], [1, 1], [0, 0], [1, 1]]
    draws = {w: [x for b in a if b[2][0] == w for x in b[1]] for w in (0, 1)}
    assert draws[0] != draws[1]


def test_worker_init_fn_and_worker_info():
    def init(worker_id):
        info = get_worker_info()
        assert info.id == worker_id and info.num_workers == 2
        np.random.seed(100 + worker_id)

    class Draw:
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return get_worker_info().seed, np.random.randint(1000)

    out = list(DataLoader(Draw(), batch_size=None, num_workers=2, worker_init_fn=init))
    seeds = [int(s) for s, _ in out]
    assert seeds[0] + 1 == seeds[1] and seeds[0] == seeds[2]
    assert int(out[0][1]) == np.random.RandomState(100).randint(1000)


class Shards(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


class TorchShards(tud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = tud.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


def test_iterable_sharding_matches_torch_order():
    ours = [b.tolist() for b in DataLoader(Shards(9), batch_size=2, num_workers=2)]
    theirs = [b.tolist() for b in tud.DataLoader(TorchShards(9), batch_size=2, num_workers=2)]
    assert ours == theirs
    assert sorted(sum(ours, [])) == list(range(9))


def test_persistent_workers_reused_across_epochs():
    loader = DataLoader(Shards(5), batch_size=2, num_workers=2, persistent_workers=True)
    first = [b.tolist() for b in loader]
    pids = [w.pid for w in loader._iterator._pool.workers]
    it = iter(loader)
    next(it)                       # abandon the epoch half way: the next one starts clean
    second = [b.tolist() for b in loader]
    assert first == second and [w.pid for w in loader._iterator._pool.workers] == pids
    loader._iterator._shutdown_workers()


class Faulty:
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 4:
            raise ValueError("bad sample")
        return i


def test_worker_error_names_worker_sample_and_traceback():
    loader = DataLoader(Faulty(), batch_size=2, num_workers=2)
    it = iter(loader)
    assert next(it).tolist() == [0, 1]
    assert next(it).tolist() == [2, 3]
    with pytest.raises(ValueError) as err:
        next(it)
    msg = str(err.value)
    assert "worker process 0" in msg and "sample index 4" in msg
    assert "Original Traceback" in msg and "bad sample" in msg and "__getitem__" in msg
    del it


def test_worker_init_error_is_reported():
    def init(worker_id):
        raise KeyError("no config")

    with pytest.raises(KeyError, match="worker_init_fn"):
        list(DataLoader(range(4), num_workers=2, worker_init_fn=init))


class KillsItself:
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


def test_killed_worker_raises_instead_of_hanging():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="SIGKILL"):
        list(DataLoader(KillsItself(), batch_size=2, num_workers=2, timeout=20))
    assert time.monotonic() - start < 10


class Slow:
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            time.sleep(30)
        return i


def test_timeout_raises():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="timed out after 0.5 seconds"):
        list(DataLoader(Slow(), batch_size=2, num_workers=1, timeout=0.5))
    assert time.monotonic() - start < 10


def test_deleting_a_loader_mid_epoch_reaps_workers():
    it = iter(DataLoader(np.arange(40, dtype=np.float32).reshape(20, 2), batch_size=2, num_workers=2))
    assert next(it).shape == (2, 2)
    pids = [w.pid for w in it._pool.workers]
    del it
    gc.collect()
    assert all(_gone(p) for p in pids)


def test_non_array_payloads_and_unbatched_mode():
    data = [{"name": f"n{i}", "x": np.full(3, i, np.int16)} for i in range(5)]
    out = list(DataLoader(data, batch_size=None, num_workers=2))
    assert [o["name"] for o in out] == [d["name"] for d in data]
    assert out[4]["x"].tolist() == [4, 4, 4] and out[4]["x"].dtype == nr.int16


def test_worker_collation_stacks_straight_into_shared_memory(tmp_path, monkeypatch):
    from neurarust.data import _worker as W
    from neurarust.data import collate

    arena = W.Arena(str(tmp_path / "batch"))
    monkeypatch.setattr(collate, "shared_empty", arena.empty)
    samples = [(np.full(3, i, np.float32), nr.tensor([i, i]), i, "s") for i in range(4)]
    batch = collate.default_collate(samples)
    packed = W.pack(batch, arena)
    # Each collated leaf stays in the arena file it was stacked into: nothing is copied again.
    assert len(packed.files) == 3 and packed.tree[3] == ["s"] * 4
    assert [leaf.file for leaf in packed.tree[:3]] == [0, 1, 2]
    other = W.pack([np.zeros(2)], arena)                # arrays from elsewhere: copied once
    assert other.files[0][0].endswith("batch-3")
    W.discard(other)
    arena.release({p for p, _ in packed.files})
    out = W.unpack(packed)
    assert out[0].tolist() == [[i] * 3 for i in range(4)] and out[1].tolist() == [[i, i] for i in range(4)]
    assert out[2].tolist() == [0, 1, 2, 3] and not list(tmp_path.iterdir())


def test_out_of_order_mode_yields_every_batch():
    out = [b.tolist() for b in DataLoader(range(10), batch_size=3, num_workers=2, in_order=False)]
    assert sorted(sum(out, [])) == list(range(10)) and len(out) == 4


ORPHAN_SCRIPT = """
import os, signal
import numpy as np
from neurarust.data import DataLoader
it = iter(DataLoader(np.zeros((100, 2)), batch_size=2, num_workers=2))
next(it)
print(os.getpid(), " ".join(str(w.pid) for w in it._pool.workers), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_workers_exit_and_clean_up_when_the_main_process_is_killed():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", ORPHAN_SCRIPT], capture_output=True, text=True, timeout=60)
    main_pid, *pids = [int(p) for p in proc.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(_gone(p) for p in pids):
        time.sleep(0.1)
    assert all(_gone(p) for p in pids)
    # The files of batches that were in flight are gone too.
    assert not glob.glob(os.path.join(SHM_DIR, f"neurarust-data-{main_pid}-*"))


def test_a_forked_child_never_shuts_down_its_parents_workers():
    from neurarust.data.dataloader import _Pool

    pool = _Pool()
    pool.owner = -1            # as seen from a child that inherited the pool through fork
    pool.shutdown()
    assert not pool.closed


def test_pin_memory_path_with_cuda(monkeypatch):
    """Without a GPU, fake CUDA's pinned allocator with plain memory to run the copy path."""
    import torch

    real_empty = torch.empty
    monkeypatch.setattr(nr.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch, "empty", lambda *a, pin_memory=False, **k: real_empty(*a, **k))
    data = [{"x": np.full(2, i, np.float32), "name": "n"} for i in range(4)]
    batches = list(DataLoader(data, batch_size=2, pin_memory=True))
    assert [b["x"].tolist() for b in batches] == [[[0, 0], [1, 1]], [[2, 2], [3, 3]]]
    assert batches[0]["name"] == ["n", "n"] and batches[0]["x"].dtype == nr.float32


def test_persistent_loader_recovers_after_a_failed_epoch():
    loader = DataLoader(Faulty(), batch_size=3, num_workers=1, persistent_workers=True, timeout=10)
    with pytest.raises(ValueError):
        list(loader)
    loader._iterator._pool.shutdown(kill=True)      # as after a dead worker
    it = iter(loader)
    assert next(it).tolist() == [0, 1, 2]
    it._shutdown_workers()
