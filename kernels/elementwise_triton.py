"""The one elementwise Triton kernel, and its launcher.

Every elementwise op (add, exp, where, eq, cast, copy, ...) is this kernel with a different scalar
function ``FN`` passed as a ``tl.constexpr`` jit function. The kernel:

1. maps each program's block of linear indices to element offsets in the output and up to three
   inputs (a contiguous fast path, or a 4-D strided walk that also expresses broadcasting through
   zero strides);
2. loads the inputs, converts them to the compute dtype (fp16/bf16 compute in fp32);
3. applies ``FN(a, b, c)`` and stores the result converted to the output's dtype.

Offsets are int32 unless the launcher sees an element offset past 2**31 (``IDX`` = int64).
"""
from __future__ import annotations

import importlib

import neurarust.launch as L
from neurarust.launch import tl, triton
from neurarust import shape as _sh

from neurarust import dtype as _dt

from . import scalar_triton
from .elementwise import kernel_dtype

MAX_DIMS = 4


@triton.jit
def unravel4(idx, s1, s2, s3):
    """The 4-D index ``(i0, i1, i2, i3)`` of flat ``idx`` in a row-major block of sizes (., s1, s2, s3)."""
    i3 = idx % s3
    rest = idx // s3
    i2 = rest % s2
    rest = rest // s2
    i1 = rest % s1
    i0 = rest // s1
    return i0, i1, i2, i3


@triton.jit
def _offsets(idx, s1, s2, s3, st0, st1, st2, st3, CONTIGUOUS: tl.constexpr):
    if CONTIGUOUS:
        return idx
    i0, i1, i2, i3 = unravel4(idx, s1, s2, s3)
    return i0 * st0 + i1 * st1 + i2 * st2 + i3 * st3


@triton.jit
def elementwise_kernel(out_ptr, a_ptr, b_ptr, c_ptr, n, s1, s2, s3,
                       o0, o1, o2, o3, a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3,
                       FN: tl.constexpr, NUM_IN: tl.constexpr, COMPUTE: tl.constexpr,
                       CONTIGUOUS: tl.constexpr, IDX: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0).to(IDX)
    idx = pid * BLOCK + tl.arange(0, BLOCK).to(IDX)
    mask = idx < n
    a = tl.load(a_ptr + _offsets(idx, s1, s2, s3, a0, a1, a2, a3, CONTIGUOUS), mask=mask).to(COMPUTE)
    b = a
    c = a
    if NUM_IN >= 2:
        b = tl.load(b_ptr + _offsets(idx, s1, s2, s3, b0, b1, b2, b3, CONTIGUOUS), mask=mask).to(COMPUTE)
    if NUM_IN >= 3:
        c = tl.load(c_ptr + _offsets(idx, s1, s2, s3, c0, c1, c2, c3, CONTIGUOUS), mask=mask).to(COMPUTE)
    result = FN(a, b, c)
    out_ty = out_ptr.dtype.element_ty
    if out_ty.is_fp16() or out_ty.is_bf16():
        result = result.to(tl.float32)  # integers reach halves through fp32 (direct int->bf16 is wrong in the interpreter)
    out_offs = _offsets(idx, s1, s2, s3, o0, o1, o2, o3, CONTIGUOUS)
    tl.store(out_ptr + out_offs, result.to(out_ty), mask=mask)


DEFAULT_BLOCK = 1024


def scalar_function(name: str):
    """The jit function an entry names: ``"add"`` is ``scalar_triton.add``; ``"unary_triton.sin"`` is
    ``neurarust.kernels.unary_triton.sin`` (families keep their scalar functions in their own file)."""
    module, _, fn = name.rpartition(".")
    if not module:
        return getattr(scalar_triton, fn)
    return getattr(importlib.import_module(f"neurarust.kernels.{module}"), fn)


def num_warps(contiguous: bool, idx) -> int:
    """Warps per program. The strided int64 walk (64-bit div/mod for every operand) needs 8 warps, i.e.
    4 elements per thread: with 4 warps ptxas caps it at 128 registers and spills on sm_80."""
    return 8 if not contiguous and idx == tl.int64 else 4


def collapsed(out, inputs) -> tuple[list, list]:
    """The walk over ``out``'s elements with ``inputs`` broadcast to it: sizes, and strides per tensor
    (``out`` first), with dims merged wherever every tensor allows it."""
    shape = out.shape
    strides = [out.stride()] + [_sh.broadcast_strides(t.shape, t.stride(), shape) for t in inputs]
    return _sh.collapse_dims(shape, *strides)


def padded_4d(cshape, cstrides) -> tuple[list, list]:
    """A walk of at most 4 dims as exactly 4 (leading size-1 dims of stride 0), as the kernels take it."""
    pad = MAX_DIMS - len(cshape)
    return [1] * pad + list(cshape), [[0] * pad + list(st) for st in cstrides]


