"""Autograd behaviours a review found apart from PyTorch, one per test, compared against torch: views
rebased after an in-place op on their base, the gradients given to backward()/grad() cast to the
output's dtype, repeated inputs, hooks with backward(inputs=...), hooks that change a gradient's
shape or type, grad-mode decorators on generators, and non-reentrant checkpointing."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

import neurarust as nr
from neurarust.errors import AutogradError, NeuraRustError
from neurarust.utils.checkpoint import checkpoint

A = np.arange(1.0, 7.0).reshape(2, 3) / 3


def grads_of(lib, build, values=A):
    """``x.grad`` after ``build(lib, x * 1).backward()`` for a leaf ``x`` holding ``values``."""
    x = lib.tensor(values).requires_grad_()
    build(lib, x * 1).backward()
    return np.array(x.grad.tolist())


def both(build, values=A):
    return grads_of(nr, build, values), grads_of(torch, build, values)


# -- views taken before an in-place op on their base ------------------------------------------------

def _unsqueeze_then_mul_(lib, y):
    z = y.unsqueeze(0)
    y.mul_(2)
    return (z * z).sum()


def _index_then_exp_(lib, y):
    z = y[1]
    y.exp_()
    return z.sum()


def _view_of_a_view_then_mul_(lib, y):
    z = y.t()[1:]
    y.mul_(y.detach() + 1)
    return (z * z).sum()


def _view_then_write_into_another_view(lib, y):
    z = y[0]
    y[0, 1:].mul_(3)
    return (z * z).sum()


@pytest.mark.parametrize("build", [_unsqueeze_then_mul_, _index_then_exp_, _view_of_a_view_then_mul_,
                                   _view_then_write_into_another_view])
def test_a_view_taken_before_an_in_place_op_on_its_base_follows_the_base_new_history(build):
    ours, theirs = both(build)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_the_grad_fn_of_such_a_view_is_rebuilt_as_as_strided():
    y = nr.tensor(A).requires_grad_() * 1
    z = y[1]
    y.exp_()
    assert z.grad_fn.name() == "AsStridedBackward"
    assert z.grad_fn.next_functions[0][0] is y.grad_fn


def test_a_view_whose_base_was_not_modified_keeps_its_own_grad_fn():
    y = nr.tensor(A).requires_grad_() * 1
    z = y.unsqueeze(0)
    assert z.grad_fn.name() == "UnsqueezeBackward"


def test_an_expanded_view_of_a_base_modified_in_place_raises_at_backward_rather_than_a_stale_gradient():
    y = nr.tensor([1.0, 2.0], requires_grad=True) * 1
    z = y.unsqueeze(0).expand(3, 2)
    y.mul_(2)
    with pytest.raises(AutogradError, match="modified in place after the view was taken"):
        z.sum().backward()


# -- gradients given to backward() / grad() ---------------------------------------------------------

def _matmul_grad_with_float64_grad_output(lib):
    x = lib.tensor(A.astype(np.float32)).requires_grad_()
    w = lib.tensor(A[0].astype(np.float32)).requires_grad_()
    gx, gw = lib.autograd.grad(x @ w, [x, w], grad_outputs=lib.tensor([1.0, -1.0], dtype=lib.float64))
    return gx, gw


def test_grad_outputs_of_another_dtype_are_cast_to_the_output_dtype():
    (gx, gw), (tx, tw) = _matmul_grad_with_float64_grad_output(nr), _matmul_grad_with_float64_grad_output(torch)
    assert gx.dtype == nr.float32 and gw.dtype == nr.float32
    np.testing.assert_allclose(gw.tolist(), tw.tolist(), rtol=1e-6)
    np.testing.assert_allclose(gx.tolist(), tx.tolist(), rtol=1e-6)


def test_backward_with_a_float64_gradient_leaves_a_float32_grad_on_a_float32_leaf():
    p = nr.tensor(A.astype(np.float32)).requires_grad_()
    p.backward(nr.ones(2, 3, dtype=nr.float64))
    assert p.grad.dtype == nr.float32 and p.grad.tolist() == [[1.0] * 3] * 2


def test_a_grad_output_of_the_wrong_shape_raises_naming_both_shapes():
    x = nr.ones(3, requires_grad=True)
    with pytest.raises(nr.ShapeError, match=r"grad_output\[0\] has a shape of \[2\] and output\[0\] has a shape of \[3\]"):
        nr.autograd.grad(x * 2, [x], grad_outputs=[nr.ones(2)])


def test_a_grad_output_that_is_not_a_tensor_raises_type_error():
    x = nr.ones(3, requires_grad=True)
    with pytest.raises(TypeError, match="Tensors or None, but got list") as info:
        nr.autograd.grad(x * 2, [x], grad_outputs=[[1.0, 2.0, 3.0]])
    assert isinstance(info.value, NeuraRustError)


# -- repeated inputs ---------------------------------------------------------------------------------

def test_grad_with_an_input_listed_twice_returns_its_gradient_at_both_positions():
    got = [[g.tolist() for g in lib.autograd.grad((x * x).sum(), [x, x])]
           for lib in (nr, torch) for x in [lib.tensor(A).requires_grad_()]]
    assert got[0] == got[1]


def test_grad_with_a_non_leaf_listed_twice_returns_its_gradient_at_both_positions():
    x = nr.tensor(A).requires_grad_()
    y = x * 3
    g1, g2 = nr.autograd.grad((y * y).sum(), [y, x, y])[::2]
    assert g1.tolist() == g2.tolist() == (2 * y).tolist()


def test_backward_with_an_input_listed_twice_accumulates_once():
    got = []
    for lib in (nr, torch):
        w = lib.ones(3, requires_grad=True)
        (w * 2).sum().backward(inputs=[w, w])
        got.append(w.grad.tolist())
    assert got[0] == got[1] == [2.0] * 3


# -- hooks with backward(inputs=...) -----------------------------------------------------------------

def test_backward_with_inputs_runs_the_post_accumulate_grad_hooks_of_leaf_inputs():
    calls = {}
    for lib in (nr, torch):
        w = lib.ones(3, requires_grad=True)
        seen = calls[lib.__name__] = []
        w.register_post_accumulate_grad_hook(lambda t, seen=seen: seen.append(t.grad.tolist()))
        (w * 2).sum().backward(inputs=[w])
    assert calls["neurarust"] == calls["torch"] == [[2.0] * 3]


def test_backward_with_inputs_runs_a_leaf_tensor_hook_once():
    w = nr.ones(3, requires_grad=True)
    w.register_hook(lambda g: g * 10)
    (w * 2).sum().backward(inputs=[w])
    assert w.grad.tolist() == [20.0] * 3


def test_backward_with_a_non_leaf_input_that_retains_its_grad_stores_it_once():
    y = nr.ones(3, requires_grad=True) * 1
    y.retain_grad()
    (y * 2).sum().backward(inputs=[y])
    assert y.grad.tolist() == [2.0] * 3


# -- hooks that change a gradient --------------------------------------------------------------------

def test_a_leaf_hook_returning_a_gradient_of_another_shape_raises():
    x = nr.tensor(A).requires_grad_()
    x.register_hook(lambda g: g[0])
    with pytest.raises(AutogradError, match="hook '<lambda>' has changed the size of value"):
        (x * 2).sum().backward()


def test_a_non_leaf_hook_returning_a_gradient_of_another_shape_raises():
    y = nr.tensor(A).requires_grad_() * 1
    y.register_hook(lambda g: g[0])
    with pytest.raises(AutogradError, match="has changed the size of value"):
        y.sum().backward()


def test_a_hook_returning_a_gradient_of_another_dtype_raises():
    x = nr.tensor(A.astype(np.float32)).requires_grad_()
    x.register_hook(lambda g: g.double())
    with pytest.raises(AutogradError, match="has changed the type of value"):
        (x * 2).sum().backward()


def test_a_hook_returning_something_other_than_a_tensor_raises_type_error():
    x = nr.tensor(A).requires_grad_()
    x.register_hook(lambda g: 3)
    with pytest.raises(TypeError, match="returned 'int'") as info:
        (x * 2).sum().backward()
    assert isinstance(info.value, NeuraRustError)


def test_a_hook_in_autograd_grad_is_checked_too():
    x = nr.tensor(A).requires_grad_()
    x.register_hook(lambda g: g.sum())
    with pytest.raises(AutogradError, match="has changed the size of value"):
        nr.autograd.grad((x * 2).sum(), [x])


# -- grad-mode decorators on generators --------------------------------------------------------------

@pytest.mark.parametrize("lib", [nr, torch])
def test_no_grad_on_a_generator_function_applies_inside_its_body(lib):
    @lib.no_grad()
    def gen(x):
        yield (x * 2).requires_grad
        yield (x * 3).requires_grad

    assert list(gen(lib.ones(2, requires_grad=True))) == [False, False]


def test_the_caller_mode_is_back_while_a_no_grad_generator_is_suspended():
    @nr.no_grad()
    def gen():
        yield nr.is_grad_enabled()

    it = gen()
    assert next(it) is False and nr.is_grad_enabled()


def test_enable_grad_generator_passes_sent_values_and_its_return_value():
    @nr.enable_grad()
    def gen():
        got = yield nr.is_grad_enabled()
        yield got * 2
        return "done"

    with nr.no_grad():
        it = gen()
        assert next(it) is True and it.send(21) == 42
        with pytest.raises(StopIteration) as stop:
            next(it)
    assert stop.value.value == "done"


# -- non-reentrant checkpointing ----------------------------------------------------------------------

X = np.linspace(-1, 1, 12).reshape(3, 4)


W = np.linspace(-0.8, 0.7, 16).reshape(4, 4)
B = np.linspace(0.3, -0.2, 4)


def _block(lib):
    """A weight, a bias and the block ``tanh(t @ w.T + b) * t`` using them."""
    w, b = lib.tensor(W).requires_grad_(), lib.tensor(B).requires_grad_()
    return w, b, (lambda t: (t @ w.t() + b).tanh() * t)


def test_non_reentrant_checkpoint_output_requires_grad_when_only_a_parameter_inside_does():
    w, b, fn = _block(nr)
    out = checkpoint(fn, nr.tensor(X), use_reentrant=False)
    assert out.requires_grad
    out.sum().backward()
    assert w.grad is not None and b.grad is not None


def test_non_reentrant_checkpoint_gradients_match_torch():
    got = {}
    for lib, ck in ((nr, checkpoint), (torch, torch.utils.checkpoint.checkpoint)):
        w, b, fn = _block(lib)
        x = lib.tensor(X).requires_grad_()
        ck(fn, x, use_reentrant=False).sum().backward()
        got[lib.__name__] = [np.array(t.grad.tolist()) for t in (x, w, b)]
    for ours, theirs in zip(got["neurarust"], got["torch"]):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_non_reentrant_checkpoint_lets_autograd_grad_reach_a_parameter_inside_the_block():
    w, _, fn = _block(nr)
    x = nr.tensor(X).requires_grad_()
    (gw,) = nr.autograd.grad(checkpoint(fn, x, use_reentrant=False).sum(), [w])
    (plain,) = nr.autograd.grad(fn(x).sum(), [w])
    np.testing.assert_allclose(gw.tolist(), plain.tolist(), rtol=1e-12)


def test_non_reentrant_checkpoint_grad_with_respect_to_the_input_leaves_parameter_grads_untouched():
    w, b, fn = _block(nr)
    x = nr.tensor(X).requires_grad_()
    nr.autograd.grad(checkpoint(fn, x, use_reentrant=False).sum(), [x])
    assert w.grad is None and b.grad is None


def test_non_reentrant_checkpoint_keeps_no_intermediate_alive():
    inner = []
    x = nr.tensor([1.0, 2.0], requires_grad=True)
    y = checkpoint(lambda t: (inner.append(weakref.ref(e := t.exp())) or e * e), x, use_reentrant=False)
    gc.collect()
    assert inner[0]() is None
    y.sum().backward()
    np.testing.assert_allclose(x.grad.tolist(), (2 * np.exp(2 * np.array([1.0, 2.0]))).tolist(), rtol=1e-6)


def test_non_reentrant_checkpoint_replays_the_random_state_for_the_recomputation():
    x = nr.ones(6, dtype=nr.float64, requires_grad=True)
    y = checkpoint(lambda t: (t * nr.rand(6, dtype=nr.float64)) ** 2, x, use_reentrant=False)
    mask = (y.detach() ** 0.5).tolist()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.tolist(), [2 * m * m for m in mask], rtol=1e-12)


def test_non_reentrant_checkpoint_supports_a_second_backward_with_retain_graph():
    _, _, fn = _block(nr)
    x = nr.tensor(X).requires_grad_()
    y = checkpoint(fn, x, use_reentrant=False).sum()
    y.backward(retain_graph=True)
    first = x.grad.tolist()
    y.backward()
    np.testing.assert_allclose(x.grad.tolist(), (2 * np.array(first)).tolist(), rtol=1e-12)


def test_non_reentrant_checkpoint_whose_recomputation_differs_raises():
    calls = []

    def fn(t):
        calls.append(1)
        return t * t if len(calls) == 1 else t.exp()

    y = checkpoint(fn, nr.ones(2, requires_grad=True), use_reentrant=False)
    with pytest.raises(AutogradError, match="recomputation of the block saved"):
        y.sum().backward()


def test_saved_tensors_hooks_pack_on_save_and_unpack_in_backward():
    from neurarust.autograd.graph import saved_tensors_hooks

    packed, unpacked = [], []
    x = nr.tensor([3.0], requires_grad=True)
    with saved_tensors_hooks(lambda t: packed.append(t.tolist()) or t.tolist(),
                             lambda v: unpacked.append(v) or nr.tensor(v)):
        y = x * x
    y.backward()
    assert packed == [[3.0], [3.0]] and unpacked == packed and x.grad.tolist() == [6.0]


# -- autograd.grad extras -------------------------------------------------------------------------------

def test_autograd_grad_populates_the_grad_of_tensors_that_retain_it():
    got = []
    for lib in (nr, torch):
        x = lib.ones(2, requires_grad=True)
        y = x * 2
        y.retain_grad()
        lib.autograd.grad((y * y).sum(), [x])
        got.append((y.grad.tolist(), x.grad))
    assert got[0] == got[1] == ([4.0, 4.0], None)


def test_autograd_grad_accepts_the_deprecated_only_inputs_keyword():
    x = nr.ones(2, requires_grad=True)
    (g,) = nr.autograd.grad((x * 2).sum(), [x], only_inputs=True)
    assert g.tolist() == [2.0, 2.0]


def test_copysign_gives_its_sign_operand_a_zero_gradient_as_torch():
    torch = pytest.importorskip("torch")
    a, b = nr.tensor([1.0, -2.0], requires_grad=True), nr.tensor([-1.0, 3.0], requires_grad=True)
    nr.copysign(a, b).sum().backward()
    ta, tb = torch.tensor([1.0, -2.0], requires_grad=True), torch.tensor([-1.0, 3.0], requires_grad=True)
    torch.copysign(ta, tb).sum().backward()
    assert a.grad.tolist() == ta.grad.tolist() and b.grad.tolist() == tb.grad.tolist() == [0.0, 0.0]
