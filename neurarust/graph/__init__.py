"""``neurarust.graph``: the captured-graph machinery behind :func:`neurarust.compile` and ONNX export.

* :mod:`~neurarust.graph.ir`: the printable IR (Graph, Node, Value);
* :mod:`~neurarust.graph.capture`: records a function's registry ops into a Graph;
* :mod:`~neurarust.graph.passes`: dead code, constants, common subexpressions, views, fusion;
* :mod:`~neurarust.graph.copies`: copies read only through views by strided readers, dropped;
* :mod:`~neurarust.graph.fusion`: generated fused kernels (Triton source and NumPy reference);
* :mod:`~neurarust.graph.horizontal`: independent copies, column sums and products as one kernel;
* :mod:`~neurarust.graph.executor`: runs a Graph with no per-op dispatch;
* :mod:`~neurarust.graph.compiler`: ``neurarust.compile`` (guards, cache, training);
* :mod:`~neurarust.graph.explain`: ``explain(fn, *args)``, graph breaks and fusions of one call.

    >>> import neurarust as nr
    >>> from neurarust.graph import capture
    >>> len(capture(lambda x: x.exp().sum(), nr.ones(4)).graph.nodes)
    2
"""
from .capture import Captured, GraphBreak, capture
from .executor import Program
from .explain import Explanation, explain
from .ir import Graph, Node, Value

__all__ = ["Captured", "Explanation", "Graph", "GraphBreak", "Node", "Program", "Value", "capture", "explain"]
