"""Creation functions against PyTorch: values, dtype inference, memory sharing and errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr


def _same(t: nr.Tensor, tt: torch.Tensor) -> None:
    assert t.dtype.name == str(tt.dtype).removeprefix("torch.")
    assert tuple(t.shape) == tuple(tt.shape)
    want = (tt.float() if tt.dtype == torch.bfloat16 else tt).numpy()
    np.testing.assert_array_equal(t.numpy().astype(want.dtype) if t.dtype is nr.bfloat16 else t.numpy(), want)


@pytest.mark.parametrize("data", [
    [1, 2, 3], [1.5, 2], [True, False], [[1, 2], [3, 4]], 3, 2.5, True, [], [[]], [True, 2], [[1.0], [2]],
    np.float64(2.0), np.int16(3), np.array([1, 2], dtype=np.uint8), np.zeros((2, 0)),
])
def test_tensor_infers_dtype_like_torch(data):
    _same(nr.tensor(data), torch.tensor(data))


@pytest.mark.parametrize("dtype", [nr.float16, nr.bfloat16, nr.int8, nr.uint8, nr.int32, nr.bool, nr.float64])
def test_tensor_with_dtype(dtype):
    _same(nr.tensor([[0, 1.0], [2, 3]], dtype=dtype), torch.tensor([[0, 1.0], [2, 3]], dtype=dtype.to_torch()))


def test_tensor_copies_and_as_tensor_shares():
    a = np.arange(4.0)
    t = nr.tensor(a)
    a[0] = 9.0
    assert t[0].item() == 0.0
    s = nr.as_tensor(a)
    assert np.shares_memory(s.numpy(), a) and s.dtype is nr.float64
    assert not np.shares_memory(nr.as_tensor(a, dtype=nr.float32).numpy(), a)
    x = nr.ones(3)
    assert nr.as_tensor(x) is x
    c = nr.tensor(x)
    assert c is not x and c.untyped_storage() is not x.untyped_storage()
    assert nr.tensor(x, dtype=nr.int64).dtype is nr.int64
    assert nr.tensor([nr.tensor(1.0), nr.tensor(2.0)]).tolist() == [1.0, 2.0]


def test_tensor_rejects_ragged_and_non_numeric_data():
    with pytest.raises(nr.ShapeError, match="ragged"):
        nr.tensor([[1, 2], [3]])
    with pytest.raises(nr.DTypeError):
        nr.tensor(["a"])


@pytest.mark.parametrize("name", ["zeros", "ones", "empty"])
@pytest.mark.parametrize("size", [(2, 3), ((2, 3),), ([4],), (0,), ((),)])
def test_filled_creation_matches_torch(name, size):
    t, tt = getattr(nr, name)(*size), getattr(torch, name)(*size)
    assert tuple(t.shape) == tuple(tt.shape) and t.dtype is nr.float32 and t.is_contiguous()
    if name != "empty":
        _same(t, tt)
    assert getattr(nr, name)(*size, dtype=nr.int16).dtype is nr.int16


@pytest.mark.parametrize("value", [7, 2.5, True, -1])
def test_full_infers_dtype_from_the_value(value):
    _same(nr.full((2, 2), value), torch.full((2, 2), value))
    _same(nr.full((3,), value, dtype=nr.float16), torch.full((3,), value, dtype=torch.float16))


def test_like_functions_keep_shape_dtype_device():
    x = nr.tensor([[1, 2, 3]], dtype=nr.int8).t()
    for fn, want in ((nr.zeros_like, 0), (nr.ones_like, 1), (lambda t, **k: nr.full_like(t, 5, **k), 5)):
        y = fn(x)
        assert y.shape == x.shape and y.dtype is nr.int8 and y.device == x.device
        assert y.tolist() == [[want]] * 3
        assert fn(x, dtype=nr.float32).dtype is nr.float32
    e = nr.empty_like(x, device="cpu")
    assert e.shape == x.shape and e.dtype is nr.int8


def test_negative_sizes_are_rejected():
    for call in (lambda: nr.zeros(-2), lambda: nr.empty(2, -1), lambda: nr.ones((3, -5))):
        with pytest.raises(ValueError, match="negative"):
            call()


def test_creation_on_cuda_without_gpu_raises_device_error():
    if nr.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(nr.DeviceError):
        nr.zeros(2, device="cuda")
    with pytest.raises(nr.DeviceError):
        nr.tensor([1.0], device="cuda:0")


# -- arange -----------------------------------------------------------------------------------

ARANGE_CALLS = [
    ((5,), {}), ((5.0,), {}), ((2, 11, 3), {}), ((0, 1, 0.1), {}), ((0, 2.5, 0.5), {}), ((9, -2, -3), {}),
    ((1.0, -1.0, -0.3), {}), ((3, 3), {}), ((True, 3), {}), ((0, 10), {"dtype": nr.float16}),
    ((0, 1, 0.1), {"dtype": nr.float16}), ((0, 1, 0.1), {"dtype": nr.float64}), ((0.5, 5), {"dtype": nr.int64}),
    ((0.5, 5.9), {"dtype": nr.int64}), ((0.5, 5), {"dtype": nr.int32}), ((-3, 4, 1.7), {"dtype": nr.int16}),
    ((250, 260), {"dtype": nr.uint8}), ((2**53, 2**53 + 4), {}), ((-5, 5, 3), {"dtype": nr.int8}),
    ((0, 2000), {"dtype": nr.float32}),
]


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("args,kwargs", ARANGE_CALLS)
def test_arange_matches_torch(args, kwargs, backend):
    torch_kwargs = {k: v.to_torch() if isinstance(v, nr.DType) else v for k, v in kwargs.items()}
    with nr.backends.using(backend):
        t = nr.arange(*args, **kwargs)
    tt = torch.arange(*args, **torch_kwargs)
    assert t.dtype.name == str(tt.dtype).removeprefix("torch.") and tuple(t.shape) == tuple(tt.shape)
    want = tt.double().numpy()
    np.testing.assert_allclose(t.numpy().astype(np.float64), want, rtol=2e-7 if t.dtype is not nr.float16 else 1e-3)


def test_arange_follows_the_default_dtype_and_takes_tensor_bounds():
    before = nr.get_default_dtype()
    try:
        nr.set_default_dtype(nr.float64)
        assert nr.arange(1.5).dtype is nr.float64 and nr.arange(3).dtype is nr.int64
    finally:
        nr.set_default_dtype(before)
    assert nr.arange(nr.tensor(3)).tolist() == [0, 1, 2]
    assert nr.arange(np.int32(1), np.float32(2.0), 0.5).tolist() == [1.0, 1.5]


def test_arange_runs_the_triton_kernel():
    before = nr.backends.launch_counts["arange"]
    with nr.backends.using("triton"):
        nr.arange(10)
        nr.arange(0)  # empty: nothing to launch
    assert nr.backends.launch_counts["arange"] == before + 1


@pytest.mark.parametrize("args,kwargs,error,match", [
    ((0, 5, 0), {}, nr.ArgumentError, "step must be nonzero"),
    ((0, 5, 0.5), {"dtype": nr.int64}, nr.ArgumentError, "step must be nonzero"),
    ((5, 0), {}, nr.ArgumentError, "inconsistent with step sign"),
    ((0, 5, -1), {}, nr.ArgumentError, "inconsistent with step sign"),
    ((0, float("nan")), {}, nr.ArgumentError, "unsupported range"),
    ((float("-inf"), 0), {}, nr.ArgumentError, "unsupported range"),
    ((5,), {"dtype": nr.bool}, nr.DTypeError, "does not support neurarust.bool"),
    ((nr.tensor([1, 2]),), {}, nr.ArgumentError, r"one-element tensor, got shape \[2\]"),
    (("5",), {}, nr.SignatureError, "must be a number"),
])
def test_arange_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        nr.arange(*args, **kwargs)


@pytest.mark.parametrize("dtype", [torch.int32, torch.float16, torch.bfloat16, torch.uint8, torch.float64])
def test_tensor_copies_a_torch_tensor_and_keeps_its_dtype(dtype):
    src = torch.arange(4).to(dtype)
    t = nr.tensor(src)
    assert t.dtype.name == str(dtype).removeprefix("torch.")
    src[0] = 3
    assert t[0].item() == 0
    assert nr.tensor(src.t() if src.ndim == 2 else src[::2]).tolist() == src[::2].tolist()


def test_tensor_keeps_the_dtype_of_array_likes_but_infers_python_data():
    a = np.arange(3, dtype=np.int32)
    t = nr.tensor(a)
    assert t.dtype is nr.int32 and not np.shares_memory(t.numpy(), a)
    assert nr.tensor(memoryview(np.arange(3, dtype=np.int16))).dtype is nr.int16  # a buffer
    assert nr.tensor([1, 2]).dtype is nr.int64 and nr.tensor((1.5,)).dtype is nr.float32
    x = nr.ones(2)
    y = nr.tensor(x)
    assert y is not x and y.data_ptr() != x.data_ptr()


def test_as_tensor_honours_device_zero():
    with pytest.raises(nr.DeviceError, match="cuda:0"):
        nr.as_tensor(nr.ones(2), device=0)
    with pytest.raises(nr.DeviceError, match="cuda:0"):
        nr.tensor(nr.ones(2), device=0)


def test_full_and_fill_check_the_value_fits():
    with pytest.raises(nr.ArgumentError, match="300.*int8"):
        nr.full((2,), 300, dtype=nr.int8)
    t = nr.zeros(2, dtype=nr.int16)
    with pytest.raises(nr.ArgumentError, match="nan.*int16"):
        t.fill_(float("nan"))
    assert t.tolist() == [0, 0]
    assert nr.full((2,), -128, dtype=nr.int8).tolist() == [-128, -128]


@pytest.mark.parametrize("size", ["a", 2.5, (2, 1.0), [None]])
def test_sizes_must_be_integers(size):
    with pytest.raises(nr.SignatureError):
        nr.zeros(size)
    assert nr.zeros(np.int64(2), nr.tensor(1)).shape == (2, 1)


NEW_CALLS = {
    "new_zeros": lambda x, m: x.new_zeros(2, 3),
    "new_zeros_of_a_tuple_and_dtype": lambda x, m: x.new_zeros((2,), dtype=m.int32),
    "new_ones": lambda x, m: x.new_ones(2),
    "new_empty_shape": lambda x, m: x.new_empty(0, 2).shape,
    "new_full_keeps_the_dtype": lambda x, m: x.new_full((2,), 3),
    "new_tensor_of_a_list": lambda x, m: x.new_tensor([1, 2]),
    "new_tensor_of_a_tensor_is_detached": lambda x, m: x.new_tensor(m.ones(1, requires_grad=True)).requires_grad,
    "type_as": lambda x, m: m.tensor([True, False]).type_as(x),
}


@pytest.mark.parametrize("name", sorted(NEW_CALLS))
def test_new_tensors_take_this_tensors_dtype_like_torch(name):
    import warnings

    ours = NEW_CALLS[name](nr.zeros(1, dtype=nr.float64), nr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch suggests clone().detach() for new_tensor(tensor)
        theirs = NEW_CALLS[name](torch.zeros(1, dtype=torch.float64), torch)
    if isinstance(theirs, torch.Tensor):
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        assert tuple(ours.shape) == tuple(theirs.shape) and ours.tolist() == theirs.tolist()
    else:
        assert tuple(ours) == tuple(theirs) if isinstance(theirs, torch.Size) else ours == theirs
