"""Ahead-of-time compile check: every Triton kernel, compiled for real GPUs on a machine without one.

Each ``kernels/*_triton.py`` module exposes ``aot_specs() -> list[AotSpec]``. This tool compiles
every spec for every requested architecture with ``triton.compile`` and an explicit ``GPUTarget``,
reads registers and spills from the bundled ``ptxas -v``, shared memory from the metadata, and two
facts from the PTX (``wgmma`` tensor-core instructions, 128-bit vector global loads). It fails on a
compile error, any spill, or shared memory over the device limit, and writes a markdown table::

    python -m neurarust.kernels.aot --arch 80 90 --jobs 2 --table docs/kernels-compile.md

Compiling needs ``TRITON_INTERPRET=0`` in the process that imports Triton, while the test process
runs under the interpreter. So this module never imports Triton itself: the work happens in worker
processes started with ``spawn`` (a forked child would inherit an interpreter-mode Triton), and each
worker switches the interpreter off before its first Triton import.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import dataclasses
import importlib
import io
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from neurarust import atomic

PACKAGE = "neurarust.kernels"
KERNELS_DIR = Path(__file__).resolve().parent
# Libraries of @triton.jit helper functions with no kernel of their own: the elementwise specs
# compile every scalar function, and with them the math helpers they call.
HELPER_MODULES = frozenset({"scalar_triton", "math_triton"})
# Shared memory per block with the opt-in carve-out (NVIDIA's figures): A100, H100.
SHARED_LIMITS = {80: 166_912, 90: 232_448}

_REGISTERS = re.compile(r"Used (\d+) registers")
_SPILLS = re.compile(r"(\d+) bytes spill stores, (\d+) bytes spill loads")
_WGMMA = re.compile(r"\bwgmma\.mma_async")
# 128-bit global loads as Triton's PTX spells them: `ld.global[.nc][.L1::...][.L2::...].v4.b32`
# (fp32/fp16/bf16/int8 lanes are packed into b32 words) or `.v2.b64` (fp64/int64).
_VEC128 = re.compile(r"\bld\.global(?:\.[\w:]+)*?\.(?:v4\.[bfsu]32|v2\.[bfsu]64)\b")


@dataclasses.dataclass
class Result:
    """One spec compiled for one architecture (or a module that yielded no specs: ``arch`` 0)."""

    module: str
    name: str
    arch: int
    num_warps: int = 0
    num_stages: int = 0
    registers: int = 0
    spill_stores: int = 0
    spill_loads: int = 0
    shared: int = 0
    wgmma: bool = False
    vec128: bool = False
    seconds: float = 0.0
    error: str | None = None

    @property
    def failures(self) -> list[str]:
        return check(self)

    @property
    def ok(self) -> bool:
        return not self.failures


def check(r: Result, shared_limits: dict[int, int] = SHARED_LIMITS) -> list[str]:
    """Why ``r`` fails the check (empty when it passes): compile error, spills, shared memory."""
    if r.error is not None:
        return [r.error]
    problems = []
    if r.spill_stores or r.spill_loads:
        problems.append(f"spills {r.spill_stores} B stores / {r.spill_loads} B loads")
    limit = shared_limits.get(r.arch)
    if limit is None:
        problems.append(f"no shared-memory limit known for sm_{r.arch}")
    elif r.shared > limit:
        problems.append(f"shared memory {r.shared} B > {limit} B (sm_{r.arch})")
    return problems


def discover_modules() -> list[str]:
    """Names of the ``*_triton`` modules in the kernels package (found on disk; nothing imported)."""
    return sorted(p.stem for p in KERNELS_DIR.glob("*_triton.py"))


def kernel_modules() -> list[str]:
    """The discovered modules that must contribute specs (all but the helper libraries)."""
    return [m for m in discover_modules() if m not in HELPER_MODULES]


# ----------------------------------------------------------------------------------------------
# Worker side: runs in spawned processes with the interpreter off.
# ----------------------------------------------------------------------------------------------

_specs: dict[str, dict] = {}


def _worker_init(cache_dir: str | None) -> None:
    if "triton" in sys.modules and os.environ.get("TRITON_INTERPRET") == "1":
        raise RuntimeError("aot worker: Triton was imported in interpreter mode before the worker started")
    os.environ["TRITON_INTERPRET"] = "0"
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    # Triton's own ptxas run prints its -v log: the register and spill figures without a second run.
    os.environ["TRITON_DUMP_PTXAS_LOG"] = "1"
    if cache_dir:
        os.environ["TRITON_CACHE_DIR"] = cache_dir


def _module_specs(module: str) -> dict:
    if module not in _specs:
        mod = importlib.import_module(f"{PACKAGE}.{module}" if (KERNELS_DIR / f"{module}.py").exists() else module)
        if not hasattr(mod, "aot_specs"):
            raise LookupError(f"{module}.py has no aot_specs(): its kernels are never compile-checked")
        listed = mod.aot_specs()
        specs = {s.name: s for s in listed}
        if not specs:
            raise LookupError(f"{module}.aot_specs() returned no specs")
        if len(specs) != len(listed):
            raise LookupError(f"{module}.aot_specs() repeats spec names")
        _specs[module] = specs
    return _specs[module]


def _list_specs(module: str) -> list[str] | str:
    try:
        return list(_module_specs(module))
    except Exception as e:  # an import or spec error is a row of the report, not a crash
        return f"{type(e).__name__}: {e}"


def _ptxas_info(ptx: str, arch: int) -> tuple[int, int, int]:
    """(registers, spill store bytes, spill load bytes) from the bundled ptxas' verbose output."""
    from triton.backends.nvidia.compiler import get_ptxas, sm_arch_from_capability

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "kernel.ptx")
        src.write_text(ptx)
        # Triton's own flags (make_cubin), so the numbers are those of the cubin it ships.
        cmd = [get_ptxas(arch).path, "-v", "--regAllocOptLevel=2", f"--gpu-name={sm_arch_from_capability(arch)}",
               str(src), "-o", str(Path(tmp, "kernel.cubin"))]
        log = subprocess.run(cmd, check=True, capture_output=True, text=True).stderr
    return parse_ptxas_log(log)


