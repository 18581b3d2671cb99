"""Zero-copy views against PyTorch: shape, strides, storage offset and values, and shared memory."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr


def _pair(shape=(2, 3, 4), dtype=np.float32):
    values = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
    return nr.from_numpy(values.copy()), torch.from_numpy(values.copy())


def assert_same_view(v: nr.Tensor, tv: torch.Tensor) -> None:
    assert tuple(v.shape) == tuple(tv.shape)
    assert v.stride() == tv.stride()
    assert v.storage_offset() == tv.storage_offset()
    assert v.is_contiguous() == tv.is_contiguous()
    np.testing.assert_array_equal(v.numpy(), tv.numpy())


VIEWS = {
    "view": lambda t: t.view(4, -1),
    "view_tuple": lambda t: t.view((6, 4)),
    "view_flat": lambda t: t.view(-1),
    "reshape_view": lambda t: t.reshape(3, 8),
    "permute": lambda t: t.permute(2, 0, 1),
    "permute_negative": lambda t: t.permute(-1, -3, -2),
    "transpose": lambda t: t.transpose(0, 2),
    "swapaxes": lambda t: t.swapaxes(1, -1),
    "t": lambda t: t[0].t(),
    "t_1d": lambda t: t[0, 0].t(),
    "mT": lambda t: t.mT,
    "T_2d": lambda t: t[1].T,
    "expand": lambda t: t[:, :1].expand(5, 2, 3, 4),
    "expand_minus_one": lambda t: t[:, :, :1].expand(-1, -1, 6),
    "expand_as": lambda t: t[0, :1].expand_as(t),
    "squeeze_all": lambda t: t[:, :1, None].squeeze(),
    "squeeze_dim": lambda t: t[:, :1].squeeze(1),
    "squeeze_non_one": lambda t: t.squeeze(0),
    "squeeze_tuple": lambda t: t[:1, :1].squeeze((0, 1)),
    "unsqueeze_front": lambda t: t.unsqueeze(0),
    "unsqueeze_middle": lambda t: t.unsqueeze(1),
    "unsqueeze_end": lambda t: t.unsqueeze(-1),
    "unsqueeze_strided": lambda t: t[:, ::2].unsqueeze(2),
    "flatten": lambda t: t.flatten(),
    "flatten_range": lambda t: t.flatten(1),
    "flatten_noncontiguous": lambda t: t[:, :, ::2].flatten(0, 1),
    "unflatten": lambda t: t.unflatten(2, (2, 2)),
    "unflatten_minus_one": lambda t: t.unflatten(-1, (-1, 2)),
    "narrow": lambda t: t.narrow(2, 1, 2),
    "narrow_negative_start": lambda t: t.narrow(1, -2, 2),
    "narrow_empty": lambda t: t.narrow(2, 4, 0),
    "unfold": lambda t: t.unfold(2, 2, 1),
    "unfold_step": lambda t: t.unfold(1, 2, 2),
    "unfold_0d": lambda t: t[0, 0, 0].unfold(0, 1, 1),
    "diagonal": lambda t: t.diagonal(),
    "diagonal_offset": lambda t: t.diagonal(1, 1, 2),
    "diagonal_negative": lambda t: t.diagonal(-1, 2, 1),
    "diagonal_out_of_range": lambda t: t.diagonal(7, 1, 2),
    "index_int": lambda t: t[1],
    "index_negative": lambda t: t[-1, -2],
    "index_scalar": lambda t: t[1, 2, 3],
    "index_slices_steps": lambda t: t[:, ::2, 1::2],
    "index_mixed": lambda t: t[1, ::2, None, 1:],
    "index_ellipsis": lambda t: t[..., 1],
    "index_ellipsis_none": lambda t: t[None, ..., None],
    "index_none_front": lambda t: t[None],
    "index_none_middle": lambda t: t[:, None, 1],
    "index_empty_slice": lambda t: t[:, 2:1],
    "index_past_end": lambda t: t[:, 5:],
    "index_negative_slice": lambda t: t[:, -2:, :-1],
    "index_0d_int_tensor": lambda t: t[t.new_tensor(1, dtype=torch.int64) if isinstance(t, torch.Tensor)
                                       else nr.tensor(1)],
    "index_numpy_int": lambda t: t[np.int64(1), :, np.int32(2)],
    "chain": lambda t: t.permute(2, 0, 1)[1:, :, ::2].unsqueeze(0).transpose(1, 3),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_view_matches_torch_view(name):
    x, tx = _pair()
    assert_same_view(VIEWS[name](x), VIEWS[name](tx))


@pytest.mark.parametrize("name", list(VIEWS))
def test_view_shares_memory_both_ways(name):
    x, tx = _pair()
    v, tv = VIEWS[name](x), VIEWS[name](tx)
    assert v.untyped_storage() is x.untyped_storage()
    assert v.data_ptr() == x.data_ptr() + v.storage_offset() * x.element_size()
    # base -> view
    x.copy_(x * 10 + 1)
    tx.copy_(tx * 10 + 1)
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    # view -> base (one element, so overlapping views such as expand are fine)
    if v.numel():
        v[(0,) * v.ndim] = -7.0
        tv[(0,) * tv.ndim] = -7.0
        np.testing.assert_array_equal(x.numpy(), tx.numpy())


def test_view_of_dtype_same_size_matches_torch():
    x, tx = _pair((2, 3))
    v, tv = x.view(nr.int32), tx.view(torch.int32)
    assert v.dtype is nr.int32 and v.untyped_storage() is x.untyped_storage()
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    np.testing.assert_array_equal(x.view(torch.int32).numpy(), tv.numpy())


@pytest.mark.parametrize("target", [torch.int16, torch.uint8, torch.float64, torch.int64])
def test_view_of_dtype_other_size_matches_torch(target):
    x, tx = _pair((2, 4))
    v, tv = x[:, 2:].view(nr.dtype.as_dtype(target)), tx[:, 2:].view(target)
    assert tuple(v.shape) == tuple(tv.shape) and v.stride() == tv.stride()
    assert v.storage_offset() == tv.storage_offset()
    np.testing.assert_array_equal(v.numpy(), tv.numpy())


def test_view_of_dtype_rejects_bad_layouts():
    x, _ = _pair((2, 3))
    with pytest.raises(nr.ShapeError, match="divisible"):
        x.view(nr.float64)
    with pytest.raises(nr.ShapeError, match="stride 1"):
        x.t().view(nr.int16)


def test_view_refuses_incompatible_strides_and_reshape_copies():
    x, _ = _pair()
    p = x.permute(1, 0, 2)
    with pytest.raises(nr.ShapeError, match=r"\(3, 8\)"):
        p.view(3, 8)
    r = p.reshape(3, 8)
    assert r.untyped_storage() is not x.untyped_storage()
    np.testing.assert_array_equal(r.numpy(), p.numpy().reshape(3, 8))
    assert x.reshape(4, 6).untyped_storage() is x.untyped_storage()


def test_contiguous_returns_self_or_a_copy():
    x, _ = _pair()
    assert x.contiguous() is x
    t = x.transpose(0, 1)
    c = t.contiguous()
    assert c.is_contiguous() and c.untyped_storage() is not x.untyped_storage()
    np.testing.assert_array_equal(c.numpy(), t.numpy())


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_clone_copy_fill_zero(backend):
    x, _ = _pair((2, 3))
    with nr.backends.using(backend):
        c = x.t().clone()
        assert c.untyped_storage() is not x.untyped_storage()
        np.testing.assert_array_equal(c.numpy(), x.numpy().T)
        x[0].copy_(nr.tensor([7, 8, 9], dtype=nr.int64))  # cast on copy
        x[1].fill_(2.5)
        assert x.tolist() == [[7.0, 8.0, 9.0], [2.5, 2.5, 2.5]]
        x[:, 1:].copy_(nr.tensor([[-1.0], [-2.0]]))  # broadcast
        assert x.tolist() == [[7.0, -1.0, -1.0], [2.5, -2.0, -2.0]]
        assert x.zero_() is x and x.tolist() == [[0.0] * 3] * 2
    np.testing.assert_array_equal(c.numpy(), np.arange(6.0).reshape(2, 3).T)


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_setitem_matches_torch(backend):
    x, tx = _pair((3, 4))
    with nr.backends.using(backend):
        for index, value in [((1,), 5.0), ((slice(None), 0), -1.0), ((2, slice(1, 3)), nr.tensor(9.0)),
                             ((slice(None, None, 2),), nr.tensor([1.0, 2.0, 3.0, 4.0])),
                             ((Ellipsis, None, 3), nr.tensor([[4.0], [5.0], [6.0]])),
                             ((0,), [10.0, 11.0, 12.0, 13.0]), ((1, 1), 3)]:
            x[index] = value
            tx[index] = torch.from_numpy(value.numpy()) if isinstance(value, nr.Tensor) else (
                torch.tensor(value) if isinstance(value, list) else value)
            np.testing.assert_array_equal(x.numpy(), tx.numpy())


def test_metadata_accessors():
    x, tx = _pair((2, 3, 4))
    v, tv = x[:, 1:, ::2], tx[:, 1:, ::2]
    assert v.numel() == tv.numel() and v.dim() == tv.dim() == v.ndim
    assert v.element_size() == tv.element_size() == 4 and v.itemsize == 4
    assert v.size() == tuple(tv.size()) and v.size(-1) == tv.size(-1) and v.shape[1:] == (2, 2)
    assert v.stride(0) == tv.stride(0) and v.stride(-1) == tv.stride(-1)
    assert v.nbytes == v.numel() * 4
    assert repr(v.shape) == "neurarust.Size([2, 2, 2])"
    assert x.shape.numel() == 24


def test_empty_views_are_contiguous_like_torch():
    x, tx = nr.zeros(2, 0, 3), torch.zeros(2, 0, 3)
    for f in (lambda t: t.permute(2, 1, 0), lambda t: t.view(0, 6), lambda t: t.unsqueeze(1), lambda t: t[1:]):
        assert_same_view(f(x), f(tx))


@pytest.mark.parametrize("call,error,match", [
    (lambda t: t[2], nr.IndexOutOfRangeError, "out of bounds"),
    (lambda t: t[0, 0, 0, 0], nr.IndexOutOfRangeError, "too many indices"),
    (lambda t: t[..., ...], nr.IndexOutOfRangeError, "single ellipsis"),
    (lambda t: t[::-1], nr.ArgumentError, "step must be positive"),
    (lambda t: t[[0, 5]], nr.IndexOutOfRangeError, "index 5 is out of bounds for dimension 0"),
    (lambda t: t[1.5], nr.IndexOutOfRangeError, "float"),
    (lambda t: t.permute(0, 1), nr.ShapeError, "number of dims"),
    (lambda t: t.permute(0, 1, 1), nr.ShapeError, "not a permutation"),
    (lambda t: t.transpose(0, 3), nr.IndexOutOfRangeError, "out of range"),
    (lambda t: t.expand(2, 5, 4), nr.ShapeError, "cannot expand"),
    (lambda t: t.expand(4), nr.ShapeError, "less than"),
    (lambda t: t.narrow(2, 3, 2), nr.IndexOutOfRangeError, "exceeds"),
    (lambda t: t.unfold(2, 5, 1), nr.ShapeError, "do not fit"),
    (lambda t: t.unfold(2, 2, 0), nr.ShapeError, "step 0"),
    (lambda t: t.diagonal(0, 1, 1), nr.ShapeError, "cannot be the same"),
    (lambda t: t.view(5, -1), nr.ShapeError, "invalid for input of size 24"),
    (lambda t: t.view(-1, -1), nr.ShapeError, "only one dimension"),
    (lambda t: t.t(), nr.ShapeError, "<= 2 dims"),
    (lambda t: t[0, 0].mT, nr.ShapeError, "at least 2 dims"),
    (lambda t: t.flatten(2, 0), nr.ShapeError, "start_dim"),
    (lambda t: t.squeeze(3), nr.IndexOutOfRangeError, "out of range"),
    (lambda t: t.unsqueeze(4), nr.IndexOutOfRangeError, "out of range"),
])
def test_view_errors(call, error, match):
    x, _ = _pair()
    with pytest.raises(error, match=match):
        call(x)


def test_squeeze_of_a_0d_tensor_returns_it_like_torch():
    x = nr.tensor(1.5)
    for dim in (0, -1, (0,)):
        y = x.squeeze(dim)
        assert y.shape == torch.tensor(1.5).squeeze(dim).shape == ()
        assert y.data_ptr() == x.data_ptr()


def test_inplace_floordiv_and_pow_write_through_a_view():
    base = nr.arange(6).view(2, 3)
    row = base[1]
    row //= 2
    assert base.tolist() == [[0, 1, 2], [1, 2, 2]]
    row **= 2
    assert base.tolist() == [[0, 1, 2], [1, 4, 4]]
    f = nr.tensor([[-3.0, 3.0]])
    view = f[0]
    view //= 2
    assert f.tolist() == [[-2.0, 1.0]]


def test_version_counter_lives_on_the_storage():
    base = nr.zeros(2, 3)
    view, other_view = base[0], base.t()
    v = base._version
    view.add_(1)
    assert base._version == other_view._version == view._version == v + 1
    assert base.untyped_storage().version == v + 1
    late_view = base.view(6)  # made after the write: sees the same counter
    late_view.fill_(0)
    assert view._version == v + 2
    assert nr.empty(2)._version == 0  # a fresh storage starts at 0


def test_empty_view_with_the_same_shape_keeps_its_strides_like_torch():
    import torch

    t = nr.arange(4.0)[0:0:2].view(-1)
    want = torch.arange(4.0)[0:0:2].view(-1)
    assert t.stride() == want.stride() == (2,)
