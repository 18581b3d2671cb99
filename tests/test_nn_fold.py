"""F.unfold / F.fold and nn.Unfold / nn.Fold against torch: values, gradients (each is the other's
adjoint), unbatched inputs, reprs and errors."""
import numpy as np
import pytest

import neurarust as nr
import neurarust.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = [((2, 3, 7, 6), dict(kernel_size=3)),
         ((2, 3, 7, 6), dict(kernel_size=(2, 3), dilation=(2, 1), padding=1, stride=(2, 1))),
         ((3, 5, 5), dict(kernel_size=2, stride=2)),
         ((1, 2, 8, 8), dict(kernel_size=4, stride=4))]


def _pair(values):
    return nr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)


@pytest.mark.parametrize("shape, kwargs", CASES)
def test_unfold_values_and_gradient_are_torchs(shape, kwargs):
    rng = np.random.default_rng(0)
    ours, theirs = _pair(rng.standard_normal(shape))
    got, want = F.unfold(ours, **kwargs), TF.unfold(theirs, **kwargs)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy())
    weights = rng.standard_normal(tuple(want.shape))
    (got * nr.tensor(weights)).sum().backward()
    (want * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape, kwargs", CASES)
def test_fold_values_and_gradient_are_torchs(shape, kwargs):
    rng = np.random.default_rng(1)
    columns = tuple(TF.unfold(torch.zeros(shape), **kwargs).shape)
    ours, theirs = _pair(rng.standard_normal(columns))
    got, want = F.fold(ours, shape[-2:], **kwargs), TF.fold(theirs, shape[-2:], **kwargs)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-12)
    weights = rng.standard_normal(tuple(want.shape))
    (got * nr.tensor(weights)).sum().backward()
    (want * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())


def test_modules_repr_and_call_like_torch():
    pairs = [(nr.nn.Unfold(2, stride=2), torch.nn.Unfold(2, stride=2)),
             (nr.nn.Fold((4, 4), 2, padding=1), torch.nn.Fold((4, 4), 2, padding=1))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
    x = np.arange(32.0).reshape(1, 2, 4, 4)
    cols = pairs[0][0](nr.tensor(x))
    assert cols.tolist() == pairs[0][1](torch.tensor(x)).tolist()
    assert nr.nn.Fold((4, 4), 2, stride=2)(cols).tolist() == x.tolist()


@pytest.mark.parametrize("call", [
    lambda: F.unfold(nr.zeros(2, 3), 2),
    lambda: F.unfold(nr.zeros(1, 1, 2, 2), 3),
    lambda: F.unfold(nr.zeros(1, 1, 4, 4), 2, stride=0),
    lambda: F.fold(nr.zeros(1, 5, 4), (3, 3), 2),
    lambda: F.fold(nr.zeros(1, 4, 3), (3, 3), 2),
    lambda: F.fold(nr.zeros(4), (3, 3), 2),
])
def test_bad_arguments_raise_clear_errors(call):
    with pytest.raises(nr.NeuraRustError):
        call()


def test_conv_transpose3d_is_torchs():
    rng = np.random.default_rng(5)
    nr.manual_seed(0)
    kw = dict(stride=(2, 1, 2), padding=(1, 0, 1), output_padding=(1, 0, 0), dilation=(1, 2, 1))
    ours, theirs = nr.nn.ConvTranspose3d(3, 4, (2, 3, 2), **kw), torch.nn.ConvTranspose3d(3, 4, (2, 3, 2), **kw)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    assert repr(ours) == repr(theirs)
    a, ta = nr.tensor(rng.standard_normal((2, 3, 4, 5, 3)), dtype=nr.float32, requires_grad=True), None
    ta = torch.tensor(a.detach().numpy(), requires_grad=True)
    y, ty = ours(a, output_size=(7, 9, 5)), theirs(ta, output_size=(7, 9, 5))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=1e-5)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), atol=1e-4)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), atol=1e-4)
    assert tuple(F.conv_transpose3d(a[0], ours.weight, stride=2).shape) == (4, 8, 11, 6)   # unbatched
