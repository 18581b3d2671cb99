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

    @property
    def _version(self) -> int:
        # Kept on the Storage, so every view of the same bytes sees every in-place write.
        return self._storage.version

    def _bump_version(self) -> None:
        self._storage.version += 1

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
        return Tensor(self._storage, self._shape, self._strides, self._offset, self._dtype)

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
                                          "logaddexp", "logit", "masked_scatter", "unique_consecutive")),
                        ("matrices", ("diag_embed", "diag", "trace", "kron", "inner", "vdot"))):
    for _name in _names:
        if _name not in vars(Tensor):
            setattr(Tensor, _name, _composition_method(_module, _name))


def _masked_scatter_(self: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """In-place :func:`neurarust.masked_scatter`: ``self`` filled where ``mask`` holds from ``source``."""
    from .compositions import masked_scatter

    return self.copy_(masked_scatter(self, mask, source))


Tensor.masked_scatter_ = _masked_scatter_
