"""The error hierarchy, and errors of the tensor core that name the shapes, dtypes and devices at fault."""
from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

import neurarust as nr
from neurarust import errors
from neurarust.storage import Storage

ROOT = pathlib.Path(__file__).resolve().parents[1]
CORE_FILES = ["neurarust/tensor.py", "neurarust/creation.py", "neurarust/printing.py", "neurarust/shape.py",
              "neurarust/interop.py", "neurarust/cuda.py", "neurarust/device.py", "neurarust/dtype.py",
              "kernels/creation.py", "kernels/creation_triton.py"]

BUILTIN_OF = {
    nr.ShapeError: ValueError, nr.DTypeError: TypeError, nr.DeviceError: RuntimeError,
    nr.IndexOutOfRangeError: IndexError, nr.ArgumentError: ValueError, nr.SignatureError: TypeError,
    nr.OutOfMemoryError: RuntimeError,
}


@pytest.mark.parametrize("cls", list(BUILTIN_OF), ids=lambda c: c.__name__)
def test_each_error_is_a_neurarust_error_and_its_builtin(cls):
    assert issubclass(cls, nr.NeuraRustError) and issubclass(cls, BUILTIN_OF[cls])
    assert issubclass(nr.NeuraRustError, Exception)


@pytest.mark.parametrize("path", CORE_FILES)
def test_core_files_raise_only_neurarust_errors(path):
    """Every ``raise X(...)`` in the core names a NeuraRustError subclass (AttributeError only in
    ``__getattr__``, where Python's protocol needs it)."""
    allowed = {name for name, obj in vars(errors).items() if isinstance(obj, type) and issubclass(obj, nr.NeuraRustError)}
    tree = ast.parse((ROOT / path).read_text())
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                name = getattr(node.exc.func, "id", getattr(node.exc.func, "attr", "?"))
                ok = name in allowed or (name == "AttributeError" and fn.name == "__getattr__")
                assert ok, f"{path}:{node.lineno} raises {name}"


def _fake_cuda(shape=(2,)):
    storage = Storage(np.zeros(int(np.prod(shape)) * 4, np.uint8), nr.device("cuda", 0))
    return nr.Tensor(storage, shape, nr.shape.contiguous_strides(shape), 0, nr.float32)


