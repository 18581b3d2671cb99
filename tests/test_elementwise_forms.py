"""In-place and ``out=`` forms of the elementwise ops, and the elementwise kernel's layouts."""
from __future__ import annotations

import numpy as np
import pytest

import neurarust as nr
from neurarust.registry import all_ops

import harness as H

ELEMENTWISE = [op for op in all_ops() if op.kind == "elementwise" and op.attrs.get("public", True)]
BACKENDS = ["reference", "triton"]


def _first_tensor_sample(op, dtype):
    """Samples whose first operand already has the result's shape (so it can receive the result)."""
    for sample in op.samples(dtype):
        fresh = H.nr_call(op, sample, dtype, "reference")
        first = sample.args[0]
        if H.is_tensor_arg(first) and H._spec_parts(first)[0].shape == tuple(fresh.shape) and fresh.numel():
            yield sample, fresh


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", ELEMENTWISE, ids=lambda op: op.name)
def test_out_argument_receives_the_result(op, backend):
    dtype = nr.float32 if nr.float32 in op.dtypes else op.dtypes[0]
    for sample, fresh in _first_tensor_sample(op, dtype):
        out = nr.empty(fresh.shape, dtype=fresh.dtype)
        args = [H._convert(a, dtype, H.nr_tensor) for a in sample.args]
        kwargs = {k: H._convert(v, dtype, H.nr_tensor) for k, v in sample.kwargs.items()}
        with nr.backends.using(backend):
            returned = op(*args, out=out, **kwargs)
        assert returned is out
        H.assert_close(out, fresh, op, dtype, sample, f"out= on {backend}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", [op for op in ELEMENTWISE if op.inplace], ids=lambda op: op.inplace)
def test_inplace_method_writes_into_self_and_bumps_version(op, backend):
    dtype = nr.float32 if nr.float32 in op.dtypes else op.dtypes[0]
    for sample, fresh in _first_tensor_sample(op, dtype):
        if fresh.dtype is not dtype:
            continue
        args = [H._convert(a, dtype, H.nr_tensor) for a in sample.args]
        kwargs = {k: H._convert(v, dtype, H.nr_tensor) for k, v in sample.kwargs.items()}
        target, version = args[0], args[0]._version
        with nr.backends.using(backend):
            returned = getattr(target, op.inplace)(*args[1:], **kwargs)
        assert returned is target and target._version > version
        H.assert_close(target, fresh, op, dtype, sample, f"{op.inplace} on {backend}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_with_wrong_shape_names_both_shapes(backend):
    with nr.backends.using(backend), pytest.raises(nr.ShapeError, match=r"\[3\].*\[2, 3\]"):
        nr.add(nr.ones(2, 3), nr.ones(3), out=nr.empty(3))


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_cannot_narrow_float_result_to_int(backend):
    with nr.backends.using(backend), pytest.raises(nr.DTypeError, match="float32.*int64"):
        nr.add(nr.ones(3), 1.5, out=nr.empty(3, dtype=nr.int64))


@pytest.mark.parametrize("backend", BACKENDS)
def test_inplace_add_through_a_view_reaches_the_base(backend):
    base = nr.zeros(3, 4)
    with nr.backends.using(backend):
        base[:, 1].add_(nr.arange(3.0))
    assert base.tolist() == [[0, 0, 0, 0], [0, 1, 0, 0], [0, 2, 0, 0]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_inplace_over_a_shifted_view_of_itself_raises(backend):
    # x[1:] += x[:-1] would read elements already written, in a backend-dependent order.
    x = nr.tensor([1.0, 2.0, 3.0, 4.0])
    with nr.backends.using(backend), pytest.raises(nr.ArgumentError, match="single memory location"):
        x[1:].add_(x[:-1])
    assert x.tolist() == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_inplace_with_its_own_transpose_raises(backend):
    x = nr.zeros(3, 3)
    with nr.backends.using(backend), pytest.raises(nr.ArgumentError, match="single memory location"):
        x.add_(x.t())


@pytest.mark.parametrize("backend", BACKENDS)
def test_out_that_repeats_an_element_raises(backend):
    with nr.backends.using(backend), pytest.raises(nr.ArgumentError, match="more than one element"):
        nr.add(nr.ones(3), nr.ones(3), out=nr.zeros(1).expand(3))


@pytest.mark.parametrize("backend", BACKENDS)
def test_inplace_on_the_same_view_and_on_interleaved_views_is_allowed(backend):
    x = nr.tensor([1.0, 2.0, 3.0, 4.0])
    with nr.backends.using(backend):
        x.mul_(x)
        x[::2].add_(x[1::2])  # share a range, never an element
    assert x.tolist() == [5.0, 4.0, 25.0, 16.0]


def test_rank5_broadcast_walks_leading_dim_on_host():
    a = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 1, 3, 1, 2)
    b = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 1, 2, 1)
    with nr.backends.using("triton"):
        got = nr.add(nr.from_numpy(a), nr.from_numpy(b)).numpy()
    np.testing.assert_array_equal(got, a + b)


def test_scalar_operand_keeps_the_tensor_dtype():
    x = nr.tensor([1, 2, 3], dtype=nr.int8)
    for backend in BACKENDS:
        with nr.backends.using(backend):
            y = x + 1000  # 1000 wraps to int8 as in PyTorch
        assert y.dtype is nr.int8 and y.tolist() == [-23, -22, -21]


MIXED = [(nr.int8, nr.uint8), (nr.int32, nr.float16), (nr.bfloat16, nr.float16), (nr.bool_, nr.int64),
         (nr.float32, nr.float64), (nr.uint8, nr.float32)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("left,right", MIXED, ids=lambda d: d.name)
def test_mixed_dtype_operands_promote_and_compute_like_pytorch(left, right, backend):
    import torch

    a = np.array([[1, 2, 3]], dtype=np.int64)
    b = np.array([[1], [0]], dtype=np.int64)
    x, y = nr.tensor(a, dtype=left), nr.tensor(b, dtype=right)
    with nr.backends.using(backend):
        got = x * y + x
    want = torch.tensor(a).to(left.to_torch()) * torch.tensor(b).to(right.to_torch()) + torch.tensor(a).to(left.to_torch())
    assert got.dtype.name == str(want.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(got.float().numpy(), want.float().numpy())
