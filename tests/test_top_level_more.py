"""torch's remaining top-level functions and Tensor methods with a real-valued meaning, each checked
against torch 2.13: the nn.functional ops torch also has at the top level (with ATen's signatures),
the process-wide switches, the real forms of the complex API, and the Tensor methods ``new``,
``apply_``/``map_``/``map2_``, in-place compositions and the never-true predicates."""
from __future__ import annotations

import warnings

import math

import numpy as np
import pytest
import torch

import neurarust as nr
from neurarust.errors import ArgumentError, AutogradError, DTypeError, ShapeError, SignatureError


def _pair(*shape, seed=0, positive=False):
    a = np.random.default_rng(seed).standard_normal(shape)
    a = np.abs(a) + 0.1 if positive else a
    return nr.tensor(a), torch.tensor(a)


def _close(n, t, tol=1e-6):
    if isinstance(t, (tuple, list)):
        assert len(n) == len(t)
        for a, b in zip(n, t):
            _close(a, b, tol)
        return
    np.testing.assert_allclose(n.numpy(), t.detach().numpy(), rtol=tol, atol=tol)


(X, TX), (W, TW), (B, TB) = _pair(2, 3, 6), _pair(4, 3, 2, seed=1), _pair(4, seed=2)
(X2, TX2), (W2, TW2) = _pair(1, 2, 4, 4, seed=3), _pair(3, 2, 2, 2, seed=4)
(A, TA), (C, TC) = _pair(3, 4, seed=5), _pair(3, 4, seed=6)
(P, TP) = _pair(3, 4, seed=7, positive=True)
SIGN = (nr.tensor([1.0, -1.0, 1.0]), torch.tensor([1.0, -1.0, 1.0]))

