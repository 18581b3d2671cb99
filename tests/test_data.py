"""neurarust.data in the main process: datasets, samplers, collation and DataLoader semantics, checked
against torch.utils.data wherever PyTorch's behaviour does not depend on its random generator."""
from collections import namedtuple

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import neurarust as nr
from neurarust.data import (BatchSampler, ChainDataset, ConcatDataset, DataLoader, Dataset, DistributedSampler,
                            IterableDataset, RandomSampler, SequentialSampler, StackDataset, Subset,
                            SubsetRandomSampler, TensorDataset, WeightedRandomSampler, default_collate,
                            default_convert, random_split)
from neurarust.errors import ArgumentError, DTypeError, ShapeError

Point = namedtuple("Point", "x y")


def _plain(x):
    """Batches of either library as nested Python lists/dicts, for comparison."""
    if isinstance(x, (nr.Tensor, torch.Tensor)):
        return ("tensor", str(x.dtype).split(".")[-1], x.tolist())
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__,) + tuple(_plain(v) for v in x)
    if isinstance(x, (list, tuple)):
        return [type(x).__name__] + [_plain(v) for v in x]
    return x


class Samples:
    """Samples of every collatable kind (map-style, length n)."""

    def __init__(self, n=7):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"img": np.full((2, 3), i, np.float32), "label": i, "w": i * 0.5, "flag": bool(i % 2),
                "name": f"s{i}", "pair": (i, np.int64(i)), "pt": Point(i, [i, -i])}


# ----------------------------------------------------------------------------------------------
# Datasets
# ----------------------------------------------------------------------------------------------

def test_tensor_dataset_and_errors():
    ds = TensorDataset(nr.arange(6).reshape(3, 2), nr.tensor([5, 6, 7]))
    assert len(ds) == 3 and [t.tolist() for t in ds[2]] == [[4, 5], 7]
    with pytest.raises(ShapeError):
        TensorDataset(nr.zeros(3), nr.zeros(4))


def test_concat_chain_stack_subset_match_torch():
    parts = [list(range(3)), list(range(10, 12))]
    ours, theirs = ConcatDataset(parts), tud.ConcatDataset(parts)
    assert len(ours) == len(theirs) and ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(-5, 5)] == [theirs[i] for i in range(-5, 5)]
    with pytest.raises(IndexError):
        ours[5]
    with pytest.raises(IndexError):
        ours[-6]
    assert list(ChainDataset([range(2), range(3)])) == [0, 1, 0, 1, 2]
    assert StackDataset(a=[1, 2], b="xy")[1] == tud.StackDataset(a=[1, 2], b="xy")[1]
    assert StackDataset([1, 2], "xy")[0] == tud.StackDataset([1, 2], "xy")[0]
    with pytest.raises(ShapeError):
        StackDataset([1], [1, 2])
    s = Subset("abcdef", [5, 1])
    assert len(s) == 2 and s[0] == "f" and s[[1, 0]] == ["b", "f"]

    class Two(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return i

    assert len(Two() + Two()) == 4

    class Stream(IterableDataset):
        def __iter__(self):
            return iter("ab")

    assert list(Stream() + Stream()) == ["a", "b", "a", "b"]


@pytest.mark.filterwarnings("ignore:Length of split:UserWarning")
@pytest.mark.parametrize("lengths", [[3, 7], [0.8, 0.2], [0.34, 0.33, 0.33], [1.0], [0.5, 0.5, 0.0]])
def test_random_split_sizes_match_torch_and_partition(lengths):
    g = nr.Generator().manual_seed(1)
    ours = random_split(range(10), lengths, generator=g)
    theirs = tud.random_split(range(10), lengths, generator=torch.Generator().manual_seed(1))
    assert [len(p) for p in ours] == [len(p) for p in theirs]
    assert sorted(i for p in ours for i in p) == list(range(10))
    again = random_split(range(10), lengths, generator=nr.Generator().manual_seed(1))
    assert [list(p) for p in ours] == [list(p) for p in again]


def test_random_split_errors():
    with pytest.raises(ArgumentError):
        random_split(range(10), [3, 3])
    with pytest.raises(ArgumentError):
        random_split(range(10), [0.5, 0.6])


# ----------------------------------------------------------------------------------------------
# Samplers
# ----------------------------------------------------------------------------------------------

def test_random_sampler_is_a_repeatable_permutation():
    s = RandomSampler(range(9), generator=nr.Generator().manual_seed(4))
    a = list(s)
    assert sorted(a) == list(range(9)) and a != list(range(9))
    assert list(RandomSampler(range(9), generator=nr.Generator().manual_seed(4))) == a
    nr.manual_seed(3)
    b = list(RandomSampler(range(9)))
    nr.manual_seed(3)
    assert list(RandomSampler(range(9))) == b


def test_random_sampler_num_samples_and_replacement():
    g = nr.Generator().manual_seed(0)
    long = list(RandomSampler(range(4), num_samples=10, generator=g))
    assert len(long) == 10 and sorted(long[:4]) == sorted(long[4:8]) == [0, 1, 2, 3]
    rep = list(RandomSampler(range(3), replacement=True, num_samples=50, generator=g))
    assert len(rep) == 50 and set(rep) <= {0, 1, 2}
    assert len(RandomSampler(range(3), replacement=True)) == 3
    with pytest.raises(ArgumentError):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError):  # as in PyTorch
        RandomSampler(range(3), replacement=1)


