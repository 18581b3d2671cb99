"""`import neurarust` and CPU work need only the light core dependencies (NumPy, ml_dtypes,
safetensors): torch and Triton are imported on first GPU or Triton use, never before."""
from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCK_HEAVY = textwrap.dedent("""
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "triton"):
                raise ImportError(f"{name} is blocked in this test")
            return None
    sys.meta_path.insert(0, Block())
""")


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_HEAVY + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)


def test_cpu_ops_run_without_torch_or_triton():
    result = run("""
        import neurarust as nr
        x = nr.tensor([[1.0, 2.0], [3.0, 4.0]])
        y = (x * 2 + 1).exp().t().contiguous()
        assert y.shape == (2, 2) and abs(y[1, 0].item() - 148.4131591025766) < 1e-3
        assert nr.cuda.is_available() is False
        print("ok")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_import_does_not_load_torch_or_triton():
    result = subprocess.run([sys.executable, "-c",
                             "import sys, neurarust as nr; nr.ones(3) + 1; "
                             "print(sorted(m for m in ('torch', 'triton') if m in sys.modules))"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_triton_backend_without_triton_raises_a_clear_import_error():
    result = run("""
        import neurarust as nr
        try:
            with nr.backends.using("triton"):
                nr.ones(3) + 1
        except ImportError as e:
            print("ImportError", e)
    """)
    assert "ImportError" in result.stdout and "neurarust[gpu]" in result.stdout, result.stderr


def test_compiled_training_runs_without_torch_or_triton(tmp_path):
    result = run(f"""
        import os
        os.environ["NEURARUST_CACHE"] = {str(tmp_path)!r}
        import neurarust as nr
        model = nr.nn.Sequential(nr.nn.Linear(4, 8), nr.nn.ReLU(), nr.nn.Linear(8, 2))
        fast = nr.compile(model)
        for _ in range(3):
            fast(nr.randn(5, 4)).sum().backward()
        assert fast.stats["replays"] == 1
        print("ok")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
