"""Contractions and linear algebra built on the matmul kernel: ``einsum``, ``tensordot``, ``outer``,
``linalg.qr``, and the whole-tensor comparisons ``allclose`` and ``equal``.

None of these has a kernel of its own. On the Triton backend (every CUDA tensor) they are lowered
to registered ops: an einsum becomes, per pair of operands, one permute/reshape and one ``bmm``
(or one broadcast ``mul`` when nothing is summed), with diagonals taken as views and lone labels
summed first; a QR is Householder reflections written with ``matmul``/``mul``/``where``. On the
reference backend they call NumPy (``np.einsum``, ``np.tensordot``, ``np.linalg.qr``), which is
therefore an independent oracle for the lowering.

    >>> import neurarust as nr
    >>> a, b = nr.ones(2, 3, 4), nr.ones(2, 4, 5)
    >>> nr.einsum("bij,bjk->bik", a, b).shape, nr.tensordot(a, b, dims=([0, 2], [0, 1])).shape
    (neurarust.Size([2, 3, 5]), neurarust.Size([3, 5]))
"""
from __future__ import annotations

import string
from typing import NamedTuple, Sequence

import numpy as np

from neurarust import backends
from neurarust import dtype as _dt
from neurarust.creation import zeros_like
from neurarust.errors import ArgumentError, AutogradError, DeviceError, DTypeError, ShapeError, SignatureError
from neurarust.registry import AutocastWhen, ErrorInput, Op, Sample, autocast_class, call, register
from neurarust.shape import normalize_dim, numel
from neurarust.tensor import Tensor

from . import samples as S
from .elementwise import HALVES

LETTERS = string.ascii_uppercase + string.ascii_lowercase


# ----------------------------------------------------------------------------------------------
# einsum: parsing. Labels are ints: a letter is its code point, the dims an ellipsis stands for are
# -E..-1 (right-aligned, so operands with fewer ellipsis dims broadcast as NumPy does).
# ----------------------------------------------------------------------------------------------

class Plan(NamedTuple):
    inputs: list      # labels of each operand, one per dim
    output: list      # labels of the result
    sizes: dict       # label -> size (size-1 dims broadcast)


def _split_term(term: str, index: int) -> tuple[list, bool]:
    """The letters of one subscript term and whether it has an ellipsis."""
    has_ellipsis = "..." in term
    if term.count("...") > 1:
        raise ArgumentError(f"einsum(): found more than one ellipsis ('...') in subscript term {index}")
    letters = term.replace("...", "")
    for ch in letters:
        if ch not in LETTERS:
            raise ArgumentError(f"einsum(): invalid subscript {ch!r} in the equation: only letters [a-zA-Z] "
                                f"and '...' are allowed")
    return list(term.replace("...", "\0")), has_ellipsis


def _expand_term(chars: list, ellipsis_dims: int) -> list:
    labels = []
    for ch in chars:
        labels += list(range(-ellipsis_dims, 0)) if ch == "\0" else [ord(ch)]
    return labels


def parse(equation: str, shapes: Sequence[tuple]) -> Plan:
    """Labels of every operand and of the result, and each label's size, for ``equation``.

    >>> p = parse("...ij,jk", [(2, 3, 4), (4, 5)])
    >>> p.output == [-1, ord("i"), ord("k")], p.sizes[ord("j")]
    (True, 4)
    """
    if not isinstance(equation, str):
        raise SignatureError(f"einsum(): equation must be a str, not {type(equation).__name__}")
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(shapes):
        raise ArgumentError(f"einsum(): fewer operands were provided ({len(shapes)}) than specified in the "
                            f"equation {equation!r} ({len(terms)})")
    if len(terms) < len(shapes):
        raise ArgumentError(f"einsum(): more operands were provided ({len(shapes)}) than specified in the "
                            f"equation {equation!r} ({len(terms)})")
    inputs, widest = [], 0
    for i, (term, shape) in enumerate(zip(terms, shapes)):
        chars, has_ellipsis = _split_term(term, i)
        named = len(chars) - has_ellipsis
        if len(shape) < named or (not has_ellipsis and len(shape) != named):
            raise ShapeError(f"einsum(): the number of subscripts in the equation ({named}) does not match the "
                             f"number of dimensions ({len(shape)}) for operand {i}"
                             f"{'' if has_ellipsis else ' and no ellipsis was given'}")
        widest = max(widest, len(shape) - named if has_ellipsis else 0)
        inputs.append(_expand_term(chars, len(shape) - named))
    sizes = _label_sizes(inputs, shapes)
    if arrow:
        chars, _ = _split_term(rhs, len(terms))
        output = _expand_term(chars, widest)
        for label in output:
            if output.count(label) > 1:
                raise ArgumentError(f"einsum(): output subscript {chr(label)} appears more than once in the output")
            if label not in sizes:
                raise ArgumentError(f"einsum(): output subscript {chr(label)} does not appear in the equation for "
                                    f"any input operand")
    else:  # implicit output: the ellipsis dims, then the labels seen once, in alphabetical order
        counts = [lab for term in inputs for lab in term if lab > 0]
        output = list(range(-widest, 0)) + sorted(lab for lab in set(counts) if counts.count(lab) == 1)
    return Plan(inputs, output, sizes)


