"""``nn.utils.weight_norm`` and ``nn.utils.spectral_norm`` (with ``remove_weight_norm`` and
``remove_spectral_norm``): PyTorch's older reparametrizations, a forward pre-hook that recomputes the
weight before each call. PyTorch deprecates ``weight_norm`` in favour of
:mod:`neurarust.nn.utils.parametrizations`, but models and checkpoints still use both, so their
parameter and buffer names are PyTorch's: ``weight_g``/``weight_v``, and ``weight_orig``/
``weight_u``/``weight_v``.

    >>> import warnings
    >>> import neurarust as nr
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FutureWarning)
    ...     lin = weight_norm(nr.nn.Linear(3, 2))
    >>> list(lin.state_dict())
    ['bias', 'weight_g', 'weight_v']
"""
from __future__ import annotations

import warnings

from neurarust.autograd.grad_mode import no_grad
from neurarust.errors import ArgumentError
from neurarust.registry import call
from neurarust.tensor import Tensor

from . import functional as F
from .module import Module
from .parameter import Parameter
from .utils_parametrizations import _norm_except_dim

__all__ = ["weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm"]


def _hook_of(module: Module, kind: type, name: str):
    """The forward pre-hook of type ``kind`` for parameter ``name`` and its handle id, or (None, None)."""
    for hook_id, (hook, _) in module._forward_pre_hooks.items():
        if isinstance(hook, kind) and hook.name == name:
            return hook, hook_id
    return None, None


def _parameter(module: Module, name: str, what: str) -> Parameter:
    weight = module._parameters.get(name)
    if weight is None:
        raise ArgumentError(f"`{what}` cannot be applied as parameter `{name}` is None or missing")
    if getattr(weight, "materialize", None) is not None:
        raise ArgumentError(f"The module passed to `{what}` can't have uninitialized parameters. Make sure to "
                            f"run the dummy forward before applying {what}")
    return weight


class _WeightNormHook:
    """Sets ``module.<name> = v * (g / ||v||)`` before each call (the norm over every dim but ``dim``)."""

    def __init__(self, name: str, dim: int) -> None:
        self.name, self.dim = name, dim

    def compute_weight(self, module: Module) -> Tensor:
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    def __call__(self, module: Module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Replace parameter ``name`` by a magnitude ``<name>_g`` and a direction ``<name>_v`` with
    ``w = g * v / ||v||``, the norm over every dim but ``dim`` (all of them with ``dim=None``), recomputed
    before each call; returns ``module``. Deprecated, as PyTorch's (a ``FutureWarning``): use
    :func:`neurarust.nn.utils.parametrizations.weight_norm`, which also loads these keys.

    >>> import warnings
    >>> import neurarust as nr
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FutureWarning)
    ...     lin = weight_norm(nr.nn.Linear(3, 2))
    >>> tuple(lin.weight_g.shape), tuple(lin.weight_v.shape)
    ((2, 1), (2, 3))
    """
    warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                  "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning, stacklevel=2)
    if _hook_of(module, _WeightNormHook, name)[0] is not None:
        raise ArgumentError(f"Cannot register two weight_norm hooks on the same parameter {name}")
    weight = _parameter(module, name, "WeightNorm")
    hook = _WeightNormHook(name, -1 if dim is None else dim % max(weight.ndim, 1))
    del module._parameters[name]
    with no_grad():
        module.register_parameter(name + "_g", Parameter(_norm_except_dim(weight, hook.dim).detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
    setattr(module, name, hook.compute_weight(module))
    module.register_forward_pre_hook(hook)
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`weight_norm`: ``name`` is a parameter again, holding the current weight.

    >>> import warnings
    >>> import neurarust as nr
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FutureWarning)
    ...     lin = remove_weight_norm(weight_norm(nr.nn.Linear(3, 2)))
    >>> list(lin.state_dict())
    ['bias', 'weight']
    """
    hook, hook_id = _hook_of(module, _WeightNormHook, name)
    if hook is None:
        raise ArgumentError(f"weight_norm of '{name}' not found in {module}")
    weight = hook.compute_weight(module)
    delattr(module, name)
    del module._parameters[name + "_g"], module._parameters[name + "_v"]
    setattr(module, name, Parameter(weight.detach()))
    del module._forward_pre_hooks[hook_id]
    return module


class _SpectralNormHook:
    """Sets ``module.<name> = W / sigma`` before each call, ``sigma`` the largest singular value of
    ``W`` (``<name>_orig`` seen as a matrix, ``dim`` its rows) from power iteration on the buffers
    ``<name>_u``/``<name>_v``, which training-mode calls advance in place (PyTorch's order: v, then u)."""

    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float) -> None:
        if n_power_iterations <= 0:
            raise ArgumentError(f"Expected n_power_iterations to be positive, but got "
                                f"n_power_iterations={n_power_iterations}")
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        matrix = self.matrix(weight)
        if do_power_iteration:
            with no_grad():
                for _ in range(self.n_power_iterations):
                    v.copy_(F.normalize(call("mv", matrix.t(), u), dim=0, eps=self.eps))
                    u.copy_(F.normalize(call("mv", matrix, v), dim=0, eps=self.eps))
            # copies: a second forward's power iteration must not change what the first one's
            # backward reads (D(real) - D(fake) in a GAN step)
            u, v = u.clone(), v.clone()
        sigma = call("dot", u, call("mv", matrix, v))
        return weight / sigma

    def __call__(self, module: Module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Divide parameter ``name`` by its spectral norm (Miyato et al.), estimated by power iteration
    before each call (``n_power_iterations`` steps in training mode, none in eval mode). The parameter
    becomes ``<name>_orig``; buffers ``<name>_u``, ``<name>_v`` hold the singular vector estimates.
    ``dim``: the output dim, 1 for transposed convolutions and 0 otherwise by default. Returns
    ``module``. See also :func:`neurarust.nn.utils.parametrizations.spectral_norm`.

    >>> import neurarust as nr
    >>> lin = spectral_norm(nr.nn.Linear(4, 3))
    >>> list(lin.state_dict())
    ['bias', 'weight_orig', 'weight_u', 'weight_v']
    """
    if _hook_of(module, _SpectralNormHook, name)[0] is not None:
        raise ArgumentError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
    weight = _parameter(module, name, "SpectralNorm")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    hook = _SpectralNormHook(name, n_power_iterations, dim, eps)
    with no_grad():
        rows, cols = hook.matrix(weight).shape
        u = F.normalize(weight.new_empty(rows).normal_(0.0, 1.0), dim=0, eps=eps)
        v = F.normalize(weight.new_empty(cols).normal_(0.0, 1.0), dim=0, eps=eps)
    delattr(module, name)
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, weight.detach())
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`spectral_norm`: ``name`` is a parameter again, holding the normalised weight.

    >>> import neurarust as nr
    >>> lin = remove_spectral_norm(spectral_norm(nr.nn.Linear(4, 3)))
    >>> list(lin.state_dict())
    ['bias', 'weight']
    """
    hook, hook_id = _hook_of(module, _SpectralNormHook, name)
    if hook is None:
        raise ArgumentError(f"spectral_norm of '{name}' not found in {module}")
    with no_grad():
        weight = hook.compute_weight(module, do_power_iteration=False)
    for suffix in ("", "_u", "_v", "_orig"):
        delattr(module, name + suffix)
    module.register_parameter(name, Parameter(weight.detach()))
    del module._forward_pre_hooks[hook_id]
    return module