def launch(out, inputs, fn_name: str, compute_dtype, *, block: int | None = None, index_dtype=None) -> None:
    """Write ``FN(*inputs)`` into ``out`` (inputs already broadcastable to ``out.shape``).

    ``compute_dtype`` is a NeuraRust dtype; ``index_dtype`` forces tl.int32/tl.int64 (tests use it).
    """
    n = out.numel()
    if n == 0:
        return
    shape = out.shape
    cshape, cstrides = collapsed(out, inputs)
    if len(cshape) > MAX_DIMS:
        # Rare (a tensor whose dims cannot merge): walk the leading dim on the host.
        expanded = [t.expand(shape) for t in inputs]
        for i in range(shape[0]):
            launch(out[i], [t[i] for t in expanded], fn_name, compute_dtype, block=block, index_dtype=index_dtype)
        return
    contiguous = len(cshape) <= 1 and all(st == [1] or not st for st in cstrides)
    dims, padded = padded_4d(cshape, cstrides)
    while len(padded) < 4:
        padded.append(padded[1] if len(padded) > 1 else padded[0])
    idx = index_dtype or L.index_dtype(dims, *padded)
    ptrs = [L.pointer(out)] + [L.pointer(t) for t in inputs]
    while len(ptrs) < 4:
        ptrs.append(ptrs[1])
    block = block or DEFAULT_BLOCK
    grid = (triton.cdiv(n, block),)
    with L.on_device(out):
        elementwise_kernel[grid](
            *ptrs, n, dims[1], dims[2], dims[3], *padded[0], *padded[1], *padded[2], *padded[3],
            FN=scalar_function(fn_name), NUM_IN=len(inputs), COMPUTE=L.TL_DTYPES[compute_dtype.name],
            CONTIGUOUS=contiguous, IDX=idx, BLOCK=block, num_warps=num_warps(contiguous, idx),
        )
    L.count(f"elementwise:{fn_name}")


# ----------------------------------------------------------------------------------------------
# Ahead-of-time compile specs: `python -m neurarust.kernels.aot` compiles them for sm_80/sm_90.
# ----------------------------------------------------------------------------------------------

# dtype class -> (pointer type, compute dtype): halves compute in fp32, bool in int8, as `launch` does.
_AOT_DTYPES = {d.triton_name: ("*" + d.triton_name, L.TL_DTYPES[kernel_dtype(d).name])
               for d in (_dt.float32, _dt.float16, _dt.bfloat16, _dt.float64, _dt.int32, _dt.int64, _dt.int8,
                         _dt.bool_)}
# Scalar functions that only make sense on integers (bit tests, integer division).
_AOT_INT_ONLY = frozenset({"ipow", "div_trunc_int", "div_floor_int"})


def _aot_spec(name: str, dtype: str, fn, *, contiguous: bool = True, wide: bool = False,
              num_in: int = 2) -> L.AotSpec:
    ptr, compute = _AOT_DTYPES[dtype]
    idx = tl.int64 if wide else tl.int32
    constants = {"FN": fn, "NUM_IN": num_in, "COMPUTE": compute, "CONTIGUOUS": contiguous, "IDX": idx,
                 "BLOCK": DEFAULT_BLOCK}
    scalar = "i64" if wide else "i32"
    signature = {arg: "constexpr" if arg in constants else ptr if arg.endswith("_ptr") else scalar
                 for arg in elementwise_kernel.arg_names}
    # The JIT marks fresh (16-byte aligned) pointers and ints divisible by 16. With n % 16 == 0 the
    # mask is uniform over 16 lanes, which is what lets contiguous loads become 128-bit vectors;
    # other sizes compile a variant with scalar loads.
    return L.AotSpec(name, elementwise_kernel, signature, constants, aligned=(0, 1, 2, 3, 4),
                     num_warps=num_warps(contiguous, idx))


def _scalar_functions() -> dict:
    return {name: obj for name, obj in vars(scalar_triton).items()
            if isinstance(obj, triton.runtime.KernelInterface) and obj.fn.__module__ == scalar_triton.__name__}


def aot_specs() -> list[L.AotSpec]:
    """The elementwise kernel's compile matrix: `add` for every dtype class on the contiguous and the
    strided path, the int64-offset variants, and every scalar function (fp32, or int32 if int-only)."""
    specs = []
    for dtype in _AOT_DTYPES:
        specs.append(_aot_spec(f"add/{dtype}/contig", dtype, scalar_triton.add))
        specs.append(_aot_spec(f"add/{dtype}/strided", dtype, scalar_triton.add, contiguous=False))
    specs.append(_aot_spec("add/fp32/contig/i64", "fp32", scalar_triton.add, wide=True))
    for dtype in ("fp32", "fp64"):
        specs.append(_aot_spec(f"add/{dtype}/strided/i64", dtype, scalar_triton.add, contiguous=False, wide=True))
    for name, fn in _scalar_functions().items():
        dtype = "i32" if name in _AOT_INT_ONLY else "fp32"
        specs.append(_aot_spec(f"fn/{name}/{dtype}", dtype, fn, num_in=3))
    return specs
