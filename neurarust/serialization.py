"""Checkpoints: ``neurarust.save`` / ``neurarust.load`` in the safetensors format.

A flat ``{name: Tensor}`` state dict is written as is, under PyTorch's key names, so files move both
ways between NeuraRust and ``safetensors.torch``. Nested state (an optimizer's ``{"state": {0:
{...}}, "param_groups": [...]}``) is stored as tensors plus a JSON skeleton in the header metadata
(key ``"neurarust"``): no pickle. Writes are atomic (a reader sees the old file or the new one);
every read is checked before any tensor is built, and a truncated or corrupted file raises
:class:`CheckpointError` naming the file and the tensor at fault. ``.pt``/``.pth`` files go through
``torch.load(weights_only=True)`` when torch is installed::

    >>> import os, tempfile, neurarust as nr
    >>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
    >>> nr.save({"w": nr.tensor([1.0, 2.0])}, path)
    >>> nr.load(path)["w"].tolist()
    [1.0, 2.0]
"""
from __future__ import annotations

import json
import math
import os
from typing import Any

import ml_dtypes
import numpy as np

from . import atomic
from .errors import ArgumentError, DTypeError, NeuraRustError
from .tensor import Tensor

META_KEY = "neurarust"
_TENSOR_REF = "__tensor__"
_DICT = "__dict__"
_FLOAT = "__float__"
# The skeleton's one-key marker objects: a user dict holding any of these keys is written in the
# escaped ``__dict__`` form, so it never reads back as a tensor, a float or a pair list.
_MARKERS = (_TENSOR_REF, _DICT, _FLOAT)
# safetensors keeps its own metadata under this header key: no tensor may take the name.
_RESERVED_NAMES = ("__metadata__",)

# safetensors' dtype names -> NumPy dtypes (ml_dtypes for bfloat16, which NumPy lacks).
_ST_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16,
              "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8,
              "BOOL": np.bool_}


class CheckpointError(NeuraRustError, ValueError):
    """A checkpoint file that cannot be read: truncated, corrupted or of an unknown layout."""


class CheckpointPathError(CheckpointError, FileNotFoundError):
    """A checkpoint path whose folder does not exist (``except FileNotFoundError`` catches it too)."""


