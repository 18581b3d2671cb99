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

from neurarust.errors import DTypeError

__all__ = ["default_collate", "default_convert"]


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


def _stack_arrays(arrays: Sequence[np.ndarray]):
    import neurarust as nr

    for a in arrays:
        _check_numeric(a)
    out = _out(arrays, arrays[0].shape, arrays[0].dtype) if all(a.shape == arrays[0].shape for a in arrays) else None
    return nr.from_numpy(np.stack(arrays, out=out))


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
        out = None
        if all(t.device.type == "cpu" and t.dtype == elem.dtype and t.shape == elem.shape for t in batch):
            arr = _out(batch, elem.shape, elem.dtype.np)
            out = None if arr is None else Tensor._from_array(arr, elem.dtype)
        return nr.stack(list(batch), 0, out=out)
    if isinstance(elem, np.ndarray):
        return _stack_arrays(batch)
    if isinstance(elem, np.generic):
        return _stack_arrays([np.asarray(b) for b in batch])
    if isinstance(elem, (bool, float, int)):
        kind = np.bool_ if isinstance(elem, bool) else np.float64 if isinstance(elem, float) else np.int64
        values = np.array(batch, dtype=kind)
        out = _out(batch, (), kind)
        if out is not None:
            out[...] = values
        return nr.from_numpy(values if out is None else out)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, abc.Mapping):
        out = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(out)
        except TypeError:
            return out
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(list(s)) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return columns
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
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
        return data if data.dtype.kind in "SUOaV" else nr.from_numpy(np.ascontiguousarray(data))
    if isinstance(data, np.generic):
        return nr.from_numpy(np.asarray(data))
    if isinstance(data, abc.Mapping):
        out = {k: default_convert(v) for k, v in data.items()}
        try:
            return type(data)(out)
        except TypeError:
            return out
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
