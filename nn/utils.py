"""``neurarust.nn.utils``: flatten parameters into one vector and back (optimisers such as L-BFGS,
weight averaging)::

    >>> import neurarust as nr
    >>> lin = nr.nn.Linear(2, 1)
    >>> v = nr.nn.utils.parameters_to_vector(lin.parameters())
    >>> v.shape
    neurarust.Size([3])
    >>> nr.nn.utils.vector_to_parameters(nr.zeros_like(v), lin.parameters()); lin.bias.tolist()
    [0.0]
"""
from __future__ import annotations

from typing import Iterable

from neurarust.autograd.grad_mode import no_grad
from neurarust.errors import AutogradError, DeviceError, ShapeError, SignatureError
from neurarust.registry import call
from neurarust.tensor import Tensor


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated (differentiable, like PyTorch's).

    >>> import neurarust as nr
    >>> nr.nn.utils.parameters_to_vector([nr.ones(2), nr.zeros(1)]).tolist()
    [1.0, 1.0, 0.0]
    """
    params = list(parameters)
    _same_device(params)
    return call("cat", [p.reshape(-1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-d ``vec`` into the parameters, in order.

    >>> import neurarust as nr
    >>> p = nr.zeros(2)
    >>> nr.nn.utils.vector_to_parameters(nr.tensor([1.0, 2.0]), [p])
    >>> p.tolist()
    [1.0, 2.0]
    """
    if not isinstance(vec, Tensor):
        raise SignatureError(f"expected vec to be a Tensor, but got {type(vec).__name__}")
    params = list(parameters)
    _same_device(params)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise ShapeError(f"vector of shape {list(vec.shape)} does not hold the {total} parameter elements")
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vec[offset:offset + n].reshape(p.shape))
            offset += n


def _same_device(params: list) -> None:
    devices = {p.device for p in params}
    if len(devices) > 1:
        raise DeviceError(f"Found parameters on different devices: {sorted(map(str, devices))}")


# -- gradient clipping ----------------------------------------------------------------------------
def _grads(parameters) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _by_dtype_and_device(tensors: list) -> dict:
    groups: dict = {}
    for t in tensors:
        groups.setdefault((t.dtype, t.device), []).append(t)
    return groups


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` together (as if concatenated): one ``foreach_norm``
    launch per dtype and device, combined on the device (no sync unless ``error_if_nonfinite``).

    >>> import neurarust as nr
    >>> nr.nn.utils.get_total_norm([nr.tensor([3.0]), nr.tensor([4.0])]).item()
    5.0
    """
    from neurarust.creation import zeros

    tensors = [tensors] if isinstance(tensors, Tensor) else [t for t in tensors if t is not None]
    if not tensors:
        return zeros(())
    norm_type = float(norm_type)
    with no_grad():
        norms = [call("foreach_norm", ts, norm_type) for ts in _by_dtype_and_device(tensors).values()]
        first = tensors[0]
        total = norms[0] if len(norms) == 1 else call(
            "linalg.vector_norm", call("stack", [call("cast", n, first.dtype).to(first.device) for n in norms]),
            norm_type)
    if error_if_nonfinite and not bool(call("isfinite", total)):
        raise AutogradError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                            "so it cannot be clipped. To disable this error and scale the gradients by the "
                            "non-finite norm anyway, set `error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor, foreach: bool | None = None) -> None:
    """Scale the gradients by ``min(1, max_norm / (total_norm + 1e-6))`` in place, the factor kept on
    the device (``clip_grad_norm_`` with the norm computed elsewhere, e.g. by :func:`get_total_norm`).

    >>> import neurarust as nr
    >>> w = nr.zeros(2, requires_grad=True); w.grad = nr.tensor([3.0, 4.0])
    >>> nr.nn.utils.clip_grads_with_norm_([w], 1.0, nr.tensor(5.0)); [round(v, 4) for v in w.grad.tolist()]
    [0.6, 0.8]
    """
    grads = _grads(parameters)
    if not grads:
        return
    with no_grad():
        coef = call("clamp", float(max_norm) / (total_norm + 1e-6), max=1.0)
        for (dtype, device), gs in _by_dtype_and_device(grads).items():
            call("foreach_mul_", gs, call("cast", coef, dtype).to(device))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Scale all gradients together so that their joint ``norm_type``-norm is at most ``max_norm``;
    returns the norm before clipping: :func:`get_total_norm` then :func:`clip_grads_with_norm_`
    (one launch per dtype for the norm, another for the scaling; no sync unless
    ``error_if_nonfinite``). ``foreach`` is accepted for PyTorch compatibility (the fused path is
    always taken).

    >>> import neurarust as nr
    >>> w = nr.zeros(2, requires_grad=True); w.grad = nr.tensor([3.0, 4.0])
    >>> nr.nn.utils.clip_grad_norm_([w], max_norm=1.0).item()
    5.0
    >>> [round(v, 4) for v in w.grad.tolist()]
    [0.6, 0.8]
    """
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient in place to ``[-clip_value, clip_value]``.

    >>> import neurarust as nr
    >>> w = nr.zeros(3, requires_grad=True); w.grad = nr.tensor([-2.0, 0.5, 3.0])
    >>> nr.nn.utils.clip_grad_value_([w], 1.0); w.grad.tolist()
    [-1.0, 0.5, 1.0]
    """
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.copy_(call("clamp", g, -clip_value, clip_value))


# -- nn.utils.rnn, prune, fusion, stateless, parametrize(ations) ----------------------------------
# nn/utils.py is a module, so the submodules are registered under PyTorch's dotted paths: both
# ``nn.utils.rnn.pad_sequence`` and ``from neurarust.nn.utils.rnn import pad_sequence`` work.
import sys as _sys  # noqa: E402

from . import utils_fusion as fusion  # noqa: E402
from . import utils_prune as prune  # noqa: E402
from . import utils_rnn as rnn  # noqa: E402
from . import utils_stateless as stateless  # noqa: E402
from . import utils_parametrize as parametrize  # noqa: E402
from . import utils_parametrizations as parametrizations  # noqa: E402
from .utils_fusion import (fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval,  # noqa: E402,F401
                           fuse_linear_bn_weights)
from .utils_hook_norms import (remove_spectral_norm, remove_weight_norm, spectral_norm,  # noqa: E402,F401
                               weight_norm)

_sys.modules[__name__ + ".rnn"] = rnn
_sys.modules[__name__ + ".prune"] = prune
_sys.modules[__name__ + ".fusion"] = fusion
_sys.modules[__name__ + ".stateless"] = stateless
_sys.modules[__name__ + ".parametrize"] = parametrize
_sys.modules[__name__ + ".parametrizations"] = parametrizations
