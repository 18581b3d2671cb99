"""Recurrent layers, their cells and nn.utils.rnn against torch.nn with the torch state dict loaded:
outputs, final states, input/state/parameter gradients, packed sequences, eval mode; reference
backend plus one tiny Triton-backend LSTM step."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr
from neurarust import nn
from neurarust.nn.utils import rnn as rnn_utils

TOL = dict(rtol=1e-4, atol=1e-5)


def _check(a, b, what=""):
    np.testing.assert_allclose(a.detach().numpy().astype(np.float64), b.detach().double().numpy(), **TOL,
                               err_msg=what)


def _pair(name, *args, **kwargs):
    torch.manual_seed(0)
    t_mod = getattr(torch.nn, name)(*args, **kwargs)
    n_mod = getattr(nn, name)(*args, **kwargs)
    n_mod.load_state_dict({k: nr.tensor(v.numpy()) for k, v in t_mod.state_dict().items()})
    assert list(n_mod.state_dict()) == list(t_mod.state_dict())
    return n_mod, t_mod


def _leaf(shape, seed):
    arr = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return nr.tensor(arr, requires_grad=True), torch.from_numpy(arr.copy()).requires_grad_()


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _compare(n_mod, t_mod, shapes, backend="reference", packed=None):
    """Forward with leaves of ``shapes`` (input, then states), backward of a weighted sum of all outputs."""
    leaves = [_leaf(s, i) for i, s in enumerate(shapes)]
    n_in, t_in = [a for a, _ in leaves], [b for _, b in leaves]
    n_args, t_args = _structure(n_in, t_in, n_mod, packed)
    with nr.backends.using(backend):
        n_out = _flat(n_mod(*n_args))
    t_out = _flat(t_mod(*t_args))
    n_out = [o.data if isinstance(o, rnn_utils.PackedSequence) else o for o in n_out]
    t_out = [o.data if isinstance(o, torch.nn.utils.rnn.PackedSequence) else o for o in t_out]
    assert len(n_out) == len(t_out)
    n_loss, t_loss = 0, 0
    for i, (a, b) in enumerate(zip(n_out, t_out)):
        if a.dtype != nr.float32:
            assert a.tolist() == b.tolist()
            continue
        _check(a, b, f"output {i}")
        w = np.random.default_rng(10 + i).uniform(-1, 1, tuple(b.shape)).astype(np.float32)
        n_loss = n_loss + (a * nr.tensor(w)).sum()
        t_loss = t_loss + (b * torch.from_numpy(w)).sum()
    with nr.backends.using(backend):
        n_loss.backward()
    t_loss.backward()
    for i, (a, b) in enumerate(leaves):
        _check(a.grad, b.grad, f"grad of leaf {i}")
    for name, p in t_mod.named_parameters():
        _check(getattr(n_mod, name).grad, p.grad, f"{name}.grad")


def _structure(n_in, t_in, mod, packed):
    """(input, hx) or (input, (h, c)) for both frameworks; ``packed`` = lengths to pack the input with."""
    n_x, t_x = n_in[0], t_in[0]
    if packed is not None:
        n_x = rnn_utils.pack_padded_sequence(n_x, packed, enforce_sorted=False)
        t_x = torch.nn.utils.rnn.pack_padded_sequence(t_x, torch.tensor(packed), enforce_sorted=False)
    if len(n_in) == 1:
        return (n_x,), (t_x,)
    if len(n_in) == 2:
        return (n_x, n_in[1]), (t_x, t_in[1])
    return (n_x, (n_in[1], n_in[2])), (t_x, (t_in[1], t_in[2]))


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False])
def test_cells(name, batched):
    n_mod, t_mod = _pair(name, 3, 4)
    lead = (2,) if batched else ()
    states = 2 if name == "LSTMCell" else 1
    _compare(n_mod, t_mod, [lead + (3,)] + [lead + (4,)] * states)


def test_cells_options():
    n_mod, t_mod = _pair("RNNCell", 3, 2, bias=False, nonlinearity="relu")
    _compare(n_mod, t_mod, [(2, 3)])
    n_mod, t_mod = _pair("LSTMCell", 2, 3)
    _compare(n_mod, t_mod, [(1, 2)])
    assert repr(n_mod) == repr(t_mod)


CASES = [
    ("RNN", dict(num_layers=2, nonlinearity="relu"), False),
    ("RNN", dict(bidirectional=True, batch_first=True, bias=False), True),
    ("LSTM", dict(num_layers=2, bidirectional=True), True),
    ("LSTM", dict(proj_size=2, batch_first=True), True),
    ("GRU", dict(num_layers=2, batch_first=True), True),
    ("GRU", dict(bidirectional=True), False),
]


@pytest.mark.parametrize("name,kwargs,with_state", CASES, ids=lambda v: str(v))
def test_layers(name, kwargs, with_state):
    n_mod, t_mod = _pair(name, 3, 4, **kwargs)
    assert repr(n_mod) == repr(t_mod)
    dirs = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1) * dirs
    x = (2, 4, 3) if kwargs.get("batch_first") else (4, 2, 3)
    states = []
    if with_state:
        states = [(layers, 2, kwargs.get("proj_size") or 4)] + ([(layers, 2, 4)] if name == "LSTM" else [])
    _compare(n_mod, t_mod, [x] + states)


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_unbatched_and_eval(name):
    n_mod, t_mod = _pair(name, 3, 2, num_layers=2, dropout=0.5)
    n_mod.eval(), t_mod.eval()
    states = [(2, 2)] * (2 if name == "LSTM" else 1)
    _compare(n_mod, t_mod, [(3, 3)] + states)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_packed_input(name):
    n_mod, t_mod = _pair(name, 2, 3, bidirectional=True)
    states = [(2, 3, 3)] * (2 if name == "LSTM" else 1)
    _compare(n_mod, t_mod, [(4, 3, 2)] + states, packed=[2, 4, 1])


def test_dropout_between_layers_trains():
    nr.manual_seed(0)
    lstm = nn.LSTM(2, 3, num_layers=2, dropout=0.5)
    x = nr.randn(3, 1, 2)
    a, b = lstm(x)[0], lstm(x)[0]
    assert not bool((a == b).all())
    lstm.eval()
    assert bool((lstm(x)[0] == lstm(x)[0]).all())


def test_errors():
    with pytest.raises(ValueError):
        nn.LSTM(2, 3, proj_size=3)
    with pytest.raises(ValueError):
        nn.GRU(2, 3)(nr.ones(4, 2, 5))
    with pytest.raises(ValueError):
        nn.RNN(2, 3, nonlinearity="gelu")
    with pytest.raises(ValueError):
        nn.GRU(2, 3)(nr.ones(4, 2, 2), nr.zeros(2, 2, 3))


def test_triton_lstm_step():
    n_mod, t_mod = _pair("LSTM", 2, 2)
    _compare(n_mod, t_mod, [(1, 1, 2)], backend="triton")


# -- nn.utils.rnn -------------------------------------------------------------------------------
def _seqs(lengths, feat=2):
    arrs = [np.random.default_rng(i).standard_normal((n, feat)).astype(np.float32) for i, n in enumerate(lengths)]
    return [nr.tensor(a) for a in arrs], [torch.from_numpy(a) for a in arrs]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence(batch_first, side):
    n, t = _seqs([2, 4, 1])
    got = rnn_utils.pad_sequence(n, batch_first, -1.5, side)
    _check(got, torch.nn.utils.rnn.pad_sequence(t, batch_first, -1.5, side))


def test_pack_roundtrip_and_gradients():
    n, t = _seqs([2, 4, 3])
    n = [s.requires_grad_() for s in n]
    t = [s.requires_grad_() for s in t]
    for enforce in (False,):
        n_p = rnn_utils.pack_sequence(n, enforce_sorted=enforce)
        t_p = torch.nn.utils.rnn.pack_sequence(t, enforce_sorted=enforce)
        _check(n_p.data, t_p.data)
        assert n_p.batch_sizes.tolist() == t_p.batch_sizes.tolist()
        assert n_p.sorted_indices.tolist() == t_p.sorted_indices.tolist()
        assert n_p.unsorted_indices.tolist() == t_p.unsorted_indices.tolist()
        n_pad, n_len = rnn_utils.pad_packed_sequence(n_p, batch_first=True, padding_value=2.0, total_length=5)
        t_pad, t_len = torch.nn.utils.rnn.pad_packed_sequence(t_p, batch_first=True, padding_value=2.0,
                                                              total_length=5)
        _check(n_pad, t_pad)
        assert n_len.tolist() == t_len.tolist()
        w = np.random.default_rng(0).uniform(-1, 1, tuple(t_pad.shape)).astype(np.float32)
        (n_pad * nr.tensor(w)).sum().backward()
        (t_pad * torch.from_numpy(w)).sum().backward()
        for a, b in zip(n, t):
            _check(a.grad, b.grad)


def test_pack_padded_sorted_and_errors():
    x = nr.tensor(np.arange(6.0, dtype=np.float32).reshape(3, 2))
    tx = torch.arange(6.0).reshape(3, 2)
    p = rnn_utils.pack_padded_sequence(x, [3, 2])
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, [3, 2])
    _check(p.data, tp.data)
    assert p.sorted_indices is None and p.unsorted_indices is None
    with pytest.raises(ValueError):
        rnn_utils.pack_padded_sequence(x, [2, 3])
    with pytest.raises(ValueError):
        rnn_utils.pack_padded_sequence(x, [4, 1], enforce_sorted=False)
    assert nn.utils.parameters_to_vector([nr.ones(1)]).tolist() == [1.0]


# -- channel dropout ----------------------------------------------------------------------------
@pytest.mark.parametrize("name,shape", [("Dropout1d", (2, 3, 4)), ("Dropout1d", (3, 4)), ("Dropout2d", (2, 3, 2, 2)),
                                        ("Dropout3d", (3, 1, 2, 2)), ("Dropout3d", (1, 2, 1, 1, 3))])
def test_channel_dropout(name, shape):
    nr.manual_seed(1)
    mod = getattr(nn, name)(0.5)
    assert repr(mod) == repr(getattr(torch.nn, name)(0.5))
    x = nr.tensor(np.random.default_rng(0).uniform(1, 2, shape).astype(np.float32), requires_grad=True)
    y = mod(x)
    y.sum().backward()
    lead = 1 if len(shape) in (2, 4) and name != "Dropout2d" else 2
    ratio = (y / x).detach().numpy().reshape(int(np.prod(shape[:lead])), -1)
    for row in ratio:  # one draw per channel: each channel all kept (x2) or all dropped
        assert np.allclose(row, 0.0) or np.allclose(row, 2.0)
    np.testing.assert_allclose(x.grad.numpy().reshape(ratio.shape), ratio)
    mod.eval()
    assert mod(x) is x or bool((mod(x) == x).all())


def test_channel_dropout_errors_and_functional():
    import neurarust.nn.functional as F
    with pytest.raises(ValueError):
        F.dropout1d(nr.ones(2, 2, 2, 2))
    with pytest.raises(ValueError):
        F.dropout2d(nr.ones(2, 2, 2), p=1.5)
    assert F.dropout2d(nr.ones(1, 2, 1, 1), 1.0).sum().item() == 0.0


# -- EmbeddingBag -------------------------------------------------------------------------------
BAGS = [
    dict(mode="sum", input=[[1, 2, 0], [4, 4, 3]]),
    dict(mode="mean", input=[1, 2, 4, 5, 4, 3, 2, 0], offsets=[0, 2, 2, 5]),
    dict(mode="max", input=[1, 2, 4, 5, 4, 3], offsets=[0, 2, 3]),
    dict(mode="sum", input=[1, 2, 4, 5, 4, 3], offsets=[0, 1, 4, 6], include_last_offset=True, psw=True),
    dict(mode="mean", input=[1, 2, 4, 2, 0, 3], offsets=[0, 3, 4], padding_idx=2),
    dict(mode="max", input=[[1, 2, 3], [0, 2, 2]], padding_idx=2),
]


@pytest.mark.parametrize("case", BAGS, ids=lambda c: f"{c['mode']}-{len(c)}")
def test_embedding_bag(case):
    case = dict(case)
    inp, offsets, psw = case.pop("input"), case.pop("offsets", None), case.pop("psw", False)
    n_mod, t_mod = _pair("EmbeddingBag", 6, 3, **case)
    assert repr(n_mod) == repr(t_mod)
    args_n, args_t = [nr.tensor(inp)], [torch.tensor(inp)]
    if offsets is not None or psw:
        args_n.append(None if offsets is None else nr.tensor(offsets))
        args_t.append(None if offsets is None else torch.tensor(offsets))
    leaves = []
    if psw:
        leaves = [_leaf((len(inp),), 3)]
        args_n.append(leaves[0][0])
        args_t.append(leaves[0][1])
    out, t_out = n_mod(*args_n), t_mod(*args_t)
    _check(out, t_out, "output")
    w = np.random.default_rng(4).uniform(-1, 1, tuple(t_out.shape)).astype(np.float32)
    (out * nr.tensor(w)).sum().backward()
    (t_out * torch.from_numpy(w)).sum().backward()
    _check(n_mod.weight.grad, t_mod.weight.grad, "weight.grad")
    for a, b in leaves:
        _check(a.grad, b.grad, "per_sample_weights.grad")


def test_embedding_bag_errors():
    bag = nn.EmbeddingBag(4, 2, mode="mean")
    with pytest.raises(ValueError):
        bag(nr.tensor([0, 1]), nr.tensor([0]), per_sample_weights=nr.ones(2))
    with pytest.raises(ValueError):
        bag(nr.tensor([[0, 1]]), nr.tensor([0]))
    with pytest.raises(ValueError):
        bag(nr.tensor([0, 1]), nr.tensor([1]))
    with pytest.raises(ValueError):
        nn.EmbeddingBag(4, 2, mode="min")