# name -> (NeuraRust arguments, torch arguments): the same call made on both sides.
CASES = {
    "conv1d": ((X, W, B, 2, 1), (TX, TW, TB, 2, 1)),
    "conv2d": ((X2, W2, None, 1, 1), (TX2, TW2, None, 1, 1)),
    "conv3d": ((X2.unsqueeze(2), W2.unsqueeze(2)), (TX2.unsqueeze(2), TW2.unsqueeze(2))),
    "conv_transpose1d": ((X, W.transpose(0, 1), None, 2), (TX, TW.transpose(0, 1), None, 2)),
    "conv_transpose2d": ((X2, W2.transpose(0, 1), None, 1, 0, 0, 1, 2), (TX2, TW2.transpose(0, 1), None, 1, 0, 0, 1, 2)),
    "convolution": ((X, W, B, [1], [1], [1], False, [0], 1), (TX, TW, TB, [1], [1], [1], False, [0], 1)),
    "layer_norm": ((X, [6], None, None, 1e-3), (TX, [6], None, None, 1e-3)),
    "group_norm": ((X, 3), (TX, 3)),
    "instance_norm": ((X, None, None, None, None, True, 0.1, 1e-5, False),
                      (TX, None, None, None, None, True, 0.1, 1e-5, False)),
    "batch_norm": ((X, B[:3], B[1:], None, None, True, 0.1, 1e-5, False),
                   (TX, TB[:3], TB[1:], None, None, True, 0.1, 1e-5, False)),
    "rms_norm": ((X, [6]), (TX, [6])),
    "dropout": ((X, 0.5, False), (TX, 0.5, False)),
    "alpha_dropout": ((X, 0.5, False), (TX, 0.5, False)),
    "feature_dropout": ((X, 1.0, True), (TX, 1.0, True)),
    "feature_alpha_dropout": ((X, 0.3, False), (TX, 0.3, False)),
    "embedding": ((A, nr.tensor([[2, 0], [1, 1]])), (TA, torch.tensor([[2, 0], [1, 1]]))),
    "pixel_shuffle": ((X2.reshape(1, 8, 2, 2), 2), (TX2.reshape(1, 8, 2, 2), 2)),
    "pixel_unshuffle": ((X2, 2), (TX2, 2)),
    "channel_shuffle": ((X2.reshape(1, 4, 2, 4), 2), (TX2.reshape(1, 4, 2, 4), 2)),
    "max_pool1d": ((X, 2), (TX, 2)),
    "max_pool2d": ((X2, 2, 1, 1), (TX2, 2, 1, 1)),
    "max_pool3d": ((X2, 2), (TX2, 2)),
    "max_pool1d_with_indices": ((X, 3, 2), (TX, 3, 2)),
    "avg_pool1d": ((X, 3, 2, 1, False, False), (TX, 3, 2, 1, False, False)),
    "adaptive_avg_pool1d": ((X, 4), (TX, 4)),
    "adaptive_max_pool1d": ((X, 4), (TX, 4)),
    "bilinear": ((A, C, W.reshape(4, 6, 1)[:, :4].reshape(2, 4, 2)[:, :, :1].expand(2, 4, 4).contiguous()),
                 (TA, TC, TW.reshape(4, 6, 1)[:, :4].reshape(2, 4, 2)[:, :, :1].expand(2, 4, 4).contiguous())),
    "cosine_similarity": ((A, C, 0), (TA, TC, 0)),
    "pairwise_distance": ((A, C, 1.5), (TA, TC, 1.5)),
    "pdist": ((A, 3.0), (TA, 3.0)),
    "kl_div": ((A, P), (TA, TP)),
    "margin_ranking_loss": ((A[0], C[0], SIGN[0].repeat(2)[:4], 0.2, 1), (TA[0], TC[0], SIGN[1].repeat(2)[:4], 0.2, 1)),
    "hinge_embedding_loss": ((A, SIGN[0][:1].expand(3, 4), 0.5, 2), (TA, SIGN[1][:1].expand(3, 4), 0.5, 2)),
    "triplet_margin_loss": ((A, C, P, 1.0, 2.0, 1e-6, True), (TA, TC, TP, 1.0, 2.0, 1e-6, True)),
    "cosine_embedding_loss": ((A, C, SIGN[0]), (TA, TC, SIGN[1])),
    "poisson_nll_loss": ((A, P, True, True, 1e-8, 1), (TA, TP, True, True, 1e-8, 1)),
    "binary_cross_entropy_with_logits": ((A, P / 3, None, P[0]), (TA, TP / 3, None, TP[0])),
    "prelu": ((X, B[:3]), (TX, TB[:3])),
    "constant_pad_nd": ((X, [1, -2, 0, 1], 0.5), (TX, [1, -2, 0, 1], 0.5)),
    "native_layer_norm": ((X, [3, 6], None, B[:1].expand(3, 6), 1e-5), (TX, [3, 6], None, TB[:1].expand(3, 6), 1e-5)),
    "native_batch_norm": ((X, None, None, nr.zeros(3, dtype=nr.float64), nr.ones(3, dtype=nr.float64), False, 0.1, 1e-5),
                          (TX, None, None, torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64),
                           False, 0.1, 1e-5)),
    "native_group_norm": ((X, None, None, 2, 3, 6, 3, 1e-5), (TX, None, None, 2, 3, 6, 3, 1e-5)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_top_level_nn_op_matches_torch(name):
    args, targs = CASES[name]
    _close(getattr(nr, name)(*args), getattr(torch, name)(*targs), 1e-5)


def test_ctc_loss_takes_torch_top_level_arguments():
    lp = torch.randn(5, 2, 4, generator=torch.Generator().manual_seed(0)).log_softmax(2)
    targets, lengths = [[1, 2], [3, 3]], ([5, 4], [2, 1])
    _close(nr.ctc_loss(nr.tensor(lp.numpy()), nr.tensor(targets), *lengths, 0, 2),
           torch.ctc_loss(lp, torch.tensor(targets), *lengths, 0, 2), 1e-5)


def test_loss_reduction_defaults_to_unreduced_as_torch_does():
    assert nr.kl_div(A, P).shape == torch.kl_div(TA, TP).shape == (3, 4)
    _close(nr.kl_div(A, P, 1), torch.kl_div(TA, TP, 1))


def test_bad_int_reduction_is_an_argument_error():
    with pytest.raises(ArgumentError, match="reduction"):
        nr.kl_div(A, P, "mean")


def test_top_level_signature_names_torch_arguments():
    import inspect

    params = list(inspect.signature(nr.batch_norm).parameters)
    assert params == ["input", "weight", "bias", "running_mean", "running_var", "training", "momentum", "eps",
                      "cudnn_enabled"]
    assert list(inspect.signature(nr.embedding).parameters)[:2] == ["weight", "indices"]


def test_missing_required_argument_is_a_signature_error():
    with pytest.raises(SignatureError, match="poisson_nll_loss"):
        nr.poisson_nll_loss(A, P, True, False, 1e-8)


def test_conv2d_gradients_match_torch():
    x, w = X2.clone().requires_grad_(), W2.clone().requires_grad_()
    tx, tw = TX2.clone().requires_grad_(), TW2.clone().requires_grad_()
    nr.conv2d(x, w, None, 1, 1).square().sum().backward()
    torch.conv2d(tx, tw, None, 1, 1).square().sum().backward()
    _close((x.grad, w.grad), (tx.grad, tw.grad), 1e-5)


def test_inplace_dropout_writes_into_its_input():
    x = nr.ones(2, 3)
    assert nr.feature_dropout_(x, 1.0, True) is x and x.sum().item() == 0.0
    y = nr.ones(3)
    assert nr.dropout_(y, 0.5, False) is y and y.tolist() == [1.0, 1.0, 1.0]


def test_inplace_dropout_refuses_a_leaf_that_requires_grad():
    with pytest.raises(AutogradError):
        nr.alpha_dropout_(nr.ones(3, requires_grad=True), 0.5, True)


def test_native_group_norm_checks_its_sizes():
    with pytest.raises(ShapeError, match="HxW"):
        nr.native_group_norm(X, None, None, 2, 3, 5, 3, 1e-5)


# -- process-wide switches --------------------------------------------------------------------------

def test_anomaly_mode_switches_like_torch():
    nr.set_anomaly_enabled(True, check_nan=False)
    try:
        assert nr.is_anomaly_enabled() and not nr.is_anomaly_check_nan_enabled()
    finally:
        nr.set_anomaly_enabled(False)
    assert (nr.is_anomaly_enabled(), nr.is_anomaly_check_nan_enabled()) == (torch.is_anomaly_enabled(),
                                                                            torch.is_anomaly_check_nan_enabled())


@pytest.mark.parametrize("lib", ["nr", "torch"])
def test_anomaly_mode_without_check_nan_lets_a_nan_gradient_through(lib):
    m = nr if lib == "nr" else torch
    x = m.tensor([0.0], requires_grad=True)
    with m.autograd.detect_anomaly(check_nan=False):
        assert m.is_anomaly_enabled() and not m.is_anomaly_check_nan_enabled()
        (x.sqrt() * 0).sum().backward()              # d sqrt(x)/dx = inf at 0: NaN, not raised
    assert math.isnan(x.grad.item())
    with m.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="nan"):
        (x.sqrt() * 0).sum().backward()


