"""The two namespaces that formulas written once run on (losses, attention): NumPy arrays for the
references, and NeuraRust's public ops (Triton kernels on the Triton backend, recorded by autograd)
for the front ends and backward formulas. A formula takes one of them as ``ops``:

    >>> import numpy as np
    >>> import neurarust as nr
    >>> def softplus_sum(ops, x):
    ...     return ops.sum(ops.softplus(x))
    >>> round(float(softplus_sum(NP, np.zeros(2))), 6), round(softplus_sum(NR, nr.zeros(2)).item(), 6)
    (1.386294, 1.386294)
"""
from __future__ import annotations

import math

import numpy as np

from neurarust import backends
from neurarust.registry import call
from neurarust.tensor import Tensor


class NumPyOps:
    """The functions formulas use, on NumPy arrays: the references."""

    abs, exp, log, log1p, sqrt, sign = (staticmethod(f) for f in (np.abs, np.exp, np.log, np.log1p, np.sqrt, np.sign))
    mm, isneginf = staticmethod(np.matmul), staticmethod(np.isneginf)
    where, maximum, minimum = staticmethod(np.where), staticmethod(np.maximum), staticmethod(np.minimum)

    @staticmethod
    def sum(x, dim=None, keepdim=False):
        return np.asarray(np.sum(x, axis=dim, keepdims=keepdim))

    @staticmethod
    def clamp_min(x, v):
        return np.maximum(x, x.dtype.type(v))

    @staticmethod
    def pow(x, p):
        return np.power(x, x.dtype.type(p))

    @staticmethod
    def softplus(x):
        return np.logaddexp(x.dtype.type(0), x)

    @staticmethod
    def log_softmax(x, dim):
        top = np.max(x, axis=dim, keepdims=True)
        shifted = x - top
        return shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))

    @staticmethod
    def eq(x, v):
        return x == v

    @staticmethod
    def t(x):
        return np.swapaxes(x, -1, -2)

    @staticmethod
    def sum_last(x):
        return np.sum(x, axis=-1)

    @staticmethod
    def causal(L, S, like):
        return np.tril(np.ones((L, S), dtype=bool))

    @staticmethod
    def detach(x):
        return x


class NeuraRustOps:
    """The same functions as public ops: Triton kernels on the Triton backend, recorded by autograd."""

    abs, exp, log, log1p, sqrt, sign = (staticmethod(lambda x, _n=n: call(_n, x))
                                        for n in ("abs", "exp", "log", "log1p", "sqrt", "sign"))

    @staticmethod
    def where(c, a, b):
        return call("where", c, a, b)

    @staticmethod
    def maximum(a, b):
        return call("maximum", a, b)

    @staticmethod
    def minimum(a, b):
        return call("minimum", a, b)

    @staticmethod
    def sum(x, dim=None, keepdim=False):
        if x.numel() == 0 and x.device.type == "cpu":  # the interpreted sum kernel cannot take 0 bytes
            with backends.using("reference"):
                return call("sum", x, dim, keepdim)
        return call("sum", x, dim, keepdim)

    @staticmethod
    def clamp_min(x, v):
        return call("clamp", x, min=v)

    @staticmethod
    def pow(x, p):
        return call("pow", x, p)

    @staticmethod
    def softplus(x):
        return call("softplus", x)

    @staticmethod
    def log_softmax(x, dim):
        return call("log_softmax", x, dim)

    @staticmethod
    def eq(x, v):
        return call("eq", x, v)

    @staticmethod
    def mm(a, b):
        return call("matmul", a, b)

    @staticmethod
    def isneginf(x):
        return call("eq", x, -math.inf)

    @staticmethod
    def t(x):
        return x.transpose(-1, -2)

    @staticmethod
    def sum_last(x):
        return call("sum", x, -1)

    @staticmethod
    def causal(L, S, like):
        return Tensor._from_array(np.tril(np.ones((L, S), dtype=bool))).to(like.device)

    @staticmethod
    def detach(x):
        return x.detach()


NP, NR = NumPyOps(), NeuraRustOps()
