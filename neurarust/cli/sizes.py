"""Sample sizes for ``neurarust check`` and ``neurarust tune``: ``small``, ``medium``, ``large``.

``small`` is the registry's own samples (what the test harness runs). ``medium`` and ``large`` are
the same samples scaled up: every dim longer than 1 of every tensor argument is multiplied by a
factor (4 or 16), its values tiled, so relations between arguments (matmul's inner dims, broadcast
dims of size 1, index ranges) still hold. The factor shrinks where the biggest argument would pass
an element budget. A sample that does not scale (a size spelled out in its arguments: ``reshape``,
``narrow``) is reported by the caller as skipped::

    >>> import numpy as np
    >>> from neurarust.registry import Sample
    >>> big = scaled(Sample((np.ones((2, 3)), np.ones((1, 3))), {"alpha": 2}), "medium")
    >>> [a.shape for a in big.args], big.kwargs
    ([(8, 12), (1, 12)], {'alpha': 2})
"""
from __future__ import annotations

import numpy as np

from neurarust.checking import is_tensor_arg, spec_parts, tensor_args
from neurarust.kernels.samples import TensorSpec
from neurarust.registry import Sample

SIZES = ("small", "medium", "large")
FACTORS = {"small": 1, "medium": 4, "large": 16}
MAX_ELEMENTS = {"small": None, "medium": 1 << 18, "large": 1 << 24}  # per tensor argument


def _factor(sample: Sample, size: str) -> int:
    factor, budget = FACTORS[size], MAX_ELEMENTS[size]
    for arr in (spec_parts(a)[0] for a in tensor_args(sample)):
        long_dims = sum(d > 1 for d in arr.shape)
        while factor > 1 and arr.size * factor ** long_dims > budget:
            factor //= 2
    return factor


def _tile(arg, factor: int):
    values, layout = spec_parts(arg)
    reps = tuple(factor if d > 1 else 1 for d in values.shape)
    tiled = np.tile(values, reps)
    return TensorSpec(tiled, layout) if isinstance(arg, TensorSpec) else tiled


def _scale(x, factor: int):
    if is_tensor_arg(x):
        return _tile(x, factor)
    if isinstance(x, list):
        return [_scale(a, factor) for a in x]
    return x


def scaled(sample: Sample, size: str) -> Sample:
    """``sample`` at ``size`` (``small``: the sample itself)."""
    factor = _factor(sample, size)
    if factor == 1:
        return sample
    args = tuple(_scale(a, factor) for a in sample.args)
    kwargs = {k: _scale(v, factor) for k, v in sample.kwargs.items()}
    return Sample(args, kwargs, f"{sample.name}@{size}")
