"""Matrix products: ``matmul``, ``mm``, ``bmm``, ``mv``, ``dot`` and the fused ``addmm``, ``baddbmm``,
``addmv``, ``addbmm`` (``beta * input + alpha * product``), all run by the one matmul Triton kernel.

The entries share a front end that checks shapes and dtypes as PyTorch does, plans the
product as a batch of ``(M, K) @ (K, N)`` matrices (1-D operands gain a unit dim, batch dims
broadcast through stride-0 views, nothing is copied), and runs the NumPy reference or the kernel.
Floating dtypes only: fp16/bf16 accumulate in fp32 and round once at the end.

``allow_tf32`` (default False, like ``torch.backends.cuda.matmul.allow_tf32``) lets fp32 products
use TF32 tensor cores on the GPU: faster, with ~1e-3 relative error.
"""
from __future__ import annotations

import functools
import inspect
import math

import numpy as np

from neurarust import autotune, backends
from neurarust import dtype as _dt
from neurarust.errors import DeviceError, DTypeError, ShapeError, SignatureError
from neurarust.overlap import check_out
from neurarust.registry import ErrorInput, Op, Sample, TuneSpec, autocast_class, call, register
from neurarust.shape import broadcast_shapes, numel
from neurarust.tensor import Tensor

from . import samples as S
from .elementwise import HALVES

allow_tf32: bool = False

TRITON = "neurarust.kernels.matmul_triton:launch"
OPERANDS = {"matmul": "mat1 and mat2", "mm": "mat1 and mat2", "bmm": "batch1 and batch2", "mv": "mat and vec",
            "dot": "input and tensor", "addmm": "mat1 and mat2", "baddbmm": "batch1 and batch2",
            "addbmm": "batch1 and batch2", "addmv": "mat and vec"}
# The rank rules of the fused ops are those of their plain product.
RULES = {"addmm": "mm", "baddbmm": "bmm", "addbmm": "bmm", "addmv": "mv"}


# ----------------------------------------------------------------------------------------------
# Shapes: every product is a batch of (M, K) @ (K, N)
# ----------------------------------------------------------------------------------------------

def _fmt(shape) -> str:
    return "x".join(map(str, shape)) or "scalar"


def _check_ranks(name: str, a: tuple, b: tuple) -> None:
    def both() -> str:
        return f"got shapes {_fmt(a)} and {_fmt(b)}"

    rule = RULES.get(name, name)
    if rule == "dot" and (len(a) != 1 or len(b) != 1):
        raise ShapeError(f"dot: 1D tensors expected, {both()}")
    if rule == "mv" and (len(a) != 2 or len(b) != 1):
        raise ShapeError(f"{name}: expected a 2-D matrix and a 1-D vector, {both()}")
    if rule == "mm" and (len(a) != 2 or len(b) != 2):
        raise ShapeError(f"{name}: {OPERANDS[name]} must be 2-D matrices, {both()}")
    if rule == "bmm" and (len(a) != 3 or len(b) != 3):
        raise ShapeError(f"{name}: {OPERANDS[name]} must be 3-D tensors, {both()}")
    if rule == "bmm" and a[0] != b[0]:
        raise ShapeError(f"{name}: {OPERANDS[name]} must have the same batch size, {both()}")
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


def _check_out(op: Op, out: Tensor, shape: tuple, a: Tensor, *inputs: Tensor) -> None:
    if out.shape != shape:
        raise ShapeError(f"{op.name}: out has shape {_fmt(out.shape)} but the result has shape {_fmt(shape)}")
    if out.dtype != a.dtype:
        raise DTypeError(f"{op.name}: expected out to have dtype {a.dtype.name}, got {out.dtype.name}")
    if out.device != a.device:
        raise DeviceError(f"{op.name}: out is on {out.device} but the operands are on {a.device}")
    # Each input element is read many times, and autotuning reruns the kernel into out: an out that
    # shares memory with an input, even as the very same view, would be read after being written.
    check_out(op.name, out, (a,) + inputs, allow_same_view=False)


