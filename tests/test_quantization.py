"""neurarust.quantization: quantized tensors, observers and fake quantization against
torch.ao.quantization, dynamic quantization of an MLP and an LSTM, the int8 layers on the Triton
backend, and checkpoints. (The kernels' exact-integer checks against their references run in
tests/test_ops.py with every other registry entry; the digits workflows are in
tests/test_quantization_digits.py.)"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.ao.quantization as tq

import neurarust as nr
from neurarust import nn
from neurarust import quantization as Q

# PyTorch's quantized tensors (the oracle here) warn that they are deprecated.
pytestmark = pytest.mark.filterwarnings("ignore:.*quantized tensor creation functions:UserWarning")


def _data(shape, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


# -- quantized tensors -------------------------------------------------------------------------

def test_quantize_per_tensor_matches_torch():
    x = _data((6, 7))
    q = Q.quantize_per_tensor(nr.tensor(x), 0.02, 5, Q.qint8)
    t = torch.quantize_per_tensor(torch.from_numpy(x), 0.02, 5, torch.qint8)
    assert q.int_repr().numpy().tolist() == t.int_repr().numpy().tolist()
    np.testing.assert_allclose(q.dequantize().numpy(), t.dequantize().numpy(), rtol=0, atol=1e-7)


def test_quantize_per_channel_matches_torch():
    x = _data((3, 4, 5), 1)
    scales, zps = np.array([0.01, 0.02, 0.03, 0.05], np.float32), np.array([0, 3, -2, 1])
    q = Q.quantize_per_channel(nr.tensor(x), nr.tensor(scales), nr.tensor(zps), 1, Q.qint8)
    t = torch.quantize_per_channel(torch.from_numpy(x), torch.from_numpy(scales).double(), torch.from_numpy(zps), 1,
                                   torch.qint8)
    assert q.int_repr().numpy().tolist() == t.int_repr().numpy().tolist()
    assert q.q_per_channel_axis() == 1 and q.qscheme() == Q.per_channel_affine


def test_per_tensor_accessors_refuse_a_per_channel_tensor():
    q = Q.quantize_per_channel(nr.ones(2, 2), [0.1, 0.2], [0, 0], 0)
    with pytest.raises(nr.errors.ArgumentError, match="per channel"):
        q.q_scale()


def test_qtensor_round_trips_through_safetensors(tmp_path):
    q = Q.quantize_per_channel(nr.tensor(_data((4, 3), 2)), [0.01, 0.02, 0.04], [1, 0, -1], 1, quant_min=-8,
                               quant_max=7)
    path = tmp_path / "q.safetensors"
    Q.save({"q": q, "step": 3}, path)
    back = Q.load(path)
    assert back["step"] == 3
    r = back["q"]
    assert r.int_repr().tolist() == q.int_repr().tolist() and r.int_repr().dtype is nr.int8
    assert r.q_per_channel_scales().tolist() == q.q_per_channel_scales().tolist()
    assert r.q_per_channel_zero_points().tolist() == [1, 0, -1] and (r.quant_min, r.quant_max) == (-8, 7)


# -- observers and fake quantization vs torch.ao --------------------------------------------------

def _qparams_close(ours, theirs):
    (s, z), (ts, tz) = ours, theirs
    np.testing.assert_allclose(s.numpy(), ts.numpy(), rtol=1e-6)
    assert z.numpy().tolist() == tz.numpy().astype(np.int32).tolist()


@pytest.mark.parametrize("qscheme", ["per_tensor_affine", "per_tensor_symmetric"])
def test_minmax_observers_match_torch(qscheme):
    batches = [_data((8, 5), i, 1 + i) + i * 0.3 for i in range(3)]
    for ours, theirs in [(Q.MinMaxObserver(qscheme=qscheme), tq.MinMaxObserver(dtype=torch.qint8,
                                                                                  qscheme=getattr(torch, qscheme))),
                         (Q.MovingAverageMinMaxObserver(0.1, qscheme=qscheme),
                          tq.MovingAverageMinMaxObserver(0.1, dtype=torch.qint8, qscheme=getattr(torch, qscheme)))]:
        for b in batches:
            ours(nr.tensor(b)), theirs(torch.from_numpy(b))
        _qparams_close(ours.calculate_qparams(), theirs.calculate_qparams())


def test_per_channel_observers_match_torch():
    batches = [_data((6, 4, 3), i, 1 + i) for i in range(3)]
    pairs = [(Q.PerChannelMinMaxObserver(ch_axis=1, qscheme=Q.per_channel_symmetric),
              tq.PerChannelMinMaxObserver(ch_axis=1, dtype=torch.qint8, qscheme=torch.per_channel_symmetric)),
             (Q.MovingAveragePerChannelMinMaxObserver(0.2, ch_axis=0, quant_min=-8, quant_max=7),
              tq.MovingAveragePerChannelMinMaxObserver(0.2, ch_axis=0, dtype=torch.qint8, quant_min=-8, quant_max=7))]
    for ours, theirs in pairs:
        for b in batches:
            ours(nr.tensor(b)), theirs(torch.from_numpy(b))
        _qparams_close(ours.calculate_qparams(), theirs.calculate_qparams())


@pytest.mark.parametrize("bits", [4, 8])
def test_histogram_observer_clips_as_well_as_torchs(bits):
    """The two search the clipping range differently: ours must quantize Gaussian data with no more
    error than PyTorch's choice, and clip the tails at 4 bits."""
    x = _data((20000,), 3)
    qmin, qmax = -2 ** (bits - 1), 2 ** (bits - 1) - 1
    ours, theirs = Q.HistogramObserver(quant_min=qmin, quant_max=qmax), tq.HistogramObserver(
        dtype=torch.qint8, quant_min=qmin, quant_max=qmax)
    ours(nr.tensor(x)), theirs(torch.from_numpy(x))

    def mse(scale, zero_point):
        q = np.clip(np.rint(x / scale) + zero_point, qmin, qmax)
        return float((((q - zero_point) * scale - x) ** 2).mean())

    (s, z), (ts, tz) = ours.calculate_qparams(), theirs.calculate_qparams()
    assert mse(s.item(), z.item()) <= 1.02 * mse(ts.item(), tz.item())
    if bits == 4:
        assert s.item() < 0.8 * (x.max() - x.min()) / (qmax - qmin)