def _label_sizes(inputs: list, shapes: Sequence[tuple]) -> dict:
    sizes: dict = {}
    for i, (labels, shape) in enumerate(zip(inputs, shapes)):
        mine: dict = {}
        for label, size in zip(labels, shape):
            name = chr(label) if label > 0 else "..."
            if label in mine and mine[label] != size:
                raise ShapeError(f"einsum(): subscript {name} is repeated for operand {i} but the sizes don't "
                                 f"match, {mine[label]} != {size}")
            mine[label] = size
            seen = sizes.get(label, 1)
            if size != 1 and seen != 1 and size != seen:
                raise ShapeError(f"einsum(): subscript {name} has size {size} for operand {i} which does not "
                                 f"broadcast with previously seen size {seen}")
            sizes[label] = size if seen == 1 else seen
    return sizes


def letters_equation(plan: Plan) -> str:
    """``plan`` as an explicit equation of letters only (ellipsis dims get unused letters)."""
    used = {lab for term in plan.inputs for lab in term if lab > 0}
    spare = iter(ch for ch in LETTERS if ord(ch) not in used)
    names = {lab: (chr(lab) if lab > 0 else next(spare)) for lab in sorted(plan.sizes)}
    word = lambda labels: "".join(names[lab] for lab in labels)  # noqa: E731
    return ",".join(word(term) for term in plan.inputs) + "->" + word(plan.output)


# ----------------------------------------------------------------------------------------------
# einsum: lowering to registered ops (the Triton path)
# ----------------------------------------------------------------------------------------------

def _take_diagonals(t: Tensor, labels: list) -> tuple[Tensor, list]:
    """Repeated labels within one operand ("ii") become one dim: the diagonal (a view)."""
    labels = list(labels)
    while len(set(labels)) < len(labels):
        label = next(lab for lab in labels if labels.count(lab) > 1)
        d1 = labels.index(label)
        d2 = labels.index(label, d1 + 1)
        t = t.diagonal(0, d1, d2)  # the diagonal becomes the last dim
        labels = [lab for i, lab in enumerate(labels) if i not in (d1, d2)] + [label]
    return t, labels


def _sum_unneeded(t: Tensor, labels: list, needed: set) -> tuple[Tensor, list]:
    dims = [i for i, lab in enumerate(labels) if lab not in needed]
    if dims:
        t = t.sum(dims)
        labels = [lab for lab in labels if lab in needed]
    return t, labels


def _arrange(t: Tensor, labels: list, order: list, sizes: dict | None = None) -> Tensor:
    """``t`` permuted to ``order`` (labels ``t`` lacks become size-1 dims); with ``sizes``, expanded."""
    t = t.permute([labels.index(lab) for lab in order if lab in labels])
    for i, lab in enumerate(order):
        if lab not in labels:
            t = t.unsqueeze(i)
    return t.expand(*[sizes[lab] for lab in order]) if sizes is not None else t


def _contract(a: Tensor, la: list, b: Tensor, lb: list, keep: set, sizes: dict) -> tuple[Tensor, list]:
    """The product of two terms, summed over the labels they share that nothing later needs."""
    batch = [lab for lab in la if lab in lb and lab in keep]
    summed = [lab for lab in la if lab in lb and lab not in keep]
    left = [lab for lab in la if lab not in lb]
    right = [lab for lab in lb if lab not in la]
    out_labels = batch + left + right
    if not summed:  # an outer or elementwise product: one broadcast mul
        return call("mul", _arrange(a, la, out_labels), _arrange(b, lb, out_labels)), out_labels
    lsz = [a.shape[la.index(lab)] for lab in left]
    rsz = [b.shape[lb.index(lab)] for lab in right]
    bsz = [sizes[lab] for lab in batch]
    a3 = _arrange(a, la, batch + left + summed, {**sizes, **dict(zip(left, lsz))})
    b3 = _arrange(b, lb, batch + summed + right, {**sizes, **dict(zip(right, rsz))})
    k = numel([sizes[lab] for lab in summed])
    a3 = a3.reshape(numel(bsz), numel(lsz), k)
    b3 = b3.reshape(numel(bsz), k, numel(rsz))
    return call("bmm", a3, b3).reshape(bsz + lsz + rsz), out_labels


def lower(operands: Sequence[Tensor], plan: Plan) -> Tensor:
    """Evaluate ``plan`` with registered ops: diagonals, lone sums, then left-to-right pairwise
    contractions (each one bmm or one mul), then the output's order."""
    terms = [_take_diagonals(t, labels) for t, labels in zip(operands, plan.inputs)]
    out = set(plan.output)

    def needed_beyond(skip: set) -> set:
        return out.union(*[set(lab) for i, (_, lab) in enumerate(terms) if i not in skip])

    terms = [_sum_unneeded(t, lab, needed_beyond({i})) for i, (t, lab) in enumerate(terms)]
    while len(terms) > 1:
        (a, la), (b, lb) = terms[0], terms[1]
        keep = needed_beyond({0, 1})
        terms = [_contract(a, la, b, lb, keep, plan.sizes)] + terms[2:]
        terms[0] = _sum_unneeded(*terms[0], needed_beyond({0}) | keep)
    t, labels = _sum_unneeded(*terms[0], out)
    result = _arrange(t, labels, plan.output)
    if result._storage is operands[0]._storage:  # a pure view of the input ("ij->ji"): einsum copies
        result = result.clone()
    return result


