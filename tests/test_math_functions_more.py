"""The special functions (lgamma, digamma, polygamma, erfc, i0, sinc, mvlgamma) and the compositions
added beside them (fmax ... matrix_power), against PyTorch: values over wide ranges and dtypes,
PyTorch's special values and NaN rules, gradients in float64 (second order for the gamma chain), and
the errors each raises. The registry harness (test_ops.py, test_autograd_ops.py) covers the kernels
sample by sample; the helpers' ulp bounds are in test_math_helpers.py.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import neurarust as nr

RNG = np.random.default_rng(1234)


def N(t) -> np.ndarray:
    if isinstance(t, nr.Tensor):
        return t.detach().numpy()
    return t.detach().numpy()


def nrt(a, requires_grad: bool = False) -> nr.Tensor:
    t = nr.from_numpy(np.array(a))
    return t.requires_grad_() if requires_grad else t


def tht(a, requires_grad: bool = False) -> torch.Tensor:
    return torch.from_numpy(np.array(a)).requires_grad_(requires_grad)


def same(a, b, rtol=1e-6, atol=1e-7) -> None:
    a, b = N(a), N(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def grads_match(nr_fn, torch_fn, *arrays, rtol=1e-7, atol=1e-9) -> None:
    """The gradients of sum(w * f(...)) for every float64 array argument, NeuraRust against PyTorch."""
    xs = [nrt(a, a.dtype == np.float64) for a in arrays]
    ts = [tht(a, a.dtype == np.float64) for a in arrays]
    out, ref = nr_fn(*xs), torch_fn(*ts)
    out = out[0] if isinstance(out, tuple) else out
    ref = ref[0] if isinstance(ref, tuple) else ref
    w = RNG.uniform(0.5, 1.5, tuple(ref.shape))
    (out * nr.from_numpy(w)).sum().backward()
    (ref * torch.from_numpy(w)).sum().backward()
    for x, t in zip(xs, ts):
        if t.requires_grad:                       # an unused input: no gradient here, zeros in PyTorch
            got = np.zeros(x.shape) if x.grad is None else N(x.grad)
            np.testing.assert_allclose(got, t.grad.numpy(), rtol=rtol, atol=atol)


# -- special functions --------------------------------------------------------------------------------

WIDE = np.concatenate([np.linspace(-30.0, 60.0, 601), np.geomspace(1e-20, 1e20, 41), -np.geomspace(1e-6, 1e3, 19) + 0.25])
SPECIALS = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, -2.0, 1.0, 2.0, 0.5, -2.5])


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("name,torch_fn", [("lgamma", torch.lgamma), ("digamma", torch.digamma), ("erfc", torch.erfc),
                                           ("i0", torch.i0), ("sinc", torch.sinc)])
def test_special_function_values_match_pytorch(name, torch_fn, backend):
    x = WIDE if name != "i0" else np.linspace(-85.0, 85.0, 301)
    for dtype, rtol in ((np.float32, 2e-6), (np.float64, 1e-9)):
        v = np.concatenate([x, SPECIALS]).astype(dtype)
        with nr.backends.using(backend):
            got = getattr(nr, name)(nr.from_numpy(v))
        want = torch_fn(torch.from_numpy(v))
        # near the negative roots of lgamma and digamma and the zeros of sinc: absolute errors
        atol = {"lgamma": 2e-6, "digamma": 2e-6, "sinc": 1e-7}.get(name, 1e-40) if dtype == np.float32 else 1e-12
        same(got, want, rtol=rtol, atol=atol)
        assert got.dtype is (nr.float32 if dtype == np.float32 else nr.float64)


def test_special_functions_promote_integers_and_keep_halves():
    for name in ("lgamma", "digamma", "erfc", "i0", "sinc"):
        assert getattr(nr, name)(nr.tensor([1, 2, 3])).dtype is nr.float32
        h = getattr(nr, name)(nr.tensor([0.5, 1.5], dtype=nr.float16))
        assert h.dtype is nr.float16
        same(h.to(nr.float32), getattr(torch, name)(torch.tensor([0.5, 1.5], dtype=torch.float16)).float(), rtol=2e-3)
    assert nr.polygamma(2, nr.tensor([1, 2])).dtype is nr.float32


def test_erfc_keeps_relative_accuracy_in_the_tail():
    x = np.linspace(0.5, 9.0, 200).astype(np.float32)
    for backend in ("reference", "triton"):
        with nr.backends.using(backend):
            got = N(nr.erfc(nr.from_numpy(x))).astype(np.float64)
        want = torch.erfc(torch.from_numpy(x.astype(np.float64))).numpy()
        assert np.max(np.abs(got - want) / want) < 1e-6    # 1 - erf would have no digits left past 4


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
def test_polygamma_values_match_pytorch(n):
    x = np.concatenate([np.linspace(-20.3, 30.1, 203), np.geomspace(1e-3, 1e4, 30), [0.5, 1.0, 2.0, -2.5, np.nan]])
    for dtype, rtol in ((np.float32, 4e-6), (np.float64, 1e-9)):
        v = x.astype(dtype)
        # the float64 values as the oracle: PyTorch's float32 trigamma is off by 1e-5 at x < 0
        want = torch.polygamma(n, torch.from_numpy(v.astype(np.float64))).to(torch.from_numpy(v).dtype)
        for backend in ("reference", "triton"):
            with nr.backends.using(backend):
                got = nr.polygamma(n, nr.from_numpy(v))
            # odd s = n + 1 cancels near the zeros of even orders at x < 0 (PyTorch sums in double there)
            scale = np.abs(N(want)).max(initial=1.0, where=np.isfinite(N(want))) if n % 2 == 0 and n else 1.0
            same(got, want, rtol=rtol, atol=(2e-7 * scale if dtype == np.float32 else 1e-10 * scale))


def test_polygamma_method_inplace_poles_and_errors():
    x = nr.tensor([0.5, 1.0, 3.0])
    same(x.polygamma(1), torch.tensor([0.5, 1.0, 3.0]).polygamma(1))
    y = x.clone()
    assert y.polygamma_(2) is y
    same(y, torch.polygamma(2, torch.tensor([0.5, 1.0, 3.0])))
    poles = nr.tensor([0.0, -0.0, -1.0, -4.0])
    assert nr.polygamma(1, poles).tolist() == [math.inf] * 4
    assert nr.polygamma(2, poles).tolist() == [-math.inf] * 4
    assert nr.polygamma(3, nr.tensor([math.inf])).tolist() == [0.0]       # PyTorch: NaN for n >= 2
    with pytest.raises(nr.ArgumentError, match="negative n"):
        nr.polygamma(-1, x)
    with pytest.raises(nr.SignatureError, match="must be an int"):
        nr.polygamma(1.0, x)
    with pytest.raises(nr.ArgumentError, match="up to"):
        nr.polygamma(5000, x)


def test_gamma_chain_differentiates_to_the_third_order():
    v = np.array([0.3, 1.7, 4.2, -0.6, -2.3])
    x, t = nrt(v, True), tht(v, True)
    g1 = nr.autograd.grad(nr.lgamma(x).sum(), x, create_graph=True)[0]
    g2 = nr.autograd.grad(g1.sum(), x, create_graph=True)[0]
    g3 = nr.autograd.grad(g2.sum(), x)[0]
    h1 = torch.autograd.grad(torch.lgamma(t).sum(), t, create_graph=True)[0]
    h2 = torch.autograd.grad(h1.sum(), t, create_graph=True)[0]
    h3 = torch.autograd.grad(h2.sum(), t)[0]
    for a, b in ((g1, h1), (g2, h2), (g3, h3)):       # PyTorch's trigamma is good to about 1e-9
        np.testing.assert_allclose(N(a), N(b), rtol=1e-8)


@pytest.mark.parametrize("name", ["erfc", "i0", "sinc", "digamma"])
def test_special_function_gradients_match_pytorch(name):
    v = np.array([-2.7, -0.4, 0.0, 0.9, 3.3]) if name != "digamma" else np.array([-2.7, -0.4, 0.9, 3.3])
    grads_match(getattr(nr, name), getattr(torch, name), v)
    v = v[v != 0]                 # sinc's second derivative at 0: PyTorch gives NaN, NeuraRust 0 (it is -pi^2/3)
    x, t = nrt(v, True), tht(v, True)
    g = nr.autograd.grad(getattr(nr, name)(x).sum(), x, create_graph=True)[0]
    h = torch.autograd.grad(getattr(torch, name)(t).sum(), t, create_graph=True)[0]
    np.testing.assert_allclose(N(nr.autograd.grad(g.sum(), x)[0]), torch.autograd.grad(h.sum(), t)[0].numpy(),
                               rtol=1e-8, atol=1e-12)


def test_mvlgamma_values_gradients_and_errors():
    v = np.array([[1.6, 2.5], [3.0, 10.25]])
    for p in (1, 2, 3):
        same(nr.mvlgamma(nrt(v), p), torch.mvlgamma(tht(v), p), rtol=1e-12)
        grads_match(lambda x: nr.mvlgamma(x, p), lambda x: torch.mvlgamma(x, p), v)
    assert nr.mvlgamma(nr.tensor([3, 4]), 2).dtype is nr.float32
    with pytest.raises(nr.ArgumentError, match="greater than or equal to 1"):
        nr.mvlgamma(nrt(v), 0)


# -- compositions: values ------------------------------------------------------------------------------

def test_fmax_fmin_ignore_nan_and_send_ties_to_input():
    a = RNG.normal(size=(3, 4))
    b = RNG.normal(size=(4,))
    a[0, 0], b[1], a[2, 2], b[2], b[3] = np.nan, np.nan, np.nan, np.nan, a[1, 3]
    for name in ("fmax", "fmin"):
        same(getattr(nr, name)(nrt(a), nrt(b)), getattr(torch, name)(tht(a), tht(b)))
        same(getattr(nrt(a), name)(nrt(b)), getattr(torch, name)(tht(a), tht(b)))
        grads_match(getattr(nr, name), getattr(torch, name), np.nan_to_num(a), np.nan_to_num(b))
    same(nr.fmax(nr.tensor([1, 5]), nr.tensor([3, 2])), torch.fmax(torch.tensor([1, 5]), torch.tensor([3, 2])))


def test_float_power_ldexp_logaddexp2():
    x, e = np.array([2.0, 0.5, 3.0]), np.array([3.0, -1.5, 0.5])
    r = nr.float_power(nrt(x.astype(np.float32)), 2)
    assert r.dtype is nr.float64
    same(r, torch.float_power(tht(x.astype(np.float32)), 2))
    same(nr.float_power(2, nrt(e)), torch.float_power(2, tht(e)))
    grads_match(nr.float_power, torch.float_power, x, e)
    same(nr.ldexp(nrt(x), nr.tensor([1, -3, 200])), torch.ldexp(tht(x), torch.tensor([1, -3, 200])))
    grads_match(nr.ldexp, torch.ldexp, x, e)
    a = np.array([1.0, -np.inf, np.inf, 1000.0, -3.0])
    b = np.array([2.0, -np.inf, np.inf, 1000.0, 40.0])
    same(nr.logaddexp2(nrt(a), nrt(b)), torch.logaddexp2(tht(a), tht(b)), rtol=1e-12)
    grads_match(nr.logaddexp2, torch.logaddexp2, a[[0, 4]], b[[0, 4]])


def test_gcd_and_lcm_match_pytorch_including_worst_cases():
    x = np.concatenate([RNG.integers(-10 ** 6, 10 ** 6, 64), [0, 0, 7, 2 ** 62, 7540113804746346429]])
    y = np.concatenate([RNG.integers(-10 ** 6, 10 ** 6, 64), [0, 5, 0, 2 ** 61 + 1, 4660046610375530309]])  # Fibonacci pair
    same(nr.gcd(nrt(x), nrt(y)), torch.gcd(tht(x), tht(y)))
    small = (np.abs(x) < 10 ** 6) & (np.abs(y) < 10 ** 6)
    same(nr.lcm(nrt(x[small]), nrt(y[small])), torch.lcm(tht(x[small]), tht(y[small])))
    same(nr.tensor([12, 18], dtype=nr.int8).gcd(nr.tensor([8, -27], dtype=nr.int8)),
         torch.tensor([12, 18], dtype=torch.int8).gcd(torch.tensor([8, -27], dtype=torch.int8)))
    with pytest.raises(nr.DTypeError, match="integer"):
        nr.gcd(nr.tensor([1.0]), nr.tensor([2.0]))


def test_heaviside_frexp_nextafter():
    x = np.array([-1.0, 0.0, 2.0, np.nan, -0.0])
    same(nr.heaviside(nrt(x), nr.tensor([0.5], dtype=nr.float64)), torch.heaviside(tht(x), torch.tensor([0.5], dtype=torch.float64)))
    with pytest.raises(nr.DTypeError, match="different dtypes"):
        nr.heaviside(nrt(x), nr.tensor([0.5]))
    for dtype in (np.float32, np.float64):
        info = np.finfo(dtype)
        v = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, info.smallest_subnormal, info.max, -5.0, 0.75, info.tiny], dtype)
        m, e = nr.frexp(nr.from_numpy(v))
        tm, te = torch.frexp(torch.from_numpy(v))
        np.testing.assert_array_equal(N(m), tm.numpy())
        np.testing.assert_array_equal(N(e), te.numpy())
        assert e.dtype is nr.int32
        p = np.array([0.0, -0.0, 1.0, 1.0, -1.0, np.inf, np.nan, info.max, -info.smallest_subnormal], dtype)
        q = np.array([-1.0, 1.0, 2.0, 1.0, -2.0, 0.0, 1.0, np.inf, 0.0], dtype)
        np.testing.assert_array_equal(N(nr.nextafter(nr.from_numpy(p), nr.from_numpy(q))),
                                      torch.nextafter(torch.from_numpy(p), torch.from_numpy(q)).numpy())
    grads_match(lambda t: nr.frexp(t).mantissa, lambda t: torch.frexp(t).mantissa, np.array([3.0, -0.1, 100.0]))
    with pytest.raises(nr.DTypeError, match="floating"):
        nr.frexp(nr.tensor([1, 2]))


def test_renorm_dist_cdist():
    x = RNG.normal(size=(4, 3, 5))
    for p, dim, maxnorm in ((2, 0, 1.5), (1, 1, 2.0), (3.5, -1, 0.5)):
        same(nr.renorm(nrt(x), p, dim, maxnorm), torch.renorm(tht(x), p, dim, maxnorm))
        grads_match(lambda t: nr.renorm(t, p, dim, maxnorm), lambda t: torch.renorm(t, p, dim, maxnorm), x)
    with pytest.raises(nr.ShapeError, match="at least 2 dimensions"):
        nr.renorm(nr.ones(3), 2, 0, 1.0)
    a, b = RNG.normal(size=(2, 5, 3)), RNG.normal(size=(1, 4, 3))
    b[0, 0] = a[0, 1]                                        # a zero distance: gradient 0, as PyTorch
    for p in (0.0, 1.0, 2.0, 3.0, math.inf):
        same(nr.cdist(nrt(a), nrt(b), p), torch.cdist(tht(a), tht(b), p), rtol=1e-12)
        same(nr.dist(nrt(a), nrt(b[:, :1]), p), torch.dist(tht(a), tht(b[:, :1]), p), rtol=1e-12)
    grads_match(nr.cdist, torch.cdist, a, b)
    grads_match(lambda s, t: nr.cdist(s, t, 1.0), lambda s, t: torch.cdist(s, t, 1.0), a, b)
    grads_match(nr.dist, torch.dist, a, b[:, :1])
    with pytest.raises(nr.ShapeError, match="same number of columns"):
        nr.cdist(nr.ones(2, 3), nr.ones(2, 4))


def test_cov_and_corrcoef():
    x = RNG.normal(size=(3, 6))
    fw, aw = np.array([1, 0, 2, 3, 1, 1]), RNG.uniform(0.2, 2.0, 6)
    for kw in ({}, {"correction": 0}, {"fweights": fw}, {"aweights": aw}, {"fweights": fw, "aweights": aw, "correction": 2}):
        nk = {k: nrt(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        tk = {k: tht(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        same(nr.cov(nrt(x), **nk), torch.cov(tht(x), **tk), rtol=1e-12)
        grads_match(lambda t: nr.cov(t, **nk), lambda t: torch.cov(t, **tk), x)
    same(nr.cov(nr.tensor([1, 2, 4])), torch.cov(torch.tensor([1, 2, 4])))
    same(nr.corrcoef(nrt(x)), torch.corrcoef(tht(x)), rtol=1e-12)
    grads_match(nr.corrcoef, torch.corrcoef, x)
    with pytest.raises(nr.ArgumentError, match="cannot be negative"):
        nr.cov(nrt(x), fweights=nr.tensor([1, -1, 1, 1, 1, 1]))
    with pytest.raises(nr.ShapeError, match="two or fewer"):
        nr.cov(nr.ones(2, 2, 2))


def test_aminmax():
    x = RNG.normal(size=(3, 4))
    for kw in ({}, {"dim": 0}, {"dim": -1, "keepdim": True}, {"keepdim": True}):
        r, t = nr.aminmax(nrt(x), **kw), torch.aminmax(tht(x), **kw)
        same(r.min, t.min)
        same(r.max, t.max)
    with pytest.raises(nr.ArgumentError, match="empty"):
        nr.aminmax(nr.zeros(0))


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_and_nanquantile(interpolation):
    x = RNG.normal(size=(3, 7))
    x[1, 2] = np.nan
    x[2] = np.nan
    for name in ("quantile", "nanquantile"):
        for q in (0.0, 0.3, 0.5, 1.0, np.array([0.1, 0.5, 0.75])):
            for dim, keepdim in ((None, False), (None, True), (0, False), (1, True)):
                nq = nrt(q) if isinstance(q, np.ndarray) else q
                tq = tht(q) if isinstance(q, np.ndarray) else q
                same(getattr(nr, name)(nrt(x), nq, dim, keepdim, interpolation=interpolation),
                     getattr(torch, name)(tht(x), tq, dim, keepdim, interpolation=interpolation))
    clean = RNG.normal(size=(4, 5))
    for name in ("quantile", "nanquantile"):
        grads_match(lambda t: getattr(nr, name)(t, nrt(np.array([0.2, 0.9])), 1, interpolation=interpolation),
                    lambda t: getattr(torch, name)(t, tht(np.array([0.2, 0.9])), 1, interpolation=interpolation), clean)


def test_quantile_errors():
    x = nr.tensor([1.0, 2.0])
    with pytest.raises(nr.ArgumentError, match="range"):
        nr.quantile(x, 1.5)
    with pytest.raises(nr.DTypeError, match="float or double"):
        nr.quantile(nr.tensor([1, 2]), 0.5)
    with pytest.raises(nr.ArgumentError, match="interpolation"):
        nr.quantile(x, 0.5, interpolation="cubic")
    with pytest.raises(nr.DTypeError, match="same dtype"):
        nr.quantile(x, nr.tensor([0.5], dtype=nr.float64))


def test_nanmedian():
    x = RNG.permutation(21).reshape(3, 7).astype(np.float64)
    x[0, 3], x[1, 1], x[1, 5] = np.nan, np.nan, np.nan
    same(nr.nanmedian(nrt(x)), torch.nanmedian(tht(x)))
    for dim in (0, 1, -1):
        r, t = nr.nanmedian(nrt(x), dim), torch.nanmedian(tht(x), dim)
        same(r.values, t.values)
        np.testing.assert_array_equal(N(r.indices), t.indices.numpy())
    r = nr.nanmedian(nrt(x), 1, keepdim=True)
    assert r.values.shape == (3, 1) and r.indices.shape == (3, 1)
    assert math.isnan(nr.nanmedian(nr.tensor([math.nan, math.nan])).item())
    grads_match(lambda t: nr.nanmedian(t, 1).values, lambda t: torch.nanmedian(t, 1).values, np.nan_to_num(x, nan=30.0))


def test_histogram():
    x = RNG.normal(size=60).astype(np.float32)
    w = RNG.uniform(size=60).astype(np.float32)
    for kw in ({"bins": 5}, {"bins": 7, "range": (-1.0, 1.0)}, {"bins": 4, "weight": w, "density": True},
               {"bins": np.array([-3.0, -1.0, 0.0, 0.5, 3.0], np.float32)}):
        nk = {k: nrt(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        tk = {k: tht(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        r, t = nr.histogram(nrt(x), **nk), torch.histogram(tht(x), **tk)
        same(r.hist, t.hist)
        same(r.bin_edges, t.bin_edges)
    r = nr.histogram(nr.tensor([1.0, 1.0, 1.0]), bins=3)                  # equal min and max: widened by 0.5
    assert r.hist.tolist() == [0.0, 3.0, 0.0] and r.bin_edges.tolist()[0] == 0.5
    with pytest.raises(nr.DTypeError, match="floating"):
        nr.histogram(nr.tensor([1, 2]), 2)


def test_trapezoid_family():
    y = RNG.normal(size=(3, 5))
    x1 = np.sort(RNG.normal(size=5))
    x2 = np.sort(RNG.normal(size=(3, 5)), axis=1)
    for name in ("trapezoid", "trapz", "cumulative_trapezoid"):
        nf, tf = getattr(nr, name), getattr(torch, name)
        same(nf(nrt(y)), tf(tht(y)), rtol=1e-12)
        same(nf(nrt(y), dx=0.5, dim=0), tf(tht(y), dx=0.5, dim=0), rtol=1e-12)
        same(nf(nrt(y), nrt(x1)), tf(tht(y), tht(x1)), rtol=1e-12)
        same(nf(nrt(y), nrt(x2)), tf(tht(y), tht(x2)), rtol=1e-12)
        grads_match(nf, tf, y, x2)
    same(nr.trapezoid(nr.tensor([1, 2, 3])), torch.trapezoid(torch.tensor([1, 2, 3])))
    assert nr.trapezoid(nr.zeros(2, 0)).tolist() == [0.0, 0.0]


def test_unravel_index_and_combinations():
    idx = np.array([[5, -1], [0, 7]])
    for shape in ((2, 3), (4,), 3, (2, 1, 3)):
        got, want = nr.unravel_index(nrt(idx), shape), torch.unravel_index(tht(idx), shape)
        assert [g.tolist() for g in got] == [w.tolist() for w in want]
    with pytest.raises(nr.DTypeError, match="integer"):
        nr.unravel_index(nr.tensor([1.0]), (2,))
    with pytest.raises(nr.ArgumentError, match="negative"):
        nr.unravel_index(nr.tensor([1]), (2, -1))
    v = nr.tensor([4.0, 5.0, 6.0, 7.0])
    for r in (0, 1, 2, 3, 5):
        for with_replacement in (False, True):
            got = nr.combinations(v, r, with_replacement)
            want = torch.combinations(torch.tensor([4.0, 5.0, 6.0, 7.0]), r, with_replacement)
            assert tuple(got.shape) == tuple(want.shape) and got.tolist() == want.tolist()
    grads_match(lambda t: nr.combinations(t, 2), lambda t: torch.combinations(t, 2), np.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("name", ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"])
def test_window_functions(name):
    for length in (0, 1, 2, 5, 8, 33):
        for periodic in (True, False):
            for dtype, tdtype, tol in ((nr.float64, torch.float64, 1e-12), (nr.float32, torch.float32, 1e-6)):
                got = getattr(nr, name)(length, periodic, dtype=dtype)
                assert got.dtype is dtype
                same(got, getattr(torch, name)(length, periodic, dtype=tdtype), rtol=tol, atol=tol)
    assert getattr(nr, name)(4).dtype is nr.float32 and getattr(nr, name)(4, requires_grad=True).requires_grad
    with pytest.raises(nr.DTypeError, match="floating point"):
        getattr(nr, name)(4, dtype=nr.int64)
    with pytest.raises(nr.ArgumentError, match="non-negative"):
        getattr(nr, name)(-1)


def test_kaiser_and_hamming_parameters():
    same(nr.kaiser_window(7, False, 3.5, dtype=nr.float64), torch.kaiser_window(7, False, 3.5, dtype=torch.float64), rtol=1e-12)
    same(nr.hamming_window(6, True, 0.6, 0.3, dtype=nr.float64), torch.hamming_window(6, True, 0.6, 0.3, dtype=torch.float64),
         rtol=1e-12)


# -- matrices --------------------------------------------------------------------------------------------

def test_cross_and_linalg_cross():
    a, b = RNG.normal(size=(2, 4, 3)), RNG.normal(size=(1, 4, 3))
    same(nr.linalg.cross(nrt(a), nrt(b)), torch.linalg.cross(tht(a), tht(b)), rtol=1e-12)
    same(nr.cross(nrt(a), nrt(b), dim=2), torch.cross(tht(a), tht(b), dim=2), rtol=1e-12)
    c, d = RNG.normal(size=(3, 3, 2)), RNG.normal(size=(3, 3, 2))
    same(nr.cross(nrt(c), nrt(d)), torch.cross(tht(c), tht(d), dim=0), rtol=1e-12)   # default: the first dim of size 3
    same(nrt(c).cross(nrt(d), 1), tht(c).cross(tht(d), 1), rtol=1e-12)
    grads_match(lambda s, t: nr.linalg.cross(s, t), lambda s, t: torch.linalg.cross(s, t), a, b)
    with pytest.raises(nr.ShapeError, match="must have length 3"):
        nr.linalg.cross(nr.ones(2, 4), nr.ones(2, 4))
    with pytest.raises(nr.ShapeError, match="same number of dimensions"):
        nr.linalg.cross(nr.ones(2, 3), nr.ones(3))


def test_addr_diagflat_vander():
    m, u, v = RNG.normal(size=(3, 4)), RNG.normal(size=3), RNG.normal(size=4)
    for kw in ({}, {"beta": 0.5, "alpha": 2.0}, {"beta": 0}):
        same(nr.addr(nrt(m), nrt(u), nrt(v), **kw), torch.addr(tht(m), tht(u), tht(v), **kw), rtol=1e-12)
        grads_match(lambda a, b, c: nr.addr(a, b, c, **kw), lambda a, b, c: torch.addr(a, b, c, **kw), m, u, v)
    nan_input = np.full((3, 4), np.nan)
    same(nr.addr(nrt(nan_input), nrt(u), nrt(v), beta=0), torch.addr(tht(nan_input), tht(u), tht(v), beta=0))
    same(nr.addr(nr.tensor([[1, 2]]), nr.tensor([3]), nr.tensor([4, 5]), beta=2, alpha=3),
         torch.addr(torch.tensor([[1, 2]]), torch.tensor([3]), torch.tensor([4, 5]), beta=2, alpha=3))
    with pytest.raises(nr.ShapeError, match="1-D"):
        nr.addr(nrt(m), nrt(m), nrt(v))
    x = RNG.normal(size=(2, 2))
    for offset in (0, 1, -2):
        same(nr.diagflat(nrt(x), offset), torch.diagflat(tht(x), offset))
    grads_match(nr.diagflat, torch.diagflat, x)
    p = np.array([1.5, -2.0, 0.5])
    for n in (None, 0, 1, 4):
        for increasing in (False, True):
            same(nr.vander(nrt(p), n, increasing), torch.vander(tht(p), n, increasing), rtol=1e-12)
    assert nr.vander(nr.tensor([1, 2])).dtype is nr.int64 and nr.vander(nr.tensor([True, False])).dtype is nr.int64
    # PyTorch's vander writes its result in place and cannot differentiate: the powers, written out
    grads_match(lambda t: nr.vander(t, 4), lambda t: torch.stack([t ** k for k in (3, 2, 1, 0)], 1), p)


def test_chain_matmul_and_matrix_power():
    a, b, c = RNG.normal(size=(2, 3)), RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2))
    with pytest.warns(UserWarning):
        want = torch.chain_matmul(tht(a), tht(b), tht(c))
    same(nr.chain_matmul(nrt(a), nrt(b), nrt(c)), want, rtol=1e-12)
    grads_match(nr.chain_matmul, lambda *t: torch.linalg.multi_dot(t), a, b, c)
    p = RNG.normal(size=(2, 3, 3)) * 0.7
    for n in (0, 1, 2, 3, 6):
        same(nr.matrix_power(nrt(p), n), torch.matrix_power(tht(p), n), rtol=1e-10, atol=1e-12)
        same(nr.linalg.matrix_power(nrt(p), n), torch.linalg.matrix_power(tht(p), n), rtol=1e-10, atol=1e-12)
        if n:                     # n = 0 is a constant identity (no graph; PyTorch's gradient is zero)
            grads_match(lambda t: nr.matrix_power(t, n), lambda t: torch.matrix_power(t, n), p, rtol=1e-9)
    same(nrt(p).matrix_power(2), tht(p).matrix_power(2), rtol=1e-12)
    same(nr.matrix_power(nr.tensor([[1, 1], [0, 1]]), 5), torch.matrix_power(torch.tensor([[1, 1], [0, 1]]), 5))
    same(nr.matrix_power(nrt(p), -1), torch.matrix_power(tht(p), -1), rtol=1e-10, atol=1e-12)  # inverts first
    with pytest.raises(nr.ShapeError, match="square"):
        nr.matrix_power(nr.ones(2, 3), 2)


def test_names_are_public_and_methods_attached():
    for name in ("fmax", "fmin", "float_power", "gcd", "lcm", "heaviside", "ldexp", "frexp", "logaddexp2", "nextafter",
                 "renorm", "dist", "cdist", "cov", "corrcoef", "aminmax", "quantile", "nanquantile", "nanmedian",
                 "histogram", "trapezoid", "trapz", "cumulative_trapezoid", "unravel_index", "combinations",
                 "hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window", "mvlgamma",
                 "cross", "addr", "diagflat", "vander", "chain_matmul", "matrix_power", "lgamma", "digamma",
                 "polygamma", "erfc", "i0", "sinc"):
        assert callable(getattr(nr, name)) and name in dir(nr), name
    for name in ("fmax", "gcd", "ldexp", "frexp", "nextafter", "renorm", "dist", "aminmax", "quantile", "nanmedian",
                 "histogram", "cov", "corrcoef", "mvlgamma", "cross", "addr", "diagflat", "matrix_power", "lgamma",
                 "digamma", "polygamma", "erfc", "i0", "sinc", "lgamma_", "erfc_", "i0_"):
        assert hasattr(nr.Tensor, name), name
    assert {"cross", "matrix_power"} <= set(dir(nr.linalg))
