"""``nr.autocast``: per-op output dtypes equal ``torch.autocast``'s, the CUDA policy equals PyTorch's
documented lists, and regions nest, disable, decorate and stay in their thread as PyTorch's do."""
from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
import torch

import neurarust as nr
import neurarust.nn as nn
import neurarust.nn.functional as F
from neurarust import registry
from neurarust.amp import autocast_mode
from neurarust.registry import all_ops

import harness as H

# -- CPU: every entry's output dtype under autocast equals torch.autocast("cpu")'s --------------------


def _torch_convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups):
    """``F.conv*d``/``F.conv_transpose*d``, which PyTorch autocasts (``torch.convolution`` it does not,
    on the CPU), the functions that reach NeuraRust's ``convolution`` entry."""
    s = input.ndim - 2
    if transposed:
        return getattr(torch.nn.functional, f"conv_transpose{s}d")(input, weight, bias, stride, padding,
                                                                 output_padding, groups, dilation)
    return getattr(torch.nn.functional, f"conv{s}d")(input, weight, bias, stride, padding, dilation, groups)


# Entries whose harness oracle is not the function a user calls (it computes in float32 for CPU halves).
TORCH_ORACLE = {"convolution": _torch_convolution}
# (region dtype, input dtype) pairs.
REGIONS = [(nr.bfloat16, nr.float32), (nr.bfloat16, nr.bfloat16), (nr.float16, nr.float32)]
CPU_CASES = [pytest.param(op, region, dtype, id=f"{op.name}-{region.name}-{dtype.name}")
             for op in all_ops() if op.kind != "random" and op.torch_name is not None
             for region, dtype in REGIONS if dtype in op.dtypes]


def _torch_result_dtype(op, sample, dtype, region):
    args = [H._convert(a, dtype, H.torch_tensor) for a in sample.args]
    kwargs = {k: H._convert(v, dtype, H.torch_tensor) for k, v in sample.kwargs.items()}
    fn = TORCH_ORACLE.get(op.name) or (op.torch_name if callable(op.torch_name) else getattr(torch, op.torch_name))
    with torch.autocast("cpu", dtype=region.to_torch()):
        return H.result_dtype(fn(*args, **kwargs))


@pytest.mark.parametrize("op,region,dtype", CPU_CASES)
def test_cpu_output_dtype_equals_torch_autocast(op, region, dtype):
    checked = 0
    for sample in op.samples(dtype):
        try:
            want = _torch_result_dtype(op, sample, dtype, region)
        except (RuntimeError, TypeError, ValueError, IndexError):
            continue  # PyTorch rejects this call under autocast (mixed dtypes): nothing to compare
        with nr.autocast("cpu", dtype=region):
            got = H.result_dtype(H.nr_call(op, sample, dtype, "reference"))
        assert got.name == str(want).removeprefix("torch."), f"{op.name}[{sample.name}]"
        checked += 1
    assert checked or not list(op.samples(dtype))


# -- CUDA: the policy table equals PyTorch's documented lists ------------------------------------------
# https://pytorch.org/docs/stable/amp.html, "CUDA Op-Specific Behavior" (PyTorch 2.x).
CUDA_LOWER_DOC = {
    "__matmul__", "addbmm", "addmm", "addmv", "addr", "baddbmm", "bmm", "chain_matmul", "multi_dot", "conv1d",
    "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "GRUCell", "linear",
    "LSTMCell", "matmul", "mm", "mv", "prelu", "RNNCell"}
CUDA_FP32_DOC = {
    "__pow__", "__rdiv__", "__rpow__", "__rtruediv__", "acos", "asin", "binary_cross_entropy_with_logits", "cosh",
    "cosine_embedding_loss", "cdist", "cosine_similarity", "cross_entropy", "cumprod", "cumsum", "dist", "erfinv",
    "exp", "expm1", "group_norm", "hinge_embedding_loss", "kl_div", "l1_loss", "layer_norm", "log", "log_softmax",
    "log10", "log1p", "log2", "margin_ranking_loss", "mse_loss", "multilabel_margin_loss", "multi_margin_loss",
    "nll_loss", "norm", "normalize", "pdist", "poisson_nll_loss", "pow", "prod", "reciprocal", "rsqrt", "sinh",
    "smooth_l1_loss", "soft_margin_loss", "softmax", "softmin", "softplus", "sum", "renorm", "tan",
    "triplet_margin_loss"}
