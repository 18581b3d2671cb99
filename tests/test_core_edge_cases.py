"""Tensor-core cases PyTorch defines that a differential review found wrong: products with zeros
differentiate exactly, a 0-d bool index adds a dim, index_select into a 0-d tensor checks its index."""
import numpy as np
import pytest
import torch

import neurarust as nr


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("values", [[1.0, 0.0, 2.0, 3.0], [1.0, 0.0, 2.0, 3.0, 0.0, 2.0], [0.0, 0.0, 1.0], [2.0, 3.0]])
def test_cumprod_differentiates_through_zeros_as_torch_to_second_order(backend, values):
    x = np.asarray(values)
    got, want = [], []
    for lib, out in ((nr, got), (torch, want)):
        t = lib.tensor(x, requires_grad=True)
        with (nr.backends.using(backend) if lib is nr else torch.enable_grad()):
            (g,) = lib.autograd.grad((t.cumprod(0) * lib.tensor(np.arange(len(x)) + 1.0)).sum(), t, create_graph=True)
            (h,) = lib.autograd.grad((g * g).sum(), t)
        out += [g.tolist(), h.tolist()]
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_differentiates_through_zeros_as_torch(include_self):
    x, src = np.float64([[1, 0], [2, 3]]), np.float64([[3, 2], [0, 0], [4, 5]])
    index = np.int64([[0, 1], [1, 1], [1, 0]])
    grads = []
    for lib in (nr, torch):
        a, b = lib.tensor(x, requires_grad=True), lib.tensor(src, requires_grad=True)
        a.scatter_reduce(0, lib.tensor(index), b, "prod", include_self=include_self).sum().backward()
        grads.append([a.grad.tolist(), b.grad.tolist()])
    assert grads[0] == grads[1]


@pytest.mark.parametrize("value, size", [(True, 1), (False, 0)])
def test_a_0d_bool_index_adds_a_dim_of_its_truth(value, size):
    x = nr.arange(6.0).reshape(2, 3)
    assert tuple(x[nr.tensor(value)].shape) == (size, 2, 3)
    x[nr.tensor(value)] = -1.0
    assert x.tolist() == torch.where(torch.tensor(value), -1.0, torch.arange(6.0).reshape(2, 3)).tolist()


def test_index_select_into_a_0d_tensor_takes_one_index():
    with pytest.raises(nr.ShapeError, match="only 1 value"):
        nr.tensor(3.0).index_select(0, nr.tensor([0, 0]))
    assert nr.tensor(3.0).index_select(0, nr.tensor([0])).item() == 3.0


@pytest.mark.parametrize("op", ["floor_divide", "remainder"])
def test_integer_division_by_zero_raises_on_the_cpu_as_torch(op):
    with pytest.raises(nr.ArgumentError, match="ZeroDivisionError"):
        getattr(nr, op)(nr.tensor([7, -7]), nr.tensor([0, 2]))
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        getattr(torch, op)(torch.tensor([7, -7]), torch.tensor([0, 2]))
    assert getattr(nr, op)(nr.tensor([7.0]), nr.tensor([0.0])).isnan().item() == (op == "remainder")
