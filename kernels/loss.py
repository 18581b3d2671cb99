"""Loss functions: torch.nn.functional's losses, one registry entry each (``attrs["public"]`` False:
``neurarust.nn.functional`` exposes them under PyTorch's names and signatures).

``cross_entropy`` with class indices and ``nll_loss`` run one fused Triton kernel
(``loss_triton.py``): rows of logits go to per-row losses through an online log-sum-exp, and the
forward keeps only that log-sum-exp (one fp32 number per row) for the backward, a second kernel that
rebuilds ``softmax - onehot`` from the logits on the fly (the internal entry
``cross_entropy_backward``). Against ``log_softmax`` + ``nll_loss``, which stores the ``N x C``
log-probabilities for backward, that saves ``N * C * itemsize - 4 * N`` bytes. The forward reduces
inside its kernel (one launch; two when the rows take several programs), and the backward reads the
reduced loss's gradient broadcast to the rows through a zero stride (one launch).

The other losses are short formulas over public ops (:data:`NR` on the Triton path, :data:`NP` for
the NumPy reference, the same code); fp16/bf16 inputs are computed in fp32. Their derivative is the
formula's own: the backward re-runs it with recording on and differentiates it, so it is exactly the
forward's derivative and can be differentiated again.

    >>> import neurarust as nr
    >>> from neurarust.registry import call
    >>> logits = nr.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> round(call("cross_entropy", logits, nr.tensor([0, 2])).item(), 4)
    0.6691
    >>> call("mse_loss", nr.tensor([1.0, 2.0]), nr.tensor([0.0, 0.0]), reduction="sum").item()
    5.0
"""
from __future__ import annotations

import inspect
import math
import threading

import numpy as np

from neurarust import backends, registry
from neurarust import dtype as _dt
from neurarust.errors import ArgumentError, DeviceError, DTypeError, IndexOutOfRangeError, ShapeError, SignatureError
from neurarust.registry import AutocastWhen, ErrorInput, Op, Sample, autocast_class, call, register, signature_bind
from neurarust.shape import broadcast_shapes
from neurarust.tensor import Tensor

from . import samples as S
from .formulas import NP, NR
from .indexing import ix

TRITON_CE = "neurarust.kernels.loss_triton:launch_cross_entropy"
TRITON_CE_BACKWARD = "neurarust.kernels.loss_triton:launch_cross_entropy_backward"
TRITON_CE_WITH_GRAD = TRITON_CE_BACKWARD   # its loss_reduction argument writes the loss too
FLOATS = _dt.FLOAT_DTYPES
REDUCTIONS = ("none", "mean", "sum")
OPTIONAL_TENSORS = ("weight", "pos_weight")
HALF_TOLERANCES = {_dt.float16: (4e-3, 2e-3), _dt.bfloat16: (3e-2, 2e-2)}




# ----------------------------------------------------------------------------------------------
# Checks and reductions shared by every loss
# ----------------------------------------------------------------------------------------------

def legacy_reduction(size_average, reduce, reduction: str) -> str:
    """PyTorch's rule for the deprecated ``size_average``/``reduce`` flags (either one set wins)."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "none" if not reduce else ("mean" if size_average else "sum")


def _check_reduction(name: str, reduction, allowed=REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ArgumentError(f"{name}(): {reduction!r} is not a valid value for reduction "
                            f"(expected one of {', '.join(map(repr, allowed))})")


def _check_tensors(name: str, tensors: dict, floats: tuple) -> None:
    """Tensors (or None where optional), on one device, floating where ``floats`` says so."""
    device = None
    for what, t in tensors.items():
        if t is None:
            continue
        if not isinstance(t, Tensor):
            raise SignatureError(f"{name}(): argument '{what}' must be a Tensor, not {type(t).__name__}")
        if what in floats and not t.dtype.is_floating_point:
            raise DTypeError(f"{name}(): expected a floating point '{what}', got {t.dtype}")
        if device is not None and t.device != device:
            raise DeviceError(f"{name}(): expected all tensors on one device, got {device} and {t.device}")
        device = t.device


def _numel(x) -> int:
    return math.prod(x.shape)


def reduce_loss(ns, loss, reduction: str, weight=None, by_weight: bool = False):
    """``loss`` reduced: 'mean' divides by the element count, or by the weights' sum (``by_weight``:
    weighted mse/l1); 'batchmean' (kl_div) by the first dim's size."""
    if reduction == "none":
        return loss
    total = ns.sum(loss)
    if reduction == "sum":
        return total
    if reduction == "batchmean":
        return total / (loss.shape[0] if len(loss.shape) else 1)
    if by_weight and weight is not None:
        return total / ns.sum(weight)
    return total / _numel(loss)


def _acc(d: _dt.DType) -> _dt.DType:
    return _dt.float64 if d is _dt.float64 else _dt.float32


def _is_reference(t: Tensor) -> bool:
    return backends.for_device(t._storage.device) == "reference"


def _finish(result, out_dtype: _dt.DType) -> Tensor:
    if isinstance(result, Tensor):
        return result if result.dtype is out_dtype else call("cast", result, out_dtype)
    return Tensor._wrap(np.array(np.asarray(result).astype(out_dtype.np), order="C"), out_dtype)


# ----------------------------------------------------------------------------------------------
# Formula losses: one front end, the formula on NumPy or on public ops, and its derivative
# ----------------------------------------------------------------------------------------------

def _normalised(op: Op, bound: dict) -> dict:
    """The bound call with the legacy flags folded into ``reduction`` (checked)."""
    args = {k: v for k, v in bound.items() if k not in ("size_average", "reduce")}
    args["reduction"] = legacy_reduction(bound.get("size_average"), bound.get("reduce"), bound["reduction"])
    _check_reduction(op.name, args["reduction"], op.attrs.get("reductions", REDUCTIONS))
    return args


def _formula_loss(op: Op, bound: dict) -> Tensor:
    """Run a formula loss: checks, then its formula on NumPy arrays (reference backend) or on public
    ops (Triton backend), in fp32 for fp16/bf16 inputs; the result has the inputs' promoted dtype."""
    args = _normalised(op, bound)
    floats = op.attrs["floats"]
    tensors = {k: args[k] for k in op.attrs["tensors"]}
    for k, v in tensors.items():
        if v is None and k not in OPTIONAL_TENSORS:
            raise SignatureError(f"{op.name}(): argument '{k}' must be a Tensor, not NoneType")
    _check_tensors(op.name, tensors, floats)
    present = [t for k, t in tensors.items() if t is not None and k in floats]
    out_dtype = _dt.result_type(*present) if len(present) > 1 else present[0].dtype
    op.attrs["check"](op.name, **args)
    acc = _acc(out_dtype)
    if _is_reference(present[0]):
        arrays = {k: (v._np().astype(acc.np) if v.dtype.is_floating_point else v._np()) if isinstance(v, Tensor) else v
                  for k, v in args.items()}
        return _finish(backends.run_reference(op.reference, **arrays), out_dtype)
    wide = {k: call("cast", v, acc) if isinstance(v, Tensor) and v.dtype.is_floating_point and v.dtype is not acc
            else v for k, v in args.items()}
    return _finish(op.attrs["formula"](NR, **wide), out_dtype)


def differentiate(fn, args: dict, names: list, grad) -> tuple:
    """The gradients of ``fn(**args)`` weighted by ``grad`` with respect to ``args[name]`` for each
    name: ``fn`` re-run with recording on, then differentiated. Without ``create_graph`` the tensors are
    detached first, so that only the formula's own small graph is walked."""
    from neurarust import autograd

    create = autograd.grad_mode.is_grad_enabled()
    if create:   # fresh nodes standing for the arguments: a target made from the input is its own path
        args = {**args, **{n: args[n] * 1.0 for n in names}}
    else:
        args = {**args, **{n: args[n].detach().requires_grad_() for n in names}}
    with autograd.grad_mode.enable_grad():
        out = fn(**args)
        return autograd.grad(out, [args[n] for n in names], grad, create_graph=create, allow_unused=True)


def _formula_backward(op_name: str, params: list):
    """The derivative of a formula loss: the formula differentiated (see :func:`differentiate`)."""
    def backward(grad, needs_input_grad, **bound):
        op = OPS[op_name]
        args = _normalised(op, bound)
        names = [n for n, need in zip(op.differentiable, needs_input_grad) if need and isinstance(args.get(n), Tensor)]
        got = dict(zip(names, differentiate(lambda **a: op.attrs["formula"](NR, **a), args, names, grad)))
        return tuple(got.get(n) for n in op.differentiable)

    backward.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in ["grad", "needs_input_grad", *params]])
    backward.__name__ = f"_{op_name}_backward"
    return backward


OPS: dict[str, Op] = {}


