"""``neurarust.nn.utils.parametrizations``: ``weight_norm`` and ``spectral_norm`` as parametrizations
(:mod:`neurarust.nn.utils.parametrize`), with PyTorch's state-dict keys::

    >>> import neurarust as nr
    >>> from neurarust import nn
    >>> conv = weight_norm(nn.Conv1d(2, 3, 1))
    >>> sorted(conv.state_dict())
    ['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']
"""
from __future__ import annotations

from neurarust.autograd.grad_mode import no_grad
from neurarust.errors import ArgumentError, IndexOutOfRangeError
from neurarust.registry import call
from neurarust.tensor import Tensor

from . import functional as F
from .module import Module
from .utils_parametrize import register_parametrization

__all__ = ["weight_norm", "spectral_norm"]


def _norm_except_dim(v: Tensor, dim: int) -> Tensor:
    """The 2-norm of ``v`` over every dim but ``dim`` (kept, the others of size 1), or over all of it
    for ``dim=-1``."""
    if dim == -1:
        return call("linalg.vector_norm", v)
    others = [d for d in range(v.ndim) if d != dim]
    return (v * v).sum(others, keepdim=True).sqrt() if others else v.abs()


class _WeightNorm(Module):
    """``weight = g * v / ||v||``, the norm over all dims but ``dim``: ``original0`` is ``g``,
    ``original1`` is ``v``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparametrize ``module.<name>`` by its magnitude ``g`` and direction ``v`` (Salimans & Kingma):
    ``w = g * v / ||v||`` over every dim but ``dim`` (all of them with ``dim=None``); returns ``module``.
    State dicts of the hook-based :func:`neurarust.nn.utils.weight_norm` (``weight_g``/``weight_v``) load too.

    >>> import neurarust as nr
    >>> lin = weight_norm(nr.nn.Linear(3, 2))
    >>> tuple(lin.parametrizations.weight.original0.shape)
    (2, 1)
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ArgumentError(f"weight_norm: module has no parameter or buffer {name!r}")
    if dim is None:
        dim = -1
    elif not -weight.ndim <= dim < weight.ndim:
        raise IndexOutOfRangeError(f"weight_norm: dim {dim} is out of range for a {weight.ndim}-d {name!r}")
    elif dim < 0:
        dim += weight.ndim
    register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def load_old_keys(module, state_dict, prefix, *rest):
        # checkpoints of the hook-based nn.utils.weight_norm name g and v differently (as PyTorch)
        g, v = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g in state_dict and v in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v)

    module.register_load_state_dict_pre_hook(load_old_keys)
    return module


class _SpectralNorm(Module):
    """``weight / sigma``, ``sigma`` the largest singular value of the weight seen as a matrix (``dim``
    its rows), estimated by power iteration on the buffers ``_u``, ``_v`` (``n_power_iterations`` more
    steps at each forward in training mode)."""

    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        if not -weight.ndim <= dim < max(weight.ndim, 1):
            raise IndexOutOfRangeError(f"spectral_norm: dim {dim} is out of range for a {weight.ndim}-d weight")
        if n_power_iterations <= 0:
            raise ArgumentError(f"spectral_norm: n_power_iterations must be positive, got {n_power_iterations}")
        self.dim, self.eps, self.n_power_iterations = dim % max(weight.ndim, 1), eps, n_power_iterations
        if weight.ndim > 1:
            rows, cols = self._matrix(weight).shape
            with no_grad():
                self.register_buffer("_u", F.normalize(weight.new_empty(rows).normal_(0.0, 1.0), dim=0, eps=eps))
                self.register_buffer("_v", F.normalize(weight.new_empty(cols).normal_(0.0, 1.0), dim=0, eps=eps))
            self._power_method(self._matrix(weight), 15)   # start from a fair estimate

    def _matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, matrix: Tensor, steps: int) -> None:
        with no_grad():
            for _ in range(steps):
                self._u.copy_(F.normalize(call("mv", matrix, self._v), dim=0, eps=self.eps))
                self._v.copy_(F.normalize(call("mv", matrix.t(), self._u), dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        matrix = self._matrix(weight)
        if self.training:
            self._power_method(matrix, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()   # the vectors the gradient sees must not change later
        sigma = call("dot", u, call("mv", matrix, v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Divide ``module.<name>`` by its spectral norm (Miyato et al.), estimated by power iteration:
    ``dim`` is the output dim (1 for transposed convolutions, 0 otherwise, by default); returns
    ``module``.

    >>> import neurarust as nr
    >>> lin = spectral_norm(nr.nn.Linear(4, 3))
    >>> sigma = nr.linalg.vector_norm(lin.weight @ lin.parametrizations.weight[0]._v)
    >>> round(sigma.item(), 3)
    1.0
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ArgumentError(f"spectral_norm: module has no parameter or buffer {name!r}")
    if dim is None:
        transposed = type(module).__name__.startswith("ConvTranspose")
        dim = 1 if transposed else 0
    return register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
