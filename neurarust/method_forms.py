"""Top-level function forms of Tensor methods PyTorch also has as functions: ``is_inference``,
``detach``, ``get_device`` and ``to_dlpack``.

    >>> import neurarust as nr
    >>> nr.get_device(nr.zeros(2)), nr.is_inference(nr.zeros(2))
    (-1, False)
"""
from __future__ import annotations

from typing import Any

from .errors import SignatureError
from .tensor import Tensor


def _tensor(name: str, input: Any) -> Tensor:
    if not isinstance(input, Tensor):
        raise SignatureError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    return input


def is_inference(input: Tensor) -> bool:
    """``input.is_inference()``: always False (no tensor is an inference tensor here).

    >>> import neurarust as nr
    >>> nr.is_inference(nr.ones(1))
    False
    """
    return _tensor("is_inference", input).is_inference()


def detach(input: Tensor) -> Tensor:
    """``input.detach()``: the same memory, cut from the autograd graph.

    >>> import neurarust as nr
    >>> x = nr.ones(2, requires_grad=True)
    >>> nr.detach(x * 2).requires_grad
    False
    """
    return _tensor("detach", input).detach()


def get_device(input: Tensor) -> int:
    """``input.get_device()``: the CUDA device index, -1 for a CPU tensor.

    >>> import neurarust as nr
    >>> nr.get_device(nr.ones(1))
    -1
    """
    return _tensor("get_device", input).get_device()


def to_dlpack(tensor: Tensor) -> Any:
    """A DLPack capsule over ``tensor``'s memory (no copy), for ``torch.from_dlpack`` or
    ``torch.utils.dlpack.from_dlpack``; a tensor that requires grad must be detached first.

    >>> import neurarust as nr
    >>> type(nr.to_dlpack(nr.ones(2))).__name__
    'PyCapsule'
    """
    return _tensor("to_dlpack", tensor).__dlpack__()
