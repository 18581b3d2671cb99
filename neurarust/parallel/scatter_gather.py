"""Moving nested inputs and outputs between devices: split a batch over devices, join the results.

Tensors are split along ``dim`` (``scatter``) or concatenated along it (``gather``); tuples, lists
and dicts are walked; anything else is passed to every device as is.

    >>> import neurarust as nr
    >>> from neurarust.parallel.scatter_gather import scatter, gather
    >>> parts = scatter((nr.arange(6.0).view(3, 2),), ["cpu", "cpu"])
    >>> [p[0].shape[0] for p in parts]
    [2, 1]
    >>> gather([p[0] for p in parts], "cpu").tolist()
    [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
"""
from __future__ import annotations

from typing import Any, Sequence

from neurarust.tensor import Tensor


def to_device(obj: Any, device: Any) -> Any:
    """``obj`` with every tensor in it moved to ``device`` (differentiably; no copy when already there)."""
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return type(obj)(*(to_device(o, device) for o in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(o, device) for o in obj)
    if isinstance(obj, dict):
        return type(obj)((k, to_device(v, device)) for k, v in obj.items())
    return obj


def scatter(obj: Any, devices: Sequence[Any], dim: int = 0) -> list:
    """``obj`` split into at most ``len(devices)`` pieces, piece i on ``devices[i]`` (fewer pieces
    when the batch has fewer rows than there are devices)."""
    if isinstance(obj, Tensor):
        chunks = obj.chunk(len(devices), dim)
        return [c.to(d) for c, d in zip(chunks, devices)]
    if isinstance(obj, (list, tuple)) and obj:
        parts = [scatter(o, devices, dim) for o in obj]
        n = min(len(p) for p in parts)
        make = (lambda xs: type(obj)(*xs)) if hasattr(obj, "_fields") else type(obj)
        return [make([p[i] for p in parts]) for i in range(n)]
    if isinstance(obj, dict) and obj:
        parts = {k: scatter(v, devices, dim) for k, v in obj.items()}
        n = min(len(p) for p in parts.values())
        return [type(obj)((k, p[i]) for k, p in parts.items()) for i in range(n)]
    return [obj for _ in devices]


def scatter_kwargs(inputs: tuple, kwargs: dict, devices: Sequence[Any], dim: int = 0) -> tuple[list, list]:
    """Positional and keyword inputs split alike: one ``(args, kwargs)`` pair per used device."""
    args = scatter(inputs, devices, dim) if inputs else []
    kws = scatter(kwargs, devices, dim) if kwargs else []
    n = max(len(args), len(kws))
    args += [() for _ in range(n - len(args))]
    kws += [{} for _ in range(n - len(kws))]
    return args[:n], kws[:n]


def gather(outputs: Sequence[Any], device: Any, dim: int = 0) -> Any:
    """The replicas' outputs joined on ``device``: tensors concatenated along ``dim`` (0-d tensors
    stacked into a vector), containers joined element by element."""
    first = outputs[0]
    if isinstance(first, Tensor):
        import neurarust as nr

        moved = [o.to(device) for o in outputs]
        if first.dim() == 0:
            moved = [o.view(1) for o in moved]
        return nr.cat(moved, dim if first.dim() else 0)
    if first is None:
        return None
    if isinstance(first, dict):
        return type(first)((k, gather([o[k] for o in outputs], device, dim)) for k in first)
    if isinstance(first, (list, tuple)):
        joined = [gather(list(parts), device, dim) for parts in zip(*outputs)]
        return type(first)(*joined) if hasattr(first, "_fields") else type(first)(joined)
    return outputs
