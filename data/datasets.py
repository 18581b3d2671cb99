"""Datasets that load without a network: ``Digits`` (1,797 real 8x8 handwritten digits, shipped with
the project), ``MNIST``/``FashionMNIST`` from the standard IDX files in a local folder, ``CSVDataset``,
``ImageFolder`` and ``TextFile``.

    >>> from neurarust.data.datasets import Digits
    >>> train, test = Digits(train=True), Digits(train=False)
    >>> len(train), len(test), train[0][0].shape
    (1437, 360, (8, 8))
"""
from __future__ import annotations

import csv
import gzip
import os
import zlib
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from neurarust.errors import ArgumentError, NeuraRustError

from .dataset import Dataset

__all__ = ["Digits", "MNIST", "FashionMNIST", "CSVDataset", "ImageFolder", "TextFile", "read_idx",
           "DatasetFormatError", "DIGITS_SPLIT_SEED"]

DIGITS_SPLIT_SEED = 0
"""Seed of the fixed permutation that splits Digits: its first 80% (1,437 samples) is ``train``."""


class DatasetFormatError(NeuraRustError, ValueError):
    """A dataset file is corrupt, truncated or not in the expected format."""


class _Transformed(Dataset):
    """Samples ``(input, target)`` with optional ``transform`` / ``target_transform``."""

    transform: Callable | None = None
    target_transform: Callable | None = None

    def _apply(self, x: Any, y: Any) -> tuple[Any, Any]:
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y


# ----------------------------------------------------------------------------------------------
# Digits
# ----------------------------------------------------------------------------------------------

def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [1797, 8, 8] in 0..16, labels uint8 [1797]): scikit-learn's copy when installed,
    else the identical copy shipped in ``data/digits.npz``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        with np.load(Path(__file__).with_name("digits.npz")) as f:
            return f["images"], f["targets"]
    d = load_digits()
    return d.images.astype(np.uint8), d.target.astype(np.uint8)


