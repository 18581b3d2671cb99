"""End to end: a small CNN and a small Transformer learn a toy task on the CPU path (the NumPy
references), and a tiny CNN takes a few steps through the Triton kernels (the interpreter here).
Each test trains a fixed, seeded model and asks that the loss fall clearly: to half or less."""
import numpy as np
import pytest

import neurarust as nr
import neurarust.nn.functional as F
from neurarust import nn, optim
from neurarust.data.datasets import Digits


def _digits(n: int) -> tuple[nr.Tensor, nr.Tensor]:
    ds = Digits(train=True)
    return nr.tensor(ds.data[:n, None]), nr.tensor(ds.targets[:n])


def _cnn(channels: int = 8) -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(channels * 4 * 4, 10))


def _train(model: nn.Module, batches, steps: int, opt: optim.Optimizer) -> list[float]:
    """``steps`` steps of ``opt`` on ``batches`` (a function of the step giving ``(input, target)``),
    cross-entropy over the last dim of the model's output; the loss of each step."""
    losses = []
    for step in range(steps):
        x, y = batches(step)
        opt.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _start_and_end(losses: list[float], k: int = 5) -> tuple[float, float]:
    return float(np.mean(losses[:k])), float(np.mean(losses[-k:]))


def test_a_small_cnn_learns_the_digits():
    nr.manual_seed(0)
    x, y = _digits(512)
    model = _cnn()
    batch = 64
    losses = _train(model, lambda s: (x[s % 8 * batch:(s % 8 + 1) * batch], y[s % 8 * batch:(s % 8 + 1) * batch]),
                    60, optim.Adam(model.parameters(), lr=1e-2))
    first, last = _start_and_end(losses)
    assert last < first / 2, (first, last)
    with nr.no_grad():
        accuracy = (model(x).argmax(-1) == y).float().mean().item()
    assert accuracy > 0.8, accuracy


class _Reverser(nn.Module):
    """Embedding (tokens and positions) + one TransformerEncoderLayer + Linear: predicts, at each
    position, the token at the mirrored position. Attention must move every token."""

    def __init__(self, vocab: int, length: int, d_model: int = 32) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab, d_model)
        self.positions = nn.Embedding(length, d_model)
        self.encoder = nn.TransformerEncoderLayer(d_model, 2, 64, dropout=0.0, batch_first=True)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, x: nr.Tensor) -> nr.Tensor:
        h = self.tokens(x) + self.positions(nr.arange(x.shape[1]))
        return self.head(self.encoder(h))


def test_a_small_transformer_learns_to_reverse_sequences():
    nr.manual_seed(0)
    vocab, length, batch = 8, 6, 32
    rng = np.random.default_rng(0)
    data = rng.integers(0, vocab, (40, batch, length))
    model = _Reverser(vocab, length)

    def batches(step):
        tokens = data[step % len(data)]
        return nr.tensor(tokens), nr.tensor(tokens[:, ::-1].copy())

    losses = _train(model, batches, 150, optim.Adam(model.parameters(), lr=3e-3))
    first, last = _start_and_end(losses)
    assert last < first / 2, (first, last)


def test_a_tiny_cnn_trains_through_the_triton_kernels():
    # The interpreter runs each kernel program in Python: a few steps of a tiny model (~10 s).
    nr.manual_seed(0)
    x, y = _digits(8)
    model = _cnn(channels=2)
    with nr.backends.using("triton"):
        before = nr.backends.launch_counts["convolution"]
        losses = _train(model, lambda step: (x, y), 3, optim.SGD(model.parameters(), lr=1.0))
        assert nr.backends.launch_counts["convolution"] > before
        assert nr.backends.launch_counts["convolution_weight_grad"] > 0
    assert losses[-1] < 0.85 * losses[0], losses
