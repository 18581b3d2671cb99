"""The ``torch.nn.functional`` ops PyTorch also has at the top level (``torch.conv2d``,
``torch.batch_norm``, ``torch.kl_div``, ...), with the TOP-LEVEL signatures, which are ATen's and
differ from ``F``'s: ``batch_norm(input, weight, bias, running_mean, running_var, training, momentum,
eps, cudnn_enabled)``, ``embedding(weight, indices, ...)``, ``dropout(input, p, train)``, losses
taking ``reduction`` as an int (0 none, 1 mean, 2 sum), ``adaptive_max_pool1d`` returning
``(values, indices)``. Each is an adapter onto ``neurarust.nn.functional`` (imported on first call,
so the core stays free of ``nn``) or onto a registry op.

Two torch 2.13 behaviours are kept on purpose: the losses' ``reduction`` defaults to 0 (unreduced:
torch's Python binding reads the schema's ``Mean`` default as 0), and ``native_batch_norm`` in eval
returns empty ``save_mean``/``save_invstd``. ``embedding_bag`` is left out (torch's returns four
tensors, three of them bookkeeping of its own kernel); ``cudnn_enable(d)`` is accepted and ignored.

    >>> import neurarust as nr
    >>> nr.conv1d(nr.ones(1, 1, 4), nr.ones(1, 1, 2)).tolist()
    [[[2.0, 2.0, 2.0]]]
    >>> nr.kl_div(nr.zeros(2), nr.ones(2), 2).item()
    0.0
"""
from __future__ import annotations

import ast
import inspect
from typing import Any, Callable

from .errors import ArgumentError, ShapeError, SignatureError

_REDUCTIONS = ("none", "mean", "sum")


def _F() -> Any:
    from .nn import functional

    return functional


def _op(name: str, *args: Any, **kwargs: Any) -> Any:
    from .registry import call

    return call(name, *args, **kwargs)


def _reduction(name: str, reduction: Any) -> str:
    if isinstance(reduction, bool) or not isinstance(reduction, int) or not 0 <= reduction < 3:
        raise ArgumentError(f"{name}(): reduction must be 0 (none), 1 (mean) or 2 (sum), got {reduction!r}")
    return _REDUCTIONS[reduction]


def _inplace(name: str, fn: Callable) -> Callable:
    """``fn``'s result written into its first argument, with the checks of an in-place op."""
    def write(input: Any, *args: Any) -> Any:
        from .tensor import _write_inplace

        return _write_inplace(input, name, fn, args, {})

    return write


def _convolution(a: dict) -> Any:
    s = a["weight"].ndim - 2
    if s not in (1, 2, 3):
        raise ShapeError(f"convolution(): expected a 3-, 4- or 5-D weight, got shape {list(a['weight'].shape)}")
    if a["transposed"]:
        return getattr(_F(), f"conv_transpose{s}d")(a["input"], a["weight"], a["bias"], a["stride"], a["padding"],
                                                    a["output_padding"], a["groups"], a["dilation"])
    return getattr(_F(), f"conv{s}d")(a["input"], a["weight"], a["bias"], a["stride"], a["padding"],
                                      a["dilation"], a["groups"])


def _native_batch_norm(a: dict) -> Any:
    out, mean, rstd = _op("native_batch_norm", a["input"], a["weight"], a["bias"], a["running_mean"],
                          a["running_var"], a["training"], a["momentum"], a["eps"])
    if not a["training"]:  # torch saves no statistics in eval
        from .creation import empty

        mean = empty(0, dtype=mean.dtype, device=mean.device)
        rstd = empty(0, dtype=rstd.dtype, device=rstd.device)
    return out, mean, rstd


