"""3-D pooling (separable: the 2-D kernels over each depth slice, then over depth) against torch:
values, indices, gradients, unbatched inputs, reprs and errors."""
import numpy as np
import pytest

import neurarust as nr
import neurarust.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = [
    ("max_pool3d", (2, 3, 5, 6, 7), dict(kernel_size=2)),
    ("max_pool3d", (2, 3, 5, 6, 7), dict(kernel_size=(3, 2, 3), stride=(1, 2, 2), padding=(1, 1, 0),
                                         dilation=(1, 2, 1), ceil_mode=True, return_indices=True)),
    ("max_pool3d", (3, 5, 6, 7), dict(kernel_size=3, stride=2, padding=1, return_indices=True)),
    ("avg_pool3d", (2, 3, 5, 6, 7), dict(kernel_size=2)),
    ("avg_pool3d", (2, 3, 5, 6, 7), dict(kernel_size=(3, 2, 3), stride=(2, 2, 1), padding=1, ceil_mode=True,
                                         count_include_pad=False)),
    ("avg_pool3d", (2, 3, 5, 6, 7), dict(kernel_size=(3, 2, 3), stride=(2, 2, 1), padding=1, ceil_mode=True)),
    ("avg_pool3d", (2, 3, 5, 6, 7), dict(kernel_size=3, stride=2, padding=1, divisor_override=5)),
    ("avg_pool3d", (2, 3, 5, 6, 7), dict(kernel_size=(3, 2, 2), stride=2, padding=1, ceil_mode=True,
                                         count_include_pad=False, divisor_override=3)),
    ("adaptive_avg_pool3d", (2, 3, 5, 6, 7), dict(output_size=(2, 4, 3))),
    ("adaptive_avg_pool3d", (3, 5, 6, 7), dict(output_size=(None, 4, 1))),
    ("adaptive_max_pool3d", (2, 3, 5, 6, 7), dict(output_size=(2, 4, 3), return_indices=True)),
    ("adaptive_max_pool3d", (2, 3, 5, 6, 7), dict(output_size=3, return_indices=True)),
]


@pytest.mark.parametrize("name, shape, kwargs", CASES)
def test_pool3d_values_indices_and_gradients_are_torchs(name, shape, kwargs):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    ours, theirs = nr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    got, want = getattr(F, name)(ours, **kwargs), getattr(TF, name)(theirs, **kwargs)
    if isinstance(want, tuple):
        assert got[1].tolist() == want[1].tolist()
        got, want = got[0], want[0]
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    weights = rng.standard_normal(tuple(want.shape))
    (got * nr.tensor(weights)).sum().backward()
    (want * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


def test_pool3d_modules_repr_as_torch():
    for args, kwargs in (((2,), {}), ((2, 1, 1, 2, True, True), {})):
        assert repr(nr.nn.MaxPool3d(*args, **kwargs)) == repr(torch.nn.MaxPool3d(*args, **kwargs))
    assert repr(nr.nn.AvgPool3d(3, 2, 1, True, False, 4)) == repr(torch.nn.AvgPool3d(3, 2, 1, True, False, 4))
    assert repr(nr.nn.AdaptiveAvgPool3d(1)) == repr(torch.nn.AdaptiveAvgPool3d(1))
    assert repr(nr.nn.AdaptiveMaxPool3d((1, 2, 3))) == repr(torch.nn.AdaptiveMaxPool3d((1, 2, 3)))
    assert nr.nn.MaxPool3d(2, return_indices=True)(nr.arange(8.0).reshape(1, 1, 2, 2, 2))[1].tolist() == [[[[[7]]]]]


@pytest.mark.parametrize("call", [
    lambda: F.max_pool3d(nr.zeros(2, 2, 2), 2),
    lambda: F.max_pool3d(nr.zeros(1, 1, 4, 4, 4), 2, padding=2),
    lambda: F.avg_pool3d(nr.zeros(1, 1, 4, 4, 4), 2, divisor_override=0),
    lambda: F.adaptive_avg_pool3d(nr.zeros(1, 1, 4, 4, 4), (1, 2)),
])
def test_bad_arguments_raise_clear_errors(call):
    with pytest.raises(nr.NeuraRustError):
        call()
