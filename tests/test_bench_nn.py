"""Smoke tests of the nn benchmark suite: a quick run reports its CPU targets, the two sides of each
case compute the same numbers, and the GPU cases' code runs (on the CPU reference path here)."""
import numpy as np
import pytest

import neurarust as nr

from test_bench import _positive, bench_main  # noqa: F401  (bench_main is a fixture)


def test_quick_run_reports_the_cpu_targets(bench_main, capsys):
    doc = bench_main(["--quick", "--suite", "nn", "--md", ""])
    suite = doc["suites"]["nn"]
    cpu = [t for t in suite["targets"] if t["name"].startswith(("(h)", "(i)"))]
    assert [t["name"][:3] for t in cpu] == ["(h)", "(i)"]
    assert all(t["status"] in ("PASS", "MISS") and _positive(t["value"]) and t["limit"] == 1.5 for t in cpu)
    assert all(_positive(c["ratio"]) for c in suite["cases"])
    if not nr.cuda.is_available():
        assert suite["skipped"] and "CUDA is not available" in suite["skipped"][0]["reason"]
        assert "GPU cases skipped" in capsys.readouterr().err


@pytest.mark.parametrize("make", ["conv_pair", "encoder_pair"])
def test_both_sides_of_a_cpu_case_compute_the_same_gradients(make):
    import bench.suites.nn as suite

    pair = getattr(suite, make)(**({"batch": 2, "size": 8} if make == "conv_pair" else {"seq": 8, "batch": 2}))
    assert pair.mismatch() < 1e-3


def test_gpu_cases_run_on_the_reference_path():
    from bench.harness import Context, SuiteResult
    from bench.suites.nn import run_gpu

    result = SuiteResult("nn")
    run_gpu(Context(quick=True, log=lambda msg: None), result, device="cpu")
    assert [t["name"][:3] for t in result.targets] == ["(j)", "(k)", "(l)"]
    assert all(_positive(t["value"]) for t in result.targets)
