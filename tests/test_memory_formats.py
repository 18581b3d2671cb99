"""Memory formats as PyTorch's: the strides clone, contiguous, to and the *_like factories give, and
is_contiguous(memory_format=), checked against torch on the same layouts."""
import numpy as np
import pytest

import neurarust as nr
from neurarust.errors import ArgumentError, SignatureError

torch = pytest.importorskip("torch")

LAYOUTS = {
    "row-major": lambda lib: lib.arange(120.0).reshape(2, 3, 4, 5),
    "transposed": lambda lib: lib.arange(120.0).reshape(2, 3, 4, 5).transpose(1, 3),
    "channels-last": lambda lib: lib.arange(120.0).reshape(2, 4, 5, 3).permute(0, 3, 1, 2),
    "sliced": lambda lib: lib.arange(120.0).reshape(2, 3, 4, 5)[:, :, :, 1:4],
    "expanded": lambda lib: lib.arange(5.0).reshape(1, 1, 1, 5).expand(2, 3, 4, 5),
}
FORMATS = ["contiguous_format", "preserve_format", "channels_last"]


def _both(layout):
    return LAYOUTS[layout](nr), LAYOUTS[layout](torch)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_clone_lays_out_like_pytorch(layout, fmt):
    ours, theirs = _both(layout)
    got = ours.clone(memory_format=getattr(nr, fmt))
    want = theirs.clone(memory_format=getattr(torch, fmt))
    assert got.stride() == want.stride()
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", ["contiguous_format", "channels_last"])
def test_contiguous_and_is_contiguous_follow_the_format_like_pytorch(layout, fmt):
    ours, theirs = _both(layout)
    assert ours.is_contiguous(memory_format=getattr(nr, fmt)) == theirs.is_contiguous(memory_format=getattr(torch, fmt))
    got, want = ours.contiguous(memory_format=getattr(nr, fmt)), theirs.contiguous(memory_format=getattr(torch, fmt))
    assert got.stride() == want.stride()
    assert (got is ours) == (want is theirs)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("factory", ["empty_like", "zeros_like", "ones_like", "full_like"])
def test_like_factories_preserve_a_dense_layout_like_pytorch(layout, factory):
    ours, theirs = _both(layout)
    args = (7.0,) if factory == "full_like" else ()
    got, want = getattr(nr, factory)(ours, *args), getattr(torch, factory)(theirs, *args)
    assert got.stride() == want.stride()
    if factory != "empty_like":
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_to_takes_a_memory_format_and_torchs_constants():
    x = nr.zeros(2, 3, 4, 5)
    assert x.to(memory_format=torch.channels_last).stride() == torch.zeros(2, 3, 4, 5).to(
        memory_format=torch.channels_last).stride()
    assert x.to(nr.float64, memory_format=nr.channels_last).dtype is nr.float64


def test_module_to_channels_last_lays_out_only_the_4d_tensors_like_pytorch():
    ours, theirs = nr.nn.Conv2d(2, 4, 3), torch.nn.Conv2d(2, 4, 3)
    weight = ours.weight
    ours.to(memory_format=nr.channels_last)
    theirs.to(memory_format=torch.channels_last)
    assert ours.weight is weight
    assert ours.weight.stride() == theirs.weight.stride() and ours.bias.stride() == theirs.bias.stride()


def test_a_channels_last_convolution_gives_the_row_major_results():
    nr.manual_seed(0)
    conv, x = nr.nn.Conv2d(2, 4, 3), nr.randn(2, 2, 6, 6)
    want = conv(x).detach().numpy()
    conv.to(memory_format=nr.channels_last)
    np.testing.assert_allclose(conv(x.contiguous(memory_format=nr.channels_last)).detach().numpy(), want, rtol=1e-5,
                               atol=1e-6)


def test_clone_preserving_a_layout_passes_the_gradient():
    a = nr.arange(6.0).reshape(2, 3).requires_grad_()
    weights = nr.arange(6.0).reshape(3, 2)
    (a.t().clone() * weights).sum().backward()
    assert a.grad.tolist() == weights.t().tolist()


def test_empty_strided_has_the_strides_asked_for():
    assert nr.empty_strided((2, 3), (1, 2)).stride() == torch.empty_strided((2, 3), (1, 2)).stride()
    with pytest.raises(ArgumentError, match="stride"):
        nr.empty_strided((2, 3), (1,))


def test_bad_formats_raise_clear_errors():
    with pytest.raises(ArgumentError, match="rank 4"):
        nr.zeros(2, 3).contiguous(memory_format=nr.channels_last)
    with pytest.raises(ArgumentError, match="preserve_format"):
        nr.zeros(2, 3).contiguous(memory_format=nr.preserve_format)
    with pytest.raises(SignatureError, match="memory_format"):
        nr.zeros(2, 3).clone(memory_format="channels_last")
    assert repr(nr.channels_last) == "neurarust.channels_last"
