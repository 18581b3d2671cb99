"""Recurrent layers ``RNN``, ``LSTM``, ``GRU`` and their cells, with PyTorch's parameter names
(``weight_ih_l0``, ``bias_hh_l1_reverse``, ``weight_hr_l0``...) and init, so torch state dicts load.
Each step composes registry ops (matmul, sigmoid, tanh, chunk, stack), so autograd differentiates
them; the input projection of a whole sequence is one matmul per layer and direction::

    >>> import neurarust as nr
    >>> lstm = nr.nn.LSTM(3, 4, num_layers=2, batch_first=True)
    >>> out, (h, c) = lstm(nr.randn(2, 5, 3))
    >>> out.shape, h.shape, c.shape
    (neurarust.Size([2, 5, 4]), neurarust.Size([2, 2, 4]), neurarust.Size([2, 2, 4]))
"""
from __future__ import annotations

import math
from typing import Any

from neurarust import registry
from neurarust.amp.autocast_mode import autocast_composite
from neurarust.creation import empty, zeros
from neurarust.errors import ArgumentError, ShapeError
from neurarust.tensor import Tensor

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter
from .utils_rnn import PackedSequence

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _rnn_step(mode: str):
    act_name = "tanh" if mode == "RNN_TANH" else "relu"

    def step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
        return registry.call(act_name, gi + F.linear(h, w_hh, b_hh))
    return step