# ----------------------------------------------------------------------------------------------
# einsum, tensordot, outer: front ends
# ----------------------------------------------------------------------------------------------

def _check_tensors(name: str, tensors: Sequence, dtypes) -> None:
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise SignatureError(f"{name}(): operand {i} must be a Tensor, not {type(t).__name__}")
    first = tensors[0]
    for t in tensors[1:]:
        if t.dtype is not first.dtype:
            raise DTypeError(f"{name}(): expected all operands to have one dtype, got {first.dtype.name} and "
                             f"{t.dtype.name}")
        if t.device != first.device:
            raise DeviceError(f"{name}(): expected all operands on one device, got {first.device} and {t.device}")
    if first.dtype not in dtypes:
        raise DTypeError(f"{name}() supports floating dtypes only ({', '.join(d.name for d in dtypes)}); "
                         f"got {first.dtype.name}")


def _numpy_result(r: np.ndarray, dtype) -> Tensor:
    r = np.asarray(r).astype(dtype.np, copy=False)
    return Tensor._from_array(np.array(r, order="C"), dtype)


def _compute_arrays(tensors: Sequence[Tensor]) -> list:
    compute = np.float32 if tensors[0].dtype in HALVES else tensors[0].dtype.np
    return [t._np().astype(compute, copy=False) for t in tensors]


def _operands(operands: tuple) -> tuple:
    """``einsum(eq, a, b)`` and ``einsum(eq, [a, b])`` are the same call."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        return tuple(operands[0])
    return tuple(operands)


def _run_plan(op: Op, operands: tuple, plan: Plan) -> Tensor:
    if backends.for_device(operands[0]._storage.device) == "reference":
        arrays = [np.broadcast_to(a, [plan.sizes[lab] for lab in labels])  # size-1 dims broadcast
                  for a, labels in zip(_compute_arrays(operands), plan.inputs)]
        r = backends.run_reference(op.reference, letters_equation(plan), *arrays)
        return _numpy_result(r, operands[0].dtype)
    return lower(operands, plan)


def einsum(op: Op, equation: str, *operands: Tensor) -> Tensor:
    """Sums of products over labelled dims (Einstein notation), as ``torch.einsum``.

    Labels are letters; ``...`` stands for broadcast dims; without ``->`` the output holds the
    labels seen once, in alphabetical order. A label repeated in one operand takes its diagonal.
    Each pairwise contraction is one ``bmm`` (one ``mul`` when nothing is summed).

    >>> import neurarust as nr
    >>> a = nr.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> nr.einsum("ii->i", a).tolist(), nr.einsum("ij,jk->ik", a, a).tolist(), nr.einsum("ij->", a).item()
    ([1.0, 4.0], [[7.0, 10.0], [15.0, 22.0]], 10.0)
    """
    operands = _operands(operands)
    if not operands:
        raise ArgumentError("einsum(): must provide at least one operand")
    _check_tensors("einsum", operands, op.dtypes)
    plan = parse(equation, [t.shape for t in operands])
    return _run_plan(op, operands, plan)


def _tensordot_dims(a: Tensor, b: Tensor, dims) -> tuple[list, list]:
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise ArgumentError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise ShapeError(f"tensordot expects dims <= ndim_a and ndim_b, but got dims={dims} for shapes "
                             f"{list(a.shape)} and {list(b.shape)}")
        return list(range(a.ndim - dims, a.ndim)), list(range(dims))
    if not isinstance(dims, (list, tuple)) or len(dims) != 2:
        raise ArgumentError(f"tensordot expects dims to be an int or a pair of lists of dims, got {dims!r}")
    da, db = ([d] if isinstance(d, (int, np.integer)) else list(d) for d in dims)
    if len(da) != len(db):
        raise ArgumentError(f"tensordot expects both dim lists to have the same length, got {da} and {db}")
    return [normalize_dim(d, a.ndim) for d in da], [normalize_dim(d, b.ndim) for d in db]


def tensordot_plan(a: Tensor, b: Tensor, dims) -> Plan:
    """The einsum plan of ``tensordot(a, b, dims)``: shared labels for the contracted dims."""
    da, db = _tensordot_dims(a, b, dims)
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise ShapeError(f"tensordot: contracted dimensions need to match, but first has size {a.shape[x]} "
                             f"in dim {x} and second has size {b.shape[y]} in dim {y}")
    if len(set(da)) < len(da) or len(set(db)) < len(db):
        raise ArgumentError(f"tensordot: a dim appears twice in the contracted dims {da} and {db}")
    la = [ord(LETTERS[i]) for i in range(a.ndim)]
    lb = [ord(LETTERS[a.ndim + i]) for i in range(b.ndim)]
    for x, y in zip(da, db):
        lb[y] = la[x]
    output = [lab for i, lab in enumerate(la) if i not in da] + [lab for i, lab in enumerate(lb) if i not in db]
    return Plan([la, lb], output, {**dict(zip(la, a.shape)), **dict(zip(lb, b.shape))})


def tensordot(op: Op, a: Tensor, b: Tensor, dims: int | Sequence = 2) -> Tensor:
    """Sum of products over ``dims``: an int ``n`` pairs the last ``n`` dims of ``a`` with the first
    ``n`` of ``b``; a pair of lists names the dims. One ``mm``-like product.

    >>> import neurarust as nr
    >>> nr.tensordot(nr.ones(2, 3, 4), nr.ones(3, 4, 5)).shape
    neurarust.Size([2, 5])
    >>> nr.tensordot(nr.ones(3, 2), nr.ones(4, 3), dims=([0], [1])).tolist()[0]
    [3.0, 3.0, 3.0, 3.0]
    """
    _check_tensors("tensordot", (a, b), op.dtypes)
    plan = tensordot_plan(a, b, dims)
    if backends.for_device(a._storage.device) == "reference":
        da, db = _tensordot_dims(a, b, dims)
        r = backends.run_reference(np.tensordot, *_compute_arrays((a, b)), axes=(da, db))
        return _numpy_result(r, a.dtype)
    return lower((a, b), plan)


def outer(op: Op, input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two 1-D tensors, ``result[i, j] = input[i] * vec2[j]`` (dtypes promote).

    >>> import neurarust as nr
    >>> nr.outer(nr.tensor([1, 2]), nr.tensor([1.0, 0.5, 0.0])).tolist()
    [[1.0, 0.5, 0.0], [2.0, 1.0, 0.0]]
    """
    for what, t in (("self", input), ("vec2", vec2)):
        if not isinstance(t, Tensor):
            raise SignatureError(f"outer(): argument {what!r} must be a Tensor, not {type(t).__name__}")
        if t.ndim != 1:
            raise ShapeError(f"outer: Expected 1-D argument {what}, but got {t.ndim}-D")
    return call("mul", input.unsqueeze(1), vec2.unsqueeze(0))