def test_warn_always_round_trips():
    assert nr.is_warn_always_enabled() is torch.is_warn_always_enabled() is False
    nr.set_warn_always(True)
    assert nr.is_warn_always_enabled()
    nr.set_warn_always(False)


def _branchy(x):
    return x * 2 if x.sum() > 0 else x * 3


def test_warn_always_repeats_compile_graph_break_warnings():
    nr.set_warn_always(True)
    try:
        fast = nr.compile(_branchy)
        with pytest.warns(UserWarning, match="graph break") as seen:
            for size in (2, 2, 3, 3, 4, 4):          # each new shape captures, and breaks, again
                fast(nr.ones(size))
        assert sum("graph break" in str(w.message) for w in seen) == 3
    finally:
        nr.set_warn_always(False)


@pytest.mark.parametrize("precision", ["high", "medium", "highest"])
def test_float32_matmul_precision_sets_the_tf32_switch(precision):
    from neurarust.kernels import matmul

    nr.set_float32_matmul_precision(precision)
    try:
        assert nr.get_float32_matmul_precision() == precision
        assert matmul.allow_tf32 is (precision != "highest")
    finally:
        nr.set_float32_matmul_precision("highest")


def test_float32_matmul_precision_rejects_other_names():
    with pytest.raises(ArgumentError):
        nr.set_float32_matmul_precision("low")


def test_interop_threads_round_trip_and_reject_non_positive():
    old = nr.get_num_interop_threads()
    nr.set_num_interop_threads(3)
    assert nr.get_num_interop_threads() == 3
    nr.set_num_interop_threads(old)
    with pytest.raises(ArgumentError):
        nr.set_num_interop_threads(-1)


