"""neurarust.data.datasets: Digits, the IDX reader (including corrupt and truncated files), MNIST and
FashionMNIST folders, CSV, image folders and text files."""
import gzip
import struct

import numpy as np
import pytest

import neurarust as nr
from neurarust.data import DataLoader
from neurarust.data.datasets import (MNIST, CSVDataset, DatasetFormatError, Digits, FashionMNIST, ImageFolder,
                                     TextFile, read_idx)


def _idx(array: np.ndarray, code: int = 0x08) -> bytes:
    return bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def _write_mnist(folder, n=5, gz=False):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    for name, arr in (("train-images-idx3-ubyte", images), ("train-labels-idx1-ubyte", labels),
                      ("t10k-images-idx3-ubyte", images[:2]), ("t10k-labels-idx1-ubyte", labels[:2])):
        data = _idx(arr)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return images, labels


def test_digits_split_is_fixed_and_disjoint():
    train, test = Digits(train=True), Digits(train=False)
    assert (len(train), len(test)) == (1437, 360)
    assert train.data.shape == (1437, 8, 8) and train.data.dtype == np.float32
    assert set(np.unique(train.targets)) == set(range(10))
    assert np.array_equal(Digits().targets, train.targets)
    rows = {x.tobytes() for x in train.data}
    assert sum(x.tobytes() in rows for x in test.data) < 10   # a few digits are pixel-identical
    x, y = next(iter(DataLoader(test, batch_size=4)))
    assert x.shape == (4, 8, 8) and x.dtype == nr.float32 and y.dtype == nr.int64


def test_digits_shipped_copy_matches_the_loader(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_sklearn(name, *a, **k):
        if name.startswith("sklearn"):
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_sklearn)
    d = Digits(train=False, transform=lambda x: x * 16, target_transform=str)
    x, y = d[0]
    assert isinstance(y, str) and x.max() <= 16 and float(x.sum()) == int(x.sum())


@pytest.mark.parametrize("code,dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, ">i2"), (0x0C, ">i4"),
                                        (0x0D, ">f4"), (0x0E, ">f8")])
def test_read_idx_types(tmp_path, code, dtype):
    a = (np.arange(6).reshape(2, 3) - 2).astype(dtype)
    if code == 0x08:
        a = np.arange(6, dtype=np.uint8).reshape(2, 3)
    (tmp_path / "f").write_bytes(_idx(a, code))
    out = read_idx(tmp_path / "f")
    assert out.shape == (2, 3) and out.tolist() == a.tolist() and out.dtype.isnative


@pytest.mark.parametrize("data,match", [
    (b"\x00\x00", "truncated IDX header"),
    (b"\x12\x34\x08\x01\x00\x00\x00\x03abc", "not an IDX file"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x03abc", "not an IDX file"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x03", "truncated IDX header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", "truncated: shape \\[5\\]"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x02abc", "trailing bytes"),
])
def test_read_idx_rejects_corrupt_files(tmp_path, data, match):
    (tmp_path / "bad").write_bytes(data)
    with pytest.raises(DatasetFormatError, match=match):
        read_idx(tmp_path / "bad")


def test_read_idx_truncated_gzip(tmp_path):
    blob = gzip.compress(_idx(np.zeros((4, 28, 28), np.uint8)))
    (tmp_path / "bad.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DatasetFormatError, match="gzip"):
        read_idx(tmp_path / "bad.gz")


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_raw_and_gzip_folders(tmp_path, gz):
    images, labels = _write_mnist(tmp_path, gz=gz)
    ds = MNIST(tmp_path, train=True)
    assert len(ds) == 5 and np.array_equal(ds[3][0], images[3]) and ds[3][1] == int(labels[3])
    assert len(MNIST(tmp_path, train=False)) == 2
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    _write_mnist(raw, n=3, gz=gz)
    assert len(FashionMNIST(tmp_path)) == 3


def test_mnist_missing_files_lists_expected_names(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*t10k-labels-idx1-ubyte"):
        MNIST(tmp_path)


def test_mnist_count_mismatch(tmp_path):
    _write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(np.zeros(4, np.uint8)))
    with pytest.raises(DatasetFormatError, match="expected images"):
        MNIST(tmp_path)


def test_csv_dataset(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,y,t\n1,2,0.5\n3,4,1.5\n")
    ds = CSVDataset(path)
    assert len(ds) == 2 and ds[1][0].tolist() == [3.0, 4.0] and ds[1][1] == 1.5
    assert CSVDataset(path, target=0)[0] == (pytest.approx(np.array([2.0, 0.5])), 1)
    assert CSVDataset(path, target=None)[0].tolist() == [1.0, 2.0, 0.5]
    (tmp_path / "bad.csv").write_text("a,b\n1\n")
    with pytest.raises(DatasetFormatError, match="row 2"):
        CSVDataset(tmp_path / "bad.csv")


def test_image_folder_with_npy_and_custom_loader(tmp_path):
    for c, n in (("b", 2), ("a", 1)):
        (tmp_path / c).mkdir()
        for i in range(n):
            np.save(tmp_path / c / f"{i}.npy", np.full((2, 2, 3), i, np.uint8))
    (tmp_path / "a" / "notes.txt").write_text("ignored")
    ds = ImageFolder(tmp_path)
    assert ds.classes == ["a", "b"] and ds.targets == [0, 1, 1] and ds[2][0].max() == 1
    assert ImageFolder(tmp_path, loader=lambda p: p)[0][0].endswith("0.npy")
    with pytest.raises(FileNotFoundError):
        ImageFolder(tmp_path / "a")


def test_text_file_char_and_byte(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("abcabcab\u00e9")
    ds = TextFile(path, seq_len=3)
    assert len(ds) == 2 and ds.decode(ds[1][0]) == "abc" and ds.decode(ds[1][1]) == "bca"
    assert ds.vocab[-1] == "\u00e9"
    bytes_ds = TextFile(path, seq_len=4, mode="byte")
    assert len(bytes_ds) == 2 and bytes_ds[0][0].tolist() == list(b"abca")
    with pytest.raises(IndexError):
        ds[2]
