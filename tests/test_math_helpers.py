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


def test_reference_erf_and_erfc_saturate_at_huge_arguments():
    x = np.array([27.0, 28.0, 1e10, 1e308, -1e308])
    np.testing.assert_array_equal(R.erf(x), [1.0, 1.0, 1.0, 1.0, -1.0])
    assert R.erfc(x)[1:].tolist() == [0.0, 0.0, 0.0, 2.0] and 0 < R.erfc(x)[0] < 1e-300


def test_reference_erfinv_inverts_erf():
    y = np.concatenate([np.linspace(-0.999999, 0.999999, 20001), [1 - 1e-15, -1 + 1e-12, 0.0, 1e-20]])
    assert np.max(np.abs(R.erf(R.erfinv(y)) - y)) <= 2e-15
    np.testing.assert_array_equal(R.erfinv(np.array([1.0, -1.0])), [np.inf, -np.inf])
    assert np.isnan(R.erfinv(np.array([1.5, np.nan]))).all()


# -- gamma family, erfc, Bessel, sinc: fp32 errors in ulp of the float64 truth (PyTorch's float64
# functions, themselves checked against math.lgamma and the float64 references below) --------------

@triton.jit
def _apply_zeta_sum(x_ptr, out_ptr, n, S: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=1.0)
    tl.store(out_ptr + offs, M.polygamma(tl.zeros_like(offs) + S, x), mask=mask)


def polygamma_fp32(n: int, x: np.ndarray) -> np.ndarray:
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    out = torch.empty_like(xt)
    _apply_zeta_sum[(triton.cdiv(x.size, 8192),)](xt, out, x.size, S=n + 1, BLOCK=8192)
    return out.numpy().astype(np.float64) * (-1.0) ** (n + 1) * math.factorial(n)


def ulps(got: np.ndarray, want: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """|got - want| in units of float32's spacing at ``want``, after an absolute allowance ``floor``;
    on the elements where ``want`` is a finite, normal float32."""
    w32 = np.abs(want).astype(np.float32)
    ok = np.isfinite(want) & (np.abs(want) >= np.finfo(np.float32).tiny) & np.isfinite(w32)
    err = np.maximum(np.abs(got.astype(np.float64)[ok] - want[ok]) - floor, 0.0)
    return err / np.spacing(w32[ok]).astype(np.float64)


def wide_grid(*ranges) -> np.ndarray:
    parts = [np.linspace(lo, hi, 4000) for lo, hi in ranges]
    return np.concatenate(parts + [np.geomspace(1e-30, 1e30, 1000)]).astype(np.float32)


def oracle(fn, x: np.ndarray) -> np.ndarray:
    return fn(torch.from_numpy(x.astype(np.float64))).numpy()


def test_sinpi_and_nearest_integer_are_exact_reductions():
    x = np.array([0.5, 1.5, -2.5, 13803843.0, 2.0 ** 23 + 1, -1e-30, 0.49999997, -0.50000006, 1e30], np.float32)
    n = run1(M.nearest_integer, x)
    t = x.astype(np.float64) - n.astype(np.float64)
    assert np.all(np.abs(t) <= 0.5) and np.array_equal(n, np.floor(n))
    np.testing.assert_array_equal((x - n).astype(np.float64), t)          # the difference is exact in fp32
    assert t[5] == np.float32(-1e-30) and t[6] == np.float32(0.49999997)
    s = np.linspace(-0.5, 0.5, 4001).astype(np.float32)
    assert np.max(ulps(run1(M.sinpi_reduced, s), np.sin(np.pi * s.astype(np.float64)))) <= 4


@pytest.mark.parametrize("name,fn,ref,ranges,bound,floor", [
    # x > 0: relative; x < 0 the reflection formula costs an absolute error near the negative roots.
    ("lgamma+", M.lgamma, torch.lgamma, [(1e-6, 0.5), (0.5, 3.0), (3.0, 60.0)], 5, 0.0),
    ("lgamma-", M.lgamma, torch.lgamma, [(-30.0, -1e-6)], 25, 6e-7),
    ("digamma+", M.digamma, torch.digamma, [(1e-6, 0.96), (0.96, 1.97), (1.97, 60.0)], 4, 0.0),
    ("digamma-", M.digamma, torch.digamma, [(-30.0, -1e-6)], 4, 3e-7),
    ("erfc", M.erfc, torch.erfc, [(-6.0, 0.47), (0.47, 4.0), (4.0, 9.1)], 8, 0.0),
    ("i0", M.i0, torch.special.i0, [(-20.0, 20.0), (20.0, 91.0)], 14, 0.0),
    ("i1", M.i1, torch.special.i1, [(-20.0, 20.0), (20.0, 91.0)], 14, 0.0),
    ("sinc", M.sinc, torch.sinc, [(-4.0, 4.0), (4.0, 1e4)], 3, 1e-15),
])
def test_special_function_error_within_stated_bound(name, fn, ref, ranges, bound, floor):
    x = wide_grid(*ranges)
    if name.endswith("-"):
        x = -x[np.abs(x) <= 30]
    got = run1(fn, x)
    with np.errstate(all="ignore"):
        want = oracle(ref, x)
    assert np.max(ulps(got, want, floor)) <= bound, name


def test_special_functions_specials_match_pytorch():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, -2.0, 1.0, 2.0, -2.5, 1e30, -1e30], np.float32)
    for fn, ref in [(M.lgamma, torch.lgamma), (M.digamma, torch.digamma), (M.erfc, torch.erfc),
                    (M.i0, torch.special.i0), (M.i1, torch.special.i1), (M.sinc, torch.sinc)]:
        got, want = run1(fn, x), ref(torch.from_numpy(x)).numpy()
        assert_specials_match(got, want)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, equal_nan=True)


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_polygamma_error_within_stated_bound(n):
    pos = np.concatenate([np.linspace(1e-3, 10.0, 1500), np.geomspace(10.0, 1e4, 300)]).astype(np.float32)
    neg = -np.linspace(1e-3, 40.0, 1501).astype(np.float32)
    neg = neg[neg != np.round(neg)]
    for x, bound, floor in [(pos, 2 * n + 5, 0.0), (neg, 2 * n + 5 if n % 2 else 48, 0.0)]:
        with np.errstate(all="ignore"):
            want = torch.polygamma(n, torch.from_numpy(x.astype(np.float64))).numpy()
        assert np.max(ulps(polygamma_fp32(n, x), want, floor)) <= bound, (n, x[0])


