"""Elementwise kernels on views whose elements lie past 2**31 (and 2**32) bytes into their storage.

The storage is 4 GiB of untouched virtual memory: only the few pages written here are ever real.
"""
from __future__ import annotations

import numpy as np
import pytest

import neurarust as nr

BIG = 2**32 + 64
FAR = 2**32          # stride of the (2, 8) view: its second row starts past 2**32
MID = 2**31          # storage offset of the (3, 8) view below
ROW = 2**30 + 8      # its row stride: fits int32, but 2 * ROW + MID passes 2**32


@pytest.fixture(scope="module")
def big():
    return nr.empty(BIG, dtype=nr.uint8)  # never filled: each test writes the bytes it reads


def _fill_rows(a: np.ndarray, starts, base: int = 0) -> np.ndarray:
    expected = np.empty((len(starts), 8), np.uint8)
    for r, start in enumerate(starts):
        expected[r] = a[start:start + 8] = base + 10 * r + np.arange(8)
    return expected


def test_read_past_2_32(big):
    expected = _fill_rows(big.numpy(), [0, FAR], base=100)
    view = big._view((2, 8), (FAR, 1), 0)
    launches = nr.backends.launch_counts["elementwise:add"]
    with nr.backends.using("triton"):
        got = (view + 1).numpy()
    assert nr.backends.launch_counts["elementwise:add"] == launches + 1  # the kernel ran, not NumPy
    np.testing.assert_array_equal(got, expected + 1)


def test_read_int32_strides_int64_offsets(big):
    expected = _fill_rows(big.numpy(), [MID, MID + ROW, MID + 2 * ROW])
    view = big._view((3, 8), (ROW, 1), MID)
    with nr.backends.using("triton"):
        got = (view * 2).numpy()
    np.testing.assert_array_equal(got, expected * 2)


@pytest.mark.parametrize("how", ["copy_", "fill_"])
def test_write_lands_past_2_32_and_nowhere_else(big, how):
    a = big.numpy()
    a[FAR - 8:FAR + 24] = 0
    a[:24] = 0
    view = big._view((2, 8), (FAR, 1), 0)
    src = nr.tensor(np.arange(16, dtype=np.uint8).reshape(2, 8) + 1)
    with nr.backends.using("triton"):
        if how == "copy_":
            view.copy_(src)
        else:
            view.fill_(7)
    want = src.numpy() if how == "copy_" else np.full((2, 8), 7, np.uint8)
    np.testing.assert_array_equal(a[0:8], want[0])
    np.testing.assert_array_equal(a[FAR:FAR + 8], want[1])
    assert not a[8:24].any() and not a[FAR - 8:FAR].any() and not a[FAR + 8:FAR + 24].any()


def test_int32_offsets_would_wrap(big):
    """Forcing int32 index math reads the wrong bytes, so the tests above do exercise int64 offsets.

    A stride of 2**32 arrives as an int64 kernel argument and widens the math by itself; the case the
    index dtype decides is int32-sized strides whose sums pass 2**31. Row 2 of this view is at
    ``MID + 2 * ROW = 2**32 + 16``; in int32, ``2 * ROW`` wraps to ``16 - 2**31``, i.e. storage byte 16
    (in bounds: the view starts at 2**31, so the kernel cannot fault).
    """
    from neurarust.kernels import elementwise_triton
    from neurarust.launch import tl

    a = big.numpy()
    expected = _fill_rows(a, [MID, MID + ROW, MID + 2 * ROW])
    decoy = _fill_rows(a, [16], base=200)[0]
    view = big._view((3, 8), (ROW, 1), MID)
    one = nr.tensor(1, dtype=nr.uint8)
    results = {}
    for idx in (tl.int64, tl.int32):
        out = nr.zeros((3, 8), dtype=nr.uint8)
        elementwise_triton.launch(out, [view, one], "add", nr.uint8, index_dtype=idx)
        results[idx] = out.numpy()
    np.testing.assert_array_equal(results[tl.int64], expected + 1)
    np.testing.assert_array_equal(results[tl.int32][:2], expected[:2] + 1)
    np.testing.assert_array_equal(results[tl.int32][2], decoy + 1)
