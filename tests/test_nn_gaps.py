"""The torch.nn modules and functional forms that closed the gap with torch 2.13's lists: LPPool,
FractionalMaxPool, MaxUnpool3d, AdaptiveLogSoftmaxWithLoss, RNNCellBase, CrossMapLRN2d, NLLLoss2d,
Container, LinearCrossEntropyLoss; the `_with_indices` pools, in-place activations, upsample*,
multi_head_attention_forward, linear_cross_entropy. Each against torch with copied weights: values
and gradients (float64, float32 where the dtype matters), reprs, state-dict keys, errors."""
import warnings

import numpy as np
import pytest

import neurarust as nr
import neurarust.nn.functional as F
from neurarust.errors import ArgumentError, AutogradError, DTypeError, IndexOutOfRangeError, ShapeError

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(values, dtype=np.float64):
    values = np.asarray(values, dtype=dtype)
    return nr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)


def _np(t):
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t.tolist())


def _backward_both(ours, theirs, rng):
    weights = rng.standard_normal(tuple(theirs.shape))
    (ours * nr.tensor(weights.astype(_np(ours).dtype))).sum().backward()
    (theirs * torch.tensor(weights, dtype=theirs.dtype)).sum().backward()


def _copy_weights(ours, theirs):
    """torch module -> our module, by state-dict key (the keys must agree)."""
    state = {k: nr.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()}
    assert sorted(state) == sorted(ours.state_dict())
    ours.load_state_dict(state)


def test_the_torch_lists_are_covered():
    assert not set(torch.nn.modules.__all__) - set(nr.nn.__all__) and "LinearCrossEntropyOptions" in nr.nn.__all__
    wanted = ["max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
              "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
              "adaptive_max_pool3d_with_indices", "elu_", "hardtanh_", "leaky_relu_", "relu_", "selu_", "celu_",
              "threshold_", "upsample", "upsample_bilinear", "upsample_nearest", "multi_head_attention_forward",
              "linear_cross_entropy", "lp_pool1d", "lp_pool2d", "lp_pool3d", "fractional_max_pool2d",
              "fractional_max_pool3d", "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices",
              "max_unpool3d"]
    assert [n for n in wanted if not hasattr(F, n)] == []


# -- in-place activations --------------------------------------------------------------------------

@pytest.mark.parametrize("name, args", [("elu_", (0.7,)), ("hardtanh_", (-0.5, 1.5)), ("leaky_relu_", (0.2,)),
                                        ("relu_", ()), ("selu_", ()), ("celu_", (0.5,)), ("threshold_", (0.3, 4.0))])
def test_in_place_activation_values_gradients_and_identity(name, args):
    x = np.array([-2.0, -1.5, -0.5, 0.0, 0.25, 0.3, 1.0, 1.5, 2.0])
    a, ta = _pair(x)
    y, ty = a * 1.5, ta * 1.5
    out = getattr(F, name)(y, *args)
    getattr(TF, name)(ty, *args)
    assert out is y
    np.testing.assert_allclose(_np(y), _np(ty))
    _backward_both(y, ty, np.random.default_rng(0))
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy())


def test_in_place_activation_errors_as_torch():
    with pytest.raises(AutogradError, match="leaf"):
        F.elu_(nr.tensor([1.0], requires_grad=True))
    y = nr.tensor([-1.0, 1.0], requires_grad=True) * 1
    F.leaky_relu_(y, -0.5)
    assert y.tolist() == [0.5, 1.0]
    with pytest.raises(AutogradError, match="negative slope"):
        y.sum().backward()
    with pytest.raises(DTypeError):
        F.relu_(nr.tensor([1, -1]))


# -- the _with_indices pools -----------------------------------------------------------------------

def test_with_indices_forms_equal_the_plain_ones_and_torch():
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6, 6))
    cases = [("max_pool1d", x[:, :, 0, 0], (2,)), ("max_pool2d", x[:, :, 0], (3, 2, 1)), ("max_pool3d", x, (2,)),
             ("adaptive_max_pool1d", x[:, :, 0, 0], (4,)), ("adaptive_max_pool2d", x[:, :, 0], ((3, 4),)),
             ("adaptive_max_pool3d", x, (3,))]
    for name, data, args in cases:
        v, i = getattr(F, f"{name}_with_indices")(nr.tensor(data), *args)
        tv, ti = getattr(TF, f"{name}_with_indices")(torch.tensor(data), *args)
        pv, pi = getattr(F, name)(nr.tensor(data), *args, return_indices=True)
        np.testing.assert_allclose(_np(v), _np(tv))
        assert i.tolist() == ti.tolist() == pi.tolist() and v.tolist() == pv.tolist()


