"""Conversions: NumPy, Python values, devices and dtypes, pickling, DLPack and repr."""
from __future__ import annotations

import copy
import pickle

import ml_dtypes
import numpy as np
import pytest
import torch

import neurarust as nr
from neurarust.printing import set_printoptions


def test_numpy_is_zero_copy_for_views():
    x = nr.zeros(3, 4)
    for v in (x, x.t(), x[1:, ::2], x[:, :1].expand(3, 5)):
        a = v.numpy()
        assert np.shares_memory(a, x.numpy())
        assert a.shape == tuple(v.shape) and a.strides == tuple(s * 4 for s in v.stride())
    x.numpy()[1, 2] = 5.0
    assert x[1, 2].item() == 5.0


def test_tolist_and_item_give_python_numbers():
    assert nr.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert nr.tensor(2.5).tolist() == 2.5
    for d in (nr.float16, nr.bfloat16, nr.float32, nr.float64):
        t = nr.tensor([1.5, -2.0], dtype=d)
        assert t.tolist() == [1.5, -2.0] and all(type(v) is float for v in t.tolist())
        assert type(t[0].item()) is float and t[0].item() == 1.5
    assert type(nr.tensor([3], dtype=nr.uint8).item()) is int
    assert nr.tensor(True).item() is True
    with pytest.raises(nr.ShapeError, match=r"one element.*\(2,\)"):
        nr.tensor([1, 2]).item()


def test_python_number_protocols():
    assert float(nr.tensor([2.5])) == 2.5 and int(nr.tensor(7.9)) == 7
    assert [10, 20, 30][nr.tensor(1)] == 20 and range(10)[nr.tensor(3, dtype=nr.int8)] == 3
    with pytest.raises(nr.DTypeError, match="float32"):
        [1, 2][nr.tensor(1.0)]
    assert f"{nr.tensor(3.14159):.2f}" == "3.14"
    assert f"{nr.tensor([1, 2])}" == "tensor([1, 2])"


def test_bool_is_ambiguous_for_several_elements():
    assert bool(nr.tensor([1.0])) and not bool(nr.tensor(0))
    with pytest.raises(nr.ArgumentError, match="ambiguous"):
        bool(nr.tensor([1, 2]))
    with pytest.raises(ValueError):
        if nr.zeros(2, 2):
            pass


def test_len_and_iteration():
    x = nr.tensor([[1, 2], [3, 4], [5, 6]])
    assert len(x) == 3
    rows = list(x)
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4], [5, 6]]
    assert all(r.untyped_storage() is x.untyped_storage() for r in rows)
    with pytest.raises(TypeError, match="0-d"):
        len(nr.tensor(1))
    with pytest.raises(TypeError, match="0-d"):
        iter(nr.tensor(1))


def test_array_protocol():
    x = nr.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(x)
    assert np.shares_memory(a, x.numpy())
    assert not np.shares_memory(np.array(x, copy=True), x.numpy())
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError):
        np.asarray(x, dtype=np.float64, copy=False)
    np.testing.assert_array_equal(np.add(x, 1), [[2.0, 3.0], [4.0, 5.0]])


def test_to_dtype_device_and_copy():
    x = nr.tensor([1.7, -2.2])
    assert x.to("cpu") is x and x.cpu() is x and x.to(nr.float32) is x
    assert x.to(nr.float64).dtype is nr.float64
    assert x.to("cpu", nr.int32).tolist() == [1, -2]
    assert x.to(dtype=torch.float16).dtype is nr.float16
    assert x.to(nr.device("cpu"), nr.int64, False).dtype is nr.int64
    assert x.to(nr.zeros(1, dtype=nr.int8)).dtype is nr.int8
    c = x.to(copy=True)
    assert c is not x and c.untyped_storage() is not x.untyped_storage() and c.tolist() == x.tolist()
    assert x.double().dtype is nr.float64 and x.half().dtype is nr.float16 and x.long().dtype is nr.int64
    assert x.bfloat16().dtype is nr.bfloat16 and x.int().dtype is nr.int32 and x.bool().dtype is nr.bool
    assert x.float() is x
    with pytest.raises(nr.ArgumentError, match="unexpected"):
        x.to(bogus=1)


def test_cuda_without_gpu_raises_device_error():
    if nr.cuda.is_available():
        pytest.skip("a GPU is present")
    x = nr.ones(2)
    for call in (lambda: x.cuda(), lambda: x.to("cuda"), lambda: x.to("cuda:1"), lambda: x.cuda(0)):
        with pytest.raises(nr.DeviceError, match="CUDA|cuda"):
            call()
    with pytest.raises(RuntimeError):
        x.cuda()


@pytest.mark.parametrize("dtype", [nr.float32, nr.bfloat16, nr.int16, nr.bool])
def test_pickle_and_deepcopy_keep_data_dtype_device(dtype):
    x = nr.tensor([[1, 0, 3], [4, 5, 0]], dtype=dtype).t()
    for y in (pickle.loads(pickle.dumps(x)), copy.deepcopy(x)):
        assert y.dtype is dtype and y.device == x.device and y.shape == x.shape
        assert y.tolist() == x.tolist()
        assert y.untyped_storage() is not x.untyped_storage()
    pair = copy.deepcopy([x, x])
    assert pair[0] is pair[1]


