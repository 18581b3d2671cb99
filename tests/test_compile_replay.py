"""A replayed compiled call computes what the eager call computes, whatever the passes changed: result
layouts, saved values that passes merged, arguments that share storage, unused inputs."""
import numpy as np
import pytest

import neurarust as nr


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEURARUST_CACHE", str(tmp_path))


def replayed(fn, make_args, calls: int = 3):
    """The last of ``calls`` compiled calls (eager, capture, replays) on fresh arguments, its
    arguments, and the compiled function."""
    fast = nr.compile(fn)
    for _ in range(calls):
        args = make_args()
        out = fast(*args)
    assert fast.stats["replays"] == calls - 2
    return out, args, fast


def grid(requires_grad=False):
    return nr.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 4 - 0.3, requires_grad=requires_grad)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_a_fused_result_takes_the_layout_eager_gave_it(backend):
    f = lambda x: (x.t().exp() * 2).t()     # noqa: E731 - eager keeps the transposed layout
    with nr.backends.using(backend):
        out, (x,), _ = replayed(f, lambda: (grid(),))
        assert nr.allclose(out, f(x))


def test_a_gradient_through_a_transposed_fused_chain_matches_eager():
    f = lambda x: x.t().tanh().sum(-1)      # noqa: E731
    out, (x,), _ = replayed(f, lambda: (grid(True),))
    out.sum().backward()
    want = grid(True)
    f(want).sum().backward()
    assert nr.allclose(x.grad, want.grad)


@pytest.mark.parametrize("f", [lambda x: (x + 1) * (x + 1),
                               lambda x: (-x.t()).t().reshape(-1).clamp(-0.5, 0.5).clone().abs()],
                         ids=["common-subexpression", "saved-copy"])
def test_a_saved_value_a_pass_replaced_reaches_the_backward(f):
    out, (x,), _ = replayed(f, lambda: (grid(True),))
    out.sum().backward()
    want = grid(True)
    f(want).sum().backward()
    assert nr.equal(x.grad, want.grad)


def test_an_input_the_outputs_do_not_use_gets_no_gradient():
    out, (x, y), _ = replayed(lambda x, y: (x * 2).sum(), lambda: (nr.ones(3, requires_grad=True),
                                                                   nr.ones(3, requires_grad=True)))
    out.backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0] and y.grad is None


def test_arguments_sharing_storage_are_guarded():
    fast = nr.compile(lambda a, b: a + b)
    x = nr.arange(9.0).reshape(3, 3)
    for _ in range(2):
        fast(x, x.t())                       # captured with b a view of a
    y = nr.arange(9.0).reshape(3, 3) * 10
    assert nr.equal(fast(x, y.t()), x + y.t())
    assert fast.stats["captures"] == 1 and fast.stats["replays"] == 0


def test_an_in_place_write_through_one_argument_is_not_replayed_into_another():
    def g(a, b):
        a.add_(1)
        return b * 2
    fast = nr.compile(g)
    for _ in range(2):
        t = nr.zeros(3)
        fast(t, t)
    a, b = nr.zeros(3), nr.zeros(3)
    assert fast(a, b).tolist() == [0.0, 0.0, 0.0] and a.tolist() == [1.0, 1.0, 1.0]


def test_a_numpy_scalar_in_a_fused_chain_replays_on_triton():
    f = lambda x: (x * np.float64(0.5)).exp()    # noqa: E731 - NumPy 2 spells it np.float64(0.5)
    with nr.backends.using("triton"):
        out, (x,), _ = replayed(f, lambda: (nr.tensor([1.0, 2.0, 3.0]),))
        assert nr.allclose(out, f(x))


def test_a_parameter_the_module_rebinds_captures_again():
    lin = nr.nn.Linear(2, 2, bias=False)
    with nr.no_grad():
        lin.weight.copy_(nr.tensor([[1.0, 0.0], [0.0, 1.0]]))
    fast = nr.compile(lin)
    x = nr.tensor([[1.0, 2.0]])
    for _ in range(3):
        fast(x)
    lin.weight = nr.nn.Parameter(nr.tensor([[10.0, 0.0], [0.0, 10.0]]))
    for _ in range(3):
        assert fast(x).tolist() == [[10.0, 20.0]]
    assert fast.stats["captures"] == 2
