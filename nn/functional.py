"""``neurarust.nn.functional``: the layers as functions, with ``torch.nn.functional``'s signatures.

Activations and layers compose registry ops (so they run as Triton kernels on CUDA and are
differentiated by autograd); the losses are registry entries looked up on first use, so a loss that
is not registered yet is an AttributeError, never an import failure::

    >>> import neurarust as nr
    >>> import neurarust.nn.functional as F
    >>> F.leaky_relu(nr.tensor([-2.0, 3.0]), 0.5).tolist()
    [-1.0, 3.0]
    >>> F.one_hot(nr.tensor([0, 2]), 3).tolist()
    [[1, 0, 0], [0, 0, 1]]

``inplace=True`` arguments are accepted for PyTorch compatibility; the result is a new tensor.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

from neurarust import registry
from neurarust.amp.autocast_mode import autocast_composite
from neurarust.autograd.function import Function
from neurarust.creation import full_like, ones_like, tensor, zeros
from neurarust.errors import ArgumentError, DTypeError, ShapeError
from neurarust.shape import normalize_dim
from neurarust.tensor import Tensor

# Registry entries exposed here under their torch.nn.functional names (kernels/loss.py).
LOSSES = ("cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
          "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "cosine_embedding_loss",
          "margin_ranking_loss", "triplet_margin_loss", "ctc_loss")


def __getattr__(name: str) -> Any:
    if name in LOSSES:
        registry.load()
        op = registry.OPS.get(name)
        if op is not None:
            return op
        raise AttributeError(f"neurarust.nn.functional.{name} is not implemented yet (no registry entry '{name}')")
    raise AttributeError(f"module 'neurarust.nn.functional' has no attribute '{name}'")


def _call(name: str, *args: Any, **kwargs: Any) -> Any:
    return registry.call(name, *args, **kwargs)


# -- linear layers ------------------------------------------------------------------------------
@autocast_composite("linear", cuda="lower", cpu="lower")
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.linear(nr.ones(1, 2), nr.tensor([[1.0, 2.0]]), nr.tensor([0.5])).tolist()
    [[3.5]]
    """
    out = _call("matmul", input, weight.t())
    return out if bias is None else out + bias