def _ptxas_figures(log: str, ptx: str, arch: int) -> tuple[int, int, int]:
    """The figures from the log of Triton's own ptxas run (``TRITON_DUMP_PTXAS_LOG``), or from a run
    of our own where there is none (a kernel found in Triton's cache runs no ptxas)."""
    return parse_ptxas_log(log) if _REGISTERS.search(log) else _ptxas_info(ptx, arch)


def parse_ptxas_log(log: str) -> tuple[int, int, int]:
    """(registers, spill store bytes, spill load bytes) from ``ptxas -v`` output."""
    regs = [int(x) for x in _REGISTERS.findall(log)]
    spills = [(int(s), int(l)) for s, l in _SPILLS.findall(log)]
    if not regs:
        raise RuntimeError(f"no register count in ptxas output: {log!r}")
    return max(regs), sum(s for s, _ in spills), sum(l for _, l in spills)


def _compile(module: str, name: str, arch: int) -> Result:
    r = Result(module, name, arch)
    try:
        import triton
        from triton.backends.compiler import GPUTarget
        from triton.compiler import ASTSource

        spec = _module_specs(module)[name]
        r.num_warps, r.num_stages = spec.num_warps, spec.num_stages
        attrs = {(i,): [["tt.divisibility", 16]] for i in spec.aligned}
        start = time.perf_counter()
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            ck = triton.compile(ASTSource(spec.kernel, spec.signature, spec.constants, attrs),
                                target=GPUTarget("cuda", arch, 32),
                                options={"num_warps": spec.num_warps, "num_stages": spec.num_stages})
        r.seconds = time.perf_counter() - start
        ptx = ck.asm["ptx"]
        r.registers, r.spill_stores, r.spill_loads = _ptxas_figures(log.getvalue(), ptx, arch)
        r.shared = int(ck.metadata.shared)
        r.wgmma = bool(_WGMMA.search(ptx))
        r.vec128 = bool(_VEC128.search(ptx))
    except Exception as e:
        r.error = _describe(e)
    return r


