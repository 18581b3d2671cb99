"""The arange Triton kernel: ``out[i] = start + i * step``.

Each program writes one block of indices. The values are computed in float64, float32 or int64
(``COMPUTE``, as torch does for the output dtype) and stored in the output's dtype; ``start`` and
``step`` are runtime float64/int64 scalars so one compiled kernel serves every range.
"""
from __future__ import annotations

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust.launch import tl, triton

from .creation import compute_dtype


@triton.jit(do_not_specialize=["start_f", "step_f", "start_i", "step_i"])
def arange_kernel(out_ptr, n, start_f: tl.float64, step_f: tl.float64, start_i: tl.int64, step_i: tl.int64,
                  COMPUTE: tl.constexpr, INTEGER: tl.constexpr, IDX: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0).to(IDX)
    idx = pid * BLOCK + tl.arange(0, BLOCK).to(IDX)
    mask = idx < n
    if INTEGER:
        # int64 arithmetic wraps like C for huge ranges; narrower outputs then wrap on the store.
        value = start_i + idx.to(tl.int64) * step_i
    else:
        # Round start and step to COMPUTE first, as torch does (splatted: the interpreter passes
        # scalar arguments as Python floats, which have no .to).
        lanes = tl.zeros([BLOCK], dtype=tl.float64)
        value = (lanes + start_f).to(COMPUTE) + idx.to(COMPUTE) * (lanes + step_f).to(COMPUTE)
    tl.store(out_ptr + idx, value.to(out_ptr.dtype.element_ty), mask=mask)


DEFAULT_BLOCK = 1024


def launch_arange(out, start, step, *, block: int = DEFAULT_BLOCK) -> None:
    """Fill contiguous 1-D ``out`` with ``start + i * step`` (ints for integer outputs, else floats)."""
    n = out.numel()
    if n == 0:
        return
    c = compute_dtype(out.dtype)
    integer = c.kind == "i"
    with L.on_device(out):
        arange_kernel[(triton.cdiv(n, block),)](
            L.pointer(out), n, 0.0 if integer else float(start), 0.0 if integer else float(step),
            int(start) if integer else 0, int(step) if integer else 0,
            COMPUTE=L.TL_DTYPES[c.name], INTEGER=integer, IDX=L.index_dtype((n,), (1,)), BLOCK=block,
        )
    L.count("arange")


_AOT_OUTPUTS = (_dt.float32, _dt.float64, _dt.float16, _dt.bfloat16, _dt.int8, _dt.uint8, _dt.int16, _dt.int32,
                _dt.int64)


def aot_specs() -> list[L.AotSpec]:
    """arange for every output dtype, with int32 indices (and int64 for float32)."""
    specs = []
    for d in _AOT_OUTPUTS:
        c, ptr = compute_dtype(d), d.triton_name
        for wide in (False, True) if d is _dt.float32 else (False,):
            constants = {"COMPUTE": L.TL_DTYPES[c.name], "INTEGER": c.kind == "i",
                         "IDX": tl.int64 if wide else tl.int32, "BLOCK": DEFAULT_BLOCK}
            signature = {"out_ptr": f"*{ptr}", "n": "i64" if wide else "i32", "start_f": "fp64", "step_f": "fp64",
                         "start_i": "i64", "step_i": "i64", **{k: "constexpr" for k in constants}}
            specs.append(L.AotSpec(f"arange/{ptr}{'/i64' if wide else ''}", arange_kernel, signature, constants,
                                   aligned=(0,)))
    return specs