CASES = [
    ("view", lambda: nr.zeros(2, 3).t().view(6), nr.ShapeError, ["(6,)", "(3, 2)"]),
    ("reshape", lambda: nr.zeros(2, 3).reshape(4, 2), nr.ShapeError, ["(4, 2)", "6"]),
    ("expand", lambda: nr.zeros(2, 3).expand(4, 3), nr.ShapeError, ["(2, 3)", "(4, 3)"]),
    ("broadcast", lambda: nr.broadcast_shapes((2, 3), (4,)), nr.ShapeError, ["(2, 3)", "(4,)"]),
    ("add", lambda: nr.zeros(2, 3) + nr.zeros(4), nr.ShapeError, ["(2, 3)", "(4,)"]),
    ("item", lambda: nr.zeros(2, 2).item(), nr.ShapeError, ["(2, 2)"]),
    ("view_dtype", lambda: nr.zeros(3).view(nr.float64), nr.ShapeError, ["float64", "float32"]),
    ("index", lambda: nr.zeros(2, 3)[:, 3], nr.IndexOutOfRangeError, ["index 3", "dimension 1", "size 3"]),
    ("dim", lambda: nr.zeros(2, 3).size(2), nr.IndexOutOfRangeError, ["dimension 2", "2 dims"]),
    ("default_dtype", lambda: nr.set_default_dtype(nr.int16), nr.DTypeError, ["int16"]),
    ("finfo", lambda: nr.finfo(nr.uint8), nr.DTypeError, ["uint8"]),
    ("as_dtype", lambda: nr.zeros(1, dtype="complex64"), nr.DTypeError, ["complex64"]),
    ("numpy_dtype", lambda: nr.from_numpy(np.zeros(1, np.uint32)), nr.DTypeError, ["uint32"]),
    ("arange_dtype", lambda: nr.arange(3, dtype=nr.bool), nr.DTypeError, ["bool"]),
    ("device", lambda: nr.device("tpu"), nr.DeviceError, ["tpu"]),
    ("numpy_on_cuda", lambda: _fake_cuda().numpy(), nr.DeviceError, ["cuda:0"]),
    ("two_devices", lambda: nr.zeros(2) * _fake_cuda(), nr.DeviceError, ["cpu", "cuda:0"]),
    ("arange_step", lambda: nr.arange(0, 3, 0), nr.ArgumentError, ["step"]),
    ("len_0d", lambda: len(nr.tensor(1.0)), nr.SignatureError, ["0-d"]),
    ("bool", lambda: bool(nr.zeros(3)), nr.ArgumentError, ["3 elements"]),
    ("ragged", lambda: nr.tensor([[1], [2, 3]]), nr.ShapeError, ["ragged"]),
    ("size_0d", lambda: nr.tensor(1.0).size(0), nr.IndexOutOfRangeError, ["dimension 0", "0-d tensor"]),
    ("stride_0d", lambda: nr.tensor(1.0).stride(-1), nr.IndexOutOfRangeError, ["dimension -1", "0-d tensor"]),
    ("narrow_0d", lambda: nr.tensor(1.0).narrow(0, 0, 1), nr.IndexOutOfRangeError, ["dimension 0", "0-d tensor"]),
    ("unflatten_0d", lambda: nr.tensor(1.0).unflatten(0, (1,)), nr.IndexOutOfRangeError, ["dimension 0", "0-d tensor"]),
    ("fill_nan_int", lambda: nr.zeros(2, dtype=nr.int32).fill_(float("nan")), nr.ArgumentError, ["nan", "int32"]),
    ("fill_overflow", lambda: nr.zeros(2, dtype=nr.int8).fill_(300), nr.ArgumentError, ["300", "int8", "overflow"]),
    ("full_overflow", lambda: nr.full((2,), 300, dtype=nr.int8), nr.ArgumentError, ["300", "int8", "overflow"]),
    ("full_half_overflow", lambda: nr.full((2,), 1e6, dtype=nr.float16), nr.ArgumentError, ["1000000.0", "float16"]),
    ("scalar_beyond_64_bits", lambda: nr.creation.scalar_array(2 ** 70, nr.int8), nr.ArgumentError,
     [str(2 ** 70), "64 bits", "int8"]),
    ("zeros_str", lambda: nr.zeros("a"), nr.SignatureError, ["'a'", "str"]),
    ("zeros_float", lambda: nr.zeros(2.5), nr.SignatureError, ["2.5", "float"]),
    ("view_float", lambda: nr.zeros(4).view(2, 2.0), nr.SignatureError, ["2.0", "float"]),
]


@pytest.mark.parametrize("name,call,error,fragments", CASES, ids=[c[0] for c in CASES])
def test_errors_name_what_is_at_fault(name, call, error, fragments):
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, nr.NeuraRustError)
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in {str(info.value)!r}"


@pytest.mark.parametrize("backend", ["reference", "triton"])
def test_op_with_an_int_beyond_64_bits_raises_argument_error(backend):
    with nr.backends.using(backend), pytest.raises(nr.ArgumentError, match="64 bits"):
        nr.zeros(2, dtype=nr.int8) + 2 ** 70


def test_ops_wrap_scalars_but_fill_checks_them():
    assert (nr.zeros(2, dtype=nr.int8) + 1000).tolist() == [-24, -24]  # PyTorch wraps operands
    assert nr.full((2,), -1, dtype=nr.uint8).tolist() == [255, 255]  # as torch.full does
    assert nr.full((1,), float("inf"), dtype=nr.float16).tolist() == [float("inf")]
    assert nr.zeros(1, dtype=nr.int32).fill_(2.7).tolist() == [2]
    assert nr.zeros(1, dtype=nr.bool).fill_(300).tolist() == [True]
    assert nr.creation.scalar_array(300, nr.int8).item() == 44
    assert nr.creation.scalar_array(2 ** 64 - 1, nr.int64).item() == -1
