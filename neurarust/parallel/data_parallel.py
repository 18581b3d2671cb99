"""DataParallel: one process drives several devices by splitting each batch across replicas.

Each forward replicates the module on the devices, splits the batch along ``dim``, runs the
replicas in parallel threads and concatenates their outputs on ``output_device``; backward sends the
gradients back through the replicas to the module's own parameters on the first device, where they
add up. For several GPUs DistributedDataParallel (one process per GPU) is faster; this is the
one-line way. Devices may repeat (``["cpu", "cpu"]``), which is how the logic is tested here.

    >>> import neurarust as nr
    >>> from neurarust.parallel import DataParallel
    >>> net = nr.nn.Linear(3, 1)
    >>> dp = DataParallel(net, device_ids=["cpu", "cpu"])
    >>> x = nr.ones(4, 3)
    >>> bool((dp(x) - net(x)).abs().max() == 0)
    True
"""
from __future__ import annotations

from typing import Any, Sequence

from neurarust.device import as_device
from neurarust.errors import DeviceError
from neurarust.nn.module import Module

from .parallel_apply import parallel_apply
from .replicate import replicate
from .scatter_gather import gather, scatter_kwargs, to_device


class DataParallel(Module):
    """Split each batch over ``device_ids`` (ints are CUDA indices; default: every CUDA device, or
    none without CUDA, when the module just runs), run replicas in threads, gather on
    ``output_device`` (default: the first device). The module must live on ``device_ids[0]``."""

    def __init__(self, module: Module, device_ids: Sequence[Any] | None = None, output_device: Any = None,
                 dim: int = 0):
        super().__init__()
        self.module = module
        self.device_ids = _devices(device_ids)
        self.output_device = as_device(_cuda_index(output_device)) if output_device is not None else (
            self.device_ids[0] if self.device_ids else None)
        self.dim = dim
        if self.device_ids:
            _check_placement(module, self.device_ids[0])

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        args, kws = scatter_kwargs(inputs, kwargs, self.device_ids, self.dim)
        if not args:   # no tensor to split: one call on the first device
            args, kws = [to_device(inputs, self.device_ids[0])], [to_device(kwargs, self.device_ids[0])]
        if len(args) == 1:
            return self.module(*args[0], **kws[0])
        devices = self.device_ids[:len(args)]
        replicas = replicate(self.module, devices)
        outputs = parallel_apply(replicas, args, kws, devices)
        return gather(outputs, self.output_device, self.dim)


def _cuda_index(d: Any) -> Any:
    return f"cuda:{d}" if isinstance(d, int) else d


def _devices(device_ids: Sequence[Any] | None) -> list:
    if device_ids is None:
        from neurarust import cuda

        return [as_device(f"cuda:{i}") for i in range(cuda.device_count())] if cuda.is_available() else []
    return [as_device(_cuda_index(d)) for d in device_ids]


def _check_placement(module: Module, first) -> None:
    for name, t in list(module.named_parameters()) + list(module.named_buffers()):
        if t.device != first:
            raise DeviceError(f"DataParallel: module must have its parameters and buffers on device {first} "
                              f"(device_ids[0]) but found {name} on {t.device}")
