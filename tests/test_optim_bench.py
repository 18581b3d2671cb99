"""Smoke test of the optim benchmark suite: a quick in-process run reports its two CPU targets."""
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # bench is run from the repository, it is not an installed package
    sys.path.insert(0, str(ROOT))


def test_optim_suite_quick_run_reports_adam_and_sgd_against_torch(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    from bench.__main__ import main

    suite = main(["--quick", "--suite", "optim", "--md", ""])["suites"]["optim"]
    assert [t["name"][:3] for t in suite["targets"]] == ["(n)", "(n)"]
    assert all(t["limit"] == 1.5 for t in suite["targets"])
    assert [c["case"] for c in suite["cases"]] == ["Adam step", "SGD momentum step"]
    assert all(math.isfinite(c["ratio"]) and c["ratio"] > 0 for c in suite["cases"])


def test_model_has_a_hundred_parameters_of_mixed_shapes():
    from bench.suites.optim import CPU_WIDTHS, model_shapes

    shapes = model_shapes(CPU_WIDTHS)
    assert len(shapes) == 100 and len(set(shapes)) > 6
