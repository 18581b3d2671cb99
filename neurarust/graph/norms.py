"""Norm epilogues: a layer_norm or rms_norm of a fused product runs in the product's own kernel.

A Transformer block normalizes right after a projection and its residual add: ``layer_norm(x @ w.T +
b + r)``. When the rows are short enough for one tile to hold a whole row (at most
``MAX_NORM_N`` elements: ``d_model`` of small and mid-sized models), the matmul kernel that already
applies the bias and residual as its epilogue can also normalize the tile (``NORM`` of
``kernels/matmul_triton.py``): the product is written once and never read back, and one launch
replaces two. The pre-norm sum is still written, since the norm's backward (and a later residual)
reads it.

:func:`fuse_norms` finds ``native_layer_norm`` / ``native_rms_norm`` nodes over the last dim whose
input is the result of a product's fused kernel (:mod:`~neurarust.graph.fusion`) and puts one
:class:`NormedProduct` in place of both. Its NumPy reference is the product's chain followed by the
norm's own front end, as eager runs them; its outputs are the pre-norm result and the norm's
``(output, mean, rstd)`` (``(output, rstd)`` for rms_norm).

    >>> import neurarust as nr
    >>> from neurarust.graph import capture
    >>> from neurarust.graph.fusion import fuse_elementwise
    >>> w, b = nr.ones(4), nr.zeros(4)
    >>> f = lambda x, m, r: nr.nn.functional.layer_norm(x @ m + r, [4], w, b)
    >>> g = capture(f, nr.ones(2, 3), nr.ones(3, 4), nr.ones(2, 4)).graph
    >>> fuse_elementwise(g, []), fuse_norms(g, []), [n.name.split(".")[0] for n in g.nodes]
    (1, 1, ['fused'])
"""
from __future__ import annotations

import numpy as np

from neurarust import backends, registry
from neurarust import dtype as _dt
from neurarust.tensor import Tensor

from .fusion import FusedKernel, _as_op, _as_tensor, _contiguous, bound_call
from .ir import Graph, Node, Value

NORMS = {"native_layer_norm": False, "native_rms_norm": True}   # op -> rms
NORM_DTYPES = ("float32", "float16", "bfloat16")


def _max_norm_n() -> int:
    from neurarust.kernels.matmul_triton import MAX_NORM_N

    return MAX_NORM_N


def _norm_call(n: Node) -> dict | None:
    """``{"input", "weight", "bias", "eps", "rms"}`` of a norm node over its input's last dim, else None."""
    bound = bound_call(n, NORMS)
    if bound is None:
        return None
    x, shape = bound.get("input"), bound.get("normalized_shape")
    shape = [shape] if isinstance(shape, int) else list(shape or ())
    if not isinstance(x, Value) or not x.shape or shape != [x.shape[-1]] or x.dtype.name not in NORM_DTYPES:
        return None
    if not 0 < x.shape[-1] <= _max_norm_n():
        return None
    rms = NORMS[n.op.name]
    params = (bound.get("weight"), None if rms else bound.get("bias"))
    if any(p is not None and (not isinstance(p, Value) or p.shape != (x.shape[-1],)) for p in params):
        return None
    eps = bound.get("eps", None if rms else 1e-5)
    return {"input": x, "weight": params[0], "bias": params[1], "rms": rms,
            "eps": float(_dt.finfo(x.dtype).eps if eps is None else eps)}


def _before(v: Value | None, position: dict, at: int) -> bool:
    """``v`` exists by position ``at`` (a graph input, external, constant, or made earlier)."""
    return v is None or v.producer is None or position.get(id(v.producer), at) < at


def fuse_norms(graph: Graph, keep=()) -> int:
    """Put a :class:`NormedProduct` in place of each fused product and the norm that reads its result
    (see the module docstring); returns how many."""
    done = 0
    for n in list(graph.nodes):
        call = _norm_call(n)
        if call is None:
            continue
        p = call["input"].producer
        k = None if p is None else p.fused
        if type(k) is not FusedKernel or not k.product or k.reduction or p.outputs[0] is not call["input"]:
            continue
        position = {id(m): i for i, m in enumerate(graph.nodes)}
        at, end = position[id(p)], position[id(n)]
        if any(m.effects for m in graph.nodes[at + 1:end]):
            continue
        if not (_before(call["weight"], position, at) and _before(call["bias"], position, at)):
            continue
        _replace(graph, p, n, call)
        done += 1
    return done