class Digits(_Transformed):
    """The UCI optical-recognition handwritten digits (scikit-learn's ``load_digits``): 1,797 images of
    8x8 pixels, 10 classes. Samples are ``(image, label)``: a float32 ``8 x 8`` array in [0, 1] (pixel
    counts 0..16 divided by 16) and an int. There is no official split: a fixed permutation
    (``nr.randperm`` with seed :data:`DIGITS_SPLIT_SEED`) gives ``train`` its first 1,437 samples and
    ``test`` the remaining 360, the same everywhere. ``data`` / ``targets`` hold the split's arrays.
    Source: E. Alpaydin and C. Kaynak, UCI Machine Learning Repository (CC BY 4.0).

    >>> from neurarust.data.datasets import Digits
    >>> ds = Digits(train=False)
    >>> x, y = ds[0]
    >>> x.dtype, bool(0.0 <= x.min() and x.max() <= 1.0), y in range(10), ds.classes[:3]
    (dtype('float32'), True, True, [0, 1, 2])
    """

    classes = list(range(10))

    def __init__(self, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        import neurarust as nr

        images, labels = _digits_arrays()
        perm = nr.randperm(len(images), generator=nr.Generator().manual_seed(DIGITS_SPLIT_SEED)).numpy()
        cut = int(len(images) * 0.8)
        idx = perm[:cut] if train else perm[cut:]
        self.train = train
        self.data = (images[idx].astype(np.float32) / np.float32(16.0))
        self.targets = labels[idx].astype(np.int64)
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self._apply(self.data[index], int(self.targets[index]))


# ----------------------------------------------------------------------------------------------
# IDX files (MNIST, FashionMNIST)
# ----------------------------------------------------------------------------------------------

_IDX_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetFormatError(f"{path}: corrupt or truncated gzip data ({e})") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed), the format of MNIST: two zero bytes, a type code, the
    number of dimensions, the dimensions (big-endian uint32), then the data. Corrupt or truncated files
    raise :class:`DatasetFormatError` naming the file and what is wrong.

    >>> import numpy as np, tempfile, os
    >>> from neurarust.data.datasets import read_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "x-idx1-ubyte")
    >>> with open(path, "wb") as f: _ = f.write(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    >>> read_idx(path).tolist()
    [7, 8, 9]
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DatasetFormatError(f"{path}: truncated IDX header ({len(raw)} bytes, expected at least 4)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DatasetFormatError(f"{path}: not an IDX file (magic bytes {raw[:4].hex()}; expected 0000 then a "
                                 f"type code in {[hex(k) for k in _IDX_TYPES]} and the number of dimensions)")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetFormatError(f"{path}: truncated IDX header: {ndim} dimensions need {header} bytes, "
                                 f"the file has {len(raw)}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got != expected:
        what = "truncated" if got < expected else "corrupt (trailing bytes)"
        raise DatasetFormatError(f"{path}: {what}: shape {list(shape)} of {dtype.name} needs {expected} data "
                                 f"bytes, the file has {got}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


class MNIST(_Transformed):
    """MNIST from the four standard IDX files in ``root/MNIST/raw`` (torchvision's layout) or ``root``,
    raw or gzip-compressed. Nothing is downloaded: missing files raise ``FileNotFoundError`` listing the
    expected names. Samples are ``(image, label)``: a uint8 ``28 x 28`` array (``ToTensor`` scales it to
    [0, 1]) and an int.

    >>> from neurarust.data.datasets import MNIST
    >>> MNIST.resources["train"]
    ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte')
    """

    resources = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                 "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]

    def __init__(self, root: str | os.PathLike, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self.root, self.train = Path(root), train
        self.transform, self.target_transform = transform, target_transform
        images, labels = (self._find(name) for name in self.resources["train" if train else "test"])
        self.data = read_idx(images)
        self.targets = read_idx(labels).astype(np.int64)
        if self.data.ndim != 3 or self.targets.ndim != 1 or len(self.data) != len(self.targets):
            raise DatasetFormatError(f"{images} / {labels}: expected images [N, H, W] and labels [N], got "
                                     f"{list(self.data.shape)} and {list(self.targets.shape)}")

    def _find(self, name: str) -> Path:
        folders = [self.root / type(self).__name__ / "raw", self.root]
        for folder in folders:
            for candidate in (folder / name, folder / f"{name}.gz"):
                if candidate.is_file():
                    return candidate
        expected = [n + ext for pair in self.resources.values() for n in pair for ext in ("", ".gz")]
        raise FileNotFoundError(f"{type(self).__name__}: {name} (or {name}.gz) not found in "
                                f"{' or '.join(str(f) for f in folders)}. Expected the IDX files "
                                f"{', '.join(expected[::2])} (raw or .gz); this class does not download them.")

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self._apply(self.data[index], int(self.targets[index]))


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): the same IDX file names and format as :class:`MNIST`, looked up in
    ``root/FashionMNIST/raw`` or ``root``.

    >>> from neurarust.data.datasets import FashionMNIST
    >>> FashionMNIST.classes[:2]
    ['T-shirt/top', 'Trouser']
    """

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


# ----------------------------------------------------------------------------------------------
# CSV, image folders, text
# ----------------------------------------------------------------------------------------------

class CSVDataset(_Transformed):
    """Rows of a CSV file: ``(features, target)`` with features a float32 array of the other columns.
    ``target`` is a column index or header name (None: samples are the features alone). Numeric
    targets are int64 when every value is integral, float32 otherwise; text targets become class
    indices into the sorted ``classes``.

    >>> import os, tempfile
    >>> from neurarust.data.datasets import CSVDataset
    >>> path = os.path.join(tempfile.mkdtemp(), "iris.csv")
    >>> with open(path, "w") as f: _ = f.write("a,b,kind\\n1,2,cat\\n3,4,dog\\n")
    >>> ds = CSVDataset(path, target="kind")
    >>> ds[1][0].tolist(), ds[1][1], ds.classes
    ([3.0, 4.0], 1, ['cat', 'dog'])
    """

    def __init__(self, path: str | os.PathLike, target: int | str | None = -1, header: bool = True,
                 delimiter: str = ",", transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f, delimiter=delimiter) if r]
        self.columns: list[str] = rows.pop(0) if header and rows else [str(i) for i in range(len(rows[0]) if rows else 0)]
        width = len(self.columns)
        for n, r in enumerate(rows):
            if len(r) != width:
                raise DatasetFormatError(f"{path}: row {n + 1 + header} has {len(r)} fields, expected {width}")
        self.transform, self.target_transform = transform, target_transform
        self.classes: list[str] | None = None
        tcol = None
        if target is not None:
            if isinstance(target, str):
                if target not in self.columns:
                    raise ArgumentError(f"{path}: no column named {target!r}; columns are {self.columns}")
                tcol = self.columns.index(target)
            else:
                tcol = range(width)[target]
            self.targets = self._parse_targets([r[tcol] for r in rows])
        feature_cols = [i for i in range(width) if i != tcol]
        try:
            self.data = np.array([[float(r[i]) for i in feature_cols] for r in rows], dtype=np.float32).reshape(
                len(rows), len(feature_cols))
        except ValueError as e:
            raise DatasetFormatError(f"{path}: a feature column is not numeric ({e})") from None
        self._has_target = tcol is not None

    def _parse_targets(self, values: list[str]) -> np.ndarray:
        try:
            num = np.array([float(v) for v in values], dtype=np.float64)
        except ValueError:
            self.classes = sorted(set(values))
            lookup = {c: i for i, c in enumerate(self.classes)}
            return np.array([lookup[v] for v in values], dtype=np.int64)
        return num.astype(np.int64) if np.all(num == np.round(num)) else num.astype(np.float32)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> Any:
        if not self._has_target:
            return self.data[index] if self.transform is None else self.transform(self.data[index])
        y = self.targets[index]
        return self._apply(self.data[index], y.item())


IMG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff", ".webp", ".npy")


def default_loader(path: str) -> np.ndarray:
    """An image file as an ``H x W x C`` uint8 array: ``.npy`` with NumPy, other formats with Pillow
    (converted to RGB), which must then be installed.

    >>> import numpy as np, os, tempfile
    >>> from neurarust.data.datasets import default_loader
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npy"); np.save(path, np.zeros((2, 2, 3), np.uint8))
    >>> default_loader(path).shape
    (2, 2, 3)
    """
    if path.lower().endswith(".npy"):
        return np.load(path)
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"reading {path} needs Pillow (pip install pillow); .npy images need nothing") from None
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


class ImageFolder(_Transformed):
    """Images sorted in one sub-folder per class (``root/cat/1.png``, ``root/dog/x.npy``): samples are
    ``(image, class index)``; ``classes`` are the sorted folder names, ``samples`` the (path, index) pairs.

    >>> import numpy as np, os, tempfile
    >>> from neurarust.data.datasets import ImageFolder
    >>> root = tempfile.mkdtemp()
    >>> for c in ("cat", "dog"):
    ...     os.mkdir(os.path.join(root, c)); np.save(os.path.join(root, c, "0.npy"), np.zeros((2, 2, 3), np.uint8))
    >>> ds = ImageFolder(root)
    >>> ds.classes, len(ds), ds[1][1]
    (['cat', 'dog'], 2, 1)
    """

    def __init__(self, root: str | os.PathLike, transform: Callable | None = None,
                 target_transform: Callable | None = None, loader: Callable[[str], Any] = default_loader,
                 extensions: Sequence[str] = IMG_EXTENSIONS) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"ImageFolder: {self.root} is not a directory")
        self.classes = sorted(d.name for d in self.root.iterdir() if d.is_dir())
        if not self.classes:
            raise FileNotFoundError(f"ImageFolder: no class folders in {self.root}")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        exts = tuple(e.lower() for e in extensions)
        self.samples = [(str(p), i) for i, c in enumerate(self.classes)
                        for p in sorted((self.root / c).rglob("*")) if p.is_file() and p.suffix.lower() in exts]
        if not self.samples:
            raise FileNotFoundError(f"ImageFolder: no files with extensions {exts} under {self.root}")
        self.targets = [i for _, i in self.samples]
        self.loader, self.transform, self.target_transform = loader, transform, target_transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        path, target = self.samples[index]
        return self._apply(self.loader(path), target)


class TextFile(Dataset):
    """A text file as a token stream for language models, by characters (``mode="char"``: ``vocab`` is
    the sorted set of characters) or by bytes (``mode="byte"``: 256 tokens). Sample ``i`` is ``(x, y)``:
    ``seq_len`` int64 tokens starting at ``i * seq_len`` and the same shifted by one.

    >>> import os, tempfile
    >>> from neurarust.data.datasets import TextFile
    >>> path = os.path.join(tempfile.mkdtemp(), "t.txt")
    >>> with open(path, "w") as f: _ = f.write("hello world")
    >>> ds = TextFile(path, seq_len=4)
    >>> len(ds), ds.decode(ds[0][0]), ds.decode(ds[0][1])
    (2, 'hell', 'ello')
    """

    def __init__(self, path: str | os.PathLike, seq_len: int = 128, mode: str = "char",
                 encoding: str = "utf-8") -> None:
        if mode not in ("char", "byte"):
            raise ArgumentError(f"TextFile: mode must be 'char' or 'byte', got {mode!r}")
        if seq_len <= 0:
            raise ArgumentError(f"TextFile: seq_len must be positive, got {seq_len}")
        self.mode, self.seq_len, self.encoding = mode, seq_len, encoding
        raw = Path(path).read_bytes()
        if mode == "byte":
            self.vocab: list[Any] = list(range(256))
            self.tokens = np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
        else:
            text = raw.decode(encoding)
            self.vocab = sorted(set(text))
            self.stoi = {c: i for i, c in enumerate(self.vocab)}
            self.tokens = self.encode(text)

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text`` (characters must be in ``vocab``).

        >>> import os, tempfile
        >>> from neurarust.data.datasets import TextFile
        >>> path = os.path.join(tempfile.mkdtemp(), "t.txt")
        >>> with open(path, "w") as f: _ = f.write("abc")
        >>> TextFile(path, seq_len=1).encode("cab").tolist()
        [2, 0, 1]
        """
        if self.mode == "byte":
            return np.frombuffer(text.encode(self.encoding), dtype=np.uint8).astype(np.int64)
        return np.array([self.stoi[c] for c in text], dtype=np.int64)

    def decode(self, ids: Any) -> str:
        """The text of token ids (a sequence, array or tensor).

        >>> import os, tempfile
        >>> from neurarust.data.datasets import TextFile
        >>> path = os.path.join(tempfile.mkdtemp(), "t.txt")
        >>> with open(path, "w") as f: _ = f.write("abc")
        >>> TextFile(path, seq_len=1, mode="byte").decode([104, 105])
        'hi'
        """
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        if self.mode == "byte":
            return bytes(ids).decode(self.encoding, errors="replace")
        return "".join(self.vocab[i] for i in ids)

    def __len__(self) -> int:
        return max(len(self.tokens) - 1, 0) // self.seq_len

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is out of range for a TextFile of {len(self)} samples")
        start = index * self.seq_len
        return self.tokens[start:start + self.seq_len], self.tokens[start + 1:start + self.seq_len + 1]