def _numpy_reference(formula, name: str):
    def reference(**arrays):
        return formula(NP, **arrays)

    reference.__name__ = f"_reference_{name}"
    return reference


def _torch_fn(name: str):
    def fn(*args, **kwargs):
        import torch.nn.functional as F

        return getattr(F, name)(*args, **kwargs)

    fn.__name__ = name
    return fn


def _no_check(name, **args) -> None:
    pass


def formula_op(frontend, formula, samples, errors, *, tensors, floats, differentiable, check=_no_check,
               reductions=REDUCTIONS, tolerances=None) -> Op:
    """Register a formula loss whose public signature is ``frontend``'s."""
    name = frontend.__name__
    params = list(inspect.signature(frontend).parameters)[1:]
    op = register(Op(
        name=name, kind="loss", frontend=frontend, reference=_numpy_reference(formula, name), triton=None,
        dtypes=FLOATS, samples=samples, error_inputs=errors, tolerances=tolerances or dict(HALF_TOLERANCES),
        method=False, torch_name=_torch_fn(name), differentiable=differentiable,
        backward=_formula_backward(name, params), cost=_cost,
        attrs={"public": False, "formula": formula, "tensors": tensors, "floats": floats, "check": check,
               "reductions": reductions}))
    OPS[name] = op
    return op


def _cost(sample: Sample) -> tuple[int, int]:
    """Every tensor read once; a handful of FLOPs per element."""
    arrays = [S.array_of(a) for a in list(sample.args) + list(sample.kwargs.values())
              if isinstance(a, (np.ndarray, S.TensorSpec))]
    return sum(a.nbytes for a in arrays), 8 * max((a.size for a in arrays), default=0)


def _same_shape(*names):
    def check(name, **args):
        shapes = [tuple(args[n].shape) for n in names if args.get(n) is not None]
        try:
            broadcast_shapes(*shapes)
        except (ShapeError, ValueError):
            raise ShapeError(f"{name}(): shapes {' and '.join(map(str, shapes))} of "
                             f"{', '.join(names)} do not broadcast") from None
    return check


def _weight_like_input(name, input, target, weight=None, **_):
    _same_shape("input", "target")(name, input=input, target=target)
    if weight is not None and tuple(weight.shape) != tuple(input.shape):
        raise ShapeError(f"{name}(): weights and input must have the same size, got {tuple(weight.shape)} "
                         f"and {tuple(input.shape)}")


# -- regression losses ---------------------------------------------------------------------------

