"""Autograd semantics, one behaviour per test: what PyTorch users rely on when they port a script."""
from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest

import neurarust as nr
from neurarust.autograd import Function, GradcheckError, gradcheck
from neurarust.errors import AutogradError, DerivativeNotImplementedError


def leaf(*values, dtype=nr.float64):
    return nr.tensor(list(values), dtype=dtype, requires_grad=True)


def backward_ones(y):
    y.backward(nr.ones_like(y))


# -- flags and leaves -----------------------------------------------------------------------------

def test_results_of_ops_on_leaves_that_require_grad_require_grad():
    x = leaf(1.0, 2.0)
    y = x * 2
    assert y.requires_grad and not y.is_leaf and x.is_leaf and y.grad_fn.name() == "MulBackward"


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(nr.DTypeError, match="floating point"):
        nr.tensor([1, 2]).requires_grad_()


def test_requires_grad_of_a_non_leaf_cannot_be_switched_off():
    y = leaf(1.0) * 2
    with pytest.raises(AutogradError, match="leaf"):
        y.requires_grad_(False)


def test_detach_shares_memory_and_leaves_the_graph():
    x = leaf(1.0, 2.0)
    d = (x * 1).detach()
    assert not d.requires_grad and d.grad_fn is None


def test_comparison_results_never_require_grad():
    x = leaf(1.0, 2.0)
    assert not (x > 1).requires_grad


def test_creation_functions_take_requires_grad():
    assert nr.zeros(2, requires_grad=True).requires_grad
    assert nr.ones_like(nr.zeros(2), requires_grad=True).is_leaf


def test_repr_shows_grad_fn_and_requires_grad():
    x = leaf(1.0, dtype=nr.float32)
    assert repr(x) == "tensor([1.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2.], grad_fn=<MulBackward>)"


def test_numpy_of_a_tensor_that_requires_grad_raises_like_pytorch():
    with pytest.raises(AutogradError, match="detach"):
        leaf(1.0).numpy()


# -- backward ---------------------------------------------------------------------------------------

def test_gradients_accumulate_across_backward_calls():
    x = leaf(1.0, 2.0)
    backward_ones(x * 3)
    backward_ones(x * 3)
    assert x.grad.tolist() == [6.0, 6.0]


# -- .grad takes a gradient nothing else holds (PyTorch's AccumulateGrad does), never a shared one ---------

@pytest.fixture
def clones(monkeypatch):
    """The number of Tensor.clone calls made so far."""
    made = []
    clone = nr.Tensor.clone
    monkeypatch.setattr(nr.Tensor, "clone", lambda self, *a, **k: made.append(1) or clone(self, *a, **k))
    return made


def test_a_gradient_nothing_else_holds_becomes_grad_without_a_copy(clones):
    x, w = nr.randn(3, 4, requires_grad=True), nr.randn(4, 5, requires_grad=True)
    (x @ w).sum().backward()
    assert not clones and x.grad.stride() == x.stride() and w.grad.stride() == w.stride()


def test_a_linear_weight_gradient_is_made_in_the_weights_layout_and_taken(clones):
    lin, x = nr.nn.Linear(4, 3), nr.randn(2, 5, 4)
    lin(x).sum().backward()
    assert not clones and lin.weight.grad.is_contiguous()
    np.testing.assert_allclose(lin.weight.grad.numpy(), np.tile(x.numpy().sum((0, 1)), (3, 1)), rtol=1e-5)


def test_two_leaves_given_one_gradient_get_buffers_of_their_own():
    a, b = nr.zeros(2, 2, requires_grad=True), nr.zeros(2, 2, requires_grad=True)
    ((a.view(-1) + b.view(-1)) * 2).sum().backward()      # one fresh gradient, through two views
    assert a.grad._storage is not b.grad._storage
    a.grad.add_(1)
    assert b.grad.tolist() == [[2.0, 2.0], [2.0, 2.0]]


def test_the_callers_gradient_is_never_taken():
    x = nr.zeros(2, 2, requires_grad=True)
    g = nr.ones(4)
    x.view(-1).backward(g)
    assert x.grad._storage is not g._storage


