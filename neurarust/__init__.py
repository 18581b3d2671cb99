"""NeuraRust: a GPU-first deep-learning framework where every op is a readable Triton kernel with a
plain NumPy reference that runs anywhere.

This module is a lazy façade. The core (dtypes, devices, Tensor, creation) loads with NumPy alone;
ops come from the registry on first use; ``neurarust.nn``, ``neurarust.optim`` and the other layers
are imported when first touched; torch and Triton only on first GPU or Triton use::

    >>> import neurarust as nr
    >>> x = nr.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> (x * 2 + 1).tolist()
    [[3.0, 5.0], [7.0, 9.0]]
"""
from __future__ import annotations

import importlib
from typing import Any

from . import backends, cuda
from .creation import (as_tensor, empty, empty_like, empty_strided, eye, from_numpy, full, full_like, linspace,
                       logspace, ones, ones_like, tensor, tril_indices, triu_indices, zeros, zeros_like)
from .device import device
from .dtype import (DType, bfloat16, bool_, double, finfo, float16, float32, float64, get_default_dtype, half,
                    iinfo, int8, int16, int32, int64, long, promote_types, result_type, set_default_dtype,
                    short, uint8)
from .errors import (ArgumentError, DeviceError, DTypeError, IndexOutOfRangeError, NeuraRustError,
                     OutOfMemoryError, ShapeError, SignatureError)
from .memory_formats import channels_last, channels_last_3d, contiguous_format, memory_format, preserve_format
from .shape import Size, broadcast_shapes
from .tensor import Tensor

__version__ = "0.1.0"

# torch's constants (torch.pi, torch.inf, ...); newaxis indexes as None does.
from math import e, inf, nan, pi  # noqa: E402
newaxis = None

# The dtype module defines ``float`` and ``int`` aliases as torch does (``torch.float``).
float = float32  # noqa: A001
int = int32  # noqa: A001
bool = bool_  # noqa: A001

_SUBMODULES = {"nn", "optim", "data", "autograd", "kernels", "registry", "launch", "autotune", "dtype",
               "storage", "shape", "printing", "creation", "errors", "linalg", "amp",
               "distributed", "parallel", "onnx", "quantization", "special", "distributions", "func"}

