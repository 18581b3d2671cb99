"""Lowering a captured ``view`` node (shape, strides, offset over its input's storage) to ONNX ops.

ONNX tensors have no strides, so a view is rebuilt from its input's values: the input is put in
storage order (a Transpose when its own layout is permuted), reshaped to a *grid* whose strides
include every stride of the view, sliced at the view's offset, then reduced (Reshape), permuted into
the view's dim order (Transpose), and broadcast where a stride is 0 (Expand). Steps that change
nothing are left out, so a contiguous reshape is one Reshape, ``t()`` one Transpose and a chunk one
Slice. Every plan is checked on ``arange`` before it is emitted; a view it cannot express (overlapping
windows, negative strides, a reinterpreted dtype) raises :class:`UnsupportedExportError`.

    >>> from neurarust.onnx.export_views import plan
    >>> [s[0] for s in plan((4, 6), (6, 1), (6, 4), (1, 6), 0)]         # a transpose
    ['transpose']
    >>> plan((2, 20), (20, 1), (2, 5), (20, 1), 5)                      # a chunk along dim 1
    [('slice', [1], [5], [10], [1])]
"""
from __future__ import annotations

import math

import numpy as np

from neurarust.shape import contiguous_strides, dense_order

from .export_builder import UnsupportedExportError


def _storage_order(shape, strides) -> list[int]:
    """The permutation putting a dense root layout in storage order (raises if it is not dense)."""
    order = dense_order(shape, strides)
    if order is None:
        raise UnsupportedExportError(f"a view of a tensor with non-dense strides {list(strides)} "
                                     f"(shape {list(shape)}) has no ONNX form")
    return order


def _chain_ok(chain, total) -> bool:
    return all(a % b == 0 for a, b in zip(chain, chain[1:])) and total % chain[0] == 0