@autocast_composite("bilinear", cuda="promote")
def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y[..., o] = sum_ij input1[..., i] * weight[o, i, j] * input2[..., j] + bias[o]``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.bilinear(nr.ones(1, 2), nr.ones(1, 3), nr.ones(4, 2, 3)).tolist()
    [[6.0, 6.0, 6.0, 6.0]]
    """
    n_out, n1, n2 = weight.shape
    if input1.shape[-1] != n1 or input2.shape[-1] != n2:
        raise ShapeError(f"bilinear: input sizes {list(input1.shape)} and {list(input2.shape)} do not match "
                         f"weight {list(weight.shape)}")
    # (..., in1) @ (in1, out*in2) -> (..., out, in2), then contract in2 with input2.
    left = _call("matmul", input1, weight.permute(1, 0, 2).reshape(n1, n_out * n2))
    left = left.reshape(*input1.shape[:-1], n_out, n2)
    out = (left * input2.unsqueeze(-2)).sum(-1)
    return out if bias is None else out + bias


# -- activations --------------------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(input, 0).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.relu(nr.tensor([-1.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    return _call("relu", input)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(input, 0), 6).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.relu6(nr.tensor([-1.0, 8.0])).tolist()
    [0.0, 6.0]
    """
    return hardtanh(input, 0.0, 6.0)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``input`` where positive, ``negative_slope * input`` elsewhere.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.leaky_relu(nr.tensor([-2.0, 1.0]), 0.5).tolist()
    [-1.0, 1.0]
    """
    return _call("where", input > 0, input, input * negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``input`` where positive, ``alpha * (exp(input) - 1)`` elsewhere.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.elu(nr.tensor([0.0, 2.0])).tolist()
    [0.0, 2.0]
    """
    # expm1 of the clamped input: the branch where() discards must not overflow (0 * inf = NaN in backward).
    negative = _call("expm1", input.clamp(max=0.0)) * alpha
    return _call("where", input > 0, input, negative)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit (``approximate="tanh"`` for the tanh form).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.gelu(nr.tensor([0.0, 100.0])).tolist()
    [0.0, 100.0]
    """
    return _call("gelu", input, approximate=approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``input * sigmoid(input)``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.silu(nr.tensor([0.0, 100.0])).tolist()
    [0.0, 100.0]
    """
    return _call("silu", input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``input * tanh(softplus(input))``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.mish(nr.tensor([0.0, 100.0])).tolist()
    [0.0, 100.0]
    """
    return input * _call("tanh", _call("softplus", input))


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.tanh(nr.tensor([0.0])).tolist()
    [0.0]
    """
    return _call("tanh", input)


def sigmoid(input: Tensor) -> Tensor:
    """Logistic sigmoid.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.sigmoid(nr.tensor([0.0])).tolist()
    [0.5]
    """
    return _call("sigmoid", input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * input)) / beta``, linear above ``threshold``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.softplus(nr.tensor([30.0]), threshold=20.0).tolist()
    [30.0]
    """
    return _call("softplus", input, beta=beta, threshold=threshold)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """``input`` clamped to [min_val, max_val].

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.hardtanh(nr.tensor([-3.0, 0.5, 3.0])).tolist()
    [-1.0, 0.5, 1.0]
    """
    if min_val > max_val:
        raise ArgumentError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    clamped = input.clamp(min_val, max_val)
    if not clamped.requires_grad:
        return clamped
    # PyTorch's derivative is 0 at the bounds themselves, where clamp's is 1 (relu6 at 0, as relu)
    inside = (input > min_val) & (input < max_val)
    return _call("where", inside, clamped, clamped.detach())


@autocast_composite("prelu", cuda="lower", cpu="lower")
def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """Leaky ReLU with a learned slope per channel (dim 1), or one shared slope.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.prelu(nr.tensor([[-2.0, -2.0]]), nr.tensor([0.5, 0.25])).tolist()
    [[-1.0, -0.5]]
    """
    if weight.numel() != 1:
        channels = input.shape[1] if input.ndim >= 2 else 1  # below 2-d there is no channel dim (PyTorch)
        if weight.numel() != channels:
            raise ShapeError(f"prelu: weight has {weight.numel()} elements, input has {channels} channels")
        if input.ndim >= 2:
            weight = weight.reshape(channels, *([1] * (input.ndim - 2)))
    return _call("where", input > 0, input, input * weight)


def _softmax_dim(name: str, ndim: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  "as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.softmax(nr.zeros(1, 2), dim=1).tolist()
    [[0.5, 0.5]]
    """
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim)
    return _call("softmax", input, dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.log_softmax(nr.zeros(1, 1), dim=1).tolist()
    [[0.0]]
    """
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim)
    return _call("log_softmax", input, dim, dtype)


# -- more activations: registry entries (kernels/unary.py) and compositions of registry ops ---------
def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``input * relu6(input + 3) / 6``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.hardswish(nr.tensor([-4.0, 0.0, 4.0])).tolist()
    [-0.0, 0.0, 4.0]
    """
    return _call("hardswish", input)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(input + 3) / 6``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.hardsigmoid(nr.tensor([-4.0, 0.0, 4.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    return _call("hardsigmoid", input)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(input, alpha)`` with SELU's constants (alpha 1.6733, scale 1.0507).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> [round(v, 4) for v in F.selu(nr.tensor([1.0, -1.0])).tolist()]
    [1.0507, -1.1113]
    """
    return _call("selu", input)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``input`` where positive, ``alpha * (exp(input / alpha) - 1)`` elsewhere.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> [round(v, 4) for v in F.celu(nr.tensor([1.0, -2.0]), alpha=2.0).tolist()]
    [1.0, -1.2642]
    """
    return _call("celu", input, alpha=alpha)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(input))``, without overflow for large negative inputs.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.logsigmoid(nr.tensor([-200.0])).tolist()
    [-200.0]
    """
    return _call("logsigmoid", input)


def softsign(input: Tensor) -> Tensor:
    """``input / (1 + |input|)``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.softsign(nr.tensor([1.0, -3.0])).tolist()
    [0.5, -0.75]
    """
    return _call("softsign", input)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``input`` where ``|input| > lambd``, 0 elsewhere.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.hardshrink(nr.tensor([0.25, -2.0])).tolist()
    [0.0, -2.0]
    """
    return _call("hardshrink", input, lambd=lambd)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``input`` moved ``lambd`` toward 0; 0 where ``|input| <= lambd`` (``lambd`` must be >= 0).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.softshrink(nr.tensor([0.25, -2.0])).tolist()
    [0.0, -1.5]
    """
    return _call("softshrink", input, lambd=lambd)


def tanhshrink(input: Tensor) -> Tensor:
    """``input - tanh(input)``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.tanhshrink(nr.tensor([0.0])).tolist()
    [0.0]
    """
    return input - _call("tanh", input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``input`` where ``input > threshold``, ``value`` elsewhere.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.threshold(nr.tensor([0.5, 2.0]), 1.0, -1.0).tolist()
    [-1.0, 2.0]
    """
    return _call("threshold", input, threshold=threshold, value=value)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)`` for the two halves ``a``, ``b`` of ``input`` along ``dim``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.glu(nr.tensor([[2.0, 0.0]])).tolist()
    [[1.0]]
    """
    if input.ndim == 0:
        raise ShapeError("glu does not support scalars because halving size must be even")
    d = normalize_dim(dim, input.ndim)
    size = input.shape[d]
    if size % 2:
        raise ShapeError(f"Halving dimension must be even, but dimension {d} is size {size}")
    half = size // 2
    return input.narrow(d, 0, half) * _call("sigmoid", input.narrow(d, half, half))


@autocast_composite("softmin", cuda="fp32")
def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """``softmax(-input)`` along ``dim``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.softmin(nr.tensor([0.0, 0.0]), dim=0).tolist()
    [0.5, 0.5]
    """
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim)
    return _call("softmax", -input, dim, dtype)


# -- dropout, embedding, shape helpers ------------------------------------------------------------
def _trivial_dropout(input: Tensor, p: float, training: bool) -> Tensor | None:
    """A dropout's result where no mask is needed (eval, p = 0: the input; p = 1: zeros), else None;
    ``p`` is checked."""
    if not 0.0 <= p <= 1.0:
        raise ArgumentError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    return input * 0.0 if p == 1.0 else None


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` (a Bernoulli mask from the Philox generator) and
    scale the rest by ``1 / (1 - p)``; identity when not ``training``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.dropout(nr.ones(3), 0.5, training=False).tolist()
    [1.0, 1.0, 1.0]
    """
    trivial = _trivial_dropout(input, p, training)
    if trivial is not None:
        return trivial
    keep = _call("bernoulli", full_like(input, 1.0 - p))
    return input * keep * (1.0 / (1.0 - p))


class _EmbeddingFunction(Function):
    """Row lookup whose weight gradient is one ``index_add`` of the output gradient's rows (rows
    of ``padding_idx`` get none)."""

    @staticmethod
    def forward(ctx, weight: Tensor, indices: Tensor, padding_idx: int | None):
        flat = indices.reshape(-1)
        ctx.save_for_backward(flat)
        ctx.num_weights, ctx.padding_idx = weight.shape[0], padding_idx
        rows = _call("index_select", weight, 0, flat)
        return rows.reshape(*indices.shape, weight.shape[1])

    @staticmethod
    def backward(ctx, grad: Tensor):
        (flat,) = ctx.saved_tensors
        g = grad.reshape(flat.shape[0], grad.shape[-1])
        if ctx.padding_idx is not None:
            g = g * (flat != ctx.padding_idx).unsqueeze(1).to(g.dtype)
        table = zeros(ctx.num_weights, grad.shape[-1], dtype=grad.dtype, device=grad.device)
        return _call("index_add", table, 0, flat, g), None, None


def _renorm_rows(weight: Tensor, indices: Tensor, max_norm: float, norm_type: float) -> None:
    """Scale the looked-up rows whose ``norm_type`` norm exceeds ``max_norm`` down to it, in place."""
    from neurarust.autograd.grad_mode import no_grad

    with no_grad():
        rows = _call("unique", indices.reshape(-1))
        picked = _call("index_select", weight, 0, rows)
        norms = _call("norm", picked, norm_type, 1, True)
        scale = _call("where", norms > max_norm, max_norm / (norms + 1e-7), ones_like(norms))
        weight.index_copy_(0, rows, picked * scale)


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` picked by the integer tensor ``input`` (shape ``input.shape + (dim,)``).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.embedding(nr.tensor([[1, 0]]), nr.tensor([[0.0, 1.0], [2.0, 3.0]])).tolist()
    [[[2.0, 3.0], [0.0, 1.0]]]
    """
    if input.dtype.is_floating_point:
        raise ArgumentError(f"embedding: indices must be an integer tensor, got {input.dtype}")
    if scale_grad_by_freq or sparse:
        raise ArgumentError("embedding: scale_grad_by_freq and sparse are not supported")
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise ArgumentError(f"padding_idx {padding_idx} must be within the number of embeddings ({n})")
        padding_idx %= n
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    return _EmbeddingFunction.apply(weight, input, padding_idx)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding with a trailing dim of ``num_classes`` (max + 1 when -1).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.one_hot(nr.tensor([1, 0]), 2).tolist()
    [[0, 1], [1, 0]]
    """
    return _call("one_hot", tensor, num_classes)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last dims (``pad = (left, right, top, bottom, ...)``); modes constant, reflect,
    replicate, circular.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.pad(nr.ones(2), (1, 0)).tolist()
    [0.0, 1.0, 1.0]
    """
    return _call("pad", input, pad, mode, value)


@autocast_composite("normalize", cuda="fp32")
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``input`` divided by its ``p``-norm along ``dim`` (at least ``eps``).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> [round(v, 4) for v in F.normalize(nr.tensor([[3.0, 4.0]]))[0].tolist()]
    [0.6, 0.8]
    """
    return input / _call("norm", input, p, dim, True).clamp(min=eps)



# -- attention (kernels/attention.py) ------------------------------------------------------------
def _repeat_heads(t: Tensor, heads: int) -> Tensor:
    """``t`` (..., Hkv, S, E) with each head repeated to make ``heads`` heads (grouped-query attention)."""
    if t.ndim < 3 or heads % t.shape[-3]:
        raise ShapeError(f"scaled_dot_product_attention(): enable_gqa needs the query's {heads} heads to be a "
                         f"multiple of the key/value heads, got shape {tuple(t.shape)}")
    group = heads // t.shape[-3]
    if group == 1:
        return t
    lead, (h, s, e) = tuple(t.shape[:-3]), tuple(t.shape[-3:])
    return t.unsqueeze(-3).expand(*lead, h, group, s, e).reshape(*lead, heads, s, e)


def _attention_scores(query: Tensor, key: Tensor, attn_mask: Tensor | None, is_causal: bool,
                      scale: float | None) -> Tensor:
    """``scale * query key^T`` with the sdpa-style mask applied (bool: True attends; float: added)."""
    if attn_mask is not None and is_causal:
        raise ArgumentError("scaled_dot_product_attention(): an explicit attn_mask must not be set when is_causal=True")
    scale = 1.0 / query.shape[-1] ** 0.5 if scale is None else scale
    s = _call("matmul", query, key.transpose(-1, -2)) * scale
    if is_causal:
        attn_mask = _causal_mask(query.shape[-2], key.shape[-2], query.device)
    if attn_mask is not None and attn_mask.dtype.name == "bool":
        return _call("where", attn_mask, s, float("-inf"))
    return s if attn_mask is None else s + attn_mask


def _causal_mask(L: int, S: int, device) -> Tensor:
    import numpy as np

    return Tensor._from_array(np.tril(np.ones((L, S), dtype=bool))).to(device)


def _plain_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None, dropout_p: float,
                     is_causal: bool, scale: float | None) -> tuple[Tensor, Tensor]:
    """Attention composed of matmul, softmax and dropout: (output, the probabilities). It keeps the
    ``L x S`` probabilities for backward; the flash path keeps one log-sum-exp per query."""
    p = softmax(_attention_scores(query, key, attn_mask, is_causal, scale), -1)
    if dropout_p > 0.0:
        p = dropout(p, dropout_p)
    return _call("matmul", p, value), p


def _mask_of_query_dtype(attn_mask: Tensor | None, query: Tensor) -> Tensor | None:
    """PyTorch's rule for sdpa masks: bool, the query's dtype, or float32 (the default dtype, as
    ``Transformer.generate_square_subsequent_mask`` makes), which is cast to the query's dtype."""
    if attn_mask is None or attn_mask.dtype.name == "bool" or attn_mask.dtype == query.dtype:
        return attn_mask
    if attn_mask.dtype.name == "float32" and query.dtype.is_floating_point:
        return attn_mask.to(query.dtype)
    raise DTypeError(f"scaled_dot_product_attention(): attn_mask must be bool, float32 or the query's dtype "
                     f"{query.dtype}, got {attn_mask.dtype}")


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(query key^T * scale + mask) value``, as ``torch.nn.functional.scaled_dot_product_attention``:
    query ``(..., L, E)``, key ``(..., S, E)``, value ``(..., S, Ev)``; a bool ``attn_mask`` marks the
    keys each query may attend (True), a float one is added to the scores; ``is_causal`` keeps keys
    ``j <= i``; ``scale`` defaults to ``1 / sqrt(E)``; ``enable_gqa`` repeats key/value heads.

    Runs the flash-attention kernel (memory linear in the sequence length, forward and backward);
    with ``dropout_p > 0``, a float mask that requires grad, head dims over 128 or batch dims that
    broadcast, it composes matmul, softmax and dropout instead.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> q = k = nr.ones(1, 2, 4)
    >>> F.scaled_dot_product_attention(q, k, nr.tensor([[[1.0], [3.0]]]), is_causal=True)[0, :, 0].tolist()
    [1.0, 2.0]
    """
    if not 0.0 <= dropout_p <= 1.0:
        raise ArgumentError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    attn_mask = _mask_of_query_dtype(attn_mask, query)
    if enable_gqa:
        key, value = _repeat_heads(key, query.shape[-3]), _repeat_heads(value, query.shape[-3])
    plain = (dropout_p > 0.0 or max(query.shape[-1], value.shape[-1]) > 128
             or not tuple(query.shape[:-2]) == tuple(key.shape[:-2]) == tuple(value.shape[:-2])
             or (attn_mask is not None and attn_mask.requires_grad))
    if plain:
        return _plain_attention(query, key, value, attn_mask, dropout_p, is_causal, scale)[0]
    return _call("flash_attention", query, key, value, attn_mask, 0.0, is_causal, scale)[0]


# -- normalization (kernels/norm.py: fused Triton kernels, forward and backward) ----------------

def layer_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Layer normalization over the trailing ``normalized_shape`` dims, with an element-wise affine.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.layer_norm(nr.tensor([[0.0, 2.0]]), [2], eps=0.0).tolist()
    [[-1.0, 1.0]]
    """
    return _call("native_layer_norm", input, normalized_shape, weight, bias, eps)[0]


def rms_norm(input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``x / sqrt(mean(x**2) + eps) * weight`` over the trailing ``normalized_shape`` dims (``eps``
    None: the dtype's machine epsilon).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.rms_norm(nr.tensor([[1.0, 1.0]]), [2], eps=0.0).tolist()
    [[1.0, 1.0]]
    """
    return _call("native_rms_norm", input, normalized_shape, weight, eps)[0]


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Group normalization of ``(N, C, ...)`` over ``num_groups`` groups of channels.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.group_norm(nr.tensor([[[0.0, 2.0], [4.0, 6.0]]]), 1, eps=0.0).reshape(-1).tolist()[:2]
    [-1.3416407108306885, -0.4472135901451111]
    """
    return _call("native_group_norm", input, num_groups, weight, bias, eps)[0]


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization of ``(N, C, ...)`` per channel: batch statistics when ``training`` (the
    running ones, when given, updated in place), the running statistics otherwise.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> rm, rv = nr.zeros(1), nr.ones(1)
    >>> F.batch_norm(nr.tensor([[1.0], [3.0]]), rm, rv, training=True, eps=0.0).tolist(), rm.tolist()
    ([[-1.0], [1.0]], [0.20000000298023224])
    """
    return _call("native_batch_norm", input, weight, bias, running_mean, running_var, bool(training),
                 momentum, eps)[0]


def instance_norm(input: Tensor, running_mean: Tensor | None = None, running_var: Tensor | None = None,
                  weight: Tensor | None = None, bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Instance normalization of ``(N, C, ...)``: each sample's channel on its own (group_norm with one
    channel per group). With ``use_input_stats`` the running statistics (when given) take the batch
    average of the instances' statistics; otherwise they normalize.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.instance_norm(nr.tensor([[[1.0, 3.0]]]), eps=0.0).tolist()
    [[[-1.0, 1.0]]]
    """
    if input.ndim < 3:
        raise ShapeError(f"instance_norm(): expected an input of at least 3 dims (N, C, ...), got shape "
                         f"{list(input.shape)}")
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    spatial = input.numel() // max(input.shape[0] * input.shape[1], 1)
    if spatial <= 1:
        raise ArgumentError(f"instance_norm(): expected more than 1 spatial element when training, got input of "
                            f"shape {list(input.shape)}")
    out, mean, rstd = _call("native_group_norm", input, input.shape[1], weight, bias, eps)
    if running_mean is not None or running_var is not None:
        from neurarust.autograd import grad_mode

        with grad_mode.no_grad():
            var = (_call("reciprocal", rstd * rstd) - eps) * (spatial / (spatial - 1))
            for run, stat in ((running_mean, mean), (running_var, var)):
                if run is not None:
                    new = run * (1 - momentum) + stat.mean(0) * momentum
                    run.copy_(_call("cast", new, run.dtype))
    return out


# -- convolutions (registry entry "convolution", kernels/conv.py) ---------------------------------

def _convolve(name: str, s: int, input: Tensor, weight: Tensor, bias, stride, padding, dilation, transposed: bool,
              output_padding, groups: int) -> Tensor:
    """A batched or unbatched (no ``N`` dim) ``s``-D (transposed) convolution."""
    if not isinstance(input, Tensor) or input.ndim not in (s + 1, s + 2):
        got = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ShapeError(f"{name}(): expected a {s + 1}-D (unbatched) or {s + 2}-D (batched) input, got {got}")
    unbatched = input.ndim == s + 1
    x = input.unsqueeze(0) if unbatched else input
    if transposed:
        _check_output_padding(name, s, output_padding, stride, dilation)
    out = _call("convolution", x, weight, bias, stride, padding, dilation, transposed, output_padding, groups)
    return out.squeeze(0) if unbatched else out


def _check_output_padding(name: str, s: int, output_padding, stride, dilation) -> None:
    """PyTorch's rule for a transposed convolution's ``output_padding``: non-negative, and below the
    stride or the dilation of its dim (the internal entry takes any, for the adjoints it computes)."""
    from neurarust.kernels.conv import expand

    op, st, d = (expand(name, what, v, s) for what, v in
                 (("output_padding", output_padding), ("stride", stride), ("dilation", dilation)))
    if any(o < 0 or (o >= a and o >= b) for o, a, b in zip(op, st, d)):
        raise ArgumentError(f"{name}(): output padding must be non-negative and smaller than either stride or "
                            f"dilation, got output_padding {list(op)}, stride {list(st)} and dilation {list(d)}")


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution of ``(N, C_in, L)`` with ``weight`` ``(C_out, C_in / groups, k)``; ``padding``
    may be ``"same"`` or ``"valid"``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.conv1d(nr.tensor([[[1.0, 2.0, 3.0]]]), nr.tensor([[[1.0, 1.0]]]), padding=1).tolist()
    [[[1.0, 3.0, 5.0, 3.0]]]
    """
    return _convolve("conv1d", 1, input, weight, bias, stride, padding, dilation, False, 0, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution of ``(N, C_in, H, W)`` with ``weight`` ``(C_out, C_in / groups, kH, kW)``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.conv2d(nr.ones(1, 1, 3, 3), nr.ones(1, 1, 2, 2), stride=2, padding=1).tolist()
    [[[[1.0, 2.0], [2.0, 4.0]]]]
    """
    return _convolve("conv2d", 2, input, weight, bias, stride, padding, dilation, False, 0, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """3-D convolution of ``(N, C_in, D, H, W)`` with ``weight`` ``(C_out, C_in / groups, kD, kH, kW)``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.conv3d(nr.ones(1, 1, 2, 2, 2), nr.ones(1, 1, 2, 2, 2)).tolist()
    [[[[[8.0]]]]]
    """
    return _convolve("conv3d", 3, input, weight, bias, stride, padding, dilation, False, 0, groups)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """1-D transposed convolution of ``(N, C_in, L)`` with ``weight`` ``(C_in, C_out / groups, k)``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.conv_transpose1d(nr.tensor([[[1.0, 2.0]]]), nr.tensor([[[1.0, 1.0]]]), stride=2).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    """
    return _convolve("conv_transpose1d", 1, input, weight, bias, stride, padding, dilation, True, output_padding,
                     groups)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """2-D transposed convolution of ``(N, C_in, H, W)`` with ``weight`` ``(C_in, C_out / groups, kH, kW)``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.conv_transpose2d(nr.ones(1, 1, 2, 2), nr.ones(1, 1, 2, 2), stride=2).shape
    neurarust.Size([1, 1, 4, 4])
    """
    return _convolve("conv_transpose2d", 2, input, weight, bias, stride, padding, dilation, True, output_padding,
                     groups)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """3-D transposed convolution of ``(N, C_in, D, H, W)`` with ``weight`` ``(C_in, C_out / groups, kD, kH, kW)``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.conv_transpose3d(nr.ones(1, 1, 2, 2, 2), nr.ones(1, 1, 2, 2, 2), stride=2).shape
    neurarust.Size([1, 1, 4, 4, 4])
    """
    return _convolve("conv_transpose3d", 3, input, weight, bias, stride, padding, dilation, True, output_padding,
                     groups)


# -- pooling (registry entries of kernels/pool.py, 2-D; a 1-D pool is a 2-D one of height 1) ---------

def _as_planes(name: str, input: Tensor, s: int):
    """``input`` as ``(N, C, H, W)`` (unbatched inputs get ``N``, 1-D ones ``H = 1``), and the
    function that gives results their input's layout back."""
    if not isinstance(input, Tensor) or input.ndim not in (s + 1, s + 2):
        got = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ShapeError(f"{name}(): expected a {s + 1}-D (unbatched) or {s + 2}-D (batched) input, got {got}")
    unbatched = input.ndim == s + 1
    x = input.unsqueeze(0) if unbatched else input
    if s == 1:
        x = x.unsqueeze(2)

    def back(t: Tensor) -> Tensor:
        t = t.squeeze(2) if s == 1 else t
        return t.squeeze(0) if unbatched else t
    return x, back


def _one(name: str, v, default=None):
    """A 1-D pool's argument (an int or a 1-sequence) as the 2-D pair ``(default, v)``."""
    if v is None:
        return None
    if not isinstance(v, int):
        v = tuple(v)
        if len(v) == 0:
            return None
        if len(v) != 1:
            raise ArgumentError(f"{name}(): expected a single integer, got {list(v)}")
        v = v[0]
    return (default, v)


def _max_pool(name, s, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, back = _as_planes(name, input, s)
    if s == 1:
        kernel_size, stride = _one(name, kernel_size, 1), _one(name, stride, 1)
        padding, dilation = _one(name, padding, 0), _one(name, dilation, 1)
    values, indices = _call("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    return (back(values), back(indices)) if return_indices else back(values)


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over windows of ``(N, C, L)``; ``return_indices`` also gives each max's position.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.max_pool1d(nr.tensor([[[1.0, 3.0, 2.0, 0.0, 5.0]]]), 2, return_indices=True)[1].tolist()
    [[[1, 2]]]
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over windows of ``(N, C, H, W)``; indices are flat ``h * W + w`` positions in the plane.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.max_pool2d(nr.arange(16.0).reshape(1, 4, 4), 2, ceil_mode=True).tolist()
    [[[5.0, 7.0], [13.0, 15.0]]]
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over windows of ``(N, C, L)``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.avg_pool1d(nr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[2.0, 1.0]]]
    """
    x, back = _as_planes("avg_pool1d", input, 1)
    k, st, p = _one("avg_pool1d", kernel_size, 1), _one("avg_pool1d", stride, 1), _one("avg_pool1d", padding, 0)
    return back(_call("avg_pool2d", x, k, st, p, ceil_mode, count_include_pad, None))


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over windows of ``(N, C, H, W)`` (padding counted unless ``count_include_pad=False``).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.avg_pool2d(nr.ones(1, 1, 3, 3), 2, padding=1).tolist()
    [[[[0.25, 0.5], [0.5, 1.0]]]]
    """
    x, back = _as_planes("avg_pool2d", input, 2)
    return back(_call("avg_pool2d", x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override))


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Mean over ``output_size`` windows spanning ``(N, C, L)``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.adaptive_avg_pool1d(nr.tensor([[[1.0, 3.0, 2.0]]]), 2).tolist()
    [[[2.0, 2.5]]]
    """
    x, back = _as_planes("adaptive_avg_pool1d", input, 1)
    return back(_call("adaptive_avg_pool2d", x, _one("adaptive_avg_pool1d", output_size, 1)))


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Mean over ``output_size`` windows spanning ``(N, C, H, W)`` (``None`` keeps a dim's size).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.adaptive_avg_pool2d(nr.ones(2, 3, 5, 5), 1).shape
    neurarust.Size([2, 3, 1, 1])
    """
    x, back = _as_planes("adaptive_avg_pool2d", input, 2)
    return back(_call("adaptive_avg_pool2d", x, output_size))


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max over ``output_size`` windows spanning ``(N, C, H, W)``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.adaptive_max_pool2d(nr.arange(6.0).reshape(1, 2, 3), (1, 2)).tolist()
    [[[4.0, 5.0]]]
    """
    x, back = _as_planes("adaptive_max_pool2d", input, 2)
    values, indices = _call("adaptive_max_pool2d", x, output_size)
    return (back(values), back(indices)) if return_indices else back(values)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max over ``output_size`` windows spanning ``(N, C, L)`` (or ``(C, L)``); with
    ``return_indices``, also each maximum's position along ``L``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.adaptive_max_pool1d(nr.tensor([[1.0, 3.0, 2.0, 0.0]]), 2, return_indices=True)[1].tolist()
    [[1, 2]]
    """
    x, back = _as_planes("adaptive_max_pool1d", input, 1)
    values, indices = _call("adaptive_max_pool2d", x, _one("adaptive_max_pool1d", output_size, 1))
    return (back(values), back(indices)) if return_indices else back(values)


# 3-D pools are separable: a box's max (mean) is the max (mean) over its depth window of the 2-D
# pool of each depth slice, so they run the 2-D kernels twice: over (H, W), then over D.
def _volumes(name: str, input: Tensor) -> tuple[Tensor, bool]:
    if not isinstance(input, Tensor) or input.ndim not in (4, 5):
        got = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ShapeError(f"{name}(): expected a 4-D (unbatched) or 5-D (batched) input, got {got}")
    return (input.unsqueeze(0), True) if input.ndim == 4 else (input, False)


def _per_dim(name: str, what: str, v: Any, s: int, low: int | None = None) -> tuple:
    """``v`` (an int or ``s`` ints) as ``s`` ints (conv's ``expand``), each at least ``low`` if given."""
    from neurarust.kernels.conv import expand

    sizes = expand(name, what, v, s)
    if low is not None and min(sizes) < low:
        raise ArgumentError(f"{name}(): {what} must be at least {low}, got {v!r}")
    return sizes


def _stride3d(name: str, stride: Any, kernel: tuple) -> tuple:
    """A 3-D pool's stride: the kernel's when None or empty, as PyTorch's."""
    empty = stride is None or (not isinstance(stride, int) and len(tuple(stride)) == 0)
    return kernel if empty else _per_dim(name, "stride", stride, 3)


def _separable_pool3d(x: Tensor, planes_fn, depth_fn, with_indices: bool):
    """``depth_fn`` over D of ``planes_fn`` over (H, W) of each depth slice of ``(N, C, D, H, W)``;
    with indices, each maximum's flat position in its ``D * H * W`` volume."""
    N, C, D, H, W = x.shape
    planes = planes_fn(x.reshape(N, C * D, H, W))
    values, plane_index = planes if with_indices else (planes, None)
    Ho, Wo = values.shape[-2:]
    columns = lambda t: t.reshape(N, C, D, Ho, Wo).permute(0, 1, 3, 4, 2).reshape(N, C * Ho * Wo, D)  # noqa: E731
    pooled = depth_fn(columns(values))
    out, depth_index = pooled if with_indices else (pooled, None)
    Do = out.shape[-1]
    volume = lambda t: t.reshape(N, C, Ho, Wo, Do).permute(0, 1, 4, 2, 3)  # noqa: E731
    if not with_indices:
        return volume(out)
    position = depth_index * (H * W) + _call("gather", columns(plane_index), 2, depth_index)
    return volume(out), volume(position)


def max_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over ``kernel_size`` boxes of ``(N, C, D, H, W)`` (or ``(C, D, H, W)``); ``return_indices``
    also gives each maximum's flat position in its ``D * H * W`` volume.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.max_pool3d(nr.arange(8.0).reshape(1, 1, 2, 2, 2), 2, return_indices=True)[1].flatten().tolist()
    [7]
    """
    x, unbatched = _volumes("max_pool3d", input)
    k = _per_dim("max_pool3d", "kernel_size", kernel_size, 3)
    st = _stride3d("max_pool3d", stride, k)
    p, d = _per_dim("max_pool3d", "padding", padding, 3), _per_dim("max_pool3d", "dilation", dilation, 3)
    planes = lambda t: _call("max_pool2d", t, k[1:], st[1:], p[1:], d[1:], ceil_mode)  # noqa: E731
    depth = lambda t: max_pool1d(t, k[0], st[0], p[0], d[0], ceil_mode, True)  # noqa: E731
    values, indices = _separable_pool3d(x, planes, depth, True)
    if unbatched:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return (values, indices) if return_indices else values


def avg_pool3d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over ``kernel_size`` boxes of ``(N, C, D, H, W)`` (or ``(C, D, H, W)``); PyTorch's
    ``count_include_pad``, ``ceil_mode`` and ``divisor_override``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.avg_pool3d(nr.arange(8.0).reshape(1, 1, 2, 2, 2), 2).flatten().tolist()
    [3.5]
    """
    x, unbatched = _volumes("avg_pool3d", input)
    k = _per_dim("avg_pool3d", "kernel_size", kernel_size, 3)
    st = _stride3d("avg_pool3d", stride, k)
    p = _per_dim("avg_pool3d", "padding", padding, 3)
    if divisor_override is not None and divisor_override <= 0:
        raise ArgumentError(f"avg_pool3d(): divisor must be positive, got {divisor_override}")
    summed = divisor_override is not None     # box sums (divisor 1 in each stage), then the divisor
    planes = lambda t: _call("avg_pool2d", t, k[1:], st[1:], p[1:], ceil_mode, count_include_pad,  # noqa: E731
                             1 if summed else None)
    depth = lambda t: _call("avg_pool2d", t.unsqueeze(2), (1, k[0]), (1, st[0]), (0, p[0]), ceil_mode,  # noqa: E731
                            count_include_pad, 1 if summed else None).squeeze(2)
    out = _separable_pool3d(x, planes, depth, False)
    out = out / divisor_override if summed else out
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool3d(input: Tensor, output_size: Any) -> Tensor:
    """Mean over ``output_size`` boxes spanning ``(N, C, D, H, W)`` (``None`` keeps a dim).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.adaptive_avg_pool3d(nr.ones(1, 2, 3, 4, 5), 1).shape
    neurarust.Size([1, 2, 1, 1, 1])
    """
    x, unbatched = _volumes("adaptive_avg_pool3d", input)
    size = _adaptive_sizes3d("adaptive_avg_pool3d", output_size, x)
    planes = lambda t: _call("adaptive_avg_pool2d", t, size[1:])  # noqa: E731
    depth = lambda t: adaptive_avg_pool1d(t, size[0])  # noqa: E731
    out = _separable_pool3d(x, planes, depth, False)
    return out.squeeze(0) if unbatched else out


def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max over ``output_size`` boxes spanning ``(N, C, D, H, W)``; ``return_indices`` also gives each
    maximum's flat position in its ``D * H * W`` volume.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.adaptive_max_pool3d(nr.arange(8.0).reshape(1, 1, 2, 2, 2), (1, 1, 2)).flatten().tolist()
    [6.0, 7.0]
    """
    x, unbatched = _volumes("adaptive_max_pool3d", input)
    size = _adaptive_sizes3d("adaptive_max_pool3d", output_size, x)
    planes = lambda t: _call("adaptive_max_pool2d", t, size[1:])  # noqa: E731
    depth = lambda t: adaptive_max_pool1d(t, size[0], True)  # noqa: E731
    values, indices = _separable_pool3d(x, planes, depth, True)
    if unbatched:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return (values, indices) if return_indices else values


def _adaptive_sizes3d(name: str, output_size: Any, x: Tensor) -> tuple:
    """``output_size`` as three sizes, ``None`` keeping the input's."""
    if output_size is None:
        raise ArgumentError(f"{name}(): output_size must be an int or a tuple of 3 ints/None, got None")
    sizes = (output_size,) * 3 if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != 3:
        raise ArgumentError(f"{name}(): output_size must have 3 elements, got {list(sizes)}")
    return tuple(n if v is None else int(v) for v, n in zip(sizes, x.shape[2:]))


def _max_unpool(name: str, s: int, input: Tensor, indices: Tensor, kernel_size, stride, padding, output_size):
    """Scatter each pooled value back to its ``indices`` position (flat within its plane) in zeros of the
    unpooled size: ``output_size``, or ``(in - 1) * stride - 2 * padding + kernel`` per dim."""
    from neurarust.kernels.conv import expand

    if not isinstance(input, Tensor) or input.ndim not in (s + 1, s + 2):
        got = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ShapeError(f"{name}(): expected a {s + 1}-D or {s + 2}-D input, got {got}")
    if not isinstance(indices, Tensor) or tuple(indices.shape) != tuple(input.shape):
        got = list(indices.shape) if isinstance(indices, Tensor) else type(indices).__name__
        raise ShapeError(f"{name}(): expected indices of the input's shape {list(input.shape)}, got {got}")
    k = expand(name, "kernel_size", kernel_size, s)
    st = k if stride is None else expand(name, "stride", stride, s)
    p = expand(name, "padding", padding, s)
    ins = tuple(input.shape[-s:])
    default = tuple((i - 1) * a - 2 * b + c for i, a, b, c in zip(ins, st, p, k))
    size = default if output_size is None else tuple(int(v) for v in tuple(output_size)[-s:])
    if len(size) != s or any(v <= 0 for v in size):
        raise ArgumentError(f"{name}(): output_size must give {s} positive sizes, got {output_size!r}")
    lead = tuple(input.shape[:-s])
    flat_in, flat_idx = input.reshape(*lead, -1), indices.reshape(*lead, -1)
    plane = math.prod(size)
    if flat_idx.numel() and (int(flat_idx.min()) < 0 or int(flat_idx.max()) >= plane):
        from neurarust.errors import IndexOutOfRangeError

        raise IndexOutOfRangeError(f"{name}(): an index is out of the output's {plane} positions per plane "
                          f"(output size {list(size)})")
    out = zeros(*lead, plane, dtype=input.dtype, device=input.device)
    return _call("scatter", out, len(lead), flat_idx, flat_in).reshape(*lead, *size)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    """The partial inverse of ``max_pool1d``: each value at its ``indices`` position, zeros elsewhere.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> v, i = F.max_pool1d(nr.tensor([[1.0, 3.0, 2.0, 0.0]]), 2, return_indices=True)
    >>> F.max_unpool1d(v, i, 2).tolist()
    [[0.0, 3.0, 2.0, 0.0]]
    """
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    """The partial inverse of ``max_pool2d``: each value at its ``indices`` position (flat within its
    ``H * W`` plane), zeros elsewhere.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> v, i = F.max_pool2d(nr.arange(4.0).reshape(1, 1, 2, 2), 2, return_indices=True)
    >>> F.max_unpool2d(v, i, 2).tolist()
    [[[[0.0, 0.0], [0.0, 3.0]]]]
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


# -- interpolate, pixel_shuffle (compositions of index_select, arithmetic and views) ------------------

def _resize_plan(name: str, input: Tensor, size: Any, scale_factor: Any, recompute_scale_factor: Any) -> list:
    """Per spatial dim ``(in, out, scale or None)``: ``scale`` is ``1 / scale_factor`` where PyTorch
    uses the given factor for the source coordinates."""
    s = input.ndim - 2
    if (size is None) == (scale_factor is None):
        raise ArgumentError(f"{name}(): exactly one of size and scale_factor must be given")
    ins = list(input.shape[2:])
    if size is not None and recompute_scale_factor:
        raise ArgumentError(f"{name}(): recompute_scale_factor is not meaningful with an explicit size")
    if size is not None:
        outs = [int(v) for v in (size if isinstance(size, (tuple, list)) else [size] * s)]
        if len(outs) != s:
            raise ArgumentError(f"{name}(): size {list(outs)} does not match the {s} spatial dims of the input")
        return _positive_sizes(name, ins, [(i, o, None) for i, o in zip(ins, outs)])
    factors = [float(v) for v in (scale_factor if isinstance(scale_factor, (tuple, list)) else [scale_factor] * s)]
    if len(factors) != s:
        raise ArgumentError(f"{name}(): scale_factor {factors} does not match the {s} spatial dims of the input")
    if min(factors) <= 0:
        raise ArgumentError(f"{name}(): scale_factor must be positive, got {factors}")
    keep = not recompute_scale_factor
    return _positive_sizes(name, ins, [(i, int(i * f), (1.0 / f) if keep else None) for i, f in zip(ins, factors)])


def _positive_sizes(name: str, ins: list, plan: list) -> list:
    outs = [o for _, o, _ in plan]
    if min(ins + outs, default=1) <= 0:
        raise ShapeError(f"{name}(): input and output sizes should be greater than 0, but got input {ins} and "
                         f"output {outs}")
    return plan


def _nearest_index(i: int, o: int, scale) -> Any:
    import numpy as np

    step = np.float32(scale) if scale is not None else np.float32(i) / np.float32(o)
    return np.minimum(np.floor(np.arange(o, dtype=np.float32) * step).astype(np.int64), i - 1)


def _linear_taps(i: int, o: int, scale, align_corners: bool):
    """(first tap, second tap, weight of the second) per output coordinate, as PyTorch's
    ``area_pixel_compute_source_index``."""
    import numpy as np

    if align_corners:
        step = (i - 1) / (o - 1) if o > 1 else 0.0
        src = np.arange(o) * step
    else:
        step = scale if scale is not None else i / o
        src = np.maximum((np.arange(o) + 0.5) * step - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), i - 1)
    hi = np.minimum(lo + 1, i - 1)
    return lo, hi, src - lo


def _nearest_exact_index(i: int, o: int, scale) -> Any:
    """PyTorch's ``nearest-exact``: the source pixel whose centre is nearest, ``floor((d + 0.5) * scale)``."""
    import numpy as np

    step = np.float32(scale) if scale is not None else np.float32(i) / np.float32(o)
    return np.minimum(np.floor((np.arange(o, dtype=np.float32) + np.float32(0.5)) * step).astype(np.int64), i - 1)


_CUBIC_A = -0.75   # PyTorch's (and OpenCV's) bicubic convolution parameter


def _cubic_taps(i: int, o: int, scale, align_corners: bool):
    """The four source indices (clamped to the input) and weights per output coordinate of bicubic
    interpolation: Keys' cubic convolution at the distances ``1 + t, t, 1 - t, 2 - t``."""
    import numpy as np

    if align_corners:
        src = np.arange(o) * ((i - 1) / (o - 1) if o > 1 else 0.0)
    else:
        src = (np.arange(o) + 0.5) * (scale if scale is not None else i / o) - 0.5   # not clamped at 0
    base = np.floor(src).astype(np.int64)
    t = src - base
    a = _CUBIC_A
    near = lambda x: ((a + 2) * x - (a + 3)) * x * x + 1                        # noqa: E731 - |x| <= 1
    far = lambda x: ((a * x - 5 * a) * x + 8 * a) * x - 4 * a                   # noqa: E731 - 1 < |x| < 2
    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    return [(np.clip(base + k - 1, 0, i - 1), w) for k, w in enumerate(weights)]


_INTERPOLATE_MODES = {"nearest": None, "nearest-exact": None, "area": None, "linear": 3, "bilinear": 4,
                      "bicubic": 4, "trilinear": 5}


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)`` to ``size`` or by ``scale_factor``:
    ``mode`` nearest, nearest-exact, area (adaptive average pooling), linear (3-D), bilinear and
    bicubic (4-D), trilinear (5-D), the interpolating ones with ``align_corners``; one dim after the
    other, as sums of ``index_select``s (so every mode differentiates).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.interpolate(nr.tensor([[[1.0, 2.0]]]), scale_factor=2).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    >>> F.interpolate(nr.tensor([[[1.0, 2.0]]]), size=3, mode="linear", align_corners=True).tolist()
    [[[1.0, 1.5, 2.0]]]
    """
    name = "interpolate"
    if not isinstance(input, Tensor) or input.ndim not in (3, 4, 5):
        raise ShapeError(f"{name}(): expected a 3-D, 4-D or 5-D input, got "
                         f"{list(input.shape) if isinstance(input, Tensor) else type(input).__name__}")
    if mode not in _INTERPOLATE_MODES or _INTERPOLATE_MODES[mode] not in (None, input.ndim):
        raise ArgumentError(f"{name}(): mode {mode!r} is not supported for a {input.ndim}-D input (nearest, "
                            f"nearest-exact, area; linear for 3-D, bilinear and bicubic for 4-D, trilinear for 5-D)")
    if _INTERPOLATE_MODES[mode] is None and align_corners is not None:
        raise ArgumentError(f"{name}(): align_corners option can only be set with the interpolating modes")
    if antialias:
        raise ArgumentError(f"{name}(): antialias is not supported")
    plan = _resize_plan(name, input, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        return globals()[f"adaptive_avg_pool{input.ndim - 2}d"](input, [o for _, o, _ in plan])
    index = lambda x, dim, positions: x.index_select(dim, tensor(positions, device=x.device))  # noqa: E731
    x = input
    for j, (i, o, scale) in enumerate(plan):
        dim = 2 + j
        if mode in ("nearest", "nearest-exact"):
            x = index(x, dim, (_nearest_index if mode == "nearest" else _nearest_exact_index)(i, o, scale))
            continue
        along = lambda w: tensor(w, dtype=x.dtype, device=x.device).reshape(  # noqa: E731
            [o if d == dim else 1 for d in range(x.ndim)])
        if mode == "bicubic":
            x = sum(index(x, dim, positions) * along(w) for positions, w in _cubic_taps(i, o, scale,
                                                                                          bool(align_corners)))
            continue
        lo, hi, w = _linear_taps(i, o, scale, bool(align_corners))
        a, b = index(x, dim, lo), index(x, dim, hi)
        x = a + (b - a) * along(w)
    return x


def _base_coordinates(n: int, align_corners: bool) -> Any:
    """The normalized [-1, 1] coordinates of ``n`` pixels: their centres, or their corners' span with
    ``align_corners`` (a single pixel sits at 0)."""
    import numpy as np

    if align_corners:
        return np.linspace(-1.0, 1.0, n) if n > 1 else np.zeros(1)
    return (2.0 * np.arange(n) + 1.0) / n - 1.0


def affine_grid(theta: Tensor, size: Sequence[int], align_corners: bool | None = None) -> Tensor:
    """The sampling grid ``(N, H, W, 2)`` (or ``(N, D, H, W, 3)``) of the affine maps ``theta``
    ``(N, 2, 3)`` (``(N, 3, 4)``) applied to the normalized output coordinates, for :func:`grid_sample`.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.affine_grid(nr.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]), [1, 1, 1, 2], align_corners=True)[0, 0].tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    """
    import numpy as np

    align_corners = bool(align_corners)
    size = [int(v) for v in size]
    if not isinstance(theta, Tensor) or not theta.dtype.is_floating_point:
        raise DTypeError(f"affine_grid(): expected theta of a floating point dtype, got "
                         f"{getattr(theta, 'dtype', type(theta).__name__)}")
    spatial = len(size) - 2
    if spatial not in (2, 3):
        raise ShapeError(f"affine_grid(): only 4-D and 5-D sizes (2-D and 3-D transforms) are supported, got {size}")
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (spatial, spatial + 1) or theta.shape[0] != size[0]:
        raise ShapeError(f"affine_grid(): expected theta of shape ({size[0]}, {spatial}, {spatial + 1}) for size "
                         f"{size}, got {list(theta.shape)}")
    if min(size) <= 0:
        raise ShapeError(f"affine_grid(): expected a positive output size, got {size}")
    dims = size[2:][::-1]                                            # x (width) first, as the grid's last dim
    axes = np.meshgrid(*[_base_coordinates(n, align_corners) for n in dims[::-1]], indexing="ij")[::-1]
    base = np.stack([*axes, np.ones_like(axes[0])], -1).reshape(-1, spatial + 1)   # (points, x, y[, z], 1)
    points = tensor(base, dtype=theta.dtype, device=theta.device)
    grid = _call("matmul", points, theta.transpose(1, 2))              # (N, points, spatial)
    return grid.reshape(size[0], *size[2:], spatial)


def _unnormalize(coordinate: Tensor, n: int, align_corners: bool) -> Tensor:
    """A normalized [-1, 1] grid coordinate as a pixel index along a dim of ``n`` pixels."""
    if align_corners:
        return (coordinate + 1) * ((n - 1) / 2)
    return ((coordinate + 1) * n - 1) / 2


def _reflect(x: Tensor, low2: float, high2: float) -> Tensor:
    """``x`` reflected into ``[low2 / 2, high2 / 2]`` (the bounds given doubled), as PyTorch's."""
    if low2 == high2:
        return x * 0.0
    low, span = low2 / 2, (high2 - low2) / 2
    distance = (x - low).abs()
    flips = (distance / span).floor()
    extra = distance - flips * span
    return _call("where", _call("remainder", flips, 2) == 0, extra + low, span - extra + low)


def _pad_coordinate(x: Tensor, n: int, padding_mode: str, align_corners: bool) -> Tensor:
    """A pixel coordinate along a dim of ``n`` pixels under ``padding_mode``: reflected off the edges
    (``reflection``) and clamped into the image (``border``, ``reflection``); as is for ``zeros``."""
    if padding_mode == "reflection":
        x = _reflect(x, 0.0, 2.0 * (n - 1)) if align_corners else _reflect(x, -1.0, 2.0 * n - 1)
    if padding_mode in ("border", "reflection"):
        x = x.clamp(0.0, n - 1.0)
    return x


def _cubic_coefficients(t: Tensor) -> list:
    """The weights of the taps at ``floor - 1 .. floor + 2`` for the fraction ``t``: Keys' cubic
    convolution (``A = -0.75``, as PyTorch) at the distances ``1 + t, t, 1 - t, 2 - t``."""
    a = _CUBIC_A
    near = lambda x: ((x * (a + 2) - (a + 3)) * x) * x + 1                     # noqa: E731 - |x| <= 1
    far = lambda x: (((x * a - 5 * a) * x + 8 * a) * x) - 4 * a                # noqa: E731 - 1 < |x| < 2
    s = 1 - t
    return [far(t + 1), near(t), near(s), far(s + 1)]


class _ZeroGridGradient(Function):
    """The nearest samples unchanged, and a zero gradient for the grid (PyTorch's, where the samples
    are piecewise constant in it) rather than none."""

    @staticmethod
    def forward(ctx, out: Tensor, grid: Tensor) -> Tensor:
        ctx.grid = (tuple(grid.shape), grid.dtype, grid.device)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        shape, dtype, device = ctx.grid
        return grad, zeros(shape, dtype=dtype, device=device)


_GRID_SAMPLE_MODES = ("bilinear", "nearest", "bicubic")


def _check_grid_sample(input: Any, grid: Any, mode: str, padding_mode: str) -> None:
    from neurarust.errors import DeviceError

    if mode not in _GRID_SAMPLE_MODES:
        raise ArgumentError(f"grid_sample(): mode must be 'bilinear', 'nearest' or 'bicubic', got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ArgumentError(f"grid_sample(): padding_mode must be 'zeros', 'border' or 'reflection', got "
                            f"{padding_mode!r}")
    if not isinstance(input, Tensor) or not isinstance(grid, Tensor):
        raise ArgumentError(f"grid_sample(): expected input and grid to be Tensors, got "
                            f"{type(input).__name__} and {type(grid).__name__}")
    if input.ndim not in (4, 5):
        raise ShapeError(f"grid_sample(): expected a 4-D input (N, C, H, W) or a 5-D input (N, C, D, H, W), got "
                         f"input of shape {list(input.shape)}")
    s = input.ndim - 2
    wanted = "(N, Ho, Wo, 2)" if s == 2 else "(N, Do, Ho, Wo, 3)"
    if grid.ndim != input.ndim or grid.shape[-1] != s or grid.shape[0] != input.shape[0]:
        raise ShapeError(f"grid_sample(): a {input.ndim}-D input needs a grid {wanted} with the input's N, got "
                         f"input of shape {list(input.shape)} and grid of shape {list(grid.shape)}")
    if mode == "bicubic" and s != 2:
        raise ArgumentError(f"grid_sample(): bicubic interpolation only supports 4-D input, got a 5-D input of "
                            f"shape {list(input.shape)}")
    if min(input.shape[2:]) <= 0:
        raise ShapeError(f"grid_sample(): expected an input with non-empty spatial dims, got input of shape "
                         f"{list(input.shape)}")
    if grid.dtype != input.dtype:
        raise DTypeError(f"grid_sample(): expected grid of the input's dtype {input.dtype}, got {grid.dtype}")
    if grid.device != input.device:
        raise DeviceError(f"grid_sample(): expected input and grid on the same device, got {input.device} and "
                          f"{grid.device}")


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool | None = None) -> Tensor:
    """``input`` ``(N, C, H, W)`` sampled at the normalized ``(x, y)`` positions of ``grid``
    ``(N, Ho, Wo, 2)``, or ``input`` ``(N, C, D, H, W)`` at the ``(x, y, z)`` of ``grid``
    ``(N, Do, Ho, Wo, 3)`` (-1 and 1: the edges). ``mode``: bilinear (trilinear for 5-D, as
    PyTorch names it), nearest, or bicubic (4-D only: Keys' cubic convolution with ``A = -0.75`` over
    16 taps, the padding rule applied to each tap's position, as PyTorch); ``padding_mode`` zeros,
    border or reflection for positions outside. A sum of ``gather``s weighted by polynomials of the
    fractional positions, so differentiable in ``input`` and (bilinear, bicubic) ``grid``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.grid_sample(nr.tensor([[[[1.0, 3.0]]]]), nr.tensor([[[[0.0, 0.0]]]]), align_corners=True).item()
    2.0
    >>> F.grid_sample(nr.tensor([[[[[1.0, 3.0]]]]]), nr.tensor([[[[[0.5, 0.0, 0.0]]]]]), align_corners=True).item()
    2.5
    >>> F.grid_sample(nr.tensor([[[[0.0, 1.0, 2.0, 3.0]]]]), nr.tensor([[[[0.0, 0.0]]]]), mode="bicubic",
    ...               padding_mode="border", align_corners=True).item()
    1.5
    """
    import itertools

    from neurarust import dtype as _dt

    align_corners = bool(align_corners)
    _check_grid_sample(input, grid, mode, padding_mode)
    N, C, *sizes = input.shape
    s, out_shape = len(sizes), list(grid.shape[1:-1])
    P = math.prod(out_shape)
    strides = [math.prod(sizes[d + 1:]) for d in range(s)]
    flat = input.reshape(N, C, math.prod(sizes))
    # grid's last dim lists (x, y[, z]): the input's last spatial dim first
    coords = [_unnormalize(grid[..., s - 1 - d], sizes[d], align_corners).reshape(N, 1, P) for d in range(s)]

    def tap(indices: list) -> Tensor:
        """The input at integer-valued positions (one (N, 1, P) tensor per spatial dim), 0 outside."""
        inside, position = None, None
        for index, n, stride in zip(indices, sizes, strides):
            ok = (index >= 0) & (index <= n - 1)
            offset = index.clamp(0, n - 1).to(_dt.int64) * stride
            inside = ok if inside is None else inside & ok
            position = offset if position is None else position + offset
        return _call("where", inside, flat.gather(2, position.expand(N, C, P)), 0.0)

    def weighted_taps(taps: list) -> Tensor:
        """Sum over the product of the dims' taps, each a list of (position, weight or None)."""
        out = None
        for combination in itertools.product(*taps):
            term = tap([position for position, _ in combination])
            weights = [w for _, w in combination if w is not None]
            if weights:
                term = term * math.prod(weights[1:], start=weights[0])
            out = term if out is None else out + term
        return out

    taps = []   # per spatial dim: (integer-valued position, weight) of each tap
    for c, n in zip(coords, sizes):
        if mode == "bicubic":   # 4 taps around the unpadded position; the padding rule moves each tap
            base = c.detach().floor()
            taps.append([(_pad_coordinate(base + (k - 1), n, padding_mode, align_corners), w)
                         for k, w in enumerate(_cubic_coefficients(c - base))])
            continue
        c = _pad_coordinate(c, n, padding_mode, align_corners)
        if mode == "nearest":
            taps.append([(c.detach().round(), None)])
        else:
            low = c.detach().floor()
            taps.append([(low, 1 - (c - low)), (low + 1, c - low)])
    out = weighted_taps(taps).reshape(N, C, *out_shape)
    if mode == "nearest" and grid.requires_grad:
        return _ZeroGridGradient.apply(out, grid)
    return out


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """``(*, C * r * r, H, W)`` to ``(*, C, H * r, W * r)``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.pixel_shuffle(nr.arange(4.0).reshape(1, 4, 1, 1), 2).tolist()
    [[[[0.0, 1.0], [2.0, 3.0]]]]
    """
    r = int(upscale_factor)
    if not isinstance(input, Tensor) or input.ndim < 3 or r <= 0 or input.shape[-3] % (r * r):
        got = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ShapeError(f"pixel_shuffle(): expected an input of at least 3 dims whose channels divide by "
                         f"upscale_factor**2 = {r * r}, got {got}")
    *lead, C, H, W = input.shape
    k = len(lead)
    x = input.reshape(tuple(lead) + (C // (r * r), r, r, H, W))
    x = x.permute(tuple(range(k)) + (k, k + 3, k + 1, k + 4, k + 2))
    return x.reshape(tuple(lead) + (C // (r * r), H * r, W * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """``(*, C, H * r, W * r)`` to ``(*, C * r * r, H, W)``, the inverse of :func:`pixel_shuffle`.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.pixel_unshuffle(nr.arange(4.0).reshape(1, 1, 2, 2), 2).flatten().tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    r = int(downscale_factor)
    if not isinstance(input, Tensor) or input.ndim < 3 or r <= 0 or input.shape[-2] % r or input.shape[-1] % r:
        got = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ShapeError(f"pixel_unshuffle(): expected an input of at least 3 dims whose height and width divide "
                         f"by downscale_factor = {r}, got {got}")
    *lead, C, H, W = input.shape
    k = len(lead)
    x = input.reshape(tuple(lead) + (C, H // r, r, W // r, r))
    x = x.permute(tuple(range(k)) + (k, k + 2, k + 4, k + 1, k + 3))
    return x.reshape(tuple(lead) + (C * r * r, H // r, W // r))


# -- unfold and fold (im2col / col2im: one index_select or index_add over host-computed positions) --
def _block_positions(name: str, size: tuple, kernel_size, dilation, padding, stride):
    """(flat positions in the padded ``size`` plane, tap-major then block-major; the padded size;
    the blocks per dim) of every kernel tap of every sliding block."""
    import numpy as np

    k, d = _per_dim(name, "kernel_size", kernel_size, 2, 1), _per_dim(name, "dilation", dilation, 2, 1)
    p, s = _per_dim(name, "padding", padding, 2, 0), _per_dim(name, "stride", stride, 2, 1)
    padded = tuple(n + 2 * pp for n, pp in zip(size, p))
    blocks = tuple((n - dd * (kk - 1) - 1) // ss + 1 for n, dd, kk, ss in zip(padded, d, k, s))
    if min(blocks) <= 0:
        raise ShapeError(f"{name}(): the kernel {k} with dilation {d} does not fit the padded input {padded}: "
                         f"the number of sliding blocks would be {blocks}")
    rows = (np.arange(k[0])[:, None] * d[0])[:, None, :, None] + (np.arange(blocks[0]) * s[0])[None, None, :, None]
    cols = (np.arange(k[1])[None, :] * d[1])[:, :, None, None] + (np.arange(blocks[1]) * s[1])[None, None, None, :]
    return (rows * padded[1] + cols).reshape(-1), padded, blocks, p


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:
    """Sliding blocks of a batched ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) input as columns:
    ``(N, C * kh * kw, L)``, ``L`` the number of blocks (im2col); the adjoint of :func:`fold`.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.unfold(nr.arange(9.0).reshape(1, 1, 3, 3), 2)[0].tolist()
    [[0.0, 1.0, 3.0, 4.0], [1.0, 2.0, 4.0, 5.0], [3.0, 4.0, 6.0, 7.0], [4.0, 5.0, 7.0, 8.0]]
    """
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        got = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ShapeError(f"unfold(): expected a 3-D (unbatched) or 4-D (batched) input, got {got}")
    x = input if input.ndim == 4 else input.unsqueeze(0)
    positions, padded, blocks, p = _block_positions("unfold", tuple(x.shape[2:]), kernel_size, dilation, padding,
                                                    stride)
    N, C = x.shape[:2]
    if any(p):
        x = _call("pad", x, [p[1], p[1], p[0], p[0]])
    taps = len(positions) // (blocks[0] * blocks[1])
    cols = _call("index_select", x.reshape(N, C, padded[0] * padded[1]), 2, tensor(positions, device=x.device))
    out = cols.reshape(N, C * taps, blocks[0] * blocks[1])
    return out if input.ndim == 4 else out.squeeze(0)


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
         stride: Any = 1) -> Tensor:
    """Columns ``(N, C * kh * kw, L)`` (or unbatched ``(C * kh * kw, L)``) summed back into
    ``(N, C, *output_size)``, overlapping blocks adding up (col2im); the adjoint of :func:`unfold`.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.fold(nr.ones(1, 4, 4), (3, 3), 2)[0, 0].tolist()
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        got = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ShapeError(f"fold(): expected a 2-D (unbatched) or 3-D (batched) input, got {got}")
    cols = input if input.ndim == 3 else input.unsqueeze(0)
    size = _per_dim("fold", "output_size", output_size, 2, 1)
    positions, padded, blocks, p = _block_positions("fold", size, kernel_size, dilation, padding, stride)
    N, rows, L = cols.shape
    taps = len(positions) // (blocks[0] * blocks[1])
    if rows % taps or L != blocks[0] * blocks[1]:
        raise ShapeError(f"fold(): expected an input of shape (N, C * {taps}, {blocks[0] * blocks[1]}) for "
                         f"output_size {size}, kernel_size {kernel_size}, got {list(input.shape)}")
    C = rows // taps
    plane = zeros(N, C, padded[0] * padded[1], dtype=cols.dtype, device=cols.device)
    summed = _call("index_add", plane, 2, tensor(positions, device=cols.device), cols.reshape(N, C, taps * L))
    out = summed.reshape(N, C, *padded)[:, :, p[0]:p[0] + size[0], p[1]:p[1] + size[1]]
    return out if input.ndim == 3 else out.squeeze(0)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """``(N, C, *)`` with its channels regrouped: channel ``g * (C // groups) + i`` moves to
    ``i * groups + g`` (ShuffleNet's shuffle).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.channel_shuffle(nr.arange(4.0).reshape(1, 4, 1), 2).flatten().tolist()
    [0.0, 2.0, 1.0, 3.0]
    """
    if not isinstance(input, Tensor) or input.ndim < 3:
        got = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ShapeError(f"channel_shuffle(): expected an input of at least 3 dims (N, C, *), got {got}")
    C = input.shape[1]
    if not isinstance(groups, int) or groups <= 0 or C % groups:
        raise ArgumentError(f"channel_shuffle(): groups must be a positive divisor of the {C} channels, "
                            f"got {groups!r}")
    N, rest = input.shape[0], tuple(input.shape[2:])
    return input.reshape(N, groups, C // groups, *rest).transpose(1, 2).reshape(N, C, *rest)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """Each element divided by ``(k + alpha * mean of x**2 over size neighbouring channels) ** beta``
    (the window zero-padded at the channel ends, as PyTorch's).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.local_response_norm(nr.ones(1, 3, 1), 2, alpha=1.0, beta=1.0, k=0.0).flatten().tolist()
    [2.0, 1.0, 1.0]
    """
    if not isinstance(input, Tensor) or input.ndim < 3:
        got = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ShapeError(f"local_response_norm(): expected an input of at least 3 dims, got {got}")
    if input.numel() == 0:
        return input
    N, C = input.shape[:2]
    squares = (input * input).reshape(N, 1, C, -1)
    padded = _call("pad", squares, [0, 0, size // 2, (size - 1) // 2])
    mean = _call("avg_pool2d", padded, (size, 1), 1).reshape(tuple(input.shape))
    return input / (mean * alpha + k) ** beta


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10, dim: int = -1) -> Tensor:
    """A sample of the Gumbel-softmax distribution: ``softmax((logits + g) / tau)`` with Gumbel(0, 1)
    noise ``g`` from the Philox generator; ``hard``: the one-hot of its argmax, whose gradient is the
    soft sample's (straight-through). ``eps`` is unused, as in PyTorch.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> y = F.gumbel_softmax(nr.zeros(2, 3), hard=True)
    >>> y.sum(-1).tolist(), sorted(set(y.flatten().tolist()))
    ([1.0, 1.0], [0.0, 1.0])
    """
    from neurarust.creation import empty_like

    gumbels = -empty_like(logits).exponential_().log()
    soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return soft
    index = soft.argmax(dim, keepdim=True)
    one_hot = zeros(*soft.shape, dtype=soft.dtype, device=soft.device).scatter(dim, index, 1.0)
    return one_hot - soft.detach() + soft


# -- channel dropout and embedding bags (nn/dropout.py, nn/sparse.py) -----------------------------
def _feature_dropout(input: Tensor, p: float, training: bool) -> Tensor:
    """Zero whole channels: one Bernoulli draw per ``input[n, c]``, broadcast over the rest."""
    if training and 0.0 < p <= 1.0 and input.ndim < 2:
        raise ShapeError(f"Feature dropout requires at least 2 dimensions in the input, got {input.ndim}")
    trivial = _trivial_dropout(input, p, training)
    if trivial is not None:
        return trivial
    from neurarust.creation import full
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    keep = _call("bernoulli", full(shape, 1.0 - p, dtype=input.dtype, device=input.device))
    return input * keep * (1.0 / (1.0 - p))


def _channel_dropout(name: str, spatial: int, input: Tensor, p: float, training: bool) -> Tensor:
    if input.ndim not in (spatial + 1, spatial + 2):
        raise ShapeError(f"{name}: Expected {spatial + 1}D or {spatial + 2}D input, but received a "
                         f"{input.ndim}D input")
    if input.ndim == spatial + 2:
        return _feature_dropout(input, p, training)
    return _feature_dropout(input.unsqueeze(0), p, training).squeeze(0)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of a ``(N, C, L)`` or ``(C, L)`` input with probability ``p`` and scale
    the rest by ``1 / (1 - p)`` (Philox Bernoulli mask); identity when not ``training``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.dropout1d(nr.ones(2, 3), 0.5, training=False).sum().item()
    6.0
    """
    return _channel_dropout("dropout1d", 1, input, p, training)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels ``input[n, c]`` with probability ``p``; like PyTorch, a 3-d input is read
    as ``(N, C, L)``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> y = F.dropout2d(nr.ones(1, 4, 2, 2), 0.5)
    >>> sorted(set(y.reshape(4, 4).sum(1).tolist())) in ([0.0], [8.0], [0.0, 8.0])
    True
    """
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated", stacklevel=2)
    return _feature_dropout(input, p, training)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of a ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input with probability ``p``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.dropout3d(nr.ones(2, 1, 1, 1), 1.0).sum().item()
    0.0
    """
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is deprecated", stacklevel=2)
        return _feature_dropout(input, p, training)
    return _channel_dropout("dropout3d", 3, input, p, training)


# SELU's fixed point: a dropped unit is set to -scale * alpha, SELU's negative saturation.
_SELU_SATURATION = 1.0507009873554805 * 1.6732632423543772


def _alpha_dropout(name: str, input: Tensor, p: float, training: bool, feature: bool) -> Tensor:
    """``input * keep * a + b`` with ``keep`` a Bernoulli(1 - p) mask (per element, or per channel for
    ``feature``) and ``a``, ``b`` PyTorch's affine correction keeping SELU's mean and variance."""
    if feature and training and 0.0 < p <= 1.0 and input.ndim < 2:
        raise ShapeError(f"{name}: feature dropout requires at least 2 dimensions in the input, got {input.ndim}")
    trivial = _trivial_dropout(input, p, training)
    if trivial is not None:
        return trivial
    from neurarust.creation import full

    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2) if feature else tuple(input.shape)
    keep = _call("bernoulli", full(shape, 1.0 - p, dtype=input.dtype, device=input.device))
    alpha = _SELU_SATURATION
    a = 1.0 / math.sqrt((alpha * alpha * p + 1.0) * (1.0 - p))
    return input * (keep * a) + ((keep - 1.0) * (alpha * a) + alpha * a * p)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: dropped elements take SELU's saturation value and an affine map keeps
    the mean and variance (identity when not ``training``, PyTorch's default here).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.alpha_dropout(nr.ones(3), 0.5).tolist()
    [1.0, 1.0, 1.0]
    """
    return _alpha_dropout("alpha_dropout", input, p, training, feature=False)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """:func:`alpha_dropout` of whole channels ``input[n, c]``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.feature_alpha_dropout(nr.ones(1, 2, 2), 0.5).tolist()
    [[[1.0, 1.0], [1.0, 1.0]]]
    """
    return _alpha_dropout("feature_alpha_dropout", input, p, training, feature=True)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU: negative inputs times a slope drawn from U(lower, upper) per element
    while ``training``, times ``(lower + upper) / 2`` otherwise.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.rrelu(nr.tensor([-3.0, 2.0]), 0.25, 0.75).tolist()
    [-1.5, 2.0]
    """
    if inplace:
        return rrelu_(input, lower, upper, training)
    if lower > upper:
        raise ArgumentError(f"rrelu: lower bound ({lower}) must not exceed the upper bound ({upper})")
    if not training:
        return leaky_relu(input, (lower + upper) / 2)
    return _rrelu_with(input, _rrelu_slopes(input, lower, upper))


def _rrelu_slopes(input: Tensor, lower: float, upper: float) -> Tensor:
    from neurarust.creation import empty_like

    return empty_like(input).uniform_(lower, upper)


def _rrelu_with(input: Tensor, slopes: Tensor) -> Tensor:
    return _call("where", input > 0, input, input * slopes)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False) -> Tensor:
    """In-place :func:`rrelu`: ``input`` is overwritten and returned; the gradient is 1 where the result
    is positive and the slope used elsewhere, as PyTorch's (``lower`` must then be non-negative).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> x = nr.tensor([-3.0, 2.0])
    >>> F.rrelu_(x, 0.25, 0.75) is x, x.tolist()
    (True, [-1.5, 2.0])
    """
    if lower > upper:
        raise ArgumentError(f"rrelu_: lower bound ({lower}) must not exceed the upper bound ({upper})")
    if not training:
        return leaky_relu_(input, (lower + upper) / 2)
    if not isinstance(input, Tensor):
        raise ArgumentError(f"rrelu_(): expected a Tensor, got {type(input).__name__}")
    slopes = _rrelu_slopes(input, lower, upper)
    derivative = (lambda r: _call("where", r > 0, ones_like(r), slopes)) if lower >= 0 else \
        _negative_slope_in_place("rrelu", lower)
    return _activation_in_place("rrelu_", input, lambda t: _rrelu_with(t, slopes), derivative)


def _bags(input: Tensor, offsets: Tensor | None, include_last_offset: bool, padding_idx: int | None) -> tuple:
    """Host plan of a bag reduction: (kept positions, their bag ids, bag sizes, number of bags)."""
    if input.ndim == 2:
        if offsets is not None:
            raise ArgumentError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch "
                                "of fixed length sequences")
        bags, per = input.shape
        starts = [b * per for b in range(bags)] + [bags * per]
    elif input.ndim == 1:
        if offsets is None or offsets.ndim != 1:
            raise ArgumentError("offsets has to be a 1D Tensor but got None" if offsets is None else
                                f"offsets has to be a 1D Tensor, but got a {offsets.ndim}D one")
        starts = [int(v) for v in offsets.tolist()]
        if not include_last_offset:
            starts.append(input.shape[0])
        elif not starts:
            raise ArgumentError("include_last_offset: number of offsets should be at least 1")
        if starts and starts[0] != 0:
            raise ArgumentError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
                                f"from position 0. However, got {starts[0]}")
        if any(b < a for a, b in zip(starts, starts[1:])) or (starts and starts[-1] > input.shape[0]):
            raise ArgumentError(f"offsets {starts} must be non-decreasing and within the input's "
                                f"{input.shape[0]} indices")
    else:
        raise ShapeError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}")
    values = input.reshape(-1).tolist()
    keep, bag_of, sizes = [], [], [0] * (len(starts) - 1)
    for b, (lo, hi) in enumerate(zip(starts, starts[1:])):
        for i in range(lo, hi):
            if padding_idx is None or values[i] != padding_idx:
                keep.append(i)
                bag_of.append(b)
                sizes[b] += 1
    return keep, bag_of, sizes, len(starts) - 1


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None, max_norm: float | None = None,
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean",
                  sparse: bool = False, per_sample_weights: Tensor | None = None,
                  include_last_offset: bool = False, padding_idx: int | None = None) -> Tensor:
    """Sums, means or maxima of bags of embedding rows without materialising the per-index rows of
    every bag: one ``index_select`` then one ``index_add`` (sum/mean) or ``scatter_reduce`` (max).
    Bags are the rows of a 2-d ``input`` or the ``offsets`` slices of a 1-d one; ``padding_idx``
    entries are left out (and not counted by ``mean``); empty bags give zeros.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> w = nr.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> F.embedding_bag(nr.tensor([0, 2, 1]), w, nr.tensor([0, 2]), mode="sum").tolist()
    [[6.0, 8.0], [3.0, 4.0]]
    """
    if mode not in ("sum", "mean", "max"):
        raise ArgumentError(f"mode has to be one of sum, mean or max, but got {mode!r}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise ArgumentError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                f"supported for mode='sum' (got mode='{mode}'). Please open a feature request")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ShapeError(f"embedding_bag: If per_sample_weights ({list(per_sample_weights.shape)}) is not "
                             f"None, then it must have the same shape as the input ({list(input.shape)})")
    if padding_idx is not None:
        if not -weight.shape[0] <= padding_idx < weight.shape[0]:
            raise ArgumentError(f"padding_idx {padding_idx} must be within num_embeddings ({weight.shape[0]})")
        padding_idx %= weight.shape[0]
    keep, bag_of, sizes, bags = _bags(input, offsets, include_last_offset, padding_idx)
    flat = input.reshape(-1)
    positions = tensor(keep, dtype=flat.dtype, device=input.device)
    indices = _call("index_select", flat, 0, positions)
    if max_norm is not None:
        _renorm_rows(weight, indices, max_norm, norm_type)
    rows = _call("index_select", weight, 0, indices)
    if per_sample_weights is not None:
        rows = rows * _call("index_select", per_sample_weights.reshape(-1), 0, positions).unsqueeze(1)
    owner = tensor(bag_of, dtype=flat.dtype, device=input.device)
    out = zeros(bags, weight.shape[1], dtype=weight.dtype, device=weight.device)
    if mode == "max":
        return _bag_maxima(out, owner, rows)
    out = out.index_add(0, owner, rows)
    if mode == "mean":
        counts = tensor([float(max(n, 1)) for n in sizes], dtype=weight.dtype, device=weight.device)
        out = out / counts.unsqueeze(1)
    return out


def _bag_maxima(out: Tensor, owner: Tensor, rows: Tensor) -> Tensor:
    """Each bag's per-column maximum of its ``rows``. Its gradient goes to the bag's first row holding
    it, as PyTorch's ``max_indices`` send it (``scatter_reduce``'s amax would split it among ties)."""
    index = owner.unsqueeze(1).expand(*rows.shape)
    if not rows.requires_grad or not rows.shape[0]:
        return out.scatter_reduce(0, index, rows, "amax", include_self=False)
    best = out.scatter_reduce(0, index, rows.detach(), "amax", include_self=False)
    n = rows.shape[0]
    at = _call("arange", n, device=rows.device).unsqueeze(1).expand(*rows.shape)
    values = rows.detach()
    hit = (values == _call("index_select", best, 0, owner)) | (values != values)   # a NaN is a bag's maximum
    first = out.to(at.dtype).fill_(n).scatter_reduce(0, index, _call("where", hit, at, n), "amin")
    empty = first == n                                           # a bag without rows: zeros
    picked = _call("gather", rows, 0, _call("where", empty, 0, first))
    return _call("where", empty, 0.0, picked)


# -- distances and composed losses (PyTorch's formulas from differentiable registry ops) ----------
class _ClampMinKeepGrad(Function):
    """``x.clamp(min=eps)`` whose gradient passes through as if unclamped: PyTorch clamps these norms
    and variances in place under ``no_grad``, so autograd never sees the clamp."""

    @staticmethod
    def forward(ctx, x: Tensor, eps: float):
        return x.clamp(min=eps)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad, None


@autocast_composite("cosine_similarity", cuda="fp32")  # as in PyTorch's CUDA autocast lists
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` of their broadcast shape: each is
    divided by its 2-norm (at least ``eps``) before the dot product, which keeps it in [-1, 1].

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.cosine_similarity(nr.tensor([[1.0, 0.0], [3.0, 4.0]]), nr.tensor([[0.0, 2.0]])).tolist()
    [0.0, 0.800000011920929]
    """
    from neurarust.shape import broadcast_shapes

    shape = broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = x1.expand(*shape), x2.expand(*shape)
    n1 = _ClampMinKeepGrad.apply(_call("norm", x1, 2, dim, True), eps)
    n2 = _ClampMinKeepGrad.apply(_call("norm", x2, 2, dim, True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """The ``p``-norm of ``x1 - x2 + eps`` along the last dim of the broadcast inputs.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.pairwise_distance(nr.tensor([[3.0, 4.0]]), nr.zeros(2), eps=0.0).tolist()
    [5.0]
    """
    return _call("norm", x1 - x2 + eps, p, max(x1.ndim, x2.ndim) - 1, keepdim)


@autocast_composite("pdist", cuda="fp32")  # as in PyTorch's CUDA autocast lists
def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """The ``p``-norm distances between the rows of an ``(N, M)`` input, for each pair ``i < j`` in
    row-major order: ``N * (N - 1) / 2`` values.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.pdist(nr.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])).tolist()
    [5.0, 1.0, 4.242640495300293]
    """
    from neurarust.creation import triu_indices

    if input.ndim != 2:
        raise ShapeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if not input.dtype.is_floating_point:
        raise DTypeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise ArgumentError("pdist only supports non-negative p values")
    i, j = triu_indices(input.shape[0], input.shape[0], 1, device=input.device)
    diff = _call("index_select", input, 0, i) - _call("index_select", input, 0, j)
    return _call("norm", diff, p, 1, False)


def _loss_reduction(size_average: Any, reduce: Any, reduction: str, message: str = "") -> str:
    """``reduction`` after PyTorch's deprecated ``size_average``/``reduce``, checked."""
    from neurarust.kernels.loss import legacy_reduction

    reduction = legacy_reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ArgumentError(f"{reduction} is not {message or 'a valid value for reduction'}")
    return reduction


