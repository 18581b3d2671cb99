"""Recurrent layers against torch.nn, review follow-ups: cell states are shape-checked instead of
broadcast, state/input rank and empty-sequence errors, ``dropout=True`` refused; plus packed LSTM
with projections and given states, dropout between layers, float64 and the default init range."""
from __future__ import annotations

import re

import numpy as np
import pytest

import neurarust as nr
from neurarust import nn
from neurarust.errors import ArgumentError, ShapeError
from neurarust.nn.utils import rnn as rnn_utils

torch = pytest.importorskip("torch")

TOL32 = dict(rtol=1e-4, atol=1e-5)
TOL64 = dict(rtol=1e-10, atol=1e-12)


def _pair(name, *args, dtype=None, **kwargs):
    """The same module in both frameworks, neurarust's loaded from torch's state dict."""
    torch.manual_seed(0)
    t_mod = getattr(torch.nn, name)(*args, **kwargs)
    n_mod = getattr(nn, name)(*args, **kwargs)
    n_mod.load_state_dict({k: nr.tensor(v.numpy()) for k, v in t_mod.state_dict().items()})
    if dtype == "float64":
        n_mod, t_mod = n_mod.double(), t_mod.double()
    return n_mod, t_mod


def _leaves(shapes, dtype=np.float32):
    arrays = [np.random.default_rng(i).standard_normal(s).astype(dtype) for i, s in enumerate(shapes)]
    return ([nr.tensor(a, requires_grad=True) for a in arrays],
            [torch.from_numpy(a.copy()).requires_grad_() for a in arrays])


def _close(a, b, tol):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol)


# -- cells: a state whose shape does not match the input is an error, never a broadcast ----------
CELL_STATES = {"RNNCell": 1, "GRUCell": 1, "LSTMCell": 2}


def _cell_state(name, lib, *shape):
    states = [lib.zeros(*shape)] * CELL_STATES[name]
    return tuple(states) if name == "LSTMCell" else states[0]


@pytest.mark.parametrize("name", list(CELL_STATES))
def test_cell_state_of_batch_one_is_not_broadcast_over_the_input_batch(name):
    n_mod, t_mod = _pair(name, 3, 4)
    with pytest.raises(RuntimeError):
        t_mod(torch.ones(2, 3), _cell_state(name, torch, 1, 4))
    with pytest.raises(ShapeError, match=r"\[2, 4\].*got \[1, 4\]"):
        n_mod(nr.ones(2, 3), _cell_state(name, nr, 1, 4))


@pytest.mark.parametrize("name", list(CELL_STATES))
def test_cell_state_rank_must_match_input_rank(name):
    n_mod, t_mod = _pair(name, 3, 4)
    for x_shape, h_shape in [((3,), (1, 4)), ((1, 3), (4,)), ((1, 3), (1, 1, 4))]:
        with pytest.raises((RuntimeError, ValueError)):
            t_mod(torch.ones(*x_shape), _cell_state(name, torch, *h_shape))
        with pytest.raises(ShapeError, match=re.escape(f"got {list(h_shape)}")):
            n_mod(nr.ones(*x_shape), _cell_state(name, nr, *h_shape))


def test_lstm_cell_checks_the_cell_state_too():
    n_mod, t_mod = _pair("LSTMCell", 3, 4)
    with pytest.raises(RuntimeError):
        t_mod(torch.ones(2, 3), (torch.zeros(2, 4), torch.zeros(1, 4)))
    with pytest.raises(ShapeError, match=r"hx\[1\]"):
        n_mod(nr.ones(2, 3), (nr.zeros(2, 4), nr.zeros(1, 4)))


# -- layers --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_layer_state_rank_must_match_input_rank(name):
    n_mod, _ = _pair(name, 3, 4)
    states = (lambda *s: (nr.zeros(*s), nr.zeros(*s))) if name == "LSTM" else nr.zeros
    with pytest.raises(ShapeError, match="unbatched 2-D input, hx should also be 2-D"):
        n_mod(nr.ones(5, 3), states(1, 1, 4))
    with pytest.raises(ShapeError, match="batched 3-D input, hx should also be 3-D"):
        n_mod(nr.ones(5, 1, 3), states(1, 4))


