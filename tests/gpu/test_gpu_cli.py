"""``neurarust check`` and ``neurarust tune`` on a real CUDA device (skipped without one): check runs
the kernels on the GPU at large shapes, tune times every config of a model's matmuls and a later
process launches the tuned configs without timing anything."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import neurarust as nr

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not nr.cuda.is_available(), reason="needs a CUDA device")]


def neurarust(*argv, cwd, cache):
    env = {**os.environ, "NEURARUST_TUNE_CACHE": str(cache)}
    env.pop("TRITON_INTERPRET", None)
    return subprocess.run([sys.executable, "-m", "neurarust", *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_check_runs_on_the_gpu_at_large_shapes(tmp_path):
    proc = neurarust("check", "--ops", "add,mm,softmax", "--dtypes", "float16,float32", "--shapes", "large",
                     "--grad", "--json", "check.json", cwd=tmp_path, cache=tmp_path / "tune.json")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    rows = json.loads((tmp_path / "check.json").read_text())["rows"]
    assert all(r["backend"].startswith("triton on ") for r in rows)


MODEL = """
import neurarust as nr
model = nr.nn.Linear(256, 512, bias=False).to(nr.float16)
example_input = nr.randn(128, 256, dtype=nr.float16)
"""

LATER_PROCESS = """
import neurarust as nr
from neurarust import autotune

def no_timing(fn):
    raise SystemExit("a tuned shape was timed again")

autotune._do_bench = no_timing
w = nr.randn(512, 256, dtype=nr.float16, device="cuda")
x = nr.randn(128, 256, dtype=nr.float16, device="cuda")
y = x @ w.T
nr.cuda.synchronize()
print("reused", y.shape)
"""


def test_tune_from_model_then_a_later_process_reuses_the_configs(tmp_path):
    (tmp_path / "model.py").write_text(textwrap.dedent(MODEL))
    cache = tmp_path / "tune.json"
    proc = neurarust("tune", "--from-model", "model.py", "--ops", "matmul", cwd=tmp_path, cache=cache)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    entries = json.loads(cache.read_text())["entries"]
    assert entries and all("|matmul|float16|" in k for k in entries)
    assert "TFLOP/s" in proc.stdout or "GB/s" in proc.stdout
    env = {**os.environ, "NEURARUST_TUNE_CACHE": str(cache)}
    env.pop("TRITON_INTERPRET", None)
    later = subprocess.run([sys.executable, "-c", LATER_PROCESS], env=env, capture_output=True, text=True, timeout=300)
    assert later.returncode == 0 and "reused" in later.stdout, later.stderr[-2000:]
