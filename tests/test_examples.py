"""Every script in examples/ runs (with small settings) and prints what it promises."""
from __future__ import annotations

import os
import subprocess
import sys

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def run(script: str, *args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd)


def test_train_digits_trains_tests_and_saves_the_model(tmp_path):
    result = run("train_digits.py", "--epochs", "1", "--batch-size", "256", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "epoch 1: last batch loss" in result.stdout and "test accuracy" in result.stdout
    assert (tmp_path / "digits_cnn.safetensors").exists()


def test_char_transformer_trains_and_writes_a_sample(tmp_path):
    result = run("char_transformer.py", "--steps", "2", "--sample", "5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "step 2: loss" in result.stdout
    assert result.stdout.split("sample:\n")[1].startswith("Tyger ")


def test_custom_kernel_registers_its_op_and_passes_neurarust_check(tmp_path):
    result = run("custom_kernel.py", "--dtypes", "float32", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "softsign([-3.0, 0.0, 1.0]) = [-0.75, 0.0, 0.5]; gradient [0.0625, 1.0, 0.25]" in result.stdout
    assert "0 failed" in result.stdout


def test_custom_kernel_is_a_plugin_for_neurarust_check(tmp_path):
    result = subprocess.run([sys.executable, "-m", "neurarust", "check", "--plugin",
                             os.path.join(EXAMPLES, "custom_kernel.py"), "--ops", "softsign", "--dtypes", "float32",
                             "--grad"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "softsign" in result.stdout and "0 failed" in result.stdout


def test_distill_digits_trains_a_teacher_then_two_students(tmp_path):
    result = run("distill_digits.py", "--teacher-epochs", "1", "--student-epochs", "1", "--labels", "50", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("teacher (9930 parameters): test accuracy")
    assert "50 labels: test accuracy" in lines[1] and "50 labels + teacher: test accuracy" in lines[2]