def _lstm_step(gi: Tensor, state: tuple, w_hh: Tensor, b_hh: Tensor | None, w_hr: Tensor | None = None) -> tuple:
    h, c = state
    i, f, g, o = (gi + F.linear(h, w_hh, b_hh)).chunk(4, 1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    h = o.sigmoid() * c.tanh()
    if w_hr is not None:
        h = F.linear(h, w_hr)
    return h, c


def _gru_step(gi: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    i_r, i_z, i_n = gi.chunk(3, 1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, 1)
    r, z = (i_r + h_r).sigmoid(), (i_z + h_z).sigmoid()
    n = (i_n + r * h_n).tanh()
    return n + z * (h - n)


@autocast_composite("lstm_cell", cuda="lower")
def _lstm_cell(x: Tensor, state: tuple, w_ih: Tensor, b_ih, w_hh: Tensor, b_hh) -> tuple:
    return _lstm_step(F.linear(x, w_ih, b_ih), state, w_hh, b_hh)


@autocast_composite("gru_cell", cuda="lower")
def _gru_cell(x: Tensor, h: Tensor, w_ih: Tensor, b_ih, w_hh: Tensor, b_hh) -> Tensor:
    return _gru_step(F.linear(x, w_ih, b_ih), h, w_hh, b_hh)


@autocast_composite("rnn_cell", cuda="lower")
def _rnn_cell(mode: str, x: Tensor, h: Tensor, w_ih: Tensor, b_ih, w_hh: Tensor, b_hh) -> Tensor:
    return _rnn_step(mode)(F.linear(x, w_ih, b_ih), h, w_hh, b_hh)


def _cell_params(module: Module, input_size: int, hidden_size: int, gates: int, bias: bool, device, dtype) -> None:
    module.weight_ih = Parameter(empty(gates * hidden_size, input_size, device=device, dtype=dtype))
    module.weight_hh = Parameter(empty(gates * hidden_size, hidden_size, device=device, dtype=dtype))
    if bias:
        module.bias_ih = Parameter(empty(gates * hidden_size, device=device, dtype=dtype))
        module.bias_hh = Parameter(empty(gates * hidden_size, device=device, dtype=dtype))
    else:
        module.register_parameter("bias_ih", None)
        module.register_parameter("bias_hh", None)


def _reset_uniform(module: Module, hidden_size: int) -> None:
    stdv = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        init.uniform_(p, -stdv, stdv)


class RNNCellBase(Module):
    """The base of ``RNNCell``, ``LSTMCell`` and ``GRUCell``, as PyTorch's: ``input_size``,
    ``hidden_size``, ``bias``; parameters ``weight_ih`` ``(num_chunks * hidden_size, input_size)``,
    ``weight_hh`` ``(num_chunks * hidden_size, hidden_size)`` and, with ``bias``, ``bias_ih`` and
    ``bias_hh`` ``(num_chunks * hidden_size,)``, all U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    >>> import neurarust as nr
    >>> cell = nr.nn.RNNCellBase(3, 2, bias=False, num_chunks=4)
    >>> cell, cell.weight_ih.shape, isinstance(nr.nn.GRUCell(3, 2), nr.nn.RNNCellBase)
    (RNNCellBase(3, 2, bias=False), neurarust.Size([8, 3]), True)
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        _cell_params(self, input_size, hidden_size, num_chunks, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) for every weight and bias, as PyTorch."""
        _reset_uniform(self, self.hidden_size)

    def _prepare(self, input: Tensor, hx: Tensor | None, name: str = "hx") -> tuple:
        if input.ndim not in (1, 2):
            raise ShapeError(f"{type(self).__name__}: expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"{type(self).__name__}: input has inconsistent input_size: got {input.shape[-1]}, "
                             f"expected {self.input_size}")
        batched = input.ndim == 2
        return (input if batched else input.unsqueeze(0)), self._state(hx, input, name), batched

    def _state(self, state: Tensor | None, input: Tensor, name: str) -> Tensor:
        """``state`` as (batch, hidden_size), zeros when None. Checked against ``input`` as PyTorch's
        cells check it: a (1, hidden) state would otherwise broadcast over the batch silently."""
        batched = input.ndim == 2
        if state is None:
            return zeros(input.shape[0] if batched else 1, self.hidden_size, device=input.device, dtype=input.dtype)
        expected = [input.shape[0], self.hidden_size] if batched else [self.hidden_size]
        if list(state.shape) != expected:
            raise ShapeError(f"{type(self).__name__}: expected {name} of shape {expected} for an input of shape "
                             f"{list(input.shape)}, got {list(state.shape)}")
        return state if batched else state.unsqueeze(0)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """One Elman step: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    >>> import neurarust as nr
    >>> nr.nn.RNNCell(3, 2)(nr.ones(4, 3)).shape
    neurarust.Size([4, 2])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ArgumentError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, batched = self._prepare(input, hx)
        mode = "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"
        h = _rnn_cell(mode, x, h, self.weight_ih, self.bias_ih, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step; returns ``(h', c')``.

    >>> import neurarust as nr
    >>> h, c = nr.nn.LSTMCell(3, 2)(nr.ones(4, 3))
    >>> h.shape, c.shape
    (neurarust.Size([4, 2]), neurarust.Size([4, 2]))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, _GATES["LSTM"], device, dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple:
        h, c = (None, None) if hx is None else hx
        x, h, batched = self._prepare(input, h, "hx[0]")
        c = self._state(c, input, "hx[1]")
        h, c = _lstm_cell(x, (h, c), self.weight_ih, self.bias_ih, self.weight_hh, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step.

    >>> import neurarust as nr
    >>> nr.nn.GRUCell(3, 2)(nr.ones(3)).shape
    neurarust.Size([2])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, _GATES["GRU"], device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, batched = self._prepare(input, hx)
        h = _gru_cell(x, h, self.weight_ih, self.bias_ih, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)


class RNNBase(Module):
    """Shared multi-layer, optionally bidirectional recurrence of ``RNN``, ``LSTM`` and ``GRU``."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if isinstance(dropout, bool) or not 0.0 <= dropout <= 1.0:  # True would read as p=1, as PyTorch refuses
            raise ArgumentError("dropout should be a number in range [0, 1] representing the probability of "
                                "an element being zeroed")
        if hidden_size <= 0 or num_layers <= 0:
            raise ArgumentError("hidden_size and num_layers must be greater than zero")
        if proj_size < 0 or (proj_size and mode != "LSTM"):
            raise ArgumentError("proj_size should be a positive integer, and only LSTM supports projections")
        if proj_size >= hidden_size:
            raise ArgumentError("proj_size has to be smaller than hidden_size")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        dirs = 2 if bidirectional else 1
        out_size = proj_size or hidden_size
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else out_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih", (gate_size, layer_in)), ("weight_hh", (gate_size, out_size))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for name, shape in shapes:
                    setattr(self, name + sfx, Parameter(empty(*shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(name + sfx)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) for every weight and bias, as PyTorch."""
        _reset_uniform(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """No-op kept for ported code: the weights are never packed into one cuDNN buffer."""

    @property
    def all_weights(self) -> list:
        """The parameters of each layer and direction, grouped as PyTorch's ``all_weights``."""
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional else 1))
        params = [getattr(self, n) for n in self._flat_weights_names]
        return [params[i:i + per] for i in range(0, len(params), per)]

    def _weights(self, layer: int, d: int) -> tuple:
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        get = lambda n: getattr(self, n + sfx, None)  # noqa: E731
        return get("weight_ih"), get("bias_ih"), get("weight_hh"), get("bias_hh"), get("weight_hr")

    def _state_shapes(self, batch: int) -> list:
        dirs = 2 if self.bidirectional else 1
        shapes = [(self.num_layers * dirs, batch, self.proj_size or self.hidden_size)]
        if self.mode == "LSTM":
            shapes.append((self.num_layers * dirs, batch, self.hidden_size))
        return shapes

    def _check_input(self, input: Tensor, batched: bool) -> None:
        if input.ndim != (3 if batched else 2):
            raise ShapeError(f"{type(self).__name__}: Expected input to be 2D or 3D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                             f"got {input.shape[-1]}")

    def forward(self, input: Any, hx: Any = None) -> tuple:
        packed = isinstance(input, PackedSequence)
        if packed:
            from .utils_rnn import pad_packed_sequence
            batch_sizes, sorted_idx, unsorted_idx = input.batch_sizes, input.sorted_indices, input.unsorted_indices
            x, lengths = pad_packed_sequence(PackedSequence(input.data, batch_sizes, None, None))
            batched = True
            self._check_input(x, True)
        else:
            batched = input.ndim == 3
            self._check_input(input, batched)
            x = input if batched else input.unsqueeze(1)
            if self.batch_first and batched:
                x = x.transpose(0, 1)
            lengths = None
            if x.shape[0] == 0:
                raise ShapeError(f"Expected sequence length to be larger than 0 in RNN, got input of shape "
                                 f"{list(input.shape)}")
        states = self._initial_states(x, hx, batched, sorted_idx if packed else None)
        out, finals = self._run(x, states, lengths)
        if packed:
            from .utils_rnn import pack_padded_sequence
            data = pack_padded_sequence(out, lengths).data
            output = PackedSequence(data, batch_sizes, sorted_idx, unsorted_idx)
            finals = [f if unsorted_idx is None else f.index_select(1, unsorted_idx) for f in finals]
        elif not batched:
            output, finals = out.squeeze(1), [f.squeeze(1) for f in finals]
        else:
            output = out.transpose(0, 1) if self.batch_first else out
        return (output, tuple(finals)) if self.mode == "LSTM" else (output, finals[0])

    def _initial_states(self, x: Tensor, hx: Any, batched: bool, sorted_idx: Tensor | None) -> list:
        shapes = self._state_shapes(x.shape[1])
        if hx is None:
            return [zeros(*s, device=x.device, dtype=x.dtype) for s in shapes]
        hx = list(hx) if self.mode == "LSTM" else [hx]
        dims = 3 if batched else 2
        if any(h.ndim != dims for h in hx):
            raise ShapeError(f"For {'batched 3-D' if batched else 'unbatched 2-D'} input, hx should also be "
                             f"{dims}-D but got shapes {[list(h.shape) for h in hx]}")
        if not batched:
            hx = [h.unsqueeze(1) for h in hx]
        for h, s in zip(hx, shapes):
            if tuple(h.shape) != s:
                raise ShapeError(f"Expected hidden size {s}, got {list(h.shape)}")
        if sorted_idx is not None:
            hx = [h.index_select(1, sorted_idx) for h in hx]
        return hx

    def _run(self, x: Tensor, states: list, lengths: Any) -> tuple:
        dirs = 2 if self.bidirectional else 1
        weights = [w for layer in range(self.num_layers) for d in range(dirs) for w in self._weights(layer, d)]
        return _RECURRENCES[self.mode](self, x, states, lengths, weights)

    def _direction(self, x: Tensor, state: list, weights: tuple, reverse: bool, masks: Any) -> tuple:
        w_ih, b_ih, w_hh, b_hh, w_hr = weights
        gi = F.linear(x, w_ih, b_ih)
        steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
        outs = [None] * x.shape[0]
        for t in steps:
            if self.mode == "LSTM":
                new = list(_lstm_step(gi[t], tuple(state), w_hh, b_hh, w_hr))
            elif self.mode == "GRU":
                new = [_gru_step(gi[t], state[0], w_hh, b_hh)]
            else:
                new = [_rnn_step(self.mode)(gi[t], state[0], w_hh, b_hh)]
            if masks is not None:
                # Rows whose sequence ended keep their state (the reverse direction starts at each
                # row's own last step) and output zeros, as PyTorch's packed recurrence.
                m = masks[t]
                new = [s + m * (n - s) for n, s in zip(new, state)]
                outs[t] = new[0] * m
            else:
                outs[t] = new[0]
            state = new
        return registry.call("stack", outs, 0), state

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


def _time_masks(lengths: Tensor, x: Tensor) -> Tensor:
    """(T, B, 1) float mask: 1 where step t is inside row b's sequence."""
    steps = registry.call("arange", x.shape[0], device=x.device)
    inside = steps.unsqueeze(1) < lengths.to(x.device).unsqueeze(0)
    return inside.to(x.dtype).unsqueeze(2)


class RNN(RNNBase):
    """Multi-layer Elman RNN with ``tanh`` or ``relu``; returns ``(output, h_n)``.

    >>> import neurarust as nr
    >>> out, h = nr.nn.RNN(3, 2, bidirectional=True)(nr.ones(4, 1, 3))
    >>> out.shape, h.shape
    (neurarust.Size([4, 1, 4]), neurarust.Size([2, 1, 2]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ArgumentError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, 0, device, dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Multi-layer LSTM (``proj_size`` optional); returns ``(output, (h_n, c_n))``.

    >>> import neurarust as nr
    >>> out, (h, c) = nr.nn.LSTM(3, 4, proj_size=2)(nr.ones(5, 3))
    >>> out.shape, h.shape, c.shape
    (neurarust.Size([5, 2]), neurarust.Size([1, 2]), neurarust.Size([1, 4]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class GRU(RNNBase):
    """Multi-layer GRU; returns ``(output, h_n)``.

    >>> import neurarust as nr
    >>> out, h = nr.nn.GRU(3, 2, num_layers=2)(nr.ones(4, 2, 3))
    >>> out.shape, h.shape
    (neurarust.Size([4, 2, 2]), neurarust.Size([2, 2, 2]))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype)


def _recurrence(rnn: RNNBase, x: Tensor, states: list, lengths: Any, weights: list) -> tuple:
    """Every layer and direction of ``rnn`` over ``x`` (``weights``: five entries per layer and direction,
    see ``RNNBase._weights``). PyTorch's ``lstm``/``gru``/``rnn_tanh`` ops, each with its autocast class
    (``_RECURRENCES``): in a region where the class is "lower", input, states and weights all run in
    the low-precision dtype."""
    dirs = 2 if rnn.bidirectional else 1
    masks = None if lengths is None else _time_masks(lengths, x)
    finals = [[] for _ in states]
    for layer in range(rnn.num_layers):
        outs = []
        for d in range(dirs):
            idx = layer * dirs + d
            out, last = rnn._direction(x, [s[idx] for s in states], tuple(weights[5 * idx:5 * idx + 5]), bool(d), masks)
            outs.append(out)
            for f, s in zip(finals, last):
                f.append(s)
        x = outs[0] if dirs == 1 else registry.call("cat", outs, 2)
        if rnn.dropout and rnn.training and layer < rnn.num_layers - 1:
            x = F.dropout(x, rnn.dropout, True)
    return x, [registry.call("stack", f, 0) for f in finals]


# Autocast classes as PyTorch's: on CUDA every recurrence is one cuDNN op in the low-precision list;
# on CPU only LSTM is (oneDNN's rnn layer), while GRU and RNN decompose into ops that carry their own.
_RECURRENCES = {
    "LSTM": autocast_composite("lstm", cuda="lower", cpu="lower")(_recurrence),
    "GRU": autocast_composite("gru", cuda="lower")(_recurrence),
    "RNN_TANH": autocast_composite("rnn_tanh", cuda="lower")(_recurrence),
    "RNN_RELU": autocast_composite("rnn_relu", cuda="lower")(_recurrence),
}