def _replace(graph: Graph, p: Node, n: Node, call: dict) -> None:
    k = p.fused
    params = [v for v in (call["weight"], call["bias"]) if v is not None]
    norm = {"rms": call["rms"], "eps": call["eps"], "weight": call["weight"] is not None,
            "bias": call["bias"] is not None}
    kernel = NormedProduct(k.members, k.inputs + [(v.shape, v.dtype) for v in params], k.shape, k.dtype, k.device,
                           norm)
    kernel.write()
    outputs = [p.outputs[0]] + list(n.outputs)
    node = Node(None, tuple(p.args) + tuple(params), {}, outputs, fused=kernel)
    for v in outputs:
        v.producer = node
    graph.nodes[graph.nodes.index(p)] = node
    graph.nodes.remove(n)


class NormedProduct(FusedKernel):
    """A product's fused kernel that also normalizes its result's rows: ``kernel(inputs) -> (z, y,
    mean, rstd)`` (``(z, y, rstd)`` for rms_norm), the last inputs being the norm's weight and bias."""

    def __init__(self, members: list, inputs: list, shape: tuple, dtype, device, norm: dict) -> None:
        self.norm = dict(norm)
        self.multi = True
        super().__init__(members, inputs, shape, dtype, device, product=True)

    @property
    def n_params(self) -> int:
        return int(self.norm["weight"]) + int(self.norm["bias"])

    def _signature(self) -> str:
        n = self.norm
        return super()._signature() + (f"\nnorm {'rms_norm' if n['rms'] else 'layer_norm'}(out, eps={n['eps']!r}, "
                                       f"weight={n['weight']}, bias={n['bias']})")

    def op_names(self) -> list[str]:
        return super().op_names() + ["rms_norm" if self.norm["rms"] else "layer_norm"]

    def spec(self) -> dict:
        return {**super().spec(), "norm": dict(self.norm)}

    @classmethod
    def from_spec(cls, spec: dict) -> "NormedProduct":
        base = FusedKernel.from_spec({**spec, "reduction": None})
        return cls(base.members, base.inputs, base.shape, base.dtype, base.device, spec["norm"])

    def _norm(self, z: Tensor, params: list) -> tuple:
        """The norm of ``z`` by its own front end, as eager runs it."""
        rms = self.norm["rms"]
        op = registry.get("native_rms_norm" if rms else "native_layer_norm")
        w = params[0] if self.norm["weight"] else None
        b = params[-1] if self.norm["bias"] else None
        if rms:
            return op.frontend(op, z, [self.shape[-1]], w, self.norm["eps"])
        return op.frontend(op, z, [self.shape[-1]], w, b, self.norm["eps"])

    def __call__(self, tensors: list[Tensor]) -> tuple:
        split = len(tensors) - self.n_params
        product, params = tensors[:split], tensors[split:]
        device = tensors[0]._storage.device
        if backends.for_device(device) == "reference":
            z = _as_tensor(FusedKernel.reference(self, *[t._np() for t in product]), self.dtype)
            return (z, *self._norm(z, params))
        return self._launch(product, params, device)

    def _launch(self, product: list, params: list, device) -> tuple:
        stats = self.shape[:-1] + (1,)
        z, y = Tensor._empty(self.shape, self.dtype, device), Tensor._empty(self.shape, self.dtype, device)
        rstd = Tensor._empty(stats, _dt.float32, device)
        mean = None if self.norm["rms"] else Tensor._empty(stats, _dt.float32, device)
        self.launcher()(z, y, mean, rstd, product, params)
        return (z, y, rstd) if self.norm["rms"] else (z, y, mean, rstd)

    def reference(self, *arrays: np.ndarray) -> tuple:
        split = len(arrays) - self.n_params
        z = np.ascontiguousarray(FusedKernel.reference(self, *arrays[:split]))
        with backends.using("reference"):
            outs = self._norm(Tensor._from_array(z, self.dtype), [Tensor._from_array(a) for a in arrays[split:]])
        return (z, *(t._np() for t in outs))

    def as_op(self):
        op = _as_op(self)
        op.reference = lambda *arrays: tuple(_contiguous(a) for a in self.reference(*arrays))
        return op
