"""Tensor: a strided view (shape, strides, offset, dtype) over a :class:`~neurarust.storage.Storage`.

View ops (``view``, ``permute``, ``expand``, slicing, ...) return tensors that share the storage;
nothing is copied. Compute ops go through the op registry, which picks the Triton kernel on CUDA
(or under the interpreter) and the NumPy reference on the CPU::

    >>> import neurarust as nr
    >>> x = nr.arange(6.0).view(2, 3)
    >>> y = x.t()                     # a view: same storage, swapped strides
    >>> y.stride(), y.is_contiguous()
    ((1, 3), False)
    >>> x[0, 1] = 10.0                # writes through to every view
    >>> y[1, 0].item()
    10.0
"""
from __future__ import annotations

import builtins
from typing import Any, Iterator, Sequence

import numpy as np

from . import dtype as _dt
from . import memory_formats as _mf
from . import shape as _sh
from .device import CPU, as_device, device
from .dtype import DType
from .errors import (ArgumentError, AutogradError, DeviceError, DTypeError, IndexOutOfRangeError, ShapeError,
                     SignatureError)
from .shape import Size
from .storage import Storage


def _call(name: str, *args, **kwargs):
    op = _OPS.get(name) or _get_op(name)
    if _registry._grad_hook is not None:
        return _registry._grad_hook(op, args, kwargs)
    return op.frontend(op, *args, **kwargs)