def _check_added(op: Op, x, a: Tensor, shape: tuple) -> Tensor:
    """The ``input`` of addmm-like ops: a tensor of the operands' dtype and device that broadcasts
    to the product's shape; returned expanded to it (a stride-0 view)."""
    if not isinstance(x, Tensor):
        raise SignatureError(f"{op.name}(): argument 'input' must be a Tensor, not {type(x).__name__}")
    if x.dtype is not a.dtype:
        raise DTypeError(f"{op.name}: expected input to have the operands' dtype {a.dtype.name}, got {x.dtype.name}")
    if x.device != a.device:
        raise DeviceError(f"{op.name}: input is on {x.device} but the operands are on {a.device}")
    try:
        ok = broadcast_shapes(x.shape, shape) == tuple(shape)
    except ShapeError:
        ok = False
    if not ok:
        raise ShapeError(f"{op.name}: input of shape {_fmt(x.shape)} does not broadcast to the product's shape "
                         f"{_fmt(shape)}")
    return x.expand(*shape)


def _product(op: Op, a, b, out: Tensor | None, added=None, *, rule: str | None = None) -> Tensor:
    """``a @ b`` by ``op``'s rank rules (or ``rule``'s); ``added=(input, beta, alpha)`` makes it
    ``beta * input + alpha * (a @ b)``."""
    _check_operands(op, a, b, out)
    batch, M, K, N, shape = plan(rule or op.name, a._shape, b._shape)
    x = None if added is None else _check_added(op, added[0], a, shape)
    if out is not None:
        _check_out(op, out, shape, a, b, *(() if x is None else (x,)))
    if backends.for_device(a._storage.device) == "reference":
        return _run_reference(op, a, b, out, x, added)
    target = out if out is not None else Tensor._empty(shape, a.dtype, a.device)
    # Batched views of the three operands: unit dims for 1-D operands, stride 0 on broadcast dims.
    a3 = (a.unsqueeze(0) if a.ndim == 1 else a).expand(*batch, M, K)
    b3 = (b.unsqueeze(-1) if b.ndim == 1 else b).expand(*batch, K, N)
    views = [target] if x is None else [target, x]
    views = [v.unsqueeze(-1) if b.ndim == 1 else v for v in views]
    views = [v.unsqueeze(-2) if a.ndim == 1 else v for v in views]
    if x is None:
        op.launcher()(views[0], a3, b3, tune=op.tune, allow_tf32=allow_tf32)
    else:
        op.launcher()(views[0], a3, b3, tune=op.tune, allow_tf32=allow_tf32,
                      epilogue=(views[1], added[2], added[1]))
    if out is not None:
        out._bump_version()
    return target


def _run_reference(op: Op, a: Tensor, b: Tensor, out: Tensor | None, x: Tensor | None = None, added=None) -> Tensor:
    compute = np.float32 if a.dtype in HALVES else a.dtype.np
    arrays = [t._np().astype(compute, copy=False) for t in ((a, b) if x is None else (x, a, b))]
    kwargs = {} if added is None else {"beta": added[1], "alpha": added[2]}
    r = np.asarray(backends.run_reference(op.reference, *arrays, **kwargs))
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