def mse_loss(op: Op, input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """Mean squared error ``(input - target)**2`` (times ``weight``), as ``torch.nn.functional.mse_loss``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> call("mse_loss", nr.tensor([1.0, 3.0]), nr.tensor([0.0, 1.0])).item()
        2.5
    """
    return _formula_loss(op, signature_bind(op, (input, target, size_average, reduce, reduction, weight), {}))


def _mse(ns, input, target, reduction, weight):
    d = input - target
    loss = d * d if weight is None else d * d * weight
    return reduce_loss(ns, loss, reduction, weight, by_weight=True)


def l1_loss(op: Op, input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """Mean absolute error ``|input - target|`` (times ``weight``), as ``torch.nn.functional.l1_loss``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> call("l1_loss", nr.tensor([1.0, 3.0]), nr.tensor([0.0, 1.0]), reduction="sum").item()
        3.0
    """
    return _formula_loss(op, signature_bind(op, (input, target, size_average, reduce, reduction, weight), {}))


def _l1(ns, input, target, reduction, weight):
    loss = ns.abs(input - target)
    return reduce_loss(ns, loss if weight is None else loss * weight, reduction, weight, by_weight=True)


def _smooth(ns, d, width: float):
    """``0.5 d**2 / width`` inside ``|d| < width``, ``|d| - 0.5 width`` outside (smooth L1)."""
    a = ns.abs(d)
    if width == 0:
        return a
    return ns.where(a < width, 0.5 * d * d / width, a - 0.5 * width)


def smooth_l1_loss(op: Op, input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Smooth L1: quadratic below ``beta``, linear above, as ``torch.nn.functional.smooth_l1_loss``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> call("smooth_l1_loss", nr.tensor([0.5, 3.0]), nr.tensor([0.0, 0.0]), reduction="none").tolist()
        [0.125, 2.5]
    """
    return _formula_loss(op, signature_bind(op, (input, target, size_average, reduce, reduction, beta), {}))


def _smooth_l1(ns, input, target, reduction, beta):
    return reduce_loss(ns, _smooth(ns, input - target, beta), reduction)


def _check_beta(name, beta, **args):
    _same_shape("input", "target")(name, **args)
    if beta < 0:
        raise ArgumentError(f"{name}(): beta must be non-negative, got {beta}")


def huber_loss(op: Op, input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Huber loss: ``0.5 d**2`` below ``delta``, ``delta (|d| - 0.5 delta)`` above, as
    ``torch.nn.functional.huber_loss``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> call("huber_loss", nr.tensor([0.5, 3.0]), nr.tensor([0.0, 0.0]), reduction="none", delta=2.0).tolist()
        [0.125, 4.0]
    """
    return _formula_loss(op, signature_bind(op, (input, target, reduction, delta, weight), {}))


def _huber(ns, input, target, reduction, delta, weight):
    loss = _smooth(ns, input - target, delta) * delta
    return reduce_loss(ns, loss if weight is None else loss * weight, reduction)


def _check_delta(name, delta, **args):
    _weight_like_input(name, **args)
    if delta <= 0:
        raise ArgumentError(f"{name}(): delta must be positive, got {delta}")


# -- binary classification -------------------------------------------------------------------------

def binary_cross_entropy(op: Op, input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """``-w (y log x + (1 - y) log(1 - x))`` with the logs clamped at -100, as
    ``torch.nn.functional.binary_cross_entropy``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> round(call("binary_cross_entropy", nr.tensor([0.5, 0.9]), nr.tensor([1.0, 1.0])).item(), 4)
        0.3993
    """
    return _formula_loss(op, signature_bind(op, (input, target, weight, size_average, reduce, reduction), {}))


def _bce(ns, input, target, reduction, weight):
    loss = _bce_terms(ns, input, target)
    return reduce_loss(ns, loss if weight is None else loss * weight, reduction)


BCE_EPS = 1e-12   # PyTorch's bound on the gradient's denominator x (1 - x)


def _bce_terms(ns, x, y):
    """``(y - 1) max(log(1 - x), -100) - y max(log x, -100)`` with PyTorch's derivative in x,
    ``(x - y) / max(x (1 - x), 1e-12)``. Inside, where ``x (1 - x) >= 1e-12``, no clamp binds and the
    plain formula has that derivative (and its own second one). Within 1e-12 of 0 or 1 (a saturated
    sigmoid gives exactly 1), the clamped value is taken as a constant and the bounded slope added
    as ``slope * (x - x)``: no ``inf * 0`` reaches the gradient as NaN."""
    inside = x * (1 - x) >= BCE_EPS
    safe = ns.where(inside, x, 0.5)
    plain = (y - 1) * ns.log1p(-safe) - y * ns.log(safe)
    fixed = ns.detach(x)
    edge = (y - 1) * ns.clamp_min(ns.log1p(-fixed), -100.0) - y * ns.clamp_min(ns.log(fixed), -100.0)
    slope = ns.detach((fixed - y) * (1 / BCE_EPS))
    return ns.where(inside, plain, edge + slope * (x - fixed))


def _check_bce(name, input, target, weight=None, **_):
    _check_bce_shapes(name, input, target, weight)
    if _is_reference(input):   # on a GPU the check would wait for the device (PyTorch asserts in its kernel)
        x = input._np()
        if not ((x >= 0) & (x <= 1)).all():
            raise ArgumentError(f"{name}(): all elements of input should be between 0 and 1")


def _check_bce_shapes(name, input, target, weight=None):
    if tuple(input.shape) != tuple(target.shape):
        raise ShapeError(f"{name}(): target size {tuple(target.shape)} must be the same as input size "
                         f"{tuple(input.shape)}")
    if weight is not None:
        _same_shape("input", "weight")(name, input=input, weight=weight)


def binary_cross_entropy_with_logits(op: Op, input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)``, computed stably from the logits, as
    ``torch.nn.functional.binary_cross_entropy_with_logits`` (``pos_weight`` weighs positives).

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> round(call("binary_cross_entropy_with_logits", nr.tensor([0.0, 100.0]), nr.tensor([1.0, 0.0]),
        ...            reduction="sum").item(), 4)
        100.6931
    """
    return _formula_loss(op, signature_bind(op, (input, target, weight, size_average, reduce, reduction,
                                                 pos_weight), {}))


def _bce_logits(ns, input, target, reduction, weight, pos_weight):
    softplus = ns.softplus(-input)  # -log sigmoid(input)
    scale = 1.0 if pos_weight is None else (pos_weight - 1) * target + 1
    loss = (1 - target) * input + scale * softplus
    return reduce_loss(ns, loss if weight is None else loss * weight, reduction)


def _check_bce_logits(name, input, target, weight=None, pos_weight=None, **_):
    _check_bce_shapes(name, input, target)
    for what, t in (("weight", weight), ("pos_weight", pos_weight)):
        if t is not None:
            _same_shape("input", what)(name, input=input, **{what: t})


# -- distributions, ranking, embeddings ---------------------------------------------------------

def kl_div(op: Op, input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence ``target * (log target - input)`` of log-probabilities ``input``
    (``log_target``: the target is given as log-probabilities too), as ``torch.nn.functional.kl_div``;
    ``reduction='batchmean'`` divides the sum by the batch size.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> round(call("kl_div", nr.tensor([-1.0, -1.0]), nr.tensor([0.5, 0.5]), reduction="sum").item(), 4)
        0.3069
    """
    return _formula_loss(op, signature_bind(op, (input, target, size_average, reduce, reduction, log_target), {}))


def _kl_div(ns, input, target, reduction, log_target):
    if log_target:
        loss = ns.exp(target) * (target - input)
    else:  # target * log(target) is 0 at 0 (and its derivative stays finite there)
        loss = target * ns.log(ns.where(target > 0, target, 1.0)) - target * input
    return reduce_loss(ns, loss, reduction)


def margin_ranking_loss(op: Op, input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``, as ``torch.nn.functional.margin_ranking_loss``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> call("margin_ranking_loss", nr.tensor([1.0, 0.0]), nr.tensor([0.0, 1.0]), nr.tensor([1.0, 1.0]),
        ...      margin=0.5, reduction="none").tolist()
        [0.0, 1.5]
    """
    return _formula_loss(op, signature_bind(op, (input1, input2, target, margin, size_average, reduce,
                                                 reduction), {}))


def _margin_ranking(ns, input1, input2, target, margin, reduction):
    return reduce_loss(ns, ns.clamp_min(-target * (input1 - input2) + margin, 0.0), reduction)


def _check_ranking(name, input1, input2, target, **_):
    if not (input1.ndim == input2.ndim == target.ndim):
        raise ShapeError(f"{name}(): input1, input2 and target must have the same number of dims, got "
                         f"{tuple(input1.shape)}, {tuple(input2.shape)} and {tuple(target.shape)}")
    _same_shape("input1", "input2", "target")(name, input1=input1, input2=input2, target=target)


COSINE_EPS = 1e-12  # PyTorch's guard added to each squared magnitude


def cosine_embedding_loss(op: Op, input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``1 - cos(input1, input2)`` where ``target`` is 1, ``max(0, cos - margin)`` where it is -1
    (cosine along the last dim), as ``torch.nn.functional.cosine_embedding_loss``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> call("cosine_embedding_loss", nr.tensor([[1.0, 0.0]]), nr.tensor([[0.0, 2.0]]), nr.tensor([1])).item()
        1.0
    """
    return _formula_loss(op, signature_bind(op, (input1, input2, target, margin, size_average, reduce,
                                                 reduction), {}))


def _cosine_embedding(ns, input1, input2, target, margin, reduction):
    dot = ns.sum(input1 * input2, -1)
    norms = ns.sqrt((ns.sum(input1 * input1, -1) + COSINE_EPS) * (ns.sum(input2 * input2, -1) + COSINE_EPS))
    cos = dot / norms
    loss = ns.where(ns.eq(target, 1), 1 - cos, 0.0) + ns.where(ns.eq(target, -1), ns.clamp_min(cos - margin, 0.0), 0.0)
    return reduce_loss(ns, loss, reduction)


def _check_cosine(name, input1, input2, target, **_):
    if tuple(input1.shape) != tuple(input2.shape) or input1.ndim not in (1, 2):
        raise ShapeError(f"{name}(): input1 and input2 must be 1-D or 2-D of one shape, got "
                         f"{tuple(input1.shape)} and {tuple(input2.shape)}")
    if tuple(target.shape) != tuple(input1.shape[:-1]):
        raise ShapeError(f"{name}(): target must have shape {tuple(input1.shape[:-1])}, got {tuple(target.shape)}")


def triplet_margin_loss(op: Op, anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """``max(0, margin + d(anchor, positive) - d(anchor, negative))`` with ``d`` the ``p``-norm distance
    of ``x - y + eps`` along the last dim (``swap``: the negative's nearer distance), as
    ``torch.nn.functional.triplet_margin_loss``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> a, pos, neg = nr.tensor([[0.0, 0.0]]), nr.tensor([[3.0, 4.0]]), nr.tensor([[0.0, 1.0]])
        >>> round(call("triplet_margin_loss", a, pos, neg, eps=0.0).item(), 4)
        5.0
    """
    return _formula_loss(op, signature_bind(op, (anchor, positive, negative, margin, p, eps, swap, size_average,
                                                 reduce, reduction), {}))


def _distance(ns, x, y, p: float, eps: float):
    u = x - y + eps
    total = ns.sum(u * u if p == 2 else ns.pow(ns.abs(u), p), -1)
    # A zero distance gets a zero gradient, as PyTorch's norm: the root's infinite slope at 0 would
    # make it NaN, so the root is taken of 1 there and the result replaced by 0.
    nonzero = total > 0
    safe = ns.where(nonzero, total, 1.0)
    root = ns.sqrt(safe) if p == 2 else ns.pow(safe, 1.0 / p)
    return ns.where(nonzero, root, 0.0)


def _triplet(ns, anchor, positive, negative, margin, p, eps, swap, reduction):
    near = _distance(ns, anchor, positive, p, eps)
    far = _distance(ns, anchor, negative, p, eps)
    if swap:
        far = ns.minimum(far, _distance(ns, positive, negative, p, eps))
    return reduce_loss(ns, ns.clamp_min(margin + near - far, 0.0), reduction)


def _check_triplet(name, anchor, positive, negative, p, margin=1.0, **_):
    shapes = [tuple(t.shape) for t in (anchor, positive, negative)]
    # As PyTorch: one number of dims (at least 1; the distance is along the last), broadcastable shapes.
    if len({len(s) for s in shapes}) != 1 or anchor.ndim == 0:
        raise ShapeError(f"{name}(): anchor, positive and negative must have one number of dims (at least 1), "
                         f"got shapes {', '.join(map(str, shapes))}")
    _same_shape("anchor", "positive", "negative")(name, anchor=anchor, positive=positive, negative=negative)
    if p <= 0:
        raise ArgumentError(f"{name}(): p must be positive, got {p}")
    if margin <= 0:
        raise ArgumentError(f"{name}(): margin must be greater than 0, got {margin}")


# ----------------------------------------------------------------------------------------------
# cross_entropy and nll_loss: the fused row kernel
# ----------------------------------------------------------------------------------------------

class _Saved:
    """What a recorded cross_entropy forward leaves its backward: the per-row log-sum-exp. The
    recorder binds the call (and makes this box) just before the forward runs; the forward fills the
    box only when it is the call the box was made for."""

    __slots__ = ("key", "lse")

    def __init__(self, key):
        self.key, self.lse = key, None


_pending = threading.local()


def _bind_cross_entropy(args: tuple, kwargs: dict) -> dict:
    bound = signature_bind(OPS["cross_entropy"], args, kwargs)
    box = _pending.box = _Saved((id(bound["input"]), id(bound["target"])))
    return {**bound, "saved": box}


def _class_dim(input) -> int:
    return 0 if len(input.shape) == 1 else 1


def _check_index_call(name: str, input: Tensor, target: Tensor, weight, ignore_index: int,
                      check_targets: bool = True) -> None:
    if target.dtype is not _dt.int64:
        raise DTypeError(f"{name}(): expected class indices of dtype int64 (or float class probabilities), "
                         f"got {target.dtype}")
    if input.ndim == 0:
        raise ShapeError(f"{name}(): input must have at least 1 dim (classes), got a 0-d tensor")
    want = () if input.ndim == 1 else (input.shape[0], *input.shape[2:])
    if tuple(target.shape) != want:
        raise ShapeError(f"{name}(): expected target of shape {want} for input of shape {tuple(input.shape)}, "
                         f"got {tuple(target.shape)}")
    C = input.shape[_class_dim(input)]
    if weight is not None and tuple(weight.shape) != (C,):
        raise ShapeError(f"{name}(): weight must have shape ({C},) (one per class), got {tuple(weight.shape)}")
    if weight is not None and weight.dtype is not input.dtype:   # PyTorch's kernels take one dtype
        raise DTypeError(f"{name}(): weight of dtype {weight.dtype} does not match input of dtype {input.dtype}")
    if check_targets:
        _check_targets(name, target, C, ignore_index)


def _check_targets(name: str, target: Tensor, C: int, ignore_index: int) -> None:
    """Class indices in [0, C) except ``ignore_index``, checked on the host before any launch."""
    if target.numel() == 0:
        return
    if target.device.type == "cpu":
        t = target._np()
        kept = t[t != ignore_index]
        low, high = (int(kept.min()), int(kept.max())) if kept.size else (0, 0)
    else:  # one host sync for both bounds
        kept = call("where", call("eq", target, ignore_index), 0, target)
        low, high = call("stack", [call("amin", kept), call("amax", kept)]).tolist()
    if low < 0 or high >= C:
        raise IndexOutOfRangeError(f"{name}(): target {low if low < 0 else high} is out of bounds: class indices "
                                   f"must lie in [0, {C}) (or equal ignore_index={ignore_index})")


def _reference_index_loss(x, t, w, ignore_index, smoothing, log_probs):
    """Per-row loss, log-sum-exp and row weight of the class-index form, in NumPy."""
    cd = _class_dim(x)
    C = x.shape[cd]
    xr = np.moveaxis(x, cd, -1).reshape(-1, C) if x.ndim > 1 else x.reshape(1, C)
    tr = t.reshape(-1)
    valid = tr != ignore_index
    safe = np.where(valid, tr, 0)
    wv = np.ones(C, x.dtype) if w is None else w
    if log_probs:
        lse = np.zeros(len(tr), x.dtype)
    else:
        top = np.max(xr, axis=1, keepdims=True, initial=-np.inf) if C else np.zeros((len(tr), 1), x.dtype)
        lse = (top + np.log(np.sum(np.exp(xr - top), axis=1, keepdims=True)))[:, 0]
    x_t = np.take_along_axis(xr, safe[:, None], 1)[:, 0] if C else np.zeros(len(tr), x.dtype)
    w_t = np.where(valid, wv[safe] if C else 0, 0).astype(x.dtype)
    loss = (1 - smoothing) * w_t * (lse - x_t)
    if smoothing > 0:
        loss = loss + smoothing / C * (wv.sum() * lse - xr @ wv)
    return np.where(valid, loss, 0).astype(x.dtype), lse, w_t


def _reduce_rows(ns, loss_rows, row_weights, shape, reduction):
    if reduction == "none":
        return loss_rows.reshape(shape)
    total = ns.sum(loss_rows)
    return total if reduction == "sum" else total / ns.sum(row_weights)


def _probability_loss(ns, input, target, weight, reduction, smoothing):
    """Cross-entropy against class probabilities (``target`` of the input's shape)."""
    cd = _class_dim(input)
    C = input.shape[cd]
    logp = ns.log_softmax(input, cd)
    if smoothing > 0:
        target = target * (1 - smoothing) + smoothing / C
    terms = logp * target
    if weight is not None:
        terms = terms * weight.reshape((C,) + (1,) * (len(input.shape) - cd - 1))
    loss = -ns.sum(terms, cd)
    if reduction == "none":
        return loss
    total = ns.sum(loss)
    return total if reduction == "sum" else total / (_numel(input) // C if C else 0)


def _index_forward(op: Op, input: Tensor, target: Tensor, weight, ignore_index: int, reduction: str,
                   smoothing: float, log_probs: bool) -> Tensor:
    """The class-index form on the Triton backend: the fused kernel, then the reduction."""
    out, lse, _, bad = op.launcher()(input, target, weight, ignore_index, smoothing, log_probs, reduction)
    # The one host sync on a GPU: the kernel counts bad targets (the CPU path checked them before).
    if input.device.type != "cpu" and bad is not None and any(bad.tolist()):
        _check_targets(op.name, target, input.shape[_class_dim(input)], ignore_index)
    if registry.capturing():   # a captured backward recomputes lse in its kernel: a replay has no box
        _pending.box = None
    box = getattr(_pending, "box", None)
    if box is not None and box.key == (id(input), id(target)) and not log_probs:
        _pending.box = None
        box.lse = lse.reshape(tuple(target.shape))
    return out.reshape(tuple(target.shape)) if reduction == "none" else out


def _classification(op: Op, input, target, weight, ignore_index, reduction, smoothing, log_probs) -> Tensor:
    _check_tensors(op.name, {"input": input, "target": target, "weight": weight}, ("input", "weight"))
    _check_reduction(op.name, reduction)
    if not 0.0 <= smoothing <= 1.0:
        raise ArgumentError(f"{op.name}(): label_smoothing must be between 0.0 and 1.0, got {smoothing}")
    probabilities = target.dtype.is_floating_point
    if probabilities:
        if tuple(target.shape) != tuple(input.shape):
            raise ShapeError(f"{op.name}(): class probabilities must have the input's shape {tuple(input.shape)}, "
                             f"got {tuple(target.shape)}")
        if weight is not None and tuple(weight.shape) != (input.shape[_class_dim(input)],):
            raise ShapeError(f"{op.name}(): weight must have one value per class, got {tuple(weight.shape)}")
    else:
        # On a GPU the kernel flags targets out of range (one sync after it) rather than a check before.
        _check_index_call(op.name, input, target, weight, ignore_index, check_targets=input.device.type == "cpu")
    # Probabilities promote as PyTorch's composite does (float32 logits, float64 target: float64).
    out_dtype = _dt.result_type(*(t for t in (input, target, weight) if t is not None)) if probabilities \
        else input.dtype
    if _is_reference(input):
        acc = _acc(out_dtype).np
        w = None if weight is None else weight._np().astype(acc)
        t = target._np().astype(acc) if probabilities else target._np()
        return _finish(backends.run_reference(op.reference, input._np().astype(acc), t, w, ignore_index, reduction,
                                              smoothing, log_probs), out_dtype)
    if probabilities:
        acc = _acc(out_dtype)
        wide = [v if v is None or v.dtype is acc else call("cast", v, acc) for v in (input, target, weight)]
        return _finish(_probability_loss(NR, *wide, reduction, smoothing), out_dtype)
    return _index_forward(op, input, target, weight, ignore_index, reduction, smoothing, log_probs)


def cross_entropy(op: Op, input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits ``input`` (``(C,)`` or ``(N, C, d1, ...)``) against class indices
    (``(N, d1, ...)`` int64; ``ignore_index`` rows count nothing) or class probabilities (the input's
    shape), with class ``weight`` and ``label_smoothing``, as ``torch.nn.functional.cross_entropy``.
    Class indices run one fused kernel that never stores the softmax.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> x = nr.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
        >>> round(call("cross_entropy", x, nr.tensor([2, -100])).item(), 4)
        0.4076
        >>> round(call("cross_entropy", x, nr.tensor([0, 1]), label_smoothing=0.1, reduction="sum").item(), 4)
        3.4062
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    return _classification(op, input, target, weight, ignore_index, reduction, float(label_smoothing), False)


def nll_loss(op: Op, input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood ``-weight[t] * input[t]`` of log-probabilities ``input`` (``(C,)`` or
    ``(N, C, d1, ...)``) at class indices ``target``, as ``torch.nn.functional.nll_loss``.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> call("nll_loss", nr.tensor([[-1.0, -2.0], [-3.0, -4.0]]), nr.tensor([1, 0])).item()
        2.5
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if isinstance(target, Tensor) and target.dtype.is_floating_point:
        raise DTypeError(f"nll_loss(): expected class indices of dtype int64, got {target.dtype}")
    return _classification(op, input, target, weight, ignore_index, reduction, 0.0, True)


def _reference_classification(x, t, w, ignore_index, reduction, smoothing, log_probs):
    if t.dtype.kind == "f":
        return _probability_loss(NP, x, t, w, reduction, smoothing)
    loss, _, w_t = _reference_index_loss(x, t, w, ignore_index, smoothing, log_probs)
    return _reduce_rows(NP, loss, w_t, t.shape, reduction)


def _denominator(input, target, weight, ignore_index):
    """The 'mean' divisor: the summed weights of the rows that count."""
    valid = call("ne", target, ignore_index)
    if weight is None:
        return call("sum", call("cast", valid, input.dtype))
    w_t = call("index", weight, call("where", valid, target, 0))
    return call("sum", call("where", valid, w_t, 0.0))


def _index_backward(grad, input, target, weight, ignore_index, reduction, smoothing, saved, log_probs):
    from neurarust.autograd import grad_mode

    lse = saved.lse if saved is not None else None
    # A missing lse (a captured graph hands no state over) is rebuilt inside the backward kernel, unless
    # a second derivative must see lse(input) recorded or on the reference path (kept as it was).
    recorded = grad_mode.is_grad_enabled() and input.requires_grad
    recompute = not log_probs and lse is None and not recorded and not _is_reference(input)
    if not log_probs and not recompute and (lse is None or recorded):
        lse = call("logsumexp", input, _class_dim(input))
    # The reduced loss's gradient reaches every row through a broadcast view; 'mean' has the backward
    # divide by its denominator itself (no launch of its own, and no state from the forward).
    rows = grad if reduction == "none" else grad.expand(tuple(target.shape))
    flags = {"normalize": True} if reduction == "mean" else {}
    if recompute:
        flags["recompute_lse"] = True
    return call("cross_entropy_backward", rows, input, target, lse, weight, ignore_index, smoothing, **flags)


def _cross_entropy_backward(grad, needs_input_grad, input, target, weight, size_average, ignore_index, reduce,
                            reduction, label_smoothing, saved):
    red = legacy_reduction(size_average, reduce, reduction)
    if target.dtype.is_floating_point:
        return _probability_backward(grad, needs_input_grad, input, target, weight, red, float(label_smoothing))
    smoothing = float(label_smoothing)
    if len(needs_input_grad) > 2 and needs_input_grad[2]:
        # A weight that trains: the fused kernel's loss as a formula, differentiated (to any order).
        args = {"input": input, "target": target, "weight": weight, "ignore_index": ignore_index, "reduction": red,
                "smoothing": smoothing}
        names = ["input", "weight"] if needs_input_grad[0] else ["weight"]
        got = dict(zip(names, differentiate(lambda **a: _index_loss_formula(**a), args, names, grad)))
        return got.get("input"), None, got["weight"]
    return _index_backward(grad, input, target, weight, ignore_index, red, smoothing, saved, False), None, None


def _index_loss_formula(input, target, weight, ignore_index, reduction, smoothing):
    """The class-index cross-entropy written with framework ops (for the weight's derivative): per
    counted row ``(1 - s) w[t] (-log p[t]) + s / C * sum_c w_c (-log p_c)``; 'mean' divides by the
    counted rows' summed ``w[t]``."""
    cd = _class_dim(input)
    C = input.shape[cd]
    logp = call("log_softmax", input, cd)
    valid = call("ne", target, ignore_index)
    safe = call("where", valid, target, 0)
    w_t = call("index", weight, safe) * call("cast", valid, weight.dtype)
    picked = call("gather", logp, cd, safe.unsqueeze(cd)).squeeze(cd)
    rows = -(1 - smoothing) * w_t * picked
    if smoothing:
        spread = call("sum", logp * weight.reshape((C,) + (1,) * (input.ndim - cd - 1)), cd)
        rows = rows - (smoothing / C) * spread * call("cast", valid, weight.dtype)
    if reduction == "none":
        return rows
    total = call("sum", rows)
    return total if reduction == "sum" else total / call("sum", w_t)


def _probability_backward(grad, needs, input, target, weight, reduction, smoothing):
    args = {"input": input, "target": target, "weight": weight, "reduction": reduction, "smoothing": smoothing}
    names = [n for n, need in zip(("input", "target", "weight"), needs) if need]
    got = dict(zip(names, differentiate(lambda **a: _probability_loss(NR, **a), args, names, grad)))
    return got.get("input"), got.get("target"), got.get("weight")


def _nll_backward(grad, input, target, weight, size_average, ignore_index, reduce, reduction):
    red = legacy_reduction(size_average, reduce, reduction)
    return (_index_backward(grad, input, target, weight, ignore_index, red, 0.0, None, True),)


# ----------------------------------------------------------------------------------------------
# cross_entropy_backward: the internal op the derivative calls (its own kernel and samples)
# ----------------------------------------------------------------------------------------------

def cross_entropy_backward(op: Op, grad_output: Tensor, input: Tensor, target: Tensor, lse: Tensor | None = None,
                           weight: Tensor | None = None, ignore_index: int = -100,
                           label_smoothing: float = 0.0, recompute_lse: bool = False,
                           normalize: bool = False) -> Tensor:
    """The logits' gradient of the per-row cross-entropy: ``grad_output * ((a + b W) p - a onehot - b w)``
    with ``p = exp(input - lse)`` (0 when ``lse`` is None: ``input`` holds log-probabilities, nll_loss,
    unless ``recompute_lse``: then the kernel recomputes ``lse`` from ``input`` first),
    ``a = (1 - s) w[target]``, ``b = s / C``; rows at ``ignore_index`` get 0. ``normalize`` divides
    ``grad_output`` by the summed class weight of the rows that count (``reduction='mean'``).

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> x = nr.tensor([[0.0, 0.0]])
        >>> call("cross_entropy_backward", nr.tensor([1.0]), x, nr.tensor([0]), nr.tensor([0.6931472])).tolist()
        [[-0.5, 0.5]]
        >>> call("cross_entropy_backward", nr.tensor([1.0]), x, nr.tensor([0]), recompute_lse=True).tolist()
        [[-0.5, 0.5]]
        >>> g = nr.tensor(1.0).expand(2)   # the 'mean' loss's gradient, as every row sees it
        >>> call("cross_entropy_backward", g, nr.zeros(2, 2), nr.tensor([0, -100]), recompute_lse=True,
        ...      normalize=True).tolist()
        [[-0.5, 0.5], [0.0, 0.0]]
    """
    _check_tensors(op.name, {"grad_output": grad_output, "input": input, "target": target, "lse": lse,
                             "weight": weight}, ("grad_output", "input", "lse", "weight"))
    # On a GPU the targets were checked by the forward that this backward belongs to: no second sync.
    _check_index_call(op.name, input, target, weight, ignore_index, check_targets=target.device.type == "cpu")
    for what, t in (("grad_output", grad_output), ("lse", lse)):
        if t is not None and tuple(t.shape) != tuple(target.shape):
            raise ShapeError(f"{op.name}(): {what} must have the target's shape {tuple(target.shape)}, "
                             f"got {tuple(t.shape)}")
    smoothing = float(label_smoothing)
    recompute = bool(recompute_lse) and lse is None
    if _is_reference(input):
        acc = _acc(input.dtype).np
        up = [None if t is None else t._np().astype(acc) for t in (grad_output, input, lse, weight)]
        r = backends.run_reference(op.reference, up[0], up[1], target._np(), up[2], up[3], ignore_index, smoothing,
                                   recompute, bool(normalize))
        return _finish(r, input.dtype)
    out = Tensor._empty(tuple(input.shape), input.dtype, input.device)
    op.launcher()(out, grad_output, input, target, lse, weight, ignore_index, smoothing, recompute, bool(normalize))
    return out


# ----------------------------------------------------------------------------------------------
# cross_entropy_and_backward: a captured training step's loss and its gradient in one pass
# ----------------------------------------------------------------------------------------------

def cross_entropy_and_backward(op: Op, grad_output: Tensor, input: Tensor, target: Tensor,
                               weight: Tensor | None = None, ignore_index: int = -100, label_smoothing: float = 0.0,
                               reduction: str = "mean") -> tuple[Tensor, Tensor]:
    """``(cross_entropy(input, target, ...), its gradient)``: the loss over class indices and the
    logits' gradient for the row gradients ``grad_output`` (the target's shape: what the reduced
    loss's gradient gives each row; 'mean' divides it by the counted rows' summed weight), from one
    pass over the logits. ``neurarust.compile`` merges a step's ``cross_entropy`` and its
    ``cross_entropy_backward`` into it (``neurarust.graph.losses``); not differentiable.

        >>> import neurarust as nr
        >>> from neurarust.registry import call
        >>> loss, grad = call("cross_entropy_and_backward", nr.tensor(1.0).expand(2), nr.zeros(2, 2),
        ...                   nr.tensor([0, 1]))
        >>> round(loss.item(), 4), grad.tolist()
        (0.6931, [[-0.25, 0.25], [0.25, -0.25]])
    """
    _check_tensors(op.name, {"grad_output": grad_output, "input": input, "target": target, "weight": weight},
                   ("grad_output", "input", "weight"))
    _check_reduction(op.name, reduction)
    _check_index_call(op.name, input, target, weight, ignore_index, check_targets=input.device.type == "cpu")
    if tuple(grad_output.shape) != tuple(target.shape):
        raise ShapeError(f"{op.name}(): grad_output must have the target's shape {tuple(target.shape)}, "
                         f"got {tuple(grad_output.shape)}")
    smoothing = float(label_smoothing)
    if not 0.0 <= smoothing <= 1.0:
        raise ArgumentError(f"{op.name}(): label_smoothing must be between 0.0 and 1.0, got {smoothing}")
    if _is_reference(input):
        acc = _acc(input.dtype).np
        up = [None if t is None else t._np().astype(acc) for t in (grad_output, input, weight)]
        loss, grad = backends.run_reference(op.reference, up[0], up[1], target._np(), up[2], ignore_index, smoothing,
                                            reduction)
        return _finish(loss, input.dtype), _finish(grad, input.dtype)
    grad = Tensor._empty(tuple(input.shape), input.dtype, input.device)
    out, _, _, bad = op.launcher()(grad, grad_output, input, target, None, weight, ignore_index, smoothing,
                                   recompute_lse=True, normalize=reduction == "mean", loss_reduction=reduction)
    if input.device.type != "cpu" and bad is not None and any(bad.tolist()):
        _check_targets(op.name, target, input.shape[_class_dim(input)], ignore_index)
    return (out.reshape(tuple(target.shape)) if reduction == "none" else out), grad


def _reference_cross_entropy_and_backward(g, x, t, w, ignore_index, smoothing, reduction):
    return (_reference_classification(x, t, w, ignore_index, reduction, smoothing, False),
            _reference_cross_entropy_backward(g, x, t, None, w, ignore_index, smoothing, True, reduction == "mean"))


def _torch_cross_entropy_and_backward(grad_output, input, target, weight=None, ignore_index=-100,
                                      label_smoothing=0.0, reduction="mean"):
    import torch

    loss = torch.nn.functional.cross_entropy(input, target, weight, ignore_index=ignore_index, reduction=reduction,
                                             label_smoothing=label_smoothing)
    return loss.to(input.dtype), _torch_cross_entropy_backward(grad_output, input, target, None, weight, ignore_index,
                                               label_smoothing, True, reduction == "mean")


def _with_grad_samples(d):
    for s in _classification_samples(d, probabilities=False):
        target = s.args[1]
        yield Sample((_v(d, target.shape, 52), *s.args), s.kwargs, s.name)


def _reference_cross_entropy_backward(g, x, t, lse, w, ignore_index, smoothing, recompute_lse=False,
                                      normalize=False):
    cd = _class_dim(x)
    C = x.shape[cd]
    if recompute_lse and lse is None:
        lse = _logsumexp(x, cd) if x.size else np.zeros(t.shape, x.dtype)
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    wv = np.ones(C, x.dtype) if w is None else w
    if normalize:   # no row counted (every one ignored): the loss is 0 / 0, its gradient 0, not NaN
        denom = np.where(valid, wv[safe] if C else 0, 0).sum()
        g = g / denom if denom != 0 else np.zeros_like(g)
    a = np.where(valid, (1 - smoothing) * (wv[safe] if C else 0), 0)
    b = np.where(valid, smoothing / C if C else 0, 0)
    coef = a + b * wv.sum()
    wshape = (C,) + (1,) * (x.ndim - cd - 1)
    onehot = np.expand_dims(safe, cd) == np.arange(C).reshape(wshape)
    p = 0 if lse is None else np.exp(x - np.expand_dims(lse, cd))
    e = lambda v: np.expand_dims(v, cd)  # noqa: E731
    return (e(g) * (e(coef) * p - e(a) * onehot - e(b) * wv.reshape(wshape))).astype(x.dtype)


def _row_coefficient(input, target, weight, ignore_index, smoothing):
    """``a + b W`` per row (the factor of ``p`` in the gradient), as a tensor of the target's shape."""
    C = input.shape[_class_dim(input)]
    valid = call("cast", call("ne", target, ignore_index), input.dtype)
    if weight is None:
        w_t, total = valid, float(C)
    else:
        w_t = call("index", weight, call("where", call("ne", target, ignore_index), target, 0)) * valid
        total = call("sum", weight)
    return (1 - smoothing) * w_t + valid * (smoothing / C * total)


def _cross_entropy_backward_backward(grad, grad_output, input, target, lse, weight, ignore_index,
                                     label_smoothing, recompute_lse=False, normalize=False):
    if normalize:   # the same formulas at grad_output / D; D depends on no differentiable input
        D = _denominator(input, target, weight, ignore_index)
        d_rows, d_input, d_lse = _cross_entropy_backward_backward(grad, grad_output / D, input, target, lse, weight,
                                                                  ignore_index, label_smoothing, recompute_lse)
        return d_rows / D, d_input, d_lse
    cd = _class_dim(input)
    from neurarust.creation import ones_like

    recomputed = bool(recompute_lse) and lse is None
    if recomputed:   # lse(input) as an op, so that its dependence on the input is differentiated below
        lse = call("logsumexp", input, cd)
    ones = ones_like(grad_output)
    unit = call("cross_entropy_backward", ones, input, target, lse, weight, ignore_index, label_smoothing)
    d_rows = call("sum", grad * unit, cd)
    if lse is None:
        return d_rows, None, None
    coef = _row_coefficient(input, target, weight, ignore_index, float(label_smoothing))
    p = call("exp", input - lse.unsqueeze(cd))
    d_input = grad * p * (grad_output * coef).unsqueeze(cd)
    d_lse = -call("sum", d_input, cd)
    if recomputed:   # d lse / d input = softmax(input) = p
        return d_rows, d_input + p * d_lse.unsqueeze(cd), None
    return d_rows, d_input, d_lse


def _torch_cross_entropy_backward(grad_output, input, target, lse=None, weight=None, ignore_index=-100,
                                  label_smoothing=0.0, recompute_lse=False, normalize=False):
    """PyTorch's formula for the oracle (PyTorch has no public op taking the saved log-sum-exp)."""
    import torch

    cd = _class_dim(input)
    if recompute_lse and lse is None:
        lse = torch.logsumexp(input, cd)
    C = input.shape[cd]
    valid = target != ignore_index
    safe = torch.where(valid, target, 0)
    w = torch.ones(C, dtype=input.dtype) if weight is None else weight
    if normalize:   # as torch's own backward: no row counted gives a zero gradient (the loss is 0 / 0)
        denom = torch.where(valid, w[safe], 0).sum()
        grad_output = grad_output / denom if denom != 0 else torch.zeros_like(grad_output)
    a = torch.where(valid, (1 - label_smoothing) * w[safe], 0)
    b = torch.where(valid, label_smoothing / C, 0.0).to(input.dtype)
    coef = a + b * w.sum()
    onehot = torch.nn.functional.one_hot(safe, C).movedim(-1, cd).to(input.dtype)
    p = 0 if lse is None else torch.exp(input - lse.unsqueeze(cd))
    wshape = (C,) + (1,) * (input.ndim - cd - 1)
    e = lambda v: v.unsqueeze(cd)  # noqa: E731
    return e(grad_output) * (e(coef) * p - e(a) * onehot - e(b) * w.reshape(wshape))


# ----------------------------------------------------------------------------------------------
# Samples and errors
# ----------------------------------------------------------------------------------------------

def _v(d, shape, seed=0, **kw):
    return S.values(d, shape, seed, **kw)


def _pair_samples(d, *, weight=False, legacy=True):
    """input/target pairs: the reductions, non-contiguous and 0-d inputs, an empty one."""
    yield Sample((_v(d, (3, 4)), _v(d, (3, 4), 1)), name="mean")
    yield Sample((S.TensorSpec(_v(d, (2, 3), 2)), _v(d, (2, 3), 3)), {"reduction": "sum"}, name="sum_strided")
    yield Sample((S.TensorSpec(_v(d, (3, 2), 4), "transposed"), _v(d, (3, 2), 5)), {"reduction": "none"},
                 name="none_transposed")
    yield Sample((np.array(_v(d, (1,), 6)[0]), np.array(_v(d, (1,), 7)[0])), name="0d")
    yield Sample((_v(d, (0, 3), 8), _v(d, (0, 3), 9)), {"reduction": "sum"}, name="empty")
    if legacy:
        yield Sample((_v(d, (4,), 10), _v(d, (4,), 11)), {"size_average": False}, name="legacy_size_average")
    if weight:
        yield Sample((_v(d, (2, 3), 12), _v(d, (2, 3), 13)), {"weight": _v(d, (2, 3), 14, positive=True)},
                     name="weight_mean")


def _pair_errors():
    def errors():
        yield ErrorInput(Sample((np.ones((2, 3)), np.ones((4,)))), ShapeError, "broadcast")
        yield ErrorInput(Sample((np.ones(3), np.ones(3)), {"reduction": "average"}), ArgumentError, "reduction")
        yield ErrorInput(Sample((np.arange(3), np.arange(3))), DTypeError, "floating point")
    return errors


def _smooth_l1_samples(d):
    yield from _pair_samples(d)
    yield Sample((_v(d, (3, 3)), _v(d, (3, 3), 1)), {"beta": 0.5, "reduction": "none"}, name="beta_half")
    yield Sample((_v(d, (4,), 2), _v(d, (4,), 3)), {"beta": 0.0}, name="beta_zero")


def _huber_samples(d):
    yield from _pair_samples(d, weight=True, legacy=False)
    yield Sample((_v(d, (3, 3)), _v(d, (3, 3), 1)), {"delta": 0.5, "reduction": "none"}, name="delta_half")


def _probability(d, shape, seed):
    return np.clip(_v(d, shape, seed, low=0.02, high=0.98), 0.02, 0.98)


def _bce_samples(d):
    yield Sample((_probability(d, (3, 4), 0), _probability(d, (3, 4), 1)), name="mean")
    yield Sample((S.TensorSpec(_probability(d, (2, 3), 2)), _probability(d, (2, 3), 3)),
                 {"weight": _v(d, (3,), 4, positive=True), "reduction": "sum"}, name="weight_broadcast_sum")
    yield Sample((_probability(d, (4,), 5), np.array([0.0, 1.0, 1.0, 0.0])), {"reduction": "none"}, name="hard_labels")
    yield Sample((np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 0.5])), {"reduction": "none"}, name="log_clamped")
    yield Sample((_probability(d, (0,), 6), _probability(d, (0,), 7)), {"reduction": "sum"}, name="empty")


def _bce_logits_samples(d):
    yield Sample((_v(d, (3, 4)), _probability(d, (3, 4), 1)), name="mean")
    yield Sample((S.TensorSpec(_v(d, (2, 3), 2)), _probability(d, (2, 3), 3)),
                 {"pos_weight": _v(d, (3,), 4, positive=True), "weight": _v(d, (2, 3), 5, positive=True),
                  "reduction": "sum"}, name="pos_weight_weight")
    yield Sample((np.array([-100.0, 100.0, 0.0, -3.0]), np.array([1.0, 0.0, 1.0, 0.0])), {"reduction": "none"},
                 name="large_logits")
    yield Sample((_v(d, (0, 2), 6), _probability(d, (0, 2), 7)), name="empty_mean_nan")


def _bce_errors():
    yield ErrorInput(Sample((np.full((2, 3), 0.5), np.ones((3,)))), ShapeError, "same as input size")
    yield ErrorInput(Sample((np.full(3, 0.5), np.ones(3)), {"reduction": "batchmean"}), ArgumentError, "reduction")


def _log_probs(d, shape, seed):
    x = _v(d, shape, seed)
    return NP.log_softmax(x, -1).astype(d.np).astype(np.float64)


def _kl_samples(d):
    target = _probability(d, (3, 4), 1)
    yield Sample((_log_probs(d, (3, 4), 0), target), {"reduction": "batchmean"}, name="batchmean")
    yield Sample((S.TensorSpec(_log_probs(d, (2, 3), 2)), np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])),
                 {"reduction": "sum"}, name="zero_targets")
    yield Sample((_log_probs(d, (2, 3), 3), _log_probs(d, (2, 3), 4)), {"log_target": True, "reduction": "none"},
                 name="log_target")
    yield Sample((_log_probs(d, (3,), 5), _probability(d, (3,), 6)), name="mean")


def _kl_errors():
    yield ErrorInput(Sample((np.zeros(3), np.ones(3)), {"reduction": "max"}), ArgumentError, "reduction")
    yield ErrorInput(Sample((np.zeros((2, 3)), np.ones(2))), ShapeError, "broadcast")


def _ranking_samples(d):
    sign = np.array([1.0, -1.0, 1.0, -1.0])
    yield Sample((_v(d, (4,)), _v(d, (4,), 1), sign), name="mean")
    yield Sample((S.TensorSpec(_v(d, (4,), 2)), _v(d, (4,), 3), sign), {"margin": 0.5, "reduction": "none"},
                 name="margin_none")
    yield Sample((_v(d, (4,), 4), _v(d, (4,), 5), sign[::-1].copy()), {"margin": -0.25, "reduction": "sum"},
                 name="negative_margin_sum")


def _ranking_errors():
    yield ErrorInput(Sample((np.ones(3), np.ones(3), np.ones((3, 1)))), ShapeError, "number of dims")


def _cosine_samples(d):
    yield Sample((_v(d, (4, 3)), _v(d, (4, 3), 1), ix([1, -1, 1, -1])), name="mean")
    yield Sample((S.TensorSpec(_v(d, (3, 5), 2)), _v(d, (3, 5), 3), ix([-1, -1, 1])),
                 {"margin": 0.2, "reduction": "none"}, name="margin_none")
    yield Sample((_v(d, (3,), 4), _v(d, (3,), 5), ix(1)), {"reduction": "sum"}, name="vectors")
    yield Sample((_v(d, (2, 3), 6), _v(d, (2, 3), 7), np.array([1.0, -1.0])), {"margin": -0.5}, name="float_target")


def _cosine_errors():
    yield ErrorInput(Sample((np.ones((2, 3)), np.ones((2, 4)), np.ones(2))), ShapeError, "one shape")
    yield ErrorInput(Sample((np.ones((2, 3)), np.ones((2, 3)), np.ones(3))), ShapeError, "target")


def _triplet_samples(d):
    yield Sample((_v(d, (3, 4)), _v(d, (3, 4), 1), _v(d, (3, 4), 2)), name="mean")
    yield Sample((S.TensorSpec(_v(d, (2, 3), 3)), _v(d, (2, 3), 4), _v(d, (2, 3), 5)),
                 {"margin": 2.0, "swap": True, "reduction": "none"}, name="swap_none")
    yield Sample((_v(d, (4,), 6), _v(d, (4,), 7), _v(d, (4,), 8)), {"p": 3, "reduction": "sum"}, name="p3_vectors")
    yield Sample((_v(d, (2, 3), 9), _v(d, (2, 3), 10), _v(d, (2, 3), 11)), {"p": 1, "eps": 0.0, "margin": 3.0},
                 name="p1")


def _triplet_errors():
    yield ErrorInput(Sample((np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 4)))), ShapeError, "do not broadcast")
    yield ErrorInput(Sample((np.ones((2, 3)), np.ones((2, 3)), np.ones(3))), ShapeError, "one number of dims")
    yield ErrorInput(Sample((np.ones(3), np.ones(3), np.ones(3)), {"p": 0}), ArgumentError, "p must be positive")


def _targets(shape, C, seed, ignore=-100):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, C, shape)
    if t.size > 1:
        t.reshape(-1)[1] = ignore
    return ix(t)


def _classification_samples(d, *, probabilities=True, smoothing=True):
    yield Sample((_v(d, (4, 7)), _targets((4,), 7, 1)), name="ignore_index_mean")
    yield Sample((S.TensorSpec(_v(d, (3, 5), 2)), _targets((3,), 5, 3)),
                 {"weight": _v(d, (5,), 4, positive=True), "reduction": "sum"}, name="weight_sum_strided")
    yield Sample((_v(d, (2, 3, 2, 2), 5), _targets((2, 2, 2), 3, 6, ignore=1)),
                 {"weight": _v(d, (3,), 7, positive=True), "ignore_index": 1}, name="spatial_weight_mean")
    yield Sample((S.TensorSpec(_v(d, (3, 4), 8), "transposed"), _targets((3,), 4, 9)), {"reduction": "none"},
                 name="transposed_none")
    yield Sample((_v(d, (6,), 10), ix(2)), name="unbatched")
    yield Sample((_v(d, (0, 4), 11), ix(np.zeros(0))), {"reduction": "sum"}, name="empty")
    yield Sample((_v(d, (2, 3), 12), ix([-100, -100])), name="all_ignored_nan")
    if smoothing:
        yield Sample((_v(d, (3, 6), 13), _targets((3,), 6, 14)),
                     {"label_smoothing": 0.2, "weight": _v(d, (6,), 15, positive=True)}, name="smoothing_weight")
        yield Sample((_v(d, (2, 4, 3), 16), _targets((2, 3), 4, 17)), {"label_smoothing": 0.1, "reduction": "none"},
                     name="smoothing_spatial_none")
    if probabilities:
        probs = NP.log_softmax(_v(d, (3, 4), 19), 1)
        yield Sample((_v(d, (3, 4), 18), np.exp(probs).astype(d.np).astype(np.float64)),
                     {"weight": _v(d, (4,), 20, positive=True), "label_smoothing": 0.1}, name="probabilities")


def _nll_samples(d):
    for s in _classification_samples(d, probabilities=False, smoothing=False):
        args = (S.TensorSpec(_log_probs(d, S.array_of(s.args[0]).shape, 30), s.args[0].layout)
                if isinstance(s.args[0], S.TensorSpec) else _log_probs(d, s.args[0].shape, 30),) + s.args[1:]
        yield Sample(args, s.kwargs, s.name)


def _classification_errors(probabilities=True):
    def errors():
        yield ErrorInput(Sample((np.ones((2, 3)), ix([0, 3]))), IndexError, "out of bounds")
        yield ErrorInput(Sample((np.ones((2, 3)), ix([0, 1, 2]))), ShapeError, "target of shape")
        yield ErrorInput(Sample((np.ones((2, 3)), ix([0, 1], np.int32))), DTypeError, "int64")
        yield ErrorInput(Sample((np.ones((2, 3)), ix([0, 1])), {"weight": np.ones(2)}), ShapeError, "weight")
        yield ErrorInput(Sample((np.ones((2, 3)), ix([0, 1])), {"reduction": "avg"}), ArgumentError, "reduction")
        yield ErrorInput(Sample((np.arange(6).reshape(2, 3), ix([0, 1]))), DTypeError, "floating point")
        if probabilities:
            yield ErrorInput(Sample((np.ones((2, 3)), np.ones((2, 4)))), ShapeError, "probabilities")
            yield ErrorInput(Sample((np.ones((2, 3)), ix([0, 1])), {"label_smoothing": 1.5}), ArgumentError,
                             "label_smoothing")
    return errors


def _logsumexp(x, dim):
    top = np.max(x, axis=dim, keepdims=True)
    return (top + np.log(np.sum(np.exp(x - top), axis=dim, keepdims=True))).squeeze(dim)


def _backward_samples(d):
    for s in _classification_samples(d, probabilities=False):
        x = S.array_of(s.args[0])
        target = s.args[1]
        grad_rows = _v(d, target.shape, 40)
        lse = _logsumexp(x, _class_dim(x)) if x.size else np.zeros(target.shape)
        kw = {k: v for k, v in s.kwargs.items() if k != "reduction"}
        yield Sample((grad_rows, s.args[0], target, lse), kw, s.name)
    yield Sample((_v(d, (3,), 41), _log_probs(d, (3, 4), 42), _targets((3,), 4, 43)),
                 {"weight": _v(d, (4,), 44, positive=True)}, name="nll_no_lse")
    yield Sample((_v(d, (2, 3), 45), _v(d, (2, 5, 3), 46), _targets((2, 3), 5, 47)),
                 {"weight": _v(d, (5,), 48, positive=True), "label_smoothing": 0.1, "recompute_lse": True},
                 name="recompute_lse")
    yield Sample((_v(d, (4,), 49), _v(d, (4, 6), 50), ix([1, -100, 5, 0])),
                 {"weight": _v(d, (6,), 51, positive=True), "recompute_lse": True, "normalize": True},
                 name="mean_normalized")


def _backward_errors():
    yield ErrorInput(Sample((np.ones(3), np.ones((2, 3)), ix([0, 1]), np.zeros(2))), ShapeError, "grad_output")
    yield ErrorInput(Sample((np.ones(2), np.ones((2, 3)), ix([0, 5]), np.zeros(2))), IndexError, "out of bounds")


def _classification_tolerance(d):
    """The kernel rounds once from fp32; PyTorch's half-precision log_softmax rounds on the way."""
    return {_dt.float16: (5e-3, 4e-3), _dt.bfloat16: (4e-2, 3e-2)}.get(d)


# ----------------------------------------------------------------------------------------------
# Registration
# ----------------------------------------------------------------------------------------------

# PyTorch computes a weighted mse/l1/huber loss with plain ops: the weight gets a gradient too.
formula_op(mse_loss, _mse, lambda d: _pair_samples(d, weight=True), _pair_errors(),
           tensors=("input", "target", "weight"), floats=("input", "target", "weight"),
           differentiable=("input", "target", "weight"), check=_weight_like_input)
formula_op(l1_loss, _l1, lambda d: _pair_samples(d, weight=True), _pair_errors(),
           tensors=("input", "target", "weight"), floats=("input", "target", "weight"),
           differentiable=("input", "target", "weight"), check=_weight_like_input)
formula_op(smooth_l1_loss, _smooth_l1, _smooth_l1_samples, _pair_errors(), tensors=("input", "target"),
           floats=("input", "target"), differentiable=("input", "target"), check=_check_beta)
formula_op(huber_loss, _huber, _huber_samples, _pair_errors(), tensors=("input", "target", "weight"),
           floats=("input", "target", "weight"), differentiable=("input", "target", "weight"), check=_check_delta)
formula_op(binary_cross_entropy, _bce, _bce_samples, _bce_errors, tensors=("input", "target", "weight"),
           floats=("input", "target", "weight"), differentiable=("input", "target"), check=_check_bce)
formula_op(binary_cross_entropy_with_logits, _bce_logits, _bce_logits_samples, _bce_errors,
           tensors=("input", "target", "weight", "pos_weight"), floats=("input", "target", "weight", "pos_weight"),
           differentiable=("input", "target"), check=_check_bce_logits)
formula_op(kl_div, _kl_div, _kl_samples, _kl_errors, tensors=("input", "target"), floats=("input", "target"),
           differentiable=("input", "target"), check=_same_shape("input", "target"),
           reductions=REDUCTIONS + ("batchmean",))
formula_op(margin_ranking_loss, _margin_ranking, _ranking_samples, _ranking_errors,
           tensors=("input1", "input2", "target"), floats=("input1", "input2", "target"),
           differentiable=("input1", "input2", "target"), check=_check_ranking)
formula_op(cosine_embedding_loss, _cosine_embedding, _cosine_samples, _cosine_errors,
           tensors=("input1", "input2", "target"), floats=("input1", "input2"),
           differentiable=("input1", "input2"), check=_check_cosine)
formula_op(triplet_margin_loss, _triplet, _triplet_samples, _triplet_errors,
           tensors=("anchor", "positive", "negative"), floats=("anchor", "positive", "negative"),
           differentiable=("anchor", "positive", "negative"), check=_check_triplet)

_CLASSIFICATION_TOLERANCES = {d: _classification_tolerance(d) for d in (_dt.float16, _dt.bfloat16)}

OPS["cross_entropy"] = register(Op(
    name="cross_entropy", kind="loss", frontend=cross_entropy, reference=_reference_classification,
    triton=TRITON_CE, dtypes=FLOATS, samples=_classification_samples, error_inputs=_classification_errors(),
    tolerances=dict(_CLASSIFICATION_TOLERANCES), cost=_cost, method=False, torch_name=_torch_fn("cross_entropy"),
    attrs={"public": False}, differentiable=("input", "target", "weight"), backward=_cross_entropy_backward,
    bind=_bind_cross_entropy))
OPS["nll_loss"] = register(Op(
    name="nll_loss", kind="loss", frontend=nll_loss, reference=_reference_classification, triton=TRITON_CE,
    dtypes=FLOATS, samples=_nll_samples, error_inputs=_classification_errors(False),
    tolerances=dict(_CLASSIFICATION_TOLERANCES), cost=_cost, method=False, torch_name=_torch_fn("nll_loss"),
    attrs={"public": False}, differentiable=("input",), backward=_nll_backward))
OPS["cross_entropy_backward"] = register(Op(
    name="cross_entropy_backward", kind="loss", frontend=cross_entropy_backward,
    reference=_reference_cross_entropy_backward, triton=TRITON_CE_BACKWARD, dtypes=FLOATS,
    samples=_backward_samples, error_inputs=_backward_errors, tolerances=dict(_CLASSIFICATION_TOLERANCES),
    cost=_cost, method=False, torch_name=_torch_cross_entropy_backward, attrs={"public": False},
    differentiable=("grad_output", "input", "lse"), backward=_cross_entropy_backward_backward))

OPS["cross_entropy_and_backward"] = register(Op(
    name="cross_entropy_and_backward", kind="loss", frontend=cross_entropy_and_backward,
    reference=_reference_cross_entropy_and_backward, triton=TRITON_CE_WITH_GRAD, dtypes=FLOATS,
    samples=_with_grad_samples, tolerances=dict(_CLASSIFICATION_TOLERANCES), cost=_cost, method=False,
    torch_name=_torch_cross_entropy_and_backward, attrs={"public": False},
    differentiable=()))   # only a captured step calls it, after its gradients were taken

# Autocast classes per device type: PyTorch's lists (docs/amp.md, tests/test_amp_autocast.py).
autocast_class(("smooth_l1_loss", "huber_loss", "kl_div", "margin_ranking_loss", "cosine_embedding_loss",
                "triplet_margin_loss", "nll_loss", "cross_entropy", "binary_cross_entropy_with_logits"),
               cuda="fp32", cpu="fp32")
# PyTorch computes a weighted mse/l1 loss with plain ops, which autocast leaves alone.
_UNWEIGHTED = AutocastWhen("fp32", lambda bound: bound.get("weight") is None)
autocast_class(("mse_loss", "l1_loss"), cuda=_UNWEIGHTED, cpu=_UNWEIGHTED)
autocast_class(("binary_cross_entropy",), cuda="banned", cpu="fp32")
