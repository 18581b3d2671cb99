"""The models ``neurarust train --model`` builds: ``mlp``, ``cnn`` (image classifiers) and
``transformer`` (a character-level decoder-only language model).

    >>> import neurarust as nr
    >>> net = build_model("cnn", (1, 8, 8), 10)
    >>> tuple(net(nr.zeros(2, 1, 8, 8)).shape)
    (2, 10)
"""
from __future__ import annotations

import math

import neurarust as nr
from neurarust import nn
from neurarust.tensor import Tensor


def mlp(input_shape: tuple[int, ...], num_classes: int, hidden: int = 128) -> nn.Module:
    """Flatten, two hidden ReLU layers, a linear classifier.

    >>> import neurarust as nr
    >>> tuple(mlp((1, 8, 8), 10)(nr.zeros(3, 1, 8, 8)).shape)
    (3, 10)
    """
    features = math.prod(input_shape)
    return nn.Sequential(nn.Flatten(), nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))


def cnn(input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Two 3x3 convolutions (16 and 32 channels) with ReLU and max pooling, dropout, a linear classifier.
    Images larger than 8x8 are pooled after the first convolution too.

    >>> import neurarust as nr
    >>> tuple(cnn((1, 28, 28), 10)(nr.zeros(2, 1, 28, 28)).shape)
    (2, 10)
    """
    channels, height, width = input_shape
    first_pool = height > 8
    layers: list[nn.Module] = [nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU()]
    if first_pool:
        layers.append(nn.MaxPool2d(2))
        height, width = height // 2, width // 2
    layers += [nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.25),
               nn.Linear(32 * (height // 2) * (width // 2), num_classes)]
    return nn.Sequential(*layers)


class CharTransformer(nn.Module):
    """A decoder-only transformer over characters: token and position embeddings, pre-norm
    self-attention layers with a causal mask, a final LayerNorm and a linear head to the vocabulary.

    >>> import neurarust as nr
    >>> lm = CharTransformer(vocab=5, seq_len=8, d_model=16, nhead=2, layers=1)
    >>> tuple(lm(nr.zeros(2, 8, dtype=nr.int64)).shape)
    (2, 8, 5)
    """

    def __init__(self, vocab: int, seq_len: int, d_model: int = 64, nhead: int = 4, layers: int = 2,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.seq_len = seq_len
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(seq_len, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=4 * d_model, dropout=dropout,
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens: Tensor) -> Tensor:
        n = tokens.shape[1]
        x = self.tok(tokens) + self.pos(nr.arange(n, device=tokens.device))
        mask = nn.Transformer.generate_square_subsequent_mask(n, device=tokens.device)
        return self.head(self.norm(self.blocks(x, mask=mask, is_causal=True)))

    @nr.no_grad()
    def generate(self, prompt: list[int], length: int, temperature: float = 0.8,
                 generator: nr.Generator | None = None) -> list[int]:
        """``length`` new token ids sampled after ``prompt`` (the last ``seq_len`` tokens are the context).

        >>> import neurarust as nr
        >>> lm = CharTransformer(vocab=5, seq_len=8, d_model=16, nhead=2, layers=1).eval()
        >>> len(lm.generate([0, 1], 4, generator=nr.Generator().manual_seed(0)))
        4
        """
        device = self.head.weight.device
        tokens, new = list(prompt), []
        for _ in range(length):
            context = nr.tensor([tokens[-self.seq_len:]], dtype=nr.int64, device=device)
            logits = self(context)[0, -1].float() / temperature
            probs = nr.softmax(logits, dim=-1)
            token = int(nr.multinomial(probs, 1, generator=generator).item())
            tokens.append(token)
            new.append(token)
        return new


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """The ``--model`` network for data of ``input_shape`` (``(seq_len,)`` for text) and ``num_classes``
    outputs (the vocabulary size for text).

    >>> type(build_model("transformer", (16,), 30)).__name__
    'CharTransformer'
    """
    if name == "transformer":
        return CharTransformer(num_classes, input_shape[0])
    return {"mlp": mlp, "cnn": cnn}[name](input_shape, num_classes)
