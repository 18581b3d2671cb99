"""``neurarust check`` and ``neurarust tune``, end to end in subprocesses (``python -m neurarust``).

Without a GPU, check runs the kernels through Triton's interpreter and tune can only prune configs
ahead of time; the GPU tuning path runs in-process with a fake timer standing in for the GPU.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

PLUGIN = '''
"""Two ops for the CLI tests: ``cli_double`` (right) and ``cli_double_broken`` (adds 1 by mistake)."""
import numpy as np

import neurarust as nr
import neurarust.launch as L
from neurarust import dtype as dt
from neurarust.launch import tl, triton
from neurarust.registry import Op, Sample, register


@triton.jit
def double_kernel(x_ptr, out_ptr, n, BUG: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(out_ptr + offs, x * 2 + BUG, mask=mask)


def launch_right(out, x):
    double_kernel[(triton.cdiv(x.numel(), 128),)](L.pointer(x), L.pointer(out), x.numel(), BUG=0, BLOCK=128)


def launch_broken(out, x):
    double_kernel[(triton.cdiv(x.numel(), 128),)](L.pointer(x), L.pointer(out), x.numel(), BUG=1, BLOCK=128)


def frontend(op, input):
    x = input.contiguous()
    if nr.backends.for_device(x.device) == "triton":
        out = nr.empty_like(x)
        op.launcher()(out, x)
        return out
    return nr.from_numpy(op.reference(x.detach().numpy()))


for name, fn in (("cli_double", "launch_right"), ("cli_double_broken", "launch_broken")):
    register(Op(name=name, kind="elementwise", frontend=frontend, reference=lambda x: x * 2,
                triton=f"{__name__}:{fn}", dtypes=(dt.float32,),
                samples=lambda d: [Sample((np.linspace(-3.0, 3.0, 7),), name="ramp")],
                differentiable=("input",), backward=lambda grad: (grad * 2,), method=False))
'''


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "cli_test_kernels.py").write_text(PLUGIN)
    return d


def neurarust(*argv, cwd, env=None, timeout=300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "NEURARUST_TUNE_CACHE": str(cwd / "tune.json"), **(env or {})}
    full_env.pop("NEURARUST_BACKEND", None)
    return subprocess.run([sys.executable, "-m", "neurarust", *argv], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout)


def table_rows(stdout: str) -> list[list[str]]:
    """The rows of the printed table, split on runs of two or more spaces."""
    import re

    lines = stdout.strip().splitlines()
    body = lines[2:lines.index("")] if "" in lines else lines[2:]
    return [re.split(r"\s{2,}", line.strip()) for line in body]


# -- check -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def checked(workdir):
    proc = neurarust("check", "--ops", "add,relu", "--dtypes", "float32", "--grad", "--json", "check.json",
                     cwd=workdir)
    return proc, json.loads((workdir / "check.json").read_text()) if (workdir / "check.json").exists() else None


def test_check_prints_a_table_of_every_sample_and_exits_0(checked):
    proc, _ = checked
    assert proc.returncode == 0, proc.stderr
    header = proc.stdout.splitlines()[0].split()
    assert header[:3] == ["op", "pass", "dtype"] and "tolerance" in header and "backend" in header
    rows = table_rows(proc.stdout)
    assert {r[0] for r in rows} == {"add", "relu"}
    assert all("PASS" in r and "triton interpreter" in r for r in rows)
    assert "0 failed" in proc.stdout


def test_check_json_holds_the_same_rows(checked):
    proc, doc = checked
    assert doc["command"] == "check" and doc["summary"]["fail"] == 0
    assert len(doc["rows"]) == len(table_rows(proc.stdout))
    row = doc["rows"][0]
    assert {"op", "dtype", "shape", "max_abs", "max_rel", "rtol", "atol", "status", "backend"} <= set(row)
    assert all(r["max_abs"] <= r["atol"] + r["rtol"] for r in doc["rows"] if r["status"] == "PASS" and r["max_abs"] < 1)


def test_check_grad_adds_backward_rows(checked):
    _, doc = checked
    backward = [r for r in doc["rows"] if r["check"] == "backward"]
    assert {r["op"] for r in backward} == {"add", "relu"}
    assert all(r["status"] == "PASS" for r in backward)


def test_broken_kernel_from_a_plugin_fails_with_status_1(workdir):
    proc = neurarust("check", "--plugin", "cli_test_kernels.py", "--ops", "cli_double,cli_double_broken",
                     "--json", "plugin.json", cwd=workdir)
    assert proc.returncode == 1, proc.stderr
    status = {r["op"]: r["status"] for r in json.loads((workdir / "plugin.json").read_text())["rows"]}
    assert status == {"cli_double": "PASS", "cli_double_broken": "FAIL"}
    broken = [r for r in table_rows(proc.stdout) if r[0] == "cli_double_broken"][0]
    assert "FAIL" in broken and any("out of tolerance" in cell for cell in broken)


def test_check_compile_reports_registers_spills_and_shared_memory(workdir):
    proc = neurarust("check", "--compile", "sm_90", "--ops", "one_hot", "--jobs", "1", "--json", "compile.json",
                     cwd=workdir)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    rows = json.loads((workdir / "compile.json").read_text())["rows"]
    assert rows and all(r["target"] == "sm_90" and r["status"] == "PASS" for r in rows)
    assert all(r["registers"] > 0 and r["spill_stores"] == 0 and r["shared_bytes"] >= 0 for r in rows)
    assert "registers" in proc.stdout.splitlines()[0]


def test_check_compile_fails_a_plugin_without_aot_specs(workdir):
    proc = neurarust("check", "--plugin", "cli_test_kernels.py", "--compile", "sm_90", "--ops", "cli_double",
                     "--jobs", "1", cwd=workdir)
    assert proc.returncode == 1
    assert "cli_test_kernels.py has no aot_specs()" in proc.stdout


# -- tune without a GPU ----------------------------------------------------------------------------

def test_tune_compile_only_writes_the_pruned_configs(workdir):
    proc = neurarust("tune", "--compile-only", "--target", "sm_90", "--ops", "mm", "--dtype", "float64",
                     "--out", "pruned.json", "--jobs", "1", cwd=workdir)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    doc = json.loads((workdir / "pruned.json").read_text())
    assert doc["target"] == "sm_90" and doc["kept"]["mm"]["float64"]
    assert all({"BLOCK_M", "BLOCK_N", "BLOCK_K", "num_warps"} <= set(c) for c in doc["kept"]["mm"]["float64"])
    assert "kept" in proc.stdout


def test_tune_without_a_gpu_says_so_and_exits_2(workdir):
    proc = neurarust("tune", "--ops", "mm", cwd=workdir)
    assert proc.returncode == 2
    assert "tuning needs a GPU" in proc.stderr and "--compile-only" in proc.stderr


def _entry(key: str, block: int) -> dict:
    return {key: {"config": {"BLOCK_M": block, "num_warps": 4}, "ms": 0.5}}


def test_cache_import_show_export_clear(workdir, tmp_path):
    cache = tmp_path / "cache.json"
    src = tmp_path / "tuned.json"
    src.write_text(json.dumps({"version": 1, "entries": _entry("NVIDIA H100|3.6.0|abc|matmul|float16|1024", 64)}))
    assert neurarust("tune", "--cache", str(cache), "--import", str(src), cwd=workdir).returncode == 0
    shown = neurarust("tune", "--cache", str(cache), "--show", cwd=workdir)
    assert shown.returncode == 0 and "matmul" in shown.stdout and "BLOCK_M=64 w4" in shown.stdout
    assert "1 tuned configs" in shown.stdout
    out = tmp_path / "exported.json"
    assert neurarust("tune", "--cache", str(cache), "--export", str(out), cwd=workdir).returncode == 0
    assert json.loads(out.read_text())["entries"] == json.loads(src.read_text())["entries"]
    cleared = neurarust("tune", "--cache", str(cache), "--clear", cwd=workdir)
    assert cleared.returncode == 0 and "cleared 1" in cleared.stdout and not cache.exists()
    assert "0 tuned configs" in neurarust("tune", "--cache", str(cache), "--show", cwd=workdir).stdout


ERROR_PATHS = [
    (["check", "--ops", "no_such_op"], "no op named 'no_such_op'"),
    (["check", "--dtypes", "float8"], "unknown dtype 'float8'"),
    (["check", "--ops", "add", "--shapes", "large"], "--shapes large is refused without a GPU"),
    (["check", "--compile", "sm_70", "--ops", "add"], "unknown compile target 'sm_70'"),
    (["check", "--plugin", "no_such_module"], "cannot load plugin 'no_such_module'"),
    (["check", "--plugin", "missing.py"], "no such file"),
    (["check", "--ops", "einsum", "--compile", "sm_90"], "no Triton launcher of their own"),
    (["check", "--shapes", "huge"], "invalid choice: 'huge'"),
    (["tune", "--target", "sm_90"], "--target only goes with --compile-only"),
    (["tune", "--compile-only"], "--compile-only needs --target"),
    (["tune", "--compile-only", "--target", "sm_90,sm_80"], "one target at a time"),
    (["tune", "--compile-only", "--target", "sm_90", "--ops", "add"], "has per-config compile specs"),
    (["tune", "--import", "missing.json"], "no such file"),
    (["tune", "--import", "not_a_tune_file.json"], "is not a NeuraRust tune file"),
    (["tune", "--show", "--clear"], "not allowed with argument --show"),
    (["nonsense"], "invalid choice: 'nonsense'"),
]


@pytest.mark.parametrize("argv, message", ERROR_PATHS, ids=[" ".join(a) for a, _ in ERROR_PATHS])
def test_error_path_exits_2_with_its_message(workdir, argv, message):
    (workdir / "not_a_tune_file.json").write_text('{"entries": [1, 2]}')
    proc = neurarust(*argv, cwd=workdir)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr


# -- tune on a (fake) GPU, and the cache read path -------------------------------------------------

@pytest.fixture
def fake_gpu(monkeypatch, tmp_path):
    """The GPU tuning path on CPU tensors: the interpreter runs the kernels, a fake timer ranks the
    configs (the one with the largest BLOCK_M * BLOCK_N wins), launchers take the GPU code path."""
    from neurarust import autotune
    from neurarust import launch as L
    from neurarust.cli import tune

    monkeypatch.setenv("NEURARUST_TUNE_CACHE", str(tmp_path / "tune.json"))
    monkeypatch.setattr(L, "INTERPRET", False)
    monkeypatch.setattr(autotune, "can_time", lambda: True)
    monkeypatch.setattr(tune, "DEVICE", "cpu")
    monkeypatch.setattr(tune, "_require_gpu", lambda: None)
    monkeypatch.setattr(tune, "_gpu_name", lambda: "NVIDIA H100 80GB HBM3")
    launched = []
    from neurarust.kernels import matmul_triton as MT

    run = MT._run
    monkeypatch.setattr(MT, "_run", lambda c, a, b, cfg, *rest: (launched.append(dict(cfg)), run(c, a, b, cfg, *rest)))

    def timer(fn):
        before = len(launched)
        fn()
        if len(launched) == before:  # not a matmul (a reduction): every config ties, the first wins
            return 1.0
        return 1.0 / (launched[-1]["BLOCK_M"] * launched[-1]["BLOCK_N"])

    monkeypatch.setattr(autotune, "_do_bench", timer)
    autotune.clear(disk=False)
    yield launched
    autotune.clear(disk=False)


def test_tune_times_every_config_and_stores_the_fastest(fake_gpu, tmp_path, capsys):
    from neurarust import autotune
    from neurarust.cli import main
    from neurarust.registry import get

    assert main(["tune", "--ops", "mm", "--dtype", "float32", "--shapes", "small"]) == 0
    out = capsys.readouterr().out
    entries = json.loads((tmp_path / "tune.json").read_text())["entries"]
    assert entries and all("|matmul|float32|" in k for k in entries)
    from neurarust.kernels.matmul_triton import fitted_spec

    configs = fitted_spec(get("mm").tune, 4).configs
    best = max(configs, key=lambda c: c["BLOCK_M"] * c["BLOCK_N"])
    assert all(e["config"] == best for e in entries.values())
    assert "TFLOP/s" in out or "GB/s" in out
    assert "%" in out and f"{len(entries)} tuned configs written to {autotune.cache_path()}" in out, out


def test_tune_times_only_the_configs_compile_only_kept(fake_gpu, tmp_path):
    from neurarust.cli import main
    from neurarust.kernels.matmul_triton import fitted_spec
    from neurarust.registry import get

    keep = fitted_spec(get("mm").tune, 4).configs[-1]  # the smallest tile: never the fake timer's pick otherwise
    kept = tmp_path / "kept.json"
    kept.write_text(json.dumps({"target": "sm_90", "kept": {"mm": {"float32": [keep]}}, "dropped": []}))
    assert main(["tune", "--ops", "mm", "--dtype", "float32", "--shapes", "small", "--configs", str(kept)]) == 0
    assert fake_gpu and all(cfg == keep for cfg in fake_gpu)
    entries = json.loads((tmp_path / "tune.json").read_text())["entries"]
    assert entries and all(e["config"] == keep for e in entries.values())


def test_tune_times_the_reduction_configs_and_keeps_the_best(fake_gpu, capsys):
    from neurarust.cli import main

    assert main(["tune", "--ops", "sum", "--dtype", "float32", "--shapes", "small"]) == 0
    out = capsys.readouterr().out
    assert "not autotuned" not in out
    assert any(line.startswith("sum") and "reduction" in line and "BLOCK_M" in line for line in out.splitlines()), out


def test_tune_refuses_a_configs_file_it_cannot_read(fake_gpu, tmp_path, capsys):
    from neurarust.cli import main

    (tmp_path / "bad.json").write_text("[]")
    assert main(["tune", "--ops", "mm", "--configs", str(tmp_path / "bad.json")]) == 2
    assert "is not a file written by tune --compile-only" in capsys.readouterr().err


def test_a_cached_config_is_launched_without_timing(fake_gpu, monkeypatch):
    import numpy as np

    import neurarust as nr
    from neurarust import autotune
    from neurarust.kernels.matmul_triton import KERNEL_SOURCE

    cached = {"BLOCK_M": 16, "BLOCK_N": 32, "BLOCK_K": 16, "GROUP_M": 1, "num_warps": 2, "num_stages": 1}
    key = autotune.make_key("matmul", ("float32", "ieee", 16, 8, 32), KERNEL_SOURCE)
    autotune.store(key, cached, 0.1)
    autotune.clear(disk=False)  # as in a new process: only the file knows

    def no_timing(fn):
        raise AssertionError("a cached config was timed again")

    monkeypatch.setattr(autotune, "_do_bench", no_timing)
    a, b = np.ones((12, 30), np.float32), np.ones((30, 5), np.float32)
    with nr.backends.using("triton"):
        got = nr.from_numpy(a) @ nr.from_numpy(b)
    np.testing.assert_allclose(got.numpy(), a @ b)
    assert fake_gpu == [cached]


def test_tune_from_model_records_forward_and_backward_shapes(tmp_path):
    from neurarust.cli.recording import record_model

    model = tmp_path / "model.py"
    model.write_text(textwrap.dedent("""
        import neurarust as nr
        model = nr.nn.Sequential(nr.nn.Linear(6, 5), nr.nn.ReLU(), nr.nn.Linear(5, 3))
        example_input = nr.randn(4, 6)
    """))
    calls = record_model(str(model), device="cpu")
    matmuls = {tuple(a.shape for a in s.args) for op, s, _ in calls if op.name == "matmul"}
    assert {((4, 6), (6, 5)), ((4, 5), (5, 3))} <= matmuls  # the forward's
    assert {((4, 3), (3, 5)), ((3, 4), (4, 5))} <= matmuls  # the backward's: grad @ W and grad.T @ x
    assert all(d.name == "float32" for _, _, d in calls)


def test_compile_only_drops_configs_that_spill(monkeypatch):
    from neurarust.cli import tune_compile
    from neurarust.kernels import aot
    from neurarust.registry import get

    def fake_compile(jobs, arch_list, workers=2):
        return [aot.Result(label, "spec", arch_list[0], registers=255, spill_stores=8 if i == 0 else 0, shared=1)
                for i, (label, _, _) in enumerate(jobs)]

    monkeypatch.setattr(aot, "compile_jobs", fake_compile)
    kept, dropped, _ = tune_compile.prune([get("mm")], ["float16"], 90)
    configs = get("mm").tune.configs
    assert len(kept["mm"]["float16"]) == len(configs) - 1
    assert dropped == [{"op": "mm", "dtype": "float16", "config": configs[0], "reason": "spills 8 B stores / 0 B loads"}]
