"""Sample inputs shared by registry entries.

A sample's tensor arguments are NumPy arrays of exact values (float64 or int64) that the harnesses
convert to each dtype under test; :class:`TensorSpec` asks for a non-contiguous layout. The values
include what breaks naive kernels: NaN, ±inf, -0.0 and rounding ties.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from neurarust import dtype as _dt
from neurarust.dtype import DType
from neurarust.registry import Sample

SPECIALS = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 0.5, 1.5, -2.5, 1.0, -1.0])


@dataclass
class TensorSpec:
    """A tensor argument with a layout: ``"strided"`` (every other element of a wider buffer) or
    ``"transposed"`` (a transposed view of a contiguous tensor)."""

    values: np.ndarray
    layout: str = "strided"

    @property
    def shape(self):
        return self.values.shape


def array_of(arg) -> np.ndarray:
    """The values of a sample's tensor argument: a :class:`TensorSpec`'s array, or the array itself.

    >>> array_of(TensorSpec(np.zeros((2, 3)), "transposed")).shape, array_of([1, 2]).shape
    ((2, 3), (2,))
    """
    return arg.values if isinstance(arg, TensorSpec) else np.asarray(arg)


def values(dtype: DType, shape, seed: int = 0, *, low: float = -3.0, high: float = 3.0,
           positive: bool = False) -> np.ndarray:
    """Random values exactly representable in ``dtype`` (returned as float64, int64 or bool)."""
    rng = np.random.default_rng(seed)
    if dtype is _dt.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype.kind in "iu":
        lo = 0 if dtype.kind == "u" or positive else -9
        return rng.integers(max(lo, 1) if positive else lo, 10, size=shape).astype(np.int64)
    lo = 0.1 if positive else low
    x = rng.uniform(lo, high, size=shape)
    return x.astype(dtype.np).astype(np.float64)


def specials(dtype: DType, positive: bool = False) -> np.ndarray:
    if dtype.kind != "f":
        return values(dtype, (10,), seed=7, positive=positive)
    return SPECIALS.copy()


def unary(dtype: DType, *, positive: bool = False) -> Iterator[Sample]:
    v = lambda shape, seed=0: values(dtype, shape, seed, positive=positive)  # noqa: E731
    yield Sample((v((5,)),), name="vector")
    yield Sample((v((3, 33), 1),), name="matrix_odd")
    yield Sample((np.array(v((1,), 2)[0]),), name="0d")
    yield Sample((v((0,)),), name="empty")
    yield Sample((v((2, 0, 3)),), name="empty_3d")
    yield Sample((TensorSpec(v((4, 5), 3), "strided"),), name="noncontiguous")
    yield Sample((TensorSpec(v((3, 4), 4), "transposed"),), name="transposed")
    yield Sample((specials(dtype, positive),), name="specials")


def binary(dtype: DType, *, positive_rhs: bool = False, scalar=2) -> Iterator[Sample]:
    v = lambda shape, seed=0, pos=False: values(dtype, shape, seed, positive=pos)  # noqa: E731
    rhs = positive_rhs
    yield Sample((v((5,)), v((5,), 1, rhs)), name="same_shape")
    yield Sample((v((3, 1), 2), v((4,), 3, rhs)), name="broadcast")
    yield Sample((v((2, 3, 4), 4), v((3, 1), 5, rhs)), name="broadcast_3d")
    yield Sample((np.array(v((1,), 6)[0]), v((3,), 7, rhs)), name="0d_lhs")
    yield Sample((v((0, 3)), v((3,), 8, rhs)), name="empty")
    yield Sample((TensorSpec(v((4, 6), 9)), TensorSpec(v((4, 6), 10, rhs), "transposed")), name="noncontiguous")
    if scalar is not None:
        yield Sample((v((2, 3), 11), scalar), name="scalar_rhs")
    s = specials(dtype)
    t = specials(dtype, rhs)
    yield Sample((np.repeat(s, len(t)), np.tile(t, len(s))), name="specials")
