"""PyTorch's top-level in-place functions (``torch.abs_(x)``, ``torch.clamp_(x, 0)``, ...): each
``nr.<name>(x, ...)`` calls the Tensor method ``x.<name>(...)``, so it follows the same in-place rules
(version bump, leaf refusal, a view's base updated) and returns ``x``. They are made from one list::

    >>> import neurarust as nr
    >>> x = nr.tensor([-1.0, 2.0])
    >>> nr.abs_(x) is x, x.tolist()
    (True, [1.0, 2.0])
"""
from __future__ import annotations

from typing import Any, Callable

from .errors import SignatureError
from .tensor import Tensor

# The names of ``[n for n in dir(torch) if n.endswith('_') and not n.startswith('_')]`` that NeuraRust
# has as Tensor methods (``zero_`` lives in aliases.py), with example arguments for each docstring.
EXAMPLE_ARGS: dict[str, str] = {
    **{name: "" for name in (
        "abs_", "acos_", "acosh_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_", "arctanh_", "asin_",
        "asinh_", "atan_", "atanh_", "ceil_", "celu_", "cos_", "cosh_", "deg2rad_", "detach_", "erf_", "erfc_",
        "exp2_", "exp_", "expm1_", "fix_", "floor_", "frac_", "i0_", "log10_", "log1p_", "log2_", "log_", "logit_",
        "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_", "relu_", "round_", "rsqrt_", "selu_",
        "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_")},
    "clamp_": "0.5", "clip_": "0.5", "clamp_min_": "0.5", "clamp_max_": "0.5", "threshold_": "0.5, 0.0",
    "xlogy_": "2.0", "fill_": "1.0", "addmv_": "nr.ones(2, 3), nr.ones(3)", "as_strided_": "(2,), (1,)",
    "index_put_": "(nr.tensor([0]),), nr.tensor(1.0)",
}


def _in_place(name: str) -> Callable[..., Tensor]:
    def function(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if not isinstance(input, Tensor):
            raise SignatureError(f"{name}(): argument 'input' must be a Tensor, not {type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)

    args = EXAMPLE_ARGS[name]
    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"``nr.{name}(input, ...)`` is ``input.{name}(...)``: ``input`` overwritten and returned.\n\n"
                        f"    >>> import neurarust as nr\n    >>> x = nr.tensor([0.25, 0.75])\n"
                        f"    >>> nr.{name}(x{', ' + args if args else ''}) is x\n    True\n")
    return function


globals().update({name: _in_place(name) for name in EXAMPLE_ARGS})
__all__ = sorted(EXAMPLE_ARGS)