def test_a_gradient_a_hook_saw_is_copied():
    x = nr.zeros(2, 2, requires_grad=True)
    seen = []
    v = x.view(4)
    v.register_hook(seen.append)
    (v * nr.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert x.grad._storage is not seen[0]._storage
    x.grad.zero_()
    assert seen[0].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_a_gradient_a_custom_function_returns_is_copied():
    kept = []

    class Keep(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            kept.append(g * 2)
            return kept[-1]

    x = nr.zeros(3, requires_grad=True)
    Keep.apply(x).sum().backward()
    assert x.grad._storage is not kept[0]._storage


def test_a_gradient_used_twice_is_summed():
    x = leaf(3.0)
    backward_ones(x * x + x)
    assert x.grad.tolist() == [7.0]


def test_non_scalar_backward_needs_a_gradient():
    with pytest.raises(AutogradError, match="scalar outputs"):
        (leaf(1.0, 2.0) * 2).backward()


def test_non_scalar_backward_weights_by_the_gradient():
    x = leaf(1.0, 2.0)
    (x * 3).backward(nr.tensor([1.0, -1.0], dtype=nr.float64))
    assert x.grad.tolist() == [3.0, -3.0]


def test_backward_of_a_tensor_outside_a_graph_raises():
    with pytest.raises(AutogradError, match="does not require grad"):
        nr.ones(1).backward()


def test_second_backward_through_a_freed_graph_raises():
    x = leaf(2.0)
    y = x * x
    backward_ones(y)
    with pytest.raises(AutogradError, match="second time"):
        backward_ones(y)


def test_retain_graph_allows_a_second_backward():
    x = leaf(2.0)
    y = x * x
    y.backward(nr.ones_like(y), retain_graph=True)
    backward_ones(y)
    assert x.grad.tolist() == [8.0]


def test_saved_tensors_are_released_after_backward():
    x = leaf(2.0, 3.0)
    h = x * 2
    y = h * h
    saved = weakref.ref(h)
    del h
    gc.collect()
    assert saved() is not None  # y's node keeps what its backward needs
    backward_ones(y)
    gc.collect()
    assert saved() is None


def test_backward_inputs_limits_which_leaves_accumulate():
    a, b = leaf(1.0), leaf(2.0)
    (a * b).backward(nr.ones(1, dtype=nr.float64), inputs=[a])
    assert a.grad.tolist() == [2.0] and b.grad is None


def test_grad_returns_gradients_without_touching_dot_grad():
    x = leaf(3.0)
    (g,) = nr.autograd.grad(x * x, x, nr.ones(1, dtype=nr.float64))
    assert g.tolist() == [6.0] and x.grad is None


def test_grad_of_an_unused_input_raises_unless_allow_unused():
    x, unused = leaf(1.0), leaf(1.0)
    y = x * 2
    with pytest.raises(AutogradError, match="allow_unused"):
        nr.autograd.grad(y, [x, unused], nr.ones(1, dtype=nr.float64), retain_graph=True)
    assert nr.autograd.grad(y, [x, unused], nr.ones(1, dtype=nr.float64), allow_unused=True)[1] is None


def test_broadcast_inputs_get_gradients_summed_to_their_shape():
    x = nr.ones(2, 3, dtype=nr.float64, requires_grad=True)
    b = nr.ones(3, dtype=nr.float64, requires_grad=True)
    backward_ones(x * b)
    assert b.grad.tolist() == [2.0, 2.0, 2.0]


def test_gradients_are_cast_to_the_input_dtype():
    x = nr.ones(2, dtype=nr.float16, requires_grad=True)
    backward_ones(x.to(nr.float32) * 2)
    assert x.grad.dtype is nr.float16 and x.grad.tolist() == [2.0, 2.0]


def test_a_ten_thousand_op_chain_needs_no_recursion():
    x = leaf(1.0)
    y = x
    for _ in range(10_000):
        y = y * 1.0
    backward_ones(y)
    assert x.grad.tolist() == [1.0]


# -- higher order ------------------------------------------------------------------------------------

def test_create_graph_gives_second_derivatives():
    x = leaf(2.0)
    (g,) = nr.autograd.grad(x * x * x, x, nr.ones(1, dtype=nr.float64), create_graph=True)
    (h,) = nr.autograd.grad(g, x, nr.ones(1, dtype=nr.float64))
    assert g.tolist() == [12.0] and h.tolist() == [12.0]


def test_hessian_vector_product():
    x = leaf(1.0, 2.0)
    v = nr.tensor([1.0, 0.5], dtype=nr.float64)
    y = x * x * x  # Hessian of sum(y) is diag(6x)
    (g,) = nr.autograd.grad(y, x, nr.ones(2, dtype=nr.float64), create_graph=True)
    (hv,) = nr.autograd.grad(g, x, v)
    assert hv.tolist() == [6.0, 6.0]


def _third_derivatives(lib, fn, values):
    """Every third partial derivative of ``fn`` at ``values``, by three nested grads."""
    grad = nr.autograd.grad if lib is nr else __import__("torch").autograd.grad
    x = lib.tensor(values, dtype=lib.float64, requires_grad=True)
    (g,) = grad(fn(x), [x], create_graph=True)
    rows = []
    for i in range(len(values)):
        (h,) = grad(g[i], [x], create_graph=True)
        for j in range(len(values)):
            (t,) = grad(h[j], [x], retain_graph=True)
            rows.append(t.detach().tolist())
    return np.array(rows)


def _through_views(x):
    y = x.exp()
    mixed = (y[0] * y[1]).exp() + (y[0:2] * y[2:4]).sum()   # two views of one non-leaf, used together
    w = y * 1.0
    w[1:3] = y[1:3] * y[0]                                   # an in-place write into a view (CopySlices)
    return mixed + (w * w * w).sum()


def test_third_derivatives_through_views_and_view_writes_match_pytorch():
    import torch  # noqa: F401  (the oracle)

    values = [0.3, -0.2, 0.5, 0.1]
    ours, theirs = _third_derivatives(nr, _through_views, values), _third_derivatives(torch, _through_views, values)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


# -- views -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("view", [
    lambda t: t.view(6), lambda t: t.reshape(3, 2), lambda t: t.t(), lambda t: t.permute(1, 0),
    lambda t: t.transpose(0, 1), lambda t: t.unsqueeze(0), lambda t: t[None].squeeze(0),
    lambda t: t.narrow(1, 1, 2), lambda t: t[1], lambda t: t[:, ::2], lambda t: t.diagonal(),
    lambda t: t[0:1].expand(4, 3), lambda t: t.flatten(), lambda t: t.unflatten(1, (3, 1)),
    lambda t: t.unfold(1, 2, 2), lambda t: t.t().reshape(6),
], ids=["view", "reshape", "t", "permute", "transpose", "unsqueeze", "squeeze", "narrow", "select",
        "step_slice", "diagonal", "expand", "flatten", "unflatten", "unfold", "reshape_copy"])
