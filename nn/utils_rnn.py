"""``neurarust.nn.utils.rnn``: variable-length sequences for the recurrent layers. Packing and
unpacking are one ``index_select`` each (indices computed on the host from the lengths, which
PyTorch also keeps on the CPU), so gradients flow through them::

    >>> import neurarust as nr
    >>> from neurarust.nn.utils.rnn import pack_sequence, pad_packed_sequence
    >>> packed = pack_sequence([nr.tensor([1.0, 2.0, 3.0]), nr.tensor([4.0])])
    >>> packed.data.tolist(), packed.batch_sizes.tolist()
    ([1.0, 4.0, 2.0, 3.0], [2, 1, 1])
    >>> padded, lengths = pad_packed_sequence(packed, batch_first=True)
    >>> padded.tolist(), lengths.tolist()
    ([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]], [3, 1])
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Sequence

from neurarust import registry
from neurarust.creation import full, tensor
from neurarust.errors import ArgumentError, ShapeError
from neurarust.tensor import Tensor

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence", "invert_permutation"]


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """Time-major packed rows: ``data`` holds step 0 of every sequence, then step 1 of those still
    running, ...; ``batch_sizes[t]`` (CPU int64) counts them. ``sorted_indices`` maps the packed
    order to the original batch and ``unsorted_indices`` back (None when the input was sorted).

    >>> import neurarust as nr
    >>> from neurarust.nn.utils.rnn import PackedSequence
    >>> PackedSequence(nr.ones(3), nr.tensor([2, 1])).batch_sizes.tolist()
    [2, 1]
    """
    __slots__ = ()

    def __new__(cls, data: Tensor, batch_sizes: Tensor, sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> "PackedSequence":
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _inverse(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> "PackedSequence":
        """The same sequence with ``data`` (and the index tensors, for a device) moved or cast."""
        data = self.data.to(*args, **kwargs)
        move = (lambda t: None if t is None else t.to(data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        """Whether ``data`` is in pinned host memory (never, here: no pinned allocator)."""
        return False

    def cpu(self) -> "PackedSequence":
        return self.to("cpu")

    def cuda(self, *args: Any, **kwargs: Any) -> "PackedSequence":
        return type(self)(self.data.cuda(*args, **kwargs), self.batch_sizes, *(
            None if t is None else t.cuda(*args, **kwargs) for t in (self.sorted_indices, self.unsorted_indices)))


def _cast_method(dtype_name: str):
    def cast(self: PackedSequence) -> PackedSequence:
        from neurarust import dtype as _dt

        return self.to(getattr(_dt, dtype_name))

    cast.__doc__ = f"The same sequence with ``data`` cast to {dtype_name}."
    return cast


for _method, _dtype in (("double", "float64"), ("float", "float32"), ("half", "float16"), ("long", "int64"),
                        ("int", "int32"), ("short", "int16"), ("char", "int8"), ("byte", "uint8")):
    setattr(PackedSequence, _method, _cast_method(_dtype))


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a permutation of ``0 .. n - 1`` (None stays None).

    >>> import neurarust as nr
    >>> from neurarust.nn.utils.rnn import invert_permutation
    >>> invert_permutation(nr.tensor([2, 0, 1])).tolist()
    [1, 2, 0]
    """
    return None if permutation is None else _inverse(permutation)


def _inverse(perm: Tensor) -> Tensor:
    order = perm.tolist()
    inv = [0] * len(order)
    for i, p in enumerate(order):
        inv[p] = i
    return tensor(inv, device=perm.device)


def _lengths_list(lengths: Any) -> list:
    values = lengths.tolist() if isinstance(lengths, Tensor) else [int(v) for v in lengths]
    if any(v <= 0 for v in values):
        raise ArgumentError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                            "that is <= 0")
    return values


