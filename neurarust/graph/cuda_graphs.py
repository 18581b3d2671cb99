"""Replay through a CUDA graph: a captured program's kernel launches recorded once, replayed as one.

On CUDA, a compiled call whose graph has static shapes, writes nothing it does not own (no
parameter or buffer updates) and attaches no backward is recorded with torch's CUDA graph API (part
of the launch context, like streams): after two warm-up runs on a side stream (Triton compiles and
the autotuner times there, outside the recording), one run is recorded into static input and output
buffers. A call then copies its inputs into the static buffers, replays the recording and returns
copies of the static outputs, so results of earlier calls stay valid.

Training steps (effects on parameters, or a backward attached to the outputs) replay through the
executor instead: warming up would apply their updates again, and the backward would read static
buffers a later call overwrites.

    >>> from neurarust.graph.cuda_graphs import eligible
    >>> from neurarust.graph import capture
    >>> import neurarust as nr
    >>> eligible(capture(lambda x: x * 2, nr.ones(2)).graph)      # a CPU graph
    False
"""
from __future__ import annotations

from typing import Sequence

from neurarust.tensor import Tensor

from .executor import Program
from .ir import Graph

WARMUP_RUNS = 2


def eligible(graph: Graph) -> bool:
    """A graph on CUDA alone, with no write into a tensor it did not make and no random draw."""
    values = list(graph.values())
    if not values or any(v.device.type != "cuda" for v in values):
        return False
    made = {v.id for n in graph.nodes for v in n.outputs if v is not None}
    return all(old.id in made for n in graph.nodes for old, _ in n.effects) and \
        not any(n.kind_is_random() for n in graph.nodes)


class CudaGraphProgram:
    """A :class:`~neurarust.graph.Program` recorded into a CUDA graph (same ``run`` interface)."""

    def __init__(self, program: Program, example_inputs: Sequence[Tensor]) -> None:
        import torch

        self.program = program
        self.static_inputs = [t.clone() for t in example_inputs]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP_RUNS):
                program.run(self.static_inputs)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_outputs = program.run(self.static_inputs)

    def run(self, inputs: Sequence[Tensor], preset=None) -> list:
        for static, t in zip(self.static_inputs, inputs):
            static.copy_(t)
        self.graph.replay()
        return [None if t is None else t.clone() for t in self.static_outputs]