def test_view_gradients_match_pytorch(view):
    import torch

    values = np.arange(6.0).reshape(2, 3)
    x = nr.tensor(values, requires_grad=True)
    tx = torch.tensor(values, requires_grad=True)
    y, ty = view(x), view(tx)
    w = np.random.default_rng(0).uniform(-1, 1, tuple(y.shape))
    y.backward(nr.tensor(w, dtype=y.dtype))
    ty.backward(torch.tensor(w, dtype=ty.dtype))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_view_gradients_differentiate_twice():
    x = nr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert gradcheck(lambda t: t[:, 1:] * t[:, 1:], (x,))
    assert nr.autograd.gradgradcheck(lambda t: t.narrow(1, 0, 2) * t.narrow(1, 1, 2), (x,))


def test_unfold_with_overlapping_windows_has_no_derivative_yet():
    y = leaf(1.0, 2.0, 3.0).unfold(0, 2, 1)
    with pytest.raises(DerivativeNotImplementedError, match="overlapping"):
        backward_ones(y)


# -- in place ---------------------------------------------------------------------------------------

def test_in_place_on_a_leaf_that_requires_grad_raises():
    with pytest.raises(AutogradError, match="leaf Variable"):
        leaf(1.0).add_(1)


def test_in_place_on_a_leaf_is_allowed_under_no_grad():
    x = leaf(1.0)
    with nr.no_grad():
        x.mul_(3)
    assert x.tolist() == [3.0] and x.is_leaf and x.requires_grad


