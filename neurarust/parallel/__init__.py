"""neurarust.parallel: data parallelism.

``DistributedDataParallel`` (one process per device, gradients averaged by torch.distributed
collectives during backward) and ``DataParallel`` (one process, replicas in threads over several
devices). See docs/distributed.md.

    >>> from neurarust.parallel import DataParallel, DistributedDataParallel
    >>> DistributedDataParallel.__name__
    'DistributedDataParallel'
"""
from __future__ import annotations

from .data_parallel import DataParallel
from .distributed import DistributedDataParallel
from .parallel_apply import ReplicaError, parallel_apply
from .replicate import replicate
from .scatter_gather import gather, scatter

__all__ = ["DistributedDataParallel", "DataParallel", "replicate", "scatter", "gather", "parallel_apply",
           "ReplicaError"]