def _native_group_norm(a: dict) -> Any:
    x = a["input"]
    given = (a["N"], a["C"], a["HxW"])
    real = (x.shape[0], x.shape[1], x.numel() // max(1, x.shape[0] * x.shape[1])) if x.ndim >= 2 else None
    if given != real:
        raise ShapeError(f"native_group_norm(): N, C, HxW = {given} do not describe the input of shape "
                         f"{list(x.shape)}")
    return _op("native_group_norm", x, a["group"], a["weight"], a["bias"], a["eps"])


def _pool(kind: str, indices: bool = False) -> Callable[[dict], Any]:
    def run(a: dict) -> Any:  # ATen's empty stride means "the kernel size", F's None
        return getattr(_F(), kind)(a["input"], a["kernel_size"], a["stride"] or None, a["padding"], a["dilation"],
                                   a["ceil_mode"], indices)

    return run


def _loss(op: str, *names: str) -> Callable[[dict], Any]:
    """A loss registry op called with the named arguments and the int reduction as its string."""
    def run(a: dict) -> Any:
        return _op(op, *(a[n] for n in names), reduction=_reduction(op, a["reduction"]))

    return run


_CONV = "input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1"
_CONV_T = "input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1"
_POOL = "input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False"
_X = "nr.arange(8.0).reshape(1, 2, 4)"

# name -> (torch's top-level parameters, adapter from the bound arguments, what it is, example, its output)
ALIASES: dict[str, tuple[str, Callable[[dict], Any], str, str, str]] = {
    **{f"conv{s}d": (_CONV, lambda a, s=s: getattr(_F(), f"conv{s}d")(**a), f"``F.conv{s}d``",
                     f"nr.conv{s}d(nr.ones(1, 1{', 2' * s}), nr.ones(1, 1{', 2' * s})).flatten().tolist()",
                     f"[{2.0 ** s}]") for s in (1, 2, 3)},
    **{f"conv_transpose{s}d": (_CONV_T, lambda a, s=s: getattr(_F(), f"conv_transpose{s}d")(**a),
                               f"``F.conv_transpose{s}d``",
                               f"nr.conv_transpose{s}d(nr.ones(1, 1{', 1' * s}), nr.ones(1, 1{', 2' * s})).shape",
                               f"neurarust.Size([1, 1{', 2' * s}])") for s in (1, 2, 3)},
    "convolution": ("input, weight, bias, stride, padding, dilation, transposed, output_padding, groups", _convolution,
                    "``conv{1,2,3}d`` or ``conv_transpose{1,2,3}d`` by ``weight``'s rank and ``transposed``",
                    "nr.convolution(nr.ones(1, 1, 3), nr.ones(1, 1, 2), None, [1], [0], [1], False, [0], 1).tolist()",
                    "[[[2.0, 2.0]]]"),
    "layer_norm": ("input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True",
                   lambda a: _F().layer_norm(a["input"], a["normalized_shape"], a["weight"], a["bias"], a["eps"]),
                   "``F.layer_norm``", "nr.layer_norm(nr.tensor([[1.0, 3.0]]), [2], eps=0.0).tolist()", "[[-1.0, 1.0]]"),
    "group_norm": ("input, num_groups, weight=None, bias=None, eps=1e-05, cudnn_enabled=True",
                   lambda a: _F().group_norm(a["input"], a["num_groups"], a["weight"], a["bias"], a["eps"]),
                   "``F.group_norm``", "nr.group_norm(nr.tensor([[[1.0], [3.0]]]), 1, eps=0.0).flatten().tolist()",
                   "[-1.0, 1.0]"),
    "instance_norm": ("input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled",
                      lambda a: _F().instance_norm(a["input"], a["running_mean"], a["running_var"], a["weight"],
                                                   a["bias"], a["use_input_stats"], a["momentum"], a["eps"]),
                      "``F.instance_norm`` (statistics before the affine)",
                      "nr.instance_norm(nr.tensor([[[1.0, 3.0]]]), None, None, None, None, True, 0.1, 0.0, False)"
                      ".tolist()", "[[[-1.0, 1.0]]]"),
    "batch_norm": ("input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled",
                   lambda a: _F().batch_norm(a["input"], a["running_mean"], a["running_var"], a["weight"], a["bias"],
                                             a["training"], a["momentum"], a["eps"]),
                   "``F.batch_norm`` (affine before the running statistics)",
                   "nr.batch_norm(nr.tensor([[1.0], [3.0]]), None, None, None, None, True, 0.1, 0.0, False).tolist()",
                   "[[-1.0], [1.0]]"),
    "rms_norm": ("input, normalized_shape, weight=None, eps=None",
                 lambda a: _F().rms_norm(**a), "``F.rms_norm``",
                 "nr.rms_norm(nr.tensor([[3.0, 4.0]]), [2], eps=0.0).mul(100).round().tolist()", "[[85.0, 113.0]]"),
    "dropout": ("input, p, train", lambda a: _F().dropout(a["input"], a["p"], a["train"]),
                "``F.dropout(input, p, training=train)``", "nr.dropout(nr.ones(2), 0.5, False).tolist()",
                "[1.0, 1.0]"),
    "alpha_dropout": ("input, p, train", lambda a: _F().alpha_dropout(a["input"], a["p"], a["train"]),
                      "``F.alpha_dropout(input, p, training=train)``",
                      "nr.alpha_dropout(nr.ones(2), 0.5, False).tolist()", "[1.0, 1.0]"),
    "feature_dropout": ("input, p, train", lambda a: _F()._feature_dropout(a["input"], a["p"], a["train"]),
                        "dropout of whole channels ``input[n, c]`` (any rank of at least 2)",
                        "nr.feature_dropout(nr.ones(1, 2, 3), 1.0, True).sum().item()", "0.0"),
    "feature_alpha_dropout": ("input, p, train",
                              lambda a: _F().feature_alpha_dropout(a["input"], a["p"], a["train"]),
                              "``F.feature_alpha_dropout(input, p, training=train)``",
                              "nr.feature_alpha_dropout(nr.ones(1, 2), 0.5, False).tolist()", "[[1.0, 1.0]]"),
    "embedding": ("weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False",
                  lambda a: _F().embedding(a["indices"], a["weight"],
                                           a["padding_idx"] if a["padding_idx"] >= 0 else None,
                                           scale_grad_by_freq=a["scale_grad_by_freq"], sparse=a["sparse"]),
                  "``F.embedding(indices, weight, ...)``: the weight comes first; a negative ``padding_idx`` is none",
                  "nr.embedding(nr.tensor([[0.0, 1.0], [2.0, 3.0]]), nr.tensor([1, 1])).tolist()",
                  "[[2.0, 3.0], [2.0, 3.0]]"),
    "pixel_shuffle": ("input, upscale_factor", lambda a: _F().pixel_shuffle(**a), "``F.pixel_shuffle``",
                      "nr.pixel_shuffle(nr.ones(1, 4, 1, 1), 2).shape", "neurarust.Size([1, 1, 2, 2])"),
    "pixel_unshuffle": ("input, downscale_factor", lambda a: _F().pixel_unshuffle(**a), "``F.pixel_unshuffle``",
                        "nr.pixel_unshuffle(nr.ones(1, 1, 2, 2), 2).shape", "neurarust.Size([1, 4, 1, 1])"),
    "channel_shuffle": ("input, groups", lambda a: _F().channel_shuffle(**a), "``F.channel_shuffle``",
                        "nr.channel_shuffle(nr.arange(4.0).reshape(1, 4, 1), 2).flatten().tolist()",
                        "[0.0, 2.0, 1.0, 3.0]"),
    **{f"max_pool{s}d": (_POOL, _pool(f"max_pool{s}d"), f"``F.max_pool{s}d`` (an empty ``stride``: the kernel)",
                         f"nr.max_pool{s}d(nr.arange(8.0).reshape(1, 1{', 2' * (s - 1)}, {8 // 2 ** (s - 1)}), 2)"
                         ".flatten().tolist()", ("[1.0, 3.0, 5.0, 7.0]", "[5.0, 7.0]", "[7.0]")[s - 1]) for s in (1, 2, 3)},
    "max_pool1d_with_indices": (_POOL, _pool("max_pool1d", indices=True), "``(values, indices)`` of ``F.max_pool1d``",
                                f"nr.max_pool1d_with_indices({_X}, 2)[1].tolist()", "[[[1, 3], [1, 3]]]"),
    "avg_pool1d": ("input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True",
                   lambda a: _F().avg_pool1d(**a), "``F.avg_pool1d``", f"nr.avg_pool1d({_X}, 2).tolist()",
                   "[[[0.5, 2.5], [4.5, 6.5]]]"),
    "adaptive_avg_pool1d": ("input, output_size", lambda a: _F().adaptive_avg_pool1d(**a), "``F.adaptive_avg_pool1d``",
                            f"nr.adaptive_avg_pool1d({_X}, 1).tolist()", "[[[1.5], [5.5]]]"),
    "adaptive_max_pool1d": ("input, output_size", lambda a: _F().adaptive_max_pool1d(**a, return_indices=True),
                            "``(values, indices)`` of ``F.adaptive_max_pool1d``",
                            f"nr.adaptive_max_pool1d({_X}, 1)[0].tolist()", "[[[3.0], [7.0]]]"),
    "bilinear": ("input1, input2, weight, bias=None", lambda a: _F().bilinear(**a), "``F.bilinear``",
                 "nr.bilinear(nr.ones(1, 2), nr.ones(1, 3), nr.ones(4, 2, 3)).tolist()", "[[6.0, 6.0, 6.0, 6.0]]"),
    "cosine_similarity": ("x1, x2, dim=1, eps=1e-08", lambda a: _F().cosine_similarity(**a), "``F.cosine_similarity``",
                          "nr.cosine_similarity(nr.tensor([[1.0, 0.0]]), nr.tensor([[2.0, 0.0]])).tolist()", "[1.0]"),
    "pairwise_distance": ("x1, x2, p=2.0, eps=1e-06, keepdim=False", lambda a: _F().pairwise_distance(**a),
                          "``F.pairwise_distance``",
                          "nr.pairwise_distance(nr.tensor([[3.0, 0.0]]), nr.tensor([[0.0, 4.0]]), eps=0.0).tolist()",
                          "[5.0]"),
    "pdist": ("input, p=2", lambda a: _F().pdist(**a), "``F.pdist``",
              "nr.pdist(nr.tensor([[0.0, 0.0], [3.0, 4.0]])).tolist()", "[5.0]"),
    "kl_div": ("input, target, reduction=0, *, log_target=False",
               lambda a: _op("kl_div", a["input"], a["target"], reduction=_reduction("kl_div", a["reduction"]),
                             log_target=a["log_target"]),
               "``F.kl_div`` (``reduction`` 1 is the element mean, not ``batchmean``)",
               "nr.kl_div(nr.zeros(2), nr.ones(2)).tolist()", "[0.0, 0.0]"),
    "margin_ranking_loss": ("input1, input2, target, margin=0.0, reduction=0",
                            lambda a: _op("margin_ranking_loss", a["input1"], a["input2"], a["target"], a["margin"],
                                          reduction=_reduction("margin_ranking_loss", a["reduction"])),
                            "``F.margin_ranking_loss``",
                            "nr.margin_ranking_loss(nr.tensor([1.0]), nr.tensor([2.0]), nr.tensor([1.0])).tolist()",
                            "[1.0]"),
    "hinge_embedding_loss": ("input, target, margin=1.0, reduction=0",
                             lambda a: _F().hinge_embedding_loss(a["input"], a["target"], a["margin"], reduction=_reduction(
                                 "hinge_embedding_loss", a["reduction"])), "``F.hinge_embedding_loss``",
                             "nr.hinge_embedding_loss(nr.tensor([0.25, 2.0]), nr.tensor([-1.0, 1.0])).tolist()",
                             "[0.75, 2.0]"),
    "triplet_margin_loss": ("anchor, positive, negative, margin=1.0, p=2.0, eps=1e-06, swap=False, reduction=0",
                            lambda a: _op("triplet_margin_loss", a["anchor"], a["positive"], a["negative"], a["margin"],
                                          a["p"], a["eps"], a["swap"],
                                          reduction=_reduction("triplet_margin_loss", a["reduction"])),
                            "``F.triplet_margin_loss``",
                            "nr.triplet_margin_loss(nr.zeros(1, 2), nr.zeros(1, 2), nr.zeros(1, 2), eps=0.0).tolist()",
                            "[1.0]"),
    "cosine_embedding_loss": ("input1, input2, target, margin=0.0, reduction=0",
                              lambda a: _op("cosine_embedding_loss", a["input1"], a["input2"], a["target"], a["margin"],
                                            reduction=_reduction("cosine_embedding_loss", a["reduction"])),
                              "``F.cosine_embedding_loss``",
                              "nr.cosine_embedding_loss(nr.ones(1, 2), nr.ones(1, 2), nr.tensor([1.0])).tolist()",
                              "[0.0]"),
    "poisson_nll_loss": ("input, target, log_input, full, eps, reduction",
                         lambda a: _F().poisson_nll_loss(a["input"], a["target"], a["log_input"], a["full"],
                                                         eps=a["eps"], reduction=_reduction("poisson_nll_loss",
                                                                                            a["reduction"])),
                         "``F.poisson_nll_loss`` (every argument required, as torch's)",
                         "nr.poisson_nll_loss(nr.zeros(2), nr.ones(2), True, False, 1e-8, 2).item()", "2.0"),
    "binary_cross_entropy_with_logits": ("input, target, weight=None, pos_weight=None, reduction=0",
                                         lambda a: _op("binary_cross_entropy_with_logits", a["input"], a["target"],
                                                       a["weight"], pos_weight=a["pos_weight"], reduction=_reduction(
                                                           "binary_cross_entropy_with_logits", a["reduction"])),
                                         "``F.binary_cross_entropy_with_logits``",
                                         "nr.binary_cross_entropy_with_logits(nr.zeros(1), nr.ones(1)).mul(1e4).round()"
                                         ".tolist()", "[6931.0]"),
    "ctc_loss": ("log_probs, targets, input_lengths, target_lengths, blank=0, reduction=0, zero_infinity=False",
                 lambda a: _op("ctc_loss", a["log_probs"], a["targets"], a["input_lengths"], a["target_lengths"],
                               a["blank"], reduction=_reduction("ctc_loss", a["reduction"]),
                               zero_infinity=a["zero_infinity"]),
                 "``F.ctc_loss``",
                 "nr.ctc_loss(nr.zeros(1, 1, 2), nr.tensor([[1]]), [1], [1]).tolist()", "[-0.0]"),
    "prelu": ("input, weight", lambda a: _F().prelu(**a), "``F.prelu``",
              "nr.prelu(nr.tensor([-2.0, 3.0]), nr.tensor([0.5])).tolist()", "[-1.0, 3.0]"),
    "constant_pad_nd": ("input, pad, value=0", lambda a: _F().pad(a["input"], a["pad"], "constant", a["value"]),
                        "``F.pad(input, pad, 'constant', value)`` (negative pads crop)",
                        "nr.constant_pad_nd(nr.ones(2), [1, 0], 5.0).tolist()", "[5.0, 1.0, 1.0]"),
    "native_layer_norm": ("input, normalized_shape, weight, bias, eps",
                          lambda a: _op("native_layer_norm", a["input"], a["normalized_shape"], a["weight"], a["bias"],
                                        a["eps"]),
                          "``(output, mean, rstd)`` of layer_norm, the statistics keeping the normalized dims as 1",
                          "nr.native_layer_norm(nr.tensor([[1.0, 3.0]]), [2], None, None, 0.0)[1].tolist()",
                          "[[2.0]]"),
    "native_batch_norm": ("input, weight, bias, running_mean, running_var, training, momentum, eps",
                          _native_batch_norm, "``(output, save_mean, save_invstd)`` of batch_norm (empty saves in eval)",
                          "nr.native_batch_norm(nr.tensor([[1.0], [3.0]]), None, None, None, None, True, 0.1, 0.0)[1]"
                          ".tolist()", "[2.0]"),
    "native_group_norm": ("input, weight, bias, N, C, HxW, group, eps", _native_group_norm,
                          "``(output, mean, rstd)`` of group_norm, the statistics ``(N, group)``",
                          "nr.native_group_norm(nr.tensor([[[1.0], [3.0]]]), None, None, 1, 2, 1, 1, 0.0)[1].tolist()",
                          "[[2.0]]"),
}

# the in-place dropouts: name_ -> the out-of-place form written back into ``input``
INPLACE = ("dropout", "alpha_dropout", "feature_dropout", "feature_alpha_dropout")


def _signature(params: str) -> inspect.Signature:
    """``"a, b=1, *, c=False"`` as a Signature (defaults are Python literals)."""
    out, kind = [], inspect.Parameter.POSITIONAL_OR_KEYWORD
    for item in (p.strip() for p in params.split(",")):
        if item == "*":
            kind = inspect.Parameter.KEYWORD_ONLY
            continue
        name, _, default = item.partition("=")
        value = ast.literal_eval(default) if default else inspect.Parameter.empty
        out.append(inspect.Parameter(name, kind, default=value))
    return inspect.Signature(out)


def _make(name: str, params: str, adapter: Callable[[dict], Any], what: str, example: str, output: str) -> Callable:
    sig = _signature(params)

    def function(*args: Any, **kwargs: Any) -> Any:
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise SignatureError(f"{name}{sig}: {e}") from None
        bound.apply_defaults()
        return adapter(dict(bound.arguments))

    function.__name__ = function.__qualname__ = name
    function.__signature__ = sig
    function.__doc__ = (f"``torch.{name}{sig}``: {what}.\n\n"
                        f"    >>> import neurarust as nr\n    >>> {example}\n    {output}\n")
    return function


def _make_inplace(name: str) -> Callable:
    out_of_place = globals()[name]
    write = _inplace(name + "_", lambda t, p, train: out_of_place(t, p, train))

    def function(input: Any, p: float, train: bool) -> Any:
        return write(input, p, train)

    function.__name__ = function.__qualname__ = name + "_"
    function.__doc__ = (f"In-place ``nr.{name}``: ``input`` overwritten with the result and returned (a leaf that "
                        f"requires grad is refused).\n\n"
                        f"    >>> import neurarust as nr\n    >>> x = nr.ones(1, 2)\n"
                        f"    >>> nr.{name}_(x, 1.0, True) is x, x.tolist()\n    (True, [[0.0, 0.0]])\n")
    return function


for _name, _spec in ALIASES.items():
    globals()[_name] = _make(_name, *_spec)
for _name in INPLACE:
    globals()[_name + "_"] = _make_inplace(_name)

__all__ = [*ALIASES, *(n + "_" for n in INPLACE)]