def _reduced(loss: Tensor, reduction: str) -> Tensor:
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


@autocast_composite("poisson_nll_loss", cuda="fp32")  # as in PyTorch's CUDA autocast lists
def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average: Any = None, eps: float = 1e-8, reduce: Any = None,
                     reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target`` under a Poisson distribution of rate ``exp(input)``
    (``log_input``) or ``input`` (then ``input - target * log(input + eps)``); ``full`` adds the
    Stirling approximation of ``log(target!)`` where ``target > 1``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.poisson_nll_loss(nr.zeros(2), nr.tensor([1.0, 2.0]), reduction="none").tolist()
    [1.0, 1.0]
    """
    reduction = _loss_reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + (target * (2 * math.pi)).log() * 0.5
        loss = loss + _call("where", target <= 1, 0.0, stirling)
    return _reduced(loss, reduction)


def _gaussian_var(input: Tensor, var: Tensor | float) -> Tensor:
    """``var`` checked and shaped to broadcast against ``input``: the same shape (one variance per
    element), or one dim short or of size 1 in one dim (one variance shared along it)."""
    if isinstance(var, (int, float)):
        if var < 0:
            raise ArgumentError("var has negative entry/entries")
        return full_like(input, float(var))
    if bool((var < 0).any()):
        raise ArgumentError("var has negative entry/entries")
    if tuple(var.shape) == tuple(input.shape):
        return var
    if tuple(input.shape[:-1]) == tuple(var.shape):
        return var.unsqueeze(-1)
    if input.ndim == var.ndim and sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1:
        return var
    raise ShapeError("var is of incorrect size")


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of ``target`` under Gaussians of mean ``input`` and variance ``var``
    (clamped to at least ``eps``, the gradient passing as if unclamped):
    ``0.5 * (log(var) + (input - target)**2 / var)``, plus ``0.5 * log(2 * pi)`` when ``full``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.gaussian_nll_loss(nr.zeros(2), nr.tensor([1.0, 3.0]), nr.ones(2), reduction="none").tolist()
    [0.5, 4.5]
    """
    var = _gaussian_var(input, var)
    reduction = _loss_reduction(None, None, reduction, "valid")
    var = _ClampMinKeepGrad.apply(var, eps)
    loss = (var.log() + (input - target) ** 2 / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduced(loss, reduction)


@autocast_composite("hinge_embedding_loss", cuda="fp32")  # as in PyTorch's CUDA autocast lists
def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average: Any = None,
                         reduce: Any = None, reduction: str = "mean") -> Tensor:
    """``input`` where ``target`` is 1, ``max(0, margin - input)`` where it is -1 (for distances
    between pairs labelled similar or dissimilar).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.hinge_embedding_loss(nr.tensor([0.3, 0.3]), nr.tensor([1.0, -1.0]), reduction="none").tolist()
    [0.30000001192092896, 0.699999988079071]
    """
    reduction = _loss_reduction(size_average, reduce, reduction)
    # Labels other than +-1 take both terms, as PyTorch's.
    apart = _call("where", target != 1, (margin - input).clamp(min=0.0), 0.0)
    return _reduced(apart + _call("where", target != -1, input, 0.0), reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function: Any = None, margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean") -> Tensor:
    """``max(d(a, p) - d(a, n) + margin, 0)`` with any ``distance_function(x, y)`` (default
    :func:`pairwise_distance`); ``swap`` uses ``min(d(a, n), d(p, n))`` as the negative distance.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.triplet_margin_with_distance_loss(nr.zeros(1, 2), nr.zeros(1, 2), nr.ones(1, 2),
    ...                                     distance_function=lambda x, y: (x - y).abs().sum(-1)).item()
    0.0
    """
    reduction = _loss_reduction(None, None, reduction)
    if margin <= 0:
        raise ArgumentError(f"triplet_margin_with_distance_loss: margin must be greater than 0, got {margin}")
    if not anchor.ndim == positive.ndim == negative.ndim:
        raise ShapeError(f"triplet_margin_with_distance_loss: the anchor, positive, and negative tensors are "
                         f"expected to have the same number of dimensions, but got: anchor {anchor.ndim}D, "
                         f"positive {positive.ndim}D, and negative {negative.ndim}D inputs")
    distance = pairwise_distance if distance_function is None else distance_function
    to_positive, to_negative = distance(anchor, positive), distance(anchor, negative)
    if swap:
        to_negative = _call("minimum", to_negative, distance(positive, negative))
    return _reduced((margin + to_positive - to_negative).clamp(min=0.0), reduction)


@autocast_composite("soft_margin_loss", cuda="fp32")  # as in PyTorch's CUDA autocast lists
def soft_margin_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
                     reduction: str = "mean") -> Tensor:
    """Two-class logistic loss ``log(1 + exp(-target * input))`` for labels +-1.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> round(F.soft_margin_loss(nr.zeros(3), nr.ones(3)).item(), 4)
    0.6931
    """
    reduction = _loss_reduction(size_average, reduce, reduction)
    return _reduced(_call("log1p", (-input * target).exp()), reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of logits ``input`` against 0/1 ``target`` per class (times ``weight``),
    averaged over the classes (the last dim): one loss per sample.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> [round(v, 4) for v in F.multilabel_soft_margin_loss(nr.zeros(2, 3), nr.ones(2, 3), reduction="none").tolist()]
    [0.6931, 0.6931]
    """
    reduction = _loss_reduction(size_average, reduce, reduction, "valid")
    # log(sigmoid(x)) = -softplus(-x): softplus's gradient is sigmoid, exact at 0 too; a threshold of 50
    # (not 20) keeps float64's log1p(exp(x)) where it still differs from x.
    loss = softplus(-input, 1.0, 50.0) * target + softplus(input, 1.0, 50.0) * (1 - target)
    if weight is not None:
        loss = loss * weight
    return _reduced(loss.sum(-1) / input.shape[-1], reduction)


@autocast_composite("multilabel_margin_loss", cuda="fp32")  # as in PyTorch's CUDA autocast lists
def multilabel_margin_loss(input: Tensor, target: Tensor, size_average: Any = None, reduce: Any = None,
                           reduction: str = "mean") -> Tensor:
    """Multi-class multi-label hinge loss: for each sample, ``sum max(0, 1 - (x[y] - x[i])) / C`` over
    its target classes ``y`` (the leading entries of its ``target`` row, up to the first -1) and the
    classes ``i`` that are not targets. ``input`` ``(C)`` or ``(N, C)``; ``target`` the same shape,
    int64.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> round(F.multilabel_margin_loss(nr.tensor([[0.1, 0.2, 0.4, 0.8]]), nr.tensor([[3, 0, -1, 1]])).item(), 4)
    0.85
    """
    from neurarust import dtype as _dt

    reduction = _loss_reduction(size_average, reduce, reduction)
    if input.ndim not in (1, 2) or tuple(target.shape) != tuple(input.shape) or input.shape[-1] == 0:
        raise ShapeError(f"multilabel_margin_loss: expected a non-empty (C) or (N, C) input and a target of its "
                         f"shape, got input {list(input.shape)} and target {list(target.shape)}")
    if target.dtype is not _dt.int64:
        raise DTypeError(f"multilabel_margin_loss: expected an int64 target, got {target.dtype}")
    x, y = (input, target) if input.ndim == 2 else (input.unsqueeze(0), target.unsqueeze(0))
    C = x.shape[1]
    if y.numel() and (int(y.max()) >= C or int(y.min()) < -1):
        from neurarust.errors import IndexOutOfRangeError

        raise IndexOutOfRangeError(f"multilabel_margin_loss: target values must be class indices in [0, {C}) or -1")
    listed = _call("cumprod", (y >= 0).to(_dt.int64), 1) > 0            # the entries before the first -1
    classes = y.clamp(0, None)
    one_hot = (classes.unsqueeze(-1) == _call("arange", C, device=x.device)) & listed.unsqueeze(-1)  # (N, slot, C)
    is_target = one_hot.any(1)                                          # (N, C)
    gap = 1.0 - x.gather(1, classes).unsqueeze(-1) + x.unsqueeze(1)     # (N, slot, C): 1 - (x[y_j] - x[i])
    counted = listed.unsqueeze(-1) & ~is_target.unsqueeze(1)
    hinge = _call("where", counted & (gap > 0), gap, 0.0)               # strictly positive, as PyTorch's
    loss = hinge.sum((1, 2)) / C
    return _reduced(loss if input.ndim == 2 else loss.squeeze(0), reduction)


def _check_multi_margin(input: Tensor, target: Tensor, weight: Tensor | None) -> tuple[int, int]:
    """PyTorch's shape checks; (samples, classes)."""
    if not (input.ndim == 0 or (input.ndim in (1, 2) and input.shape[-1] != 0)):
        raise ShapeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                         f"{list(input.shape)}")
    n, c = (input.shape[0] if input.ndim == 2 else 1), (input.shape[-1] if input.ndim else 1)
    if target.ndim > 1 or target.numel() != n:
        raise ShapeError(f"multi_margin_loss: target tensor should be 1-D with size equal to the number of input "
                         f"samples (batch size). Expected target size [{n}], but got {list(target.shape)}. Input "
                         f"has shape {list(input.shape)}.")
    if target.dtype.is_floating_point:
        raise DTypeError(f"multi_margin_loss: expected target of dtype int64, got {target.dtype}")
    if weight is not None and weight.numel() != c:
        raise ShapeError(f"inconsistent weight size, expected {c} but got {list(weight.shape)}")
    return n, c


