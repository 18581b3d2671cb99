"""Derivatives PyTorch gets right that a differential review found wrong: second derivatives of formula
losses whose target depends on the input, of attention and of normalisations with a bias; pow's
gradient under a loss scale; autocast's cast cache and grad mode."""
import numpy as np
import pytest
import torch

import neurarust as nr

RNG = np.random.default_rng(0)


def both(fn, *arrays):
    """``fn(lib, *tensors)`` for NeuraRust and torch, on float64 copies requiring grad."""
    out = []
    for lib in (nr, torch):
        tensors = [lib.tensor(a).requires_grad_() for a in arrays]
        out.append([np.asarray(g.tolist()) if g is not None else None for g in fn(lib, *tensors)])
    return out


def assert_same(ours, theirs, rtol=1e-9):
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("loss", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
def test_a_loss_whose_target_depends_on_the_input_has_the_right_gradient_with_create_graph(loss):
    def grads(lib, x):
        out = getattr(lib.nn.functional, loss)(x, x.tanh() * 0.5)
        (g,) = lib.autograd.grad(out, [x], create_graph=True)
        return [g, *lib.autograd.grad((g * g).sum(), [x])]
    assert_same(*both(grads, RNG.standard_normal(5)))


def test_a_hessian_vector_product_through_attention_with_create_graph_matches_torch():
    def hvp(lib, q, k, v):
        out = lib.nn.functional.scaled_dot_product_attention(q, k, v)
        gq, gk, gv = lib.autograd.grad((out * out).sum(), [q, k, v], create_graph=True)
        return lib.autograd.grad((gq * gq).sum() + (gk * gv).sum(), [q, k, v], create_graph=True)
    q, k, v = RNG.standard_normal((1, 3, 4)), RNG.standard_normal((1, 5, 4)), RNG.standard_normal((1, 5, 4))
    assert_same(*both(hvp, q, k, v))      # 3-D: torch's CPU path that has a second derivative


@pytest.mark.parametrize("norm", ["layer_norm", "group_norm", "batch_norm"])
def test_a_hessian_vector_product_through_a_normalisation_with_a_bias_matches_torch(norm):
    forms = {"layer_norm": lambda F, x, w, b: F.layer_norm(x, (4,), w, b),
             "group_norm": lambda F, x, w, b: F.group_norm(x.reshape(3, 4, 1), 2, w, b).reshape(3, 4),
             "batch_norm": lambda F, x, w, b: F.batch_norm(x, None, None, w, b, training=True)}
    c = RNG.standard_normal((3, 4))

    def hvp(lib, x, w, b):
        loss = (forms[norm](lib.nn.functional, x, w, b) * lib.tensor(c)).sum()
        gx, gw, gb = lib.autograd.grad(loss, [x, w, b], create_graph=True)
        return lib.autograd.grad((gx * gx).sum() + (gw * gw).sum() + gb.sum(), [x, w], allow_unused=True)
    assert_same(*both(hvp, RNG.standard_normal((3, 4)), RNG.standard_normal(4), RNG.standard_normal(4)))


def test_pow_gradient_stays_finite_under_a_large_loss_scale():
    w = nr.tensor([3e-1, 2e-1], requires_grad=True)
    ((w ** 3).sum() * 3e38).backward()
    assert nr.isfinite(w.grad).all().item()


def test_a_cast_made_under_no_grad_is_not_reused_by_later_uses_in_the_region():
    a, w = nr.ones(3, 4), nr.ones(4, 5, requires_grad=True)
    with nr.autocast("cpu"):
        with nr.no_grad():
            a @ w
        loss = (a @ w).float().sum()
    loss.backward()
    assert w.grad is not None and w.grad.abs().sum().item() > 0


@pytest.mark.parametrize("make", [lambda x: x.unbind(0)[0], lambda x: x.split(1, 0)[0],
                                  lambda x: nr.stack([x[0]])])
def test_second_order_through_a_one_output_sequence_op(make):
    # unbind/split of one part return a 1-tuple: their backward takes a tuple of one gradient
    x = nr.tensor([[0.5, -1.0, 2.0]], dtype=nr.float64, requires_grad=True)
    y = (make(x) ** 3).sum()
    (g,) = nr.autograd.grad(y, x, create_graph=True)
    (h,) = nr.autograd.grad(g.sum(), x)
    assert g.tolist() == [[0.75, 3.0, 12.0]] and h.tolist() == [[3.0, -6.0, 12.0]]