# ----------------------------------------------------------------------------------------------
# linalg.qr: Householder reflections, LAPACK's conventions (geqrf + orgqr)
# ----------------------------------------------------------------------------------------------

class QRResult(NamedTuple):
    """``(Q, R)`` of :func:`qr`, also reachable as ``.Q`` and ``.R``."""

    Q: Tensor
    R: Tensor


QR_MODES = ("reduced", "complete", "r")


def _reflector(R: Tensor, j: int, rows: Tensor) -> tuple[Tensor, Tensor]:
    """LAPACK's dlarfg on column ``j`` of ``R`` below row ``j``: ``(v, tau)`` with ``v[j] = 1``,
    zeros above, and ``H = I - tau v v^T`` mapping the column to ``(.., beta, 0, ..)`` with
    ``beta = -sign(R[j, j]) * norm``. A column already zero below the diagonal is left alone (tau 0)."""
    tail = call("where", rows > j, R[..., :, j], 0.0)              # (*B, m)
    sigma = (tail * tail).sum(-1, keepdim=True)                   # (*B, 1)
    alpha = R[..., j:j + 1, j]                                    # (*B, 1)
    norm = call("sqrt", alpha * alpha + sigma)
    beta = call("where", alpha >= 0, -norm, norm)
    reflect = sigma > 0
    tau = call("where", reflect, (beta - alpha) / beta, 0.0)      # the NaN of 0/0 is never selected
    scale = call("where", reflect, 1.0 / (alpha - beta), 0.0)
    return tail * scale + (rows == j), tau


def _apply_reflector(X: Tensor, v: Tensor, tau: Tensor) -> Tensor:
    """``(I - tau v v^T) X`` for a batch of reflectors: one matmul and one fused update."""
    w = call("matmul", v.unsqueeze(-2), X)                        # (*B, 1, n)
    return X - (tau.unsqueeze(-1) * v.unsqueeze(-1)) * w


def _eye(m: int, n: int, like: Tensor) -> Tensor:
    rows = call("arange", m, device=like.device)
    cols = call("arange", n, device=like.device)
    return (rows.unsqueeze(1) == cols.unsqueeze(0)).to(like.dtype)


def householder_qr(A: Tensor, mode: str) -> QRResult:
    """QR of a batch of matrices with registered ops (the Triton path of ``linalg.qr``)."""
    *batch, m, n = A.shape
    k = min(m, n)
    rows = call("arange", m, dtype=A.dtype, device=A.device)
    R, reflectors = A, []
    for j in range(k):
        v, tau = _reflector(R, j, rows)
        R = _apply_reflector(R, v, tau)
        reflectors.append((v, tau))
    r_rows = m if mode == "complete" else k
    upper = call("arange", r_rows, device=A.device).unsqueeze(1) <= call("arange", n, device=A.device).unsqueeze(0)
    R = call("where", upper, R[..., :r_rows, :], 0.0)  # exact zeros below the diagonal, as LAPACK stores
    if mode == "r":
        return QRResult(Tensor._empty((0,), A.dtype, A.device), R)
    Q = _eye(m, k if mode == "reduced" else m, A)
    for v, tau in reversed(reflectors):  # Q = H_1 ... H_k I, applied right to left as orgqr does
        Q = _apply_reflector(Q, v, tau)
    if Q.shape != (*batch, Q.shape[-2], Q.shape[-1]):
        Q = Q.expand(*batch, *Q.shape[-2:]).contiguous()
    return QRResult(Q, R)


