"""Matrix products: ``matmul``, ``mm`` and ``bmm``, all run by the one matmul Triton kernel.

The three entries share a front end that checks shapes and dtypes as PyTorch does, plans the
product as a batch of ``(M, K) @ (K, N)`` matrices (1-D operands gain a unit dim, batch dims
broadcast through stride-0 views, nothing is copied), and runs the NumPy reference or the kernel.
Floating dtypes only: fp16/bf16 accumulate in fp32 and round once at the end.

``allow_tf32`` (default False, like ``torch.backends.cuda.matmul.allow_tf32``) lets fp32 products
use TF32 tensor cores on the GPU: faster, with ~1e-3 relative error.
"""
from __future__ import annotations

import functools

import numpy as np

from neurarust import autotune, backends
from neurarust import dtype as _dt
from neurarust.errors import DeviceError, DTypeError, ShapeError, SignatureError
from neurarust.overlap import check_out
from neurarust.registry import ErrorInput, Op, Sample, TuneSpec, register
from neurarust.shape import broadcast_shapes, numel
from neurarust.tensor import Tensor

from . import samples as S
from .elementwise import HALVES

allow_tf32: bool = False

TRITON = "neurarust.kernels.matmul_triton:launch"
OPERANDS = {"matmul": "mat1 and mat2", "mm": "mat1 and mat2", "bmm": "batch1 and batch2"}


# ----------------------------------------------------------------------------------------------
# Shapes: every product is a batch of (M, K) @ (K, N)
# ----------------------------------------------------------------------------------------------

def _fmt(shape) -> str:
    return "x".join(map(str, shape)) or "scalar"


def _check_ranks(name: str, a: tuple, b: tuple) -> None:
    def both() -> str:
        return f"got shapes {_fmt(a)} and {_fmt(b)}"

    if name == "mm" and (len(a) != 2 or len(b) != 2):
        raise ShapeError(f"mm: {OPERANDS[name]} must be 2-D matrices, {both()}")
    if name == "bmm" and (len(a) != 3 or len(b) != 3):
        raise ShapeError(f"bmm: {OPERANDS[name]} must be 3-D tensors, {both()}")
    if name == "bmm" and a[0] != b[0]:
        raise ShapeError(f"bmm: {OPERANDS[name]} must have the same batch size, {both()}")
    if len(a) == 0 or len(b) == 0:
        raise ShapeError(f"{name}: both arguments need at least 1 dim, {both()}")


@functools.lru_cache(maxsize=1024)  # a pure function of the shapes, asked on every call
def plan(name: str, a: tuple, b: tuple) -> tuple[tuple, int, int, int, tuple]:
    """``(batch, M, K, N, out_shape)`` of ``name(a, b)`` for operand shapes ``a`` and ``b``.

    >>> plan("matmul", (2, 1, 3, 4), (5, 4, 6))
    ((2, 5), 3, 4, 6, (2, 5, 3, 6))
    """
    _check_ranks(name, a, b)
    a2 = (1,) + tuple(a) if len(a) == 1 else tuple(a)
    b2 = tuple(b) + (1,) if len(b) == 1 else tuple(b)
    if a2[-1] != b2[-2]:
        raise ShapeError(f"{name}: {OPERANDS[name]} shapes cannot be multiplied ({_fmt(a)} and {_fmt(b)})")
    try:
        batch = broadcast_shapes(a2[:-2], b2[:-2])
    except ShapeError:
        raise ShapeError(f"{name}: the batch dims of shapes {_fmt(a)} and {_fmt(b)} cannot be broadcast "
                         f"together") from None
    M, K, N = a2[-2], a2[-1], b2[-1]
    out = batch + ((M,) if len(a) > 1 else ()) + ((N,) if len(b) > 1 else ())
    return batch, M, K, N, out


# ----------------------------------------------------------------------------------------------
# The shared front end
# ----------------------------------------------------------------------------------------------