def test_in_place_op_on_a_non_leaf_is_differentiated():
    x = leaf(1.0, 2.0)
    y = x * 1
    y.mul_(3)
    y.add_(x)
    backward_ones(y)
    assert x.grad.tolist() == [4.0, 4.0]


def test_in_place_op_that_overwrites_a_saved_input_keeps_a_copy():
    x = leaf(2.0)
    y = x * 1
    y.mul_(y)  # backward of mul needs the old y
    backward_ones(y)
    assert x.grad.tolist() == [4.0]


def test_modifying_a_saved_tensor_raises_at_backward_naming_op_and_versions():
    x = leaf(1.0, 2.0)
    a = x * 2
    b = a * a
    a.add_(1)
    with pytest.raises(AutogradError, match=r"mul .*version 1; expected version 0"):
        backward_ones(b)


def test_out_argument_with_grad_raises():
    x = leaf(1.0)
    with pytest.raises(AutogradError, match="out="):
        nr.mul(x, 2, out=nr.zeros(1, dtype=nr.float64))


@pytest.mark.parametrize("write", [
    lambda y, x: y[1:].mul_(x[:2]),
    lambda y, x: y.__setitem__(0, 0.0),
    lambda y, x: y.__setitem__(slice(0, 2), x[1:] * 3),
    lambda y, x: y.view(3, 1)[2].add_(x[0]),
    lambda y, x: y[::2].copy_(x[:2].exp()),
], ids=["mul_on_slice", "set_constant", "set_slice", "add_on_view_of_view", "copy_strided"])
def test_in_place_writes_into_views_match_pytorch(write):
    import torch

    x = nr.tensor([1.0, 2.0, 3.0], dtype=nr.float64, requires_grad=True)
    tx = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    y, ty = x * 2, tx * 2
    write(y, x)
    write(ty, tx)
    w = [1.0, 10.0, 100.0]
    y.backward(nr.tensor(w, dtype=nr.float64))
    ty.backward(torch.tensor(w, dtype=torch.float64))
    assert y.tolist() == ty.tolist() and x.grad.tolist() == tx.grad.tolist()


def test_writing_a_tensor_that_requires_grad_into_a_plain_buffer_records_it():
    buf = nr.zeros(4, dtype=nr.float64)
    v = leaf(5.0, 6.0)
    buf[1:3] = v * 3
    (buf * nr.tensor([1.0, 2.0, 3.0, 4.0], dtype=nr.float64)).backward(nr.ones(4, dtype=nr.float64))
    assert buf.grad_fn.name() == "CopySlicesBackward" and v.grad.tolist() == [6.0, 9.0]


def test_in_place_on_a_view_of_a_leaf_that_requires_grad_raises():
    with pytest.raises(AutogradError, match="view of a leaf"):
        leaf(1.0, 2.0)[0].mul_(2)


# -- grad modes -------------------------------------------------------------------------------------

def test_no_grad_records_nothing():
    x = leaf(1.0)
    with nr.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None


def test_enable_grad_inside_no_grad_records():
    x = leaf(1.0)
    with nr.no_grad(), nr.enable_grad():
        assert (x * 2).requires_grad


def test_set_grad_enabled_as_a_call_and_as_a_context():
    x = leaf(1.0)
    with nr.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert nr.is_grad_enabled()
    nr.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        nr.set_grad_enabled(True)


def test_no_grad_as_a_decorator_restores_the_mode():
    @nr.no_grad()
    def f(t):
        return t * 2
    assert not f(leaf(1.0)).requires_grad and nr.is_grad_enabled()


def test_inference_mode_records_nothing():
    with nr.inference_mode():
        assert nr.is_inference_mode_enabled() and not (leaf(1.0) * 2).requires_grad
    assert not nr.is_inference_mode_enabled()


