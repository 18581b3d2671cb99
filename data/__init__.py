"""neurarust.data: datasets, samplers and a ``DataLoader`` with PyTorch's ``torch.utils.data``
semantics, parallel worker processes that return batches through shared memory, NumPy-based
``transforms`` and offline ``datasets`` (Digits, MNIST/FashionMNIST from IDX files, CSV, image
folders, text files).

    >>> import neurarust as nr
    >>> from neurarust.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(nr.arange(6.0).reshape(3, 2), nr.tensor([0, 1, 0]))
    >>> x, y = next(iter(DataLoader(ds, batch_size=2)))
    >>> x.shape, y.tolist()
    (neurarust.Size([2, 2]), [0, 1])
"""
from __future__ import annotations

import importlib
from typing import Any

from ._worker import WorkerInfo, get_worker_info
from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, TensorDataset,
                      random_split)
from .sampler import (BatchSampler, DistributedSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler, WeightedRandomSampler)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset", "StackDataset",
           "random_split", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "DistributedSampler", "DataLoader", "default_collate",
           "default_convert", "get_worker_info", "WorkerInfo", "transforms", "datasets"]


def __getattr__(name: str) -> Any:
    if name in ("transforms", "datasets"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'neurarust.data' has no attribute '{name}'")
