"""``F.linear_cross_entropy``'s chunked computation and ``LinearCrossEntropyOptions`` (PyTorch 2.13's
fused ``linear`` + ``cross_entropy`` for large vocabularies).

The rows of the input go through in chunks: a chunk's logits ``(rows, C)`` are made, give the chunk's
per-row losses (the fused cross-entropy kernel) and are dropped; backward makes each chunk's logits
again and turns them into the chunk's logits gradient (the fused ``cross_entropy_backward`` kernel),
then into the input's rows, the weight's and the bias's gradients, accumulated. So neither pass holds
more than one chunk's ``rows x C`` logits, whatever the batch::

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> x, w, t = nr.randn(64, 8), nr.randn(1000, 8), nr.randint(0, 1000, (64,))
    >>> opts = nr.nn.LinearCrossEntropyOptions(batch_chunk_size=16)     # 4 chunks of 16 x 1000 logits
    >>> a = F.linear_cross_entropy(x, w, t, options=opts)
    >>> b = F.cross_entropy(F.linear(x, w), t)
    >>> bool((a - b).abs() < 1e-4)
    True
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

from neurarust import registry
from neurarust.autograd.function import Function
from neurarust.errors import ArgumentError, DTypeError, ShapeError
from neurarust.tensor import Tensor

__all__ = ["LinearCrossEntropyOptions"]

# PyTorch's picks for acc_policy / chunking_method "auto" per (device type, dtype name); others fall back.
_AUTO_DEFAULTS = {("cuda", "bfloat16"): ("compact", "aspect_ratio:2"), ("cuda", "float16"): ("compact", "aspect_ratio:2"),
                  ("cpu", "bfloat16"): ("accurate", "aspect_ratio"), ("cpu", "float16"): ("accurate", "aspect_ratio")}
_AUTO_FALLBACK = ("compact", "aspect_ratio:2")


@dataclasses.dataclass(frozen=True)
class LinearCrossEntropyOptions:
    """How :func:`~neurarust.nn.functional.linear_cross_entropy` chunks its rows (PyTorch's fields).

    ``batch_chunk_size`` rows per chunk, or ``chunking_method`` ``"aspect_ratio[:N]"``: chunks whose
    ``rows x num_classes`` logits are about the size of the ``num_batches x in_features`` input (divided
    by ``N``); ``"auto"`` is ``"aspect_ratio:2"`` (``"aspect_ratio"`` for half types on the CPU), as
    PyTorch's. ``acc_policy``, ``acc_dtype`` and ``allow_retain_graph`` are checked and kept for
    compatibility: NeuraRust's fused kernels accumulate half types in float32 whatever the policy, and
    its backward recomputes the chunks from the saved inputs, so a graph may always be retained.

    >>> import neurarust as nr
    >>> nr.nn.LinearCrossEntropyOptions(batch_chunk_size=128)
    LinearCrossEntropyOptions(allow_retain_graph=False, batch_chunk_size=128, chunking_method='auto', acc_policy='auto', acc_dtype=None)
    >>> nr.nn.LinearCrossEntropyOptions(chunking_method="aspect_ratio")._chunk_rows(4096, 512, 32000, nr.float32)
    128
    """

    allow_retain_graph: bool = False
    batch_chunk_size: int | None = None
    chunking_method: str | None = "auto"
    acc_policy: str = "auto"
    acc_dtype: Any = None

    def __post_init__(self) -> None:
        if self.acc_policy not in {"auto", "accurate", "balanced", "compact"}:
            raise ArgumentError(f"invalid acc_policy: {self.acc_policy!r}")
        if self.chunking_method is not None and self.chunking_method != "auto":
            name, sep, factor = str(self.chunking_method).partition(":")
            factor = factor if sep else "1"
            if not (name == "aspect_ratio" and factor.isdigit() and int(factor) > 0):
                raise ArgumentError(f"invalid chunking_method: {self.chunking_method!r}")
        if not (self.batch_chunk_size is None or (isinstance(self.batch_chunk_size, int)
                                                  and not isinstance(self.batch_chunk_size, bool)
                                                  and self.batch_chunk_size > 0)):
            raise ArgumentError(f"batch_chunk_size must be positive int or None, got {self.batch_chunk_size!r}")
        if self.acc_dtype is not None and getattr(self.acc_dtype, "name", None) not in (
                "float16", "bfloat16", "float32", "float64"):
            raise DTypeError(f"acc_dtype must be one of None, float16, bfloat16, float32, float64, got "
                             f"{self.acc_dtype!r}")

    def _chunk_rows(self, num_batches: int, in_features: int, num_classes: int, dtype: Any,
                    device: Any = None) -> int:
        """Rows per chunk for this call: PyTorch's resolution of ``"auto"``, ``batch_chunk_size`` and
        ``chunking_method`` (an explicit size that disagrees with an explicit method is an error)."""
        method = self.chunking_method
        if method == "auto" and self.batch_chunk_size is not None:
            method = None
        if method == "auto":
            kind = getattr(device, "type", "cpu") if device is not None else None
            method = _AUTO_DEFAULTS.get((kind, getattr(dtype, "name", "")), _AUTO_FALLBACK)[1]
        rows = num_batches if self.batch_chunk_size is None else min(self.batch_chunk_size, num_batches)
        if method is not None:
            factor = int(method.split(":", 1)[1]) if ":" in method else 1
            grow = -(-num_classes // max(in_features, 1))
            target = -(-num_batches // max(grow, 1))
            rows = min((1 << (target - 1).bit_length()) // factor, num_batches)
            if self.batch_chunk_size is not None and self.batch_chunk_size != rows:
                raise ArgumentError(f"batch_chunk_size (={self.batch_chunk_size}) and chunking_method ('{method}') "
                                    f"give different chunk sizes ({self.batch_chunk_size} vs {rows}); pass only one.")
        return max(1, rows)


def _call(name: str, *args: Any, **kwargs: Any) -> Any:
    return registry.call(name, *args, **kwargs)


class _ChunkedLinearCrossEntropy(Function):
    """Per-row ``cross_entropy(input @ weight.T + bias, target)`` over chunks of ``rows`` rows. Only the
    inputs are saved: backward rebuilds each chunk's logits, so it is written in framework ops and is
    itself differentiable (``create_graph=True``)."""

    @staticmethod
    def forward(ctx, input: Tensor, weight: Tensor, bias, target: Tensor, class_weight, ignore_index: int,
                smoothing: float, rows: int) -> Tensor:
        from neurarust.creation import zeros

        from . import functional as F

        losses = [F.cross_entropy(F.linear(input[i:i + rows], weight, bias), target[i:i + rows], class_weight,
                                  ignore_index=ignore_index, reduction="none", label_smoothing=smoothing)
                  for i in range(0, input.shape[0], rows)]
        ctx.save_for_backward(input, weight, bias, target, class_weight)
        ctx.options = (ignore_index, smoothing, rows)
        if not losses:
            return zeros(0, dtype=input.dtype, device=input.device)
        return losses[0] if len(losses) == 1 else _call("cat", losses)

    @staticmethod
    def backward(ctx, grad: Tensor):
        from neurarust.creation import zeros

        from . import functional as F

        input, weight, bias, target, class_weight = ctx.saved_tensors
        ignore_index, smoothing, rows = ctx.options
        need_input, need_weight, need_bias, _, need_class = ctx.needs_input_grad[:5]
        C = weight.shape[0]
        grads_input, grad_weight, grad_bias, grad_class = [], None, None, None
        add = lambda total, part: part if total is None else total + part  # noqa: E731
        for i in range(0, input.shape[0], rows):
            x, t, g = input[i:i + rows], target[i:i + rows], grad[i:i + rows]
            logits = F.linear(x, weight, bias)
            dz = _call("cross_entropy_backward", g, logits, t, None, class_weight, ignore_index, smoothing,
                       recompute_lse=True)
            if need_input:
                grads_input.append(_call("matmul", dz, weight))
            if need_weight:
                grad_weight = add(grad_weight, _call("matmul", dz.t(), x))
            if need_bias and bias is not None:
                grad_bias = add(grad_bias, dz.sum(0))
            if need_class and class_weight is not None:
                # d row / d w_c = (1 - s) (-log p_t) [c = t] + s / C (-log p_c), for the rows that count
                logp = F.log_softmax(logits, 1)
                valid = _call("ne", t, ignore_index)
                safe = _call("where", valid, t, 0)
                gv = g * valid.to(g.dtype)
                picked = _call("gather", logp, 1, safe.unsqueeze(1)).squeeze(1)
                part = _call("index_add", zeros(C, dtype=logp.dtype, device=logp.device), 0, safe,
                             gv * picked * -(1.0 - smoothing))
                if smoothing:
                    part = part - (logp * gv.unsqueeze(1)).sum(0) * (smoothing / C)
                grad_class = add(grad_class, part)
        grad_input = None
        if need_input:
            grad_input = grads_input[0] if len(grads_input) == 1 else (
                _call("cat", grads_input) if grads_input else zeros(*input.shape, dtype=input.dtype,
                                                                    device=input.device))
        if need_weight and grad_weight is None:
            grad_weight = zeros(*weight.shape, dtype=weight.dtype, device=weight.device)
        if need_bias and bias is not None and grad_bias is None:
            grad_bias = zeros(*bias.shape, dtype=bias.dtype, device=bias.device)
        if need_class and class_weight is not None and grad_class is None:
            grad_class = zeros(C, dtype=class_weight.dtype, device=class_weight.device)
        return grad_input, grad_weight, grad_bias, None, grad_class, None, None, None


def linear_cross_entropy(input: Tensor, linear_weight: Tensor, target: Tensor, *, linear_bias: Tensor | None = None,
                         weight: Tensor | None = None, reduction: str = "mean", ignore_index: int | None = None,
                         label_smoothing: float = 0.0,
                         options: LinearCrossEntropyOptions | None = None) -> Tensor:
    """The implementation behind ``neurarust.nn.functional.linear_cross_entropy`` (see there)."""
    from . import functional as F

    name = "linear_cross_entropy"
    for what, t in (("input", input), ("linear_weight", linear_weight), ("target", target)):
        if not isinstance(t, Tensor):
            raise ArgumentError(f"{name}(): {what} must be a Tensor, got {type(t).__name__}")
    if input.ndim not in (1, 2):
        raise ShapeError(f"{name}(): expected input with dimensionality 1 or 2, got {input.ndim} "
                         f"(shape {list(input.shape)})")
    if linear_weight.ndim < 2:
        raise ShapeError(f"{name}(): expected linear_weight with dimensionality at least 2, got {linear_weight.ndim}")
    batches, D = tuple(input.shape[:-1]), input.shape[-1]
    if D != linear_weight.shape[-1]:
        raise ShapeError(f"{name}(): expected equal input and linear_weight last dimensions (in_features), got "
                         f"{D} and {linear_weight.shape[-1]}, respectively")
    if linear_weight.dtype != input.dtype or (linear_bias is not None and linear_bias.dtype != input.dtype):
        raise DTypeError(f"{name}(): input ({input.dtype}), linear_weight ({linear_weight.dtype}) and linear_bias "
                         f"({None if linear_bias is None else linear_bias.dtype}) must have one dtype")
    C, out_features = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (C, *out_features):
        raise ShapeError(f"{name}(): expected linear_bias shape {(C, *out_features)}, got {tuple(linear_bias.shape)}")
    if out_features and not batches:
        raise ShapeError(f"{name}(): K-dimensional loss defined by linear_weight shape {tuple(linear_weight.shape)} "
                         f"requires batched input, (N, {D}), got unbatched input with shape {tuple(input.shape)}")
    if reduction not in ("mean", "sum", "none"):
        raise ArgumentError(f"{name}(): {reduction} is not a valid value for reduction")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ArgumentError(f"{name}(): label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    logits_shape = (*batches, C, *out_features)
    probabilities = tuple(target.shape) == logits_shape
    if probabilities and ignore_index is not None:
        raise ArgumentError(f"{name}(): ignore_index cannot be specified when target contains probabilities")
    ignore_index = -100 if ignore_index is None else int(ignore_index)
    if probabilities or out_features:
        # K-dimensional losses and class probabilities: the reference composition, as PyTorch's
        if options is not None:
            warnings.warn(f"{name}: ``options`` ignored; the chunked path needs class-index targets and "
                          f"out_features == (); got target of shape {tuple(target.shape)}, out_features "
                          f"{out_features}", stacklevel=3)
        rows = math.prod(out_features) * C
        logits = F.linear(input, linear_weight.reshape(rows, D),
                          None if linear_bias is None else linear_bias.reshape(rows)).reshape(logits_shape)
        return F.cross_entropy(logits, target, weight, ignore_index=ignore_index, reduction=reduction,
                               label_smoothing=label_smoothing)
    if target.dtype.is_floating_point or target.dtype.name != "int64":
        raise DTypeError(f"{name}(): expected class indices of dtype int64 of shape {batches} (or class "
                         f"probabilities of shape {logits_shape}), got {target.dtype} of shape {tuple(target.shape)}")
    if tuple(target.shape) != batches:
        raise ShapeError(f"{name}(): expected target of shape {batches} (or class probabilities of shape "
                         f"{logits_shape}), got {tuple(target.shape)}")
    if weight is not None and tuple(weight.shape) != (C,):
        raise ShapeError(f"{name}(): weight must have shape ({C},) (one per class), got {tuple(weight.shape)}")
    x, t = (input, target) if batches else (input.unsqueeze(0), target.unsqueeze(0))
    N = x.shape[0]
    rows = (options or LinearCrossEntropyOptions())._chunk_rows(N, D, C, input.dtype, input.device)
    losses = _ChunkedLinearCrossEntropy.apply(x, linear_weight, linear_bias, t, weight, ignore_index,
                                              float(label_smoothing), rows)
    if reduction == "none":
        return losses.reshape(tuple(target.shape))
    total = losses.sum()
    if reduction == "sum":
        return total
    valid = _call("ne", t, ignore_index)
    if weight is None:
        return total / valid.to(total.dtype).sum()
    return total / _call("where", valid, _call("index", weight, _call("where", valid, t, 0)), 0.0).sum()