def _check_operands(op: Op, a, b, out) -> None:
    for what, x in (("input", a), ("other", b)):
        if not isinstance(x, Tensor):
            raise SignatureError(f"{op.name}(): argument {what!r} must be a Tensor, not {type(x).__name__}")
    if a._storage.device is not b._storage.device and a.device != b.device:
        raise DeviceError(f"{op.name}: expected both operands on one device, got {a.device} and {b.device}")
    if a._dtype is not b._dtype:
        raise DTypeError(f"{op.name}: expected both operands to have the same dtype, "
                         f"got {a.dtype.name} and {b.dtype.name}")
    if a.dtype not in op.dtypes:
        raise DTypeError(f"{op.name} supports floating dtypes only ({', '.join(d.name for d in op.dtypes)}); "
                         f"got {a.dtype.name}: integer and bool products are not implemented")
    if out is not None and not isinstance(out, Tensor):
        raise SignatureError(f"{op.name}(): out must be a Tensor, not {type(out).__name__}")


def _check_out(op: Op, out: Tensor, shape: tuple, a: Tensor, b: Tensor) -> None:
    if out.shape != shape:
        raise ShapeError(f"{op.name}: out has shape {_fmt(out.shape)} but the result has shape {_fmt(shape)}")
    if out.dtype != a.dtype:
        raise DTypeError(f"{op.name}: expected out to have dtype {a.dtype.name}, got {out.dtype.name}")
    if out.device != a.device:
        raise DeviceError(f"{op.name}: out is on {out.device} but the operands are on {a.device}")
    # Each input element is read many times, and autotuning reruns the kernel into out: an out that
    # shares memory with an input, even as the very same view, would be read after being written.
    check_out(op.name, out, (a, b), allow_same_view=False)


def _product(op: Op, a, b, out: Tensor | None) -> Tensor:
    _check_operands(op, a, b, out)
    batch, M, K, N, shape = plan(op.name, a._shape, b._shape)
    if out is not None:
        _check_out(op, out, shape, a, b)
    if backends.for_device(a._storage.device) == "reference":
        return _run_reference(op, a, b, out)
    target = out if out is not None else Tensor._empty(shape, a.dtype, a.device)
    # Batched views of the three operands: unit dims for 1-D operands, stride 0 on broadcast dims.
    a3 = (a.unsqueeze(0) if a.ndim == 1 else a).expand(*batch, M, K)
    b3 = (b.unsqueeze(-1) if b.ndim == 1 else b).expand(*batch, K, N)
    c3 = target.unsqueeze(-1) if b.ndim == 1 else target
    c3 = c3.unsqueeze(-2) if a.ndim == 1 else c3
    op.launcher()(c3, a3, b3, tune=op.tune, allow_tf32=allow_tf32)
    if out is not None:
        out._bump_version()
    return target


def _run_reference(op: Op, a: Tensor, b: Tensor, out: Tensor | None) -> Tensor:
    compute = np.float32 if a.dtype in HALVES else a.dtype.np
    r = np.asarray(op.reference(a._np().astype(compute, copy=False), b._np().astype(compute, copy=False)))
    if out is None:
        r = r.astype(a.dtype.np, copy=False)
        return Tensor._wrap(r, a.dtype) if r.flags.c_contiguous else Tensor._from_array(r, a.dtype)
    np.copyto(out._np(), r, casting="unsafe")
    out._bump_version()
    return out