def _mapping(chain, total, dims, offset):
    """Grid sizes, the offset's grid index and, per real view dim, (grid axis, step); None if it fails."""
    sizes = [total // chain[0]] + [a // b for a, b in zip(chain, chain[1:])]
    index = [offset // chain[0]] + [(offset % a) // b for a, b in zip(chain, chain[1:])]
    used, out = set(), []
    for n, s in dims:
        axis = chain.index(s) if s in chain else next((i for i, g in enumerate(chain) if s % g == 0), None)
        step = s // chain[axis]
        if axis in used or index[axis] + (n - 1) * step >= sizes[axis]:
            return None
        used.add(axis)
        out.append((axis, step))
    return sizes, index, out


def _best_grid(total: int, dims, offset: int, view_strides: set, root_strides: set):
    """The grid (a divisibility chain of strides) that holds every view dim: as many of the view's
    strides as possible (fewer stepped slices), then as many of the root's (its own dims, so fewer
    reshapes). Small sets are searched exhaustively; larger ones greedily."""
    if not total:
        return None
    pool = sorted((view_strides | root_strides) - {1}, reverse=True)
    if len(pool) > 12:
        pool = sorted(view_strides - {1}, reverse=True)
    best, best_key = None, None
    for mask in range(1 << len(pool)):
        chain = [g for i, g in enumerate(pool) if mask >> i & 1] + [1]
        if not _chain_ok(chain, total):
            continue
        found = _mapping(chain, total, dims, offset)
        if found is None:
            continue
        key = (len(view_strides & set(chain)), len(root_strides & set(chain)))
        if best_key is None or key > best_key:
            best, best_key = found, key
    return best


def plan(root_shape, root_strides, shape, strides, offset) -> list[tuple]:
    """The ONNX steps rebuilding a view from its root's values: ``('transpose', perm)``,
    ``('reshape', shape)``, ``('slice', axes, starts, ends, steps)``, ``('expand', shape)``."""
    root_shape, shape, strides = list(root_shape), list(shape), list(strides)
    total = math.prod(root_shape)
    if any(s < 0 for s in strides) or offset < 0:
        raise UnsupportedExportError(f"a view with negative strides {strides} has no ONNX form")
    steps: list[tuple] = []
    order = _storage_order(root_shape, list(root_strides))
    if [d for d in order if root_shape[d] > 1] != [d for d in range(len(root_shape)) if root_shape[d] > 1]:
        steps.append(("transpose", order))
    base = [root_shape[d] for d in order]
    real = sorted((d for d in range(len(shape)) if shape[d] > 1 and strides[d] > 0), key=lambda d: -strides[d])
    dims = [(shape[d], strides[d]) for d in real]
    if len({s for _, s in dims}) < len(dims):
        raise UnsupportedExportError(f"a view with overlapping dims (strides {strides}) has no ONNX form")
    found = _best_grid(total, dims, offset, {s for _, s in dims}, set(contiguous_strides(base)))
    if found is None:
        raise UnsupportedExportError(f"a view of size {shape}, strides {strides}, offset {offset} of a "
                                     f"{root_shape} tensor has no ONNX form")
    sizes, index, axes = found
    if sizes != base:
        steps.append(("reshape", sizes))
    sl = ([], [], [], [])
    for axis, (start, size) in enumerate(zip(index, sizes)):
        hit = [k for k, (a, _) in enumerate(axes) if a == axis]
        n, step = (dims[hit[0]][0], axes[hit[0]][1]) if hit else (1, 1)
        if start == 0 and n == size and step == 1:
            continue
        for lst, v in zip(sl, (axis, start, start + (n - 1) * step + 1, step)):
            lst.append(v)
    if sl[0]:
        steps.append(("slice", *sl))
    kept = [dims[k][0] for k in sorted(range(len(dims)), key=lambda k: axes[k][0])]
    if len(kept) != len(sizes):
        steps.append(("reshape", kept))
    by_grid = [real[k] for k in sorted(range(len(dims)), key=lambda k: axes[k][0])]
    in_view_order = sorted(by_grid)
    if by_grid != in_view_order:
        steps.append(("transpose", [by_grid.index(d) for d in in_view_order]))
    unit = [n if (n > 1 and s > 0) else 1 for n, s in zip(shape, strides)]
    if len(unit) != len(kept):
        steps.append(("reshape", unit))
    if unit != shape:
        steps.append(("expand", shape))
    _verify(steps, root_shape, root_strides, shape, strides, offset)
    return steps


def _verify(steps, root_shape, root_strides, shape, strides, offset) -> None:
    """Run the plan on ``arange`` in NumPy and compare it with the strided view it stands for."""
    total = math.prod(root_shape)
    flat = np.arange(total)
    itemsize = flat.itemsize
    root = np.lib.stride_tricks.as_strided(flat, root_shape, [s * itemsize for s in root_strides]) if total else flat
    want = np.lib.stride_tricks.as_strided(flat[offset:], shape, [s * itemsize for s in strides])
    x = root.reshape(root_shape)
    for step in steps:
        if step[0] == "transpose":
            x = x.transpose(step[1])
        elif step[0] == "reshape":
            x = x.reshape(step[1])
        elif step[0] == "slice":
            index = [slice(None)] * x.ndim
            for axis, a, b, s in zip(*step[1:]):
                index[axis] = slice(a, b, s)
            x = x[tuple(index)]
        else:
            x = np.broadcast_to(x, step[1])
    if x.shape != tuple(shape) or not np.array_equal(x, want):
        raise UnsupportedExportError(f"a view of size {list(shape)}, strides {list(strides)}, offset {offset} "
                                     f"has no ONNX form this exporter can build")


def emit(builder, src: str, steps: list[tuple]) -> str:
    """Append the plan's nodes reading ``src``; returns the view's value name."""
    x = src
    for step in steps:
        if step[0] == "transpose":
            x = builder.node("Transpose", [x], perm=list(step[1]))
        elif step[0] == "reshape":
            x = builder.node("Reshape", [x, builder.ints(step[1], reshape=True)])
        elif step[0] == "slice":
            axes, starts, ends, sl_steps = step[1:]
            x = builder.node("Slice", [x, builder.ints(starts), builder.ints(ends), builder.const(np.array(axes, np.int64)),
                                       builder.const(np.array(sl_steps, np.int64))])
        else:
            x = builder.node("Expand", [x, builder.ints(step[1])])
    return x if x != src else builder.node("Identity", [src])