@autocast_composite("multi_margin_loss", cuda="fp32")  # as in PyTorch's CUDA autocast lists
def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0, weight: Tensor | None = None,
                      size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: per sample, ``max(0, margin - x[y] + x[i]) ** p`` (times ``weight[y]``)
    summed over the classes ``i != y`` and divided by the number of classes.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.multi_margin_loss(nr.tensor([[0.1, 0.2, 0.4, 0.8]]), nr.tensor([3])).item()
    0.32499998807907104
    """
    from neurarust.errors import IndexOutOfRangeError

    reduction = _loss_reduction(size_average, reduce, reduction)
    if p != 1 and p != 2:
        raise ArgumentError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ShapeError("weight must be one-dimensional")
    n, c = _check_multi_margin(input, target, weight)
    x, y = input.reshape(n, c), target.reshape(n, 1)
    if n and bool(((y < 0) | (y >= c)).any()):
        raise IndexOutOfRangeError("target out of range")
    z = relu(margin - _call("gather", x, 1, y) + x)  # zero gradient where the margin is just met
    z = z * z if p == 2 else z
    if weight is not None:
        z = z * _call("index_select", weight, 0, y.reshape(-1)).unsqueeze(1)
    others = _call("arange", c, device=input.device).unsqueeze(0) != y
    loss = _call("where", others, z, 0.0).sum(1) / c
    return _reduced(loss if target.ndim else loss.reshape(()), reduction)


# -- knowledge distillation -----------------------------------------------------------------------
def distillation_loss(student_logits: Tensor, teacher_logits: Tensor, target: Tensor | None, T: float = 2.0,
                      alpha: float = 0.5, reduction: str = "mean") -> Tensor:
    """Hinton et al.'s knowledge-distillation loss: the student matches the teacher's softened
    probabilities and the true labels. Per sample (classes along dim 1, or dim 0 unbatched)::

        alpha * T**2 * KL(softmax(teacher_logits / T) || softmax(student_logits / T))
            + (1 - alpha) * cross_entropy(student_logits, target)

    ``T**2`` keeps the soft term's gradients at the scale of the hard term's as ``T`` grows.
    ``reduction`` ("mean", "sum", "none") applies to the per-sample losses, so "mean" is the KL
    with ``reduction="batchmean"`` plus the mean cross-entropy. ``target`` may be None when
    ``alpha == 1`` (no labels). Composed of ``log_softmax``, ``kl_div`` and ``cross_entropy``, so
    it differentiates; gradients also reach ``teacher_logits`` unless they are computed under
    ``nr.no_grad()`` (or detached), as a fixed teacher's should be.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> student, teacher = nr.tensor([[2.0, 0.0, -1.0]]), nr.tensor([[2.0, 0.0, -1.0]])
    >>> round(F.distillation_loss(student, teacher, nr.tensor([0]), T=4.0, alpha=0.9).item(), 4)
    0.017
    >>> F.distillation_loss(student, teacher, None, alpha=1.0).item()   # the same distributions: 0
    0.0
    """
    if not T > 0:
        raise ArgumentError(f"distillation_loss: the temperature T must be positive, got {T}")
    if not 0.0 <= alpha <= 1.0:
        raise ArgumentError(f"distillation_loss: alpha must be in [0, 1], got {alpha}")
    if reduction not in ("mean", "sum", "none"):
        raise ArgumentError(f"{reduction} is not a valid value for reduction")
    if tuple(student_logits.shape) != tuple(teacher_logits.shape):
        raise ShapeError(f"distillation_loss: student logits of shape {list(student_logits.shape)} and teacher "
                         f"logits of shape {list(teacher_logits.shape)} differ")
    if target is None and alpha != 1.0:
        raise ArgumentError(f"distillation_loss: target is None but alpha={alpha} gives the labels a weight")
    dim = 1 if student_logits.ndim > 1 else 0
    soft = _call("kl_div", log_softmax(student_logits / T, dim), log_softmax(teacher_logits / T, dim),
                 reduction="none", log_target=True).sum(dim)
    loss = soft * (alpha * T * T)
    if alpha != 1.0:
        loss = loss + _call("cross_entropy", student_logits, target, reduction="none") * (1.0 - alpha)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


# -- in-place activations, the `_with_indices` pools, LP and fractional pools, deprecated upsample -----
# (PyTorch's remaining torch.nn.functional forms; tests/test_nn_gaps.py)

class _ActivationFromResult(Function):
    """An elementwise activation whose derivative is a function of its result, as PyTorch's in-place
    forms keep it (the input they overwrite is gone)."""

    @staticmethod
    def forward(ctx, input: Tensor, fn, derivative):
        out = fn(input)
        ctx.save_for_backward(out)
        ctx.derivative = derivative
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        (out,) = ctx.saved_tensors
        return grad * ctx.derivative(out), None, None


def _activation_in_place(name: str, input: Tensor, fn, derivative) -> Tensor:
    """``input`` overwritten by ``fn(input)`` (``copy_``: version counter, leaf and view rules), its
    gradient ``derivative(result)``."""
    if not isinstance(input, Tensor):
        raise ArgumentError(f"{name}(): expected a Tensor, got {type(input).__name__}")
    if not input.dtype.is_floating_point:
        raise DTypeError(f"{name}(): expected a floating point input, got {input.dtype}")
    return input.copy_(_ActivationFromResult.apply(input, fn, derivative))


def _negative_slope_in_place(what: str, slope: float):
    from neurarust.errors import AutogradError

    def refuse(result: Tensor) -> Tensor:
        raise AutogradError(f"In-place {what} backward calculation is triggered with a negative slope which is not "
                            f"supported. This is caused by calling in-place forward function with a negative slope, "
                            f"please call out-of-place version instead (slope {slope}).")
    return refuse


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`elu`: ``input`` is overwritten and returned; the gradient is computed from the
    result, as PyTorch's (``alpha`` must then be non-negative).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> x = nr.tensor([-1.0, 2.0])
    >>> F.elu_(x) is x, [round(v, 4) for v in x.tolist()]
    (True, [-0.6321, 2.0])
    """
    derivative = (lambda r: _call("where", r > 0, ones_like(r), r + alpha)) if alpha >= 0 else \
        _negative_slope_in_place("elu", alpha)
    return _activation_in_place("elu_", input, lambda t: elu(t, alpha), derivative)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place :func:`hardtanh`: ``input`` clamped to ``[min_val, max_val]`` in place; the gradient
    passes where the result lies strictly inside.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> x = nr.tensor([-3.0, 0.5, 3.0])
    >>> F.hardtanh_(x).tolist(), x.tolist()
    ([-1.0, 0.5, 1.0], [-1.0, 0.5, 1.0])
    """
    return _activation_in_place("hardtanh_", input, lambda t: hardtanh(t, min_val, max_val),
                                lambda r: ((r > min_val) & (r < max_val)).to(r.dtype))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place :func:`leaky_relu`; the gradient is computed from the result, as PyTorch's (so
    ``negative_slope`` must then be non-negative).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> x = nr.tensor([-2.0, 1.0])
    >>> F.leaky_relu_(x, 0.5).tolist(), x.tolist()
    ([-1.0, 1.0], [-1.0, 1.0])
    """
    derivative = (lambda r: _call("where", r > 0, ones_like(r), full_like(r, negative_slope))) \
        if negative_slope >= 0 else _negative_slope_in_place("leakyReLu", negative_slope)
    return _activation_in_place("leaky_relu_", input, lambda t: leaky_relu(t, negative_slope), derivative)


