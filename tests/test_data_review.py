"""Regression tests from a differential review of neurarust.data against torch.utils.data: each test
pins one behaviour where NeuraRust used to differ from PyTorch."""
import collections

import numpy as np
import pytest

import neurarust as nr
from neurarust.data import ConcatDataset, DataLoader, RandomSampler, default_collate, default_convert
from neurarust.errors import NeuraRustError

torch = pytest.importorskip("torch")
tud = torch.utils.data


def _plain(x):
    """A batch as nested Python values plus dtype names, comparable across the two libraries."""
    if isinstance(x, (nr.Tensor, torch.Tensor)):
        return ("tensor", str(x.dtype).split(".")[-1], x.tolist())
    if isinstance(x, dict):
        return (type(x).__name__, {k: _plain(v) for k, v in x.items()})
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_plain(v) for v in x])
    return x


# ----------------------------------------------------------------------------------------------
# default_collate
# ----------------------------------------------------------------------------------------------

def test_collate_keeps_numpy_strings_as_a_list():
    batch = [np.str_("cat"), np.str_("dog")]
    assert default_collate(batch) == tud.default_collate(batch) == ["cat", "dog"]


@pytest.mark.parametrize("batch", [[1, 2.5], [True, 2], [True, 2.5], [2, True], [1.5, 2], [True, False]])
def test_collate_of_python_numbers_infers_dtype_like_torch(batch):
    assert _plain(default_collate(batch)) == _plain(tud.default_collate(batch))


@pytest.mark.parametrize("make", [np.zeros, nr.zeros], ids=["numpy", "tensor"])
def test_collate_of_unequal_shapes_raises_runtime_error(make):
    with pytest.raises(RuntimeError, match="equal size") as info:
        default_collate([make(2), make(3)])
    assert isinstance(info.value, NeuraRustError)
    with pytest.raises(RuntimeError):
        tud.default_collate([torch.zeros(2), torch.zeros(3)])


def test_collate_of_uneven_sequences_raises_a_neurarust_runtime_error():
    with pytest.raises(RuntimeError, match="equal size") as info:
        default_collate([[1, 2], [3]])
    assert isinstance(info.value, NeuraRustError)


def test_collate_keeps_a_defaultdict_and_its_factory():
    sample = collections.defaultdict(list, a=1)
    ours, theirs = default_collate([sample, sample]), tud.default_collate([sample, sample])
    assert type(ours) is type(theirs) is collections.defaultdict and ours.default_factory is list
    assert _plain(dict(ours)) == _plain(dict(theirs))


# ----------------------------------------------------------------------------------------------
# default_convert (batch_size=None)
# ----------------------------------------------------------------------------------------------

def test_convert_keeps_a_zero_dim_array_zero_dim():
    assert default_convert(np.array(2.5)).shape == tuple(tud.default_convert(np.array(2.5)).shape) == ()
    sample = next(iter(DataLoader([np.array(1.0)], batch_size=None)))
    assert sample.shape == () and sample.item() == 1.0


def test_convert_passes_numpy_strings_through():
    assert default_convert(np.str_("a")) == tud.default_convert(np.str_("a")) == "a"
    assert default_convert({"name": np.str_("a")}) == {"name": "a"}


# ----------------------------------------------------------------------------------------------
# Datasets and samplers: error types
# ----------------------------------------------------------------------------------------------

def test_concat_dataset_negative_index_beyond_length_raises_value_error():
    with pytest.raises(ValueError):
        tud.ConcatDataset([[0, 1], [2]])[-4]
    with pytest.raises(ValueError) as info:
        ConcatDataset([[0, 1], [2]])[-4]
    assert isinstance(info.value, NeuraRustError) and isinstance(info.value, IndexError)


def test_concat_dataset_index_past_the_end_raises_index_error():
    with pytest.raises(IndexError) as info:
        ConcatDataset([[0, 1], [2]])[3]
    assert isinstance(info.value, NeuraRustError)
    assert list(ConcatDataset([[0, 1], [2]])) == [0, 1, 2]  # iteration stops on that IndexError


def test_random_sampler_non_bool_replacement_raises_type_error():
    with pytest.raises(TypeError):
        tud.RandomSampler(range(3), replacement=1)
    with pytest.raises(TypeError) as info:
        RandomSampler(range(3), replacement=1)
    assert isinstance(info.value, NeuraRustError)