def _lower_mask(n: int, like: Tensor, strict: bool = False) -> Tensor:
    rows = call("arange", n, device=like.device).unsqueeze(1)
    cols = call("arange", n, device=like.device).unsqueeze(0)
    return rows > cols if strict else rows >= cols


def _solve_transposed_upper(B: Tensor, R: Tensor) -> Tensor:
    """``X = B R^{-T}`` for upper-triangular ``R``: back substitution, one column of X per step
    (the columns not yet found are zero, so one matmul per step sums the known ones)."""
    n = R.shape[-1]
    X = zeros_like(B)
    unit = call("arange", n, dtype=B.dtype, device=B.device)
    for i in reversed(range(n)):
        known = call("matmul", X, R[..., i, :].unsqueeze(-1)).squeeze(-1)
        x = (B[..., :, i] - known) / R[..., i:i + 1, i]
        X = X + x.unsqueeze(-1) * (unit == i)
    return X


def _qr_tall_grad(gQ: Tensor, gR: Tensor, Q: Tensor, R: Tensor) -> Tensor:
    """``m >= n``: ``gA = (gQ + Q copyltu(M)) R^{-T}`` with ``M = R gR^T - gQ^T Q`` and copyltu
    mirroring the lower triangle onto the upper one."""
    M = call("matmul", R, gR.mT) - call("matmul", gQ.mT, Q)
    n = M.shape[-1]
    lower = call("where", _lower_mask(n, M), M, 0.0)
    strict = call("where", _lower_mask(n, M, strict=True), M, 0.0)
    return _solve_transposed_upper(gQ + call("matmul", Q, lower + strict.mT), R)


def _columns_into(x: Tensor, start: int, n: int) -> Tensor:
    """``x`` (``k`` columns) placed at columns ``start..start+k`` of an ``n``-column zero matrix,
    as one matmul with a 0/1 matrix (differentiable, no scatter)."""
    k = x.shape[-1]
    place = (call("arange", k, device=x.device).unsqueeze(1) + start == call("arange", n, device=x.device))
    return call("matmul", x, place.to(x.dtype))


def _qr_backward(grad, A, mode, result):
    """PyTorch's derivative of the QR decomposition (reduced, or complete when ``m <= n``)."""
    m, n = A.shape[-2:]
    if mode == "r":
        raise AutogradError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                            "Use linalg.qr(A, mode='reduced') to differentiate through linalg.qr.")
    if mode == "complete" and m > n:
        raise AutogradError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
    Q, R = result
    gQ = grad[0] if grad[0] is not None else zeros_like(Q)
    gR = grad[1] if grad[1] is not None else zeros_like(R)
    if m >= n:
        return (_qr_tall_grad(gQ, gR, Q, R),)
    # Wide: A = (X | Y) with X = Q U; the Y block only moves R's right part V = Q^T Y.
    gU, gV = gR[..., :, :m], gR[..., :, m:]
    gX = _qr_tall_grad(gQ + call("matmul", A[..., :, m:], gV.mT), gU, Q, R[..., :, :m])
    return (_columns_into(gX, 0, n) + _columns_into(call("matmul", Q, gV), m, n),)


