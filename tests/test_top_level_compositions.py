"""PyTorch's top-level functions that NeuraRust composes from registry ops (neurarust/compositions.py,
neurarust/matrices.py, the index creators in neurarust/creation.py): the same values, dtypes and
shapes as torch, gradients through them, and torch's errors."""
import math

import numpy as np
import pytest

import neurarust as nr

torch = pytest.importorskip("torch")

NAN, INF = math.nan, math.inf

# Each case runs the same expression on the module ``m``: neurarust or torch.
CASES = {
    "ravel_of_a_transpose": lambda m: m.ravel(m.tensor([[1, 2], [3, 4]]).t()),
    "fliplr": lambda m: m.fliplr(m.tensor([[1, 2], [3, 4]])),
    "flipud": lambda m: m.flipud(m.tensor([[1, 2], [3, 4]])),
    "rot90": lambda m: m.rot90(m.tensor([[1, 2, 3], [4, 5, 6]])),
    "rot90_backwards_in_swapped_dims": lambda m: m.rot90(m.tensor([[1, 2, 3], [4, 5, 6]]), -1, (1, 0)),
    "rot90_twice": lambda m: m.rot90(m.tensor([[1, 2, 3], [4, 5, 6]]), 2),
    "rot90_seven_times_3d": lambda m: m.rot90(m.arange(8).reshape(2, 2, 2), 7, (2, 0)),
    "tensor_split_sections": lambda m: m.tensor_split(m.arange(7), 3),
    "tensor_split_indices_past_the_end": lambda m: m.tensor_split(m.arange(7), [1, 5, 9]),
    "tensor_split_negative_index": lambda m: m.tensor_split(m.arange(7), [-2, 3]),
    "tensor_split_more_sections_than_elements": lambda m: m.tensor_split(m.arange(3), 5),
    "hsplit": lambda m: m.hsplit(m.zeros(2, 4), [1]),
    "vsplit": lambda m: m.vsplit(m.zeros(4, 2), 2),
    "dsplit": lambda m: m.dsplit(m.zeros(1, 1, 4), [3]),
    "broadcast_tensors": lambda m: m.broadcast_tensors(m.zeros(2, 1), m.zeros(3)),
    "argwhere": lambda m: m.argwhere(m.tensor([[0, 1], [2, 0]])),
    "msort": lambda m: m.msort(m.tensor([[3, 1], [2, 4]])),
    "clamp_min_method": lambda m: m.tensor([-1.0, 2.0]).clamp_min(0),
    "clamp_max": lambda m: m.clamp_max(m.tensor([-1.0, 2.0]), 0.5),
    "true_divide_of_integers": lambda m: m.true_divide(m.tensor([1, 3]), 2),
    "deg2rad_of_integers": lambda m: m.deg2rad(m.tensor([180, 90])),
    "rad2deg_float64": lambda m: m.rad2deg(m.tensor([3.0], dtype=m.float64)),
    "frac_keeps_the_sign": lambda m: m.frac(m.tensor([1.5, -2.25, INF, -0.0])),
    "sgn": lambda m: m.sgn(m.tensor([-2, 0, 3])),
    "signbit_of_signed_zero_and_nan": lambda m: m.signbit(m.tensor([-1.0, -0.0, 0.0, NAN, -INF])),
    "signbit_of_integers": lambda m: m.signbit(m.tensor([-1, 0, 2])),
    "xlogy_zero_times_anything_but_nan": lambda m: m.xlogy(m.tensor([0.0, 2.0, 0.0, 1.0]),
                                                         m.tensor([0.0, 3.0, NAN, 0.0])),
    "xlogy_of_a_number": lambda m: m.xlogy(2, m.tensor([1.0, 3.0])),
    "xlogy_of_integers": lambda m: m.xlogy(m.tensor([0, 2]), m.tensor([5, 3])),
    "hypot_without_overflow": lambda m: m.hypot(m.tensor([3.0, 1e30, 0.0, INF, 1e-30]),
                                                m.tensor([4.0, 1e30, 0.0, NAN, 1e-30])),
    "logaddexp_without_overflow": lambda m: m.logaddexp(m.tensor([1000.0, -INF, INF, 1.0, INF, NAN]),
                                                        m.tensor([1000.0, -INF, INF, -2.0, -INF, 0.0])),
    "isin": lambda m: m.isin(m.tensor([1, 2, 3, 4]), m.tensor([2, 4])),
    "logit": lambda m: m.logit(m.tensor([0.5, 0.0, 1.0, 0.25, 2.0])),
    "logit_clamped_method": lambda m: m.tensor([0.0, 0.3, 1.0]).logit(eps=1e-3),
    "logit_of_integers": lambda m: m.logit(m.tensor([0, 1])),
    "isin_of_a_number_inverted": lambda m: m.isin(m.tensor([[1, 2], [3, 4]]), 3, invert=True),
    "diag_of_a_matrix": lambda m: m.diag(m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), 1),
    "diag_of_a_vector": lambda m: m.diag(m.tensor([1.0, 2.0]), -1),
    "diag_embed_into_other_dims": lambda m: m.diag_embed(m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), 1, 0, 2),
    "diag_embed_below": lambda m: m.diag_embed(m.tensor([[1, 2], [4, 5]]), -2),
    "trace_of_integers": lambda m: m.trace(m.tensor([[1, 2], [3, 4]])),
    "trace_of_a_rectangle": lambda m: m.trace(m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])),
    "kron": lambda m: m.kron(m.tensor([[1.0, -2.0], [3.0, 4.0]]), m.tensor([[1.0, 2.0], [3.0, 4.0]])),
    "kron_of_different_ranks": lambda m: m.kron(m.ones(2, 1, 2), m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])),
    "block_diag_promotes": lambda m: m.block_diag(m.tensor([[1, 2]]), m.tensor(3), m.tensor([4.0, 5.0])),
    "inner": lambda m: m.inner(m.tensor([[1.0, 2.0], [3.0, 4.0]]), m.tensor([[1.0, 2.0], [3.0, 5.0], [0.0, 1.0]])),
    "vdot": lambda m: m.vdot(m.tensor([1.0, 2.0]), m.tensor([3.0, 4.0])),
    "cartesian_prod": lambda m: m.cartesian_prod(m.tensor([1, 2]), m.tensor([3, 4, 5])),
    "tril_indices": lambda m: m.tril_indices(3, 4, 1),
    "triu_indices": lambda m: m.triu_indices(4, 3, -1),
}


