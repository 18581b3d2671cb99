"""``neurarust train`` and the custom-kernel example on a real CUDA device (skipped without one)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import neurarust as nr

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not nr.cuda.is_available(), reason="needs a CUDA device")]

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")


def run(*argv, cwd):
    env = dict(os.environ)
    env.pop("TRITON_INTERPRET", None)          # compiled kernels on the GPU, not the interpreter
    return subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_default_run_picks_the_gpu_and_passes_97_percent(tmp_path):
    proc = run("-m", "neurarust", "train", "--out", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "device cuda:0" in proc.stdout
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["val_acc"] >= 0.97


@pytest.mark.parametrize("amp", ["fp16", "bf16"])
def test_mixed_precision_trains(tmp_path, amp):
    proc = run("-m", "neurarust", "train", "--epochs", "2", "--amp", amp, "--out", "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["val_acc"] > 0.8


def test_resume_on_the_gpu_equals_an_uninterrupted_run(tmp_path):
    common = ["-m", "neurarust", "train", "--model", "mlp", "--scheduler", "none"]
    assert run(*common, "--epochs", "2", "--out", "whole", cwd=tmp_path).returncode == 0
    assert run(*common, "--epochs", "1", "--out", "split", cwd=tmp_path).returncode == 0
    assert run("-m", "neurarust", "train", "--resume", "split", "--epochs", "2", cwd=tmp_path).returncode == 0

    def metrics(name):
        lines = (tmp_path / name / "metrics.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]

    assert metrics("split") == metrics("whole")


def test_custom_kernel_example_passes_on_the_gpu(tmp_path):
    proc = run(os.path.join(EXAMPLES, "custom_kernel.py"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 failed" in proc.stdout and "triton on " in proc.stdout