# -- LPPool ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("s", [1, 2, 3])
@pytest.mark.parametrize("p", [1, 2, 3.5, float("inf"), -float("inf")])
def test_lp_pool_values_and_gradients(s, p):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3) + (7,) * s)
    x = np.abs(x) if p == 3.5 else x
    x[..., :2] = 0.0                               # zero windows: a zero gradient, as torch's guard
    a, ta = _pair(x)
    stride = None if s != 2 else 3
    ours = getattr(F, f"lp_pool{s}d")(a, p, 2, stride, ceil_mode=s == 3)
    theirs = getattr(TF, f"lp_pool{s}d")(ta, p, 2, stride, ceil_mode=s == 3)
    np.testing.assert_allclose(_np(ours), _np(theirs), atol=1e-12)
    _backward_both(ours, theirs, rng)
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), atol=1e-12)


def test_lp_pool_modules_as_torch():
    x = np.abs(np.random.default_rng(3).standard_normal((1, 2, 6, 6, 6))).astype(np.float32)
    for s, args in ((1, (2, 3)), (2, (1.5, (2, 3), 2)), (3, (2, 2, None, True))):
        ours, theirs = getattr(nr.nn, f"LPPool{s}d")(*args), getattr(torch.nn, f"LPPool{s}d")(*args)
        assert repr(ours) == repr(theirs)
        data = x[(0,) * (3 - s)]
        np.testing.assert_allclose(_np(ours(nr.tensor(data))), _np(theirs(torch.tensor(data))), rtol=1e-5)


# -- FractionalMaxPool --------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("s", [2, 3])
def test_fractional_max_pool_equals_torch_with_given_samples(s, dtype):
    rng = np.random.default_rng(4)
    for trial in range(12):
        N, C = (int(v) for v in rng.integers(1, 3, size=2))
        ins = tuple(int(v) for v in rng.integers(3, 11, size=s))
        k = tuple(int(rng.integers(1, min(4, n - 1) + 1)) for n in ins)
        out = tuple(int(rng.integers(1, n - kk + 2 - (s == 3))) for n, kk in zip(ins, k))
        x = rng.standard_normal((N, C) + ins)
        x = np.round(x) if trial % 3 == 0 else x   # ties: the first maximum, as torch's scan
        a, ta = _pair(x, dtype)
        u = rng.random((N + trial % 2, C, s)).astype(dtype)   # more sample rows than the batch is allowed
        fn, tfn = getattr(F, f"fractional_max_pool{s}d"), getattr(TF, f"fractional_max_pool{s}d")
        v, i = fn(a, k, out, return_indices=True, _random_samples=nr.tensor(u))
        tv, ti = tfn(ta, k, out, return_indices=True, _random_samples=torch.tensor(u))
        assert np.array_equal(_np(v), _np(tv)) and i.tolist() == ti.tolist()
        _backward_both(v, tv, rng)
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-6)


def test_fractional_max_pool_window_starts_at_float32_boundaries():
    # many samples over [0, 1): the float32 start arithmetic must round as torch's kernel does
    u = np.linspace(0, 1, 64, endpoint=False, dtype=np.float32).reshape(1, 64, 1).repeat(2, 2)
    for n, o in ((17, 9), (33, 7), (50, 31)):
        x = np.arange(n * n, dtype=np.float32).reshape(1, 1, n, n).repeat(64, 1)
        _, i = F.fractional_max_pool2d(nr.tensor(x), 2, o, return_indices=True, _random_samples=nr.tensor(u))
        _, ti = TF.fractional_max_pool2d(torch.tensor(x), 2, o, return_indices=True, _random_samples=torch.tensor(u))
        assert i.tolist() == ti.tolist()


def test_fractional_max_pool_ratio_unbatched_and_generator():
    x = np.random.default_rng(5).standard_normal((3, 9, 8))
    u = np.random.default_rng(6).random((1, 3, 2))
    v = F.fractional_max_pool2d(nr.tensor(x), 2, output_ratio=(0.5, 0.75), _random_samples=nr.tensor(u))
    tv = TF.fractional_max_pool2d(torch.tensor(x), 2, output_ratio=(0.5, 0.75), _random_samples=torch.tensor(u))
    assert tuple(v.shape) == tuple(tv.shape) == (3, 4, 6)
    np.testing.assert_array_equal(_np(v), _np(tv))
    nr.manual_seed(7)
    first = F.fractional_max_pool2d(nr.tensor(x), 2, 4)
    nr.manual_seed(7)
    assert first.tolist() == F.fractional_max_pool2d(nr.tensor(x), 2, 4).tolist()
    assert F.fractional_max_pool2d(nr.tensor(x), 2, 0).shape == (3, 0, 0)