def relu_(input: Tensor) -> Tensor:
    """In-place :func:`relu`.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> x = nr.tensor([-1.0, 2.0])
    >>> F.relu_(x) is x, x.tolist()
    (True, [0.0, 2.0])
    """
    return _activation_in_place("relu_", input, relu, lambda r: (r > 0).to(r.dtype))


def selu_(input: Tensor) -> Tensor:
    """In-place :func:`selu` (its gradient from the result, as PyTorch's).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> x = nr.tensor([0.0, 1.0])
    >>> [round(v, 4) for v in F.selu_(x).tolist()]
    [0.0, 1.0507]
    """
    scale, alpha = 1.0507009873554805, 1.6732632423543772
    return _activation_in_place("selu_", input, selu,
                                lambda r: _call("where", r > 0, full_like(r, scale), r + alpha * scale))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`celu` (its gradient from the result, as PyTorch's).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> x = nr.tensor([0.0, 2.0])
    >>> F.celu_(x, 0.5).tolist()
    [0.0, 2.0]
    """
    return _activation_in_place("celu_", input, lambda t: celu(t, alpha),
                                lambda r: _call("where", r > 0, ones_like(r), r / alpha + 1.0))


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place :func:`threshold`: ``value`` where ``input <= threshold``; the gradient passes where the
    input was above ``threshold`` (the mask is taken before the input is overwritten).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> x = nr.tensor([-1.0, 0.5, 2.0])
    >>> F.threshold_(x, 1.0, 5.0).tolist()
    [5.0, 5.0, 2.0]
    """
    above = (input > threshold).detach() if isinstance(input, Tensor) else None
    return _activation_in_place("threshold_", input, lambda t: globals()["threshold"](t, threshold, value),
                                lambda r: above.to(r.dtype))


def max_pool1d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                            dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """:func:`max_pool1d` with ``return_indices=True``: ``(values, indices)`` whatever
    ``return_indices`` says, as PyTorch's.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.max_pool1d_with_indices(nr.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)[1].tolist()
    [[[1, 2]]]
    """
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                            dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """:func:`max_pool2d` with ``return_indices=True`` (flat ``h * W + w`` indices).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.max_pool2d_with_indices(nr.arange(4.0).reshape(1, 1, 2, 2), 2)[1].tolist()
    [[[[3]]]]
    """
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                            dilation: Any = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """:func:`max_pool3d` with ``return_indices=True`` (flat positions in each ``D * H * W`` volume).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.max_pool3d_with_indices(nr.arange(8.0).reshape(1, 1, 2, 2, 2), 2)[1].flatten().tolist()
    [7]
    """
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """:func:`adaptive_max_pool1d` with ``return_indices=True``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.adaptive_max_pool1d_with_indices(nr.tensor([[1.0, 3.0, 2.0, 0.0]]), 2)[1].tolist()
    [[1, 2]]
    """
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """:func:`adaptive_max_pool2d` with ``return_indices=True``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.adaptive_max_pool2d_with_indices(nr.arange(4.0).reshape(1, 1, 2, 2), 1)[1].tolist()
    [[[[3]]]]
    """
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size: Any,
                                     return_indices: bool = False) -> tuple[Tensor, Tensor]:
    """:func:`adaptive_max_pool3d` with ``return_indices=True``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.adaptive_max_pool3d_with_indices(nr.arange(8.0).reshape(1, 1, 2, 2, 2), 1)[1].flatten().tolist()
    [7]
    """
    return adaptive_max_pool3d(input, output_size, True)


