"""How DistributedDataParallel groups gradients into buckets.

Parameters are taken in reverse registration order (backward produces the last layers' gradients
first), split by dtype and device, and cut into buckets: the first of each group closes at
``first_cap`` bytes (small, so communication starts early in backward, like PyTorch's 1 MiB first
bucket), the others at ``cap`` bytes. A parameter is never split; a bucket closes once it reaches
its cap.

    >>> import neurarust as nr
    >>> from neurarust.parallel.buckets import assign_buckets
    >>> ps = [nr.zeros(100), nr.zeros(100), nr.zeros(100), nr.zeros(100)]   # 400 bytes each
    >>> assign_buckets(ps, first_cap=400, cap=800)
    [[3], [2, 1], [0]]
"""
from __future__ import annotations

from typing import Sequence

from neurarust.tensor import Tensor


def assign_buckets(params: Sequence[Tensor], first_cap: int, cap: int) -> list[list[int]]:
    """Parameter indices per bucket, buckets in the order backward fills them."""
    open_buckets: dict[tuple, list[int]] = {}
    sizes: dict[tuple, int] = {}
    closed_count: dict[tuple, int] = {}
    done: list[list[int]] = []
    for i in reversed(range(len(params))):
        p = params[i]
        key = (p.dtype, str(p.device))
        bucket = open_buckets.setdefault(key, [])
        bucket.append(i)
        sizes[key] = sizes.get(key, 0) + p.numel() * p.element_size()
        limit = first_cap if closed_count.get(key, 0) == 0 else cap
        if sizes[key] >= limit:
            done.append(open_buckets.pop(key))
            sizes[key] = 0
            closed_count[key] = closed_count.get(key, 0) + 1
    done.extend(b for b in open_buckets.values() if b)
    return sorted(done, key=lambda b: -b[0])