@pytest.mark.parametrize("batch_first", [False, True])
def test_empty_sequence_raises_shape_error(batch_first):
    x_shape = (2, 0, 3) if batch_first else (0, 2, 3)
    with pytest.raises(RuntimeError, match="sequence length"):
        torch.nn.GRU(3, 4, batch_first=batch_first)(torch.ones(*x_shape))
    with pytest.raises(ShapeError, match="sequence length to be larger than 0"):
        nn.GRU(3, 4, batch_first=batch_first)(nr.ones(*x_shape))


def test_boolean_dropout_is_refused():
    with pytest.raises(ValueError):
        torch.nn.LSTM(3, 4, num_layers=2, dropout=True)
    with pytest.raises(ArgumentError, match="dropout"):
        nn.LSTM(3, 4, num_layers=2, dropout=True)


def test_packed_bidirectional_projected_lstm_with_given_states():
    """Unsorted lengths, 2 layers, both directions, proj_size, h0/c0: packed output, (h_n, c_n) and
    every gradient."""
    n_mod, t_mod = _pair("LSTM", 3, 4, num_layers=2, bidirectional=True, proj_size=2)
    lengths = [3, 5, 1, 2]
    (n_x, n_h, n_c), (t_x, t_h, t_c) = _leaves([(5, 4, 3), (4, 4, 2), (4, 4, 4)])
    n_out, (n_hn, n_cn) = n_mod(rnn_utils.pack_padded_sequence(n_x, lengths, enforce_sorted=False), (n_h, n_c))
    t_out, (t_hn, t_cn) = t_mod(torch.nn.utils.rnn.pack_padded_sequence(t_x, torch.tensor(lengths),
                                                                        enforce_sorted=False), (t_h, t_c))
    n_loss, t_loss = 0, 0
    for i, (a, b) in enumerate([(n_out.data, t_out.data), (n_hn, t_hn), (n_cn, t_cn)]):
        _close(a, b, TOL32)
        w = np.random.default_rng(10 + i).uniform(-1, 1, tuple(b.shape)).astype(np.float32)
        n_loss, t_loss = n_loss + (a * nr.tensor(w)).sum(), t_loss + (b * torch.from_numpy(w)).sum()
    n_loss.backward()
    t_loss.backward()
    for a, b in [(n_x, t_x), (n_h, t_h), (n_c, t_c)]:
        _close(a.grad, b.grad, TOL32)
    for name, p in t_mod.named_parameters():
        _close(getattr(n_mod, name).grad, p.grad, TOL32)


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_dropout_one_zeroes_only_between_layers_in_training(name):
    """p=1 is deterministic: the upper layers see zeros, the first layer's states are untouched."""
    n_mod, t_mod = _pair(name, 3, 4, num_layers=3, dropout=1.0, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    n_out, t_out = n_mod(nr.tensor(x)), t_mod(torch.from_numpy(x))
    _close(n_out[0], t_out[0], TOL32)
    n_h = n_out[1][0] if name == "LSTM" else n_out[1]
    t_h = t_out[1][0] if name == "LSTM" else t_out[1]
    _close(n_h, t_h, TOL32)
    n_mod.eval()
    eval_h = n_mod(nr.tensor(x))[1]
    eval_h = eval_h[0] if name == "LSTM" else eval_h
    _close(n_h[:2], eval_h[:2], TOL32)


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_float64_unbatched_with_given_state(name):
    n_mod, t_mod = _pair(name, 3, 4, num_layers=2, bidirectional=True, dtype="float64")
    state_shapes = [(4, 4)] * (2 if name == "LSTM" else 1)
    n_in, t_in = _leaves([(5, 3)] + state_shapes, np.float64)
    n_hx = tuple(n_in[1:]) if name == "LSTM" else n_in[1]
    t_hx = tuple(t_in[1:]) if name == "LSTM" else t_in[1]
    n_out, t_out = n_mod(n_in[0], n_hx), t_mod(t_in[0], t_hx)
    n_flat = [n_out[0], *(n_out[1] if name == "LSTM" else [n_out[1]])]
    t_flat = [t_out[0], *(t_out[1] if name == "LSTM" else [t_out[1]])]
    for a, b in zip(n_flat, t_flat):
        assert a.dtype == nr.float64
        _close(a, b, TOL64)
    sum(o.sum() for o in n_flat).backward()
    sum(o.sum() for o in t_flat).backward()
    for a, b in zip(n_in, t_in):
        _close(a.grad, b.grad, TOL64)


@pytest.mark.parametrize("name,kwargs", [("LSTM", dict(proj_size=3, num_layers=2, bidirectional=True)),
                                         ("GRUCell", {}), ("RNNCell", dict(nonlinearity="relu"))])
def test_default_init_is_uniform_in_one_over_sqrt_hidden(name, kwargs):
    nr.manual_seed(0)
    n_mod = getattr(nn, name)(5, 64, **kwargs)
    bound = 1 / 64 ** 0.5
    assert [k for k, _ in n_mod.named_parameters()] == [k for k, _ in getattr(torch.nn, name)(5, 64, **kwargs)
                                                        .named_parameters()]
    values = np.concatenate([p.detach().numpy().ravel() for p in n_mod.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    assert values.min() < -0.9 * bound and values.max() > 0.9 * bound
    assert abs(values.mean()) < 0.05 * bound


def _three_sequences(lib):
    return [lib.tensor([[1.0, 2.0], [3.0, 4.0]]), lib.tensor([[5.0, 6.0]]),
            lib.tensor([[7.0, 8.0], [9.0, 1.0], [2.0, 3.0]])]


def test_unpack_sequence_returns_the_sequences_in_their_order():
    ours = rnn_utils.unpack_sequence(rnn_utils.pack_sequence(_three_sequences(nr), enforce_sorted=False))
    theirs = torch.nn.utils.rnn.unpack_sequence(
        torch.nn.utils.rnn.pack_sequence(_three_sequences(torch), enforce_sorted=False))
    assert [s.tolist() for s in ours] == [s.tolist() for s in theirs]


@pytest.mark.parametrize("batch_first", [False, True])
def test_unpad_sequence_inverts_pad_sequence(batch_first):
    lengths = [2, 1, 3]
    ours = rnn_utils.unpad_sequence(rnn_utils.pad_sequence(_three_sequences(nr), batch_first), lengths, batch_first)
    theirs = torch.nn.utils.rnn.unpad_sequence(torch.nn.utils.rnn.pad_sequence(_three_sequences(torch), batch_first),
                                               torch.tensor(lengths), batch_first)
    assert [s.tolist() for s in ours] == [s.tolist() for s in theirs]


def test_gradients_flow_through_pack_and_unpack():
    x = [s.requires_grad_() for s in _three_sequences(nr)]
    out = rnn_utils.unpack_sequence(rnn_utils.pack_sequence(x, enforce_sorted=False))
    sum((o * (i + 1)).sum() for i, o in enumerate(out)).backward()
    assert [t.grad.tolist() for t in x] == [[[1.0, 1.0]] * 2, [[2.0, 2.0]], [[3.0, 3.0]] * 3]


def test_invert_permutation_and_packed_sequence_casts():
    assert rnn_utils.invert_permutation(nr.tensor([2, 0, 1])).tolist() == [1, 2, 0]
    assert rnn_utils.invert_permutation(None) is None
    packed = rnn_utils.pack_sequence(_three_sequences(nr), enforce_sorted=False)
    assert packed.double().data.dtype == nr.float64 and packed.long().data.dtype == nr.int64
    assert packed.cpu().data.device == nr.device("cpu") and not packed.is_pinned()