def test_percentile_observer_reads_the_percentiles():
    obs = Q.PercentileObserver(percentile=99.0, bins=2000)
    obs(nr.tensor(np.linspace(0, 100, 20001, dtype=np.float32)))
    scale, zero_point = obs.calculate_qparams()
    assert scale.item() * 255 == pytest.approx(99.0, abs=0.1) and zero_point.item() == -128


@pytest.mark.parametrize("per_channel", [False, True])
def test_fake_quantize_matches_torch_values_and_straight_through_gradients(per_channel):
    x = _data((4, 3), 4, 2.0)
    scale, zp = np.array([0.1, 0.2, 0.05], np.float32), np.array([0, 1, -2], np.int32)
    xn, xt = nr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    if per_channel:
        y = Q.fake_quantize_per_channel_affine(xn, nr.tensor(scale), nr.tensor(zp), 1, -8, 7)
        yt = torch.fake_quantize_per_channel_affine(xt, torch.from_numpy(scale), torch.from_numpy(zp), 1, -8, 7)
    else:
        y = Q.fake_quantize_per_tensor_affine(xn, 0.1, 1, -8, 7)
        yt = torch.fake_quantize_per_tensor_affine(xt, 0.1, 1, -8, 7)
    g = _data((4, 3), 5)
    y.backward(nr.tensor(g)), yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(xn.grad.numpy(), xt.grad.numpy())


# -- dynamic quantization ------------------------------------------------------------------------

def test_quantize_dynamic_mlp_is_within_two_percent_of_float():
    nr.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    q = Q.quantize_dynamic(mlp, {nn.Linear, nn.LSTM}, dtype=Q.qint8)
    assert [type(m).__name__ for m in q] == ["DynamicLinear", "ReLU", "DynamicLinear", "ReLU", "DynamicLinear"]
    x = nr.randn(32, 64)
    f = mlp(x)
    assert (q(x) - f).abs().max().item() <= 0.02 * f.abs().max().item()