def test_grad_mode_is_thread_local():
    seen = []
    with nr.no_grad():
        t = threading.Thread(target=lambda: seen.append(nr.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


# -- hooks ------------------------------------------------------------------------------------------

def test_tensor_hook_can_replace_the_gradient():
    x = leaf(1.0)
    x.register_hook(lambda g: g * 10)
    backward_ones(x * 2)
    assert x.grad.tolist() == [20.0]


def test_hook_on_a_non_leaf_sees_its_gradient():
    x = leaf(1.0)
    y = x * 2
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    backward_ones(y * 3)
    assert seen == [[3.0]] and x.grad.tolist() == [6.0]


def test_removed_hook_no_longer_runs():
    x = leaf(1.0)
    handle = x.register_hook(lambda g: g * 10)
    handle.remove()
    backward_ones(x * 2)
    assert x.grad.tolist() == [2.0]


def test_post_accumulate_grad_hook_runs_after_dot_grad_is_set():
    x = leaf(1.0)
    seen = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    backward_ones(x * 5)
    assert seen == [[5.0]]


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = leaf(1.0)
    y = x * 2
    y.retain_grad()
    backward_ones(y * 3)
    assert y.grad.tolist() == [3.0] and y.retains_grad


def test_hook_on_a_tensor_that_does_not_require_grad_raises():
    with pytest.raises(AutogradError, match="doesn't require gradient"):
        nr.ones(1).register_hook(lambda g: g)


# -- custom Functions -------------------------------------------------------------------------------

class ScaleByTwo(Function):
    """A custom op whose forward is a hand-written Triton kernel (interpreted on the CPU)."""

    @staticmethod
    def forward(ctx, x):
        from neurarust import launch

        kernel = _scale_kernel()
        out = nr.empty_like(x)
        n = x.numel()
        kernel[(launch.triton.cdiv(n, 16),)](launch.pointer(x), launch.pointer(out), n, BLOCK=16)
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


_KERNEL = []


def _scale_kernel():
    if not _KERNEL:
        from neurarust.launch import tl, triton

        @triton.jit
        def scale_by_two(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
            offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
            mask = offs < n
            tl.store(out_ptr + offs, tl.load(x_ptr + offs, mask=mask) * 2, mask=mask)

        _KERNEL.append(scale_by_two)
    return _KERNEL[0]


def test_custom_function_wrapping_a_triton_kernel():
    x = nr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = ScaleByTwo.apply(x)
    assert y.tolist() == [2.0, 4.0, 6.0] and y.grad_fn.name() == "ScaleByTwoBackward"
    backward_ones(y)
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


class MulSaved(Function):
    @staticmethod
    def forward(ctx, a, b, scale: float):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        return a * b * scale

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return (grad * b * ctx.scale if ctx.needs_input_grad[0] else None,
                grad * a * ctx.scale if ctx.needs_input_grad[1] else None, None)


def test_custom_function_saves_tensors_and_passes_gradcheck_twice():
    a, b = leaf(1.5, -2.0), leaf(0.5, 3.0)
    assert gradcheck(lambda x, y: MulSaved.apply(x, y, 3.0), (a, b))
    assert nr.autograd.gradgradcheck(lambda x, y: MulSaved.apply(x, y, 3.0), (a, b))


def test_custom_function_needs_input_grad_and_non_differentiable_outputs():
    class ArgmaxAndValue(Function):
        @staticmethod
        def forward(ctx, x):
            idx = nr.tensor([0])
            ctx.mark_non_differentiable(idx)
            ctx.flags = ctx.needs_input_grad
            return x * 1, idx

        @staticmethod
        def backward(ctx, grad, _):
            return grad

    x = leaf(1.0)
    value, idx = ArgmaxAndValue.apply(x)
    assert value.requires_grad and not idx.requires_grad


def test_custom_function_mark_dirty_rebases_history():
    class AddOneInPlace(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, grad):
            return grad

    x = leaf(1.0)
    y = x * 3
    z = AddOneInPlace.apply(y)
    assert z is y and y.grad_fn.name() == "AddOneInPlaceBackward"
    backward_ones(z)
    assert x.grad.tolist() == [3.0]


def test_custom_function_with_a_wrong_number_of_gradients_raises():
    class Bad(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(AutogradError, match="incorrect number of gradients"):
        backward_ones(Bad.apply(leaf(1.0), leaf(2.0)))


# -- tools --------------------------------------------------------------------------------------------

def test_gradcheck_reports_the_worst_element_of_a_wrong_formula():
    class WrongSquare(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * x  # should be 2x

    with pytest.raises(GradcheckError, match=r"worst at output element 1, input element 1: analytical 3\.0"):
        gradcheck(WrongSquare.apply, (leaf(1.0, 3.0),))


def test_detect_anomaly_names_the_forward_op_and_its_call_site():
    x = leaf(0.0)
    with nr.autograd.detect_anomaly():
        y = x.sqrt() * 0
        with pytest.raises(AutogradError, match=r"(?s)SqrtBackward.*nan.*test_autograd\.py"):
            backward_ones(y)


def test_to_dot_writes_the_graph():
    x = leaf(1.0)
    dot = nr.autograd.graph.to_dot(x.exp() * 2)
    assert dot.startswith("digraph") and "MulBackward" in dot and "ExpBackward" in dot and "AccumulateGrad" in dot


def test_deepcopy_and_pickle_keep_requires_grad():
    import copy
    import pickle

    x = leaf(1.0)
    assert copy.deepcopy(x).requires_grad and pickle.loads(pickle.dumps(x)).requires_grad


def test_ops_without_a_declared_derivative_raise_when_differentiated():
    from neurarust.registry import Op, Sample, register

    op = register(Op(name="_test_no_derivative", kind="elementwise", frontend=lambda op, x: x * 1,
                     reference=lambda x: x, triton=None, dtypes=(nr.float64,), samples=lambda d: [],
                     method=False, attrs={"public": False}))
    try:
        with pytest.raises(DerivativeNotImplementedError, match="_test_no_derivative"):
            op(leaf(1.0))
    finally:
        from neurarust import registry
        registry.OPS.pop("_test_no_derivative")


# -- checkpointing --------------------------------------------------------------------------------

def test_checkpoint_gradients_equal_the_plain_ones():
    from neurarust.utils.checkpoint import checkpoint

    w = leaf(0.5, -1.0)
    x = leaf(2.0, 3.0)
    backward_ones(checkpoint(lambda t: (t * w).tanh() * t, x))
    got = (x.grad.tolist(), w.grad.tolist())
    x.grad = w.grad = None
    backward_ones((x * w).tanh() * x)
    assert got == (x.grad.tolist(), w.grad.tolist())


def test_checkpoint_keeps_no_activation_alive():
    from neurarust.utils.checkpoint import checkpoint

    inner = []
    x = leaf(1.0, 2.0)
    y = checkpoint(lambda t: inner.append(weakref.ref(t.exp())) or t * 2, x)
    gc.collect()
    assert inner[0]() is None and y.requires_grad


def test_checkpoint_replays_the_random_state_for_the_recomputation():
    from neurarust.utils.checkpoint import checkpoint

    x = leaf(*([1.0] * 6))
    y = checkpoint(lambda t: t * nr.rand(6, dtype=nr.float64), x)
    mask = y.detach().clone()
    backward_ones(y)
    assert x.grad.tolist() == mask.tolist()


def test_random_fill_in_place_cuts_the_history_of_what_it_overwrites():
    x = leaf(1.0, 2.0, 3.0)
    y = x * 2
    y[1:].uniform_()
    y.backward(nr.ones(3, dtype=nr.float64))
    assert x.grad.tolist() == [2.0, 0.0, 0.0]
    with pytest.raises(AutogradError, match="leaf"):
        leaf(1.0).uniform_()


def test_grad_with_respect_to_a_non_leaf_does_not_run_its_node():
    runs = []

    class Square(Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return t * t

        @staticmethod
        def backward(ctx, grad):
            runs.append(1)
            (t,) = ctx.saved_tensors
            return grad * 2 * t

    x = leaf(2.0)
    h = Square.apply(x)
    (g,) = nr.autograd.grad(h * 3, h, nr.ones(1, dtype=nr.float64))
    assert g.tolist() == [3.0] and runs == []
