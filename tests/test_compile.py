"""Ahead-of-time compile check: every kernel spec compiles for sm_80 and sm_90 without spills or
over-limit shared memory (``python -m neurarust.kernels.aot``), plus unit tests of its checks."""
from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import time

import pytest

from neurarust import atomic

from neurarust.kernels import aot
from neurarust.kernels.aot import Result, check

# A guard against a runaway compile (a config that explodes compile time), not a speed target: the
# whole matrix (~1,050 compiles) takes ~160 s on 2 quiet cores, ~600 s beside the interpreter tests.
MATRIX_BUDGET_S = 900


def _parse_table(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        rows.append(dict(zip(header, cells)))
    return rows


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """The whole matrix, compiled once per test run: under pytest-xdist each worker that runs a test
    here needs it, and the first to ask compiles it while the others wait (a lock in the folder the
    workers' temporary folders share) and read its result."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base   # this run's, either way
    with open(shared / "aot-matrix.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = shared / "aot-matrix.json"
        if not saved.exists():
            atomic.write_text(saved, json.dumps(_compile_matrix(shared / "kernels-compile.md")))
        run = json.loads(saved.read_text())
    return subprocess.CompletedProcess(run["args"], run["returncode"], run["stdout"], run["stderr"]), \
        run["rows"], run["seconds"]


def _compile_matrix(table) -> dict:
    cmd = [sys.executable, "-m", "neurarust.kernels.aot", "--arch", "80", "90", "--jobs", "2", "--table", str(table)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3 * MATRIX_BUDGET_S, env=dict(os.environ))
    seconds = time.perf_counter() - start
    rows = _parse_table(table.read_text()) if table.exists() else []
    return {"args": cmd, "returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, "rows": rows,
            "seconds": seconds}


@pytest.mark.compile
def test_every_spec_compiles_clean_in_time(full_run):
    proc, rows, seconds = full_run
    assert proc.returncode == 0, f"aot failed:\n{proc.stderr[-4000:]}\n{proc.stdout[-2000:]}"
    assert rows and all(r["status"] == "ok" for r in rows)
    assert seconds < MATRIX_BUDGET_S, f"the compile matrix took {seconds:.0f} s ({proc.stdout.strip()})"


@pytest.mark.compile
def test_every_kernel_module_contributes_specs(full_run):
    _, rows, _ = full_run
    contributed = {r["module"] for r in rows if r["spec"] != "<aot_specs>"}
    missing = [m for m in aot.kernel_modules() if m not in contributed]
    assert not missing, f"*_triton modules with no compiled spec: {missing}"
    assert "elementwise_triton" in contributed


@pytest.mark.compile
def test_table_covers_both_archs_for_every_spec(full_run):
    _, rows, _ = full_run
    archs: dict[tuple, set] = {}
    for r in rows:
        archs.setdefault((r["module"], r["spec"]), set()).add(r["arch"])
    assert archs and all(a == {"sm_80", "sm_90"} for a in archs.values())


@pytest.mark.compile
def test_contiguous_fp32_elementwise_uses_128bit_loads(full_run):
    _, rows, _ = full_run
    hits = [r for r in rows if r["module"] == "elementwise_triton" and r["spec"] == "add/fp32/contig"]
    assert {r["arch"] for r in hits} == {"sm_80", "sm_90"}
    assert all(r["vec128"] == "yes" for r in hits)


@pytest.mark.compile
def test_matmul_uses_wgmma_on_sm90(full_run):
    _, rows, _ = full_run
    wgmma = {r["spec"] for r in rows if r["module"] == "matmul_triton" and r["arch"] == "sm_90" and r["wgmma"] == "yes"}
    assert {"matmul_float16_128x128x64_w4_s3_default", "matmul_bfloat16_128x128x64_w4_s3_default"} <= wgmma


@pytest.mark.compile
def test_compile_all_from_an_interpreter_process():
    """The test process runs Triton's interpreter; compile_all's spawned workers switch it off."""
    before = os.environ.get("TRITON_INTERPRET")
    results = aot.compile_all([90], jobs=1, filter="elementwise_triton:add/fp32/contig")
    assert os.environ.get("TRITON_INTERPRET") == before  # this process is left as it was
    ours = [r for r in results if r.module == "elementwise_triton"]
    assert {r.name for r in ours} == {"add/fp32/contig", "add/fp32/contig/i64"}
    assert all(r.ok and r.arch == 90 and r.vec128 and r.registers > 0 for r in ours), ours


# -- the checks themselves (no compiling) ------------------------------------------------------

def _fake(**kw) -> Result:
    base = dict(module="fake_triton", name="k", arch=90, num_warps=4, num_stages=3, registers=64, shared=1024)
    return Result(**{**base, **kw})


def test_clean_result_passes():
    assert check(_fake()) == []
    assert check(_fake(arch=80, shared=aot.SHARED_LIMITS[80])) == []


@pytest.mark.parametrize("stores, loads", [(8, 8), (4, 0), (0, 4)])
def test_any_spill_fails(stores, loads):
    problems = check(_fake(spill_stores=stores, spill_loads=loads))
    assert len(problems) == 1 and "spill" in problems[0]


@pytest.mark.parametrize("arch", [80, 90])
def test_shared_memory_over_device_limit_fails(arch):
    problems = check(_fake(arch=arch, shared=aot.SHARED_LIMITS[arch] + 1))
    assert len(problems) == 1 and "shared memory" in problems[0] and f"sm_{arch}" in problems[0]


def test_h100_fits_what_a100_does_not():
    r = _fake(shared=200_000)
    assert check(r) == [] and check(_fake(arch=80, shared=200_000)) != []


def test_compile_error_and_unknown_arch_fail():
    assert check(_fake(error="CompilationError: boom")) == ["CompilationError: boom"]
    assert "no shared-memory limit" in check(_fake(arch=75))[0]


def test_table_marks_failures_and_parses_back(tmp_path):
    results = [_fake(), _fake(arch=80, spill_stores=8, spill_loads=8), _fake(name="<aot_specs>", arch=0, error="x|y")]
    path = tmp_path / "t.md"
    atomic.write_text(path, aot.render_table(results, "triton X", "cmd"))
    assert [p.name for p in tmp_path.iterdir()] == ["t.md"]  # no temp file left behind
    rows = _parse_table(path.read_text())
    assert [r["status"] for r in rows][0] == "ok"
    assert rows[1]["status"].startswith("FAIL: spills") and rows[2]["status"] == "FAIL: x\\|y"
    assert aot.summary(results, 1.0).startswith("aot: 2 compiled, 2 failures, max registers 64")


def test_ptxas_log_parsing():
    log = ("ptxas-blackwell info    : Compiling entry function 'k' for 'sm_90a'\n"
           "    0 bytes stack frame, 16 bytes spill stores, 8 bytes spill loads\n"
           "ptxas-blackwell info    : Used 128 registers, used 0 barriers\n")
    assert aot.parse_ptxas_log(log) == (128, 16, 8)
    with pytest.raises(RuntimeError):
        aot.parse_ptxas_log("garbage")


@pytest.mark.parametrize("line, vec", [
    ("ld.global.v4.b32 { %r1, %r2, %r3, %r4 }, [ %rd1 + 0 ];", True),
    ("ld.global.nc.L1::evict_last.v4.b32 {%r1, %r2, %r3, %r4}, [%rd2];", True),
    ("ld.global.v2.b64 { %rd5, %rd6 }, [ %rd1 + 0 ];", True),
    ("ld.global.v2.b32 { %r1, %r2 }, [ %rd1 + 0 ];", False),
    ("ld.global.b32 { %r1 }, [ %rd1 + 0 ];", False),
    ("st.global.v4.b32 [ %rd1 + 0 ], { %r1, %r2, %r3, %r4 };", False),
])
def test_vec128_regex(line, vec):
    assert bool(aot._VEC128.search(line)) is vec