CUDA_PROMOTE_DOC = {"addcdiv", "addcmul", "atan2", "bilinear", "cross", "dot", "grid_sample", "index_put",
                    "scatter_add", "tensordot"}
# Same page, "Prefer binary_cross_entropy_with_logits over binary_cross_entropy": it raises in a region.
CUDA_BANNED_DOC = {"binary_cross_entropy"}
# In PyTorch's CUDA lists (aten/src/ATen/autocast_mode.h) but not on the documentation page.
CUDA_LOWER_SOURCE = {"einsum", "scaled_dot_product_attention", "_cudnn_rnn"}
CUDA_FP32_SOURCE = {"huber_loss", "logsumexp", "linalg_vector_norm"}

# NeuraRust entry -> the PyTorch names it stands for (itself unless listed).
TORCH_NAMES = {
    "convolution": {"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"},
    "flash_attention": {"scaled_dot_product_attention"},
    "native_layer_norm": {"layer_norm"}, "native_group_norm": {"group_norm"},
    "linalg.vector_norm": {"linalg_vector_norm"},
    "pow": {"pow", "__pow__", "__rpow__"},
    "div": {"__rdiv__", "__rtruediv__"},  # div with a number first: ``2 / x``
    "lstm_cell": {"LSTMCell"}, "gru_cell": {"GRUCell"}, "rnn_cell": {"RNNCell"},
    # nn.LSTM/GRU/RNN run as one cuDNN op on CUDA
    "lstm": {"_cudnn_rnn"}, "gru": {"_cudnn_rnn"}, "rnn_tanh": {"_cudnn_rnn"}, "rnn_relu": {"_cudnn_rnn"},
}
EXPECTED = {"lower": CUDA_LOWER_DOC | CUDA_LOWER_SOURCE, "fp32": CUDA_FP32_DOC | CUDA_FP32_SOURCE,
            "promote": CUDA_PROMOTE_DOC, "banned": CUDA_BANNED_DOC}


def _cuda_table() -> dict[str, str]:
    """NeuraRust's CUDA classes: registry entries and nn.functional composites."""
    table = {op.name: getattr(op.autocast["cuda"], "cls", op.autocast["cuda"])  # AutocastWhen: its class
             for op in all_ops() if op.autocast and "cuda" in op.autocast}
    table.update({n: c["cuda"] for n, c in autocast_mode.COMPOSITES.items() if "cuda" in c})
    return table


def _expected_class(torch_names: set[str]) -> str | None:
    classes = {cls for cls, names in EXPECTED.items() if torch_names & names}
    assert len(classes) <= 1, torch_names
    return classes.pop() if classes else None


def test_every_cuda_class_is_pytorchs():
    for name, cls in _cuda_table().items():
        assert _expected_class(TORCH_NAMES.get(name, {name})) == cls, name


def test_every_op_in_pytorchs_cuda_lists_that_neurarust_has_has_its_class():
    table = _cuda_table()
    for op in all_ops():
        cls = _expected_class(TORCH_NAMES.get(op.name, {op.name}))
        if cls is not None:
            assert table.get(op.name) == cls, op.name
    for name in ("linear", "bilinear", "prelu", "normalize"):
        assert table[name] == _expected_class({name}), name


def test_declared_classes_are_known_ones():
    for op in all_ops():
        for device, cls in (op.autocast or {}).items():
            assert device in ("cuda", "cpu") and getattr(cls, "cls", cls) in registry.AUTOCAST_CLASSES, op.name


# -- regions ------------------------------------------------------------------------------------------
def _mm(a=None, b=None):
    a = nr.ones(2, 2) if a is None else a
    return a @ (nr.ones(2, 2) if b is None else b)


def test_default_dtypes_are_pytorchs():
    assert nr.amp.get_autocast_dtype("cpu") is nr.bfloat16
    assert nr.amp.get_autocast_dtype("cuda") is nr.float16
    assert nr.autocast is nr.amp.autocast


def test_lower_op_runs_in_region_dtype_and_leaving_restores():
    with nr.autocast("cpu"):
        assert nr.amp.is_autocast_enabled("cpu")
        assert _mm().dtype is nr.bfloat16
    assert not nr.amp.is_autocast_enabled("cpu")
    assert _mm().dtype is nr.float32