def mv(op: Op, input: Tensor, vec: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Matrix-vector product, ``(n, m) @ (m,) -> (n,)``.

    >>> import neurarust as nr
    >>> nr.mv(nr.ones(2, 3), nr.tensor([1.0, 2.0, 3.0])).tolist()
    [6.0, 6.0]
    """
    return _product(op, input, vec, out)


def dot(op: Op, input: Tensor, tensor: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Dot product of two 1-D tensors of one size and dtype, as a 0-d tensor.

    >>> import neurarust as nr
    >>> nr.dot(nr.tensor([1.0, 2.0]), nr.tensor([3.0, 4.0])).item()
    11.0
    """
    if isinstance(input, Tensor) and isinstance(tensor, Tensor) and input.ndim == tensor.ndim == 1 \
            and input.shape != tensor.shape:
        raise ShapeError(f"dot: inconsistent tensor size, expected tensors of the same number of elements, "
                         f"got {input.numel()} and {tensor.numel()}")
    return _product(op, input, tensor, out)


def addmm(op: Op, input: Tensor, mat1: Tensor, mat2: Tensor, *, beta: float = 1, alpha: float = 1,
          out: Tensor | None = None) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)`` for 2-D ``mat1``/``mat2``, fused into the product's
    kernel; ``input`` broadcasts to ``(n, m)`` and is ignored when ``beta`` is 0 (its NaN and inf too).

    >>> import neurarust as nr
    >>> nr.addmm(nr.tensor([1.0, -1.0]), nr.ones(1, 3), nr.ones(3, 2), beta=2, alpha=0.5).tolist()
    [[3.5, -0.5]]
    """
    return _product(op, mat1, mat2, out, (input, beta, alpha))


def baddbmm(op: Op, input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: float = 1, alpha: float = 1,
            out: Tensor | None = None) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)``; ``input`` broadcasts to ``(b, n, m)``.

    >>> import neurarust as nr
    >>> nr.baddbmm(nr.zeros(1, 2), nr.ones(3, 1, 4), nr.ones(3, 4, 2), alpha=0.25).shape
    neurarust.Size([3, 1, 2])
    """
    return _product(op, batch1, batch2, out, (input, beta, alpha))