def test_fractional_max_pool_errors_as_torch():
    x = nr.randn(2, 3, 7, 6)
    with pytest.raises(ArgumentError, match="either an output_size or an output_ratio"):
        F.fractional_max_pool2d(x, 3)
    with pytest.raises(ArgumentError, match="pool width 3 too large relative to input width 6"):
        F.fractional_max_pool2d(x, 3, 5)
    with pytest.raises(ArgumentError, match="pool time 2 too large"):
        F.fractional_max_pool3d(nr.randn(1, 1, 5, 5, 5), 2, 4)    # torch's 3-D check is strict
    with pytest.raises(DTypeError, match="same dtype"):
        F.fractional_max_pool2d(x, 3, 3, _random_samples=nr.rand(2, 3, 2, dtype=nr.float64))
    with pytest.raises(ShapeError):
        F.fractional_max_pool2d(x, 3, 3, _random_samples=nr.rand(1, 3, 2))
    with pytest.raises(ShapeError):
        F.fractional_max_pool2d(x, 3, 3, _random_samples=nr.rand(2, 3, 3))
    with pytest.raises(ShapeError, match="non-zero size"):
        F.fractional_max_pool2d(nr.randn(2, 3, 0, 6), 3, 3)
    with pytest.raises(ShapeError):
        F.fractional_max_pool2d(nr.randn(7, 6), 3, 3)
    with pytest.raises(ArgumentError, match="between 0 and 1"):
        nr.nn.FractionalMaxPool2d(3, output_ratio=1.5)
    with pytest.raises(ArgumentError, match="only one of"):
        nr.nn.FractionalMaxPool2d(3, output_size=2, output_ratio=0.5)
    with pytest.raises(ArgumentError, match="greater than 0"):
        nr.nn.FractionalMaxPool3d(0, output_size=2)


def test_fractional_max_pool_modules_repr_buffer_and_values():
    u = np.random.default_rng(8).random((1, 2, 3))
    ours = nr.nn.FractionalMaxPool3d(2, output_size=(2, 3, 3), return_indices=True, _random_samples=nr.tensor(u))
    theirs = torch.nn.FractionalMaxPool3d(2, output_size=(2, 3, 3), return_indices=True,
                                          _random_samples=torch.tensor(u))
    assert repr(ours) == repr(theirs) == "FractionalMaxPool3d()"
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["_random_samples"]
    assert list(nr.nn.FractionalMaxPool2d(2, 3).state_dict()) == []
    x = np.random.default_rng(9).standard_normal((1, 2, 5, 6, 6))
    (v, i), (tv, ti) = ours(nr.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_array_equal(_np(v), _np(tv))
    assert i.tolist() == ti.tolist()
    assert nr.nn.FractionalMaxPool2d(3, output_ratio=0.5).output_ratio == (0.5, 0.5)


# -- MaxUnpool3d ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{}, {"output_size": (5, 5, 7)}])
def test_max_unpool3d_inverts_max_pool3d_as_torch(kwargs):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 3) + (kwargs.get("output_size") or (4, 4, 6)))
    (v, i), (tv, ti) = F.max_pool3d(nr.tensor(x), 2, return_indices=True), TF.max_pool3d(torch.tensor(x), 2,
                                                                                        return_indices=True)
    b, tb = _pair(v.numpy())
    u, tu = F.max_unpool3d(b, i, 2, **kwargs), TF.max_unpool3d(tb, ti, 2, **kwargs)
    assert tuple(u.shape) == tuple(tu.shape)
    np.testing.assert_allclose(_np(u), _np(tu))
    _backward_both(u, tu, rng)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy())
    ours, theirs = nr.nn.MaxUnpool3d(3, 2, 1), torch.nn.MaxUnpool3d(3, 2, 1)
    assert repr(ours) == repr(theirs)
    (v, i), (tv, ti) = (F.max_pool3d(nr.tensor(x[0]), 3, 2, 1, return_indices=True),
                        TF.max_pool3d(torch.tensor(x[0]), 3, 2, 1, return_indices=True))
    size = x.shape[-3:]
    np.testing.assert_allclose(_np(ours(v, i, size)), _np(theirs(tv, ti, size)))
    with pytest.raises(IndexOutOfRangeError):
        F.max_unpool3d(v, i + 1000, 3, 2, 1, size)