def _ref_qr(a: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    if mode == "r":
        return np.empty((0,), a.dtype), np.linalg.qr(a, mode="r")
    q, r = np.linalg.qr(a, mode=mode)
    return q, r


def qr(op: Op, A: Tensor, mode: str = "reduced") -> QRResult:
    """QR decomposition ``A = Q R`` of a (batch of) matrices: ``Q`` with orthonormal columns, ``R``
    upper triangular, signs as LAPACK's Householder QR (so as PyTorch and NumPy). ``mode``:
    ``"reduced"`` (Q ``(m, k)``, R ``(k, n)``, ``k = min(m, n)``), ``"complete"`` (Q ``(m, m)``,
    R ``(m, n)``), ``"r"`` (the reduced R only; Q is an empty tensor). float32 and float64.
    Differentiable as in PyTorch: reduced mode, or complete mode when ``m <= n``.

    >>> import neurarust as nr
    >>> Q, R = nr.linalg.qr(nr.tensor([[3.0, 1.0], [4.0, 2.0]]))
    >>> [round(x, 4) for x in R[0].tolist()], round(R[1, 1].item(), 4)
    ([-5.0, -2.2], 0.4)
    """
    if not isinstance(A, Tensor):
        raise SignatureError(f"linalg.qr(): argument 'A' must be a Tensor, not {type(A).__name__}")
    if mode not in QR_MODES:
        raise ArgumentError(f"linalg.qr: received unrecognized mode {mode!r} but expected one of 'reduced' "
                            f"(default), 'r', or 'complete'")
    if A.ndim < 2:
        raise ShapeError(f"linalg.qr: The input tensor A must have at least 2 dimensions, got shape {list(A.shape)}")
    if A.dtype not in op.dtypes:
        raise DTypeError(f"linalg.qr: supports float32 and float64 only, got {A.dtype.name}")
    if backends.for_device(A._storage.device) == "reference":
        q, r = backends.run_reference(op.reference, A._np(), mode)
        return QRResult(_numpy_result(q, A.dtype), _numpy_result(r, A.dtype))
    return householder_qr(A, mode)


# ----------------------------------------------------------------------------------------------
# allclose, equal: Python bools
# ----------------------------------------------------------------------------------------------

def _all_true(mask: Tensor) -> bool:
    if mask.numel() == 0:
        return True
    return int(call("sum", mask).item()) == mask.numel()  # the one host sync: the answer is a bool


def allclose(op: Op, input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True when every element pair is close: ``|input - other| <= atol + rtol * |other|``
    (broadcasting; NaN equals NaN only with ``equal_nan``). A Python bool.

    >>> import neurarust as nr
    >>> nr.allclose(nr.tensor([1.0, 2.0]), nr.tensor([1.0, 2.0 + 1e-6])), nr.tensor([1.0]).allclose(nr.tensor([1.1]))
    (True, False)
    """
    return _all_true(call("isclose", input, other, rtol, atol, equal_nan))


def equal(op: Op, input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and the same values (NaN is never equal; the
    dtypes promote). A Python bool.

    >>> import neurarust as nr
    >>> nr.equal(nr.tensor([1, 2]), nr.tensor([1.0, 2.0])), nr.equal(nr.ones(2), nr.ones(3))
    (True, False)
    """
    for what, t in (("input", input), ("other", other)):
        if not isinstance(t, Tensor):
            raise SignatureError(f"equal(): argument {what!r} must be a Tensor, not {type(t).__name__}")
    if input.device != other.device:
        raise DeviceError(f"equal: expected both tensors on one device, got {input.device} and {other.device}")
    if input.shape != other.shape:
        return False
    return _all_true(call("eq", input, other))


def _ref_allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(np.allclose(a, b, rtol, atol, equal_nan))


def _ref_equal(a, b) -> bool:
    return a.shape == b.shape and bool(np.all(a == b))


# ----------------------------------------------------------------------------------------------
# Derivatives: the gradient of an operand is an einsum of the result's gradient with the other
# operands, output and operand labels swapped.
# ----------------------------------------------------------------------------------------------

def _to_letters(terms: list) -> list[str]:
    """Label lists -> letter words: letters keep their name, other labels (ellipsis dims, fresh
    labels) take unused letters."""
    labels = [lab for term in terms for lab in term]
    named = {lab for lab in labels if 0 < lab < 128 and chr(lab) in LETTERS}
    spare = iter(ch for ch in LETTERS if ord(ch) not in named)
    names: dict = {}
    for lab in labels:
        if lab not in names:
            names[lab] = chr(lab) if lab in named else next(spare)
    return ["".join(names[lab] for lab in term) for term in terms]


def _operand_grad(grad: Tensor, plan: Plan, operands: Sequence[Tensor], i: int) -> Tensor:
    x, labels = operands[i], list(plan.inputs[i])
    terms = [list(plan.output)] + [list(plan.inputs[j]) for j in range(len(operands)) if j != i]
    tensors = [grad] + [operands[j] for j in range(len(operands)) if j != i]
    fresh = 10_000
    for d, lab in enumerate(labels):  # a repeated label ("ii"): the gradient lives on the diagonal
        if lab in labels[:d]:
            labels[d] = fresh
            terms.append([lab, fresh])
            tensors.append(_eye(x.shape[d], x.shape[d], grad))
            fresh += 1
    seen = {lab for term in terms for lab in term}
    present = [lab for lab in labels if lab in seen]
    words = _to_letters(terms + [present])
    g = call("einsum", ",".join(words[:-1]) + "->" + words[-1], *tensors)
    if len(present) < len(labels):  # labels summed away in the forward: every element got the same gradient
        for d, lab in enumerate(labels):
            if lab not in seen:
                g = g.unsqueeze(d)
        g = g.expand(*[x.shape[d] if lab not in seen else g.shape[d] for d, lab in enumerate(labels)])
    dims = [d for d in range(x.ndim) if x.shape[d] == 1 and g.shape[d] != 1]  # size-1 dims that broadcast
    return g.sum(dims, keepdim=True) if dims else g


def plan_grads(grad: Tensor, plan: Plan, operands: Sequence[Tensor]) -> list:
    """The gradient of every operand of ``plan`` that requires one (None for the others)."""
    return [_operand_grad(grad, plan, operands, i) if getattr(t, "requires_grad", True) else None
            for i, t in enumerate(operands)]


def _einsum_backward(grad, equation, operands):
    operands = tuple(operands)
    return (plan_grads(grad, parse(equation, [t.shape for t in operands]), operands),)


def _tensordot_backward(grad, a, b, dims):
    return tuple(plan_grads(grad, tensordot_plan(a, b, dims), (a, b)))


def _outer_backward(grad, input, vec2):
    return (grad * vec2.unsqueeze(0)).sum(1), (grad * input.unsqueeze(1)).sum(0)


# ----------------------------------------------------------------------------------------------
# Samples, errors, tolerances, registration
# ----------------------------------------------------------------------------------------------

def _v(d, shape, seed):
    return S.values(d, shape, seed)


def _einsum_samples(d):
    v = lambda shape, seed: _v(d, shape, seed)  # noqa: E731
    yield Sample(("bij,bjk->bik", v((2, 3, 4), 0), v((2, 4, 5), 1)), name="bmm")
    yield Sample(("bhqd,bhkd->bhqk", v((2, 2, 3, 4), 2), S.TensorSpec(v((2, 2, 5, 4), 3), "strided")), name="attention")
    yield Sample(("...ij,...jk", v((2, 1, 3, 2), 4), v((3, 2, 4), 5)), name="ellipsis_broadcast_implicit")
    yield Sample(("i,j->ij", v((3,), 6), v((4,), 7)), name="outer")
    yield Sample(("ij->ji", S.TensorSpec(v((3, 4), 8), "transposed")), name="transpose")
    yield Sample(("ii->i", v((4, 4), 9)), name="diagonal")
    yield Sample(("ij->", v((3, 5), 10)), name="sum_all")
    yield Sample(("bn,anm,bm->ba", v((2, 3), 11), v((4, 3, 5), 12), v((2, 5), 13)), name="bilinear")
    yield Sample(("i j , i j -> i", v((3, 4), 14), v((1, 4), 15)), name="elementwise_rowdot_broadcast")
    yield Sample(("ii,ij->j", v((3, 3), 16), v((3, 2), 17)), name="trace_like")
    yield Sample(("ab,bc->ac", v((2, 0), 18), v((0, 3), 19)), name="empty_sum")


def _tensordot_samples(d):
    v = lambda shape, seed: _v(d, shape, seed)  # noqa: E731
    yield Sample((v((2, 3, 4), 0), v((3, 4, 5), 1)), name="default_dims2")
    yield Sample((v((3, 2), 2), S.TensorSpec(v((4, 3), 3), "transposed")), {"dims": ([0], [1])}, name="lists")
    yield Sample((v((2, 3), 4), v((4,), 5)), {"dims": 0}, name="dims0_outer")
    yield Sample((v((2, 3, 4), 6), v((4, 2, 3), 7)), {"dims": ([-1, 0], [0, 1])}, name="negative_dims")


def _outer_samples(d):
    v = lambda shape, seed: _v(d, shape, seed)  # noqa: E731
    yield Sample((v((3,), 0), v((4,), 1)), name="vectors")
    yield Sample((S.TensorSpec(v((5,), 2), "strided"), v((2,), 3)), name="strided")
    yield Sample((v((0,), 4), v((3,), 5)), name="empty")


def _qr_samples(d):
    rng = np.random.default_rng(0)

    def well(*shape):  # identity-dominated: well conditioned, so every sign is decided
        eye = np.eye(shape[-2], shape[-1])
        return (eye * 3 + rng.uniform(-1, 1, size=shape)).astype(d.np).astype(np.float64)

    yield Sample((well(2, 3, 2),), name="batched_tall")
    yield Sample((well(2, 3),), {"mode": "complete"}, name="wide_complete")
    yield Sample((S.TensorSpec(well(3, 2), "transposed"),), {"mode": "complete"}, name="tall_complete_transposed")
    yield Sample((well(3, 2),), {"mode": "r"}, name="mode_r")


def _allclose_samples(d):
    a = _v(d, (6,), 0)
    yield Sample((a, a.copy()), name="equal")
    yield Sample((a, a + np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.5])), {"atol": 0.25}, name="one_far")
    m = _v(d, (3, 4), 1)
    yield Sample((S.TensorSpec(m), m[1] * 0 + m), {"rtol": 0.0}, name="broadcast_strided")
    nan = np.array([np.nan, np.inf, 1.0])
    yield Sample((nan, nan.copy()), name="nan_not_equal")
    yield Sample((nan, nan.copy()), {"equal_nan": True}, name="nan_equal")
    yield Sample((_v(d, (0, 2), 2), _v(d, (2,), 3)), name="empty")


