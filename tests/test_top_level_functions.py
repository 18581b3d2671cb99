"""The top-level functions a PyTorch user reaches for, as in torch: identity and spaced creation, and
the function forms of the view methods."""
import numpy as np
import pytest
import torch

import neurarust as nr

X = np.arange(24).reshape(2, 3, 4)


@pytest.mark.parametrize("name, args", [("reshape", ((4, 6),)), ("flatten", (1,)), ("squeeze", ()), ("unsqueeze", (1,)),
                                        ("transpose", (0, 2)), ("swapaxes", (0, 1)), ("swapdims", (1, 2)),
                                        ("permute", ((2, 0, 1),)), ("narrow", (2, 1, 2)), ("select", (1, -1)),
                                        ("diagonal", (0, 1, 2)), ("movedim", ((0, 1), (2, 0))), ("moveaxis", (0, -1)),
                                        ("broadcast_to", ((3, 2, 3, 4),))])
def test_a_view_function_gives_what_torch_gives(name, args):
    assert getattr(nr, name)(nr.tensor(X), *args).tolist() == getattr(torch, name)(torch.tensor(X), *args).tolist()


def test_a_view_function_returns_a_view():
    x = nr.zeros(2, 3)
    nr.transpose(x, 0, 1)[0, 1] = 5.0
    assert x[1, 0].item() == 5.0


def test_t_and_numel():
    assert nr.t(nr.zeros(2, 3)).shape == (3, 2) and nr.numel(nr.zeros(2, 3)) == 6


@pytest.mark.parametrize("n, m", [(3, None), (2, 4), (0, 2)])
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_eye_is_torchs(n, m, dtype):
    args = (n,) if m is None else (n, m)
    got = nr.eye(*args, dtype=getattr(nr, dtype if dtype != "bool" else "bool_"))
    want = torch.eye(*args, dtype=getattr(torch, dtype))
    assert got.tolist() == want.tolist() and got.shape == tuple(want.shape)


@pytest.mark.parametrize("args", [(0, 1, 5), (-3.3, 7.1, 11), (0, 1, 1), (0, 1, 0), (2, -1, 8), (-10, 10, 101)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_linspace_is_torchs_bit_for_bit(args, dtype):
    assert nr.linspace(*args, dtype=getattr(nr, dtype)).tolist() == torch.linspace(*args, dtype=getattr(torch, dtype)).tolist()


@pytest.mark.parametrize("args", [(0, 2, 3), (-3.3, 7.1, 11), (0, 1, 0)])
def test_logspace_is_torchs(args):
    np.testing.assert_allclose(nr.logspace(*args, base=2.0).tolist(), torch.logspace(*args, base=2.0).tolist(), rtol=3e-7)


def test_spaced_creation_refuses_negative_steps():
    with pytest.raises(nr.ArgumentError, match="steps"):
        nr.linspace(0, 1, -1)


NANS = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, np.nan]])


@pytest.mark.parametrize("name, args", [("nansum", ()), ("nansum", (1,)), ("nanmean", ()), ("nanmean", (0, True)),
                                        ("count_nonzero", ()), ("count_nonzero", (1,)), ("clip", (2.0, 4.0)),
                                        ("diff", ()), ("diff", (1, 0))])
def test_a_composed_function_gives_what_torch_gives(name, args):
    got, want = getattr(nr, name)(nr.tensor(NANS), *args), getattr(torch, name)(torch.tensor(NANS), *args)
    np.testing.assert_allclose(np.asarray(got.tolist()), want.numpy(), equal_nan=True)
    assert got.dtype.name == str(want.dtype).split(".")[1]


@pytest.mark.parametrize("indices, dim", [([[2], [0]], 1), ([[0, 2]], 1), ([0, 4], None)])
def test_take_along_dim_broadcasts_as_torch(indices, dim):
    x = np.arange(6.0).reshape(2, 3)
    args = () if dim is None else (dim,)
    assert (nr.take_along_dim(nr.tensor(x), nr.tensor(indices), *args).tolist()
            == torch.take_along_dim(torch.tensor(x), torch.tensor(indices), *args).tolist())


@pytest.mark.parametrize("name", ["hstack", "vstack", "row_stack", "dstack", "column_stack"])
@pytest.mark.parametrize("shape", [(3,), (2, 3)])
def test_stacking_functions_are_torchs(name, shape):
    parts = [np.arange(6)[:np.prod(shape)].reshape(shape) + k for k in range(2)]
    assert getattr(nr, name)([nr.tensor(p) for p in parts]).tolist() == getattr(torch, name)([torch.tensor(p) for p in parts]).tolist()


def test_nanmean_differentiates_through_the_present_values():
    x = nr.tensor([1.0, float("nan"), 3.0], requires_grad=True)
    nr.nanmean(x).backward()
    assert x.grad.tolist() == [0.5, 0.0, 0.5]