class Tensor:
    """An n-dimensional array on a device: see the module docstring."""

    __slots__ = ("_storage", "_shape", "_strides", "_offset", "_dtype", "_array", "_autograd", "_base", "__weakref__")

    def __init__(self, storage: Storage, shape: Sequence[int], strides: Sequence[int], offset: int,
                 dtype: DType):
        self._storage = storage
        self._shape = tuple(shape)
        self._strides = tuple(strides)
        self._offset = offset
        self._dtype = dtype
        self._array = None  # the NumPy view of a CPU tensor, made on first use (the reference path's input)
        self._autograd = None  # neurarust.autograd's AutogradMeta, once the tensor takes part in a graph
        self._base = None      # the tensor this one is a view of (as PyTorch's ``_base``)

    # -- construction helpers -----------------------------------------------------------------
    @classmethod
    def _empty(cls, shape: Sequence[int], dtype: DType, dev: device = CPU) -> "Tensor":
        shape = tuple(shape)
        storage = Storage.allocate(_sh.numel(shape) * dtype.itemsize, dev)
        return cls(storage, shape, _sh.contiguous_strides(shape), 0, dtype)

    @classmethod
    def _empty_strided(cls, shape: Sequence[int], strides: Sequence[int], dtype: DType, dev: device = CPU) -> "Tensor":
        """An uninitialised tensor of ``shape`` with ``strides`` (non-negative), over just the bytes
        they reach."""
        shape, strides = tuple(shape), tuple(strides)
        extent = 0 if 0 in shape else 1 + sum((n - 1) * st for n, st in zip(shape, strides))
        return cls(Storage.allocate(extent * dtype.itemsize, dev), shape, strides, 0, dtype)

    @classmethod
    def _empty_in_order(cls, shape: Sequence[int], order: Sequence[int], dtype: DType, dev: device = CPU) -> "Tensor":
        """An uninitialised dense tensor of ``shape`` whose dims lie in memory in ``order`` (outermost
        first): a permutation of a contiguous buffer."""
        dense = cls._empty(tuple(shape[d] for d in order), dtype, dev)
        return dense.permute(*[list(order).index(d) for d in range(len(shape))])

    def _in_layout(self, strides: Sequence[int]) -> "Tensor":
        """This tensor, or a copy of it laid out with ``strides`` when those are a dense layout
        (contiguous otherwise): what a kernel built for those strides can read."""
        if tuple(self._strides) == tuple(strides):
            return self
        order = _sh.dense_order(self._shape, strides)
        if order is None:
            return self.contiguous()
        out = Tensor._empty_in_order(self._shape, order, self._dtype, self._storage.device)
        out.copy_(self)
        return out

    @classmethod
    def _from_array(cls, arr: np.ndarray, dtype: DType | None = None) -> "Tensor":
        """Wrap a NumPy array without copying when its layout allows (positive, element-aligned strides)."""
        d = dtype or _dt.as_dtype(arr.dtype)
        if arr.dtype != d.np:
            arr = arr.astype(d.np)
        itemsize = d.itemsize
        if arr.ndim == 0 or arr.size == 0 or arr.flags.c_contiguous:
            if not arr.flags.c_contiguous:
                arr = arr.copy()
            t = cls(Storage.from_numpy_buffer(arr.reshape(-1)), arr.shape, _sh.contiguous_strides(arr.shape), 0, d)
            t._array = arr
            return t
        if any(s < 0 or s % itemsize for s in arr.strides):
            return cls._from_array(np.ascontiguousarray(arr), d)
        strides = tuple(s // itemsize for s in arr.strides)
        extent = 1 + sum((n - 1) * s for n, s in zip(arr.shape, strides))
        flat = np.lib.stride_tricks.as_strided(arr, shape=(extent,), strides=(itemsize,))
        return cls(Storage.from_numpy_buffer(flat), arr.shape, strides, 0, d)

    @classmethod
    def _wrap(cls, arr: np.ndarray, dtype: DType) -> "Tensor":
        """Adopt a C-contiguous array of ``dtype`` as a new CPU tensor: the reference backend's results."""
        # Slots set directly: this runs once per op on the CPU path, where construction cost shows.
        t = object.__new__(cls)
        t._storage = Storage._adopt(arr.reshape(-1).view(np.uint8))
        t._shape = arr.shape
        t._strides = _sh.contiguous_strides(arr.shape)
        t._offset = 0
        t._dtype = dtype
        t._array = arr
        t._autograd = None
        t._base = None
        return t

    def _view(self, shape: Sequence[int], strides: Sequence[int], offset: int | None = None) -> "Tensor":
        out = Tensor(self._storage, shape, strides, self._offset if offset is None else offset, self._dtype)
        out._base = self if self._base is None else self._base
        return out

    # -- metadata -----------------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        """The size of every dim, as a :class:`~neurarust.shape.Size` (a tuple)."""
        return Size(self._shape)

    def size(self, dim: int | None = None):
        """The shape, or the size of one dim."""
        if dim is None:
            return Size(self._shape)
        return self._shape[_sh.normalize_dim(dim, len(self._shape), scalar_ok=False)]

    def stride(self, dim: int | None = None):
        """Strides in elements, or the stride of one dim."""
        if dim is None:
            return self._strides
        return self._strides[_sh.normalize_dim(dim, len(self._shape), scalar_ok=False)]

    @property
    def dtype(self) -> DType:
        """The element type."""
        return self._dtype

    @property
    def device(self) -> device:
        """Where the memory lives."""
        return self._storage.device

    @property
    def is_cuda(self) -> bool:
        """True for a tensor on a CUDA device."""
        return self._storage.device.type == "cuda"

    @property
    def ndim(self) -> int:
        """The number of dims."""
        return len(self._shape)

    def dim(self) -> int:
        """The number of dims."""
        return len(self._shape)

    def numel(self) -> int:
        """The number of elements."""
        return _sh.numel(self._shape)

    def element_size(self) -> int:
        """Bytes per element."""
        return self._dtype.itemsize

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self._dtype.itemsize

    @property
    def nbytes(self) -> int:
        """Bytes the elements take (``numel() * element_size()``)."""
        return self.numel() * self._dtype.itemsize

    def storage_offset(self) -> int:
        """Where the view starts in its storage, in elements."""
        return self._offset

    def untyped_storage(self) -> Storage:
        """The :class:`~neurarust.storage.Storage` this view reads (shared by all its views)."""
        return self._storage

    def data_ptr(self) -> int:
        """The address of the first element."""
        return self._storage.data_ptr() + self._offset * self._dtype.itemsize

    def is_contiguous(self, memory_format: "_mf.memory_format" = _mf.contiguous_format) -> bool:
        """True when the elements lie in row-major order with no gaps (then ``view`` always works),
        or densely in ``memory_format`` (``nr.channels_last``: ``(N, H, W, C)`` in memory).

        >>> import neurarust as nr
        >>> x = nr.zeros(1, 2, 3, 3)
        >>> x.is_contiguous(), x.is_contiguous(memory_format=nr.channels_last)
        (True, False)
        """
        if memory_format is _mf.contiguous_format:
            return _sh.is_contiguous(self._shape, self._strides)
        return _mf.is_in_format(self._shape, self._strides, memory_format)

    def is_floating_point(self) -> bool:
        """True for float16, bfloat16, float32 and float64 tensors."""
        return self._dtype.is_floating_point

    # -- more of PyTorch's metadata: predicates, aliases and constants ---------------------------
    def is_signed(self) -> bool:
        """True for signed dtypes: the floats and int8..int64 (not uint8 or bool).

        >>> import neurarust as nr
        >>> nr.tensor([1]).is_signed(), nr.tensor([1], dtype=nr.uint8).is_signed(), nr.tensor([True]).is_signed()
        (True, False, False)
        """
        return self._dtype.is_signed

    def is_complex(self) -> bool:
        """Always False: NeuraRust has no complex dtypes.

        >>> import neurarust as nr
        >>> nr.zeros(2).is_complex()
        False
        """
        return False

    def is_inference(self) -> bool:
        """Always False: tensors made under ``nr.inference_mode()`` are ordinary tensors here (the
        mode only switches recording off), so no tensor is an inference tensor.

        >>> import neurarust as nr
        >>> with nr.inference_mode():
        ...     x = nr.ones(2)
        >>> x.is_inference()
        False
        """
        return False

    def is_nonzero(self) -> bool:
        """The truth value of a one-element tensor; ArgumentError for none or several elements
        (PyTorch's rule).

        >>> import neurarust as nr
        >>> nr.tensor([0.5]).is_nonzero(), nr.tensor(False).is_nonzero()
        (True, False)
        """
        n = self.numel()
        if n != 1:
            raise ArgumentError(f"Boolean value of Tensor with {'no values' if n == 0 else 'more than one value'} "
                                f"is ambiguous (shape {list(self._shape)})")
        return builtins.bool(self.item())

    def is_same_size(self, other: "Tensor") -> bool:
        """Whether ``other`` has this tensor's shape.

        >>> import neurarust as nr
        >>> nr.zeros(2, 3).is_same_size(nr.ones(2, 3)), nr.zeros(2).is_same_size(nr.zeros(3))
        (True, False)
        """
        if not isinstance(other, Tensor):
            raise SignatureError(f"is_same_size expects a Tensor, got {type(other).__name__}")
        return self._shape == other._shape

    def is_pinned(self) -> bool:
        """Always False: NeuraRust does not allocate page-locked host memory.

        >>> import neurarust as nr
        >>> nr.zeros(2).is_pinned()
        False
        """
        return False

    def is_shared(self) -> bool:
        """Always False: storages are never moved to shared memory (no ``share_memory_``).

        >>> import neurarust as nr
        >>> nr.zeros(2).is_shared()
        False
        """
        return False

    def is_neg(self) -> bool:
        """Always False: there are no lazily negated views (PyTorch's are complex-only).

        >>> import neurarust as nr
        >>> nr.zeros(2).is_neg()
        False
        """
        return False

    def is_conj(self) -> bool:
        """Always False: there are no complex tensors, hence no conjugate views.

        >>> import neurarust as nr
        >>> nr.zeros(2).is_conj()
        False
        """
        return False

    def resolve_conj(self) -> "Tensor":
        """Self: a real tensor is its own conjugate.

        >>> import neurarust as nr
        >>> x = nr.zeros(2); x.resolve_conj() is x
        True
        """
        return self

    def resolve_neg(self) -> "Tensor":
        """Self: no tensor carries a lazy negation.

        >>> import neurarust as nr
        >>> x = nr.zeros(2); x.resolve_neg() is x
        True
        """
        return self

    def nelement(self) -> int:
        """The number of elements (``numel()``).

        >>> import neurarust as nr
        >>> nr.zeros(2, 3).nelement()
        6
        """
        return _sh.numel(self._shape)

    def ndimension(self) -> int:
        """The number of dims (``dim()``).

        >>> import neurarust as nr
        >>> nr.zeros(2, 3).ndimension()
        2
        """
        return len(self._shape)

    def get_device(self) -> int:
        """The CUDA device index of a CUDA tensor, -1 for a CPU tensor.

        >>> import neurarust as nr
        >>> nr.zeros(2).get_device()
        -1
        """
        dev = self._storage.device
        return -1 if dev.type == "cpu" else (dev.index or 0)

    @property
    def is_cpu(self) -> bool:
        """True for a tensor in host memory.

        >>> import neurarust as nr
        >>> nr.zeros(2).is_cpu
        True
        """
        return self._storage.device.type == "cpu"

    @property
    def layout(self) -> "Any":
        """``nr.strided``: every NeuraRust tensor is dense and strided.

        >>> import neurarust as nr
        >>> nr.zeros(2).layout
        neurarust.strided
        """
        from .layouts import strided

        return strided

    @property
    def name(self) -> None:
        """None: NeuraRust has no named tensors (PyTorch's ``Tensor.name`` is None outside TorchScript).

        >>> import neurarust as nr
        >>> nr.zeros(2).name is None
        True
        """
        return None

    @property
    def output_nr(self) -> int:
        """Which output of its ``grad_fn`` this tensor is (0 for leaves and single outputs).

        >>> import neurarust as nr
        >>> x = nr.ones(2, 2, requires_grad=True)
        >>> [t.output_nr for t in (x * 2).unbind()]
        [0, 1]
        """
        m = self._autograd
        return 0 if m is None else m.output_nr

    @property
    def grad_dtype(self) -> DType:
        """The dtype ``.grad`` has: always the tensor's own (setting another one is not supported).

        >>> import neurarust as nr
        >>> nr.ones(2, dtype=nr.float64, requires_grad=True).grad_dtype
        neurarust.float64
        """
        return self._dtype

    @property
    def data(self) -> "Tensor":
        """The values without autograd: a detached tensor sharing this one's memory. Assigning another
        tensor (``x.data = y``) makes this tensor object use ``y``'s memory, shape, strides and dtype
        in place, keeping its own autograd state (``requires_grad``, ``.grad``), as in PyTorch.

        >>> import neurarust as nr
        >>> w = nr.zeros(2, requires_grad=True)
        >>> w.data.requires_grad, w.data.data_ptr() == w.data_ptr()
        (False, True)
        >>> w.data = nr.ones(3); w.tolist(), w.requires_grad
        ([1.0, 1.0, 1.0], True)

        In-place writes through ``x.data`` are invisible to autograd, as in PyTorch: a tensor saved
        for backward and then changed through its ``.data`` is not reported (nor is the gradient
        right). ``detach()`` shares the version counter, so the same write through it is reported.
        """
        return _DataAlias(self._storage, self._shape, self._strides, self._offset, self._dtype)

    @data.setter
    def data(self, value: "Tensor") -> None:
        if not isinstance(value, Tensor):
            raise SignatureError(f"data must be set to a Tensor, got {type(value).__name__}")
        _set_data(self, value)

    @property
    def _version(self) -> int:
        # Kept on the Storage, so every view of the same bytes sees every in-place write; a ``.data``
        # alias (and its views) counts only the writes made through such aliases, the rest only
        # the others: PyTorch's ``.data`` has a version counter of its own.
        s, base = self._storage, self._base
        if (self if base is None else base).__class__ is _DataAlias:   # inline: autograd reads this per saved tensor
            return s.data_writes
        return s.version - s.data_writes

    def _bump_version(self) -> None:
        s = self._storage
        s.version += 1
        if self._is_data_alias():
            s.data_writes += 1

    def _is_data_alias(self) -> bool:
        return type(self if self._base is None else self._base) is _DataAlias

    # -- autograd (the engine is neurarust.autograd, imported on first use) --------------------
    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to this tensor (set it on leaves; results of ops inherit it)."""
        m = self._autograd
        return m is not None and m.requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Start (or stop) recording operations on this leaf for gradients; returns self.

        >>> import neurarust as nr
        >>> w = nr.ones(2).requires_grad_()
        >>> w.requires_grad, w.is_leaf
        (True, True)
        """
        from neurarust.autograd import graph

        if not self.is_leaf:
            if requires_grad:
                return self
            raise AutogradError("you can only change requires_grad flags of leaf variables; use "
                                "var_no_grad = var.detach() for a computed variable you do not want to differentiate")
        if requires_grad and not self._dtype.is_floating_point:
            raise DTypeError(f"only Tensors of floating point dtype can require gradients, got {self._dtype}")
        graph.meta(self).requires_grad = bool(requires_grad)
        return self

    @property
    def grad(self) -> "Tensor | None":
        """The gradient accumulated by ``backward()`` (leaves, and non-leaves that ``retain_grad()``)."""
        m = self._autograd
        return None if m is None else m.grad

    @grad.setter
    def grad(self, value: "Tensor | None") -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise SignatureError(f"grad must be a Tensor or None, got {type(value).__name__}")
            if value._shape != self._shape or value._dtype is not self._dtype or value.device != self.device:
                raise ShapeError(f"assigned grad ({list(value._shape)}, {value._dtype}, {value.device}) does not "
                                 f"match the tensor ({list(self._shape)}, {self._dtype}, {self.device})")
        if value is None and self._autograd is None:
            return
        from neurarust.autograd import graph

        graph.meta(self).grad = value

    @property
    def grad_fn(self):
        """The graph node that made this tensor (None for leaves and tensors outside a graph)."""
        m = self._autograd
        return None if m is None else m.grad_fn

    @property
    def is_leaf(self) -> bool:
        """True unless an op recorded in a graph made this tensor."""
        m = self._autograd
        return m is None or m.grad_fn is None

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf after backward (leaves always keep theirs).

        >>> import neurarust as nr
        >>> x = nr.ones(2, requires_grad=True)
        >>> y = x * 3; y.retain_grad(); y.sum().backward()
        >>> y.grad.tolist()
        [1.0, 1.0]
        """
        if not self.requires_grad:
            raise AutogradError("can't retain_grad on Tensor that has requires_grad=False")
        if not self.is_leaf:
            self._autograd.retains_grad = True
            self._autograd.grad_fn.retain(self._autograd.output_nr, self)

    @property
    def retains_grad(self) -> bool:
        """Whether this non-leaf keeps its ``.grad`` (see :meth:`retain_grad`)."""
        m = self._autograd
        return m is not None and m.retains_grad

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (shares memory; never requires grad).

        >>> import neurarust as nr
        >>> x = nr.ones(2, requires_grad=True)
        >>> (x * 2).detach().requires_grad
        False
        """
        cls = _DataAlias if self._is_data_alias() else Tensor    # detach shares the version counter
        return cls(self._storage, self._shape, self._strides, self._offset, self._dtype)

    def detach_(self) -> "Tensor":
        """Cut this tensor from its graph in place: it becomes a leaf that does not require grad."""
        if self._base is not None and self.requires_grad:
            raise AutogradError("Can't detach views in-place. Use detach() instead.")
        self._autograd = None
        return self

    def backward(self, gradient: "Tensor | None" = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see ``neurarust.autograd.backward``).

        >>> import neurarust as nr
        >>> x = nr.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad.tolist()
        [2.0, 4.0]
        """
        from neurarust.autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it.
        Returns a handle whose ``remove()`` unregisters the hook.

        >>> import neurarust as nr
        >>> x = nr.ones(2, requires_grad=True)
        >>> h = x.register_hook(lambda g: g * 10)
        >>> (x * 1).sum().backward(); x.grad.tolist()
        [10.0, 10.0]
        """
        from neurarust.autograd.hooks import register_tensor_hook

        return register_tensor_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` on a leaf after its ``.grad`` has been updated by backward.

        >>> import neurarust as nr
        >>> w = nr.ones(2, requires_grad=True)
        >>> _ = w.register_post_accumulate_grad_hook(lambda t: print("grad ready", t.grad.tolist()))
        >>> (w * 2).sum().backward()
        grad ready [2.0, 2.0]
        """
        from neurarust.autograd.hooks import register_post_accumulate_hook

        return register_post_accumulate_hook(self, hook)

    # -- views --------------------------------------------------------------------------------
    def view(self, *shape) -> "Tensor":
        """Same data, new shape (one size may be -1); raises when the strides do not allow it (then use
        ``reshape``). ``view(dtype)`` reinterprets the bytes as another dtype.

        >>> import neurarust as nr
        >>> nr.zeros(2, 3).view(-1).shape
        neurarust.Size([6])
        >>> nr.ones(2, dtype=nr.float32).view(nr.int16).shape
        neurarust.Size([4])
        """
        if len(shape) == 1 and _is_dtype_like(shape[0]):
            return self._view_as_dtype(_dt.as_dtype(shape[0]))
        new_shape = _sh.infer_size(_sh.as_shape(shape), self.numel())
        strides = _sh.view_strides(self._shape, self._strides, new_shape)
        if strides is None:
            raise ShapeError(f"view size {new_shape} is not compatible with input of shape {self._shape} "
                             f"and strides {self._strides}; use .reshape(...) instead")
        return _tracked(self, self._view(new_shape, strides), "View", _reshape_back(self._shape))

    def _view_as_dtype(self, d: DType) -> "Tensor":
        old, new = self._dtype.itemsize, d.itemsize
        if old == new:
            return Tensor(self._storage, self._shape, self._strides, self._offset, d)
        # Like torch: the last dim (contiguous) is split or merged; everything else is rescaled.
        if not self._shape:
            raise ShapeError(f"view({d}) of a 0-d {self._dtype} tensor needs the same element size")
        if self._strides[-1] != 1:
            raise ShapeError(f"view({d}) on {self._dtype} needs a last dim with stride 1, got strides {self._strides}")
        shape, strides = list(self._shape), list(self._strides)
        if new < old:
            ratio = old // new
            shape[-1] *= ratio
            strides = [st * ratio for st in strides[:-1]] + [1]
            return Tensor(self._storage, shape, strides, self._offset * ratio, d)
        ratio = new // old
        if shape[-1] % ratio or self._offset % ratio or any(st % ratio for st in strides[:-1]):
            raise ShapeError(f"view({d}) on {self._dtype} with shape {self._shape}, strides {self._strides} and "
                             f"offset {self._offset}: the last dim and every stride must be divisible by {ratio}")
        shape[-1] //= ratio
        strides = [st // ratio for st in strides[:-1]] + [1]
        return Tensor(self._storage, shape, strides, self._offset // ratio, d)

    def reshape(self, *shape) -> "Tensor":
        """A view when the strides allow one, else a contiguous copy (one size may be -1).

        >>> import neurarust as nr
        >>> x = nr.arange(6).view(2, 3)
        >>> x.reshape(3, -1).tolist()
        [[0, 1], [2, 3], [4, 5]]
        >>> x.t().reshape(6).tolist()        # a transposed view cannot be viewed flat: copied
        [0, 3, 1, 4, 2, 5]
        """
        new_shape = _sh.infer_size(_sh.as_shape(shape), self.numel())
        strides = _sh.view_strides(self._shape, self._strides, new_shape)
        if strides is None:
            return self.contiguous().view(new_shape)
        return _tracked(self, self._view(new_shape, strides), "Reshape", _reshape_back(self._shape))

    def view_as(self, other: "Tensor") -> "Tensor":
        """``view(other.shape)``."""
        return self.view(other.shape)

    def reshape_as(self, other: "Tensor") -> "Tensor":
        """``reshape(other.shape)``."""
        return self.reshape(other.shape)

    def type_as(self, other: "Tensor") -> "Tensor":
        """``self`` cast to ``other``'s dtype (self when it already has it).

        >>> import neurarust as nr
        >>> nr.tensor([True, False]).type_as(nr.zeros(1)).tolist()
        [1.0, 0.0]
        """
        return self.to(other.dtype)

    # -- new tensors like this one: its dtype and device unless given ------------------------------

    def new_empty(self, *size, dtype=None, device=None, requires_grad: bool = False) -> "Tensor":
        """An uninitialised tensor of ``size`` with this tensor's dtype and device by default.

        >>> import neurarust as nr
        >>> nr.zeros(2, dtype=nr.float64).new_empty(3, 1).dtype
        neurarust.float64
        """
        from .creation import empty

        return empty(*size, **self._new_options(dtype, device), requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad: bool = False) -> "Tensor":
        """Zeros of ``size`` with this tensor's dtype and device by default.

        >>> import neurarust as nr
        >>> nr.tensor([1, 2]).new_zeros(2, 2).tolist()
        [[0, 0], [0, 0]]
        """
        from .creation import zeros

        return zeros(*size, **self._new_options(dtype, device), requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad: bool = False) -> "Tensor":
        """Ones of ``size`` with this tensor's dtype and device by default.

        >>> import neurarust as nr
        >>> nr.tensor([1.5]).new_ones(2).tolist()
        [1.0, 1.0]
        """
        from .creation import ones

        return ones(*size, **self._new_options(dtype, device), requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> "Tensor":
        """``size`` filled with ``fill_value``, with this tensor's dtype and device by default.

        >>> import neurarust as nr
        >>> nr.zeros(1, dtype=nr.float16).new_full((2,), 3).tolist(), nr.zeros(1).new_full((1,), 3).dtype
        ([3.0, 3.0], neurarust.float32)
        """
        from .creation import full

        return full(size, fill_value, **self._new_options(dtype, device), requires_grad=requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad: bool = False) -> "Tensor":
        """A copy of ``data`` (a tensor, array or nested list) with this tensor's dtype and device by
        default.

        >>> import neurarust as nr
        >>> nr.zeros(1, dtype=nr.float64).new_tensor([1, 2]).dtype
        neurarust.float64
        """
        from .creation import tensor

        if isinstance(data, Tensor):
            data = data.detach()
        return tensor(data, **self._new_options(dtype, device), requires_grad=requires_grad)

    def new_empty_strided(self, size: Sequence[int], stride: Sequence[int], *, dtype=None, device=None,
                          requires_grad: bool = False) -> "Tensor":
        """An uninitialised tensor of ``size`` with ``stride``, with this tensor's dtype and device by
        default (see ``nr.empty_strided``).

        >>> import neurarust as nr
        >>> y = nr.zeros(1, dtype=nr.int16).new_empty_strided((2, 3), (1, 2))
        >>> y.stride(), y.dtype
        ((1, 2), neurarust.int16)
        """
        from .creation import empty_strided

        return empty_strided(size, stride, **self._new_options(dtype, device), requires_grad=requires_grad)

    def _new_options(self, dtype, device) -> dict:
        return {"dtype": self.dtype if dtype is None else dtype, "device": self.device if device is None else device}

    def permute(self, *dims) -> "Tensor":
        """The dims reordered (a view).

        >>> import neurarust as nr
        >>> nr.zeros(2, 3, 4).permute(2, 0, 1).shape
        neurarust.Size([4, 2, 3])
        """
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        nd = self.ndim
        if len(dims) != nd:
            raise ShapeError(f"permute: number of dims {len(dims)} does not match tensor of {nd} dims")
        norm = [_sh.normalize_dim(d, nd) for d in dims]
        if sorted(norm) != list(range(nd)):
            raise ShapeError(f"permute: dims {tuple(dims)} are not a permutation of {nd} dims")
        inverse = tuple(sorted(range(nd), key=norm.__getitem__))
        return _tracked(self, self._view([self._shape[d] for d in norm], [self._strides[d] for d in norm]),
                        "Permute", lambda g: g.permute(inverse))

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        """``dim0`` and ``dim1`` swapped (a view).

        >>> import neurarust as nr
        >>> nr.zeros(2, 3).transpose(0, 1).stride()
        (1, 3)
        """
        nd = self.ndim
        d0, d1 = _sh.normalize_dim(dim0, nd), _sh.normalize_dim(dim1, nd)
        order = list(range(nd))
        if nd:
            order[d0], order[d1] = order[d1], order[d0]
        return _tracked(self, self._view([self._shape[d] for d in order], [self._strides[d] for d in order]),
                        "Transpose", lambda g: g.transpose(d0, d1))

    swapaxes = transpose
    swapdims = transpose

    def t(self) -> "Tensor":
        """The transpose of a tensor with at most 2 dims (a view).

        >>> import neurarust as nr
        >>> nr.tensor([[1, 2, 3]]).t().tolist()
        [[1], [2], [3]]
        """
        if self.ndim > 2:
            raise ShapeError(f"t() expects a tensor with <= 2 dims, got shape {self._shape}")
        return self.transpose(0, 1) if self.ndim == 2 else _tracked(self, self._view(self._shape, self._strides),
                                                                     "T", lambda g: g)

    @property
    def T(self) -> "Tensor":
        """All dims reversed (a view)."""
        return self.permute(tuple(reversed(range(self.ndim))))

    @property
    def mT(self) -> "Tensor":
        """The last two dims swapped (a view): a batch of transposed matrices."""
        if self.ndim < 2:
            raise ShapeError(f"mT needs at least 2 dims, got shape {self._shape}")
        return self.transpose(-2, -1)

    @property
    def H(self) -> "Tensor":
        """The conjugate transpose of a matrix: its transpose (a view), as every tensor is real; a 0-d
        tensor is returned as a view of itself, other dims raise ShapeError (as PyTorch).

        >>> import neurarust as nr
        >>> nr.tensor([[1, 2, 3]]).H.tolist()
        [[1], [2], [3]]
        """
        if self.ndim not in (0, 2):
            raise ShapeError(f"tensor.H is only supported on matrices (2-D tensors), got shape {self._shape}")
        return self.t()

    @property
    def mH(self) -> "Tensor":
        """The conjugate transpose of a batch of matrices: ``mT`` (a view), as every tensor is real.

        >>> import neurarust as nr
        >>> nr.zeros(5, 2, 3).mH.shape
        neurarust.Size([5, 3, 2])
        """
        if self.ndim < 2:
            raise ShapeError(f"tensor.mH is only supported on matrices or batches of matrices, got shape {self._shape}")
        return self.transpose(-2, -1)

    def adjoint(self) -> "Tensor":
        """``mH``: the last two dims swapped (a view).

        >>> import neurarust as nr
        >>> nr.zeros(2, 3).adjoint().shape
        neurarust.Size([3, 2])
        """
        return self.mH

    def as_strided(self, size: Sequence[int], stride: Sequence[int], storage_offset: int | None = None) -> "Tensor":
        """A view of this tensor's storage with the given ``size``, ``stride`` (in elements, not
        negative) and ``storage_offset`` (this tensor's own by default), as PyTorch's ``as_strided``.
        It differentiates: the gradient of each element goes to the element of this tensor at the same
        memory address (summed where the view repeats an address); a view reaching memory this tensor
        does not cover raises AutogradError when a gradient reaches it.

        >>> import neurarust as nr
        >>> x = nr.arange(6.0)
        >>> x.as_strided((2, 2), (1, 2)).tolist()
        [[0.0, 2.0], [1.0, 3.0]]
        >>> x.as_strided((3,), (2,), 1).tolist()
        [1.0, 3.0, 5.0]
        """
        size, stride = tuple(_sh.as_shape(size)), tuple(builtins.int(s) for s in stride)
        offset = self._offset if storage_offset is None else builtins.int(storage_offset)
        _check_as_strided(self, size, stride, offset)
        out = self._view(size, stride, offset)
        return _tracked(self, out, "AsStrided", _as_strided_back(self, size, stride, offset))

    # -- in-place view ops: the tensor itself takes the view's shape and strides --------------------
    def _inplace_view(self, name: str, make) -> "Tensor":
        """Give self the geometry of ``make(self)`` (a view op), as PyTorch's ``t_``/``squeeze_``: the
        version counter is bumped; in a graph the view's node becomes self's grad_fn; a leaf that
        requires grad is refused (outside ``no_grad``)."""
        _check_inplace(self, name)
        v = make(self)
        mv = v._autograd
        node = mv.grad_fn if mv is not None and mv.requires_grad else None  # read before the version bump
        old = self._autograd
        self._shape, self._strides, self._offset, self._array = v._shape, v._strides, v._offset, None
        self._bump_version()
        if node is not None:
            from neurarust.autograd.graph import AutogradMeta, ViewMeta

            self._autograd = AutogradMeta(True, node, 0) if self._base is None else ViewMeta(node, self._base, self)
        elif old is not None and self._base is not None and not old.requires_grad:
            from neurarust.autograd.graph import LatentViewMeta

            if isinstance(old, LatentViewMeta):  # remember the new geometry for a later rebase
                self._autograd = LatentViewMeta(self._base, self)
        return self

    def squeeze_(self, dim: int | Sequence[int] | None = None) -> "Tensor":
        """``squeeze`` in place: this tensor loses its size-1 dims (all, or those of ``dim``).

        >>> import neurarust as nr
        >>> x = nr.zeros(1, 3, 1); _ = x.squeeze_(0); x.shape
        neurarust.Size([3, 1])
        """
        return self._inplace_view("squeeze_", lambda t: t.squeeze(dim))

    def unsqueeze_(self, dim: int) -> "Tensor":
        """``unsqueeze`` in place: this tensor gets a size-1 dim at ``dim``.

        >>> import neurarust as nr
        >>> x = nr.zeros(3); _ = x.unsqueeze_(0); x.shape
        neurarust.Size([1, 3])
        """
        return self._inplace_view("unsqueeze_", lambda t: t.unsqueeze(dim))

    def transpose_(self, dim0: int, dim1: int) -> "Tensor":
        """``transpose`` in place: this tensor's dims ``dim0`` and ``dim1`` swap (also ``swapaxes_``,
        ``swapdims_``).

        >>> import neurarust as nr
        >>> x = nr.zeros(2, 3); _ = x.transpose_(0, 1); x.shape, x.stride()
        (neurarust.Size([3, 2]), (1, 3))
        """
        return self._inplace_view("transpose_", lambda t: t.transpose(dim0, dim1))

    def swapaxes_(self, axis0: int, axis1: int) -> "Tensor":
        """``transpose_(axis0, axis1)``.

        >>> import neurarust as nr
        >>> nr.zeros(2, 3).swapaxes_(0, 1).shape
        neurarust.Size([3, 2])
        """
        return self._inplace_view("swapaxes_", lambda t: t.transpose(axis0, axis1))

    def swapdims_(self, dim0: int, dim1: int) -> "Tensor":
        """``transpose_(dim0, dim1)``.

        >>> import neurarust as nr
        >>> nr.zeros(2, 3).swapdims_(0, 1).shape
        neurarust.Size([3, 2])
        """
        return self._inplace_view("swapdims_", lambda t: t.transpose(dim0, dim1))

    def t_(self) -> "Tensor":
        """``t`` in place: a matrix becomes its transpose (vectors and scalars stay as they are).

        >>> import neurarust as nr
        >>> x = nr.tensor([[1, 2, 3]]); _ = x.t_(); x.tolist()
        [[1], [2], [3]]
        """
        return self._inplace_view("t_", lambda t: t.t())

    def as_strided_(self, size: Sequence[int], stride: Sequence[int], storage_offset: int | None = None) -> "Tensor":
        """``as_strided`` in place: this tensor takes ``size``, ``stride`` and ``storage_offset`` over its
        storage.

        >>> import neurarust as nr
        >>> x = nr.arange(4); _ = x.as_strided_((2,), (2,), 1); x.tolist()
        [1, 3]
        """
        return self._inplace_view("as_strided_", lambda t: t.as_strided(size, stride, storage_offset))

    def fill_diagonal_(self, fill_value, wrap: bool = False) -> "Tensor":
        """Fill the main diagonal with ``fill_value`` in place: a tensor of at least 2 dims, all of
        the same size beyond 2 dims. ``wrap=True`` on a tall matrix restarts the diagonal every
        ``columns + 1`` rows, as PyTorch's (and NumPy's ``fill_diagonal``).

        >>> import neurarust as nr
        >>> nr.zeros(3, 3).fill_diagonal_(5).tolist()
        [[5.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 5.0]]
        >>> nr.zeros(5, 2, dtype=nr.int64).fill_diagonal_(1, wrap=True).tolist()
        [[1, 0], [0, 1], [0, 0], [1, 0], [0, 1]]
        """
        nd = self.ndim
        if nd < 2:
            raise ShapeError(f"fill_diagonal_: dimensions must larger than 1, got shape {self._shape}")
        height, width = self._shape[0], self._shape[1]
        if nd > 2 and any(s != height for s in self._shape):
            raise ShapeError(f"fill_diagonal_: all dimensions of input must be of equal length, got shape "
                             f"{self._shape}")
        _check_inplace(self, "fill_diagonal_")
        size, stride = min(height, width), builtins.sum(self._strides)
        self.as_strided((size,), (stride,)).fill_(fill_value)
        if wrap and nd == 2 and height > width + 1:
            step = width + 1
            wrap_size = (self.numel() + step - 1) // step - size
            self.as_strided((wrap_size,), (stride,), self._offset + self._strides[0] * (width + 1)).fill_(fill_value)
        return self

    def expand(self, *sizes) -> "Tensor":
        """Size-1 dims repeated to ``sizes`` (and new leading dims) with stride 0: a view, no copy.

        >>> import neurarust as nr
        >>> y = nr.tensor([[1], [2]]).expand(2, 3)
        >>> y.tolist(), y.stride()
        ([[1, 1, 1], [2, 2, 2]], (1, 0))
        """
        sizes = _sh.as_shape(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ShapeError(f"expand: the number of sizes {len(sizes)} is less than the tensor's dims {self.ndim}")
        shape, strides = [], []
        for i, want in enumerate(sizes):
            if i < lead:
                if want < 0:
                    raise ShapeError(f"expand: size -1 is not allowed in a new leading dim {i}")
                shape.append(want)
                strides.append(0)
                continue
            have, st = self._shape[i - lead], self._strides[i - lead]
            if want == -1 or want == have:
                shape.append(have)
                strides.append(st)
            elif have == 1:
                shape.append(want)
                strides.append(0)
            else:
                raise ShapeError(f"expand: cannot expand shape {self._shape} to {sizes} "
                                 f"(dim {i}: {have} is not 1)")
        # the engine sums a gradient over the dims its input was broadcast along
        return _tracked(self, self._view(shape, strides), "Expand", lambda g: g)

    def expand_as(self, other: "Tensor") -> "Tensor":
        """``expand(other.shape)``."""
        return self.expand(other.shape)

    def sum_to_size(self, *size) -> "Tensor":
        """This tensor summed down to ``size``, which must expand to its shape (the reverse of
        ``expand``): leading dims are summed away, dims where ``size`` is 1 summed with keepdim.

        >>> import neurarust as nr
        >>> nr.ones(2, 3).sum_to_size(2, 1).tolist(), nr.ones(2, 3).sum_to_size(3).tolist()
        ([[3.0], [3.0]], [2.0, 2.0, 2.0])
        """
        shape = _sh.as_shape(size)
        lead = self.ndim - len(shape)
        if lead < 0 or any(want != have and want != 1 for want, have in zip(shape, self._shape[lead:])):
            raise ShapeError(f"sum_to_size: size {list(shape)} is not expandable to size {list(self._shape)}")
        out = self
        if lead:
            out = _call("sum", out, tuple(range(lead)))
        dims = tuple(i for i, (want, have) in enumerate(zip(shape, out._shape)) if want == 1 and have != 1)
        return _call("sum", out, dims, True) if dims else out

    def where(self, condition: "Tensor", other) -> "Tensor":
        """``nr.where(condition, self, other)``: this tensor where ``condition`` holds, else ``other``.

        >>> import neurarust as nr
        >>> x = nr.tensor([1.0, -2.0, 3.0])
        >>> x.where(x > 0, 0.0).tolist()
        [1.0, 0.0, 3.0]
        """
        return _call("where", condition, self, other)

    def squeeze(self, dim: int | Sequence[int] | None = None) -> "Tensor":
        """Size-1 dims removed: all of them, or those of ``dim`` (an int or a tuple) that have size 1.

        >>> import neurarust as nr
        >>> nr.zeros(1, 3, 1).squeeze().shape, nr.zeros(1, 3, 1).squeeze(0).shape
        (neurarust.Size([3]), neurarust.Size([3, 1]))
        >>> nr.tensor(1.0).squeeze(0).shape
        neurarust.Size([])
        """
        if dim is None:
            dims = {i for i, s in enumerate(self._shape) if s == 1}
        else:
            dims = {_sh.normalize_dim(d, self.ndim) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
            # A 0-d tensor takes dim 0 or -1 (PyTorch) and has nothing to squeeze.
            dims = {d for d in dims if self.ndim and self._shape[d] == 1}
        keep = [i for i in range(self.ndim) if i not in dims]
        return _tracked(self, self._view([self._shape[i] for i in keep], [self._strides[i] for i in keep]),
                        "Squeeze", _reshape_back(self._shape))

    def unsqueeze(self, dim: int) -> "Tensor":
        """A size-1 dim inserted at ``dim`` (a view).

        >>> import neurarust as nr
        >>> nr.zeros(3).unsqueeze(-1).shape
        neurarust.Size([3, 1])
        """
        d = _sh.normalize_dim(dim, self.ndim, allow_end=True)
        stride = self._strides[d] * self._shape[d] if d < self.ndim else 1
        return _tracked(self, self._view(self._shape[:d] + (1,) + self._shape[d:],
                                         self._strides[:d] + (stride,) + self._strides[d:]),
                        "Unsqueeze", _reshape_back(self._shape))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        """Dims ``start_dim..end_dim`` merged into one (a view when the strides allow, else a copy).

        >>> import neurarust as nr
        >>> nr.zeros(2, 3, 4).flatten(1).shape
        neurarust.Size([2, 12])
        """
        if self.ndim == 0:
            return self.reshape(1)
        s, e = _sh.normalize_dim(start_dim, self.ndim), _sh.normalize_dim(end_dim, self.ndim)
        if s > e:
            raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        return self.reshape(self._shape[:s] + (_sh.numel(self._shape[s:e + 1]),) + self._shape[e + 1:])

    def unflatten(self, dim: int, sizes: Sequence[int]) -> "Tensor":
        """Dim ``dim`` split into ``sizes`` (one may be -1), a view.

        >>> import neurarust as nr
        >>> nr.zeros(2, 12).unflatten(1, (3, -1)).shape
        neurarust.Size([2, 3, 4])
        """
        d = _sh.normalize_dim(dim, self.ndim, scalar_ok=False)
        sizes = _sh.infer_size(tuple(sizes), self._shape[d])
        return self.view(self._shape[:d] + sizes + self._shape[d + 1:])

    def narrow(self, dim: int, start: int, length: int) -> "Tensor":
        """``length`` items of dim ``dim`` from ``start`` (a view).

        >>> import neurarust as nr
        >>> nr.tensor([0, 1, 2, 3, 4]).narrow(0, 1, 3).tolist()
        [1, 2, 3]
        """
        d = _sh.normalize_dim(dim, self.ndim, scalar_ok=False)
        size = self._shape[d]
        if start < 0:
            start += size
        if not (0 <= start <= size and 0 <= length <= size - start):
            raise IndexOutOfRangeError(f"narrow: start {start} + length {length} exceeds dim {dim} of size {size}")
        shape = list(self._shape)
        shape[d] = length
        return _tracked(self, self._view(shape, self._strides, self._offset + start * self._strides[d]),
                        "Narrow", _embed_back(self, lambda t: t.narrow(d, start, length)))

    def unfold(self, dimension: int, size: int, step: int) -> "Tensor":
        """Sliding windows of ``size`` along ``dimension`` every ``step`` elements, as a new last dim
        (a view).

        >>> import neurarust as nr
        >>> nr.arange(5).unfold(0, 2, 2).tolist()
        [[0, 1], [2, 3]]
        """
        d = _sh.normalize_dim(dimension, max(self.ndim, 1)) if self.ndim else 0
        have = self._shape[d] if self.ndim else 1
        if size > have or step <= 0 or size < 0:
            raise ShapeError(f"unfold: size {size} and step {step} do not fit dim {dimension} of size {have}")
        shape = list(self._shape)
        strides = list(self._strides)
        stride = strides[d] if self.ndim else 1
        if self.ndim:
            shape[d] = (have - size) // step + 1
            strides[d] = stride * step
        out = self._view(shape + [size], strides + [stride])
        if step < size:  # overlapping windows: a gradient would need summing where they overlap
            return _tracked(self, out, "Unfold", None)
        return _tracked(self, out, "Unfold", _embed_back(self, lambda t: t.unfold(dimension, size, step)))

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> "Tensor":
        """The diagonal of dims ``dim1``/``dim2`` (above it for ``offset > 0``) as a last dim: a view.

        >>> import neurarust as nr
        >>> nr.tensor([[1, 2], [3, 4]]).diagonal().tolist()
        [1, 4]
        """
        d1, d2 = _sh.normalize_dim(dim1, self.ndim), _sh.normalize_dim(dim2, self.ndim)
        if d1 == d2:
            raise ShapeError(f"diagonal: dim1 and dim2 cannot be the same ({dim1})")
        start = self._offset
        if offset >= 0:
            length = max(min(self._shape[d1], self._shape[d2] - offset), 0)
            start += offset * self._strides[d2] if length else 0
        else:
            length = max(min(self._shape[d1] + offset, self._shape[d2]), 0)
            start += -offset * self._strides[d1] if length else 0
        keep = [i for i in range(self.ndim) if i not in (d1, d2)]
        out = self._view([self._shape[i] for i in keep] + [length],
                         [self._strides[i] for i in keep] + [self._strides[d1] + self._strides[d2]], start)
        return _tracked(self, out, "Diagonal", _embed_back(self, lambda t: t.diagonal(offset, dim1, dim2)))

    def __getitem__(self, index) -> "Tensor":
        from neurarust.kernels.indexing import getitem_advanced, is_advanced_key

        if is_advanced_key(index):
            return getitem_advanced(self, index)
        return _tracked(self, _basic_index(self, index), "Index", _embed_back(self, lambda t: _basic_index(t, index)))

    def __setitem__(self, index, value) -> None:
        from neurarust.kernels.indexing import is_advanced_key, setitem_advanced

        if is_advanced_key(index):
            return setitem_advanced(self, index, value)
        target = _basic_index(self, index)
        if isinstance(value, Tensor):
            target.copy_(value)
        elif isinstance(value, (list, tuple, np.ndarray)):
            from .creation import as_tensor

            target.copy_(as_tensor(value, dtype=self._dtype, device=self.device))
        else:
            target.fill_(value)

    # -- copies -------------------------------------------------------------------------------
    def contiguous(self, memory_format: "_mf.memory_format" = _mf.contiguous_format) -> "Tensor":
        """Self if already laid out in ``memory_format`` (row-major by default), else a copy that is.

        >>> import neurarust as nr
        >>> x = nr.zeros(2, 3)
        >>> x.contiguous() is x, x.t().contiguous().is_contiguous()
        (True, True)
        """
        if memory_format is _mf.contiguous_format:
            return self if _sh.is_contiguous(self._shape, self._strides) else _call("clone", self)
        if _mf.as_memory_format(memory_format) is _mf.preserve_format:
            raise ArgumentError("contiguous(): preserve_format is not a layout a tensor can be made contiguous in")
        return self if self.is_contiguous(memory_format) else self.clone(memory_format=memory_format)

    def clone(self, *, memory_format: "_mf.memory_format" = _mf.preserve_format) -> "Tensor":
        """A copy with its own storage, laid out in ``memory_format``: by default (``preserve_format``)
        as this tensor when it is dense (a transposed tensor's copy is transposed), else row-major.

        >>> import neurarust as nr
        >>> x = nr.tensor([1, 2])
        >>> y = x.clone(); y[0] = 9
        >>> x.tolist(), y.tolist()
        ([1, 2], [9, 2])
        >>> nr.zeros(2, 3).t().clone().stride(), nr.zeros(2, 3).t().clone(memory_format=nr.contiguous_format).stride()
        ((1, 3), (2, 1))
        """
        order = _mf.layout_order(self._shape, self._strides, memory_format)
        if order == sorted(order):
            return _call("clone", self)
        out = Tensor._empty_strided(self._shape, _mf.strides_in_order(self._shape, order), self._dtype,
                                    self._storage.device)
        return out.copy_(self)

    def copy_(self, src: "Tensor", non_blocking: bool = False) -> "Tensor":
        """Copy ``src`` into self, broadcasting and casting; works across devices.

        >>> import neurarust as nr
        >>> x = nr.zeros(2, 2, dtype=nr.int32)
        >>> x.copy_(nr.tensor([1.7, 2.2])).tolist()
        [[1, 2], [1, 2]]
        """
        if not isinstance(src, Tensor):
            raise ArgumentError(f"copy_ expects a Tensor, got {type(src).__name__}")
        if src.device != self.device:
            src = src.to(self.device, non_blocking=non_blocking)
        _call("copy_", self, src)
        return self

    def fill_(self, value) -> "Tensor":
        """Set every element to ``value`` (a number or a 0-d tensor); a number the dtype cannot hold
        raises ArgumentError, as in PyTorch.

        >>> import neurarust as nr
        >>> nr.zeros(3, dtype=nr.int8).fill_(7).tolist()
        [7, 7, 7]
        >>> nr.zeros(3, dtype=nr.int8).fill_(300)
        Traceback (most recent call last):
            ...
        neurarust.errors.ArgumentError: value 300 cannot be converted to type int8 without overflow
        """
        if not isinstance(value, Tensor):
            from .creation import scalar_tensor

            value = scalar_tensor(value, self._dtype, self._storage.device, check_range=True)
        _call("fill_", self, value)
        return self

    def zero_(self) -> "Tensor":
        """Set every element to 0."""
        return self.fill_(0)

    # -- conversions --------------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """A NumPy array sharing this tensor's memory (CPU only; ``force=True`` copies from CUDA).

        >>> import neurarust as nr
        >>> x = nr.zeros(2)
        >>> a = x.numpy(); a[0] = 5.0
        >>> x.tolist()
        [5.0, 0.0]
        """
        if not force and self.requires_grad:
            raise AutogradError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if self._array is None and self._storage.device.type != "cpu":
            if not force:
                raise DeviceError(f"numpy() needs a CPU tensor, this one is on {self.device}; use .cpu() first")
            return self.cpu().numpy()
        return self._np().view()  # a fresh ndarray object: callers may reshape theirs without touching the cache

    def _np(self) -> np.ndarray:
        """The cached NumPy view of a CPU tensor (internal: the reference backend reads it)."""
        arr = self._array
        if arr is None:
            arr = self._array = self._make_array()
        return arr

    def _make_array(self) -> np.ndarray:
        flat = self._storage.numpy(self._dtype)
        if self._offset == 0 and self.is_contiguous() and flat.shape[0] == _sh.numel(self._shape):
            return flat.reshape(self._shape)
        item = self._dtype.itemsize
        strides = tuple(s * item for s in self._strides)
        try:
            # The ndarray constructor over the storage's buffer: ~0.4 us, where as_strided takes ~4 (every
            # strided view a reference op reads pays it once).
            return np.ndarray(self._shape, flat.dtype, flat, self._offset * item, strides)
        except ValueError:   # it checks the extent: a size-1 or empty dim may carry any stride
            return np.lib.stride_tricks.as_strided(flat[self._offset:], shape=self._shape, strides=strides)

    def __array__(self, dtype=None, copy=None):
        if self._storage.device.type != "cpu" or (dtype is not None and np.dtype(dtype) != self._dtype.np):
            if copy is False:
                raise ArgumentError(f"a NumPy array of this {self._dtype} tensor on {self.device} needs a copy")
            copy = False
        arr = self.numpy(force=True)
        if dtype is not None:
            arr = arr.astype(dtype)
        return arr.copy() if copy else arr

    def _python_values(self) -> np.ndarray:
        arr = self.numpy(force=True)
        # ml_dtypes' bfloat16 scalars are not Python floats; float32 holds every bfloat16 exactly.
        return arr.astype(np.float32) if self._dtype is _dt.bfloat16 else arr

    def tolist(self):
        """The values as (nested lists of) Python numbers.

        >>> import neurarust as nr
        >>> nr.tensor([[1, 2], [3, 4]]).tolist()
        [[1, 2], [3, 4]]
        """
        return self._python_values().tolist()

    def item(self):
        """The value of a one-element tensor as a Python number (synchronises on CUDA).

        >>> import neurarust as nr
        >>> nr.tensor([[2.5]]).item(), nr.tensor(3).item()
        (2.5, 3)
        """
        if self.numel() != 1:
            raise ShapeError(f"item() needs a tensor with one element, got shape {self._shape}")
        return self._python_values().reshape(()).item()

    def __float__(self):
        return builtins.float(self.item())

    def __int__(self):
        return builtins.int(self.item())

    def __index__(self):
        if self._dtype.kind not in "iu":
            raise DTypeError(f"only integer tensors can be used as an index, got {self._dtype}")
        if self.numel() != 1:
            raise ShapeError(f"only one-element tensors can be used as an index, got shape {self._shape}")
        return builtins.int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            raise ArgumentError(f"the truth value of a tensor with {self.numel()} elements is ambiguous; "
                                f"use .any() or .all()")
        return builtins.bool(self.item())

    def __format__(self, spec: str) -> str:
        return format(self.item(), spec) if not self._shape else object.__format__(self, spec)

    def __len__(self) -> int:
        if not self._shape:
            raise SignatureError("len() of a 0-d tensor")
        return self._shape[0]

    def __iter__(self) -> Iterator["Tensor"]:
        if not self._shape:
            raise SignatureError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._shape[0]))

    def to(self, *args, **kwargs) -> "Tensor":
        """Move and/or cast: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(other)``.

        Devices may be strings, ints (CUDA indices), ``nr.device`` or ``torch.device``; dtypes may be
        NeuraRust, NumPy or torch dtypes; ``memory_format=`` lays the result out in that format (see
        :mod:`neurarust.memory_formats`). Returns self when nothing changes, unless ``copy=True``.

        >>> import torch, neurarust as nr
        >>> x = nr.tensor([1, 2])
        >>> x.to(nr.float64).dtype, x.to(torch.device("cpu"), torch.float16).dtype
        (neurarust.float64, neurarust.float16)
        >>> x.to("cpu") is x, x.to("cpu", copy=True) is x
        (True, False)
        """
        fmt = _mf.as_memory_format(kwargs.pop("memory_format", _mf.preserve_format))
        dev, dt, non_blocking, copy = _parse_to(self, args, kwargs)
        out = self
        if dev is not None and dev != out.device:
            src = out.contiguous()
            storage = _own_bytes(src).copy_to(dev, non_blocking=non_blocking)
            out = Tensor(storage, src._shape, _sh.contiguous_strides(src._shape), 0, src._dtype)
            back = src.device
            out = _tracked(src, out, "ToCopy", lambda g: g.to(back), view=False)
            copy = False
        if dt is not None and dt is not out._dtype:
            out = _call("cast", out, dt)
            copy = False
        if fmt is not _mf.preserve_format and not out.is_contiguous(fmt):
            return out.clone(memory_format=fmt)
        return out.clone() if copy else out

    def cpu(self) -> "Tensor":
        """This tensor on the CPU (itself if it already is).

        >>> import neurarust as nr
        >>> x = nr.ones(2)
        >>> x.cpu() is x
        True
        """
        return self.to(CPU)

    def cuda(self, device=None, non_blocking: bool = False) -> "Tensor":
        """A copy on a CUDA device (the current one by default); DeviceError without CUDA.

        >>> import neurarust as nr
        >>> try:
        ...     on_gpu = nr.ones(2).cuda().is_cuda
        ... except nr.DeviceError:
        ...     on_gpu = False           # no GPU on this machine
        >>> on_gpu == nr.cuda.is_available()
        True
        """
        return self.to("cuda" if device is None else as_device(device if not isinstance(device, int) else f"cuda:{device}"),
                       non_blocking=non_blocking)

    def type(self, dtype=None):
        """The dtype name (``"neurarust.float32"``), or a cast to ``dtype``."""
        if dtype is None:
            return f"neurarust.{self._dtype.name}"
        return self.to(_dt.as_dtype(dtype))

    def float(self) -> "Tensor":
        """A float32 copy (itself if already float32)."""
        return self.to(_dt.float32)

    def double(self) -> "Tensor":
        """A float64 copy (itself if already float64)."""
        return self.to(_dt.float64)

    def half(self) -> "Tensor":
        """A float16 copy (itself if already float16)."""
        return self.to(_dt.float16)

    def bfloat16(self) -> "Tensor":
        """A bfloat16 copy (itself if already bfloat16)."""
        return self.to(_dt.bfloat16)

    def int(self) -> "Tensor":
        """An int32 copy (itself if already int32)."""
        return self.to(_dt.int32)

    def long(self) -> "Tensor":
        """An int64 copy (itself if already int64)."""
        return self.to(_dt.int64)

    def bool(self) -> "Tensor":
        """A bool copy (itself if already bool)."""
        return self.to(_dt.bool_)

    def byte(self) -> "Tensor":
        """A uint8 copy (itself if already uint8).

        >>> import neurarust as nr
        >>> nr.tensor([1.7, 255.0]).byte().tolist()
        [1, 255]
        """
        return self.to(_dt.uint8)

    def char(self) -> "Tensor":
        """An int8 copy (itself if already int8).

        >>> import neurarust as nr
        >>> nr.tensor([-3.5, 2.0]).char().dtype
        neurarust.int8
        """
        return self.to(_dt.int8)

    def short(self) -> "Tensor":
        """An int16 copy (itself if already int16).

        >>> import neurarust as nr
        >>> nr.tensor([1, 2]).short().dtype
        neurarust.int16
        """
        return self.to(_dt.int16)

    # -- pickling, copying, DLPack -----------------------------------------------------------
    def __reduce__(self):
        data = self.detach().contiguous().numpy(force=True).tobytes()
        return (_rebuild, (data, self._shape, self._dtype.name, str(self.device), self.requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        if not self.is_leaf:
            raise AutogradError("Only Tensors created explicitly by the user (graph leaves) support the "
                                "deepcopy protocol; detach() first")
        out = self.detach().clone()
        if self.requires_grad:
            out.requires_grad_()
        memo[id(self)] = out
        return out

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """Export as a DLPack capsule without a copy (``neurarust.from_dlpack`` reads one back).

        >>> import numpy as np, neurarust as nr
        >>> t = nr.ones(3)
        >>> np.shares_memory(np.from_dlpack(t), t.numpy())
        True
        """
        if self.requires_grad:
            raise AutogradError("Can't export a tensor that requires grad through DLPack; use tensor.detach()")
        kwargs = {k: v for k, v in (("max_version", max_version), ("dl_device", dl_device), ("copy", copy))
                  if v is not None}
        if self.device.type == "cpu" and self._dtype is not _dt.bfloat16:
            return self.numpy().__dlpack__(**kwargs)
        # NumPy has no DLPack bfloat16, and CUDA memory is torch's: torch exports both.
        return _torch_alias(self).__dlpack__(stream=stream, **kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0) if self.device.type == "cpu" else (2, self.device.index or 0)

    # -- printing -----------------------------------------------------------------------------
    def __repr__(self) -> str:
        from .printing import tensor_repr

        return tensor_repr(self)

    __hash__ = object.__hash__

    # -- operators (each is a registry op) ----------------------------------------------------
    def __add__(self, other):
        return _call("add", self, other)

    def __radd__(self, other):
        return _call("add", other, self)

    def __iadd__(self, other):
        return _call("add", self, other, out=self)

    def __sub__(self, other):
        return _call("sub", self, other)

    def __rsub__(self, other):
        return _call("sub", other, self)

    def __isub__(self, other):
        return _call("sub", self, other, out=self)

    def __mul__(self, other):
        return _call("mul", self, other)

    def __rmul__(self, other):
        return _call("mul", other, self)

    def __imul__(self, other):
        return _call("mul", self, other, out=self)

    def __truediv__(self, other):
        return _call("div", self, other)

    def __rtruediv__(self, other):
        return _call("div", other, self)

    def __itruediv__(self, other):
        return _call("div", self, other, out=self)

    def __floordiv__(self, other):
        return _call("div", self, other, rounding_mode="floor")

    def __rfloordiv__(self, other):
        return _call("div", other, self, rounding_mode="floor")

    def __ifloordiv__(self, other):
        return _call("div", self, other, rounding_mode="floor", out=self)

    def __pow__(self, other):
        return _call("pow", self, other)

    def __rpow__(self, other):
        return _call("pow", other, self)

    def __ipow__(self, other):
        return _call("pow", self, other, out=self)

    def __matmul__(self, other):
        return _call("matmul", self, other)

    def __rmatmul__(self, other):
        return _call("matmul", other, self)

    def __mod__(self, other):
        return _call("remainder", self, other)

    def __rmod__(self, other):
        return _call("remainder", other, self)

    def __imod__(self, other):
        return _call("remainder", self, other, out=self)

    def __and__(self, other):
        return _call("bitwise_and", self, other)

    def __rand__(self, other):
        return _call("bitwise_and", other, self)

    def __iand__(self, other):
        return _call("bitwise_and", self, other, out=self)

    def __or__(self, other):
        return _call("bitwise_or", self, other)

    def __ror__(self, other):
        return _call("bitwise_or", other, self)

    def __ior__(self, other):
        return _call("bitwise_or", self, other, out=self)

    def __xor__(self, other):
        return _call("bitwise_xor", self, other)

    def __rxor__(self, other):
        return _call("bitwise_xor", other, self)

    def __ixor__(self, other):
        return _call("bitwise_xor", self, other, out=self)

    def __lshift__(self, other):
        return _call("bitwise_left_shift", self, other)

    def __rlshift__(self, other):
        return _call("bitwise_left_shift", other, self)

    def __ilshift__(self, other):
        return _call("bitwise_left_shift", self, other, out=self)

    def __rshift__(self, other):
        return _call("bitwise_right_shift", self, other)

    def __rrshift__(self, other):
        return _call("bitwise_right_shift", other, self)

    def __irshift__(self, other):
        return _call("bitwise_right_shift", self, other, out=self)

    def __invert__(self):
        return _call("bitwise_not", self)

    def __neg__(self):
        return _call("neg", self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _call("abs", self)

    def __eq__(self, other):
        return _call("eq", self, other)

    def __ne__(self, other):
        return _call("ne", self, other)

    def __lt__(self, other):
        return _call("lt", self, other)

    def __le__(self, other):
        return _call("le", self, other)

    def __gt__(self, other):
        return _call("gt", self, other)

    def __ge__(self, other):
        return _call("ge", self, other)

    def __getattr__(self, name: str):
        # Methods of registry ops (x.exp(), x.sum(dim=1), x.add_(y)) resolve here on first use.
        if name.startswith("__"):
            raise AttributeError(name)
        from .registry import tensor_method

        method = tensor_method(name)
        if method is None:
            raise AttributeError(f"'Tensor' object has no attribute '{name}'")
        return method.__get__(self, Tensor)


def _tracked(base: Tensor, out: Tensor, name: str, backward, view: bool = True) -> Tensor:
    """Record ``out`` (made from ``base`` without an op: a view or a device copy) in the graph when
    ``base`` requires grad. ``backward(grad_of_out) -> grad_of_base``; None: not differentiable."""
    m = base._autograd
    if m is not None and m.requires_grad:
        from neurarust.autograd.views import record_view

        record_view(name, base, out, backward, view)
    elif view and out._base is not None:
        from neurarust.autograd.views import record_latent_view

        record_latent_view(out)
    return out


def _reshape_back(shape: tuple):
    return lambda g: g.reshape(shape)


def _embed_back(base: Tensor, replay):
    """The backward of a view that picks elements: zeros of ``base``'s shape with the gradient written
    where ``replay`` (the same view op) puts it."""
    shape = base._shape

    def backward(g):
        from neurarust.autograd.views import embed

        return embed(g, shape, replay)

    return backward


class _DataAlias(Tensor):
    """What ``x.data`` returns: a plain tensor over ``x``'s memory whose in-place writes (and those
    through its views) autograd does not count (see ``Tensor._version``)."""

    __slots__ = ()


def _set_data(t: Tensor, value: Tensor) -> None:
    """Point ``t`` at ``value``'s memory, shape and dtype in place (``x.data = value``,
    ``param.data = value``); ``t`` keeps its autograd state."""
    t._storage, t._shape, t._strides = value._storage, value._shape, value._strides
    t._offset, t._dtype, t._array, t._base = value._offset, value._dtype, None, None


def _check_inplace(t: Tensor, name: str) -> None:
    """Refuse, in grad mode, an in-place op on a leaf that requires grad or on a view of one (the
    check the registry's in-place calls make, for the in-place methods written here)."""
    m = t._autograd
    if m is None:
        written = t._base  # a plain view: its base may be a leaf that requires grad
        m = None if written is None else written._autograd
    else:
        # a leaf of its own (also a view made a leaf with requires_grad_()), else a view of a leaf
        written = t if m.requires_grad and m.grad_fn is None or t._base is None else t._base
        m = written._autograd
    if m is None or not m.requires_grad or m.grad_fn is not None:
        return
    from neurarust.autograd import grad_mode

    if grad_mode._state.enabled:
        what = "a leaf Variable" if written is t else "a view of a leaf Variable"
        raise AutogradError(f"{name}: {what} that requires grad is being used in an in-place operation "
                            f"(shape {list(t._shape)}); wrap it in nr.no_grad() if you mean to update it")


def _write_inplace(t: Tensor, name: str, fn, args: tuple, kwargs: dict) -> Tensor:
    """``t.copy_(fn(t, *args, **kwargs))``: the in-place form of a composition, with the checks of an
    in-place op (leaf refused, result dtype castable to ``t``'s, result shape ``t``'s). While recording,
    ``fn`` reads a recorded copy of ``t``, so the tensors its ops save are not the ones overwritten."""
    _check_inplace(t, name)
    src = t
    if _registry._grad_hook is not None:
        from neurarust.autograd import grad_mode
        from neurarust.autograd.graph import requires_grad

        if grad_mode._state.enabled and (requires_grad(t) or builtins.any(
                requires_grad(a) for a in (*args, *kwargs.values()))):
            src = t.clone()
    result = fn(src, *args, **kwargs)
    if not isinstance(result, Tensor):
        raise SignatureError(f"{name}: expected a tensor result, got {type(result).__name__}")
    if result._shape != t._shape:
        raise ShapeError(f"{name}: output with shape {list(t._shape)} doesn't match the broadcast shape "
                         f"{list(result._shape)}")
    if _dt._category(result._dtype) > _dt._category(t._dtype):
        raise DTypeError(f"{name}: result type {result._dtype} can't be cast to the desired output type {t._dtype}")
    return t.copy_(result)


def _check_as_strided(t: Tensor, size: tuple, stride: tuple, offset: int) -> None:
    if len(size) != len(stride):
        raise ShapeError(f"as_strided: mismatch in length of strides and shape: size {list(size)}, "
                         f"stride {list(stride)}")
    if builtins.any(s < 0 for s in size) or builtins.any(s < 0 for s in stride):
        raise ArgumentError(f"as_strided: negative sizes or strides are not supported, got size {list(size)} "
                            f"and stride {list(stride)}")
    if offset < 0:
        raise ArgumentError(f"as_strided: storage_offset must be non-negative, got {offset}")
    if 0 in size:
        return
    need = offset + 1 + builtins.sum((n - 1) * st for n, st in zip(size, stride))
    have = t._storage.nbytes // t._dtype.itemsize
    if need > have:
        raise ShapeError(f"as_strided: size {list(size)}, stride {list(stride)} and storage offset {offset} need "
                         f"a storage of {need} {t._dtype} elements, out of bounds for a storage of {have}")


def _positions(shape: tuple, strides: tuple, offset: int) -> np.ndarray:
    """The storage position (in elements) of every element of a strided tensor, in row-major order."""
    pos = np.full((), offset, dtype=np.int64)
    for n, st in zip(shape, strides):
        pos = pos[..., None] + np.arange(n, dtype=np.int64) * st
    return pos.reshape(-1)


def _as_strided_back(base: Tensor, size: tuple, stride: tuple, offset: int):
    """The backward of ``base.as_strided(size, stride, offset)``: each gradient element is added to
    the element of ``base`` at the same storage position (``index_put`` with accumulation, itself
    differentiable). Captures geometry only, never ``base``."""
    shape, strides, base_offset = base._shape, base._strides, base._offset

    def backward(g: Tensor) -> Tensor:
        from .creation import tensor, zeros

        base_pos = _positions(shape, strides, base_offset)
        lo = builtins.int(base_pos.min()) if base_pos.size else 0
        lut = np.full(builtins.int(base_pos.max()) - lo + 1 if base_pos.size else 1, -1, dtype=np.int64)
        lut[base_pos - lo] = np.arange(base_pos.size, dtype=np.int64)
        if np.count_nonzero(lut >= 0) != base_pos.size:
            raise AutogradError(f"as_strided: the input (shape {list(shape)}, strides {list(strides)}) has "
                                "overlapping elements (expand); its gradient cannot be formed")
        pos = _positions(size, stride, offset) - lo
        inside = (pos >= 0) & (pos < lut.size)
        index = np.where(inside, lut[np.clip(pos, 0, lut.size - 1)], -1)
        if (index < 0).any():
            raise AutogradError(f"as_strided: the view (size {list(size)}, stride {list(stride)}, storage offset "
                                f"{offset}) reaches memory outside its input (shape {list(shape)}, strides "
                                f"{list(strides)}, storage offset {base_offset}); its gradient cannot be formed")
        flat = zeros(_sh.numel(shape), dtype=g.dtype, device=g.device)
        idx = tensor(index, dtype=_dt.int64, device=g.device)
        return _call("index_put", flat, (idx,), g.reshape(-1), True).reshape(shape)

    return backward


def _rebuild(data: bytes, shape, dtype_name: str, dev: str, requires_grad: bool = False) -> Tensor:
    d = _dt.as_dtype(dtype_name)
    arr = np.frombuffer(bytearray(data), dtype=d.np).reshape(shape)
    t = Tensor._from_array(arr, d)
    t = t if dev == "cpu" else t.to(dev)
    return t.requires_grad_() if requires_grad else t


def _torch_alias(t: Tensor):
    """A torch tensor that aliases ``t``'s memory (for Triton launches and DLPack export)."""
    flat = t._storage.torch(t._dtype)
    import torch

    return torch.as_strided(flat, t._shape, t._strides, t._offset)


def _parse_to(t: Tensor, args, kwargs):
    dev = kwargs.pop("device", None)
    dt = kwargs.pop("dtype", None)
    non_blocking = kwargs.pop("non_blocking", False)
    copy = kwargs.pop("copy", False)
    if kwargs:
        raise ArgumentError(f"to() got unexpected arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dt = a.device, a.dtype
        elif isinstance(a, builtins.bool):
            non_blocking = a
        elif _is_device_like(a):
            dev = a
        elif a is not None:
            dt = a
    return (as_device(dev) if dev is not None else None, _dt.as_dtype(dt) if dt is not None else None,
            non_blocking, copy)


def _own_bytes(t: Tensor) -> Storage:
    """The bytes of contiguous ``t`` alone (a view into its storage), so a device copy moves no more."""
    start = t._offset * t._dtype.itemsize
    stop = start + t.numel() * t._dtype.itemsize
    if start == 0 and stop == t._storage.nbytes:
        return t._storage
    return Storage(t._storage._bytes[start:stop], t._storage.device)


def _is_device_like(x) -> bool:
    """Strings, ints, NeuraRust and torch devices (``torch.device`` is a type in module torch)."""
    return isinstance(x, (str, device, builtins.int)) or (type(x).__name__ == "device" and type(x).__module__ == "torch")


def _is_dtype_like(x) -> bool:
    return not isinstance(x, (tuple, list)) and not hasattr(x, "__index__")


def _int_index(i):
    """``i`` as a Python int if it is one (ints, NumPy ints, one-element integer tensors), else None."""
    if isinstance(i, builtins.bool):
        return None
    if isinstance(i, Tensor):
        return i.__index__() if i.ndim == 0 and i._dtype.kind in "iu" else None
    return i.__index__() if hasattr(i, "__index__") and not isinstance(i, np.ndarray) else None


def _basic_index(t: Tensor, index) -> Tensor:
    """ints, slices (positive steps), None and Ellipsis, applied left to right as torch does: a view."""
    if not isinstance(index, tuple):
        index = (index,)
    items = []
    for i in index:
        k = _int_index(i)
        if k is None and not (i is None or i is Ellipsis or isinstance(i, slice)):
            raise IndexOutOfRangeError(
                f"advanced indexing ({type(i).__name__} index) is not available yet; use ints, slices, None and ...")
        items.append(i if k is None else k)
    n_real = sum(1 for i in items if i is not None and i is not Ellipsis)
    if n_real > t.ndim:
        raise IndexOutOfRangeError(f"too many indices for a tensor of {t.ndim} dims: {n_real}")
    if sum(1 for i in items if i is Ellipsis) > 1:
        raise IndexOutOfRangeError("an index can only have a single ellipsis ('...')")
    shape, strides, offset, dim = list(t._shape), list(t._strides), t._offset, 0
    for i in items:
        if i is Ellipsis:
            dim += t.ndim - n_real
        elif i is None:
            # torch's unsqueeze stride: the size x stride of the dim it is inserted before.
            strides.insert(dim, shape[dim] * strides[dim] if dim < len(shape) else 1)
            shape.insert(dim, 1)
            dim += 1
        elif isinstance(i, slice):
            if i.step is not None and i.step <= 0:
                raise ArgumentError(f"slice step must be positive, got {i.step}")
            start, stop, step = i.indices(shape[dim])
            offset += start * strides[dim]
            shape[dim] = max(0, (stop - start + step - 1) // step)
            strides[dim] *= step
            dim += 1
        else:
            size = shape[dim]
            if not -size <= i < size:
                raise IndexOutOfRangeError(f"index {i} is out of bounds for dimension {dim} with size {size}")
            offset += (i % size) * strides[dim]
            del shape[dim], strides[dim]
    return t._view(shape, strides, offset)


from . import registry as _registry  # noqa: E402  (registry imports tensor lazily only)
from .registry import OPS as _OPS, get as _get_op  # noqa: E402


def _composition_method(module: str, name: str):
    """A Tensor method that calls the top-level function ``name`` of ``neurarust.<module>`` (imported
    on first call: the compositions load after the core)."""
    def method(self, *args, **kwargs):
        import importlib

        return getattr(importlib.import_module(f"neurarust.{module}"), name)(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"``neurarust.{name}(self, ...)``: see :func:`neurarust.{module}.{name}`."
    return method


# PyTorch's Tensor methods whose functions are compositions of registry ops.
for _module, _names in (("compositions", ("clip", "nansum", "nanmean", "count_nonzero", "take_along_dim", "diff",
                                          "ravel", "fliplr", "flipud", "rot90", "tensor_split", "hsplit", "vsplit",
                                          "dsplit", "argwhere", "msort", "clamp_min", "clamp_max", "true_divide",
                                          "deg2rad", "rad2deg", "frac", "sgn", "signbit", "xlogy", "hypot",
                                          "logaddexp", "logit", "masked_scatter", "unique_consecutive", "fmax",
                                          "fmin", "float_power", "gcd", "lcm", "heaviside", "ldexp", "frexp",
                                          "logaddexp2", "nextafter", "renorm", "dist", "aminmax", "quantile",
                                          "nanquantile", "nanmedian", "histogram", "cov", "corrcoef", "mvlgamma")),
                        ("matrices", ("diag_embed", "diag", "trace", "kron", "inner", "vdot", "cross", "addr",
                                      "diagflat", "matrix_power", "inverse", "det", "logdet", "slogdet",
                                      "cholesky")),
                        ("linalg_top_level", ("cholesky_solve", "cholesky_inverse", "lu", "lu_solve",
                                              "triangular_solve", "ger")),
                        ("spectral", ("pinverse", "matrix_exp", "svd"))):
    for _name in _names:
        if _name not in vars(Tensor):
            setattr(Tensor, _name, _composition_method(_module, _name))


def _masked_scatter_(self: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """In-place :func:`neurarust.masked_scatter`: ``self`` filled where ``mask`` holds from ``source``."""
    from .compositions import masked_scatter

    return self.copy_(masked_scatter(self, mask, source))


Tensor.masked_scatter_ = _masked_scatter_


# -- PyTorch's alias methods, in-place forms and Tensor methods of top-level compositions ----------
# (neurarust/aliases.py, pointwise.py, scatters.py and views.py hold the top-level functions.)

# name -> (registry op, example arguments): the alias calls the op; ``name_`` calls it with out=self.
_OP_ALIASES = {"absolute": ("abs", ""), "arccos": ("acos", ""), "arcsin": ("asin", ""), "arctan": ("atan", ""),
               "arctan2": ("atan2", "x"), "greater": ("gt", "0.0"), "greater_equal": ("ge", "0.5"),
               "less": ("lt", "0.0"), "less_equal": ("le", "0.5"), "not_equal": ("ne", "0.5"),
               "multiply": ("mul", "3.0"), "divide": ("div", "4.0"), "subtract": ("sub", "1.0"),
               "negative": ("neg", ""), "fix": ("trunc", "")}


def _alias_method(name: str, op: str, example: str, inplace: bool):
    if inplace:
        def method(self, *args, **kwargs):
            _check_inplace(self, name + "_")
            return _call(op, self, *args, out=self, **kwargs)
    else:
        def method(self, *args, **kwargs):
            return _call(op, self, *args, **kwargs)
    suffix = "_" if inplace else ""
    method.__name__ = method.__qualname__ = name + suffix
    method.__doc__ = (f"``Tensor.{op}{suffix}`` under PyTorch's other name ``{name}{suffix}``"
                      f"{' (in place: a leaf that requires grad is refused)' if inplace else ''}.\n\n"
                      f"        >>> import neurarust as nr\n"
                      f"        >>> x = nr.tensor([0.5, -0.25])\n"
                      f"        >>> x.clone().{name}{suffix}({example}).tolist() == x.{op}({example}).tolist()\n"
                      f"        True\n")
    return method


for _name, (_op, _example) in _OP_ALIASES.items():
    for _inplace in (False, True):
        if _name + "_" * _inplace not in vars(Tensor):
            setattr(Tensor, _name + "_" * _inplace, _alias_method(_name, _op, _example, _inplace))


def _true_divide_(self: Tensor, other) -> Tensor:
    """``div_(other)``: true division in place (an integer tensor raises DTypeError, its float result
    cannot be written back).

    >>> import neurarust as nr
    >>> nr.tensor([1.0, 3.0]).true_divide_(2).tolist()
    [0.5, 1.5]
    """
    _check_inplace(self, "true_divide_")
    return _call("div", self, other, out=self)


def _clamp_min_(self: Tensor, min) -> Tensor:
    """``clamp_(min=min)``.

    >>> import neurarust as nr
    >>> nr.tensor([-1.0, 2.0]).clamp_min_(0).tolist()
    [0.0, 2.0]
    """
    _check_inplace(self, "clamp_min_")
    return _call("clamp", self, min, None, out=self)


def _clamp_max_(self: Tensor, max) -> Tensor:
    """``clamp_(max=max)``.

    >>> import neurarust as nr
    >>> nr.tensor([-1.0, 2.0]).clamp_max_(1).tolist()
    [-1.0, 1.0]
    """
    _check_inplace(self, "clamp_max_")
    return _call("clamp", self, None, max, out=self)


def _clip_(self: Tensor, min=None, max=None) -> Tensor:
    """``clamp_(min, max)`` under NumPy's name.

    >>> import neurarust as nr
    >>> nr.tensor([-2.0, 0.5, 3.0]).clip_(-1, 1).tolist()
    [-1.0, 0.5, 1.0]
    """
    _check_inplace(self, "clip_")
    return _call("clamp", self, min, max, out=self)


for _name, _fn in (("true_divide_", _true_divide_), ("clamp_min_", _clamp_min_), ("clamp_max_", _clamp_max_),
                   ("clip_", _clip_)):
    if _name not in vars(Tensor):
        setattr(Tensor, _name, _fn)


def _composition_inplace(module: str | None, fn_name: str, name: str, values: str, example: str):
    """``name`` (``x.cumsum_(0)``): ``x`` overwritten with ``fn_name(x, ...)``, the top-level function
    of ``neurarust.<module>`` (a registry op when ``module`` is None), with in-place checks."""
    def method(self, *args, **kwargs):
        if module is None:
            fn = lambda t, *a, **k: _call(fn_name, t, *a, **k)  # noqa: E731
        else:
            import importlib

            fn = getattr(importlib.import_module(f"neurarust.{module}"), fn_name)
        return _write_inplace(self, name, fn, args, kwargs)

    where = f":func:`neurarust.{module}.{fn_name}`" if module else f"``Tensor.{fn_name}``"
    method.__name__ = method.__qualname__ = name
    method.__doc__ = (f"In place {where}: this tensor overwritten with its result (which must keep its shape "
                      f"and cast to its dtype; a leaf that requires grad is refused).\n\n"
                      f"        >>> import neurarust as nr\n"
                      f"        >>> x = nr.tensor({values})\n"
                      f"        >>> y = x.{fn_name}({example}); x.{name}({example}) is x and x.tolist() == y.tolist()\n"
                      f"        True\n")
    return method


for _module, _fn_name, _name, _values, _example in (
        (None, "cumsum", "cumsum_", "[1.0, 2.0, 3.0]", "0"),
        (None, "cumprod", "cumprod_", "[1.0, 2.0, 3.0]", "0"),
        (None, "addmm", "addmm_", "[[1.0, 2.0], [3.0, 4.0]]", "nr.ones(2, 2), nr.ones(2, 2), beta=2"),
        (None, "addmv", "addmv_", "[1.0, 2.0]", "nr.ones(2, 2), nr.ones(2), alpha=3"),
        (None, "addbmm", "addbmm_", "[[1.0, 2.0], [3.0, 4.0]]", "nr.ones(3, 2, 2), nr.ones(3, 2, 2)"),
        (None, "baddbmm", "baddbmm_", "[[[1.0, 2.0], [3.0, 4.0]]]", "nr.ones(1, 2, 2), nr.ones(1, 2, 2), alpha=0.5"),
        ("compositions", "deg2rad", "deg2rad_", "[180.0, 90.0]", ""),
        ("compositions", "rad2deg", "rad2deg_", "[3.0, 1.5]", ""),
        ("compositions", "frac", "frac_", "[1.5, -2.25]", ""),
        ("compositions", "sgn", "sgn_", "[1.5, -2.0, 0.0]", ""),
        ("compositions", "hypot", "hypot_", "[3.0, 5.0]", "nr.tensor([4.0, 12.0])"),
        ("compositions", "xlogy", "xlogy_", "[0.0, 2.0]", "3.0"),
        ("compositions", "logit", "logit_", "[0.25, 0.5]", ""),
        ("pointwise", "acosh", "acosh_", "[1.0, 2.0]", ""),
        ("pointwise", "asinh", "asinh_", "[-1.0, 2.0]", ""),
        ("pointwise", "atanh", "atanh_", "[-0.5, 0.25]", ""),
        ("pointwise", "arccosh", "arccosh_", "[1.0, 2.0]", ""),
        ("pointwise", "arcsinh", "arcsinh_", "[-1.0, 2.0]", ""),
        ("pointwise", "arctanh", "arctanh_", "[-0.5, 0.25]", ""),
        ("scatters", "put", "put_", "[1.0, 2.0, 3.0]", "nr.tensor([-1]), nr.tensor([9.0])"),
        ("scatters", "index_reduce", "index_reduce_", "[[1.0, 2.0], [3.0, 4.0]]",
         "0, nr.tensor([0, 0]), nr.full((2, 2), 3.0), 'prod'")):
    if _name not in vars(Tensor):
        setattr(Tensor, _name, _composition_inplace(_module, _fn_name, _name, _values, _example))

for _module, _names in (("pointwise", ("acosh", "asinh", "atanh", "arccosh", "arcsinh", "arctanh", "isneginf",
                                       "isposinf", "isreal", "positive")),
                        ("scatters", ("put", "index_reduce", "select_scatter", "slice_scatter", "diagonal_scatter",
                                      "as_strided_scatter")),
                        ("views", ("select", "movedim", "moveaxis", "broadcast_to", "narrow_copy")),
                        ("aliases", ("split_with_sizes", "unsafe_split", "unsafe_chunk", "unsafe_split_with_sizes"))):
    for _name in _names:
        if _name not in vars(Tensor):
            setattr(Tensor, _name, _composition_method(_module, _name))


# -- random fills made of the Philox fills (same values on every backend) ---------------------------

def _random_transform(t: Tensor, fill, transform) -> Tensor:
    """``fill(t)`` (a registry random fill, which cuts ``t``'s history) then ``transform(t)`` in place
    outside the graph: the draw's values carry no gradient."""
    fill(t)
    if _registry._grad_hook is None:
        transform(t)
        return t
    from neurarust.autograd.grad_mode import no_grad

    with no_grad():
        transform(t)
    return t


def _check_float_fill(t: Tensor, name: str) -> None:
    if not t._dtype.is_floating_point:
        raise DTypeError(f"{name} is only implemented for floating point tensors (a continuous distribution), "
                         f"got {t._dtype}")


def _log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *, generator=None) -> Tensor:
    """Fill in place with log-normal samples: ``exp`` of normal samples of mean ``mean`` and standard
    deviation ``std`` (``normal_`` then ``exp_``: the Philox draws, the same on every backend).

    >>> import neurarust as nr
    >>> _ = nr.manual_seed(0)
    >>> bool((nr.empty(4).log_normal_(0.0, 0.5) > 0).all())
    True
    """
    _check_inplace(self, "log_normal_")
    _check_float_fill(self, "log_normal_")
    if not std > 0:
        raise ArgumentError(f"log_normal_ expects std > 0.0, but found std={std}")
    return _random_transform(self, lambda t: t.normal_(mean, std, generator=generator), lambda t: t.exp_())


def _cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator=None) -> Tensor:
    """Fill in place with Cauchy samples: ``median + sigma * tan(pi * (u - 1/2))`` of uniform samples
    ``u`` in [0, 1) (``uniform_``, then elementwise ops: the same on every backend).

    >>> import neurarust as nr
    >>> _ = nr.manual_seed(0)
    >>> x = nr.empty(1001, dtype=nr.float64).cauchy_(2.0, 0.5)
    >>> 1.8 < x.median().item() < 2.2
    True
    """
    _check_inplace(self, "cauchy_")
    _check_float_fill(self, "cauchy_")
    if not sigma > 0:
        raise ArgumentError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")

    def transform(t: Tensor) -> None:
        t.sub_(0.5).mul_(np.pi).tan_().mul_(sigma).add_(median)

    return _random_transform(self, lambda t: t.uniform_(generator=generator), transform)


def _geometric_(self: Tensor, p: float, *, generator=None) -> Tensor:
    """Fill in place with geometric samples (the trial of the first success, from 1): ``ceil`` of
    exponential samples of rate ``-log(1 - p)`` (``exponential_``, ``ceil_``: the same on every
    backend). Integer tensors take the values drawn in float64.

    >>> import neurarust as nr
    >>> _ = nr.manual_seed(0)
    >>> x = nr.empty(1000, dtype=nr.int64).geometric_(0.5)
    >>> bool((x >= 1).all()), 1.8 < x.double().mean().item() < 2.2
    (True, True)
    """
    _check_inplace(self, "geometric_")
    if not 0 < p < 1:
        raise ArgumentError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    rate = -np.log1p(-builtins.float(p))

    def transform(t: Tensor) -> None:
        t.ceil_().clamp_(1, None)  # u = 0 draws exactly 0: the first trial

    if self._dtype.is_floating_point:
        return _random_transform(self, lambda t: t.exponential_(rate, generator=generator), transform)
    draws = Tensor._empty(self._shape, _dt.float64, self._storage.device)
    _random_transform(draws, lambda t: t.exponential_(rate, generator=generator), transform)
    return self.copy_(draws)


for _name, _fn in (("log_normal_", _log_normal_), ("cauchy_", _cauchy_), ("geometric_", _geometric_)):
    if _name not in vars(Tensor):
        _fn.__name__ = _fn.__qualname__ = _name
        setattr(Tensor, _name, _fn)

# More Tensor methods and properties, each module installing its own on import.
from . import predicates, real_complex, tensor_more  # noqa: E402
del predicates, real_complex, tensor_more