def addmv(op: Op, input: Tensor, mat: Tensor, vec: Tensor, *, beta: float = 1, alpha: float = 1,
          out: Tensor | None = None) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``; ``input`` broadcasts to ``(n,)``.

    >>> import neurarust as nr
    >>> nr.addmv(nr.tensor(1.0), nr.ones(2, 3), nr.ones(3)).tolist()
    [4.0, 4.0]
    """
    return _product(op, mat, vec, out, (input, beta, alpha))


def addbmm(op: Op, input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: float = 1, alpha: float = 1,
           out: Tensor | None = None) -> Tensor:
    """``beta * input + alpha * sum_i(batch1[i] @ batch2[i])``: one ``(n, b*k) @ (b*k, m)`` product.

    >>> import neurarust as nr
    >>> nr.addbmm(nr.zeros(2, 2), nr.ones(3, 2, 4), nr.ones(3, 4, 2)).tolist()
    [[12.0, 12.0], [12.0, 12.0]]
    """
    _check_operands(op, batch1, batch2, out)
    batch, n, k, m, _ = plan(op.name, batch1._shape, batch2._shape)
    a = batch1.permute(1, 0, 2).reshape(n, batch[0] * k)
    b = batch2.reshape(batch[0] * k, m)
    return _product(op, a, b, out, (input, beta, alpha), rule="mm")


# ----------------------------------------------------------------------------------------------
# Derivatives
# ----------------------------------------------------------------------------------------------

def product_grads(grad: Tensor, a: Tensor, b: Tensor, alpha=1) -> tuple[Tensor, Tensor]:
    """Gradients of ``alpha * matmul(a, b)``: ``grad @ b^T`` and ``a^T @ grad``, with 1-D operands
    given (and then stripped of) their unit dim; broadcast batch dims are left for the engine to sum."""
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    g = grad.unsqueeze(-1) if b.ndim == 1 else grad
    g = g.unsqueeze(-2) if a.ndim == 1 else g
    if alpha != 1:
        g = g * alpha
    ga = call("matmul", g, b2.mT)
    if a2.ndim > 2 and b2.ndim == 2:
        # A stack times one matrix: its gradient sums over the stack, which one GEMM does.
        rows = math.prod(a2.shape[:-1])
        a_rows, g_rows = a2.reshape(rows, a2.shape[-1]), g.reshape(rows, g.shape[-1])
        if _transposed(b2):
            # b is a transposed matrix (a Linear's weight.t()): its gradient in that layout, so the
            # weight's own is contiguous, as a leaf's .grad is kept (and no copy makes it so).
            gb = call("matmul", g_rows.mT, a_rows).mT
        else:
            gb = call("matmul", a_rows.mT, g_rows)
    elif a2.ndim == 2 and _transposed(b2):
        gb = call("matmul", g.mT, a2).mT
    else:
        gb = call("matmul", a2.mT, g)
    return (ga.squeeze(-2) if a.ndim == 1 else ga), (gb.squeeze(-1) if b.ndim == 1 else gb)


def _transposed(m: Tensor) -> bool:
    """A 2-D tensor whose transpose is contiguous and itself is not."""
    return m.ndim == 2 and m.mT.is_contiguous() and not m.is_contiguous()


def _matmul_backward(grad, input, other):
    return product_grads(grad, input, other)


def _mm_backward(grad, input, mat2):
    return product_grads(grad, input, mat2)


def _mv_backward(grad, input, vec):
    return product_grads(grad, input, vec)


def _dot_backward(grad, input, tensor):
    return product_grads(grad, input, tensor)


def _addmm_backward(grad, input, mat1, mat2, beta, alpha):
    return (grad * beta, *product_grads(grad, mat1, mat2, alpha))


def _baddbmm_backward(grad, input, batch1, batch2, beta, alpha):
    return (grad * beta, *product_grads(grad, batch1, batch2, alpha))


def _addmv_backward(grad, input, mat, vec, beta, alpha):
    return (grad * beta, *product_grads(grad, mat, vec, alpha))


def _addbmm_backward(grad, input, batch1, batch2, beta, alpha):
    every = grad.unsqueeze(0).expand(batch1.shape[0], *grad.shape)  # each batch entry adds to the result
    return (grad * beta, *product_grads(every, batch1, batch2, alpha))


def _blas_ready(a: np.ndarray) -> np.ndarray:
    """``a``, copied if it has a zero stride (a broadcast gradient): NumPy's matmul would not hand
    such an operand to BLAS but run its own loop, tens of times slower."""
    return np.ascontiguousarray(a) if 0 in a.strides and a.size > 1 else a


def _ref_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = _blas_ready(a), _blas_ready(b)
    if a.ndim > 2 and b.ndim == 2:
        # A stack times one matrix is one (batch * m, k) @ (k, n) GEMM, not a BLAS call per matrix.
        return np.matmul(a.reshape(math.prod(a.shape[:-1]), a.shape[-1]), b).reshape(a.shape[:-1] + b.shape[-1:])
    return np.matmul(a, b)


def _ref_addmm(x: np.ndarray, a: np.ndarray, b: np.ndarray, beta=1, alpha=1) -> np.ndarray:
    r = np.matmul(a, b) * alpha
    return r if beta == 0 else r + x * beta


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


def _mv_samples(dtype):
    v = lambda shape, seed: S.values(dtype, shape, seed)  # noqa: E731
    yield Sample(_pairs(dtype, ((4, 6), (6,))), name="mat_vec")
    yield Sample(_pairs(dtype, ((3, 33), (33,)), 2), name="k33")
    yield Sample((S.TensorSpec(v((4, 5), 4), "transposed"), S.TensorSpec(v((5,), 5), "strided")), name="transposed")
    yield Sample(_pairs(dtype, ((3, 0), (0,)), 6), name="k0")


def _dot_samples(dtype):
    v = lambda shape, seed: S.values(dtype, shape, seed)  # noqa: E731
    yield Sample(_pairs(dtype, ((7,), (7,))), name="short")
    yield Sample((S.TensorSpec(v((40,), 2), "strided"), v((40,), 3)), name="strided_k40")
    yield Sample(_pairs(dtype, ((0,), (0,)), 4), name="empty")


def _with_nan(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    x.flat[0] = np.nan
    return x


def _addmm_samples(dtype):
    v = lambda shape, seed: S.values(dtype, shape, seed)  # noqa: E731
    yield Sample((v((5, 3), 0), v((5, 7), 1), v((7, 3), 2)), name="full_input")
    yield Sample((v((3,), 3), v((4, 20), 4), v((20, 3), 5)), {"beta": 0.5, "alpha": -2.0}, name="bias_row_scaled")
    yield Sample((np.array(1.5), S.TensorSpec(v((3, 4), 6), "transposed"), S.TensorSpec(v((4, 5), 7), "strided")),
                 {"alpha": 0.25}, name="0d_input_noncontiguous")
    yield Sample((_with_nan(v((2, 3), 8)), v((2, 4), 9), v((4, 3), 10)), {"beta": 0}, name="beta0_ignores_nan")
    yield Sample((v((4, 1), 11), v((4, 0), 12), v((0, 2), 13)), {"beta": 2.0}, name="k0")
    yield Sample((v((0, 3), 14), v((0, 2), 15), v((2, 3), 16)), name="m0")


def _baddbmm_samples(dtype):
    v = lambda shape, seed: S.values(dtype, shape, seed)  # noqa: E731
    yield Sample((v((2, 3, 4), 0), v((2, 3, 5), 1), v((2, 5, 4), 2)), name="full_input")
    yield Sample((v((1, 4), 3), v((3, 2, 18), 4), S.TensorSpec(v((3, 18, 4), 5), "strided")),
                 {"beta": -1.0, "alpha": 0.5}, name="broadcast_input_scaled")
    yield Sample((_with_nan(v((2, 2, 2), 6)), v((2, 2, 3), 7), v((2, 3, 2), 8)), {"beta": 0.0}, name="beta0")
    yield Sample((v((0, 2, 2), 9), v((0, 2, 3), 10), v((0, 3, 2), 11)), name="batch0")


def _addmv_samples(dtype):
    v = lambda shape, seed: S.values(dtype, shape, seed)  # noqa: E731
    yield Sample((v((4,), 0), v((4, 6), 1), v((6,), 2)), name="full_input")
    yield Sample((np.array(2.0), S.TensorSpec(v((5, 3), 3), "transposed"), v((3,), 4)), {"beta": 0.5, "alpha": 2.0},
                 name="0d_input_transposed")
    yield Sample((_with_nan(v((2,), 5)), v((2, 0), 6), v((0,), 7)), {"beta": 0}, name="k0_beta0")


def _addbmm_samples(dtype):
    v = lambda shape, seed: S.values(dtype, shape, seed)  # noqa: E731
    yield Sample((v((3, 4), 0), v((2, 3, 5), 1), v((2, 5, 4), 2)), name="full_input")
    yield Sample((v((4,), 3), S.TensorSpec(v((3, 2, 6), 4), "strided"), v((3, 6, 4), 5)), {"beta": 2.0, "alpha": -0.5},
                 name="bias_row_scaled")
    yield Sample((v((2, 3), 6), v((0, 2, 4), 7), v((0, 4, 3), 8)), {"beta": 0.5}, name="batch0")


def _mv_errors():
    yield _error((np.ones((2, 3)), np.ones(2)), ShapeError, r"cannot be multiplied \(2x3 and 2\)")
    yield _error((np.ones(3), np.ones(3)), ShapeError, "2-D matrix and a 1-D vector")
    yield _error((np.ones((2, 2), np.int64), np.ones(2, np.int64)), DTypeError, "floating dtypes only")


def _dot_errors():
    yield _error((np.ones((2, 2)), np.ones((2, 2))), ShapeError, "1D tensors expected")
    yield _error((np.ones(3), np.ones(4)), ShapeError, "inconsistent tensor size")
    yield _error((np.ones(2), np.ones(2, np.int64)), DTypeError, "same dtype")


def _added_errors(shapes, rank_error):
    def errors():
        x, a, b = shapes
        bad_k = b[:-2] + (b[-2] + 1, b[-1]) if len(b) > 1 else (b[0] + 1,)
        yield _error((np.ones(7), np.ones(a), np.ones(b)), ShapeError, "does not broadcast")
        yield _error((np.ones(x, np.int64), np.ones(a), np.ones(b)), DTypeError, "input to have the operands' dtype")
        yield _error((np.ones(x), np.ones(a), np.ones(bad_k)), ShapeError, "cannot be multiplied")
        yield _error((np.ones(x), np.ones(a[1:]), np.ones(b)), ShapeError, rank_error)
    return errors


def _inner_size(sample: Sample) -> int:
    """Products summed into each result element (times |alpha|); 1 for a 0-d input."""
    args = sample.args
    a = S.array_of(args[1] if len(args) == 3 else args[0])
    if a.ndim == 0:
        return 1
    k = a.shape[-1] * (a.shape[0] if len(args) == 3 and a.ndim == 3 else 1)  # addbmm sums the batch too
    return max(1, k) * max(1.0, abs(sample.kwargs.get("alpha", 1))) + abs(sample.kwargs.get("beta", 1))


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
    arrays = [S.array_of(x) for x in sample.args]
    a, b = arrays[-2:]
    batch, M, K, N, out = plan("matmul", a.shape, b.shape)
    moved = sum(x.size for x in arrays) + numel(out)
    return moved * a.itemsize, 2 * numel(batch) * M * N * K


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


def _matmul_op(name: str, frontend, samples, errors, backward, reference=_ref_matmul) -> Op:
    names = [p for p in inspect.signature(frontend).parameters if p not in ("op", "beta", "alpha", "out")]
    return register(Op(
        name=name, kind="matmul", frontend=frontend, reference=reference, triton=TRITON, dtypes=_dt.FLOAT_DTYPES,
        samples=samples, error_inputs=errors, tolerances=TOLERANCES, cost=_cost, tune=TUNE, torch_name=name,
        backward=backward, differentiable=tuple(names),
    ))


_matmul_op("matmul", matmul, _matmul_samples, _matmul_errors, _matmul_backward)
_matmul_op("mm", mm, _mm_samples, _mm_errors, _mm_backward)
_matmul_op("bmm", bmm, _bmm_samples, _bmm_errors, _mm_backward)
_matmul_op("mv", mv, _mv_samples, _mv_errors, _mv_backward)
_matmul_op("dot", dot, _dot_samples, _dot_errors, _dot_backward)
_matmul_op("addmm", addmm, _addmm_samples, _added_errors(((2, 3), (2, 4), (4, 3)), "2-D"), _addmm_backward,
           _ref_addmm)
_matmul_op("baddbmm", baddbmm, _baddbmm_samples, _added_errors(((2, 2, 3), (2, 2, 4), (2, 4, 3)), "3-D"),
           _baddbmm_backward, _ref_addmm)
_matmul_op("addmv", addmv, _addmv_samples, _added_errors(((2,), (2, 4), (4,)), "2-D matrix"), _addmv_backward,
           _ref_addmm)
_matmul_op("addbmm", addbmm, _addbmm_samples, _added_errors(((2, 3), (2, 2, 4), (2, 4, 3)), "3-D"),
           _addbmm_backward, _ref_addmm)

# Autocast classes per device type: PyTorch's lists (docs/amp.md, tests/test_amp_autocast.py).
autocast_class(("matmul", "mm", "bmm", "addmm", "baddbmm", "addbmm"), cuda="lower", cpu="lower")
autocast_class(("mv", "addmv"), cuda="lower")
autocast_class(("dot",), cuda="promote")