def _same(ours, theirs) -> None:
    if isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
        return
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name.replace("bool_", "bool") == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_allclose(np.asarray(ours.tolist(), dtype=float), theirs.numpy().astype(float),
                               rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gives_what_torch_gives(name):
    _same(CASES[name](nr), CASES[name](torch))


GRADIENT_CASES = {
    "rot90": lambda m, a, b: m.rot90(a, 1, (0, 1)) * b.t(),
    "kron": lambda m, a, b: m.kron(a, b),
    "diag_embed": lambda m, a, b: m.diag_embed(a, 1) * 2,
    "block_diag": lambda m, a, b: m.block_diag(a, b),
    "inner": lambda m, a, b: m.inner(a, b),
    "hypot": lambda m, a, b: m.hypot(a, b),
    "logaddexp": lambda m, a, b: m.logaddexp(a, b),
    "xlogy": lambda m, a, b: m.xlogy(a, b.abs() + 0.5),
    "frac_and_deg2rad": lambda m, a, b: m.frac(a * 3) + m.deg2rad(b),
    "tensor_split": lambda m, a, b: m.tensor_split(a, [1], 1)[1] * 3 + b[:, 1:],
    "trace": lambda m, a, b: m.trace(a @ b),
    "logit": lambda m, a, b: m.logit(a.sigmoid() * 0.9, eps=0.2) + m.logit(b.sigmoid()),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
def test_gradients_are_torchs(name):
    values = np.random.default_rng(0).standard_normal((2, 2, 3))
    ours = [nr.tensor(v, requires_grad=True) for v in values]
    theirs = [torch.tensor(v, requires_grad=True) for v in values]
    if name == "trace":
        ours[1], theirs[1] = (nr.tensor(values[1].T.copy(), requires_grad=True),
                              torch.tensor(values[1].T.copy(), requires_grad=True))
    GRADIENT_CASES[name](nr, *ours).sum().backward()
    GRADIENT_CASES[name](torch, *theirs).sum().backward()
    for a, b in zip(ours, theirs):
        if b.grad is None:
            assert a.grad is None
        else:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_xlogy_gradients_at_zero_input_are_torchs():
    # the input's gradient is log(other) at input 0 too (0 where other is 0); other's is input / other
    values = ([0.0, 1.0, 0.0, 2.0, 0.0, -1.0, 3.0], [2.0, 3.0, 0.0, 0.0, 0.5, 0.5, math.nan])
    grads = []
    for m in (nr, torch):
        x, y = (m.tensor(v, dtype=m.float64, requires_grad=True) for v in values)
        m.xlogy(x, y).sum().backward()
        grads.append((x.grad.tolist(), y.grad.tolist()))
    np.testing.assert_array_equal(np.array(grads[0]), np.array(grads[1]))


@pytest.mark.parametrize("call, error", [
    (lambda: nr.fliplr(nr.zeros(3)), ValueError),
    (lambda: nr.rot90(nr.zeros(2, 2), 1, (0, 0)), ValueError),
    (lambda: nr.rot90(nr.zeros(2, 2), 1, (0,)), ValueError),
    (lambda: nr.tensor_split(nr.zeros(3), 0), ValueError),
    (lambda: nr.hsplit(nr.zeros(2, 3), 2), ValueError),
    (lambda: nr.vsplit(nr.zeros(3), 1), ValueError),
    (lambda: nr.frac(nr.tensor([1, 2])), TypeError),
    (lambda: nr.trace(nr.zeros(2, 2, 2)), ValueError),
    (lambda: nr.diag(nr.zeros(2, 2, 2)), ValueError),
    (lambda: nr.diag_embed(nr.zeros(2), 0, 1, -1), ValueError),
    (lambda: nr.inner(nr.zeros(2), nr.zeros(3)), ValueError),
    (lambda: nr.vdot(nr.zeros(2, 1), nr.zeros(2)), ValueError),
    (lambda: nr.block_diag(nr.zeros(1, 1, 1)), ValueError),
    (lambda: nr.cartesian_prod(nr.zeros(2, 2)), ValueError),
    (lambda: nr.tril_indices(-1, 2), ValueError),
    (lambda: nr.triu_indices(2, 2, dtype=nr.float32), TypeError),
])
def test_bad_arguments_raise_clear_errors(call, error):
    with pytest.raises(error) as caught:
        call()
    assert isinstance(caught.value, nr.NeuraRustError)


def test_splits_are_views():
    x = nr.zeros(4)
    nr.tensor_split(x, 2)[1][0] = 7.0
    assert x.tolist() == [0.0, 0.0, 7.0, 0.0]


def test_masked_scatter_values_and_gradients_are_torchs():
    rng = np.random.default_rng(3)
    x, chosen, src = rng.standard_normal((3, 4)), rng.random((3, 4)) > 0.5, rng.standard_normal(20)
    a, s = nr.tensor(x, requires_grad=True), nr.tensor(src, requires_grad=True)
    ta, ts = torch.tensor(x, requires_grad=True), torch.tensor(src, requires_grad=True)
    y, ty = a.masked_scatter(nr.tensor(chosen), s), ta.masked_scatter(torch.tensor(chosen), ts)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy())
    weights = rng.standard_normal((3, 4))
    (y * nr.tensor(weights)).sum().backward()
    (ty * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy())
    np.testing.assert_allclose(s.grad.numpy(), ts.grad.numpy())


def test_masked_scatter_broadcasts_the_mask_works_in_place_and_checks_the_source():
    x = nr.zeros(2, 3)
    x.masked_scatter_(nr.tensor([[True, False, True]]), nr.tensor([1.0, 2.0, 3.0, 4.0]))
    assert x.tolist() == [[1.0, 0.0, 2.0], [3.0, 0.0, 4.0]]
    with pytest.raises(ValueError):
        nr.masked_scatter(nr.zeros(3), nr.tensor([True, True, True]), nr.tensor([1.0]))
    with pytest.raises(TypeError):
        nr.masked_scatter(nr.zeros(3), nr.tensor([1, 0, 1]), nr.tensor([1.0, 2.0]))


@pytest.mark.parametrize("values", [[1, 1, 2, 2, 3, 1, 1], [], [[1.0, 1.0], [NAN, NAN]], [5]])
@pytest.mark.parametrize("return_inverse", [False, True])
@pytest.mark.parametrize("return_counts", [False, True])
def test_unique_consecutive_is_torchs(values, return_inverse, return_counts):
    kwargs = dict(return_inverse=return_inverse, return_counts=return_counts)
    ours, theirs = nr.unique_consecutive(nr.tensor(values), **kwargs), torch.unique_consecutive(torch.tensor(values),
                                                                                                **kwargs)
    _same(ours, theirs)