def _lp_pool(name: str, s: int, input: Tensor, norm_type: float, kernel_size: Any, stride: Any,
             ceil_mode: bool) -> Tensor:
    """PyTorch's composition: ``(sum over the window of x**p) ** (1/p)`` as an average pool times the
    window size; ``p = inf`` is the max of ``|x|`` (``-inf``: the min); a window whose sum is 0 gets a
    zero gradient (the ``sign * relu`` guard)."""
    max_pool = (max_pool1d, max_pool2d, max_pool3d)[s - 1]
    avg_pool = (avg_pool1d, avg_pool2d, avg_pool3d)[s - 1]
    if norm_type == math.inf:
        return max_pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -max_pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    window = math.prod(_per_dim(name, "kernel_size", kernel_size, s, low=1))
    out = avg_pool(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (_call("sign", out) * relu(out.abs())).mul(window).pow(1.0 / norm_type)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over windows of ``(N, C, L)``: ``(sum x**p) ** (1/p)`` per window.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.lp_pool1d(nr.tensor([[[3.0, 4.0, 1.0, 1.0]]]), 2, 2).tolist()
    [[[5.0, 1.4142135381698608]]]
    """
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over windows of ``(N, C, H, W)``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.lp_pool2d(nr.ones(1, 1, 2, 2), 1, 2).tolist()
    [[[[4.0]]]]
    """
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over boxes of ``(N, C, D, H, W)``.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.lp_pool3d(nr.ones(1, 1, 2, 2, 2), 2, 2).flatten().tolist()
    [2.8284270763397217]
    """
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 output_size: Any = None) -> Tensor:
    """The partial inverse of ``max_pool3d``: each value at its ``indices`` position (flat within its
    ``D * H * W`` volume), zeros elsewhere.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> v, i = F.max_pool3d(nr.arange(8.0).reshape(1, 1, 2, 2, 2), 2, return_indices=True)
    >>> F.max_unpool3d(v, i, 2).flatten().tolist()
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 7.0]
    """
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)


# Fractional max pooling (Graham, 2014), as PyTorch's kernels: per (sample, channel) plane one random
# u in [0, 1) per spatial dim places the windows' starts at int((i + u) * alpha) - int(u * alpha),
# alpha = (in - k) / (out - 1), computed in the input's dtype, the last window at in - k.
_FRACTIONAL_DIMS = {2: ("height", "width"), 3: ("time", "height", "width")}
_FRACTIONAL_SAMPLE = {2: (1, 0), 3: (0, 1, 2)}   # the sample column of each spatial dim (PyTorch's)


def _fractional_starts(u: Tensor, size: int, out: int, pool: int) -> Tensor:
    """The ``out`` window starts of each plane, ``(N, C, out)`` int64, from its sample ``u`` ``(N, C)``."""
    from neurarust.dtype import int64

    last = size - pool
    N, C = u.shape
    if out <= 1:
        return zeros(N, C, out, dtype=int64, device=u.device) + last
    alpha = tensor((size - pool) / (out - 1), dtype=u.dtype, device=u.device)   # correctly rounded
    i = _call("arange", out, dtype=u.dtype, device=u.device)
    u = u.unsqueeze(-1)
    starts = ((i + u) * alpha).to(int64) - (u * alpha).to(int64)
    return _call("where", _call("arange", out, device=u.device) == out - 1, last, starts)


def _fractional_output_size(name: str, s: int, input: Tensor, output_size: Any, output_ratio: Any) -> tuple:
    if output_size is None and output_ratio is None:
        raise ArgumentError(f"{name} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        ratio = (output_ratio,) * s if isinstance(output_ratio, (int, float)) else tuple(output_ratio)
        if len(ratio) == 1:
            ratio = ratio * s
        if len(ratio) != s:
            raise ArgumentError(f"{name} requires output_ratio to either be a single number or a tuple of {s}, "
                                f"got {output_ratio!r}")
        output_size = [int(n * r) for n, r in zip(input.shape[-s:], ratio)]
    return _per_dim(name, "output_size", output_size, s, low=0)


def _fractional_max_pool(name: str, s: int, input: Tensor, kernel_size: Any, output_size: Any,
                         output_ratio: Any, samples: Tensor | None) -> tuple[Tensor, Tensor]:
    from neurarust.creation import empty
    from neurarust.dtype import int64

    if not isinstance(input, Tensor) or input.ndim not in (s + 1, s + 2):
        got = list(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise ShapeError(f"{name}(): expected a {s + 1}-D (unbatched) or {s + 2}-D (batched) input, got {got}")
    if not input.dtype.is_floating_point:
        raise DTypeError(f"{name}(): expected a floating point input, got {input.dtype}")
    x = input.unsqueeze(0) if input.ndim == s + 1 else input
    if any(n == 0 for n in x.shape[1:]):
        raise ShapeError(f"{name}(): Expected input to have non-zero size for non-batch dimensions, but got "
                         f"{list(input.shape)}")
    kernel = _per_dim(name, "kernel_size", kernel_size, s, low=1)
    out = _fractional_output_size(name, s, input, output_size, output_ratio)
    N, C, ins = x.shape[0], x.shape[1], tuple(x.shape[2:])
    for what, o, k, n in zip(_FRACTIONAL_DIMS[s], out, kernel, ins):
        if o + k - 1 > n - (s == 3):   # PyTorch's 3-D kernel leaves the last start unused (a strict check)
            raise ArgumentError(f"{name}(): pool {what} {k} too large relative to input {what} {n} "
                                f"(output {what} {o})")
    if samples is None:
        samples = _call("rand", N, C, s, dtype=x.dtype, device=x.device)
    elif not isinstance(samples, Tensor) or samples.ndim != 3:
        got = list(samples.shape) if isinstance(samples, Tensor) else type(samples).__name__
        raise ShapeError(f"{name}(): expected _random_samples to have 3 dimensions, got {got}")
    elif samples.dtype != x.dtype:
        raise DTypeError(f"{name}(): expected _random_samples to have the same dtype as input ({x.dtype}), "
                         f"got {samples.dtype}")
    elif samples.shape[2] != s or samples.shape[1] != C or samples.shape[0] < N:
        raise ShapeError(f"{name}(): expected _random_samples of shape (>= {N}, {C}, {s}) for an input of shape "
                         f"{list(input.shape)}, got {list(samples.shape)}")
    P, K = math.prod(out), math.prod(kernel)
    if P == 0 or N == 0:
        shape = (N, C, *out)
        values, index = empty(*shape, dtype=x.dtype, device=x.device), empty(*shape, dtype=int64, device=x.device)
    else:
        # Every window's flat positions, (N, C, *out, *kernel): start + offset per dim, times its stride.
        flat = 0
        for d in range(s):
            starts = _fractional_starts(samples[:N, :, _FRACTIONAL_SAMPLE[s][d]], ins[d], out[d], kernel[d])
            rows = starts.unsqueeze(-1) + _call("arange", kernel[d], device=x.device)
            view = [N, C] + [1] * (2 * s)
            view[2 + d], view[2 + s + d] = out[d], kernel[d]
            flat = flat + rows.reshape(view) * math.prod(ins[d + 1:])
        flat = flat.reshape(N, C, P, K)
        planes = x.reshape(N, C, -1)
        with_windows = _call("gather", planes.detach(), 2, flat.reshape(N, C, P * K)).reshape(N, C, P, K)
        # the first maximum in the window's row-major order, as PyTorch's strict-greater scan
        index = _call("gather", flat, 3, with_windows.argmax(-1, keepdim=True)).squeeze(-1)
        values = _call("gather", planes, 2, index).reshape(N, C, *out)
        index = index.reshape(N, C, *out)
    if input.ndim == s + 1:
        values, index = values.squeeze(0), index.squeeze(0)
    return values, index


def fractional_max_pool2d_with_indices(input: Tensor, kernel_size: Any, output_size: Any = None,
                                       output_ratio: Any = None, return_indices: bool = False,
                                       _random_samples: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """:func:`fractional_max_pool2d` returning ``(values, indices)`` (flat ``h * W + w``).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> u = nr.full((1, 1, 2), 0.5)
    >>> F.fractional_max_pool2d_with_indices(nr.arange(16.0).reshape(1, 1, 4, 4), 2, output_size=2,
    ...                                      _random_samples=u)[1].tolist()
    [[[[5, 7], [13, 15]]]]
    """
    return _fractional_max_pool("fractional_max_pool2d", 2, input, kernel_size, output_size, output_ratio,
                                _random_samples)


def fractional_max_pool2d(input: Tensor, kernel_size: Any, output_size: Any = None, output_ratio: Any = None,
                          return_indices: bool = False, _random_samples: Tensor | None = None) -> Any:
    """Fractional max pooling over ``(N, C, H, W)`` (or ``(C, H, W)``): ``kernel_size`` windows at
    pseudo-random steps giving ``output_size`` (or ``output_ratio`` of the input's size). The steps come
    from one uniform sample per plane and dim, drawn from the Philox generator unless
    ``_random_samples`` ``(N, C, 2)`` gives them (then the result is PyTorch's exactly).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.fractional_max_pool2d(nr.randn(2, 3, 9, 9), 3, output_ratio=0.5).shape
    neurarust.Size([2, 3, 4, 4])
    """
    out = fractional_max_pool2d_with_indices(input, kernel_size, output_size, output_ratio, return_indices,
                                             _random_samples)
    return out if return_indices else out[0]


def fractional_max_pool3d_with_indices(input: Tensor, kernel_size: Any, output_size: Any = None,
                                       output_ratio: Any = None, return_indices: bool = False,
                                       _random_samples: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """:func:`fractional_max_pool3d` returning ``(values, indices)`` (flat ``(t * H + h) * W + w``).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> u = nr.full((1, 1, 3), 0.5)
    >>> F.fractional_max_pool3d_with_indices(nr.arange(27.0).reshape(1, 1, 3, 3, 3), 2, output_size=1,
    ...                                      _random_samples=u)[1].flatten().tolist()
    [26]
    """
    return _fractional_max_pool("fractional_max_pool3d", 3, input, kernel_size, output_size, output_ratio,
                                _random_samples)


def fractional_max_pool3d(input: Tensor, kernel_size: Any, output_size: Any = None, output_ratio: Any = None,
                          return_indices: bool = False, _random_samples: Tensor | None = None) -> Any:
    """Fractional max pooling over ``(N, C, T, H, W)`` (or ``(C, T, H, W)``); ``_random_samples`` is
    ``(N, C, 3)`` (time, height, width).

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> F.fractional_max_pool3d(nr.randn(1, 2, 6, 6, 6), 2, output_size=(3, 4, 4)).shape
    neurarust.Size([1, 2, 3, 4, 4])
    """
    out = fractional_max_pool3d_with_indices(input, kernel_size, output_size, output_ratio, return_indices,
                                             _random_samples)
    return out if return_indices else out[0]


def upsample(input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of :func:`interpolate` (warns, as PyTorch's).

    >>> import warnings, neurarust as nr, neurarust.nn.functional as F
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     F.upsample(nr.tensor([[[1.0, 2.0]]]), scale_factor=2).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    """
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Deprecated: :func:`interpolate` with ``mode="nearest"``.

    >>> import warnings, neurarust as nr, neurarust.nn.functional as F
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     F.upsample_nearest(nr.tensor([[[1.0, 2.0]]]), 4).tolist()
    [[[1.0, 1.0, 2.0, 2.0]]]
    """
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size: Any = None, scale_factor: Any = None) -> Tensor:
    """Deprecated: :func:`interpolate` with ``mode="bilinear", align_corners=True`` (4-D input).

    >>> import warnings, neurarust as nr, neurarust.nn.functional as F
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     F.upsample_bilinear(nr.tensor([[[[0.0, 1.0]]]]), (1, 3)).tolist()
    [[[[0.0, 0.5, 1.0]]]]
    """
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# -- multi_head_attention_forward: nn.MultiheadAttention's computation as a function ---------------

def _mha_shape_check(query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None,
                     attn_mask: Tensor | None, num_heads: int, name: str = "multi_head_attention_forward()") -> bool:
    """PyTorch's ranks: batched 3-D or unbatched 2-D query, key and value, masks to match; True when
    batched."""
    if query.ndim not in (2, 3):
        raise ShapeError(f"{name}: query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D "
                         f"query tensor")
    kind = "batched (3-D)" if query.ndim == 3 else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise ShapeError(f"{name}: for {kind} query, expected key and value to be {query.ndim}-D but found "
                         f"{key.ndim}-D and {value.ndim}-D tensors respectively")
    if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
        raise ShapeError(f"{name}: for {kind} query, expected key_padding_mask to be None or {query.ndim - 1}-D "
                         f"but found {key_padding_mask.ndim}-D tensor instead")
    if attn_mask is not None and attn_mask.ndim not in (2, 3):
        raise ShapeError(f"{name}: for {kind} query, expected attn_mask to be None, 2-D or 3-D but found "
                         f"{attn_mask.ndim}-D tensor instead")
    if query.ndim == 2 and attn_mask is not None and attn_mask.ndim == 3:
        expected = (num_heads, query.shape[0], key.shape[0])
        if tuple(attn_mask.shape) != expected:
            raise ShapeError(f"{name}: expected attn_mask shape to be {expected} but got {tuple(attn_mask.shape)}")
    for what, mask in (("key_padding_mask", key_padding_mask), ("attn_mask", attn_mask)):
        if mask is not None and mask.dtype.name != "bool" and not mask.dtype.is_floating_point:
            raise DTypeError(f"{name}: only bool and floating types of {what} are supported, got {mask.dtype}")
    return query.ndim == 3


def _mha_float_mask(mask: Tensor | None, dtype) -> Tensor | None:
    """A bool mask (True = masked out) as an additive one: -inf where True, 0 elsewhere."""
    if mask is None or mask.dtype.name != "bool":
        return mask
    return _call("where", mask, float("-inf"), zeros((), dtype=dtype, device=mask.device))


def _mha_in_projection(query: Tensor, key: Tensor, value: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor,
                       b: Tensor | None, packed: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """q, k and v. With the packed ``(3E, E)`` weight, self-attention (one tensor for all three) is one
    ``(.., E) @ (E, 3E)`` product and encoder-decoder attention (key is value) two, as PyTorch's."""
    E = w_q.shape[0]
    biases = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
    if packed is not None and key is value:
        if query is key:
            return linear(query, packed, b).chunk(3, dim=-1)
        k, v = linear(key, packed[E:], None if b is None else b[E:]).chunk(2, dim=-1)
        return linear(query, w_q, biases[0]), k, v
    return tuple(linear(x, w, bias) for x, w, bias in zip((query, key, value), (w_q, w_k, w_v), biases))


def multi_head_attention_forward(query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int,
                                 num_heads: int, in_proj_weight: Tensor | None, in_proj_bias: Tensor | None,
                                 bias_k: Tensor | None, bias_v: Tensor | None, add_zero_attn: bool,
                                 dropout_p: float, out_proj_weight: Tensor, out_proj_bias: Tensor | None,
                                 training: bool = True, key_padding_mask: Tensor | None = None,
                                 need_weights: bool = True, attn_mask: Tensor | None = None,
                                 use_separate_proj_weight: bool = False, q_proj_weight: Tensor | None = None,
                                 k_proj_weight: Tensor | None = None, v_proj_weight: Tensor | None = None,
                                 static_k: Tensor | None = None, static_v: Tensor | None = None,
                                 average_attn_weights: bool = True,
                                 is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """``nn.MultiheadAttention``'s forward as a function, with PyTorch's signature: inputs
    ``(L, N, E)`` / ``(S, N, E)`` (or unbatched ``(L, E)``); returns ``(attn_output, attn_weights)``,
    the weights ``(N, L, S)`` averaged over heads (``(N, H, L, S)`` otherwise) or None when
    ``need_weights`` is False (then the flash-attention kernel runs). ``static_k``/``static_v``
    ``(N * num_heads, S, head_dim)`` replace the projected keys/values.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> x = nr.ones(3, 1, 4)
    >>> out, w = F.multi_head_attention_forward(x, x, x, 4, 2, nr.ones(12, 4), None, None, None, False, 0.0,
    ...                                         nr.eye(4), None)
    >>> out.shape, w.shape, [round(p, 4) for p in w[0, 0].tolist()]
    (neurarust.Size([3, 1, 4]), neurarust.Size([1, 3, 3]), [0.3333, 0.3333, 0.3333])
    """
    name = "multi_head_attention_forward()"
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:   # one tensor for all three stays one (the packed self-attention projection)
        same_key, same_value = key is query, value is key
        query = query.unsqueeze(1)
        key = query if same_key else key.unsqueeze(1)
        value = key if same_value else value.unsqueeze(1)
        key_padding_mask = None if key_padding_mask is None else key_padding_mask.unsqueeze(0)
    L, N, E = query.shape
    if is_causal and attn_mask is None:
        raise ArgumentError(f"{name}: need attn_mask if specifying the is_causal hint (you may use "
                            f"Transformer.generate_square_subsequent_mask to create it)")
    if E != embed_dim_to_check:
        raise ShapeError(f"{name}: was expecting embedding dimension of {embed_dim_to_check}, but got {E}")
    H = num_heads
    hd = E // H
    if hd * H != E:
        raise ArgumentError(f"{name}: embed_dim {E} not divisible by num_heads {H}")
    same = tuple(key.shape[:2]) == tuple(value.shape[:2]) if use_separate_proj_weight else \
        tuple(key.shape) == tuple(value.shape)
    if not same or key.shape[1] != N:
        raise ShapeError(f"{name}: key {tuple(key.shape)} and value {tuple(value.shape)} do not match each other or "
                         f"the query {tuple(query.shape)}")
    if use_separate_proj_weight:
        for what, w in (("q_proj_weight", q_proj_weight), ("k_proj_weight", k_proj_weight),
                        ("v_proj_weight", v_proj_weight)):
            if w is None:
                raise ArgumentError(f"{name}: use_separate_proj_weight is True but {what} is None")
        q, k, v = _mha_in_projection(query, key, value, q_proj_weight, k_proj_weight, v_proj_weight, in_proj_bias,
                                     None)
    else:
        if in_proj_weight is None:
            raise ArgumentError(f"{name}: use_separate_proj_weight is False but in_proj_weight is None")
        w = in_proj_weight
        q, k, v = _mha_in_projection(query, key, value, w[:E], w[E:2 * E], w[2 * E:], in_proj_bias, w)
    S = key.shape[0]
    causal = is_causal and key_padding_mask is None and not need_weights
    attn_mask = None if causal else _mha_float_mask(attn_mask, q.dtype)
    key_padding_mask = _mha_float_mask(key_padding_mask, q.dtype)
    if attn_mask is not None:
        want = (L, S) if attn_mask.ndim == 2 else (N * H, L, S)
        if tuple(attn_mask.shape) != want:
            raise ShapeError(f"{name}: the shape of the {attn_mask.ndim}D attn_mask is {tuple(attn_mask.shape)}, "
                             f"but should be {want}")
        attn_mask = attn_mask.unsqueeze(0) if attn_mask.ndim == 2 else attn_mask
    if (bias_k is None) != (bias_v is None):
        raise ArgumentError(f"{name}: bias_k and bias_v must be given together")
    if bias_k is not None:
        if static_k is not None or static_v is not None:
            raise ArgumentError(f"{name}: bias cannot be added to a static key or value")
        k = _call("cat", [k, bias_k.expand(1, N, E)])
        v = _call("cat", [v, bias_v.expand(1, N, E)])
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    # (length, N, E) -> (N, H, length, head_dim): views of the projections (attention reads any
    # strides), where a (length, N * H, head_dim) layout would copy each of q, k and v
    heads = lambda t: t.unflatten(2, (H, hd)).permute(1, 2, 0, 3)  # noqa: E731
    q = heads(q)
    statics = []
    for what, given, projected in (("static_k", static_k, k), ("static_v", static_v, v)):
        if given is None:
            statics.append(heads(projected))
            continue
        if given.ndim != 3 or given.shape[0] != N * H or given.shape[2] != hd:
            raise ShapeError(f"{name}: expecting {what} of shape ({N * H}, S, {hd}), got {tuple(given.shape)}")
        statics.append(given.reshape(N, H, given.shape[1], hd))
    k, v = statics
    if add_zero_attn:
        k = _call("cat", [k, zeros(N, H, 1, hd, dtype=k.dtype, device=k.device)], 2)
        v = _call("cat", [v, zeros(N, H, 1, hd, dtype=v.dtype, device=v.device)], 2)
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    S = k.shape[2]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (N, S):
            raise ShapeError(f"{name}: expected key_padding_mask of shape {(N, S)}, got "
                             f"{tuple(key_padding_mask.shape)}")
        padding = key_padding_mask.reshape(N, 1, 1, S).expand(N, H, 1, S).reshape(N * H, 1, S)
        attn_mask = padding if attn_mask is None else attn_mask + padding
    p = dropout_p if training else 0.0
    if attn_mask is not None:
        attn_mask = attn_mask.reshape(-1, attn_mask.shape[-2], S)
        attn_mask = attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1 else attn_mask.reshape(N, H, -1, S)
    if need_weights:
        out, weights = _plain_attention(q, k, v, attn_mask, p, False, None)
        weights = weights.mean(1) if average_attn_weights else weights
    else:
        out, weights = scaled_dot_product_attention(q, k, v, attn_mask, p, causal), None
    out = linear(out.permute(2, 0, 1, 3).reshape(L * N, E), out_proj_weight, out_proj_bias)
    out = out.reshape(L, N, out.shape[-1])
    if not batched:
        return out.squeeze(1), None if weights is None else weights.squeeze(0)
    return out, weights


# -- linear_cross_entropy: linear + cross_entropy over chunks of rows (nn/linear_cross_entropy.py) ----

def linear_cross_entropy(input: Tensor, linear_weight: Tensor, target: Tensor, *, linear_bias: Tensor | None = None,
                         weight: Tensor | None = None, reduction: str = "mean", ignore_index: int | None = None,
                         label_smoothing: float = 0.0, options: Any = None) -> Tensor:
    """``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)`` without the whole
    ``N x C`` logits: PyTorch 2.13's signature. ``input`` ``(N, in_features)`` or ``(in_features,)``;
    class-index targets (int64, ``ignore_index`` None meaning -100) run over chunks of rows (the
    fused cross-entropy kernels per chunk; backward rebuilds each chunk's logits), sized by
    ``options`` (a :class:`~neurarust.nn.LinearCrossEntropyOptions`; None: its ``"auto"`` method,
    where PyTorch's ``options=None`` runs the plain composition: values and gradients are the same).
    Class probabilities (target ``(N, C, *out_features)``) and a K-dimensional ``linear_weight``
    ``(C, d1, ..., dK, in_features)`` take that composition, as PyTorch's.

    >>> import neurarust as nr, neurarust.nn.functional as F
    >>> x, w = nr.tensor([[1.0, 0.0], [0.0, 1.0]]), nr.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    >>> round(F.linear_cross_entropy(x, w, nr.tensor([0, 1])).item(), 4)
    0.2395
    >>> [round(v, 4) for v in F.linear_cross_entropy(x, w, nr.tensor([0, -100]), reduction="none").tolist()]
    [0.2395, 0.0]
    """
    from .linear_cross_entropy import linear_cross_entropy as chunked

    return chunked(input, linear_weight, target, linear_bias=linear_bias, weight=weight, reduction=reduction,
                   ignore_index=ignore_index, label_smoothing=label_smoothing, options=options)
