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

The backward mirrors it: :func:`fuse_norm_backwards` finds ``layer_norm_backward`` nodes whose
incoming gradient is a fused product's result that nothing else reads, and puts one
:class:`NormGradProduct` in place of both: the matmul kernel turns the tile into the norm's input
gradient (the product's result is never written) and writes one row of partial weight and bias
gradients per program; the gradients are column sums of those rows, which the horizontal pass
launches with the other parameter gradients.

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
from neurarust.shape import contiguous_strides, numel
from neurarust.tensor import Tensor

from .fusion import FusedKernel, _as_op, _as_tensor, _contiguous, bound_call
from .ir import Graph, Leaf, Node, Value

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


class _ProductWithNorm(FusedKernel):
    """What a product's kernel that also runs a norm (or a norm's backward) shares: the norm's settings
    (attribute and spec key ``KEY``), the norm's tensors as the last inputs, several outputs."""

    KEY = ""

    def __init__(self, members: list, inputs: list, shape: tuple, dtype, device, settings: dict) -> None:
        setattr(self, self.KEY, dict(settings))     # before the signature, which describes them
        self.multi = True
        super().__init__(members, inputs, shape, dtype, device, product=True)

    def spec(self) -> dict:
        return {**super().spec(), self.KEY: dict(getattr(self, self.KEY))}

    @classmethod
    def from_spec(cls, spec: dict):
        base = FusedKernel.from_spec({**spec, "reduction": None})
        return cls(base.members, base.inputs, base.shape, base.dtype, base.device, spec[cls.KEY])

    def as_op(self):
        op = _as_op(self)
        op.reference = lambda *arrays: tuple(_contiguous(a) for a in self.reference(*arrays))
        return op


class NormedProduct(_ProductWithNorm):
    """A product's fused kernel that also normalizes its result's rows: ``kernel(inputs) -> (z, y,
    mean, rstd)`` (``(z, y, rstd)`` for rms_norm), the last inputs being the norm's weight and bias."""

    KEY = "norm"

    @property
    def n_params(self) -> int:
        return int(self.norm["weight"]) + int(self.norm["bias"])

    def _signature(self) -> str:
        n = self.norm
        return super()._signature() + (f"\nnorm {'rms_norm' if n['rms'] else 'layer_norm'}(out, eps={n['eps']!r}, "
                                       f"weight={n['weight']}, bias={n['bias']})")

    def op_names(self) -> list[str]:
        return super().op_names() + ["rms_norm" if self.norm["rms"] else "layer_norm"]

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



# -- norm backwards ----------------------------------------------------------------------------------

GRAD_NORMS = {"layer_norm_backward"}
GRAD_DTYPES = ("float32",)


def fuse_norm_backwards(graph: Graph, keep=()) -> int:
    """Put a :class:`NormGradProduct` in place of each fused product whose result only a layer_norm
    (or rms_norm) backward reads, as its incoming gradient, and that backward; the weight and bias
    gradients become column sums of the product's per-program partial rows (the horizontal pass
    groups them with the other parameter gradients). Returns how many."""
    pinned = {v.id for v in graph.outputs if v is not None} | {v.id for v in keep}
    done = 0
    for n in list(graph.nodes):
        users = graph.users()
        found = _norm_grad_call(n, users, pinned)
        if found is None or not _placeable(graph, n, found):
            continue
        sums = _replace_grad(graph, n, found, users)
        _drop_copies(graph, sums, keep)
        done += 1
    return done


def _drop_copies(graph: Graph, sums: list, keep) -> None:
    """Autograd's copy of a parameter gradient that is now a sum's own fresh result is that result."""
    from .copies import plain_clone
    from .passes import replace_uses

    users = graph.users()
    for total in sums:
        value = total.outputs[0]
        readers = users.get(value.id, [])
        if len(readers) == 1 and plain_clone(readers[0]) and value not in graph.outputs and value not in keep:
            clone = readers[0]
            replace_uses(graph, clone.outputs[0], value, keep if isinstance(keep, list) else None)
            graph.nodes.remove(clone)


def _norm_grad_call(n: Node, users: dict, pinned: set) -> dict | None:
    """The parts of a layer_norm backward ``n`` over the last dim whose incoming gradient is the
    result of a fused product read by nothing else, else None."""
    bound = bound_call(n, GRAD_NORMS)
    if bound is None:
        return None
    dy, x, shape = bound.get("grad_output"), bound.get("input"), bound.get("normalized_shape")
    mean, rstd, weight = bound.get("mean"), bound.get("rstd"), bound.get("weight")
    shape = [shape] if isinstance(shape, int) else list(shape or ())
    if not all(isinstance(v, Value) for v in (dy, x, rstd)) or len(x.shape) < 2 or shape != [x.shape[-1]]:
        return None
    p = dy.producer
    k = None if p is None else p.fused
    if type(k) is not FusedKernel or not k.product or k.reduction or p.outputs[0] is not dy \
            or users.get(dy.id, []) != [n] or dy.id in pinned:
        return None
    N, rows = x.shape[-1], numel(x.shape[:-1])
    stats = [v for v in (mean, rstd) if v is not None]
    if tuple(k.shape) != tuple(x.shape) or dy.dtype.name not in GRAD_DTYPES or x.dtype is not dy.dtype \
            or not 0 < N <= _max_norm_n() or len(k.inputs[1][0]) < 2:
        return None
    if any(not isinstance(v, Value) or numel(v.shape) != rows or v.dtype.name != "float32" for v in stats):
        return None
    if weight is not None and (not isinstance(weight, Value) or tuple(weight.shape) != (N,)):
        return None
    outs = list(n.outputs) + [None] * (3 - len(n.outputs))
    if outs[0] is None or len(k.inputs[0][0]) < 2 or not _separable(outs[1], outs[2], N, users):
        return None
    return {"product": p, "dy": dy, "x": x, "mean": mean, "rstd": rstd, "weight": weight, "dx": outs[0],
            "dw": outs[1], "db": outs[2], "rms": mean is None}


def _separable(dw: Value | None, db: Value | None, N: int, users: dict) -> bool:
    """The weight gradient's readers stay within its own ``N`` elements, but for one view of the bias
    gradient behind them (as the eager op returns both, from one buffer) when ``db`` is not returned."""
    if dw is None:
        return True
    behind = 0
    for u in users.get(dw.id, ()):
        if u.op is not None or u.fused is not None:
            continue
        size, strides, offset = u.view[:3]
        if (tuple(size), tuple(strides), offset) == ((N,), (1,), N):
            behind += 1
        elif offset < 0 or offset + sum((s - 1) * abs(st) for s, st in zip(size, strides)) >= N:
            return False
    return behind == 0 or (behind == 1 and db is None)


def _placeable(graph: Graph, n: Node, found: dict) -> bool:
    """The norm's saved tensors exist where the product runs, and nothing is written in between."""
    position = {id(m): i for i, m in enumerate(graph.nodes)}
    at, end = position[id(found["product"])], position[id(n)]
    if any(m.effects for m in graph.nodes[at + 1:end]):
        return False
    return all(_before(found[k], position, at) for k in ("x", "mean", "rstd", "weight"))


def _replace_grad(graph: Graph, n: Node, found: dict, users: dict) -> list:
    p, k = found["product"], found["product"].fused
    extra = [v for v in (found["x"], found["mean"], found["rstd"], found["weight"]) if v is not None]
    kernel = NormGradProduct(k.members, k.inputs + [(v.shape, v.dtype) for v in extra], k.shape, k.dtype, k.device,
                             {"rms": found["rms"], "weight": found["weight"] is not None})
    kernel.write()
    dx = found["dx"]
    partials = graph.new_value(None, "node", shape=kernel.partials_shape, dtype=_dt.float32, device=dx.device,
                               strides=contiguous_strides(kernel.partials_shape))
    node = Node(None, tuple(p.args) + tuple(extra), {}, [dx, partials], fused=kernel)
    dx.producer, partials.producer, dx.strides = node, node, contiguous_strides(dx.shape)
    sums = _parameter_sums(graph, node, found, partials, users)
    at = graph.nodes.index(p)
    graph.nodes[at:at + 1] = [node] + sums
    graph.nodes.remove(n)
    return [m for m in sums if m.op is not None]


def _parameter_sums(graph: Graph, node: Node, found: dict, partials: Value, users: dict) -> list:
    """Column-sum nodes making the weight and bias gradients from ``partials`` (the bias gradient may
    be a view of the weight gradient's buffer, as the eager op returns them: such a view is the bias
    sum's own result now)."""
    N = found["x"].shape[-1]
    dw, db = found["dw"], found["db"]
    moved = []
    for view in list(users.get(dw.id, ())) if dw is not None else []:
        if view.op is None and view.fused is None and view.view[:3] == ((N,), (1,), N) and db is None:
            db = view.outputs[0]
            moved.append(view)
    for view in moved:
        graph.nodes.remove(view)
    sum_op = registry.get("sum")
    lead = tuple(range(len(partials.shape) - 1))
    out = []
    for value, start in ((dw, 0), (db, N)):
        if value is None:
            continue
        shape = tuple(partials.shape[:-1]) + (N,)
        half = graph.new_value(None, "node", shape=shape, dtype=partials.dtype, device=partials.device,
                               strides=partials.strides)
        view = Node(None, (partials,), {}, [half], view=(shape, tuple(partials.strides), start, partials.dtype))
        half.producer = view
        total = Node(sum_op, (half, lead), {}, [value], out_spec=Leaf(0))
        value.producer, value.strides = total, (1,)
        out += [view, total]
    return out


class NormGradProduct(_ProductWithNorm):
    """A product's fused kernel whose result is the incoming gradient of a layer_norm (or rms_norm)
    backward, taken in the same launch: ``kernel(inputs) -> (dx, partials)``, the last inputs being
    the norm's input, mean (not for rms_norm), rstd and weight (when it has one). ``partials`` holds a
    row per program of the launch (``(*batch, row tiles, 2 N)``, fp32): the column sums of ``dy *
    xhat`` then of ``dy`` over its rows; summed over all but the last dim they are the weight's and
    the bias's gradients."""

    KEY = "norm_grad"

    @property
    def n_params(self) -> int:
        return 2 + int(not self.norm_grad["rms"]) + int(self.norm_grad["weight"])

    @property
    def tile_rows(self) -> int:
        from neurarust.kernels.matmul_triton import norm_config

        return norm_config(self.shape[-1], self.dtype.itemsize)["BLOCK_M"]

    @property
    def partials_shape(self) -> tuple:
        M, N = self.shape[-2], self.shape[-1]
        return tuple(self.shape[:-2]) + (-(-M // self.tile_rows), 2 * N)

    def _signature(self) -> str:
        g = self.norm_grad
        return super()._signature() + (f"\nnorm backward {'rms_norm' if g['rms'] else 'layer_norm'}(dy=out, "
                                       f"weight={g['weight']})")

    def op_names(self) -> list[str]:
        return super().op_names() + ["rms_norm_backward" if self.norm_grad["rms"] else "layer_norm_backward"]

    def __call__(self, tensors: list[Tensor]) -> tuple:
        device = tensors[0]._storage.device
        if backends.for_device(device) == "reference":
            dx, partials = self.reference(*[t._np() for t in tensors])
            return Tensor._from_array(dx, self.dtype), Tensor._from_array(partials, _dt.float32)
        split = len(tensors) - self.n_params
        dx = Tensor._empty(self.shape, self.dtype, device)
        partials = Tensor._empty(self.partials_shape, _dt.float32, device)
        self.launcher()(dx, partials, tensors[:split], tensors[split:])
        return dx, partials

    def reference(self, *arrays: np.ndarray) -> tuple:
        """The product's chain as eager computes it, then the norm's backward reference on its rows, and
        the partial sums over each program's tile of rows."""
        from neurarust.kernels.norm import _ref_row_norm_backward

        split = len(arrays) - self.n_params
        dy = np.ascontiguousarray(FusedKernel.reference(self, *arrays[:split]), np.float32)
        given = iter(arrays[split:])
        N, rows = self.shape[-1], numel(self.shape[:-1])
        x = next(given).reshape(rows, N).astype(np.float32)
        mean = None if self.norm_grad["rms"] else next(given).reshape(rows).astype(np.float32)
        rstd = next(given).reshape(rows).astype(np.float32)
        w = next(given).astype(np.float32) if self.norm_grad["weight"] else None
        d2 = dy.reshape(rows, N)
        dx = _ref_row_norm_backward(d2, x, mean, rstd, w)[0]
        xhat = (x if mean is None else x - mean[:, None]) * rstd[:, None]
        per_row = np.concatenate([d2 * xhat, d2], axis=1)
        return dx.reshape(self.shape).astype(self.dtype.np), self._tile_sums(per_row)

    def _tile_sums(self, per_row: np.ndarray) -> np.ndarray:
        """``(rows, 2 N)`` summed over each program's tile of rows: ``partials_shape``."""
        M, tiles, bm = self.shape[-2], self.partials_shape[-2], self.tile_rows
        batch = per_row.reshape(-1, M, per_row.shape[-1])
        padded = np.zeros((batch.shape[0], tiles * bm, per_row.shape[-1]), np.float32)
        padded[:, :M] = batch
        return padded.reshape(batch.shape[0], tiles, bm, -1).sum(axis=2).reshape(self.partials_shape)