def _equal_samples(d):
    a = _v(d, (2, 5), 0)
    yield Sample((a, a.copy()), name="same")
    b = a.copy()
    b.flat[7] = b.flat[6] if b.flat[7] != b.flat[6] else b.flat[7] + 1
    yield Sample((a, b), name="one_differs")
    yield Sample((S.TensorSpec(a, "transposed"), a.copy()), name="transposed")
    yield Sample((_v(d, (0,), 1), _v(d, (0,), 2)), name="empty")
    if d.is_floating_point:
        yield Sample((np.array([1.0, np.nan]), np.array([1.0, np.nan])), name="nan")


def _err(args, error, match, **kwargs):
    return ErrorInput(Sample(args, kwargs), error, match)


def _einsum_errors():
    yield _err(("ij,jk->ik", np.ones((2, 3))), ArgumentError, "fewer operands")
    yield _err(("ij->ij", np.ones((2, 3)), np.ones(3)), ArgumentError, "more operands")
    yield _err(("ij->i", np.ones((2, 3, 4))), ShapeError, "number of subscripts")
    yield _err(("ij,jk->ik", np.ones((2, 3)), np.ones((2, 3))), ShapeError, "subscript j has size 2")
    yield _err(("ij->k", np.ones((2, 3))), ArgumentError, "output subscript k")
    yield _err(("ii->i", np.ones((2, 3))), ShapeError, "repeated")
    yield _err(("i1->i", np.ones((2, 3))), ArgumentError, "invalid subscript")
    yield _err(("ij->ij", np.ones((2, 2), np.int64)), DTypeError, "floating")
    yield _err(("i,i->", np.ones(2), np.ones(2, np.int64)), DTypeError, "one dtype")