# Public names that are not registry ops, each imported from its module on first use:
# name -> module under ``neurarust``.
_LAZY_ATTRS: dict[str, str] = {
    "use_deterministic_algorithms": "determinism",
    "are_deterministic_algorithms_enabled": "determinism",
    "is_deterministic_algorithms_warn_only_enabled": "determinism",
    "manual_seed": "random",
    "seed": "random",
    "initial_seed": "random",
    "get_rng_state": "random",
    "set_rng_state": "random",
    "Generator": "random",
    "default_generator": "random",
    "no_grad": "autograd.grad_mode",
    "enable_grad": "autograd.grad_mode",
    "set_grad_enabled": "autograd.grad_mode",
    "inference_mode": "autograd.grad_mode",
    "is_grad_enabled": "autograd.grad_mode",
    "is_inference_mode_enabled": "autograd.grad_mode",
    "concat": "kernels.movement",
    "concatenate": "kernels.movement",
    "save": "serialization",
    "load": "serialization",
    "autocast": "amp.autocast_mode",
    "compile": "graph.compiler",
    **{name: "views" for name in ("reshape", "flatten", "squeeze", "unsqueeze", "transpose", "swapaxes", "swapdims",
                                  "permute", "t", "narrow", "select", "diagonal", "broadcast_to", "movedim",
                                  "moveaxis", "numel")},
    **{name: "compositions" for name in ("clip", "nansum", "nanmean", "count_nonzero", "take_along_dim",
                                         "atleast_1d", "atleast_2d", "atleast_3d", "hstack", "vstack", "row_stack",
                                         "dstack", "column_stack", "diff", "ravel", "fliplr", "flipud", "rot90",
                                         "tensor_split", "hsplit", "vsplit", "dsplit", "broadcast_tensors",
                                         "argwhere", "msort", "clamp_min", "clamp_max", "true_divide", "deg2rad",
                                         "rad2deg", "frac", "sgn", "signbit", "xlogy", "hypot", "logaddexp",
                                         "isin", "logit", "masked_scatter", "unique_consecutive", "fmax", "fmin",
                                         "float_power", "gcd", "lcm", "heaviside", "ldexp", "frexp", "logaddexp2",
                                         "nextafter", "renorm", "dist", "cdist", "cov", "corrcoef", "aminmax",
                                         "quantile", "nanquantile", "nanmedian", "histogram", "trapezoid", "trapz",
                                         "cumulative_trapezoid", "unravel_index", "combinations", "hann_window",
                                         "hamming_window", "blackman_window", "bartlett_window", "kaiser_window",
                                         "mvlgamma")},
    **{name: "matrices" for name in ("diag_embed", "diag", "trace", "kron", "block_diag", "inner", "vdot",
                                     "cartesian_prod", "cross", "addr", "diagflat", "vander", "chain_matmul",
                                     "matrix_power", "inverse", "det", "logdet", "slogdet", "cholesky")},
    # PyTorch's alias names, small compositions and utilities that mirror Tensor methods.
    **{name: "aliases" for name in ("absolute", "arccos", "arcsin", "arctan", "arctan2", "greater", "greater_equal",
                                    "less", "less_equal", "not_equal", "multiply", "divide", "subtract", "negative",
                                    "fix", "split_with_sizes", "unsafe_split", "unsafe_split_with_sizes",
                                    "unsafe_chunk", "fill", "zero_")},
    **{name: "pointwise" for name in ("asinh", "acosh", "atanh", "arcsinh", "arccosh", "arctanh", "isneginf",
                                      "isposinf", "isreal", "positive", "rsub")},
    **{name: "scatters" for name in ("select_scatter", "slice_scatter", "diagonal_scatter", "as_strided_scatter",
                                     "index_reduce", "put")},
    **{name: "views" for name in ("as_strided", "unflatten", "narrow_copy")},
    **{name: "predicates" for name in ("is_floating_point", "is_complex", "is_signed", "is_nonzero", "is_same_size",
                                       "can_cast", "typename")},
    **{name: "factories" for name in ("asarray", "scalar_tensor")},
    **{name: "threads" for name in ("get_num_threads", "set_num_threads")},
    **{name: "layouts" for name in ("layout", "strided")},
    "set_printoptions": "printing",
    **{name: "linalg_top_level" for name in ("lu_unpack", "cholesky_solve", "cholesky_inverse", "lu", "lu_solve",
                                             "triangular_solve", "ger")},
    **{name: "spectral" for name in ("pinverse", "matrix_exp", "svd")},
    "set_default_device": "device",
    "get_default_device": "device",
    "rrelu": "nn.functional",
    "rrelu_": "nn.functional",
    # torch's top-level forms of nn.functional ops, with ATen's signatures.
    **{name: "functional_aliases" for name in (
        "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "convolution",
        "layer_norm", "group_norm", "instance_norm", "batch_norm", "rms_norm", "dropout", "alpha_dropout",
        "feature_dropout", "feature_alpha_dropout", "dropout_", "alpha_dropout_", "feature_dropout_",
        "feature_alpha_dropout_", "embedding", "pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "max_pool1d",
        "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "avg_pool1d", "adaptive_avg_pool1d",
        "adaptive_max_pool1d", "bilinear", "cosine_similarity", "pairwise_distance", "pdist", "kl_div",
        "margin_ranking_loss", "hinge_embedding_loss", "triplet_margin_loss", "cosine_embedding_loss",
        "poisson_nll_loss", "binary_cross_entropy_with_logits", "ctc_loss", "prelu", "constant_pad_nd",
        "native_layer_norm", "native_batch_norm", "native_group_norm")},
    **{name: "settings" for name in ("is_anomaly_enabled", "set_anomaly_enabled", "is_anomaly_check_nan_enabled",
                                     "set_warn_always", "is_warn_always_enabled", "get_float32_matmul_precision",
                                     "set_float32_matmul_precision", "get_num_interop_threads",
                                     "set_num_interop_threads", "set_deterministic_debug_mode",
                                     "get_deterministic_debug_mode")},
    **{name: "method_forms" for name in ("is_inference", "detach", "get_device", "to_dlpack")},
    **{name: "constructors" for name in ("range", "frombuffer", "empty_permuted")},
    "gradient": "numerics",
    **{name: "tensor_more" for name in ("gcd_", "lcm_", "ldexp_")},
    **{name: "real_complex" for name in ("conj", "conj_physical", "conj_physical_", "resolve_conj", "resolve_neg",
                                         "is_conj", "is_neg", "real", "imag", "angle")},
    # torch.abs_, torch.clamp_, ...: each calls the Tensor method of its name (inplace.EXAMPLE_ARGS).
    **{name: "inplace" for name in ("abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_",
                                    "arctan_", "arctanh_", "as_strided_", "asin_", "asinh_", "atan_", "atanh_",
                                    "ceil_", "celu_", "clamp_", "clamp_max_", "clamp_min_", "clip_", "cos_", "cosh_",
                                    "deg2rad_", "detach_", "erf_", "erfc_", "exp2_", "exp_", "expm1_", "fill_", "fix_",
                                    "floor_", "frac_", "i0_", "index_put_", "log10_", "log1p_", "log2_", "log_",
                                    "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_", "relu_",
                                    "round_", "rsqrt_", "selu_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_",
                                    "square_", "tan_", "tanh_", "threshold_", "trunc_", "xlogy_")},
    "vmap": "func",
}


def is_tensor(obj: Any) -> bool:
    """True for a NeuraRust Tensor.

    >>> import neurarust as nr
    >>> nr.is_tensor(nr.zeros(2)), nr.is_tensor([0.0, 0.0])
    (True, False)
    """
    return isinstance(obj, Tensor)


def from_dlpack(obj: Any) -> Tensor:
    """A tensor sharing the memory of any DLPack producer (NumPy, PyTorch, CuPy, JAX), without a copy.

    >>> import numpy as np, neurarust as nr
    >>> a = np.arange(3.0)
    >>> t = nr.from_dlpack(a); a[0] = 7.0; t.tolist()
    [7.0, 1.0, 2.0]
    """
    from .interop import from_dlpack as _from_dlpack

    return _from_dlpack(obj)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_ATTRS:
        return getattr(importlib.import_module(f".{_LAZY_ATTRS[name]}", __name__), name)
    from .registry import OPS, load

    load()
    op = OPS.get(name)
    if op is not None and op.attrs.get("public", True):
        return op
    if name in OPS:
        raise AttributeError(f"'{name}' is internal; use the Tensor method")
    raise AttributeError(f"module 'neurarust' has no attribute '{name}'")


def __dir__() -> list[str]:
    from .registry import OPS, load

    load()
    return sorted(set(globals()) | _SUBMODULES | set(_LAZY_ATTRS) | {n for n, op in OPS.items() if op.attrs.get("public", True) and "." not in n})