# -- saving ---------------------------------------------------------------------------------------
def save(obj: Any, f: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """Write a state dict (``{name: Tensor}``, or nested dicts/lists of tensors and JSON values) to
    ``f`` in the safetensors format, atomically. ``metadata`` maps str to str (safetensors' rule);
    the folder of ``f`` must exist (as for ``torch.save``): a mistyped path is an error, not a new folder.

    >>> import os, tempfile, neurarust as nr
    >>> path = os.path.join(tempfile.mkdtemp(), "opt.safetensors")
    >>> nr.save({"state": {0: {"step": 3, "m": nr.zeros(2)}}, "lr": 0.1}, path)
    >>> nr.load(path)["state"][0]["step"]
    3
    """
    from safetensors.numpy import save as save_arrays

    path = os.fspath(f)
    header = _check_metadata(metadata)
    _check_folder(path)  # (atomic.write_bytes creates missing folders for caches; a checkpoint does not)
    tensors: dict[str, Tensor] = {}
    if _is_flat(obj):
        tensors = dict(obj)
        header.setdefault("format", "pt")
    else:
        skeleton = _flatten(obj, "", tensors)
        header[META_KEY] = json.dumps(skeleton)
    _check_names(path, tensors)
    arrays = {name: _array(name, t) for name, t in tensors.items()}
    atomic.write_bytes(path, save_arrays(arrays, header))


def _check_metadata(metadata: Any) -> dict[str, str]:
    """A copy of the user's header metadata, checked: safetensors stores str -> str only, and
    ``"neurarust"`` holds the skeleton of nested state."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ArgumentError(f"nr.save: metadata must be a dict of str to str, got {type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise ArgumentError(f"nr.save: metadata keys must be str (safetensors' rule), got key {key!r}")
        if not isinstance(value, str):
            raise ArgumentError(f"nr.save: metadata values must be str (safetensors' rule); key {key!r} has a "
                                f"{type(value).__name__} value {value!r}: convert it, e.g. with str() or json.dumps()")
        if key == META_KEY:
            raise ArgumentError(f"nr.save: metadata key '{META_KEY}' is reserved for NeuraRust's nested state")
    return dict(metadata)


def _check_names(path: str, tensors: dict) -> None:
    for name in tensors:
        if name in _RESERVED_NAMES:
            raise CheckpointError(f"cannot save to {path}: the tensor name '{name}' is reserved by the safetensors "
                                  "format (the file could not be read back); rename it")


def _check_folder(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CheckpointPathError(f"cannot save to {path}: the folder {folder} does not exist")


def _is_flat(obj: Any) -> bool:
    return isinstance(obj, dict) and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())


def _array(name: str, t: Tensor) -> np.ndarray:
    if not isinstance(t, Tensor):
        raise CheckpointError(f"cannot save '{name}': expected a Tensor, got {type(t).__name__}")
    arr = t.detach().cpu().numpy(force=True)
    return arr if arr.flags.c_contiguous else arr.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)


def _flatten(obj: Any, path: str, tensors: dict) -> Any:
    """The JSON skeleton of ``obj``; each tensor goes into ``tensors`` under its dotted path."""
    if isinstance(obj, Tensor):
        key = path or "tensor"
        if key in tensors:
            raise CheckpointError(f"two tensors map to the same checkpoint key '{key}'")
        tensors[key] = obj
        return {_TENSOR_REF: key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not any(m in obj for m in _MARKERS):
            return {k: _flatten(v, _join(path, k), tensors) for k, v in obj.items()}
        for k in obj:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise CheckpointError(f"cannot save dict key {k!r} at '{path}': keys must be str or int")
        return {_DICT: [[k, _flatten(v, _join(path, str(k)), tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_flatten(v, _join(path, str(i)), tensors) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {_FLOAT: repr(obj)}  # JSON has no inf/nan
    raise CheckpointError(f"cannot save a {type(obj).__name__} at '{path}': checkpoints hold tensors, "
                          "dicts, lists and JSON values (no pickle)")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# -- loading --------------------------------------------------------------------------------------
def load(f: str | os.PathLike, device: Any = None, map_location: Any = None, weights_only: bool = True) -> Any:
    """Read a checkpoint written by :func:`save`, ``safetensors.torch.save_file`` or (``.pt``/``.pth``)
    ``torch.save``; tensors go to ``device`` (CPU by default).

    >>> import os, tempfile, neurarust as nr
    >>> path = os.path.join(tempfile.mkdtemp(), "bad.safetensors")
    >>> _ = open(path, "wb").write(b"\\x10")
    >>> nr.load(path)
    Traceback (most recent call last):
        ...
    neurarust.serialization.CheckpointError: .../bad.safetensors: truncated: 1 bytes, shorter than the 8-byte header length
    """
    if not weights_only:
        raise ArgumentError("neurarust.load only reads tensors and plain values: weights_only=False (arbitrary "
                            "unpickling) is not supported")
    path = os.fspath(f)
    device = device if device is not None else map_location
    if path.endswith((".pt", ".pth", ".bin")) and not _looks_like_safetensors(path):
        return _load_torch(path, device)
    with open(path, "rb") as fh:
        data = fh.read()
    header, metadata = _read_header(path, data)
    arrays = _read_tensors(path, data, header)
    tensors = {name: _to_tensor(arr, device) for name, arr in arrays.items()}
    skeleton = metadata.get(META_KEY)
    if skeleton is None:
        return tensors
    try:
        return _unflatten(json.loads(skeleton), tensors)
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: corrupted '{META_KEY}' metadata: {e}") from None


def _looks_like_safetensors(path: str) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def _read_header(path: str, data: bytes) -> tuple[dict, dict]:
    """The header's tensor entries and metadata, every entry checked against the file's size."""
    if len(data) < 8:
        raise CheckpointError(f"{path}: truncated: {len(data)} bytes, shorter than the 8-byte header length")
    n = int.from_bytes(data[:8], "little")
    if 8 + n > len(data):
        raise CheckpointError(f"{path}: truncated: the header needs {n} bytes, the file has {len(data) - 8} after "
                              "the length")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{path}: corrupted header (not valid JSON): {e}") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: corrupted header: expected a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    size = len(data) - 8 - n
    for name, info in header.items():
        _check_entry(path, name, info, size)
    return header, metadata


def _check_entry(path: str, name: str, info: Any, size: int) -> None:
    try:
        dtype, shape, (begin, end) = info["dtype"], info["shape"], info["data_offsets"]
    except (TypeError, KeyError, ValueError):
        raise CheckpointError(f"{path}: corrupted header entry for tensor '{name}': {info!r}") from None
    # Types first: a null or string offset must not reach the arithmetic below as a TypeError.
    if not isinstance(dtype, str) or dtype not in _ST_DTYPES:
        raise CheckpointError(f"{path}: tensor '{name}' has unsupported dtype {dtype!r}")
    if not (isinstance(shape, list) and all(_is_count(s) for s in shape)):
        raise CheckpointError(f"{path}: tensor '{name}' has an invalid shape {shape!r}")
    if not (_is_count(begin) and _is_count(end)):
        raise CheckpointError(f"{path}: corrupted: tensor '{name}' has invalid data_offsets {info['data_offsets']!r} "
                              "(expected two non-negative integers)")
    if end > size:
        raise CheckpointError(f"{path}: truncated: tensor '{name}' needs bytes {begin}..{end} of the data, "
                              f"the file holds {size}")
    expected = math.prod(shape) * np.dtype(_ST_DTYPES[dtype]).itemsize
    if not 0 <= begin <= end or end - begin != expected:
        raise CheckpointError(f"{path}: corrupted: tensor '{name}' ({dtype}, shape {shape}) should take "
                              f"{expected} bytes, its offsets [{begin}, {end}) give {end - begin}")


def _is_count(value: Any) -> bool:
    """A non-negative JSON integer (``true`` parses as a Python bool, an int subclass: refused)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _read_tensors(path: str, data: bytes, header: dict) -> dict[str, np.ndarray]:
    import safetensors

    try:
        entries = safetensors.deserialize(data)
    except Exception as e:  # noqa: BLE001 - the library's own checks (overlaps, gaps): name the file
        raise CheckpointError(f"{path}: corrupted safetensors file: {e}") from None
    out = {}
    for name, info in entries:
        arr = np.frombuffer(bytearray(info["data"]), dtype=_ST_DTYPES[header[name]["dtype"]])
        out[name] = arr.reshape(info["shape"])
    return out


def _to_tensor(arr: np.ndarray, device: Any) -> Tensor:
    t = Tensor._from_array(arr)
    return t if device is None else t.to(device)


def _unflatten(node: Any, tensors: dict) -> Any:
    if isinstance(node, list):
        return [_unflatten(v, tensors) for v in node]
    if not isinstance(node, dict):
        return node
    # A marker is an object with that one key (files from before every marker was escaped could
    # hold a user dict with a marker key among others: it stays a dict).
    marker = next(iter(node)) if len(node) == 1 and next(iter(node)) in _MARKERS else None
    if marker == _TENSOR_REF:
        return tensors[node[_TENSOR_REF]]
    if marker == _FLOAT:
        return float(node[_FLOAT])
    if marker == _DICT:
        return {k: _unflatten(v, tensors) for k, v in node[_DICT]}
    return {k: _unflatten(v, tensors) for k, v in node.items()}


def _load_torch(path: str, device: Any) -> Any:
    try:
        import torch
    except ImportError:
        raise CheckpointError(f"{path}: reading .pt/.pth files needs torch (pip install torch), or convert "
                              "the file to safetensors") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch's many error types: report them with the file
        raise CheckpointError(f"{path}: cannot read the PyTorch checkpoint: {e}") from None
    return _from_torch(obj, device, path, "")


def _from_torch(obj: Any, device: Any, path: str, key: str) -> Any:
    """``obj`` with each torch tensor converted; ``key`` is the dotted path of ``obj`` in the file."""
    import torch

    if isinstance(obj, torch.Tensor):
        return _torch_tensor(obj, device, path, key or "tensor")
    if isinstance(obj, dict):
        return type(obj)((k, _from_torch(v, device, path, _join(key, str(k)))) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_from_torch(v, device, path, _join(key, str(i))) for i, v in enumerate(obj))
    return obj


def _torch_tensor(obj: Any, device: Any, path: str, key: str) -> Tensor:
    import torch

    try:
        t = obj.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:
            arr = t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
        else:
            arr = t.numpy()  # (torch refuses float8 here; NeuraRust refuses complex and uint16 below)
        cpu = _to_tensor(arr.copy(), None)
    except (DTypeError, TypeError, RuntimeError) as e:
        raise CheckpointError(f"{path}: tensor '{key}' has unsupported dtype {obj.dtype} ({e})") from None
    return cpu if device is None else cpu.to(device)


def convert(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Convert a checkpoint (``.pt``/``.pth`` through torch, or safetensors) to a safetensors file.
    From a shell: ``python -m neurarust.serialization model.pt model.safetensors``.

    >>> import os, tempfile, torch, neurarust as nr
    >>> from neurarust.serialization import convert
    >>> d = tempfile.mkdtemp()
    >>> torch.save({"w": torch.ones(2)}, os.path.join(d, "m.pt"))
    >>> convert(os.path.join(d, "m.pt"), os.path.join(d, "m.safetensors"))
    >>> nr.load(os.path.join(d, "m.safetensors"))["w"].tolist()
    [1.0, 1.0]
    """
    save(load(src), dst)


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3:
        sys.exit("usage: python -m neurarust.serialization SOURCE(.pt|.pth|.safetensors) DEST.safetensors")
    convert(sys.argv[1], sys.argv[2])