def test_subset_and_weighted_samplers():
    g = nr.Generator().manual_seed(2)
    assert sorted(SubsetRandomSampler([4, 8, 9], generator=g)) == [4, 8, 9]
    draws = list(WeightedRandomSampler([0.0, 3.0, 1.0], 200, generator=g))
    assert set(draws) <= {1, 2} and draws.count(1) > draws.count(2)
    no_rep = list(WeightedRandomSampler([1.0, 1.0, 1.0, 1.0], 4, replacement=False, generator=g))
    assert sorted(no_rep) == [0, 1, 2, 3]
    with pytest.raises(ArgumentError):
        WeightedRandomSampler([[1.0]], 1)


@pytest.mark.parametrize("n,bs,drop", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False), (2, 5, True)])
def test_batch_sampler_matches_torch(n, bs, drop):
    ours = BatchSampler(SequentialSampler(range(n)), bs, drop)
    theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("n,replicas,drop", [(10, 3, False), (10, 3, True), (2, 4, False), (8, 4, True), (7, 2, True)])
def test_distributed_sampler_unshuffled_matches_torch(n, replicas, drop):
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop)
        theirs = tud.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_distributed_sampler_shuffle_epochs_partition():
    shares = [DistributedSampler(range(12), 3, r, seed=5) for r in range(3)]
    first = [list(s) for s in shares]
    assert sorted(sum(first, [])) == list(range(12))
    for s in shares:
        s.set_epoch(1)
    second = [list(s) for s in shares]
    assert sorted(sum(second, [])) == list(range(12)) and second != first
    with pytest.raises(ArgumentError):
        DistributedSampler(range(4), 2, 2)


# ----------------------------------------------------------------------------------------------
# Collation
# ----------------------------------------------------------------------------------------------

def test_default_collate_structure_matches_torch():
    ds = Samples(3)
    ours = default_collate([ds[i] for i in range(3)])
    theirs = tud.default_collate([ds[i] for i in range(3)])
    assert _plain(ours) == _plain(theirs)
    assert ours["img"].dtype == nr.float32 and ours["flag"].dtype == nr.bool_
    assert _plain(default_collate([nr.tensor([1, 2]), nr.tensor([3, 4])])) == \
        _plain(tud.default_collate([torch.tensor([1, 2]), torch.tensor([3, 4])]))


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(DTypeError):
        default_collate([object(), object()])
    with pytest.raises(DTypeError):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert_matches_torch():
    sample = {"a": np.arange(3), "t": (np.float32(1.5), "s"), "p": Point(np.zeros(1), 2)}
    assert _plain(default_convert(sample)) == _plain(tud.default_convert(sample))


# ----------------------------------------------------------------------------------------------
# DataLoader (main process)
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=7),
                                dict(batch_size=10), dict(batch_size=None),
                                dict(batch_sampler=[[0, 2], [6], [1, 3, 5]]),
                                dict(sampler=[6, 0, 3], batch_size=2)])
def test_loader_batches_match_torch(kw):
    ds = Samples(7)
    ours, theirs = DataLoader(ds, **kw), tud.DataLoader(ds, **kw)
    assert len(ours) == len(theirs)
    assert [_plain(b) for b in ours] == [_plain(b) for b in theirs]


def test_loader_iterable_dataset_len_and_batches():
    def stream(base):
        class Stream(base):
            def __iter__(self):
                return iter(range(7))

            def __len__(self):
                return 7
        return Stream()

    for drop in (False, True):
        ours = DataLoader(stream(IterableDataset), batch_size=3, drop_last=drop)
        theirs = tud.DataLoader(stream(tud.IterableDataset), batch_size=3, drop_last=drop)
        assert len(ours) == len(theirs)
        assert [b.tolist() for b in ours] == [b.tolist() for b in theirs]


def test_loader_shuffle_repeats_with_generator_and_custom_collate():
    def run(seed):
        return [b for b in DataLoader(range(10), batch_size=4, shuffle=True, collate_fn=list,
                                      generator=nr.Generator().manual_seed(seed))]

    a = run(0)
    assert [len(b) for b in a] == [4, 4, 2] and sorted(sum(a, [])) == list(range(10))
    assert run(0) == a and run(1) != a


@pytest.mark.parametrize("kw", [dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2),
                                dict(persistent_workers=True), dict(shuffle=True, sampler=[0]),
                                dict(batch_sampler=[[0]], batch_size=2), dict(batch_sampler=[[0]], drop_last=True),
                                dict(batch_size=None, drop_last=True)])
def test_loader_argument_errors_like_torch(kw):
    with pytest.raises(ValueError):
        tud.DataLoader(range(3), **kw)
    with pytest.raises(ArgumentError):
        DataLoader(range(3), **kw)


def test_loader_iterable_dataset_rejects_shuffle_and_samplers():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(3))

    for kw in (dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])):
        with pytest.raises(ArgumentError):
            DataLoader(Stream(), **kw)


def test_pin_memory_without_cuda_warns_and_passes_batches_through():
    if nr.cuda.is_available():
        pytest.skip("CUDA present: pinning is real")
    with pytest.warns(UserWarning, match="pin_memory"):
        batches = list(DataLoader(range(4), batch_size=2, pin_memory=True))
    assert [b.tolist() for b in batches] == [[0, 1], [2, 3]]
