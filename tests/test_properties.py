"""Property tests (hypothesis): broadcasting, view compositions and type promotion against PyTorch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import neurarust as nr
from neurarust import dtype as _dt

shapes = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)


@st.composite
def broadcastable_shapes(draw, count=2):
    """Shapes that broadcast together: each drops leading dims and sets some dims to 1."""
    full = draw(st.lists(st.integers(0, 4), min_size=0, max_size=4))
    out = []
    for _ in range(count):
        lead = draw(st.integers(0, len(full)))
        out.append(tuple(1 if draw(st.booleans()) else s for s in full[lead:]))
    return out


@settings(max_examples=150)
@given(st.lists(shapes, min_size=1, max_size=3))
def test_broadcast_shapes_agrees_with_torch(shape_list):
    try:
        want = tuple(torch.broadcast_shapes(*shape_list))
    except RuntimeError:
        with pytest.raises(nr.ShapeError, match="cannot be broadcast"):
            nr.broadcast_shapes(*shape_list)
        return
    assert tuple(nr.broadcast_shapes(*shape_list)) == want


@settings(max_examples=60)
@given(broadcastable_shapes(), st.sampled_from([nr.float32, nr.int32, nr.float16]), st.integers(0, 2**16))
def test_add_on_broadcastable_shapes_matches_numpy(pair, dtype, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-50, 50, size=pair[0]).astype(dtype.np)
    b = rng.integers(-50, 50, size=pair[1]).astype(dtype.np)
    got = nr.from_numpy(a) + nr.from_numpy(b)
    assert got.dtype is dtype
    np.testing.assert_array_equal(got.numpy(), a + b)


@settings(max_examples=15)
@given(broadcastable_shapes(), st.integers(0, 2**16))
def test_add_kernel_on_broadcastable_shapes_matches_numpy(pair, seed):
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(s).astype(np.float32) for s in pair)
    with nr.backends.using("triton"):
        got = nr.from_numpy(a) + nr.from_numpy(b)
    np.testing.assert_array_equal(got.numpy(), a + b)


# -- random view compositions -----------------------------------------------------------------

@st.composite
def view_step(draw, shape):
    """One view op that fits ``shape``, as (name, args)."""
    nd = len(shape)
    options = ["unsqueeze"]
    if nd:
        options += ["permute", "transpose", "narrow", "slice", "index", "view", "expand", "squeeze", "unfold"]
    if nd >= 2:
        options.append("diagonal")
    name = draw(st.sampled_from(options))
    dim = draw(st.integers(-nd, nd - 1)) if nd else 0
    size = shape[dim] if nd else 1
    if name == "unsqueeze":
        return name, (draw(st.integers(-nd - 1, nd)),)
    if name == "permute":
        return name, tuple(draw(st.permutations(range(nd))))
    if name == "transpose":
        return name, (dim, draw(st.integers(-nd, nd - 1)))
    if name == "narrow":
        start = draw(st.integers(0, size))
        return name, (dim, start, draw(st.integers(0, size - start)))
    if name == "slice":
        return name, (dim, draw(st.integers(-5, 5)), draw(st.integers(-5, 5)), draw(st.integers(1, 3)))
    if name == "index":
        return (name, (dim, draw(st.integers(-size, size - 1)))) if size else ("unsqueeze", (0,))
    if name == "view":
        return name, (draw(st.sampled_from(["flatten", "split_last", "merge_first"])),)
    if name == "expand":
        return name, (tuple(draw(st.integers(1, 3)) if s == 1 else -1 for s in shape),
                      draw(st.integers(0, 1)))
    if name == "squeeze":
        return name, (draw(st.sampled_from([None, dim])),)
    if name == "unfold":
        win = draw(st.integers(0, size))
        return name, (dim, win, draw(st.integers(1, 3)))
    return name, (draw(st.integers(-3, 3)), dim, draw(st.integers(-nd, nd - 1).filter(lambda d: (d - dim) % nd)))


def _apply(t, name, args):
    """Apply one view op; ``t`` may be a NeuraRust or a torch tensor."""
    if name == "slice":
        dim, start, stop, step = args
        index = (slice(None),) * (dim % t.dim()) + (slice(start, stop, step),)
        return t[index]
    if name == "index":
        dim, i = args
        return t[(slice(None),) * (dim % t.dim()) + (i,)]
    if name == "view":
        shape = tuple(t.shape)
        new = {"flatten": (-1,),
               "split_last": shape[:-1] + (1, shape[-1]) if shape else (1,),
               "merge_first": (-1,) + shape[2:] if len(shape) >= 2 else (-1,)}[args[0]]
        return t.view(*new)
    if name == "expand":
        sizes, lead = args
        return t.expand(*((2,) * lead + sizes))
    if name == "permute":
        return t.permute(*args)
    if name == "squeeze":
        return t.squeeze() if args[0] is None else t.squeeze(args[0])
    if name == "diagonal":
        return t.diagonal(*args)
    return getattr(t, name)(*args)


@settings(max_examples=120)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), st.data())
def test_random_view_compositions_match_torch(shape, data):
    values = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    x, tx = nr.from_numpy(values.copy()), torch.from_numpy(values.copy())
    v, tv = x, tx
    for _ in range(data.draw(st.integers(1, 5))):
        step = data.draw(view_step(tuple(tv.shape)))
        try:
            tv_next = _apply(tv, *step)
        except RuntimeError:  # e.g. a view torch cannot make: ours must refuse too
            with pytest.raises(nr.NeuraRustError):
                _apply(v, *step)
            continue
        v, tv = _apply(v, *step), tv_next
        assert tuple(v.shape) == tuple(tv.shape), step
        assert v.stride() == tv.stride(), step
        assert v.storage_offset() == tv.storage_offset(), step
    np.testing.assert_array_equal(v.numpy(), tv.numpy())
    assert v.untyped_storage() is x.untyped_storage()


@settings(max_examples=100)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple), st.data())
def test_reshape_is_a_view_exactly_when_torch_view_is(shape, data):
    x, tx = nr.zeros(shape), torch.zeros(shape)
    order = data.draw(st.permutations(range(len(shape))))
    x, tx = x.permute(*order), tx.permute(*order)
    n = int(np.prod(shape))
    factors = [d for d in range(1, n + 1) if n % d == 0]
    first = data.draw(st.sampled_from(factors))
    new = (first, n // first)
    try:
        want = tx.view(*new)
    except RuntimeError:
        with pytest.raises(nr.ShapeError):
            x.view(*new)
        assert x.reshape(*new).untyped_storage() is not x.untyped_storage()
        return
    got = x.view(*new)
    assert got.stride() == want.stride()
    assert x.reshape(*new).untyped_storage() is x.untyped_storage()


# -- type promotion ---------------------------------------------------------------------------

@st.composite
def operand(draw):
    """A tensor (n-d or 0-d, any dtype) or a Python scalar, with its torch twin."""
    kind = draw(st.sampled_from(["nd", "0d", "scalar"]))
    if kind == "scalar":
        value = draw(st.one_of(st.booleans(), st.integers(-300, 300), st.floats(-10, 10, allow_nan=False)))
        return value, value
    d = draw(st.sampled_from(_dt.ALL_DTYPES))
    shape = (2,) if kind == "nd" else ()
    return nr.zeros(shape, dtype=d), torch.zeros(shape, dtype=d.to_torch())


@settings(max_examples=300)
@given(operand(), operand())
def test_result_type_of_random_operand_pairs_matches_torch(first, second):
    want = torch.result_type(first[1], second[1])
    assert nr.result_type(first[0], second[0]).name == str(want).removeprefix("torch.")


@settings(max_examples=100)
@given(st.lists(operand(), min_size=1, max_size=4))
def test_result_type_is_order_independent(operands):
    ours = [o for o, _ in operands]
    assert nr.result_type(*ours) is nr.result_type(*reversed(ours))