@pytest.mark.parametrize("mode,level", [("warn", 1), ("error", 2), (1, 1), ("default", 0)])
def test_deterministic_debug_mode_matches_torch(mode, level):
    nr.set_deterministic_debug_mode(mode)
    torch.set_deterministic_debug_mode(mode)
    try:
        assert nr.get_deterministic_debug_mode() == torch.get_deterministic_debug_mode() == level
        assert nr.is_deterministic_algorithms_warn_only_enabled() == torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        nr.set_deterministic_debug_mode(0)
        torch.set_deterministic_debug_mode(0)


# -- function forms and constructors ----------------------------------------------------------------

def test_function_forms_of_tensor_methods():
    x = nr.ones(2, requires_grad=True)
    assert nr.is_inference(x) is torch.is_inference(torch.ones(2)) is False
    assert nr.get_device(x) == torch.get_device(torch.ones(2)) == -1
    assert not nr.detach(x * 2).requires_grad


def test_to_dlpack_capsule_is_read_by_torch_without_a_copy():
    t = nr.arange(4.0)
    back = torch.from_dlpack(nr.to_dlpack(t))
    assert back.tolist() == t.tolist() and back.data_ptr() == t.data_ptr()


@pytest.mark.parametrize("args,kwargs", [((0, 1, 0.1), {}), ((1, 4), {}), ((4, 1, -1.5), {}),
                                         ((1, 4), {"dtype": "int64"}), ((0.5, 2.0, 0.5), {"dtype": "float64"})])
