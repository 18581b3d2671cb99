"""``Parameter``: a Tensor that a :class:`~neurarust.nn.Module` registers as one of its weights.

Assigning a Parameter to a module attribute registers it; it requires grad by default::

    >>> import neurarust as nr
    >>> p = nr.nn.Parameter(nr.zeros(2))
    >>> p.requires_grad, isinstance(p, nr.Tensor)
    (True, True)
"""
from __future__ import annotations

from neurarust.creation import empty
from neurarust.tensor import Tensor, _rebuild, _set_data  # noqa: F401  (_set_data: nn.module's import)


class Parameter(Tensor):
    """A leaf tensor that modules recognise as a weight (shares ``data``'s memory, no copy).

    >>> import neurarust as nr
    >>> w = nr.nn.Parameter(nr.ones(2), requires_grad=False)
    >>> w.requires_grad, w.tolist()
    (False, [1.0, 1.0])
    """

    __slots__ = ()

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True) -> "Parameter":
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            from neurarust.errors import SignatureError

            raise SignatureError(f"Parameter expects a Tensor, got {type(data).__name__}")
        p = object.__new__(cls)
        Tensor.__init__(p, data._storage, data._shape, data._strides, data._offset, data._dtype)
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass  # all set in __new__ (Tensor.__init__ takes a storage, not a tensor)

    # ``data`` is Tensor's: assigning swaps in another tensor's memory while the Parameter object
    # (which optimizers hold) stays the same.

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce__(self):
        data = self.detach().contiguous().numpy(force=True).tobytes()
        return (_rebuild_parameter, (data, self._shape, self._dtype.name, str(self.device), self.requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        out = Parameter(self.detach().clone(), self.requires_grad)   # without .grad, as PyTorch's
        memo[id(self)] = out
        return out


def _rebuild_parameter(data: bytes, shape, dtype_name: str, dev: str, requires_grad: bool) -> Parameter:
    return Parameter(_rebuild(data, shape, dtype_name, dev), requires_grad)



class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (a lazy module's, until its first forward or a
    ``load_state_dict``): no memory until :meth:`materialize` turns it into a plain ``Parameter``.

    >>> import neurarust as nr
    >>> p = nr.nn.UninitializedParameter()
    >>> p.materialize((2, 3)); type(p).__name__, tuple(p.shape)
    ('Parameter', (2, 3))
    """

    __slots__ = ()

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None) -> "UninitializedParameter":
        return Parameter.__new__(cls, empty(0, device=device, dtype=dtype), requires_grad)

    def __init__(self, requires_grad: bool = True, device=None, dtype=None) -> None:
        pass  # set in __new__

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the parameter uninitialized memory of ``shape`` (this object stays the parameter
        optimizers and modules hold) and make it a ``Parameter``."""
        _set_data(self, empty(*shape, device=device or self.device, dtype=dtype or self.dtype))
        self.__class__ = Parameter

    def __repr__(self) -> str:
        return "<UninitializedParameter>"


class UninitializedBuffer(Tensor):
    """A buffer whose shape is not known yet (a lazy BatchNorm's running statistics); see
    :class:`UninitializedParameter`.

    >>> import neurarust as nr
    >>> b = nr.nn.UninitializedBuffer()
    >>> b.materialize((4,)); type(b).__name__
    'Tensor'
    """

    __slots__ = ()

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None) -> "UninitializedBuffer":
        data = empty(0, device=device, dtype=dtype)
        b = object.__new__(cls)
        Tensor.__init__(b, data._storage, data._shape, data._strides, data._offset, data._dtype)
        return b

    def __init__(self, requires_grad: bool = False, device=None, dtype=None) -> None:
        pass  # set in __new__

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the buffer uninitialized memory of ``shape`` and make it a plain Tensor."""
        _set_data(self, empty(*shape, device=device or self.device, dtype=dtype or self.dtype))
        self.__class__ = Tensor

    def __repr__(self) -> str:
        return "<UninitializedBuffer>"