# -- deprecated upsample --------------------------------------------------------------------------------

def test_upsample_wrappers_warn_and_equal_torch():
    x = np.random.default_rng(11).standard_normal((1, 2, 3, 4))
    cases = [("upsample", {"scale_factor": 2, "mode": "bilinear", "align_corners": False}),
             ("upsample", {"size": (5, 7)}), ("upsample_nearest", {"scale_factor": 2}),
             ("upsample_bilinear", {"size": (5, 6)}), ("upsample_bilinear", {"scale_factor": 2})]
    for name, kwargs in cases:
        with pytest.warns(UserWarning, match="deprecated"):
            ours = getattr(F, name)(nr.tensor(x), **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = getattr(TF, name)(torch.tensor(x), **kwargs)
        np.testing.assert_allclose(_np(ours), _np(theirs), atol=1e-12)


# -- multi_head_attention_forward -----------------------------------------------------------------------

def _mha_params(rng, E, separate=False, kdim=None, bias=True, bias_kv=False):
    kdim = kdim or E
    p = {"in_proj_weight": None if separate else rng.standard_normal((3 * E, E)) * 0.3,
         "in_proj_bias": rng.standard_normal(3 * E) * 0.1 if bias else None,
         "bias_k": rng.standard_normal((1, 1, E)) if bias_kv else None,
         "bias_v": rng.standard_normal((1, 1, E)) if bias_kv else None,
         "out_proj_weight": rng.standard_normal((E, E)) * 0.3,
         "out_proj_bias": rng.standard_normal(E) * 0.1 if bias else None}
    if separate:
        p.update(q_proj_weight=rng.standard_normal((E, E)) * 0.3, k_proj_weight=rng.standard_normal((E, kdim)) * 0.3,
                 v_proj_weight=rng.standard_normal((E, kdim)) * 0.3)
    return p


@pytest.mark.parametrize("case", ["self", "cross", "separate", "bias_kv_zero_attn", "masks", "unbatched", "static",
                                  "no_weights", "per_head"])
def test_multi_head_attention_forward_equals_torch(case):
    rng = np.random.default_rng(12)
    E, H, L, S, N = 8, 2, 4, 5, 3
    separate = case == "separate"
    params = _mha_params(rng, E, separate, kdim=6 if separate else None, bias_kv=case == "bias_kv_zero_attn")
    q = rng.standard_normal((L, N, E))
    kv = rng.standard_normal((S, N, 6 if separate else E))
    kwargs = {"add_zero_attn": case == "bias_kv_zero_attn", "need_weights": case != "no_weights",
              "average_attn_weights": case != "per_head", "use_separate_proj_weight": separate}
    if case == "masks":
        kwargs["attn_mask"] = rng.random((L, S)) < 0.3
        kwargs["key_padding_mask"] = np.array([[False] * S, [False] * (S - 1) + [True], [True, False, False, False, True]])
    if case == "static":
        kwargs["static_k"] = rng.standard_normal((N * H, S, E // H))
        kwargs["static_v"] = rng.standard_normal((N * H, S, E // H))
    if case == "unbatched":
        q, kv = q[:, 0], kv[:, 0]
    inputs = (q, q, q) if case in ("self", "no_weights", "per_head", "unbatched") else (q, kv, kv)
    ours_in = [nr.tensor(v, requires_grad=True) for v in inputs[:2]]
    theirs_in = [torch.tensor(v, requires_grad=True) for v in inputs[:2]]
    same = inputs[0] is inputs[1]
    oq, ok = ours_in[0], (ours_in[0] if same else ours_in[1])
    tq, tk = theirs_in[0], (theirs_in[0] if same else theirs_in[1])
    op = {k: None if v is None else nr.tensor(v, requires_grad=True) for k, v in params.items()}
    tp = {k: None if v is None else torch.tensor(v, requires_grad=True) for k, v in params.items()}
    conv = lambda kw, mk: {k: mk(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}  # noqa: E731
    order = ("in_proj_weight", "in_proj_bias", "bias_k", "bias_v")
    out, w = F.multi_head_attention_forward(oq, ok, ok, E, H, *(op[k] for k in order), kwargs["add_zero_attn"], 0.0,
                                            op["out_proj_weight"], op["out_proj_bias"],
                                            **conv({k: v for k, v in kwargs.items() if k != "add_zero_attn"},
                                                   nr.tensor),
                                            **{k: op[k] for k in ("q_proj_weight", "k_proj_weight", "v_proj_weight")
                                               if k in op})
    tout, tw = TF.multi_head_attention_forward(tq, tk, tk, E, H, *(tp[k] for k in order), kwargs["add_zero_attn"], 0.0,
                                               tp["out_proj_weight"], tp["out_proj_bias"],
                                               **conv({k: v for k, v in kwargs.items() if k != "add_zero_attn"},
                                                      torch.tensor),
                                               **{k: tp[k] for k in ("q_proj_weight", "k_proj_weight",
                                                                      "v_proj_weight") if k in tp})
    np.testing.assert_allclose(_np(out), _np(tout), atol=1e-10)
    assert (w is None) == (tw is None)
    if w is not None:
        np.testing.assert_allclose(_np(w), _np(tw), atol=1e-10)
    _backward_both(out, tout, rng)
    for a, b in zip((oq, ok), (tq, tk)):
        if b.grad is None:       # static_k / static_v replace the projected keys and values
            assert a.grad is None or not a.grad.abs().max().item()
        else:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-10)
    for k in params:
        if op[k] is not None and tp[k].grad is not None:
            np.testing.assert_allclose(op[k].grad.numpy(), tp[k].grad.numpy(), atol=1e-10)


def test_multi_head_attention_module_runs_the_function(monkeypatch):
    mha = nr.nn.MultiheadAttention(8, 2, batch_first=True)
    calls = []
    real = F.multi_head_attention_forward
    monkeypatch.setattr(F, "multi_head_attention_forward", lambda *a, **k: calls.append(1) or real(*a, **k))
    x = nr.randn(2, 3, 8)
    assert mha(x, x, x)[0].shape == (2, 3, 8) and calls == [1]


def test_multi_head_attention_forward_errors():
    x, w = nr.randn(3, 2, 8), nr.randn(24, 8)
    args = (8, 2, w, None, None, None, False, 0.0, nr.randn(8, 8), None)
    with pytest.raises(ShapeError, match="embedding dimension of 6"):
        F.multi_head_attention_forward(x, x, x, 6, *args[1:])
    with pytest.raises(ArgumentError, match="is_causal"):
        F.multi_head_attention_forward(x, x, x, *args, is_causal=True)
    with pytest.raises(ShapeError, match="2D attn_mask"):
        F.multi_head_attention_forward(x, x, x, *args, attn_mask=nr.zeros(3, 4))
    with pytest.raises(ArgumentError, match="together"):
        F.multi_head_attention_forward(x, x, x, 8, 2, w, None, nr.randn(1, 1, 8), None, False, 0.0, nr.randn(8, 8), None)
    with pytest.raises(DTypeError, match="key_padding_mask"):
        F.multi_head_attention_forward(x, x, x, *args, key_padding_mask=nr.zeros(2, 3, dtype=nr.int64))
    with pytest.raises(ShapeError, match="static_k"):
        F.multi_head_attention_forward(x, x, x, *args, static_k=nr.randn(3, 3, 4))


# -- linear_cross_entropy / LinearCrossEntropyLoss ----------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction, smoothing, weighted, ignore, chunk", [
    ("mean", 0.0, False, None, 3), ("sum", 0.1, True, None, 4), ("none", 0.2, True, 2, 1),
    ("mean", 0.3, True, 2, None), ("mean", 0.0, False, None, 64)])
def test_linear_cross_entropy_equals_torch(dtype, reduction, smoothing, weighted, ignore, chunk):
    rng = np.random.default_rng(13)
    N, D, C = 10, 4, 7
    x, tx = _pair(rng.standard_normal((N, D)), dtype)
    w, tw = _pair(rng.standard_normal((C, D)), dtype)
    b, tb = _pair(rng.standard_normal(C), dtype)
    t = rng.integers(0, C, N)
    if ignore is not None:
        t[::3] = ignore
    cw = (rng.random(C) + 0.5).astype(dtype) if weighted else None
    opts = None if chunk is None else nr.nn.LinearCrossEntropyOptions(batch_chunk_size=chunk)
    ours = F.linear_cross_entropy(x, w, nr.tensor(t), linear_bias=b, weight=None if cw is None else nr.tensor(cw),
                                  reduction=reduction, ignore_index=ignore, label_smoothing=smoothing, options=opts)
    theirs = TF.linear_cross_entropy(tx, tw, torch.tensor(t), linear_bias=tb,
                                     weight=None if cw is None else torch.tensor(cw), reduction=reduction,
                                     ignore_index=ignore, label_smoothing=smoothing)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=tol, atol=tol)
    _backward_both(ours, theirs, rng)
    for a, ta in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=10 * tol, atol=10 * tol)


def test_linear_cross_entropy_never_makes_more_than_a_chunk_of_logits(monkeypatch):
    import neurarust.nn.linear_cross_entropy as lce

    rows_seen = []
    real = F.linear
    monkeypatch.setattr(F, "linear", lambda x, *a: rows_seen.append(x.shape[0]) or real(x, *a))
    x, w = nr.randn(50, 8, requires_grad=True), nr.randn(300, 8, requires_grad=True)
    loss = F.linear_cross_entropy(x, w, nr.randint(0, 300, (50,)), options=nr.nn.LinearCrossEntropyOptions(
        batch_chunk_size=8))
    loss.backward()
    assert max(rows_seen) == 8 and sum(rows_seen) == 100           # forward and backward, 7 chunks each
    rows_seen.clear()
    F.linear_cross_entropy(x, w, nr.randint(0, 300, (50,)))       # "auto": aspect_ratio:2
    assert max(rows_seen) == lce.LinearCrossEntropyOptions()._chunk_rows(50, 8, 300, nr.float32) == 1


def test_linear_cross_entropy_second_derivative_unbatched_kdim_and_probabilities():
    rng = np.random.default_rng(14)
    x, tx = _pair(rng.standard_normal((6, 3)))
    w, tw = _pair(rng.standard_normal((4, 3)))
    t = rng.integers(0, 4, 6)
    gx, = nr.autograd.grad(F.linear_cross_entropy(x, w, nr.tensor(t), label_smoothing=0.1,
                                                  options=nr.nn.LinearCrossEntropyOptions(batch_chunk_size=4)),
                           x, create_graph=True)
    tgx, = torch.autograd.grad(TF.linear_cross_entropy(tx, tw, torch.tensor(t), label_smoothing=0.1), tx,
                               create_graph=True)
    (gx ** 2).sum().backward()
    (tgx ** 2).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), atol=1e-12)
    # unbatched input with a 0-d target
    xs, ws = rng.standard_normal(3), rng.standard_normal((5, 3))
    ours = F.linear_cross_entropy(nr.tensor(xs), nr.tensor(ws), nr.tensor(2), reduction="none")
    assert ours.shape == () and np.isclose(ours.item(), TF.linear_cross_entropy(
        torch.tensor(xs), torch.tensor(ws), torch.tensor(2), reduction="none").item())
    # a K-dimensional weight and class probabilities take the plain composition
    W, bias, tk = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 2)), rng.integers(0, 5, (6, 2))
    assert np.isclose(F.linear_cross_entropy(nr.tensor(x.detach().numpy()), nr.tensor(W), nr.tensor(tk),
                                             linear_bias=nr.tensor(bias)).item(),
                      TF.linear_cross_entropy(torch.tensor(x.detach().numpy()), torch.tensor(W), torch.tensor(tk),
                                              linear_bias=torch.tensor(bias)).item())
    p = rng.random((6, 4))
    p /= p.sum(1, keepdims=True)
    assert np.isclose(F.linear_cross_entropy(nr.tensor(x.detach().numpy()), nr.tensor(w.detach().numpy()),
                                             nr.tensor(p), label_smoothing=0.2).item(),
                      TF.linear_cross_entropy(torch.tensor(x.detach().numpy()), torch.tensor(w.detach().numpy()),
                                              torch.tensor(p), label_smoothing=0.2).item())