def test_from_numpy_shares_memory_and_keeps_strides():
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    t = nr.from_numpy(a[:, 1::2])
    assert t.dtype is nr.int32 and t.stride() == (4, 2) and np.shares_memory(t.numpy(), a)
    t[0, 0] = 100
    assert a[0, 1] == 100
    b = nr.from_numpy(np.array([1.5], dtype=ml_dtypes.bfloat16))
    assert b.dtype is nr.bfloat16
    with pytest.raises(nr.ArgumentError, match="negative strides"):
        nr.from_numpy(a[::-1])
    with pytest.raises(nr.ArgumentError, match="ndarray"):
        nr.from_numpy([1, 2])
    with pytest.raises(nr.DTypeError, match="complex"):
        nr.from_numpy(np.zeros(2, dtype=np.complex64))


# -- DLPack -----------------------------------------------------------------------------------

def _producers():
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    yield "numpy", base
    yield "numpy_strided", base[1:, ::2]
    yield "numpy_transposed", base.T
    yield "numpy_int8", np.arange(5, dtype=np.int8)
    yield "torch", torch.arange(24.0).view(4, 6)
    yield "torch_strided", torch.arange(24.0).view(4, 6)[1:, ::2]
    yield "torch_transposed", torch.arange(24, dtype=torch.int64).view(4, 6).t()
    yield "torch_bfloat16", torch.arange(12.0).to(torch.bfloat16).view(3, 4)[:, 1:]
    yield "torch_bool", torch.tensor([True, False, True])


def _address(obj) -> int:
    return obj.data_ptr() if isinstance(obj, torch.Tensor) else obj.__array_interface__["data"][0]


@pytest.mark.parametrize("name,src", list(_producers()), ids=[n for n, _ in _producers()])
def test_from_dlpack_wraps_without_copy(name, src):
    t = nr.from_dlpack(src)
    assert tuple(t.shape) == tuple(src.shape)
    itemsize = src.element_size() if isinstance(src, torch.Tensor) else src.itemsize
    want_strides = src.stride() if isinstance(src, torch.Tensor) else tuple(s // itemsize for s in src.strides)
    assert t.stride() == tuple(want_strides)
    assert t.data_ptr() == _address(src)
    expected = (src.float() if src.dtype == torch.bfloat16 else src).numpy() if isinstance(src, torch.Tensor) else src
    np.testing.assert_array_equal(t.tolist(), expected.tolist())
    t[(0,) * t.ndim] = 1  # writes show on the producer's side
    assert (src.flatten()[0] if isinstance(src, torch.Tensor) else src.reshape(-1)[0]).item() == 1


def test_from_dlpack_of_a_tensor_is_itself_and_checks_its_argument():
    x = nr.ones(2)
    assert nr.from_dlpack(x) is x
    with pytest.raises(nr.ArgumentError, match="__dlpack__"):
        nr.from_dlpack([1, 2])
    with pytest.raises(nr.ArgumentError, match="negative strides"):
        nr.from_dlpack(np.arange(4.0)[::-1])


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided", "offset"])
@pytest.mark.parametrize("dtype", [nr.float32, nr.int64, nr.bfloat16, nr.uint8])
def test_torch_from_dlpack_of_neurarust_tensor_shares_memory(dtype, layout):
    base = nr.arange(24, dtype=dtype).view(4, 6)
    x = {"contiguous": base, "transposed": base.t(), "strided": base[:, ::2], "offset": base[1:, 2:]}[layout]
    tt = torch.from_dlpack(x)
    assert tt.data_ptr() == x.data_ptr() and tt.stride() == x.stride() and tuple(tt.shape) == tuple(x.shape)
    assert str(tt.dtype) == f"torch.{dtype.name}"
    tt[0, 0] = 7
    assert x[0, 0].item() == 7
    assert x.__dlpack_device__() == (1, 0)


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "offset"])
def test_numpy_from_dlpack_of_neurarust_tensor_shares_memory(layout):
    base = nr.arange(12.0).view(3, 4)
    x = {"contiguous": base, "transposed": base.t(), "offset": base[1:, 1:]}[layout]
    a = np.from_dlpack(x)
    assert np.shares_memory(a, base.numpy()) and a.shape == tuple(x.shape)
    np.testing.assert_array_equal(a, x.numpy())


