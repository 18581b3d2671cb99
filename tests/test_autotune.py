"""The autotuner and its persistent cache, on the CPU: a fake timer stands in for GPU timing."""
from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from neurarust import atomic, autotune
from neurarust.registry import TuneSpec

SPEC = TuneSpec(configs=[{"BLOCK": 32}, {"BLOCK": 64}, {"BLOCK": 128}], default={"BLOCK": 32})
KEY = ("float16", 1024, 1024, 512)
SPEED = {32: 3.0, 64: 1.0, 128: 2.0}  # ms per config: BLOCK=64 is the fastest


@pytest.fixture
def cache(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "tune.json"
    monkeypatch.setenv("NEURARUST_TUNE_CACHE", str(path))
    autotune.clear(disk=False)
    yield path
    autotune.clear(disk=False)


class FakeGPU:
    """``run`` records the config it launches; ``timer`` runs it and reports that config's speed."""

    def __init__(self):
        self.launched: list[dict] = []
        self.timings = 0

    def run(self, cfg: dict) -> None:
        self.launched.append(cfg)

    def timer(self, fn) -> float:
        fn()
        self.timings += 1
        return SPEED[self.launched[-1]["BLOCK"]]


def _tune(gpu: FakeGPU, source: str = "kernel v1") -> dict:
    return autotune.best_config("mm", SPEC, KEY, gpu.run, source=source, timer=gpu.timer)


def test_picks_the_fastest_stores_it_and_reuses_it(cache):
    gpu = FakeGPU()
    assert _tune(gpu) == {"BLOCK": 64}
    assert gpu.timings == len(SPEC.configs)
    assert _tune(gpu) == {"BLOCK": 64}
    assert gpu.timings == len(SPEC.configs)  # reused from memory: no timing


def test_cache_round_trip_through_the_file(cache):
    _tune(FakeGPU())
    entries = json.loads(cache.read_text())["entries"]
    assert [e["config"] for e in entries.values()] == [{"BLOCK": 64}]
    autotune.clear(disk=False)  # a new process: only the file remembers
    gpu = FakeGPU()
    assert _tune(gpu) == {"BLOCK": 64}
    assert gpu.timings == 0
    autotune.clear()
    assert not cache.exists()


def test_key_includes_the_kernel_source_hash(cache):
    k1 = autotune.make_key("mm", KEY, "kernel v1")
    assert k1 != autotune.make_key("mm", KEY, "kernel v2")
    assert autotune.source_hash("kernel v1") in k1
    gpu = FakeGPU()
    _tune(gpu, "kernel v1")
    _tune(gpu, "kernel v2")  # an edited kernel is tuned again
    assert gpu.timings == 2 * len(SPEC.configs)


def test_key_buckets_shapes_to_powers_of_two():
    assert [autotune.bucket(n) for n in (0, 1, 2, 3, 17, 1024, 1025)] == [0, 1, 2, 4, 32, 1024, 2048]


def test_without_a_gpu_the_default_is_used_and_run_never_called(cache, monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert not autotune.can_time()
    gpu = FakeGPU()
    assert autotune.best_config("mm", SPEC, KEY, gpu.run) == SPEC.default
    assert gpu.launched == [] and not cache.exists()


def test_corrupted_cache_warns_and_is_ignored(cache):
    cache.parent.mkdir(parents=True)
    cache.write_text('{"entries": {"half a fi')
    with pytest.warns(autotune.TuneCacheWarning, match=str(cache)):
        assert autotune.lookup(autotune.make_key("mm", KEY, "kernel v1")) is None
    autotune.clear(disk=False)
    with pytest.warns(autotune.TuneCacheWarning):
        assert _tune(FakeGPU()) == {"BLOCK": 64}
    assert len(json.loads(cache.read_text())["entries"]) == 1  # rewritten whole


def test_every_config_failing_falls_back_to_the_default(cache):
    def broken(cfg):
        raise RuntimeError("out of resources")

    assert autotune.best_config("mm", SPEC, KEY, broken, timer=lambda fn: fn()) == SPEC.default


def test_failed_write_leaves_the_old_file_and_no_temp_file(cache, monkeypatch):
    _tune(FakeGPU())
    before = cache.read_text()

    def fail(fd):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "fsync", fail)  # the temp file is half written when this fails
    with pytest.warns(autotune.TuneCacheWarning, match="disk full"):
        _tune(FakeGPU(), "kernel v2")
    assert cache.read_text() == before
    assert sorted(os.listdir(cache.parent)) == ["tune.json", "tune.json.lock"]


def _store_many(path: str, prefix: str, n: int) -> None:
    os.environ["NEURARUST_TUNE_CACHE"] = path
    for i in range(n):
        autotune.store(f"{prefix}{i}", {"BLOCK": i})


def test_concurrent_writers_keep_each_others_entries(cache):
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_store_many, args=(str(cache), prefix, 25)) for prefix in ("a", "b")]
    for p in writers:
        p.start()
    for p in writers:
        p.join(60)
        assert p.exitcode == 0
    entries = json.loads(cache.read_text())["entries"]
    assert sorted(entries) == sorted(f"{p}{i}" for p in "ab" for i in range(25))