def test_polygamma_poles_and_limits():
    x = np.array([0.0, -0.0, -1.0, -3.0, np.inf, -np.inf, np.nan], np.float32)
    first, second = polygamma_fp32(1, x), polygamma_fp32(2, x)
    np.testing.assert_array_equal(first[:4], np.inf)          # +inf at every pole, both zeros
    np.testing.assert_array_equal(second[:4], -np.inf)
    assert first[4] == 0.0 and second[4] == 0.0 and np.isnan(first[5:]).all() and np.isnan(second[5:]).all()


def test_reference_gamma_family_matches_python_and_pytorch():
    x = np.concatenate([np.linspace(-30.5, 60.5, 9001), np.geomspace(1e-300, 1e300, 300)])
    x = x[x != np.round(x)]
    want = np.array([math.lgamma(v) for v in x])
    assert np.max(np.abs(R.lgamma(x) - want) / np.maximum(np.abs(want), 1.0)) <= 1e-14
    t = torch.from_numpy(x)
    np.testing.assert_allclose(R.digamma(x), torch.digamma(t).numpy(), rtol=1e-12, atol=1e-13)
    for n in (1, 2, 5):
        np.testing.assert_allclose(R.polygamma(x[np.abs(x) < 1e6], n), torch.polygamma(n, t[np.abs(t) < 1e6]).numpy(),
                                   rtol=1e-9, atol=1e-12)
    y = np.linspace(-700.0, 700.0, 7001)
    np.testing.assert_allclose(R.i0(y), torch.special.i0(torch.from_numpy(y)).numpy(), rtol=1e-14)
    np.testing.assert_allclose(R.i1(y), torch.special.i1(torch.from_numpy(y)).numpy(), rtol=1e-14)
    np.testing.assert_array_equal(R.sinc(np.array([1.0, -1.0, 2.0, 1e300])), [0.0, 0.0, 0.0, 0.0])
    assert R.lgamma(np.array([0.0, -0.0, -3.0, -np.inf, np.inf])).tolist() == [np.inf] * 5
    assert R.digamma(np.array([0.0, -0.0])).tolist() == [-np.inf, np.inf] and np.isnan(R.digamma(np.array([-2.0])))