def test_ops_without_a_class_run_in_their_input_dtypes():
    with nr.autocast("cpu"):
        x = nr.ones(3)
        assert (x + 1).dtype is nr.float32
        assert (_mm() + nr.ones(2, 2)).dtype is nr.float32  # bfloat16 + float32 promotes, as in PyTorch


def test_disabled_inner_region_runs_ops_in_input_dtypes():
    with nr.autocast("cpu"):
        with nr.autocast("cpu", enabled=False):
            assert not nr.amp.is_autocast_enabled("cpu")
            assert _mm().dtype is nr.float32
        assert _mm().dtype is nr.bfloat16


def test_inner_region_dtype_overrides_outer_and_leaving_restores_it():
    with nr.autocast("cpu", dtype=nr.float16):
        with nr.autocast("cpu", dtype=nr.bfloat16):
            assert _mm().dtype is nr.bfloat16
        assert _mm().dtype is nr.float16
        assert nr.amp.get_autocast_dtype("cpu") is nr.float16
        with nr.autocast("cpu"):  # dtype=None takes the current one, as torch.autocast does
            assert _mm().dtype is nr.float16
    assert nr.amp.get_autocast_dtype("cpu") is nr.bfloat16


def test_enabled_region_inside_a_disabled_one_autocasts():
    with nr.autocast("cpu", enabled=False):
        with nr.autocast("cpu"):
            assert _mm().dtype is nr.bfloat16
        assert _mm().dtype is nr.float32


def test_decorator_form_opens_a_region_per_call():
    @nr.autocast("cpu")
    def forward(a):
        return _mm(a)

    assert forward(nr.ones(2, 2)).dtype is nr.bfloat16
    assert forward(nr.ones(2, 2)).dtype is nr.bfloat16
    assert not nr.amp.is_autocast_enabled("cpu")


def test_region_state_is_thread_local():
    seen = {}
    started, release = threading.Event(), threading.Event()

    def other():
        started.set()
        release.wait(10)
        seen["enabled"] = nr.amp.is_autocast_enabled("cpu")
        seen["dtype"] = _mm().dtype
        with nr.autocast("cpu", dtype=nr.float16):
            seen["own"] = _mm().dtype

    thread = threading.Thread(target=other)
    thread.start()
    started.wait(10)
    with nr.autocast("cpu"):
        release.set()
        thread.join(10)
        assert _mm().dtype is nr.bfloat16
    assert seen == {"enabled": False, "dtype": nr.float32, "own": nr.float16}


def test_no_region_leaves_the_op_hook_untouched():
    before = registry._grad_hook
    with nr.autocast("cpu"):
        assert registry._grad_hook is autocast_mode._hook
        with nr.autocast("cpu"):
            pass
        assert registry._grad_hook is autocast_mode._hook
    assert registry._grad_hook is before
    with nr.autocast("cpu", enabled=False):
        assert _mm().dtype is nr.float32
    assert registry._grad_hook is before


def test_an_exception_inside_a_region_restores_the_state():
    before = registry._grad_hook
    with pytest.raises(ZeroDivisionError):
        with nr.autocast("cpu"):
            1 / 0
    assert registry._grad_hook is before and not nr.amp.is_autocast_enabled("cpu")


def test_float64_and_integer_tensors_are_not_cast():
    with nr.autocast("cpu"):
        assert _mm(nr.ones(2, 2, dtype=nr.float64), nr.ones(2, 2, dtype=nr.float64)).dtype is nr.float64
        assert nr.cat([nr.ones(2, dtype=nr.int64), nr.ones(2, dtype=nr.int64)]).dtype is nr.int64
        assert nr.cat([nr.ones(2, dtype=nr.int64), nr.ones(2, dtype=nr.bfloat16)]).dtype is nr.bfloat16


def test_out_calls_are_not_autocast():
    out, three = nr.empty(2, 2), nr.full((2, 2), 1 / 3)
    with nr.autocast("cpu"):
        nr.mm(three, nr.ones(2, 2), out=out)
    assert out.dtype is nr.float32 and out.tolist() == (three @ nr.ones(2, 2)).tolist()


def test_explicit_dtype_argument_is_respected():
    x = nr.ones(3, dtype=nr.bfloat16)
    with nr.autocast("cpu"):
        assert x.prod().dtype is nr.float32              # "fp32" on the CPU
        assert x.prod(dtype=nr.bfloat16).dtype is nr.bfloat16
    with torch.autocast("cpu"):
        t = torch.ones(3, dtype=torch.bfloat16)
        assert t.prod().dtype == torch.float32 and t.prod(dtype=torch.bfloat16).dtype == torch.bfloat16