def test_linear_cross_entropy_errors_and_options():
    x, w, t = nr.randn(4, 3), nr.randn(5, 3), nr.tensor([0, 1, 2, 3])
    with pytest.raises(ShapeError, match="dimensionality 1 or 2"):
        F.linear_cross_entropy(nr.randn(2, 4, 3), w, t)
    with pytest.raises(ShapeError, match="in_features"):
        F.linear_cross_entropy(nr.randn(4, 2), w, t)
    with pytest.raises(ShapeError, match="linear_bias shape"):
        F.linear_cross_entropy(x, w, t, linear_bias=nr.randn(4))
    with pytest.raises(ShapeError, match="requires batched input"):
        F.linear_cross_entropy(nr.randn(3), nr.randn(5, 2, 3), nr.tensor(0))
    with pytest.raises(ArgumentError, match="ignore_index cannot be specified"):
        F.linear_cross_entropy(x, w, nr.rand(4, 5), ignore_index=1)
    with pytest.raises(IndexOutOfRangeError):
        F.linear_cross_entropy(x, w, nr.tensor([0, 1, 2, 5]))
    with pytest.raises(ArgumentError):
        nr.nn.LinearCrossEntropyOptions(batch_chunk_size=0)
    with pytest.raises(ArgumentError):
        nr.nn.LinearCrossEntropyOptions(chunking_method="square")
    with pytest.raises(ArgumentError, match="different chunk sizes"):
        nr.nn.LinearCrossEntropyOptions(batch_chunk_size=3, chunking_method="aspect_ratio")._chunk_rows(
            64, 8, 64, nr.float32)
    assert repr(nr.nn.LinearCrossEntropyOptions()) == repr(torch.nn.LinearCrossEntropyOptions())
    for n, d, c in ((4096, 512, 32000), (100, 16, 16), (7, 3, 100)):
        for method in ("aspect_ratio", "aspect_ratio:4"):
            assert nr.nn.LinearCrossEntropyOptions(chunking_method=method)._chunk_rows(n, d, c, nr.float32) == max(
                1, torch.nn.LinearCrossEntropyOptions(chunking_method=method)._compute_batch_chunk_size(n, d, c))