def test_dlpack_round_trip_keeps_the_same_memory():
    x = nr.arange(6, dtype=nr.int32)[1:]
    y = nr.from_dlpack(torch.from_dlpack(x))
    assert y.data_ptr() == x.data_ptr()
    y[0] = -1
    assert x[0].item() == -1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_from_dlpack_of_a_cuda_tensor_wraps_its_storage():
    src = torch.arange(24.0, device="cuda").view(4, 6)[1:, ::2]
    t = nr.from_dlpack(src)
    assert t.device == nr.device("cuda", src.device.index)
    assert t.data_ptr() == src.data_ptr() and t.stride() == src.stride()
    back = torch.from_dlpack(t)
    assert back.data_ptr() == src.data_ptr()
    np.testing.assert_array_equal(t.cpu().numpy(), src.cpu().numpy())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_round_trip_and_repr():
    x = nr.tensor([1.5, 2.0]).cuda()
    assert x.is_cuda and x.cpu().tolist() == [1.5, 2.0]
    assert repr(x) == f"tensor([1.5000, 2.0000], device='{x.device}')"
    assert pickle.loads(pickle.dumps(x)).device == x.device


# -- repr -------------------------------------------------------------------------------------

REPR_CASES = [
    ([1, 2, 3], None), ([[1, -20], [300, 4]], None), (7, None), ([1.0, 2.0, 3.0], None),
    ([1.5, 2.25, -3.0], None), ([0.1, 1e-5], None), ([1e10, 1.0], None), ([1e-10, 1.0], None),
    ([float("nan"), float("inf"), -float("inf"), 1.0], None), ([float("nan"), 1.5], None),
    ([float("inf"), -float("inf")], None), (float("nan"), None), ([-0.0, 0.0], None), (3.5, None),
    ([True, False], None), ([True, True], None), (True, None), ([], None), ([], torch.int64),
    ([[]], None), ([1, 2], torch.int32), ([1, 2], torch.float64), ([1.5, 2], torch.float16),
    ([1.5, 2], torch.bfloat16), ([1, 2], torch.uint8), (7, torch.int8), (2.5, torch.float64),
    ([1e-4, 1.0], None), ([100000.0, 1.0], None), ([12345.678, 0.5], None), ([0.001, 1000.0], None),
    ([123456789.0, 1.0], None), ([1e-5], torch.float16), ([1e20, float("inf")], None),
]
REPR_ARRAYS = [
    np.zeros((0, 3), np.float32), np.zeros((2, 0, 3), np.int64), np.arange(24.0).reshape(2, 3, 4),
    np.arange(2000.0), np.arange(2000), np.arange(1001.0), np.arange(3000.0).reshape(50, 60),
    np.arange(4000).reshape(10, 20, 20) - 2000, np.arange(100.0) / 7, np.linspace(-1, 1, 30),
    np.random.default_rng(0).standard_normal((3, 4)) * 1e5, np.arange(40.0).reshape(2, 20),
    np.random.default_rng(1).standard_normal((12, 7, 15)).astype(np.float32),
    (np.arange(3000) % 2).astype(bool),
]


def _repr_pair(data, dtype):
    if isinstance(data, np.ndarray):
        tt = torch.from_numpy(data.astype(np.float32) if data.dtype == np.float64 else data)
    else:
        tt = torch.tensor(data, dtype=dtype)
    values = tt.float().numpy() if tt.dtype == torch.bfloat16 else tt.numpy()
    return nr.tensor(values, dtype=str(tt.dtype)), tt


@pytest.mark.parametrize("data,dtype", REPR_CASES + [(a, None) for a in REPR_ARRAYS])
def test_repr_matches_torch(data, dtype):
    t, tt = _repr_pair(data, dtype)
    assert repr(t) == repr(tt).replace("torch.", "neurarust.")


def test_repr_follows_default_dtype_and_print_options():
    before = nr.get_default_dtype()
    torch_before = torch.get_default_dtype()
    try:
        nr.set_default_dtype(nr.float64)
        torch.set_default_dtype(torch.float64)
        for data in ([1.5, 2.0], [], 3.0):
            assert repr(nr.tensor(data)) == repr(torch.tensor(data)).replace("torch.", "neurarust.")
        assert repr(nr.tensor([1.5], dtype=nr.float32)) == "tensor([1.5000], dtype=neurarust.float32)"
    finally:
        nr.set_default_dtype(before)
        torch.set_default_dtype(torch_before)
    try:
        set_printoptions(precision=2, threshold=5, edgeitems=1, linewidth=30)
        torch.set_printoptions(precision=2, threshold=5, edgeitems=1, linewidth=30)
        for values in (np.arange(10.0) / 3, np.arange(24.0).reshape(4, 6) / 7):
            t, tt = _repr_pair(values, None)
            assert repr(t) == repr(tt)
    finally:
        set_printoptions(precision=4, threshold=1000, edgeitems=3, linewidth=80)
        torch.set_printoptions(profile="default")


def test_to_accepts_torch_devices_and_dtypes():
    x = nr.tensor([1, 2])
    assert x.to(torch.device("cpu")) is x
    assert x.to(torch.float64).dtype is nr.float64
    y = x.to(torch.device("cpu"), torch.float64)
    assert y.dtype is nr.float64 and y.device == nr.device("cpu")
    assert x.to(device=torch.device("cpu"), dtype=torch.int16).dtype is nr.int16
    assert x.to(nr.device("cpu"), nr.float16).dtype is nr.float16
    with pytest.raises(nr.DeviceError):
        x.to(0)  # an int is a CUDA index, and there is no GPU here