def test_promote_ops_run_in_the_widest_input_dtype():
    low, high = nr.ones(2, dtype=nr.bfloat16), nr.ones(2)
    with nr.autocast("cpu"):
        assert nr.cat([low, low]).dtype is nr.bfloat16
        assert nr.cat([low, high]).dtype is nr.float32
        assert nr.stack([low, nr.ones(2, dtype=nr.float64)]).dtype is nr.float64


def test_fp32_ops_run_in_float32():
    logits = nr.randn(4, 3).to(nr.bfloat16)
    with nr.autocast("cpu"):
        assert F.cross_entropy(logits, nr.tensor([0, 1, 2, 0])).dtype is nr.float32
        assert F.mse_loss(logits, logits).dtype is nr.float32


def test_composites_cast_once_and_run_in_region_dtype():
    layer = nn.Linear(3, 2)
    with nr.autocast("cpu"):
        assert layer(nr.randn(4, 3)).dtype is nr.bfloat16
        assert F.prelu(nr.randn(2, 3), nr.ones(1)).dtype is nr.bfloat16


def test_gradients_flow_back_in_each_parameters_dtype():
    layer = nn.Linear(3, 2)
    layer64 = nn.Linear(2, 2).to(nr.float64)
    x = nr.randn(4, 3, requires_grad=True)
    with nr.autocast("cpu"):
        y = layer(x)
        z = layer64(y.to(nr.float64))
        loss = F.cross_entropy(y, nr.tensor([0, 1, 1, 0])) + z.sum()
    loss.backward()
    assert y.dtype is nr.bfloat16 and z.dtype is nr.float64
    assert layer.weight.grad.dtype is nr.float32 and layer.bias.grad.dtype is nr.float32
    assert layer64.weight.grad.dtype is nr.float64 and x.grad.dtype is nr.float32


def test_gradients_match_pytorch_autocast():
    rng = np.random.default_rng(0)
    w, b, x = (rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (3,), (5, 4)))
    target = [0, 2, 1, 1, 0]
    nw, nb = nr.tensor(w, requires_grad=True), nr.tensor(b, requires_grad=True)
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    with nr.autocast("cpu"):
        nloss = F.cross_entropy(F.linear(nr.tensor(x), nw, nb), nr.tensor(target))
    with torch.autocast("cpu"):
        tloss = torch.nn.functional.cross_entropy(torch.nn.functional.linear(torch.tensor(x), tw, tb),
                                                  torch.tensor(target))
    nloss.backward()
    tloss.backward()
    assert nloss.dtype.name == str(tloss.dtype).removeprefix("torch.")
    np.testing.assert_allclose(nloss.item(), tloss.item(), rtol=2e-2)
    np.testing.assert_allclose(nw.grad.numpy(), tw.grad.numpy(), rtol=5e-2, atol=5e-3)
    np.testing.assert_allclose(nb.grad.numpy(), tb.grad.numpy(), rtol=5e-2, atol=5e-3)


def test_a_weight_used_twice_is_cast_once_per_region():
    w = nr.ones(2, 2, requires_grad=True)
    with nr.autocast("cpu"):
        _mm(nr.ones(2, 2), w)
        _mm(nr.ones(2, 2), w)
        assert len(autocast_mode._state.cache) == 1
    assert not autocast_mode._state.cache
    with nr.autocast("cpu", cache_enabled=False):
        _mm(nr.ones(2, 2), w)
        assert not autocast_mode._state.cache


def test_unsupported_dtype_warns_and_disables_the_region():
    with pytest.warns(UserWarning, match="not supported"):
        region = nr.autocast("cpu", dtype=nr.float32)
    with region:
        assert not nr.amp.is_autocast_enabled("cpu")
        assert _mm().dtype is nr.float32


@pytest.mark.skipif(nr.cuda.is_available(), reason="checks the no-GPU behaviour")
def test_cuda_region_without_a_gpu_warns_and_disables():
    with pytest.warns(UserWarning, match="CUDA is not available"):
        region = nr.autocast("cuda")
    with region:
        assert not nr.amp.is_autocast_enabled("cuda")


def test_unknown_device_type_raises():
    with pytest.raises(nr.ArgumentError, match="'tpu'"):
        nr.autocast("tpu")
    with pytest.raises(nr.SignatureError, match="string"):
        nr.autocast(nr.device("cpu"))


