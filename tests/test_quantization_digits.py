"""Static post-training quantization and quantization-aware training of the digits CNN (the model
``neurarust train`` builds), trained once per session: int8 accuracy within 1 percentage point of
float, 4-bit weights recovered better by QAT than by PTQ, and the int8 checkpoint at most 0.3x the
float one on disk, reloaded into a freshly converted model with identical outputs."""
from __future__ import annotations

import numpy as np
import pytest

import neurarust as nr
from neurarust import nn
from neurarust import quantization as Q
from neurarust.cli.models import cnn
from neurarust.data.datasets import Digits


class _Digits:
    def __init__(self) -> None:
        train, test = Digits(train=True), Digits(train=False)
        mean, std = train.data.mean(), train.data.std()
        prep = lambda a: nr.tensor(((a - mean) / std)[:, None].astype(np.float32))  # noqa: E731
        self.x, self.y = prep(train.data), nr.tensor(train.targets)
        self.x_test, self.y_test = prep(test.data), nr.tensor(test.targets)

    def train(self, model: nn.Module, epochs: int, lr: float) -> None:
        opt = nr.optim.AdamW(model.parameters(), lr=lr)
        model.train()
        for epoch in range(epochs):
            perm = np.random.default_rng(epoch).permutation(self.x.shape[0])
            for i in range(0, len(perm), 64):
                idx = nr.tensor(perm[i:i + 64])
                loss = nn.functional.cross_entropy(model(self.x[idx]), self.y[idx])
                opt.zero_grad(), loss.backward(), opt.step()

    def evaluate(self, model: nn.Module) -> tuple[float, float]:
        """(test accuracy in %, test cross-entropy)."""
        model.eval()
        with nr.no_grad():
            logits = model(self.x_test)
        acc = 100.0 * float((logits.argmax(1) == self.y_test).float().mean().item())
        return acc, float(nn.functional.cross_entropy(logits, self.y_test).item())

    def calibration(self) -> list:
        return [self.x[i:i + 256] for i in range(0, 1024, 256)]


@pytest.fixture(scope="module")
def digits():
    data = _Digits()
    nr.manual_seed(0)
    model = cnn((1, 8, 8), 10)
    data.train(model, epochs=4, lr=0.01)
    return data, model


def _ptq(data: _Digits, model: nn.Module, qconfig: Q.QConfig) -> nn.Module:
    wrapped = Q.QuantWrapper(model)
    wrapped.qconfig = qconfig
    prepared = Q.prepare(wrapped)
    Q.calibrate(prepared, data.calibration())
    return Q.convert(prepared)


# Aggressive: one symmetric 4-bit scale per weight tensor.
W4 = Q.MinMaxObserver.with_args(qscheme=Q.per_tensor_symmetric, quant_min=-8, quant_max=7)
W4_FAKE = Q.FakeQuantize.with_args(observer=Q.MovingAverageMinMaxObserver, qscheme=Q.per_tensor_symmetric,
                                   quant_min=-8, quant_max=7)


def test_static_int8_accuracy_is_within_one_point_of_float(digits):
    data, model = digits
    qmodel = _ptq(data, model, Q.get_default_qconfig())
    assert [type(m).__name__ for m in qmodel.module][:3] == ["Conv2d", "QuantizedPassThrough", "Conv2d"]
    assert qmodel.module[0].weight.dtype is nr.int8
    (float_acc, _), (int8_acc, _) = data.evaluate(model), data.evaluate(qmodel)
    assert float_acc > 97.0 and abs(float_acc - int8_acc) <= 1.0


def test_static_int8_logits_are_within_tolerance_of_float(digits):
    data, model = digits
    qmodel = _ptq(data, model, Q.get_default_qconfig())
    model.eval()
    with nr.no_grad():
        f, q = model(data.x_test), qmodel(data.x_test)
    # Each logit within 10% of the float logits' range; 99% of predictions unchanged.
    spread = (f.amax() - f.amin()).item()
    assert (f - q).abs().max().item() <= 0.1 * spread
    assert (f.argmax(1) == q.argmax(1)).float().mean().item() >= 0.99


def test_qat_recovers_4bit_weights_better_than_ptq(digits):
    data, model = digits
    ptq_acc, ptq_loss = data.evaluate(_ptq(data, model, Q.QConfig(Q.HistogramObserver.with_args(), W4)))
    wrapped = Q.QuantWrapper(model)
    wrapped.qconfig = Q.QConfig(Q.FakeQuantize.with_args(observer=Q.MovingAverageMinMaxObserver), W4_FAKE)
    prepared = Q.prepare_qat(wrapped)
    assert isinstance(prepared.module[0], Q.QATConv2d)
    data.train(prepared, epochs=2, lr=0.002)
    qat_acc, qat_loss = data.evaluate(Q.convert(prepared))
    assert qat_acc >= ptq_acc and qat_loss < ptq_loss


def test_int8_checkpoint_is_at_most_0_3x_and_reloads(digits, tmp_path):
    data, model = digits
    qmodel = _ptq(data, model, Q.get_default_qconfig())
    assert Q.size_on_disk(qmodel) <= 0.3 * Q.size_on_disk(model)
    path = tmp_path / "int8.safetensors"
    nr.save(qmodel.state_dict(), path)
    other = _ptq(data, model, Q.QConfig(Q.MinMaxObserver.with_args(), W4))  # other weights and scales
    other.load_state_dict(nr.load(path))
    x = data.x_test[:50]
    assert other(x).tolist() == qmodel(x).tolist()
