"""Turning a list of samples into a batch, with PyTorch's rules (``default_collate``), and converting
single samples when batching is off (``default_convert``).

    >>> import numpy as np
    >>> from neurarust.data import default_collate
    >>> batch = default_collate([(np.zeros(2, np.float32), 1), (np.ones(2, np.float32), 0)])
    >>> batch[0].shape, batch[1].tolist()
    (neurarust.Size([2, 2]), [1, 0])
"""
from __future__ import annotations

import collections.abc as abc
from typing import Any, Callable, Sequence

import numpy as np

from neurarust.errors import DTypeError, ShapeError

__all__ = ["default_collate", "default_convert", "BatchShapeError"]


class BatchShapeError(ShapeError, RuntimeError):
    """Samples that cannot be stacked into one batch (unequal shapes or lengths). PyTorch raises a
    RuntimeError here, so this is one too, besides a :class:`~neurarust.errors.ShapeError`."""


def _tensor_types():
    from neurarust.tensor import Tensor

    return Tensor


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _check_numeric(arr: np.ndarray) -> None:
    if arr.dtype.kind in "SUOaV":
        raise DTypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                         f"found an array of dtype {arr.dtype}")


shared_empty: Callable[[tuple, Any], np.ndarray] | None = None
"""Set in DataLoader worker processes: allocates ``(shape, dtype)`` arrays in shared memory, so that
batches are stacked where the main process will read them."""


def _out(batch: Sequence[Any], shape: tuple, dtype: Any) -> np.ndarray | None:
    """Where to stack ``len(batch)`` items of ``shape``: shared memory in a worker, else NumPy's choice."""
    if shared_empty is None:
        return None
    return shared_empty((len(batch),) + tuple(shape), dtype)


def _check_same_shape(shapes: Sequence[tuple]) -> None:
    for i, shape in enumerate(shapes):
        if tuple(shape) != tuple(shapes[0]):
            raise BatchShapeError(f"stack expects each tensor to be equal size, but got {list(shapes[0])} at entry 0 "
                                  f"and {list(shape)} at entry {i}")


def _stack_arrays(arrays: Sequence[np.ndarray]):
    import neurarust as nr

    for a in arrays:
        _check_numeric(a)
    _check_same_shape([a.shape for a in arrays])
    return nr.from_numpy(np.stack(arrays, out=_out(arrays, arrays[0].shape, arrays[0].dtype)))


def _scalar_dtype(batch: Sequence[Any]) -> Any:
    """The dtype PyTorch gives a batch of Python numbers: float64 when the first is a float (its
    ``collate_float_fn``), else ``torch.tensor``'s inference: a float among them gives the default
    dtype, ints give int64, only bools give bool."""
    import neurarust as nr

    if isinstance(batch[0], float):
        return np.float64
    if any(isinstance(b, float) for b in batch):
        return nr.get_default_dtype().np
    return np.bool_ if all(isinstance(b, bool) for b in batch) else np.int64


def _is_numpy_string(x: Any) -> bool:
    # np.str_ / np.bytes_ are NumPy scalars but also str / bytes: PyTorch treats them as strings.
    return isinstance(x, (np.str_, np.bytes_))


def _rebuild(original: Any, items: Any) -> Any:
    """A container like ``original`` holding ``items`` (a dict or a list), as PyTorch rebuilds one:
    mutable containers are copied then filled (a defaultdict keeps its factory), others are
    constructed from ``items``, and a type that cannot be built gives the plain dict or list."""
    import copy

    try:
        if isinstance(original, abc.MutableMapping):
            clone = copy.copy(original)
            clone.update(items)
            return clone
        if isinstance(original, abc.MutableSequence):
            clone = copy.copy(original)
            for i, item in enumerate(items):
                clone[i] = item
            return clone
        return type(original)(items)
    except TypeError:
        return items


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, recursively: tensors and NumPy arrays are stacked along a
    new first dimension; Python floats become a float64 tensor and ints an int64 one (bools a bool
    tensor); strings and bytes stay a list; dicts collate per key; named tuples per field; tuples
    and lists per position (a tuple gives a list, as in PyTorch).

    >>> import neurarust as nr
    >>> from neurarust.data import default_collate
    >>> out = default_collate([{"x": nr.tensor([1.0]), "name": "a"}, {"x": nr.tensor([2.0]), "name": "b"}])
    >>> out["x"].tolist(), out["name"]
    ([[1.0], [2.0]], ['a', 'b'])
    >>> default_collate([1.5, 2.5]).dtype
    neurarust.float64
    """
    import neurarust as nr

    Tensor = _tensor_types()
    elem = batch[0]
    if isinstance(elem, Tensor):
        _check_same_shape([t.shape for t in batch])
        out = None
        if all(t.device.type == "cpu" and t.dtype == elem.dtype and t.shape == elem.shape for t in batch):
            arr = _out(batch, elem.shape, elem.dtype.np)
            out = None if arr is None else Tensor._from_array(arr, elem.dtype)
        return nr.stack(list(batch), 0, out=out)
    if isinstance(elem, np.ndarray):
        return _stack_arrays(batch)
    if isinstance(elem, np.generic) and not _is_numpy_string(elem):
        return _stack_arrays([np.asarray(b) for b in batch])
    if isinstance(elem, (bool, float, int)):
        kind = _scalar_dtype(batch)
        values = np.array(batch, dtype=kind)
        out = _out(batch, (), kind)
        if out is not None:
            out[...] = values
        return nr.from_numpy(values if out is None else out)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, abc.Mapping):
        return _rebuild(elem, {key: default_collate([d[key] for d in batch]) for key in elem})
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise BatchShapeError("each element in list of batch should be of equal size")
        columns = [default_collate(list(s)) for s in zip(*batch)]
        return columns if isinstance(elem, tuple) else _rebuild(elem, columns)
    raise DTypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                     f"found {type(elem).__name__}")


def default_convert(data: Any) -> Any:
    """What the loader applies to each sample when automatic batching is off (``batch_size=None``):
    NumPy arrays and scalars become tensors, containers are converted recursively, the rest is kept.

    >>> import numpy as np
    >>> from neurarust.data import default_convert
    >>> out = default_convert({"a": np.arange(3), "b": "text"})
    >>> out["a"].tolist(), out["b"]
    ([0, 1, 2], 'text')
    """
    import neurarust as nr

    if isinstance(data, np.ndarray):
        if data.dtype.kind in "SUOaV":
            return data
        # Not np.ascontiguousarray: it turns a 0-d array into shape (1,).
        return nr.from_numpy(data if data.flags.c_contiguous else data.copy(order="C"))
    if isinstance(data, np.generic) and not _is_numpy_string(data):
        return nr.from_numpy(np.asarray(data))
    if isinstance(data, abc.Mapping):
        return _rebuild(data, {k: default_convert(v) for k, v in data.items()})
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild(data, [default_convert(d) for d in data])
    return data