def _describe(e: BaseException) -> str:
    """One line for the table: Triton wraps the real error (``CompilationError: at 15:13: <source>``)."""
    while e.__cause__ is not None:
        e = e.__cause__
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return f"{type(e).__name__}: {lines[-1] if lines else ''}"[:300]


def _versions() -> str:
    from triton.backends.nvidia.compiler import get_ptxas

    import triton

    ptxas = ", ".join(sorted({f"ptxas {get_ptxas(a).version}" for a in (80, 90)}))
    return f"triton {triton.__version__}, {ptxas}"


# ----------------------------------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------------------------------

def _run(pool: cf.Executor, arch_list: Sequence[int], name_filter: str | None,
         modules: Sequence[str] | None = None,
         select: Callable[[str, list[str]], list[str]] | None = None) -> list[Result]:
    modules = kernel_modules() if modules is None else list(modules)
    listed = dict(zip(modules, pool.map(_list_specs, modules)))
    results: list[Result] = []
    jobs = []
    for module, names in listed.items():
        if isinstance(names, str):
            results.append(Result(module, "<aot_specs>", 0, error=names))
            continue
        for name in select(module, names) if select else names:
            if name_filter and name_filter not in f"{module}:{name}":
                continue
            jobs += [pool.submit(_compile, module, name, arch) for arch in arch_list]
    return results + [j.result() for j in jobs]


@contextlib.contextmanager
def _workers(jobs: int, cache_dir: str | None):
    with tempfile.TemporaryDirectory(prefix="nr-aot-cache-") as tmp, \
            cf.ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_worker_init, initargs=(cache_dir or tmp,)) as pool:
        yield pool


def compile_all(arch_list: Sequence[int] = (80, 90), jobs: int = 2, filter: str | None = None, *,
                cache_dir: str | None = None, modules: Sequence[str] | None = None,
                select: Callable[[str, list[str]], list[str]] | None = None) -> list[Result]:
    """Compile every spec of every kernel module for each arch in ``arch_list``, on ``jobs`` processes.

    ``filter`` keeps specs whose ``module:name`` contains it; ``modules`` lists the modules to ask
    for specs (default: every ``*_triton`` module; a name that is not one of them is imported as it
    is, so a plugin's kernels compile too); ``select(module, names)`` returns the names of a module's specs to compile.
    ``cache_dir`` is Triton's cache for the workers (default: a fresh temporary one, so every spec is
    really compiled and timed).
    A module without ``aot_specs()`` (or failing to import) gives one failing row named ``<aot_specs>``.

    >>> rs = compile_all([90], jobs=1, filter="elementwise_triton:add/fp32/contig")  # doctest: +SKIP
    >>> [(r.arch, r.vec128, r.ok) for r in rs]  # doctest: +SKIP
    [(90, True, True), (90, True, True)]
    """
    with _workers(jobs, cache_dir) as pool:
        return _run(pool, list(arch_list), filter, modules, select)


def compile_jobs(jobs: Sequence[tuple[str, str, tuple]], arch_list: Sequence[int], workers: int = 2) -> list[Result]:
    """Compile specs built on demand: each job is ``(label, "module:function", args)``, and the
    worker calls ``function(*args) -> AotSpec`` (e.g. one autotune config of a kernel), then compiles
    it for every arch. A row's ``module`` is the label, its ``name`` the spec's name."""
    with _workers(workers, None) as pool:
        futures = [pool.submit(_compile_built, label, builder, tuple(args), arch)
                   for label, builder, args in jobs for arch in arch_list]
        return [f.result() for f in futures]