def pad_sequence(sequences: Sequence[Tensor], batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of shape ``(L_i, *)`` into ``(T, B, *)`` (or ``(B, T, *)``), padded to the
    longest with ``padding_value`` on the ``padding_side``.

    >>> import neurarust as nr
    >>> from neurarust.nn.utils.rnn import pad_sequence
    >>> pad_sequence([nr.tensor([1.0]), nr.tensor([2.0, 3.0])], padding_side="left").tolist()
    [[0.0, 2.0], [1.0, 3.0]]
    """
    if padding_side not in ("left", "right"):
        raise ArgumentError(f"padding_side must be 'left' or 'right', but got {padding_side!r}")
    sequences = list(sequences)
    if not sequences:
        raise ArgumentError("received an empty list of sequences")
    trailing = tuple(sequences[0].shape[1:])
    for s in sequences:
        if tuple(s.shape[1:]) != trailing:
            raise ShapeError(f"pad_sequence: trailing dimensions differ: {list(s.shape)} vs {[None, *trailing]}")
    longest = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        if s.shape[0] == longest:
            rows.append(s)
            continue
        filler = full((longest - s.shape[0], *trailing), padding_value, dtype=s.dtype, device=s.device)
        rows.append(registry.call("cat", [s, filler] if padding_side == "right" else [filler, s], 0))
    return registry.call("stack", rows, 0 if batch_first else 1)


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch ``(T, B, *)`` (or ``(B, T, *)``) whose row ``b`` holds ``lengths[b]`` steps.

    >>> import neurarust as nr
    >>> from neurarust.nn.utils.rnn import pack_padded_sequence
    >>> x = nr.tensor([[1.0, 4.0], [2.0, 0.0]])
    >>> pack_padded_sequence(x, [1, 2], enforce_sorted=False).data.tolist()
    [4.0, 1.0, 0.0]
    """
    values = _lengths_list(lengths)
    x = input.transpose(0, 1) if batch_first else input
    if len(values) != x.shape[1]:
        raise ShapeError(f"pack_padded_sequence: got {len(values)} lengths for a batch of {x.shape[1]}")
    if max(values) > x.shape[0]:
        raise ShapeError(f"pack_padded_sequence: a length of {max(values)} exceeds the {x.shape[0]} padded steps")
    order = sorted(range(len(values)), key=lambda b: -values[b])
    if enforce_sorted:
        if values != sorted(values, reverse=True):
            raise ArgumentError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                                "pack_sequence to sidestep this requirement if you do not need ONNX "
                                "exportability.")
        order, sorted_indices = list(range(len(values))), None
    else:
        sorted_indices = tensor(order, device=input.device)
    ordered = [values[b] for b in order]
    batch_sizes = [sum(1 for v in ordered if v > t) for t in range(ordered[0])]
    batch = x.shape[1]
    flat = [t * batch + order[i] for t, n in enumerate(batch_sizes) for i in range(n)]
    rows = x.reshape(x.shape[0] * batch, *x.shape[2:])
    data = registry.call("index_select", rows, 0, tensor(flat, device=input.device))
    return PackedSequence(data, tensor(batch_sizes), sorted_indices)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple:
    """Inverse of ``pack_padded_sequence``: ``(padded, lengths)`` in the original batch order.

    >>> import neurarust as nr
    >>> from neurarust.nn.utils.rnn import pack_sequence, pad_packed_sequence
    >>> pad_packed_sequence(pack_sequence([nr.ones(2), nr.ones(1)]), padding_value=-1.0)[0].tolist()
    [[1.0, 1.0], [1.0, -1.0]]
    """
    data, sizes = sequence.data, sequence.batch_sizes.tolist()
    steps, batch = len(sizes), sizes[0]
    if total_length is not None:
        if total_length < steps:
            raise ArgumentError(f"Expected total_length to be at least the length of the longest sequence "
                                f"({steps}), but got total_length={total_length}")
        steps = total_length
    starts = [sum(sizes[:t]) for t in range(len(sizes))]
    pad_row = data.shape[0]
    flat = [starts[t] + b if t < len(sizes) and b < sizes[t] else pad_row for t in range(steps) for b in range(batch)]
    filler = full((1, *data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    rows = registry.call("index_select", registry.call("cat", [data, filler], 0), 0,
                         tensor(flat, device=data.device))
    padded = rows.reshape(steps, batch, *data.shape[1:])
    lengths = [sum(1 for n in sizes if n > b) for b in range(batch)]
    if sequence.unsorted_indices is not None:
        padded = registry.call("index_select", padded, 1, sequence.unsorted_indices)
        lengths = [lengths[i] for i in sequence.unsorted_indices.tolist()]
    return (padded.transpose(0, 1) if batch_first else padded), tensor(lengths)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of ``(L_i, *)`` sequences (longest first unless ``enforce_sorted=False``).

    >>> import neurarust as nr
    >>> from neurarust.nn.utils.rnn import pack_sequence
    >>> pack_sequence([nr.ones(1), nr.ones(2)], enforce_sorted=False).batch_sizes.tolist()
    [2, 1]
    """
    sequences = list(sequences)
    return pack_padded_sequence(pad_sequence(sequences), [s.shape[0] for s in sequences],
                                enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths: Any, batch_first: bool = False) -> list[Tensor]:
    """The inverse of ``pad_sequence``: sequence ``i`` is the first ``lengths[i]`` steps of column ``i``
    (row ``i`` with ``batch_first``), a view.

    >>> import neurarust as nr
    >>> from neurarust.nn.utils.rnn import pad_sequence, unpad_sequence
    >>> [s.tolist() for s in unpad_sequence(pad_sequence([nr.ones(2), nr.ones(1)]), [2, 1])]
    [[1.0, 1.0], [1.0]]
    """
    batch_major = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    values = _lengths_list(lengths)
    if len(values) != batch_major.shape[0]:
        raise ShapeError(f"unpad_sequence: {len(values)} lengths for a batch of {batch_major.shape[0]} sequences")
    return [batch_major[i, :n] for i, n in enumerate(values)]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The inverse of ``pack_sequence``: the sequences, in their original order.

    >>> import neurarust as nr
    >>> from neurarust.nn.utils.rnn import pack_sequence, unpack_sequence
    >>> [s.tolist() for s in unpack_sequence(pack_sequence([nr.ones(1), nr.ones(2)], enforce_sorted=False))]
    [[1.0], [1.0, 1.0]]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