def test_linear_cross_entropy_loss_module_as_torch():
    torch.manual_seed(0)
    for kwargs in ({}, {"bias": True, "label_smoothing": 0.1, "reduction": "sum"},
                   {"out_features": (2,), "bias": True}):
        theirs = torch.nn.LinearCrossEntropyLoss(5, 6, **kwargs).double()
        ours = nr.nn.LinearCrossEntropyLoss(5, 6, dtype=nr.float64, **kwargs)
        assert repr(ours) == repr(theirs)
        _copy_weights(ours, theirs)
        x = np.random.default_rng(15).standard_normal((4, 5))
        t = np.random.default_rng(16).integers(0, 6, (4, *kwargs.get("out_features", ())))
        a, ta = _pair(x)
        lo, lt = ours(a, nr.tensor(t)), theirs(ta, torch.tensor(t))
        np.testing.assert_allclose(_np(lo), _np(lt), atol=1e-12)
        lo.backward()
        lt.backward()
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(ours.linear.weight.grad.numpy(), theirs.linear.weight.grad.numpy(), atol=1e-12)
    with pytest.raises(ShapeError, match="weight shape"):
        nr.nn.LinearCrossEntropyLoss(5, 6, weight=nr.ones(5))
    with pytest.raises(ArgumentError, match="label_smoothing"):
        nr.nn.LinearCrossEntropyLoss(5, 6, label_smoothing=1.5)


