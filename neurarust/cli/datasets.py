"""``--data digits|mnist:DIR|fashion-mnist:DIR|text:FILE``: the training and validation sets of a run.

Images come standardised (zero mean, unit variance over the training set) as ``1 x H x W`` float32
arrays; digits use the fixed 80/20 split of :class:`~neurarust.data.datasets.Digits`, MNIST and
Fashion-MNIST their train and test files. A text file is cut into sequences of characters: the
first 90% train, the last 10% validate.

    >>> data = load_data("digits")
    >>> data.kind, data.input_shape, data.num_classes, len(data.train), len(data.val)
    ('image', (1, 8, 8), 10, 1437, 360)
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import numpy as np

from .config import OptionError

FORMS = "digits, mnist:DIR, fashion-mnist:DIR or text:FILE"
MAX_SEQ_LEN = 64


class Standardize:
    """``(x * scale - mean) / std`` as float32 with a leading channel dim (picklable, for workers).

    >>> Standardize(0.5, 0.25)(np.ones((2, 2), np.float32)).tolist()
    [[[2.0, 2.0], [2.0, 2.0]]]
    """

    def __init__(self, mean: float, std: float, scale: float = 1.0) -> None:
        self.mean, self.std, self.scale = np.float32(mean), np.float32(std), np.float32(scale)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float32) * self.scale - self.mean) / self.std)[None]


@dataclasses.dataclass
class TrainData:
    """What a run trains on: the two datasets and what the model needs to know about them."""

    name: str
    kind: str                      # "image" (classify) or "text" (next-character prediction)
    train: Any
    val: Any
    input_shape: tuple[int, ...]   # (C, H, W) for images, (seq_len,) for text
    num_classes: int               # classes, or the vocabulary size for text
    decode: Callable[[Any], str] | None = None
    encode: Callable[[str], np.ndarray] | None = None


def load_data(spec: str) -> TrainData:
    """The datasets a ``--data`` value names; :class:`~neurarust.cli.config.OptionError` when the spec is
    malformed or its files are missing.

    >>> load_data("cifar")
    Traceback (most recent call last):
    neurarust.cli.config.OptionError: --data: expected digits, mnist:DIR, fashion-mnist:DIR or text:FILE, got 'cifar'
    """
    kind, sep, arg = spec.partition(":")
    if kind == "digits" and not sep:
        return _digits()
    if kind in ("mnist", "fashion-mnist") and arg:
        return _mnist(kind, arg)
    if kind == "text" and arg:
        return _text(arg)
    raise OptionError(f"--data: expected {FORMS}, got {spec!r}")


def _standardize(images: np.ndarray, scale: float) -> Standardize:
    x = images.astype(np.float32) * np.float32(scale)
    return Standardize(float(x.mean()), float(x.std()) or 1.0, scale)


def _digits() -> TrainData:
    from neurarust.data.datasets import Digits

    train, val = Digits(train=True), Digits(train=False)
    train.transform = val.transform = _standardize(train.data, 1.0)
    return TrainData("digits", "image", train, val, (1, 8, 8), 10)


def _mnist(kind: str, root: str) -> TrainData:
    from neurarust.data.datasets import MNIST, FashionMNIST

    cls = MNIST if kind == "mnist" else FashionMNIST
    if not os.path.isdir(root):
        raise OptionError(f"--data {kind}:{root}: no such directory")
    try:
        train, val = cls(root, train=True), cls(root, train=False)
    except (FileNotFoundError, ValueError) as e:
        raise OptionError(f"--data {kind}:{root}: {e}") from None
    train.transform = val.transform = _standardize(train.data, 1 / 255)
    _, h, w = train.data.shape
    return TrainData(kind, "image", train, val, (1, h, w), len(cls.classes))


def _text(path: str) -> TrainData:
    from neurarust.data import Subset
    from neurarust.data.datasets import TextFile

    if not os.path.isfile(path):
        raise OptionError(f"--data text:{path}: no such file")
    try:
        probe = TextFile(path, seq_len=1)
    except UnicodeDecodeError as e:
        raise OptionError(f"--data text:{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    seq_len = max(4, min(MAX_SEQ_LEN, (len(probe.tokens) - 1) // 10))
    text = TextFile(path, seq_len=seq_len)
    if len(text) < 2:
        raise OptionError(f"--data text:{path}: too short to train on ({len(probe.tokens)} characters; "
                          "need at least 9)")
    n_val = max(1, len(text) // 10)
    cut = len(text) - n_val
    return TrainData(f"text:{os.path.basename(path)}", "text", Subset(text, range(cut)),
                     Subset(text, range(cut, len(text))), (seq_len,), len(text.vocab), text.decode, text.encode)