def matmul(op: Op, input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Matrix product with ``torch.matmul``'s rules: 1-D·1-D is a dot product (0-d result), a 1-D
    operand gains a unit dim that is dropped from the result, batch dims broadcast.

    >>> import neurarust as nr
    >>> nr.matmul(nr.ones(2, 1, 3, 4), nr.ones(5, 4, 6)).shape
    neurarust.Size([2, 5, 3, 6])
    >>> (nr.tensor([1.0, 2.0]) @ nr.tensor([3.0, 4.0])).item()
    11.0
    """
    return _product(op, input, other, out)


def mm(op: Op, input: Tensor, mat2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Product of two 2-D matrices, ``(n, k) @ (k, m) -> (n, m)``; no broadcasting.

    >>> import neurarust as nr
    >>> nr.mm(nr.ones(2, 3), nr.ones(3, 4)).tolist()[0]
    [3.0, 3.0, 3.0, 3.0]
    """
    return _product(op, input, mat2, out)


def bmm(op: Op, input: Tensor, mat2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Batched product of 3-D tensors with equal batch sizes, ``(b, n, k) @ (b, k, m) -> (b, n, m)``.

    >>> import neurarust as nr
    >>> nr.bmm(nr.ones(5, 2, 3), nr.ones(5, 3, 4)).shape
    neurarust.Size([5, 2, 4])
    """
    return _product(op, input, mat2, out)


def _ref_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.matmul(a, b)


# ----------------------------------------------------------------------------------------------
# Samples, errors, tolerances, cost
# ----------------------------------------------------------------------------------------------

def _pairs(dtype, shapes, seed=0):
    return S.values(dtype, shapes[0], seed), S.values(dtype, shapes[1], seed + 1)


def _matrix_samples(dtype):
    """2-D cases shared by matmul and mm: odd sizes, a K that crosses BLOCK_K, several tiles
    (grouped ordering), non-contiguous operands, empty dims."""
    v = lambda shape, seed: S.values(dtype, shape, seed)  # noqa: E731
    yield Sample(_pairs(dtype, ((5, 7), (7, 3))), name="odd")
    yield Sample(_pairs(dtype, ((3, 33), (33, 5)), 2), name="k33")
    yield Sample(_pairs(dtype, ((37, 9), (9, 20)), 4), name="tiles")
    yield Sample((S.TensorSpec(v((6, 5), 6), "transposed"), S.TensorSpec(v((5, 4), 7), "transposed")),
                 name="transposed")
    yield Sample((S.TensorSpec(v((4, 6), 8), "strided"), v((6, 3), 9)), name="strided")
    yield Sample(_pairs(dtype, ((3, 0), (0, 4)), 10), name="k0")
    yield Sample(_pairs(dtype, ((0, 3), (3, 4)), 12), name="m0")


def _matmul_samples(dtype):
    yield Sample(_pairs(dtype, ((7,), (7,))), name="dot")
    yield Sample(_pairs(dtype, ((5,), (5, 3)), 2), name="vec_mat")
    yield Sample(_pairs(dtype, ((4, 6), (6,)), 4), name="mat_vec")
    yield from _matrix_samples(dtype)
    yield Sample(_pairs(dtype, ((2, 1, 3, 4), (5, 4, 6)), 20), name="batch_broadcast")
    yield Sample(_pairs(dtype, ((2, 3, 4), (4, 5)), 22), name="batch_times_matrix")
    yield Sample(_pairs(dtype, ((4,), (2, 4, 3)), 24), name="vec_batch")
    yield Sample(_pairs(dtype, ((2, 3, 4), (4,)), 26), name="batch_vec")


def _mm_samples(dtype):
    yield from _matrix_samples(dtype)


def _bmm_samples(dtype):
    v = lambda shape, seed: S.values(dtype, shape, seed)  # noqa: E731
    yield Sample(_pairs(dtype, ((3, 4, 5), (3, 5, 2))), name="batch")
    yield Sample(_pairs(dtype, ((2, 5, 33), (2, 33, 3)), 2), name="k33")
    yield Sample((S.TensorSpec(v((2, 3, 4), 4), "strided"), S.TensorSpec(v((2, 4, 5), 5), "strided")), name="strided")
    yield Sample(_pairs(dtype, ((2, 3, 0), (2, 0, 4)), 6), name="k0")
    yield Sample(_pairs(dtype, ((0, 3, 4), (0, 4, 2)), 8), name="batch0")


def _error(args, error, match):
    return ErrorInput(Sample(args), error, match)


def _common_errors():
    yield _error((np.ones((2, 3)), np.ones((4, 5))), ShapeError, r"cannot be multiplied \(2x3 and 4x5\)")
    yield _error((np.ones((2, 2), np.int64), np.ones((2, 2), np.int64)), DTypeError, "floating dtypes only")
    yield _error((np.ones((2, 2)), np.ones((2, 2), np.int64)), DTypeError, "same dtype")


def _matmul_errors():
    yield from _common_errors()
    yield _error((np.array(1.0), np.ones(3)), ShapeError, "at least 1 dim")
    yield _error((np.ones(3), np.ones(4)), ShapeError, r"cannot be multiplied \(3 and 4\)")
    yield _error((np.ones((2, 3, 4)), np.ones((3, 4, 5))), ShapeError, "2x3x4 and 3x4x5 cannot be broadcast")


def _mm_errors():
    yield from _common_errors()
    yield _error((np.ones((2, 3, 4)), np.ones((4, 5))), ShapeError, "2-D")


def _bmm_errors():
    yield _error((np.ones((2, 3)), np.ones((3, 4))), ShapeError, "3-D")
    yield _error((np.ones((2, 3, 4)), np.ones((3, 4, 5))), ShapeError, "same batch size")
    yield _error((np.ones((2, 3, 4)), np.ones((2, 5, 6))), ShapeError, r"cannot be multiplied \(2x3x4 and 2x5x6\)")
    yield _error((np.ones((2, 2, 2), np.int64), np.ones((2, 2, 2), np.int64)), DTypeError, "floating")


def _inner_size(sample: Sample) -> int:
    return max(1, sample.args[0].shape[-1]) if len(sample.args[0].shape) else 1


def _scaled(rtol: float, atol_per_k: float):
    """Tolerance growing with K: each of the K products adds rounding error to the sum."""
    return lambda sample: (rtol, atol_per_k * _inner_size(sample))


TOLERANCES = {
    _dt.float32: _scaled(1.3e-6, 1e-6),
    _dt.float64: (1e-7, 1e-7),
    _dt.float16: _scaled(1e-3, 1e-4),
    _dt.bfloat16: _scaled(1.6e-2, 1e-3),
}


def _cost(sample: Sample) -> tuple[int, int]:
    a, b = (S.array_of(x) for x in sample.args[:2])
    batch, M, K, N, out = plan("matmul", a.shape, b.shape)
    return (a.size + b.size + numel(out)) * a.itemsize, 2 * numel(batch) * M * N * K


def _tune_key(dtype: str, precision: str, M: int, N: int, K: int) -> tuple:
    return (dtype, precision, autotune.bucket(M), autotune.bucket(N), autotune.bucket(K))


def _config(bm, bn, bk, group, warps, stages) -> dict:
    return {"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": group, "num_warps": warps, "num_stages": stages}


# Sized for fp16/bf16 on A100/H100 (the launcher shrinks them for wider dtypes). BLOCK_M >= 64
# with a multiple of 4 warps lets sm_90 use wgmma.
TUNE = TuneSpec(
    configs=[
        _config(128, 256, 64, 8, 8, 3),
        _config(256, 128, 32, 8, 8, 4),  # BLOCK_K 64 spills on sm_80 with triton 3.6
        _config(128, 128, 64, 8, 4, 3),
        _config(128, 64, 32, 8, 4, 4),
        _config(64, 128, 32, 8, 4, 4),
        _config(64, 64, 32, 8, 4, 4),
    ],
    default=_config(128, 128, 64, 8, 4, 3),
    key=_tune_key,
)


def _matmul_op(name: str, frontend, samples, errors) -> Op:
    return register(Op(
        name=name, kind="matmul", frontend=frontend, reference=_ref_matmul, triton=TRITON, dtypes=_dt.FLOAT_DTYPES,
        samples=samples, error_inputs=errors, tolerances=TOLERANCES, cost=_cost, tune=TUNE, torch_name=name,
    ))


_matmul_op("matmul", matmul, _matmul_samples, _matmul_errors)
_matmul_op("mm", mm, _mm_samples, _mm_errors)
_matmul_op("bmm", bmm, _bmm_samples, _bmm_errors)
