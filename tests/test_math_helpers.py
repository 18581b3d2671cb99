"""The Triton math helpers (kernels/math_triton.py) and the float64 references (math_reference.py),
checked on dense grids that include NaN, ±inf, ±0 and the ends of each domain.

The bounds asserted here are the ones the helpers' docstrings state.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurarust.kernels import math_reference as R
from neurarust.launch import tl, triton
from neurarust.kernels import math_triton as M

SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype=np.float32)


@triton.jit
def _apply1(x_ptr, out_ptr, n, F: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    tl.store(out_ptr + offs, F(x), mask=mask)


@triton.jit
def _apply2(x_ptr, y_ptr, out_ptr, n, F: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=1)
    y = tl.load(y_ptr + offs, mask=mask, other=1)
    tl.store(out_ptr + offs, F(x, y), mask=mask)


def run1(fn, x: np.ndarray) -> np.ndarray:
    xt = torch.from_numpy(np.ascontiguousarray(x))
    out = torch.empty_like(xt)
    _apply1[(triton.cdiv(x.size, 8192),)](xt, out, x.size, F=fn, BLOCK=8192)
    return out.numpy()


def run2(fn, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))
    out = torch.empty_like(xt)
    _apply2[(triton.cdiv(x.size, 8192),)](xt, yt, out, x.size, F=fn, BLOCK=8192)
    return out.numpy()


def grid(lo: float, hi: float, n: int = 8000) -> np.ndarray:
    return np.concatenate([np.linspace(lo, hi, n).astype(np.float32), SPECIAL])


def rel_error(got: np.ndarray, want: np.ndarray, floor: float = 1e-30) -> float:
    finite = np.isfinite(want)
    return float(np.max(np.abs(got[finite] - want[finite]) / np.maximum(np.abs(want[finite]), floor)))


def assert_specials_match(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    inf = np.isinf(want)
    np.testing.assert_array_equal(got[inf], want[inf])


@pytest.mark.parametrize("name,fn,ref,lo,hi,bound", [
    ("tanh", M.tanh, np.tanh, -25.0, 25.0, 4e-7),
    ("expm1", M.expm1, np.expm1, -20.0, 20.0, 3e-7),
    ("log1p", M.log1p, np.log1p, -0.999, 1e6, 3e-7),
])
def test_unary_helper_relative_error_within_stated_bound(name, fn, ref, lo, hi, bound):
    x = np.concatenate([grid(lo, hi), grid(-1e-3, 1e-3, 2000)])
    got = run1(fn, x)
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64))
    assert_specials_match(got, want)
    assert rel_error(got, want) <= bound, name


def test_atan_nonneg_relative_error_and_limits():
    x = np.concatenate([np.linspace(0.0, 10.0, 8000), np.geomspace(1e-30, 1e30, 2000)]).astype(np.float32)
    x = np.concatenate([x, np.array([np.inf, np.nan, 0.0], np.float32)])
    got = run1(M.atan_nonneg, x)
    want = np.arctan(x.astype(np.float64))
    assert_specials_match(got, want)
    assert rel_error(got, want) <= 3e-7


def test_erf_absolute_error_on_dense_grid():
    x = grid(-6.0, 6.0)
    got = run1(M.erf, x)
    want = R.erf(x.astype(np.float64))
    assert_specials_match(got, want)
    assert np.max(np.abs(got - want)[np.isfinite(want)]) <= 2e-7


def test_erfinv_absolute_error_and_domain():
    y = np.concatenate([np.linspace(-0.999, 0.999, 8000).astype(np.float32),
                        np.array([1.0, -1.0, 1.5, -2.0, np.nan], np.float32)])
    got = run1(M.erfinv, y)
    want = R.erfinv(y.astype(np.float64))
    assert_specials_match(got, want)
    finite = np.isfinite(want)
    assert np.max(np.abs(got - want)[finite]) <= 4e-6


def test_pow_matches_c99_on_special_values():
    s = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 0.5, 1.5, -2.5, 1.0, -1.0, 2.0, -3.0, 3.0], np.float32)
    x, y = np.repeat(s, s.size), np.tile(s, s.size)
    got = run2(M.pow, x, y)
    with np.errstate(all="ignore"):
        want = np.power(x.astype(np.float64), y.astype(np.float64))
    assert_specials_match(got, want)
    np.testing.assert_allclose(got, want, rtol=1e-6, equal_nan=True)
    zeros = want == 0
    np.testing.assert_array_equal(np.signbit(got[zeros]), np.signbit(want[zeros]))


def test_pow_relative_error_within_stated_bound():
    x = np.repeat(np.geomspace(1e-3, 1e3, 100, dtype=np.float32), 80)
    y = np.tile(np.linspace(-4, 4, 80, dtype=np.float32), 100)
    got = run2(M.pow, x, y)
    want = np.power(x.astype(np.float64), y.astype(np.float64))
    bound = 2e-7 * (1 + np.abs(y * np.log2(x)))  # the docstring's bound
    assert np.all(np.abs(got - want) / want <= bound)


def test_ipow_wraps_like_c_and_handles_negative_exponents():
    x = np.array([2, -2, 3, 1, -1, -1, 0, 5, 7], dtype=np.int64)
    y = np.array([10, 3, 40, -5, -3, -4, 0, -1, 0], dtype=np.int64)
    got = run2(M.ipow, x, y)
    want = [1024, -8, (3 ** 40 + 2**63) % 2**64 - 2**63, 1, -1, 1, 1, 0, 1]
    assert got.tolist() == want


def test_reference_erf_matches_python_math_to_a_few_ulp():
    x = np.concatenate([np.linspace(-8, 8, 20001), [1e-300, -1e-10, 2.9999999]])
    want = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(R.erf(x) - want) / np.maximum(np.abs(want), 1e-300)) <= 4e-15
    assert np.isnan(R.erf(np.nan)) and R.erf(np.inf) == 1.0 and R.erf(-np.inf) == -1.0


def test_reference_erfc_keeps_relative_accuracy_in_the_tail():
    x = np.linspace(-8, 8, 16001)
    want = np.array([math.erfc(v) for v in x])
    assert np.max(np.abs(R.erfc(x) - want) / want) <= 5e-14


def test_reference_erfinv_inverts_erf():
    y = np.concatenate([np.linspace(-0.999999, 0.999999, 20001), [1 - 1e-15, -1 + 1e-12, 0.0, 1e-20]])
    assert np.max(np.abs(R.erf(R.erfinv(y)) - y)) <= 2e-15
    np.testing.assert_array_equal(R.erfinv(np.array([1.0, -1.0])), [np.inf, -np.inf])
    assert np.isnan(R.erfinv(np.array([1.5, np.nan]))).all()
