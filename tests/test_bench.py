"""Smoke test of the benchmark harness: a quick in-process run on two ops (well under 20 s)."""
import json
import math
import os
import sys
from pathlib import Path

import pytest

import neurarust as nr

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # bench is run from the repository, it is not an installed package
    sys.path.insert(0, str(ROOT))


@pytest.fixture
def bench_main(monkeypatch):
    # bench.__main__ pins OpenBLAS to one thread through the environment: undo it after the test.
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    from bench.__main__ import main

    return main


def _positive(x) -> bool:
    return isinstance(x, float) and math.isfinite(x) and x > 0


def test_quick_run_writes_json_and_markdown(bench_main, tmp_path):
    out, md = tmp_path / "bench.json", tmp_path / "bench.md"
    doc = bench_main(["--quick", "--ops", "add,exp", "--json", str(out), "--md", str(md)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(doc, default=str))
    for key in ("cpu", "cores", "gpu", "python", "numpy", "torch", "triton", "neurarust"):
        assert key in doc["machine"]
    ops = doc["suites"]["ops"]
    cases = ops["cases"]
    assert sorted((c["op"], c["size"]) for c in cases) == [("add", "large"), ("add", "small"),
                                                           ("exp", "large"), ("exp", "small")]
    for c in cases:
        assert _positive(c["ratio"]) and _positive(c["ratio_mt"] or 1.0), c
        for side in ("neurarust", "torch"):
            t = c["times"][side]
            assert _positive(t["median_ns"]) and t["q1_ns"] <= t["median_ns"] <= t["q3_ns"]
            assert t["batch"] >= 1 and t["reps"] >= 3
        assert c["numel"] == (8 if c["size"] == "small" else 1 << 20)
        assert _positive(c["gbps"]["neurarust"])
    assert [t["name"][:3] for t in ops["targets"]] == ["(a)", "(a)", "(b)"]
    assert all(t["status"] in ("PASS", "MISS") and _positive(t["value"]) for t in ops["targets"])
    assert ops["extra"]["dispatch_overhead"]["profile"]
    text = md.read_text()
    assert "## Suite `ops`" in text and "| `exp` |" in text and ("PASS" in text or "MISS" in text)


def test_inputs_scale_from_the_first_sample():
    from bench.suites.ops import Case, _scaled_shape, scaled_sample
    from neurarust.registry import get

    assert _scaled_shape((3, 4), 8) == (2, 4)
    assert _scaled_shape((3, 1, 5), 1 << 20) == (1024, 1, 1024)
    s = scaled_sample(get("clamp"), 1 << 20, nr.float32)
    assert s.args[0].shape == (1024, 1024) and s.args[0].dtype.name == "float32"
    assert s.kwargs == {"min": -1, "max": 2}
    assert Case(get("where"), "small", nr.float32, scaled_sample(get("where"), 8, nr.float32)).shapes == [[8]] * 3


def test_dram_peaks_by_device_name():
    from bench.suites.ops import dram_peak_tbs

    assert dram_peak_tbs("NVIDIA H100 80GB HBM3") == 3.35
    assert dram_peak_tbs("NVIDIA H100 PCIe") == 2.0
    assert dram_peak_tbs("NVIDIA H200") == 4.8
    assert dram_peak_tbs("NVIDIA A100 80GB PCIe") == 1.935
    assert dram_peak_tbs("NVIDIA A100-SXM4-80GB") == 2.039
    assert dram_peak_tbs("Some Future GPU") is None


@pytest.mark.skipif(nr.cuda.is_available(), reason="checks the no-GPU path")
def test_cuda_without_a_gpu_is_skipped_with_a_message(bench_main, capsys):
    doc = bench_main(["--quick", "--device", "cuda", "--ops", "add", "--md", ""])
    assert doc["suites"]["ops"]["cases"] == []
    assert "CUDA is not available" in capsys.readouterr().err


def test_autograd_suite_quick_run_reports_its_three_targets(bench_main):
    doc = bench_main(["--quick", "--suite", "autograd", "--md", ""])
    suite = doc["suites"]["autograd"]
    assert [t["name"][:3] for t in suite["targets"]] == ["(c)", "(d)", "(e)"]
    assert all(_positive(c["ratio"]) for c in suite["cases"])
    memory = suite["extra"]["memory"]
    assert memory["peak_bytes"] > memory["needed_bytes"] / 2 and _positive(memory["ratio"])
    assert suite["extra"]["steady_state"]["steps"] == 100



@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and getrusage's fault count")
def test_settled_allocator_keeps_freed_heap_mapped():
    # Run in a fresh process: the settings are process-wide, and the default ones depend on history.
    code = """
import resource, sys, numpy as np
from bench.harness import settle_allocator
if sys.argv[1] == "settle":
    settle_allocator()
blocks = [np.ones(1 << 20, np.uint8) for _ in range(8)]   # 8 MiB at the top of the heap
del blocks                                                  # freed: glibc returns it by default
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
np.ones(1 << 20, np.uint8)                                  # 256 pages, faulted in again if returned
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
    import subprocess

    def faults(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", code, mode], cwd=ROOT, capture_output=True, text=True,
                             check=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        return int(out.stdout.split()[-1])

    assert faults("settle") < 32