def _compile_built(label: str, builder: str, args: tuple, arch: int) -> Result:
    try:
        module, _, fn = builder.partition(":")
        spec = getattr(importlib.import_module(module), fn)(*args)
    except Exception as e:  # a spec that cannot be built is a failing row, not a crash
        return Result(label, builder, arch, error=_describe(e))
    _specs.setdefault(label, {})[spec.name] = spec
    return _compile(label, spec.name, arch)


def render_table(results: list[Result], versions: str, command: str) -> str:
    """The markdown report: one row per spec and arch."""
    lines = [
        "# Ahead-of-time compile check of the Triton kernels",
        "",
        f"Generated file, do not edit. Regenerate with `{command}` ({versions}).",
        "Every kernel spec (`aot_specs()` of each `kernels/*_triton.py`) compiled for sm_80 (A100) and",
        "sm_90 (H100) without a GPU. A row fails on a compile error, any register spill, or shared",
        f"memory over the device limit ({', '.join(f'sm_{a}: {v:,} B' for a, v in SHARED_LIMITS.items())}).",
        "`wgmma`: the PTX uses Hopper warp-group MMA; `vec128`: it has 128-bit vector global loads.",
        "",
        "| module | spec | arch | warps | stages | registers | spills (st/ld B) | shared B | wgmma | vec128 | compile s | status |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | --- |",
    ]
    yes = {True: "yes", False: "no"}
    for r in results:
        status = "ok" if r.ok else "FAIL: " + "; ".join(r.failures).replace("|", "\\|")
        if r.error is not None:
            lines.append(f"| {r.module} | {r.name} | sm_{r.arch} | | | | | | | | | {status} |")
            continue
        lines.append(f"| {r.module} | {r.name} | sm_{r.arch} | {r.num_warps} | {r.num_stages} | {r.registers} "
                     f"| {r.spill_stores}/{r.spill_loads} | {r.shared} | {yes[r.wgmma]} | {yes[r.vec128]} "
                     f"| {r.seconds:.2f} | {status} |")
    return "\n".join(lines) + "\n"


def summary(results: list[Result], seconds: float) -> str:
    compiled = [r for r in results if r.error is None]
    failed = [r for r in results if not r.ok]
    top_regs = max(compiled, key=lambda r: r.registers, default=None)
    top_shared = max(compiled, key=lambda r: r.shared, default=None)
    regs = f"{top_regs.registers} ({top_regs.module}:{top_regs.name} sm_{top_regs.arch})" if top_regs else "-"
    shared = f"{top_shared.shared} B ({top_shared.module}:{top_shared.name} sm_{top_shared.arch})" if top_shared else "-"
    return (f"aot: {len(compiled)} compiled, {len(failed)} failures, max registers {regs}, "
            f"max shared {shared}, {seconds:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neurarust.kernels.aot", description=__doc__.split("\n")[0])
    parser.add_argument("--arch", type=int, nargs="+", default=[80, 90], help="compute capabilities (80 90)")
    parser.add_argument("--jobs", type=int, default=2, help="compile processes")
    parser.add_argument("--table", help="write the markdown table here")
    parser.add_argument("--filter", help="only specs whose module:name contains this")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with _workers(args.jobs, None) as pool:
        results = _run(pool, args.arch, args.filter)
        versions = pool.submit(_versions).result()
    seconds = time.perf_counter() - start
    for r in results:
        if not r.ok:
            print(f"FAIL {r.module}:{r.name} sm_{r.arch}: {'; '.join(r.failures)}", file=sys.stderr)
    if args.table:
        command = "python -m neurarust.kernels.aot --arch " + " ".join(map(str, args.arch)) + f" --table {args.table}"
        atomic.write_text(args.table, render_table(results, versions, command))
    print(summary(results, seconds))
    return 1 if any(not r.ok for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