def test_banned_op_raises_inside_a_region():
    # binary_cross_entropy is "banned" only on CUDA; a stand-in region state shows the behaviour here.
    p = nr.full((2,), 0.5, dtype=nr.float16)
    state = autocast_mode._state
    with nr.autocast("cpu"):
        saved = state.active
        state.active = (("cpu", nr.bfloat16),)
        classes = registry.get("binary_cross_entropy").autocast
        try:
            with pytest.raises(nr.errors.AutocastError, match="binary_cross_entropy_with_logits"):
                autocast_mode._cast_arguments("binary_cross_entropy", {"cpu": classes["cuda"]}, (p, p), {},
                                              state, False)
        finally:
            state.active = saved


# -- training -----------------------------------------------------------------------------------------
def _blobs(n: int = 96, classes: int = 3, features: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, features)) * 3
    y = rng.integers(0, classes, n)
    x = centers[y] + rng.standard_normal((n, features))
    return nr.tensor(x.astype(np.float32)), nr.tensor(y)


def _train(steps: int, dtype, backend: str = "reference") -> list[float]:
    nr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = nr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = _blobs()
    losses = []
    with nr.backends.using(backend):
        for _ in range(steps):
            opt.zero_grad()
            with nr.autocast("cpu", dtype=dtype):
                logits = model(x)
                loss = F.cross_entropy(logits, y)
            assert logits.dtype is dtype and loss.dtype is nr.float32
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert all(p.dtype is nr.float32 and p.grad.dtype is nr.float32 for p in model.parameters())
    return losses


def test_bfloat16_cpu_training_converges_without_nan():
    losses = _train(30, nr.bfloat16)
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.25 * losses[0]


def test_float16_triton_interpreted_training_converges_without_nan():
    before = sum(nr.backends.launch_counts.values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        losses = _train(8, nr.float16, backend="triton")
    assert sum(nr.backends.launch_counts.values()) > before  # the kernels ran, interpreted
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("build,shape", [
    (lambda m: m.Sequential(m.Linear(4, 6), m.LayerNorm(6), m.GELU(), m.Linear(6, 3), m.Softmax(-1)), (2, 4)),
    (lambda m: m.Sequential(m.Conv2d(2, 4, 3, padding=1), m.BatchNorm2d(4), m.ReLU(), m.MaxPool2d(2), m.Flatten(),
                            m.Linear(16, 3), m.LogSoftmax(-1)), (2, 2, 4, 4)),
], ids=["mlp_layernorm_softmax", "conv_batchnorm_pool"])
def test_module_output_dtypes_equal_torch_autocast(build, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with nr.autocast("cpu"):
        got = [out.dtype.name for out in _trace(build(nn), nr.tensor(x))]
    with torch.autocast("cpu"):
        want = [str(out.dtype).removeprefix("torch.") for out in _trace(build(torch.nn), torch.tensor(x))]
    assert got == want


def _trace(model, x) -> list:
    outs = []
    for layer in model:
        x = layer(x)
        outs.append(x)
    return outs


def test_one_decorated_function_runs_in_many_threads_at_once():
    barrier = threading.Barrier(4)
    results, errors = [], []

    @nr.autocast("cpu")
    def forward():
        barrier.wait(10)  # every thread is inside the same region object before any leaves
        return _mm().dtype

    def work():
        try:
            results.append(forward())
            results.append(_mm().dtype)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors and sorted(d.name for d in results) == ["bfloat16"] * 4 + ["float32"] * 4
    assert registry._grad_hook is not autocast_mode._hook


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"])
def test_recurrent_modules_autocast_like_pytorch_on_cpu(cls):
    import torch

    ours, theirs = getattr(nr.nn, cls)(3, 4), getattr(torch.nn, cls)(3, 4)
    x = nr.randn(5, 2, 3) if not cls.endswith("Cell") else nr.randn(2, 3)
    with nr.autocast("cpu"):
        out = ours(x)
    with torch.autocast("cpu"):
        expected = theirs(torch.from_numpy(x.numpy()))
    flat = lambda o: [t for item in (o if isinstance(o, tuple) else (o,))  # noqa: E731
                      for t in (item if isinstance(item, tuple) else (item,))]
    assert [t.dtype.name for t in flat(out)] == [str(t.dtype).removeprefix("torch.") for t in flat(expected)]