def test_quantize_dynamic_lstm_is_within_0_02_of_float():
    nr.manual_seed(1)
    lstm = nn.LSTM(16, 32, num_layers=2, bidirectional=True, batch_first=True)
    q = Q.quantize_dynamic(nn.Sequential(lstm), {nn.LSTM}, dtype=Q.qint8)[0]
    assert isinstance(q, Q.DynamicLSTM) and not list(q.parameters())
    assert q.weight_hh_l1_reverse.dtype is nr.int8
    x = nr.randn(4, 7, 16)
    (out, (h, c)), (qout, (qh, qc)) = lstm(x), q(x)
    for a, b in ((out, qout), (h, qh), (c, qc)):
        assert (a - b).abs().max().item() < 0.02


# -- the int8 layers on the Triton backend (interpreted): the same integers as the reference -----

def _static_layers():
    nr.manual_seed(2)
    fc, conv = nn.Linear(12, 5), nn.Conv2d(2, 3, 3, padding=1, stride=2)
    return (Q.Linear.from_float(fc, nr.tensor([0.04]), nr.tensor([3])),
            Q.Conv2d.from_float(conv, nr.tensor([0.05]), nr.tensor([-2])))


def test_static_layers_give_the_same_integers_on_both_backends():
    linear, conv = _static_layers()
    x = Q.quantize_per_tensor(nr.randn(3, 12), 0.03, -4)
    img = Q.quantize_per_tensor(nr.randn(1, 2, 5, 5), 0.03, 7)
    want = [linear(x).int_repr().tolist(), conv(img).int_repr().tolist()]
    before = nr.backends.launch_counts["int8_mm"]
    with nr.backends.using("triton"):
        got = [linear(x).int_repr().tolist(), conv(img).int_repr().tolist()]
    assert got == want and nr.backends.launch_counts["int8_mm"] == before + 2


def test_dynamic_linear_on_both_backends():
    nr.manual_seed(3)
    q = Q.DynamicLinear.from_float(nn.Linear(20, 6))
    x = nr.randn(5, 20)
    with nr.backends.using("triton"):
        got = q(x)
    np.testing.assert_allclose(got.numpy(), q(x).numpy(), rtol=1e-6, atol=1e-6)


def test_quantized_conv2d_matches_float_conv_of_the_dequantized_values():
    """im2col + int8 matmul = the float convolution of the dequantized input and weights, requantized."""
    _, conv = _static_layers()
    img = Q.quantize_per_tensor(nr.randn(2, 2, 6, 6), 0.03, 7)
    w = (conv.weight.to(nr.float32) * conv.weight_scale.reshape(-1, 1, 1, 1))
    ref = nn.functional.conv2d(img.dequantize(), w, conv.bias, conv.stride, conv.padding)
    got = conv(img).dequantize()
    assert (got - ref).abs().max().item() <= 0.05 / 2 + 1e-6  # half an output step


@pytest.mark.parametrize("qscheme", ["per_tensor_affine", "per_tensor_symmetric"])
def test_static_quantization_of_an_mlp_tracks_float(qscheme):
    """Affine and symmetric activations; Sigmoid has no int8 version and runs in a fallback."""
    nr.manual_seed(4)
    mlp = nn.Sequential(nn.Linear(16, 32), nn.Sigmoid(), nn.Linear(32, 8), nn.ReLU(), nn.Linear(8, 4))
    model = Q.QuantWrapper(mlp)
    model.qconfig = Q.QConfig(Q.MinMaxObserver.with_args(qscheme=qscheme),
                              Q.PerChannelMinMaxObserver.with_args(qscheme=Q.per_channel_symmetric))
    prepared = Q.prepare(model)
    x = nr.randn(64, 16)
    Q.calibrate(prepared, [x])
    qmodel = Q.convert(prepared)
    kinds = [type(m).__name__ for m in qmodel.module]
    assert kinds == ["Linear", "QuantizedFallback", "Linear", "QuantizedPassThrough", "Linear"]
    if qscheme == "per_tensor_symmetric":
        assert all(int(m.zero_point.item()) == 0 for m in qmodel.module if isinstance(m, Q.Linear))
    f = mlp(x)
    assert (qmodel(x) - f).abs().max().item() <= 0.05 * (f.amax() - f.amin()).item()
