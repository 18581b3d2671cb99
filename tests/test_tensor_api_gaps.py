"""PyTorch's Tensor methods and top-level functions that NeuraRust lacked (aliases, in-place forms,
in-place view ops, as_strided, the view scatters, index_reduce/put, metadata, small utilities),
checked against torch: values, dtypes, shapes, gradients (float64), and for in-place forms the
result of the out-of-place op, a version bump and a refused leaf."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import neurarust as nr
from neurarust.errors import ArgumentError, AutogradError, DTypeError, ShapeError

RNG = np.random.default_rng(0)
X = np.array([[0.3, -0.6, 0.9], [0.25, 0.5, -0.1]])           # inside (-1, 1): every domain fits
OTHER = np.array([[1.5, -2.0, 0.5], [0.7, 2.5, -1.2]])
ABOVE1 = np.array([[1.5, 2.0, 3.5], [1.1, 4.0, 2.2]])
W = np.arange(1.0, 7.0).reshape(2, 3)                         # weights of the loss sum(y * W)


def pair(a, requires_grad=False, dtype=np.float64):
    a = np.asarray(a, dtype=dtype)
    return (nr.tensor(a, requires_grad=requires_grad), torch.tensor(a, requires_grad=requires_grad))


def close(a, b, **kw):
    b = b.detach() if isinstance(b, torch.Tensor) else b
    a = a.detach() if isinstance(a, nr.Tensor) else a
    if isinstance(b, torch.Tensor):
        assert tuple(a.shape) == tuple(b.shape)
        assert a.dtype.name == str(b.dtype).replace("torch.", "")
    np.testing.assert_allclose(np.asarray(a.tolist() if isinstance(a, nr.Tensor) else a, dtype=np.float64),
                               np.asarray(b.tolist() if isinstance(b, torch.Tensor) else b, dtype=np.float64),
                               rtol=kw.get("rtol", 1e-12), atol=kw.get("atol", 1e-12), equal_nan=True)


def grad_of(x):
    g = x.grad
    if g is None or (isinstance(g, torch.Tensor) and g._is_zerotensor()):
        return np.zeros(tuple(x.shape))
    return np.asarray(g.tolist())


# -- aliases: top-level function, method, in-place method --------------------------------------------

ARGS = {"X": X, "OTHER": OTHER, "ABOVE1": ABOVE1, "HALF": ABOVE1 / 5}
# name: (input, other arguments (names of arrays above, or plain values), differentiable)
ALIASES = {
    "absolute": ("X", (), True), "arccos": ("X", (), True), "arcsin": ("X", (), True), "arctan": ("X", (), True),
    "arctan2": ("X", ("OTHER",), True), "arccosh": ("ABOVE1", (), True), "arcsinh": ("X", (), True),
    "arctanh": ("X", (), True), "acosh": ("ABOVE1", (), True), "asinh": ("OTHER", (), True),
    "atanh": ("X", (), True), "greater": ("X", ("OTHER",), False), "greater_equal": ("X", (0.5,), False),
    "less": ("X", ("OTHER",), False), "less_equal": ("X", (0.5,), False), "not_equal": ("X", (0.5,), False),
    "multiply": ("X", ("OTHER",), True), "divide": ("X", ("OTHER",), True), "subtract": ("X", ("OTHER",), True),
    "negative": ("X", (), True), "fix": ("OTHER", (), True),
}


def _args(lib, names):
    return [(nr.tensor(ARGS[a]) if lib is nr else torch.tensor(ARGS[a])) if isinstance(a, str) else a for a in names]


@pytest.mark.parametrize("name", sorted(ALIASES))
def test_alias_function_and_method_match_torch(name):
    src, rest, differentiable = ALIASES[name]
    x, tx = pair(ARGS[src], requires_grad=differentiable)
    out, tout = getattr(nr, name)(x, *_args(nr, rest)), getattr(torch, name)(tx, *_args(torch, rest))
    close(out, tout)
    close(getattr(x, name)(*_args(nr, rest)), getattr(tx, name)(*_args(torch, rest)))
    if differentiable:
        (out * nr.tensor(W)).sum().backward()
        (tout * torch.tensor(W)).sum().backward()
        close(grad_of(x), grad_of(tx))


def test_alias_keywords_and_out():
    x, tx = pair(OTHER)
    close(nr.divide(x, 0.7, rounding_mode="floor"), torch.divide(tx, 0.7, rounding_mode="floor"))
    close(x.divide(0.7, rounding_mode="trunc"), tx.divide(0.7, rounding_mode="trunc"))
    close(nr.subtract(x, 2.0, alpha=3), torch.subtract(tx, 2.0, alpha=3))
    out = nr.empty(2, 3, dtype=nr.float64)
    assert nr.absolute(x, out=out) is out
    close(out, torch.absolute(tx))
    with pytest.raises(DTypeError):
        nr.negative(nr.tensor([True]))


# -- the inverse hyperbolic functions: accuracy over the whole range -----------------------------------

@pytest.mark.parametrize("name", ["asinh", "acosh", "atanh"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_inverse_hyperbolics_are_accurate(name, dtype):
    mags = np.logspace(-30, 30, 121) if dtype == "float64" else np.logspace(-30, 30, 121)[:-10]
    v = {"asinh": np.concatenate([-mags, [0.0, -0.0, np.inf, -np.inf, np.nan], mags]),
         "acosh": np.concatenate([1 + mags, [1.0, 0.5, -2.0, np.inf, np.nan]]),
         "atanh": np.concatenate([np.tanh(np.linspace(-9, 9, 101)), [1.0, -1.0, 1.5, -0.0, np.nan]])}[name]
    x, tx = pair(v, dtype=dtype)
    rtol = 4e-16 if dtype == "float64" else 2.5e-7
    close(getattr(nr, name)(x), getattr(torch, name)(tx), rtol=rtol, atol=0)
    if name == "asinh":  # signed zeros kept
        assert np.signbit(nr.asinh(nr.tensor([-0.0])).item())


def test_inverse_hyperbolics_promote_integers():
    x, tx = pair([1, 2, 3], dtype=np.int64)
    for name in ("asinh", "acosh", "atanh"):
        close(getattr(nr, name)(x), getattr(torch, name)(tx), rtol=1e-6)


def test_inverse_hyperbolic_gradients_have_no_nan_from_untaken_branches():
    x = nr.tensor([-1e200, -3.0, -0.0, 0.0, 2.0, 1e200], dtype=nr.float64, requires_grad=True)
    tx = torch.tensor(x.tolist(), dtype=torch.float64, requires_grad=True)
    nr.asinh(x).sum().backward()
    torch.asinh(tx).sum().backward()
    close(x.grad, tx.grad, rtol=1e-13)
    y = nr.tensor([1.5, 1e200], dtype=nr.float64, requires_grad=True)
    ty = torch.tensor(y.tolist(), dtype=torch.float64, requires_grad=True)
    nr.acosh(y).sum().backward()
    torch.acosh(ty).sum().backward()
    close(y.grad, ty.grad, rtol=1e-13)


# -- in-place forms ------------------------------------------------------------------------------

# name: (input, arguments, torch name, differentiable)
INPLACE = {
    "absolute_": ("X", ()), "arccos_": ("X", ()), "arcsin_": ("X", ()), "arctan_": ("X", ()),
    "arctan2_": ("X", ("OTHER",)), "multiply_": ("X", ("OTHER",)), "divide_": ("X", ("OTHER",)),
    "subtract_": ("X", ("OTHER",)), "negative_": ("X", ()), "fix_": ("OTHER", ()), "true_divide_": ("X", ("OTHER",)),
    "clamp_min_": ("X", (0.0,)), "clamp_max_": ("X", (0.2,)), "clip_": ("X", (-0.5, 0.5)), "cumsum_": ("X", (1,)),
    "cumprod_": ("X", (1,)), "deg2rad_": ("X", ()), "rad2deg_": ("X", ()), "frac_": ("OTHER", ()), "sgn_": ("X", ()),
    "hypot_": ("X", ("OTHER",)), "xlogy_": ("X", ("ABOVE1",)), "logit_": ("HALF", ()), "acosh_": ("ABOVE1", ()),
    "asinh_": ("OTHER", ()), "atanh_": ("X", ()), "arccosh_": ("ABOVE1", ()), "arcsinh_": ("X", ()),
    "arctanh_": ("X", ()), "greater_": ("X", ("OTHER",)), "greater_equal_": ("X", (0.5,)), "less_": ("X", ("OTHER",)),
    "less_equal_": ("X", (0.5,)), "not_equal_": ("X", (0.5,)),
}
# torch has no derivative for these in-place forms: compare with its out-of-place op
TORCH_OUT_OF_PLACE = {"acosh_", "asinh_", "atanh_", "arccosh_", "arcsinh_", "arctanh_"}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_forms(name):
    src, rest = INPLACE[name]
    x, tx = pair(ARGS[src], requires_grad=True)
    y, ty = x * 1, tx * 1
    before = y._version
    assert getattr(y, name)(*_args(nr, rest)) is y
    assert y._version > before
    if name in TORCH_OUT_OF_PLACE:
        ty = getattr(ty, name[:-1])(*_args(torch, rest))
    else:
        getattr(ty, name)(*_args(torch, rest))
    close(y, ty)
    close(y, getattr(x.detach(), name[:-1])(*_args(nr, rest)))          # = the out-of-place op
    (y * nr.tensor(W)).sum().backward()
    (ty * torch.tensor(W)).sum().backward()
    close(grad_of(x), grad_of(tx))
    with pytest.raises(AutogradError, match="leaf"):
        getattr(nr.tensor(ARGS[src], requires_grad=True), name)(*_args(nr, rest))
    with nr.no_grad():  # allowed outside grad mode, as in PyTorch
        getattr(nr.tensor(ARGS[src], requires_grad=True), name)(*_args(nr, rest))


def test_inplace_forms_refuse_what_cannot_be_written_back():
    with pytest.raises(DTypeError):
        nr.tensor([1, 2]).true_divide_(2)
    with pytest.raises(DTypeError):
        nr.tensor([1, 2]).deg2rad_()
    with pytest.raises(ShapeError):
        nr.zeros(3).hypot_(nr.zeros(2, 3))
    with pytest.raises(AutogradError, match="view of a leaf"):
        nr.zeros(2, 3, requires_grad=True)[0].cumsum_(0)
    with pytest.raises(AutogradError, match="leaf"):  # a view made a leaf of its own
        nr.arange(6.0).reshape(2, 3).requires_grad_().t_()


@pytest.mark.parametrize("name,args", [("addmm_", ((2, 4), (4, 3))), ("addmv_", ((2, 3), (3,))),
                                       ("addbmm_", ((5, 2, 4), (5, 4, 3))), ("baddbmm_", ((5, 2, 4), (5, 4, 3)))])
def test_matmul_inplace_forms(name, args):
    shape = {"addmm_": (2, 3), "addmv_": (2,), "addbmm_": (2, 3), "baddbmm_": (5, 2, 3)}[name]
    c, tc = pair(RNG.standard_normal(shape), requires_grad=True)
    mats = [pair(RNG.standard_normal(s), requires_grad=True) for s in args]
    y, ty = c * 1, tc * 1
    getattr(y, name)(*[m for m, _ in mats], beta=0.5, alpha=2)
    getattr(ty, name)(*[t for _, t in mats], beta=0.5, alpha=2)
    close(y, ty)
    y.sum().backward()
    ty.sum().backward()
    for (m, t) in [(c, tc)] + mats:
        close(grad_of(m), grad_of(t))


# -- in-place view ops -----------------------------------------------------------------------------

VIEW_OPS = {"t_": (), "transpose_": (0, 1), "swapaxes_": (1, 0), "swapdims_": (0, 1), "squeeze_": (),
            "unsqueeze_": (1,), "as_strided_": ((3, 2), (1, 3))}


@pytest.mark.parametrize("name", sorted(VIEW_OPS))
def test_inplace_view_ops(name):
    args = VIEW_OPS[name]
    x, tx = pair(np.arange(6.0).reshape(2, 3), requires_grad=True)
    with pytest.raises(AutogradError, match="leaf"):
        getattr(x, name)(*args)
    y, ty = x * 2, tx * 2
    before = y._version
    assert getattr(y, name)(*args) is y
    getattr(ty, name)(*args)
    assert y._version == before + 1 and tuple(y.shape) == tuple(ty.shape) and y.stride() == ty.stride()
    close(y, ty)
    w = np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape))
    (y * nr.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    close(x.grad, tx.grad)


def test_inplace_view_ops_on_views_and_without_grad():
    x, tx = pair(np.zeros((2, 3)), requires_grad=True)
    y, ty = x * 1, tx * 1
    v, tv = y[:, 1:], ty[:, 1:]
    v.t_()
    tv.t_()
    v.mul_(nr.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tv.mul_(torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64))
    (y * nr.tensor(W)).sum().backward()
    (ty * torch.tensor(W)).sum().backward()
    close(x.grad, tx.grad)
    z = nr.zeros(1, 3)
    z.squeeze_().unsqueeze_(-1)
    assert z.shape == (3, 1) and z.stride() == torch.zeros(1, 3).squeeze_().unsqueeze_(-1).stride()
    leaf = nr.ones(2, 3, requires_grad=True)
    with nr.no_grad():
        leaf.t_()
    assert leaf.shape == (3, 2) and leaf.is_leaf


# -- as_strided ---------------------------------------------------------------------------------

@pytest.mark.parametrize("geometry", [((3, 2), (1, 1)), ((2, 3), (4, 1), 1), ((4,), (3,), 0), ((2, 2), (0, 1), 2),
                                      ((0, 3), (1, 1))])
def test_as_strided_values_and_gradient(geometry):
    x, tx = pair(np.arange(12.0), requires_grad=True)
    out, tout = x.as_strided(*geometry), tx.as_strided(*geometry)
    close(out, tout)
    assert out.stride() == tout.stride() and out.storage_offset() == tout.storage_offset()
    close(nr.as_strided(x, *geometry), tout)
    w = np.arange(1.0, out.numel() + 1).reshape(tuple(out.shape))
    (out * nr.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    close(x.grad, tx.grad)


def test_as_strided_of_a_view_and_its_limits():
    x, tx = pair(np.arange(12.0), requires_grad=True)
    out, tout = x[2:].as_strided((3,), (2,), 4), tx[2:].as_strided((3,), (2,), 4)
    close(out, tout)
    out.sum().backward()
    tout.sum().backward()
    close(x.grad, tx.grad)
    with pytest.raises(ShapeError, match="out of bounds"):
        nr.zeros(4).as_strided((5,), (1,))
    with pytest.raises(ArgumentError):
        nr.zeros(4).as_strided((2,), (-1,))
    with pytest.raises(AutogradError, match="outside its input"):   # memory the input does not cover
        nr.zeros(6, requires_grad=True)[2:4].as_strided((2,), (1,), 0).sum().backward()
    y = nr.arange(6.0)
    view = y.as_strided((2,), (3,), 1)
    view.fill_(-1.0)
    assert y.tolist() == [0.0, -1.0, 2.0, 3.0, -1.0, 5.0]


# -- scatters, index_reduce, put, fill_diagonal_ ---------------------------------------------------

SCATTERS = [("select_scatter", (4,), (0, 1)), ("select_scatter", (3,), (1, -1)),
            ("slice_scatter", (3, 2), (1, 1, None, 2)), ("slice_scatter", (2, 4), (0, 0, 2)),
            ("diagonal_scatter", (3,), ()), ("diagonal_scatter", (3,), (1,)), ("diagonal_scatter", (3,), (-1, 1, 0))]


@pytest.mark.parametrize("name,src_shape,args", SCATTERS)
def test_view_scatters_match_torch(name, src_shape, args):
    x, tx = pair(RNG.standard_normal((3, 4)), requires_grad=True)
    s, ts = pair(RNG.standard_normal(src_shape), requires_grad=True)
    out, tout = getattr(nr, name)(x, s, *args), getattr(torch, name)(tx, ts, *args)
    close(out, tout)
    close(getattr(x.detach(), name)(s.detach(), *args), tout)
    w = RNG.standard_normal((3, 4))
    (out * nr.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    close(x.grad, tx.grad)
    close(s.grad, ts.grad)
    with pytest.raises(ShapeError, match="src"):
        getattr(nr, name)(x, nr.zeros(7, dtype=nr.float64), *args)


@pytest.mark.parametrize("name,args", [("select_scatter", (0, 1)), ("slice_scatter", (1, 0, 2)),
                                       ("diagonal_scatter", (1,)), ("as_strided_scatter", ((2,), (5,), 1))])
def test_view_scatters_keep_a_dense_layout(name, args):
    base = RNG.standard_normal((3, 4))
    x, tx = pair(base, requires_grad=True)
    src = {"select_scatter": (3,), "slice_scatter": (4, 2), "diagonal_scatter": (2,), "as_strided_scatter": (2,)}[name]
    s, ts = pair(RNG.standard_normal(src), requires_grad=True)
    out = getattr(nr, name)(x.t(), s, *args)
    with torch.no_grad():   # torch refuses as_strided_scatter's gradient for a non-contiguous input
        expect = getattr(torch, name)(tx.detach().t(), ts.detach(), *args)
    assert out.stride() == expect.stride() == (1, 4)
    close(out, expect)                     # as_strided_scatter's positions count in that layout
    if name == "as_strided_scatter":
        return
    tout = getattr(torch, name)(tx.t(), ts, *args)
    (out * nr.tensor(base.T.copy())).sum().backward()
    (tout * torch.tensor(base.T.copy())).sum().backward()
    close(s.grad, ts.grad)
    close(x.grad, tx.grad)


def test_as_strided_scatter():
    x, tx = pair(RNG.standard_normal((3, 4)), requires_grad=True)
    s, ts = pair(RNG.standard_normal((2, 2)), requires_grad=True)
    out = nr.as_strided_scatter(x, s, (2, 2), (1, 4), 1)
    tout = torch.as_strided_scatter(tx, ts, (2, 2), (1, 4), 1)
    close(out, tout)
    (out * nr.arange(12.0, dtype=nr.float64).reshape(3, 4)).sum().backward()
    (tout * torch.arange(12.0, dtype=torch.float64).reshape(3, 4)).sum().backward()
    close(s.grad, ts.grad)
    # the input's gradient: the loss weights where the input survives, 0 where src overwrote it
    # (PyTorch's as_strided_scatter backward puts the weights in the overwritten places instead)
    expect = np.arange(12.0).reshape(3, 4)
    expect.reshape(-1)[[1, 2, 5, 6]] = 0
    close(x.grad, expect)


@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_index_reduce(reduce, include_self):
    x, tx = pair(RNG.standard_normal((4, 3)), requires_grad=True)
    s, ts = pair(RNG.standard_normal((5, 3)), requires_grad=True)
    idx = [0, 2, 0, 3, 2]
    out = x.index_reduce(0, nr.tensor(idx), s, reduce, include_self=include_self)
    with warnings.catch_warnings():  # torch: "index_reduce() is in beta"
        warnings.simplefilter("ignore")
        tout = tx.index_reduce(0, torch.tensor(idx), ts, reduce, include_self=include_self)
    close(out, tout)
    close(nr.index_reduce(x, 0, nr.tensor(idx), s, reduce, include_self=include_self), tout)
    w = RNG.standard_normal((4, 3))
    (out * nr.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    close(x.grad, tx.grad)
    close(s.grad, ts.grad)
    y = x.detach().clone()
    assert y.index_reduce_(0, nr.tensor(idx), s.detach(), reduce, include_self=include_self) is y
    close(y, tout)


def test_index_reduce_integers_and_errors():
    x, s = np.arange(12).reshape(3, 4), np.arange(6).reshape(3, 2) + 1
    close(nr.tensor(x).index_reduce(1, nr.tensor([3, 0]), nr.tensor(s), "mean"),
          torch.tensor(x).index_reduce(1, torch.tensor([3, 0]), torch.tensor(s), "mean"))
    with pytest.raises(ArgumentError):
        nr.zeros(3).index_reduce(0, nr.tensor([0]), nr.zeros(1), "sum")
    with pytest.raises(ShapeError):
        nr.zeros(3, 2).index_reduce(0, nr.tensor([0]), nr.zeros(2, 2), "amax")


@pytest.mark.parametrize("accumulate", [False, True])
def test_put(accumulate):
    x, tx = pair(RNG.standard_normal((3, 4)), requires_grad=True)
    s, ts = pair(RNG.standard_normal(3), requires_grad=True)
    idx = [1, 1, -12] if accumulate else [-1, 5, 0]
    out, tout = x.put(nr.tensor(idx), s, accumulate=accumulate), tx.put(torch.tensor(idx), ts, accumulate=accumulate)
    close(out, tout)
    close(nr.put(x, nr.tensor(idx), s, accumulate), tout)
    w = RNG.standard_normal((3, 4))
    (out * nr.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    close(x.grad, tx.grad)
    close(s.grad, ts.grad)
    y = x.detach().clone()
    before = y._version
    assert y.put_(nr.tensor(idx), s.detach(), accumulate=accumulate) is y and y._version > before
    close(y, tout)


def test_put_errors():
    with pytest.raises(DTypeError, match="long"):
        nr.zeros(3).put(nr.tensor([0], dtype=nr.int32), nr.ones(1))
    with pytest.raises(DTypeError, match="same dtype"):
        nr.zeros(3).put(nr.tensor([0]), nr.ones(1, dtype=nr.float64))
    with pytest.raises(ShapeError):
        nr.zeros(3).put(nr.tensor([0, 1]), nr.ones(1))
    with pytest.raises(IndexError):
        nr.zeros(3).put(nr.tensor([3]), nr.ones(1))


@pytest.mark.parametrize("shape,wrap", [((3, 3), False), ((5, 2), True), ((5, 2), False), ((7, 3), True),
                                        ((2, 5), True), ((3, 3, 3), False), ((6, 4), True)])
def test_fill_diagonal_(shape, wrap):
    a = nr.zeros(*shape)
    before = a._version
    assert a.fill_diagonal_(2.0, wrap) is a and a._version > before
    close(a, torch.zeros(*shape).fill_diagonal_(2.0, wrap))


def test_fill_diagonal_on_views_in_graphs_and_errors():
    x, tx = nr.zeros(3, 4), torch.zeros(3, 4)
    x.t().fill_diagonal_(1)
    tx.t().fill_diagonal_(1)
    close(x, tx)
    x, tx = pair(RNG.standard_normal((3, 3)), requires_grad=True)
    y, ty = x * 2, tx * 2
    y.fill_diagonal_(0.5)
    ty.fill_diagonal_(0.5)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    close(x.grad, tx.grad)
    with pytest.raises(ShapeError):
        nr.zeros(3).fill_diagonal_(1)
    with pytest.raises(ShapeError):
        nr.zeros(2, 3, 3).fill_diagonal_(1)
    with pytest.raises(AutogradError, match="leaf"):
        nr.zeros(2, 2, requires_grad=True).fill_diagonal_(1)


# -- metadata and small methods ----------------------------------------------------------------------

def test_metadata_matches_torch():
    for dt in ("float32", "float64", "int8", "uint8", "int16", "int64", "bool"):
        x = nr.zeros(2, dtype=getattr(nr, dt if dt != "bool" else "bool_"))
        tx = torch.zeros(2, dtype=getattr(torch, dt))
        assert (x.is_signed(), x.is_complex(), x.is_floating_point()) == (tx.is_signed(), tx.is_complex(),
                                                                           tx.is_floating_point())
        assert (nr.is_signed(x), nr.is_complex(x), nr.is_floating_point(x)) == (torch.is_signed(tx),
                                                                             torch.is_complex(tx),
                                                                             torch.is_floating_point(tx))
    x, tx = nr.zeros(2, 3), torch.zeros(2, 3)
    assert (x.nelement(), x.ndimension(), x.get_device(), x.is_cpu, x.name, x.output_nr, x.is_inference(),
            x.is_pinned(), x.is_shared(), x.is_neg(), x.is_conj()) == \
           (tx.nelement(), tx.ndimension(), tx.get_device(), tx.is_cpu, tx.name, tx.output_nr, tx.is_inference(),
            tx.is_pinned(), tx.is_shared(), tx.is_neg(), tx.is_conj())
    assert x.layout is nr.strided and str(x.layout) == "neurarust.strided" and x.grad_dtype is nr.float32
    assert x.resolve_conj() is x and x.resolve_neg() is x
    assert x.is_same_size(nr.ones(2, 3)) and not nr.is_same_size(x, nr.ones(3, 2))
    a, b = (nr.ones(2, 2, requires_grad=True) * 2).unbind()
    ta, tb = (torch.ones(2, 2, requires_grad=True) * 2).unbind()
    assert (a.output_nr, b.output_nr) == (ta.output_nr, tb.output_nr)


def test_is_nonzero():
    for v in ([0.5], [0], True, 0.0):
        assert nr.tensor(v).is_nonzero() == torch.tensor(v).is_nonzero() == nr.is_nonzero(nr.tensor(v))
    for bad in ([], [1, 2]):
        with pytest.raises(ArgumentError, match="ambiguous"):
            nr.tensor(bad).is_nonzero()


def test_conjugate_transposes():
    x, tx = pair(RNG.standard_normal((2, 3, 4)), requires_grad=True)
    close(x.mH, tx.mH)
    close(x.adjoint(), tx.adjoint())
    close(x[0].H, tx[0].H)
    (x.mH * nr.tensor(np.arange(24.0).reshape(2, 4, 3))).sum().backward()
    (tx.mH * torch.arange(24.0, dtype=torch.float64).reshape(2, 4, 3)).sum().backward()
    close(x.grad, tx.grad)
    with pytest.raises(ShapeError):
        nr.zeros(3).H
    with pytest.raises(ShapeError):
        nr.zeros(3).mH


def test_data_getter_and_setter():
    w = nr.zeros(2, requires_grad=True)
    d = w.data
    assert not d.requires_grad and d.data_ptr() == w.data_ptr()
    d[0] = 5.0
    assert w.tolist() == [5.0, 0.0]
    w.grad = nr.ones(2)
    w.data = nr.arange(3.0, dtype=nr.float64)
    assert w.tolist() == [0.0, 1.0, 2.0] and w.dtype is nr.float64 and w.requires_grad and w.is_leaf
    assert w.grad.tolist() == [1.0, 1.0]
    p = nr.nn.Parameter(nr.ones(2))
    p.data = nr.zeros(4)
    assert type(p) is nr.nn.Parameter and p.shape == (4,) and p.requires_grad
    with pytest.raises(TypeError):
        w.data = [1.0]


@pytest.mark.parametrize("lib", [nr, torch], ids=["neurarust", "torch"])
def test_writes_through_data_are_invisible_to_autograd(lib):
    w = lib.ones(3, requires_grad=True)
    y = (w * w).sum()
    w.data.mul_(2)                         # PyTorch's .data has a version counter of its own
    w.data[0].add_(1)                      # so have its views
    y.backward()
    assert w.grad.tolist() == [6.0, 4.0, 4.0]   # 2 * w, read after the writes, as in torch


@pytest.mark.parametrize("lib", [nr, torch], ids=["neurarust", "torch"])
def test_writes_through_detach_are_reported(lib):
    w = lib.ones(3, requires_grad=True)
    y = (w * w).sum()
    with lib.no_grad():
        w.detach().mul_(2)                 # detach() shares the version counter
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("lib", [nr, torch], ids=["neurarust", "torch"])
def test_a_saved_data_alias_reports_writes_through_it(lib):
    w = lib.ones(3, requires_grad=True)
    d = w.data
    y = (w * d).sum()
    d[0].mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_casts_and_sizes():
    x, tx = pair([1.7, -2.2, 255.0])
    for name in ("byte", "char", "short"):
        if name == "byte":
            x, tx = pair([1.7, 2.2, 255.0])
        close(getattr(x, name)(), getattr(tx, name)())
    x, tx = pair(RNG.standard_normal((2, 3, 4)), requires_grad=True)
    for size in [(3, 1), (1, 4), (2, 1, 1), (4,), (2, 3, 4)]:
        close(x.sum_to_size(*size), tx.sum_to_size(*size))
    x.sum_to_size(3, 1).sum().backward()
    tx.sum_to_size(3, 1).sum().backward()
    close(x.grad, tx.grad)
    close(nr.ones(2, 3, dtype=nr.int32).sum_to_size(3), torch.ones(2, 3, dtype=torch.int32).sum_to_size(3))
    with pytest.raises(ShapeError, match="expandable"):
        nr.zeros(2, 3).sum_to_size(3, 1)
    y = nr.zeros(1, dtype=nr.int16).new_empty_strided((2, 3), (1, 2))
    ty = torch.zeros(1, dtype=torch.int16).new_empty_strided((2, 3), (1, 2))
    assert y.stride() == ty.stride() and y.dtype is nr.int16 and y.shape == (2, 3)


def test_split_narrow_select_move_broadcast_where():
    x, tx = pair(np.arange(24.0).reshape(2, 3, 4))
    for got, want in [(x.split_with_sizes([1, 3], 2), tx.split_with_sizes([1, 3], 2)),
                      (nr.split_with_sizes(x, [2, 1], 1), torch.split_with_sizes(tx, [2, 1], 1)),
                      (x.unsafe_split(3, 2), tx.unsafe_split(3, 2)),
                      (nr.unsafe_chunk(x, 2, 1), torch.unsafe_chunk(tx, 2, 1)),
                      (x.unsafe_chunk(2), tx.unsafe_chunk(2)),
                      (nr.unsafe_split_with_sizes(x, [1, 1]), torch.unsafe_split_with_sizes(tx, [1, 1]))]:
        assert len(got) == len(want)
        for g, w in zip(got, want):
            close(g, w)
    n = x.narrow_copy(2, 1, 2)
    close(n, tx.narrow_copy(2, 1, 2))
    close(nr.narrow_copy(x, 0, 1, 1), torch.narrow_copy(tx, 0, 1, 1))
    assert n.is_contiguous() and n.untyped_storage() is not x.untyped_storage()
    close(x.select(1, -1), tx.select(1, -1))
    close(x.movedim(0, -1), tx.movedim(0, -1))
    close(x.moveaxis((0, 1), (2, 0)), tx.moveaxis((0, 1), (2, 0)))
    close(x[0, 0].broadcast_to((3, 4)), tx[0, 0].broadcast_to((3, 4)))
    close(x.where(x > 10, -1.0), tx.where(tx > 10, -1.0))
    close(nr.unflatten(x, 2, (2, -1)), torch.unflatten(tx, 2, (2, -1)))


# -- random in-place fills -----------------------------------------------------------------------

def test_log_normal_cauchy_geometric():
    nr.manual_seed(3)
    a = nr.empty(2000, dtype=nr.float64).log_normal_(0.5, 0.3)
    nr.manual_seed(3)
    assert a.tolist() == nr.empty(2000, dtype=nr.float64).normal_(0.5, 0.3).exp().tolist()
    nr.manual_seed(3)
    c = nr.empty(2001, dtype=nr.float64).cauchy_(1.0, 2.0)
    nr.manual_seed(3)
    u = nr.empty(2001, dtype=nr.float64).uniform_().numpy()
    np.testing.assert_allclose(c.numpy(), 1.0 + 2.0 * np.tan(np.pi * (u - 0.5)), rtol=1e-12)
    assert abs(np.median(c.numpy()) - 1.0) < 0.3
    nr.manual_seed(3)
    g = nr.empty(5000, dtype=nr.float32).geometric_(0.3)
    nr.manual_seed(3)
    gi = nr.empty(5000, dtype=nr.int32).geometric_(0.3)
    assert gi.dtype is nr.int32 and g.min().item() >= 1 and np.array_equal(gi.numpy(), g.numpy())
    assert abs(g.mean().item() - 1 / 0.3) < 0.2 and bool((g == g.floor()).all())
    for bad, err in [(lambda: nr.empty(2).cauchy_(0, 0), ArgumentError),
                     (lambda: nr.empty(2).geometric_(1.0), ArgumentError),
                     (lambda: nr.empty(2).log_normal_(0, -1), ArgumentError),
                     (lambda: nr.empty(2, dtype=nr.int64).cauchy_(), DTypeError),
                     (lambda: nr.ones(2, requires_grad=True).log_normal_(), AutogradError)]:
        with pytest.raises(err):
            bad()


# -- top-level utilities -------------------------------------------------------------------------

def test_pointwise_predicates_rsub_positive_fill():
    x, tx = pair([-np.inf, np.inf, np.nan, 1.0])
    for name in ("isneginf", "isposinf", "isreal"):
        close(getattr(nr, name)(x), getattr(torch, name)(tx))
        close(getattr(x, name)(), getattr(tx, name)())
    i, ti = pair([1, 2], dtype=np.int64)
    close(nr.isneginf(i), torch.isneginf(ti))
    close(nr.isposinf(i), torch.isposinf(ti))
    assert nr.positive(i) is i and i.positive() is i
    with pytest.raises(DTypeError):
        nr.positive(nr.tensor([True]))
    y, ty = pair([1.0, 2.0], requires_grad=True)
    out, tout = nr.rsub(y, 5, alpha=2), torch.rsub(ty, 5, alpha=2)
    close(out, tout)
    close(nr.rsub(y, nr.tensor([1.0, 1.0])), torch.rsub(ty, torch.tensor([1.0, 1.0], dtype=torch.float64)))
    out.sum().backward()
    tout.sum().backward()
    close(y.grad, ty.grad)
    close(nr.fill(i, 7), torch.fill(ti, 7))
    z = nr.ones(2)
    assert nr.zero_(z) is z and z.tolist() == [0.0, 0.0]


def test_can_cast_matches_torch():
    names = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64")
    for a in names:
        for b in names:
            got = nr.can_cast(getattr(nr, a if a != "bool" else "bool_"), getattr(nr, b if b != "bool" else "bool_"))
            assert got == torch.can_cast(getattr(torch, a), getattr(torch, b)), (a, b)


def test_typename_scalar_tensor_asarray():
    assert nr.typename(nr.zeros(1, dtype=nr.int64)) == "neurarust.int64"
    assert nr.typename(1.0) == torch.typename(1.0) == "float"
    assert nr.typename(nr.nn.Linear(1, 1)) == "neurarust.nn.linear.Linear"
    for value, kw in [(3, {}), (True, {}), (2.5, {"dtype": nr.float64}), (7, {"dtype": nr.int64})]:
        tkw = {k: getattr(torch, v.name) for k, v in kw.items()}
        close(nr.scalar_tensor(value, **kw), torch.scalar_tensor(value, **tkw))
    assert nr.scalar_tensor(1.0, requires_grad=True).requires_grad
    a = np.arange(3.0)
    t = nr.asarray(a)
    a[0] = 9.0
    assert t.tolist() == [9.0, 1.0, 2.0]
    assert nr.asarray(a, copy=True).numpy() is not a and not np.shares_memory(nr.asarray(a, copy=True).numpy(), a)
    for data in ([1, 2], 1.5, True, [[1.0], [2.0]], np.float64(2.0)):
        close(nr.asarray(data), torch.asarray(data))
    x = nr.ones(2, requires_grad=True)
    assert nr.asarray(x) is x and nr.asarray(x, copy=True) is not x
    assert nr.asarray(x, dtype=nr.float64).dtype is nr.float64
    assert not nr.asarray(x, requires_grad=False).requires_grad
    assert nr.asarray(nr.zeros(2), requires_grad=True).requires_grad
    assert nr.asarray(torch.arange(3)).tolist() == [0, 1, 2]
    with pytest.raises(ArgumentError):
        nr.asarray(x, dtype=nr.float64, copy=False)
    with pytest.raises(ArgumentError):
        nr.asarray([1, 2], copy=False)


def test_threads_and_printoptions():
    old = nr.get_num_threads()
    try:
        nr.set_num_threads(3)
        assert nr.get_num_threads() == 3
        with pytest.raises(ArgumentError):
            nr.set_num_threads(0)
    finally:
        nr.set_num_threads(old)
    try:
        nr.set_printoptions(precision=2)
        assert repr(nr.tensor([1.23456])) == "tensor([1.23])"
    finally:
        nr.set_printoptions(precision=4)