# -- AdaptiveLogSoftmaxWithLoss -------------------------------------------------------------------------

@pytest.mark.parametrize("head_bias, cutoffs, div_value", [(False, [3, 7], 2.0), (True, [5], 4.0)])
def test_adaptive_log_softmax_equals_torch(head_bias, cutoffs, div_value):
    torch.manual_seed(1)
    theirs = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 12, cutoffs, div_value=div_value, head_bias=head_bias).double()
    ours = nr.nn.AdaptiveLogSoftmaxWithLoss(16, 12, cutoffs, div_value=div_value, head_bias=head_bias,
                                            dtype=nr.float64)
    assert repr(ours) == repr(theirs)
    _copy_weights(ours, theirs)
    rng = np.random.default_rng(17)
    x, t = rng.standard_normal((9, 16)), np.array([0, 11, 4, 3, 7, 2, 10, 5, 1])
    a, ta = _pair(x)
    out, tout = ours(a, nr.tensor(t)), theirs(ta, torch.tensor(t))
    assert out._fields == ("output", "loss")
    np.testing.assert_allclose(_np(out.output), _np(tout.output), atol=1e-12)
    np.testing.assert_allclose(out.loss.item(), tout.loss.item(), atol=1e-12)
    (out.output.sum() + out.loss).backward()
    (tout.output.sum() + tout.loss).backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), atol=1e-12)
    for (k, p), (tk, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert k == tk
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), atol=1e-12)
    with torch.no_grad():
        np.testing.assert_allclose(_np(ours.log_prob(nr.tensor(x))), theirs.log_prob(torch.tensor(x)).numpy(),
                                   atol=1e-12)
        # rows whose head picks a cluster (big tail logits) next to rows that stay in the shortlist
        xs = np.concatenate([x, x * 40.0])
        assert ours.predict(nr.tensor(xs)).tolist() == theirs.predict(torch.tensor(xs)).tolist()
        single = ours(nr.tensor(x[0]), nr.tensor(t[0]))
        assert single.output.shape == () and np.isclose(single.output.item(),
                                                        theirs(torch.tensor(x[0]), torch.tensor(t[0])).output.item())


