"""The search Triton kernel (searchsorted, bucketize), and its launcher.

One lane per value: it bisects its row of the sorted sequence (row ``v // K`` of ``N`` elements;
a 1-D sequence is one row that every value shares, ``K = T``) exactly as PyTorch's CPU and CUDA
code does, so results agree even where NaN makes a row unsorted. Every lane runs ``ITERS =
bit_length(N)`` steps, enough to close any interval of ``N``; a lane whose interval is already
empty loads nothing. With a sorter, step ``i`` reads ``seq[row + sorter[row + mid]]``.
"""
from __future__ import annotations

import neurarust.launch as L
from neurarust import dtype as _dt
from neurarust.launch import tl, triton

from .reduction import acc_dtype

BLOCK = 1024


@triton.jit
def search_kernel(seq_ptr, val_ptr, sorter_ptr, out_ptr, T, N, K, ITERS,
                  RIGHT: tl.constexpr, HAS_SORTER: tl.constexpr, CMP: tl.constexpr, IDX: tl.constexpr,
                  BLOCK: tl.constexpr):
    T = tl.cast(T, IDX)
    N = tl.cast(N, IDX)
    K = tl.cast(K, IDX)
    offs = tl.program_id(0).to(IDX) * BLOCK + tl.arange(0, BLOCK).to(IDX)
    mask = offs < T
    v = tl.load(val_ptr + offs, mask=mask, other=0).to(CMP)  # fp16/bf16 compare exactly in fp32
    row = (offs // K) * N
    lo = tl.zeros([BLOCK], IDX)
    hi = lo + N
    for _ in range(0, ITERS):
        active = mask & (lo < hi)
        mid = lo + ((hi - lo) >> 1)
        pos = mid
        if HAS_SORTER:
            pos = tl.load(sorter_ptr + row + mid, mask=active, other=0).to(IDX)
        m = tl.load(seq_ptr + row + pos, mask=active, other=0).to(CMP)
        # PyTorch's tests, NaN included: every comparison with NaN is false, so NaN sends a lane right.
        if RIGHT:
            stop = m > v
        else:
            stop = m >= v
        lo = tl.where(active & (stop == 0), mid + 1, lo)
        hi = tl.where(active & (stop != 0), mid, hi)
    tl.store(out_ptr + offs, lo.to(out_ptr.dtype.element_ty), mask=mask)


def launch(out, seq, values, right: bool, sorter=None) -> None:
    """Search contiguous ``values`` in the rows of contiguous ``seq`` (same dtype) into contiguous
    ``out`` (int64 or int32, the values' shape); ``sorter`` is None or contiguous int64 of ``seq``'s
    shape with indices checked in range."""
    T = values.numel()
    if T == 0:
        return
    n = seq.shape[-1]
    k = T if seq.ndim == 1 else values.shape[-1]
    big = max(T, seq.numel()) > L.INT32_MAX
    with L.on_device(out):
        search_kernel[(triton.cdiv(T, BLOCK),)](
            L.pointer(seq), L.pointer(values), L.pointer(sorter if sorter is not None else seq), L.pointer(out),
            T, n, k, n.bit_length(), RIGHT=bool(right), HAS_SORTER=sorter is not None,
            CMP=L.TL_DTYPES[acc_dtype(seq.dtype).name], IDX=tl.int64 if big else tl.int32, BLOCK=BLOCK, num_warps=4)
    L.count("search")


_AOT_DTYPES = (_dt.float32, _dt.bfloat16, _dt.float64, _dt.int64, _dt.uint8)


def aot_specs() -> list:
    """Left and right searches per dtype class into int64; a sorter; int32 results; int64 offsets."""
    def spec(src, right=False, sorter=False, out=_dt.int64, idx="i32"):
        sig = {"seq_ptr": f"*{src.triton_name}", "val_ptr": f"*{src.triton_name}", "sorter_ptr": "*i64",
               "out_ptr": f"*{out.triton_name}", "T": idx, "N": idx, "K": idx, "ITERS": "i32"}
        sig.update({name: "constexpr" for name in ("RIGHT", "HAS_SORTER", "CMP", "IDX", "BLOCK")})
        constants = {"RIGHT": right, "HAS_SORTER": sorter, "CMP": L.TL_DTYPES[acc_dtype(src).name],
                     "IDX": tl.int64 if idx == "i64" else tl.int32, "BLOCK": BLOCK}
        name = (f"search_{src.triton_name}_{'right' if right else 'left'}" + ("_sorter" if sorter else "")
                + f"_{out.triton_name}" + ("_i64idx" if idx == "i64" else ""))
        return L.AotSpec(name, search_kernel, sig, constants, aligned=(0, 1, 2, 3), num_warps=4)

    specs = [spec(src) for src in _AOT_DTYPES]
    specs += [spec(_dt.float32, right=True), spec(_dt.float32, sorter=True), spec(_dt.int64, out=_dt.int32),
              spec(_dt.float32, idx="i64")]
    return specs