def _tensordot_errors():
    yield _err((np.ones((2, 3)), np.ones((4, 3))), ShapeError, "dims <= ndim", dims=3)
    yield _err((np.ones((2, 3)), np.ones((4, 3))), ShapeError, "contracted dimensions need to match", dims=1)
    yield _err((np.ones((2, 3)), np.ones((3, 2))), ArgumentError, "same length", dims=([0, 1], [0]))
    yield _err((np.ones((2, 2), np.int64), np.ones((2, 2), np.int64)), DTypeError, "floating")


def _outer_errors():
    yield _err((np.ones((2, 2)), np.ones(2)), ShapeError, "1-D argument self")
    yield _err((np.ones(2), np.array(1.0)), ShapeError, "1-D argument vec2")


def _qr_errors():
    yield _err((np.ones(3),), ShapeError, "at least 2 dimensions")
    yield _err((np.ones((2, 2), np.int64),), DTypeError, "float32 and float64")
    yield _err((np.eye(2),), ArgumentError, "unrecognized mode", mode="x")


def _allclose_errors():
    yield _err((np.ones(2), np.ones(2, np.int64)), DTypeError, "same dtype")
    yield _err((np.ones(2), np.ones(3)), ShapeError, "cannot be broadcast")


def _equal_errors():
    yield _err((np.ones(2), [1.0, 1.0]), SignatureError, "must be a Tensor")


def _contraction_tolerance(rtol: float, atol_per_term: float):
    """Like matmul's: the error of a sum grows with the number of products in it."""
    def tolerance(sample: Sample) -> tuple[float, float]:
        sizes = [S.array_of(a).size for a in sample.args if not isinstance(a, str)]  # bounds every K
        return rtol, atol_per_term * max([1] + sizes)
    return tolerance


CONTRACTION_TOLERANCES = {
    _dt.float32: _contraction_tolerance(1.3e-6, 1e-6),
    _dt.float16: _contraction_tolerance(1e-3, 1e-4),
    _dt.bfloat16: _contraction_tolerance(1.6e-2, 1e-3),
}


def _torch(path: str):
    """A lazy PyTorch oracle (entries import NumPy only)."""
    def fn(*args, **kwargs):
        import torch

        f = torch
        for part in path.split("."):
            f = getattr(f, part)
        return f(*args, **kwargs)
    return fn


def _bind_einsum(args: tuple, kwargs: dict) -> dict:
    equation = args[0] if args else kwargs["equation"]
    return {"equation": equation, "operands": _operands(tuple(args[1:]))}


def _op(name, frontend, reference, dtypes, samples, errors, *, method=True, tolerances=None, torch_name=None,
        **fields) -> Op:
    return register(Op(name=name, kind="linalg", frontend=frontend, reference=reference, triton=None, dtypes=dtypes,
                       samples=samples, error_inputs=errors, tolerances=tolerances or {}, method=method,
                       torch_name=torch_name or name, **fields))


_op("einsum", einsum, np.einsum, _dt.FLOAT_DTYPES, _einsum_samples, _einsum_errors, method=False,
    tolerances=CONTRACTION_TOLERANCES, bind=_bind_einsum, backward=_einsum_backward, differentiable=("operands",))
_op("tensordot", tensordot, np.tensordot, _dt.FLOAT_DTYPES, _tensordot_samples, _tensordot_errors, method=False,
    tolerances=CONTRACTION_TOLERANCES, backward=_tensordot_backward, differentiable=("a", "b"))
_op("outer", outer, np.outer, _dt.ALL_DTYPES, _outer_samples, _outer_errors, backward=_outer_backward,
    differentiable=("input", "vec2"))
_op("linalg.qr", qr, _ref_qr, (_dt.float32, _dt.float64), _qr_samples, _qr_errors, method=False,
    tolerances={_dt.float32: (1e-4, 2e-5), _dt.float64: (1e-10, 1e-12)}, torch_name=_torch("linalg.qr"),
    backward=_qr_backward, differentiable=("A",))
_op("allclose", allclose, _ref_allclose, _dt.FLOAT_DTYPES, _allclose_samples, _allclose_errors, differentiable=())
_op("equal", equal, _ref_equal, _dt.ALL_DTYPES, _equal_samples, _equal_errors, differentiable=())

# Autocast classes per device type: PyTorch's lists (docs/amp.md, tests/test_amp_autocast.py).


def _einsum_contracts(bound: dict) -> bool:
    """Whether PyTorch's CPU einsum runs a ``bmm`` (autocast "lower") for this call: some label two
    operands share is summed. Outer and elementwise products and one-operand sums stay in their dtype."""
    try:
        operands = _operands(bound["operands"])
        plan = parse(bound["equation"], [t.shape for t in operands])
    except Exception:  # noqa: BLE001 - a bad call raises its own error when the op runs
        return False
    counts: dict = {}
    for labels in plan.inputs:
        for label in set(labels):
            counts[label] = counts.get(label, 0) + 1
    return any(n >= 2 and label not in plan.output for label, n in counts.items())


# On the CPU PyTorch runs einsum and tensordot as bmm/mm, which are "lower" there.
autocast_class(("einsum",), cuda="lower", cpu=AutocastWhen("lower", _einsum_contracts))
autocast_class(("tensordot",), cuda="promote", cpu="lower")
autocast_class(("linalg.qr",), cpu="fp32")
