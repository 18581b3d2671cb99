"""dtypes against PyTorch: promote_types, result_type, default dtype, finfo/iinfo."""
from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest
import torch

import neurarust as nr
from neurarust import dtype as _dt

ALL = _dt.ALL_DTYPES


def _name(d) -> str:
    return str(d).removeprefix("torch.").removeprefix("neurarust.")


def test_every_dtype_round_trips_through_torch_and_numpy_names():
    assert len(ALL) == 10
    for d in ALL:
        assert _dt.as_dtype(d.to_torch()) is d
        assert _dt.as_dtype(d.np) is d
        assert _dt.as_dtype(d.name) is d and _dt.as_dtype(f"torch.{d.name}") is d
        assert repr(d) == f"neurarust.{d.name}" and pickle.loads(pickle.dumps(d)) is d
        assert d.itemsize == d.to_torch().itemsize and d.is_floating_point == d.to_torch().is_floating_point
    assert nr.float is nr.float32 and nr.double is nr.float64 and nr.half is nr.float16
    assert nr.long is nr.int64 and nr.int is nr.int32 and nr.short is nr.int16 and nr.bool is nr.bool_


def test_unknown_dtypes_raise_dtype_error():
    for bad in ("complex64", np.complex128, object(), torch.complex64):
        with pytest.raises(nr.DTypeError):
            _dt.as_dtype(bad)


@pytest.mark.parametrize("a", ALL, ids=lambda d: d.name)
def test_promote_types_matches_torch_for_all_pairs(a):
    for b in ALL:
        assert _name(nr.promote_types(a, b)) == _name(torch.promote_types(a.to_torch(), b.to_torch())), (a, b)


def _operand(d, kind):
    """A NeuraRust and a torch operand of dtype ``d``: a 2-element tensor or a 0-d tensor."""
    shape = (2,) if kind == "nd" else ()
    return nr.zeros(shape, dtype=d), torch.zeros(shape, dtype=d.to_torch())


@pytest.mark.parametrize("kinds", [("nd", "nd"), ("nd", "0d"), ("0d", "nd"), ("0d", "0d")], ids="-".join)
def test_result_type_tensor_tensor_matches_torch(kinds):
    for a, b in itertools.product(ALL, ALL):
        (x, tx), (y, ty) = _operand(a, kinds[0]), _operand(b, kinds[1])
        assert _name(nr.result_type(x, y)) == _name(torch.result_type(tx, ty)), (a, b, kinds)


@pytest.mark.parametrize("scalar", [True, 3, -200, 2.5])
@pytest.mark.parametrize("kind", ["nd", "0d"])
def test_result_type_tensor_scalar_matches_torch(kind, scalar):
    for d in ALL:
        x, tx = _operand(d, kind)
        assert _name(nr.result_type(x, scalar)) == _name(torch.result_type(tx, scalar)), (d, kind, scalar)
        assert _name(nr.result_type(scalar, x)) == _name(torch.result_type(scalar, tx)), (d, kind, scalar)


def test_result_type_of_three_operands_and_of_scalars():
    x, y = nr.zeros(2, dtype=nr.int8), nr.tensor(1.5, dtype=nr.float64)
    assert nr.result_type(x, y, 2) is nr.float64
    assert nr.result_type(nr.zeros(2, dtype=nr.uint8), nr.tensor(1, dtype=nr.int64), True) is nr.uint8
    assert nr.result_type(1, 2.0) is nr.float32 and nr.result_type(True, 1) is nr.int64
    with pytest.raises(nr.DTypeError):
        nr.result_type()
    with pytest.raises(nr.DTypeError, match="complex"):
        nr.result_type(nr.zeros(1), 1j)


def test_default_dtype_drives_float_inference():
    assert nr.get_default_dtype() is nr.float32
    try:
        nr.set_default_dtype(nr.float64)
        assert nr.get_default_dtype() is nr.float64
        assert nr.tensor([1.5]).dtype is nr.float64 and nr.zeros(1).dtype is nr.float64
        assert nr.result_type(nr.zeros(2, dtype=nr.int32), 1.5) is nr.float64
        assert nr.result_type(nr.zeros(2, dtype=nr.float16), 1.5) is nr.float16
        assert nr.full((1,), 2.0).dtype is nr.float64
        nr.set_default_dtype("float16")
        assert nr.tensor(1.0).dtype is nr.float16
    finally:
        nr.set_default_dtype(nr.float32)
    with pytest.raises(nr.DTypeError, match="int32"):
        nr.set_default_dtype(nr.int32)


@pytest.mark.parametrize("d", _dt.FLOAT_DTYPES, ids=lambda d: d.name)
def test_finfo_matches_torch(d):
    ours, theirs = nr.finfo(d), torch.finfo(d.to_torch())
    for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert nr.finfo().dtype is nr.float32
    assert "eps" in repr(ours)


@pytest.mark.parametrize("d", _dt.INT_DTYPES, ids=lambda d: d.name)
def test_iinfo_matches_torch(d):
    ours, theirs = nr.iinfo(d), torch.iinfo(d.to_torch())
    assert (ours.bits, ours.min, ours.max) == (theirs.bits, theirs.min, theirs.max)


def test_finfo_and_iinfo_reject_the_other_kind():
    with pytest.raises(nr.DTypeError, match="int32"):
        nr.finfo(nr.int32)
    with pytest.raises(nr.DTypeError, match="float32"):
        nr.iinfo(nr.float32)