def test_range_includes_its_end_as_torch(args, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n = nr.range(*args, **{k: getattr(nr, v) for k, v in kwargs.items()})
        t = torch.range(*args, **{k: getattr(torch, v) for k, v in kwargs.items()})
    assert str(n.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    _close(n, t)


def test_range_warns_and_checks_the_step_sign():
    with pytest.warns(UserWarning, match="deprecated"):
        nr.range(0, 2)
    with pytest.raises(ArgumentError, match="step sign"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nr.range(1, 0)


def test_frombuffer_shares_the_buffer_memory():
    raw = bytearray(np.arange(6, dtype=np.int32).tobytes())
    n, t = nr.frombuffer(raw, dtype=nr.int32, count=3, offset=4), torch.frombuffer(raw, dtype=torch.int32, count=3, offset=4)
    raw[4] = 9
    assert n.tolist() == t.tolist() == [9, 2, 3]


def test_frombuffer_rejects_a_ragged_length():
    with pytest.raises(ArgumentError, match="multiple of element size"):
        nr.frombuffer(bytearray(5), dtype=nr.int32)


@pytest.mark.parametrize("size,layout", [((2, 3, 5, 7), (0, 2, 3, 1)), ((2, 3, 4), (2, 0, 1)), ((4,), (0,))])
def test_empty_permuted_lays_out_memory_as_torch(size, layout):
    n, t = nr.empty_permuted(size, layout), torch.empty_permuted(size, layout)
    assert n.shape == t.shape and n.stride() == t.stride()


@pytest.mark.parametrize("kwargs", [{}, {"edge_order": 2}, {"spacing": 2.0, "dim": 1}, {"spacing": [0.5, 3.0]},
                                    {"dim": -1, "spacing": [[0.0, 1.0, 3.0, 3.5, 5.0]], "edge_order": 2},
                                    {"dim": 0, "spacing": [[0.0, 2.0, 3.0, 7.0]]}])
def test_gradient_matches_torch(kwargs):
    n_kw, t_kw = dict(kwargs), dict(kwargs)
    if isinstance(kwargs.get("spacing"), list) and isinstance(kwargs["spacing"][0], list):
        n_kw["spacing"] = [nr.tensor(c, dtype=nr.float64) for c in kwargs["spacing"]]
        t_kw["spacing"] = [torch.tensor(c, dtype=torch.float64) for c in kwargs["spacing"]]
    a, ta = _pair(4, 5, seed=8)
    _close(nr.gradient(a, **n_kw), torch.gradient(ta, **t_kw), 1e-10)


def test_gradient_of_integers_is_float_as_torch():
    n, t = nr.gradient(nr.tensor([1, 4, 9, 16])), torch.gradient(torch.tensor([1, 4, 9, 16]))
    assert n[0].dtype == nr.float32 and n[0].tolist() == t[0].tolist()


def test_gradient_is_differentiable():
    x, tx = _pair(6, seed=9)
    x.requires_grad_(), tx.requires_grad_()
    (nr.gradient(x, edge_order=2)[0] ** 2).sum().backward()
    (torch.gradient(tx, edge_order=2)[0] ** 2).sum().backward()
    _close(x.grad, tx.grad, 1e-10)


def test_gradient_needs_edge_order_plus_one_samples():
    with pytest.raises(ShapeError, match="edge_order"):
        nr.gradient(nr.ones(2), edge_order=2)


# -- the complex API on real tensors ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["conj", "conj_physical", "resolve_conj", "resolve_neg", "real"])
def test_identity_functions_return_the_input_as_torch(name):
    x, tx = nr.ones(2), torch.ones(2)
    assert (getattr(nr, name)(x) is x) is (getattr(torch, name)(tx) is tx) is True
    method = getattr(x, name)  # ``real`` is a property, as torch's
    assert (method if name == "real" else method()) is x


def test_real_property_and_inplace_conjugate_return_self():
    x = nr.ones(2)
    assert x.real is x and x.conj_physical_() is x and nr.conj_physical_(x) is x


def test_is_conj_and_is_neg_are_false():
    assert nr.is_conj(nr.ones(1)) is nr.is_neg(nr.ones(1)) is torch.is_conj(torch.ones(1)) is False


def test_imag_raises_for_real_tensors():
    with pytest.raises(DTypeError, match="non-complex"):
        nr.imag(nr.ones(1))
    with pytest.raises(DTypeError, match="non-complex"):
        nr.ones(1).imag


@pytest.mark.parametrize("values,dtype", [([1.0, -2.0, 0.0, -0.0, float("nan"), float("inf"), -float("inf")], "float64"),
                                          ([3, -1, 0], "int64"), ([0.5, -0.5], "float16")])
def test_angle_matches_torch(values, dtype):
    n, t = nr.angle(nr.tensor(values, dtype=getattr(nr, dtype))), torch.angle(torch.tensor(values, dtype=getattr(torch, dtype)))
    assert str(n.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    np.testing.assert_array_equal(n.numpy().astype(np.float64), t.numpy().astype(np.float64))


def test_angle_gradient_is_zero_as_torch():
    x = nr.tensor([1.0, -2.0, float("inf")], requires_grad=True)
    tx = torch.tensor([1.0, -2.0, float("inf")], requires_grad=True)
    x.angle().sum().backward(), tx.angle().sum().backward()
    assert x.grad.tolist() == tx.grad.tolist() == [0.0, 0.0, 0.0]


# -- Tensor methods ---------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [(), (2, 3), ((2, 3),), ([1, 2],), ([[1.5]],), (4,)])
def test_new_matches_torch(args):
    n, t = nr.zeros(1, dtype=nr.float64).new(*args), torch.zeros(1, dtype=torch.float64).new(*args)
    assert n.shape == t.shape and n.dtype == nr.float64
    if args and not isinstance(args[0], int):
        assert n.tolist() == t.tolist()


def test_new_of_a_size_and_of_a_tensor():
    x = nr.zeros(1)
    assert x.new(nr.Size([2, 3])).shape == (2, 3)
    other = nr.ones(2)
    assert x.new(other) is other
    with pytest.raises(DTypeError):
        x.new(nr.tensor([1, 2]))


@pytest.mark.parametrize("values,fn", [([1, 2, 3], lambda v: v * 2.7), ([1.5, -2.0], lambda v: v ** 2 + 1),
                                       ([True, False], lambda v: not v)])
def test_apply_matches_torch(values, fn):
    n, t = nr.tensor(values), torch.tensor(values)
    assert n.apply_(fn) is n
    assert n.tolist() == t.apply_(fn).tolist()


def test_map_and_map2_broadcast_their_operands_as_torch():
    n, t = nr.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    n.map_(nr.tensor([10.0, 20.0]), lambda a, b: a * b)
    t.map_(torch.tensor([10.0, 20.0]), lambda a, b: a * b)
    n.map2_(nr.tensor([1.0]), nr.tensor([[2.0], [3.0]]), lambda a, b, c: a - b * c)
    t.map2_(torch.tensor([1.0]), torch.tensor([[2.0], [3.0]]), lambda a, b, c: a - b * c)
    assert n.tolist() == t.tolist()


def test_apply_refuses_grad_other_dtypes_and_bad_shapes():
    with pytest.raises(AutogradError, match="detach"):
        nr.ones(2, requires_grad=True).apply_(abs)
    with pytest.raises(DTypeError):
        nr.ones(2).map_(nr.tensor([1, 2]), lambda a, b: a)
    with pytest.raises(ShapeError):
        nr.ones(2).map_(nr.ones(3), lambda a, b: a)


INPLACE = [("gcd_", [4, 6, 9], ([6, 4, 3],)), ("lcm_", [4, 6, 9], ([6, 4, 3],)), ("ldexp_", [1.0, 3.0], ([2, 3],)),
           ("float_power_", [2.0, 3.0], (2.5,)), ("heaviside_", [-1.0, 0.0, 2.0], ([0.5],)),
           ("nextafter_", [1.0, 2.0], ([2.0, 1.0],)), ("mvlgamma_", [2.5, 3.0], (2,)),
           ("renorm_", [[3.0, 4.0], [0.3, 0.4]], (2, 0, 1.0)), ("addr_", [[1.0, 2.0], [3.0, 4.0]], ([1.0, 2.0], [3.0, 5.0]))]


@pytest.mark.parametrize("name,values,args", INPLACE)
def test_inplace_composition_matches_torch(name, values, args):
    dtype = "float64" if name == "float_power_" else None
    n = nr.tensor(values, dtype=dtype and nr.float64)
    t = torch.tensor(values, dtype=dtype and torch.float64)
    n_args = [nr.tensor(a) if isinstance(a, list) else a for a in args]
    t_args = [torch.tensor(a) if isinstance(a, list) else a for a in args]
    assert getattr(n, name)(*n_args) is n
    _close(n, getattr(t, name)(*t_args), 1e-6)


def test_float_power_inplace_needs_a_float64_base():
    with pytest.raises(DTypeError, match="float64"):
        nr.ones(2).float_power_(2)


def test_inplace_composition_refuses_a_leaf_that_requires_grad():
    with pytest.raises(AutogradError):
        nr.ones(2, requires_grad=True).ldexp_(nr.tensor([1]))


@pytest.mark.parametrize("name", ["is_sparse", "is_sparse_csr", "is_quantized", "is_meta", "is_nested", "is_mkldnn",
                                  "is_xpu", "is_mps", "is_vulkan", "is_ipu", "is_xla", "is_mtia", "is_maia"])
def test_never_true_predicates_are_false_properties_as_torch(name):
    assert getattr(nr.zeros(2), name) is getattr(torch.zeros(2), name) is False


@pytest.mark.parametrize("make", [lambda m: m.zeros(2, 3, 4), lambda m: m.zeros(2, 3, 4).permute(2, 0, 1),
                                  lambda m: m.zeros(2, 3).t(), lambda m: m.zeros(2, 1, 3),
                                  lambda m: m.zeros(2, 3, 4, 5).permute(0, 2, 3, 1),
                                  lambda m: m.zeros(3, 1).expand(3, 4), lambda m: m.zeros(5)])
def test_dim_order_matches_torch(make):
    assert make(nr).dim_order() == make(torch).dim_order()


def test_const_data_ptr_is_the_data_pointer():
    x = nr.zeros(3)[1:]
    assert x.const_data_ptr() == x.data_ptr()


def test_prelu_method_matches_torch():
    _close(X.prelu(B[:3]), TX.prelu(TB[:3]))


@pytest.mark.parametrize("name,values,other", [("gcd_", [4, 6], [6, 4]), ("lcm_", [4, 6], [6, 4]),
                                               ("ldexp_", [1.0, 3.0], [2, 3])])
def test_top_level_inplace_compositions_match_torch(name, values, other):
    x, tx = nr.tensor(values), torch.tensor(values)
    assert getattr(nr, name)(x, nr.tensor(other)) is x
    assert x.tolist() == getattr(torch, name)(tx, torch.tensor(other)).tolist()