def test_adaptive_log_softmax_errors():
    with pytest.raises(ArgumentError, match="length larger than 0"):
        nr.nn.AdaptiveLogSoftmaxWithLoss(4, 10, [])
    with pytest.raises(ArgumentError, match="sorted in an increasing order"):
        nr.nn.AdaptiveLogSoftmaxWithLoss(4, 10, [5, 3])
    with pytest.raises(ArgumentError):
        nr.nn.AdaptiveLogSoftmaxWithLoss(4, 10, [3, 10])
    asm = nr.nn.AdaptiveLogSoftmaxWithLoss(4, 10, [3])
    with pytest.raises(IndexOutOfRangeError, match=r"Target values should be in \[0, 9\]"):
        asm(nr.randn(2, 4), nr.tensor([1, 10]))
    with pytest.raises(ShapeError, match="same size in the batch"):
        asm(nr.randn(3, 4), nr.tensor([1, 2]))
    with pytest.raises(ShapeError, match="multi-target"):
        asm(nr.randn(2, 4), nr.tensor([[1], [2]]))


# -- RNNCellBase, CrossMapLRN2d, NLLLoss2d, Container ------------------------------------------------------

def test_rnn_cell_base_is_the_cells_base():
    for cls, chunks in ((nr.nn.RNNCell, 1), (nr.nn.LSTMCell, 4), (nr.nn.GRUCell, 3)):
        cell = cls(3, 5, bias=False)
        assert isinstance(cell, nr.nn.RNNCellBase) and cell.weight_ih.shape == (chunks * 5, 3)
        assert repr(cell) == repr(getattr(torch.nn, cls.__name__)(3, 5, bias=False))
    base, tbase = nr.nn.RNNCellBase(3, 4, True, 2), torch.nn.RNNCellBase(3, 4, True, 2)
    assert repr(base) == repr(tbase)
    assert [(k, tuple(v.shape)) for k, v in base.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in tbase.state_dict().items()]
    assert float(base.weight_hh.abs().max()) <= 0.5    # U(-1/sqrt(4), 1/sqrt(4))


@pytest.mark.parametrize("size, channels", [(2, 5), (3, 1), (3, 8), (4, 6), (5, 3), (5, 9)])
def test_cross_map_lrn2d_values_and_gradients_as_torch(size, channels):
    rng = np.random.default_rng(18)
    a, ta = _pair(rng.standard_normal((2, channels, 3, 2)))
    ours, theirs = nr.nn.CrossMapLRN2d(size, alpha=0.5, beta=0.75, k=1.3), torch.nn.CrossMapLRN2d(size, 0.5, 0.75, 1.3)
    out, tout = ours(a), theirs(ta)
    np.testing.assert_allclose(_np(out), _np(tout), atol=1e-12)
    _backward_both(out, tout, rng)
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), atol=1e-12)
    assert repr(nr.nn.CrossMapLRN2d(3)) == repr(torch.nn.CrossMapLRN2d(3))
    with pytest.raises(ShapeError, match="Expected input to be 4D, got 3D"):
        ours(nr.randn(2, 3, 4))


def test_nll_loss2d_and_container_are_deprecated_aliases():
    x, t = np.log(np.random.default_rng(19).dirichlet(np.ones(3), (2, 4, 5)).transpose(0, 3, 1, 2)), \
        np.random.default_rng(20).integers(0, 3, (2, 4, 5))
    with pytest.warns(FutureWarning, match="NLLLoss2d"):
        ours = nr.nn.NLLLoss2d(ignore_index=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = torch.nn.NLLLoss2d(ignore_index=1)
        tc = torch.nn.Container(fc=torch.nn.Linear(2, 1))
    assert isinstance(ours, nr.nn.NLLLoss) and repr(ours) == repr(theirs)
    assert np.isclose(ours(nr.tensor(x), nr.tensor(t)).item(), theirs(torch.tensor(x), torch.tensor(t)).item())
    with pytest.warns(FutureWarning, match="Container"):
        c = nr.nn.Container(fc=nr.nn.Linear(2, 1))
    assert repr(c) == repr(tc) and list(c.state_dict()) == list(tc.state_dict())
