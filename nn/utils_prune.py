"""``neurarust.nn.utils.prune``: PyTorch's pruning API. Pruning ``weight`` of a module moves the
parameter to ``weight_orig``, adds a buffer ``weight_mask`` (1 keeps an entry, 0 prunes it) and a
forward pre-hook that sets ``module.weight = weight_orig * weight_mask`` before every call, so the
optimizer keeps training ``weight_orig`` and the pruned entries stay zero. Pruning the same tensor
again composes the new mask with the old one (a :class:`PruningContainer`); :func:`remove` makes it
permanent. :func:`sparsity` reports the fraction of zeros per pruned tensor and overall::

    >>> import neurarust as nr
    >>> from neurarust.nn.utils import prune
    >>> lin = nr.nn.Linear(4, 2)
    >>> _ = prune.l1_unstructured(lin, "weight", amount=0.5)
    >>> sorted(n for n, _ in lin.named_parameters()), [n for n, _ in lin.named_buffers()]
    (['bias', 'weight_orig'], ['weight_mask'])
    >>> int(lin.weight_mask.sum().item()), prune.sparsity(lin)["weight"]
    (4, 0.5)
    >>> _ = prune.remove(lin, "weight"); prune.is_pruned(lin)
    False

Masks equal PyTorch's for the same tensors, with one exception: ties. NeuraRust's top-k takes equal
values in index order, so among entries of equal magnitude at the threshold ``l1_unstructured``
prunes the lowest indices, and among channels of equal norm ``ln_structured`` keeps the lowest
indices; PyTorch's choice follows its top-k selection algorithm. The random methods draw from NeuraRust's
generator (``nr.manual_seed``), so they prune as many entries as PyTorch but not the same ones.
"""
from __future__ import annotations

import numbers
from typing import Any, Iterable, Iterator

from neurarust.autograd.grad_mode import no_grad
from neurarust.errors import ArgumentError, IndexOutOfRangeError, ShapeError, SignatureError
from neurarust.tensor import Tensor

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured", "L1Unstructured",
           "RandomStructured", "LnStructured", "CustomFromMask", "identity", "random_unstructured",
           "l1_unstructured", "random_structured", "ln_structured", "global_unstructured", "custom_from_mask",
           "remove", "is_pruned", "sparsity", "SparsityReport"]


# -- amounts and dimensions -----------------------------------------------------------------------
def _check_amount(amount: Any) -> None:
    """``amount`` is a fraction in [0, 1] or a non-negative count."""
    if not isinstance(amount, numbers.Real):
        raise SignatureError(f"Invalid type for amount: {amount!r}. Must be int or float.")
    integral = isinstance(amount, numbers.Integral)
    if (integral and amount < 0) or (not integral and not 0.0 <= float(amount) <= 1.0):
        raise ArgumentError(f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer")


def _count_to_prune(amount: Any, size: int) -> int:
    """How many of ``size`` entries ``amount`` prunes (a fraction rounds half to even, as PyTorch)."""
    if isinstance(amount, numbers.Integral):
        if amount > size:
            raise ArgumentError(f"amount={amount} should be smaller than the number of parameters to prune={size}")
        return int(amount)
    return round(float(amount) * size)


def _check_structured(t: Tensor, dim: int) -> int:
    """``dim`` made non-negative, after checking that ``t`` has channels along it."""
    if t.ndim <= 1:
        raise ShapeError(f"Structured pruning can only be applied to multidimensional tensors. Found tensor of "
                         f"shape {list(t.shape)} with {t.ndim} dims")
    if not -t.ndim <= dim < t.ndim:
        raise IndexOutOfRangeError(f"Invalid index {dim} for tensor of size {list(t.shape)}")
    return dim % t.ndim


def _channel_index(ndim: int, dim: int, channels: Any) -> tuple:
    """An index that selects ``channels`` (indices or a bool mask) along ``dim`` and all of the rest."""
    index: list = [slice(None)] * ndim
    index[dim] = channels
    return tuple(index)


# -- pruning methods ------------------------------------------------------------------------------
class BasePruningMethod:
    """A way of choosing which entries of a tensor to prune. Subclasses set ``PRUNING_TYPE``
    (``"unstructured"``, ``"structured"`` with a ``dim``, or ``"global"``) and write
    ``compute_mask(t, default_mask)``: the new mask, given the importance scores ``t`` and the mask
    already in place. An instance is also the forward pre-hook that applies its mask.

    >>> import neurarust as nr
    >>> from neurarust.nn.utils import prune
    >>> class KeepPositive(prune.BasePruningMethod):
    ...     PRUNING_TYPE = "unstructured"
    ...     def compute_mask(self, t, default_mask):
    ...         return default_mask * (t > 0).to(default_mask.dtype)
    >>> KeepPositive().prune(nr.tensor([-1.0, 2.0, -3.0, 4.0])).tolist()
    [-0.0, 2.0, -0.0, 4.0]
    """

    PRUNING_TYPE: str = ""
    _tensor_name: str | None = None

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """The mask (same shape as ``t``) that combines ``default_mask`` with this method's choice."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute_mask(t, default_mask)")

    def __call__(self, module: Any, inputs: Any) -> None:
        setattr(module, self._tensor_name, self.apply_mask(module))

    def apply_mask(self, module: Any) -> Tensor:
        """``name_orig * name_mask`` of ``module`` (differentiable with respect to ``name_orig``)."""
        if self._tensor_name is None:
            raise ArgumentError(f"{type(self).__name__} has not been applied to a module's tensor yet")
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        return mask.to(dtype=orig.dtype) * orig

    @classmethod
    def apply(cls, module: Any, name: str, *args: Any, importance_scores: Tensor | None = None,
              **kwargs: Any) -> "BasePruningMethod":
        """Prune ``module.<name>`` with ``cls(*args, **kwargs)``, composing with any pruning already
        on that tensor; ``importance_scores`` (same shape) replace the tensor's values as what is
        ranked. Returns the method (a :class:`PruningContainer` from the second pruning on)."""
        current = getattr(module, name)
        scores = current if importance_scores is None else importance_scores
        if tuple(scores.shape) != tuple(current.shape):
            raise ShapeError(f"importance_scores of shape {list(scores.shape)} should have the shape of parameter "
                             f"{name} {list(current.shape)}")
        method, previous = _composed_method(cls, module, name, args, kwargs)
        if previous is None:
            from neurarust.creation import ones_like

            default_mask = ones_like(current)
        else:
            default_mask = getattr(module, name + "_mask").detach().clone().contiguous()
        with no_grad():  # the module changes only once the mask is known (a bad argument leaves it as it was)
            mask = method.compute_mask(scores.detach(), default_mask=default_mask)
        if previous is None:
            module.register_parameter(name + "_orig", current)
            del module._parameters[name]
        else:
            del module._forward_pre_hooks[previous[0]]
        module.register_buffer(name + "_mask", mask)
        setattr(module, name, method.apply_mask(module))
        module.register_forward_pre_hook(method)
        return method

    def prune(self, t: Tensor, default_mask: Tensor | None = None,
              importance_scores: Tensor | None = None) -> Tensor:
        """``t`` times the mask this method computes for it (not attached to any module)."""
        from neurarust.creation import ones_like

        scores = t if importance_scores is None else importance_scores
        default_mask = ones_like(t) if default_mask is None else default_mask
        with no_grad():
            mask = self.compute_mask(scores.detach(), default_mask=default_mask)
        return t * mask

    def remove(self, module: Any) -> None:
        """Make the pruning permanent: ``name`` becomes a Parameter again (the ``name_orig`` object,
        so optimizers still hold it) holding the pruned values; ``name_orig`` and ``name_mask`` go."""
        name = self._tensor_name
        with no_grad():
            pruned = self.apply_mask(module)
        module.__dict__.pop(name, None)
        orig = module._parameters.pop(name + "_orig")
        orig.data = pruned.detach()
        del module._buffers[name + "_mask"]
        setattr(module, name, orig)


def _pruning_hooks(module: Any) -> Iterator[tuple[int, BasePruningMethod]]:
    """(hook id, method) of every pruning method hooked on ``module`` itself."""
    for key, (hook, _) in list(module._forward_pre_hooks.items()):
        if isinstance(hook, BasePruningMethod):
            yield key, hook


def _composed_method(cls: type, module: Any, name: str, args: tuple, kwargs: dict) -> tuple:
    """(the method to hook on ``module.<name>``, (hook id, method) of the pruning hooked there before,
    or None): a second pruning goes into a new container after the first."""
    old = [(key, hook) for key, hook in _pruning_hooks(module) if hook._tensor_name == name]
    method = cls(*args, **kwargs)
    method._tensor_name = name
    if not old:
        return method, None
    previous = old[0][1]
    container = PruningContainer(*previous) if isinstance(previous, PruningContainer) else PruningContainer(previous)
    container.add_pruning_method(method)
    return container, old[0]


class PruningContainer(BasePruningMethod):
    """The pruning methods applied one after another to one tensor. Each new method only ranks what
    the previous ones kept: the unpruned entries (unstructured), the unpruned channels (structured),
    or everything (global).

    >>> import neurarust as nr
    >>> from neurarust.nn.utils import prune
    >>> lin = nr.nn.Linear(4, 4)
    >>> _ = prune.l1_unstructured(lin, "weight", amount=4)
    >>> c = prune.LnStructured.apply(lin, "weight", amount=1, n=2, dim=0)
    >>> type(c).__name__, len(c), int(lin.weight_mask.sum().item()) <= 12
    ('PruningContainer', 2, True)
    """

    def __init__(self, *methods: BasePruningMethod) -> None:
        self._pruning_methods: tuple = ()
        if methods:
            self._tensor_name = methods[0]._tensor_name
        for method in methods:
            self.add_pruning_method(method)

    def add_pruning_method(self, method: BasePruningMethod) -> None:
        """Append ``method`` (it must prune the same tensor)."""
        if method is None:
            return
        if not isinstance(method, BasePruningMethod):
            raise SignatureError(f"{type(method).__name__} is not a BasePruningMethod subclass")
        if self._tensor_name != method._tensor_name:
            raise ArgumentError(f"Can only add pruning methods acting on the parameter named '{self._tensor_name}' "
                                f"to PruningContainer. Found '{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self) -> int:
        return len(self._pruning_methods)

    def __iter__(self) -> Iterator[BasePruningMethod]:
        return iter(self._pruning_methods)

    def __getitem__(self, idx: int) -> BasePruningMethod:
        return self._pruning_methods[idx]

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """``default_mask`` with the last method's mask written over the part it may still prune."""
        method = self._pruning_methods[-1]
        mask = default_mask.to(dtype=t.dtype)
        kind = method.PRUNING_TYPE
        if kind == "unstructured":
            where: Any = mask == 1
        elif kind == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError("Pruning methods of PRUNING_TYPE 'structured' need to have the attribute `dim` "
                                     "defined.")
            dim = _check_structured(t, method.dim)
            others = [d for d in range(t.ndim) if d != dim]
            where = _channel_index(t.ndim, dim, mask.sum(dim=others) != 0)
        elif kind == "global":
            where = (slice(None),) * t.ndim
        else:
            raise ArgumentError(f"Unrecognized PRUNING_TYPE {kind!r}")
        part = method.compute_mask(t[where], default_mask=mask[where])
        mask[where] = part.to(dtype=mask.dtype)
        return mask


class Identity(BasePruningMethod):
    """Prunes nothing: the mask is all ones (gives a tensor the ``_orig``/``_mask`` form, e.g. to
    load a pruned model's state dict)."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """``default_mask`` unchanged."""
        return default_mask

    @classmethod
    def apply(cls, module: Any, name: str) -> "Identity":  # type: ignore[override]
        """Attach an all-ones mask to ``module.<name>``."""
        return super().apply(module, name)


class _Amount(BasePruningMethod):
    """A method that prunes ``amount`` entries or channels (a count, or a fraction of them)."""

    def __init__(self, amount: int | float) -> None:
        _check_amount(amount)
        self.amount = amount


class RandomUnstructured(_Amount):
    """Prunes ``amount`` entries chosen uniformly at random (NeuraRust's generator)."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """Zeros at the ``k`` largest of ``rand_like(t)``."""
        from neurarust.registry import call

        k = _count_to_prune(self.amount, t.numel())
        return _zero_topk(default_mask, call("rand_like", t, dtype=_floating(t)), k, largest=True)

    @classmethod
    def apply(cls, module: Any, name: str, amount: int | float) -> "RandomUnstructured":  # type: ignore[override]
        """Prune ``module.<name>`` at random."""
        return super().apply(module, name, amount=amount)


class L1Unstructured(_Amount):
    """Prunes the ``amount`` entries of smallest absolute value."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """Zeros at the ``k`` smallest ``|t|``."""
        k = _count_to_prune(self.amount, t.numel())
        return _zero_topk(default_mask, t.abs(), k, largest=False)

    @classmethod
    def apply(cls, module: Any, name: str, amount: int | float,  # type: ignore[override]
              importance_scores: Tensor | None = None) -> "L1Unstructured":
        """Prune ``module.<name>`` by magnitude."""
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


def _floating(t: Tensor):
    from neurarust import dtype as _dt

    return t.dtype if t.is_floating_point() else _dt.float32


def _zero_topk(default_mask: Tensor, scores: Tensor, k: int, largest: bool) -> Tensor:
    """A copy of ``default_mask`` with zeros where the ``k`` largest (or smallest) scores are."""
    from neurarust.registry import call

    mask = default_mask.clone().contiguous()
    if k:
        indices = call("topk", scores.reshape(-1), k, largest=largest).indices
        mask.view(-1)[indices] = 0
    return mask


class RandomStructured(_Amount):
    """Prunes ``amount`` whole channels along ``dim``, chosen at random."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount: int | float, dim: int = -1) -> None:
        super().__init__(amount)
        self.dim = dim

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """Ones on the channels whose random draw is above the ``k``-th smallest."""
        from neurarust.registry import call

        dim = _check_structured(t, self.dim)
        k = _count_to_prune(self.amount, t.shape[dim])
        if k == 0:
            return default_mask
        draws = call("rand", t.shape[dim], device=t.device)
        keep = draws > call("kthvalue", draws, k).values
        return _channel_mask(t, dim, keep) * default_mask.to(dtype=t.dtype)

    @classmethod
    def apply(cls, module: Any, name: str, amount: int | float,  # type: ignore[override]
              dim: int = -1) -> "RandomStructured":
        """Prune random channels of ``module.<name>``."""
        return super().apply(module, name, amount=amount, dim=dim)


def _channel_mask(t: Tensor, dim: int, channels: Tensor) -> Tensor:
    """Ones on ``channels`` (indices or a bool mask) along ``dim``, zeros elsewhere."""
    from neurarust.creation import zeros_like

    mask = zeros_like(t, dtype=_floating(t))
    mask[_channel_index(t.ndim, dim, channels)] = 1
    return mask


class LnStructured(_Amount):
    """Prunes the ``amount`` channels along ``dim`` of smallest ``L_n`` norm (``n`` as in
    ``torch.norm``'s ``p``: 1, 2, ``inf``, ``"fro"``, ...); ``dim=0`` prunes output channels (a Conv2d's
    filters, a Linear's rows), ``dim=1`` input channels."""

    PRUNING_TYPE = "structured"

    def __init__(self, amount: int | float, n: Any, dim: int = -1) -> None:
        super().__init__(amount)
        self.n = n
        self.dim = dim

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """Ones on the channels of the largest norms."""
        from neurarust.registry import call

        dim = _check_structured(t, self.dim)
        k = _count_to_prune(self.amount, t.shape[dim])
        if k == 0:
            return default_mask
        others = [d for d in range(t.ndim) if d != dim]
        order = 2 if self.n == "fro" else self.n  # the Frobenius norm of each channel is its 2-norm
        norms = call("linalg.vector_norm", t.to(dtype=_floating(t)), order, dim=others)
        keep = call("topk", norms, t.shape[dim] - k, largest=True).indices
        return _channel_mask(t, dim, keep) * default_mask.to(dtype=_floating(t))

    @classmethod
    def apply(cls, module: Any, name: str, amount: int | float, n: Any, dim: int,  # type: ignore[override]
              importance_scores: Tensor | None = None) -> "LnStructured":
        """Prune the weakest channels of ``module.<name>``."""
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prunes where a given ``mask`` is 0."""

    PRUNING_TYPE = "global"

    def __init__(self, mask: Tensor) -> None:
        self.mask = mask

    def compute_mask(self, t: Tensor, default_mask: Tensor) -> Tensor:
        """``default_mask * mask``."""
        if tuple(default_mask.shape) != tuple(self.mask.shape):
            raise ShapeError(f"mask of shape {list(self.mask.shape)} does not match the tensor's shape "
                             f"{list(default_mask.shape)}")
        return default_mask * self.mask.to(dtype=default_mask.dtype)

    @classmethod
    def apply(cls, module: Any, name: str, mask: Tensor) -> "CustomFromMask":  # type: ignore[override]
        """Prune ``module.<name>`` with ``mask``."""
        return super().apply(module, name, mask=mask)


# -- functions ------------------------------------------------------------------------------------
def identity(module: Any, name: str) -> Any:
    """Give ``module.<name>`` an all-ones mask (nothing pruned); returns ``module``.

    >>> import neurarust as nr
    >>> from neurarust.nn.utils import prune
    >>> lin = prune.identity(nr.nn.Linear(2, 2), "weight")
    >>> lin.weight_mask.tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    Identity.apply(module, name)
    return module


def random_unstructured(module: Any, name: str, amount: int | float) -> Any:
    """Prune ``amount`` random entries of ``module.<name>`` (a count, or a fraction of the entries);
    returns ``module``.

    >>> import neurarust as nr
    >>> from neurarust.nn.utils import prune
    >>> lin = prune.random_unstructured(nr.nn.Linear(5, 2), "weight", amount=0.3)
    >>> int((lin.weight_mask == 0).sum().item())
    3
    """
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module: Any, name: str, amount: int | float, importance_scores: Tensor | None = None) -> Any:
    """Prune the ``amount`` entries of ``module.<name>`` of smallest magnitude (of
    ``importance_scores`` when given); returns ``module``.

    >>> import neurarust as nr
    >>> from neurarust.nn.utils import prune
    >>> lin = nr.nn.Linear(3, 1, bias=False)
    >>> with nr.no_grad(): _ = lin.weight.copy_(nr.tensor([[0.5, -0.1, 2.0]]))
    >>> prune.l1_unstructured(lin, "weight", amount=1).weight.tolist()
    [[0.5, -0.0, 2.0]]
    """
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module: Any, name: str, amount: int | float, dim: int) -> Any:
    """Prune ``amount`` random channels of ``module.<name>`` along ``dim``; returns ``module``.

    >>> import neurarust as nr
    >>> from neurarust.nn.utils import prune
    >>> lin = prune.random_structured(nr.nn.Linear(3, 4), "weight", amount=2, dim=0)
    >>> sorted(lin.weight_mask.sum(dim=1).tolist())
    [0.0, 0.0, 3.0, 3.0]
    """
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module: Any, name: str, amount: int | float, n: Any, dim: int,
                  importance_scores: Tensor | None = None) -> Any:
    """Prune the ``amount`` channels of ``module.<name>`` along ``dim`` with the smallest ``L_n``
    norm; returns ``module``.

    >>> import neurarust as nr
    >>> from neurarust.nn.utils import prune
    >>> lin = nr.nn.Linear(2, 3, bias=False)
    >>> with nr.no_grad(): _ = lin.weight.copy_(nr.tensor([[1.0, 1.0], [0.1, 0.2], [3.0, 0.0]]))
    >>> prune.ln_structured(lin, "weight", amount=1, n=2, dim=0).weight_mask.tolist()
    [[1.0, 1.0], [0.0, 0.0], [1.0, 1.0]]
    """
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def custom_from_mask(module: Any, name: str, mask: Tensor) -> Any:
    """Prune ``module.<name>`` where ``mask`` is 0; returns ``module``.

    >>> import neurarust as nr
    >>> from neurarust.nn.utils import prune
    >>> lin = prune.custom_from_mask(nr.nn.Linear(2, 1), "bias", mask=nr.tensor([0.0]))
    >>> lin.bias_mask.tolist(), lin.bias.abs().tolist()
    ([0.0], [0.0])
    """
    CustomFromMask.apply(module, name, mask)
    return module


def global_unstructured(parameters: Iterable[tuple[Any, str]], pruning_method: type,
                        importance_scores: dict | None = None, **kwargs: Any) -> None:
    """Rank the entries of all ``(module, name)`` pairs together and prune with one
    ``pruning_method(**kwargs)`` (an unstructured one: ``amount`` then counts over all of them).

    >>> import neurarust as nr
    >>> from neurarust.nn.utils import prune
    >>> net = nr.nn.Sequential(nr.nn.Linear(4, 4), nr.nn.Linear(4, 2))
    >>> prune.global_unstructured([(net[0], "weight"), (net[1], "weight")], prune.L1Unstructured, amount=0.5)
    >>> int(net[0].weight_mask.sum().item() + net[1].weight_mask.sum().item())
    12
    """
    from neurarust.creation import ones_like

    from neurarust.nn.utils import parameters_to_vector

    if isinstance(parameters, (str, Tensor)) or not isinstance(parameters, Iterable):
        raise SignatureError("global_unstructured(): parameters is not an Iterable of (module, name) pairs")
    parameters = list(parameters)
    importance_scores = {} if importance_scores is None else importance_scores
    if not isinstance(importance_scores, dict):
        raise SignatureError("global_unstructured(): importance_scores must be of type dict")
    method = pruning_method(**kwargs)
    if method.PRUNING_TYPE != "unstructured":
        raise SignatureError(f'Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. Found method '
                             f"{pruning_method.__name__} of type {method.PRUNING_TYPE}")
    method._tensor_name = "temp"
    with no_grad():
        scores = parameters_to_vector([importance_scores.get((m, n), getattr(m, n)).detach() for m, n in parameters])
        masks = parameters_to_vector([m._buffers[n + "_mask"] if n + "_mask" in m._buffers
                                      else ones_like(getattr(m, n)) for m, n in parameters])
        final = PruningContainer(method).compute_mask(scores, masks)
    start = 0
    for module, name in parameters:
        size = getattr(module, name).numel()
        custom_from_mask(module, name, mask=final[start:start + size].view_as(getattr(module, name)))
        start += size


def remove(module: Any, name: str) -> Any:
    """Make the pruning of ``module.<name>`` permanent: ``name`` is a Parameter again holding the
    pruned values; ``name_orig``, ``name_mask`` and the hook are gone. Returns ``module``.

    >>> import neurarust as nr
    >>> from neurarust.nn.utils import prune
    >>> lin = prune.l1_unstructured(nr.nn.Linear(4, 1), "weight", amount=2)
    >>> lin = prune.remove(lin, "weight")
    >>> [n for n, _ in lin.named_parameters()], int((lin.weight == 0).sum().item())
    (['bias', 'weight'], 2)
    """
    for key, hook in _pruning_hooks(module):
        if hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ArgumentError(f"Parameter '{name}' of module {type(module).__name__} has to be pruned before pruning "
                        "can be removed")


def is_pruned(module: Any) -> bool:
    """Whether ``module`` or any submodule has a pruning hook.

    >>> import neurarust as nr
    >>> from neurarust.nn.utils import prune
    >>> net = nr.nn.Sequential(nr.nn.Linear(2, 2))
    >>> prune.is_pruned(net), prune.is_pruned(prune.identity(net[0], "bias"))
    (False, True)
    """
    return any(True for _, m in module.named_modules() for _ in _pruning_hooks(m))


# -- sparsity report ------------------------------------------------------------------------------
class SparsityReport(dict):
    """Fraction of zeros per tensor (a dict: dotted name -> fraction), with the counts behind it
    (``zeros``, ``sizes``), the fraction over all of them (``global_sparsity``) and a table as
    ``str(report)``."""

    def __init__(self, counts: dict[str, tuple[int, int]]) -> None:
        super().__init__((k, z / n if n else 0.0) for k, (z, n) in counts.items())
        self.zeros = {k: z for k, (z, _) in counts.items()}
        self.sizes = {k: n for k, (_, n) in counts.items()}
        total = sum(self.sizes.values())
        self.global_sparsity = sum(self.zeros.values()) / total if total else 0.0

    def __str__(self) -> str:
        width = max([len(k) for k in self] + [len("global")])
        lines = [f"{'tensor':<{width}}  {'zeros':>9}  {'size':>9}  sparsity"]
        for k in self:
            lines.append(f"{k:<{width}}  {self.zeros[k]:>9}  {self.sizes[k]:>9}  {100 * self[k]:7.2f}%")
        lines.append(f"{'global':<{width}}  {sum(self.zeros.values()):>9}  {sum(self.sizes.values()):>9}  "
                     f"{100 * self.global_sparsity:7.2f}%")
        return "\n".join(lines)


def _zero_count(t: Tensor) -> int:
    return int((t == 0).sum().item())


def sparsity(module: Any, include_unpruned: bool = False) -> SparsityReport:
    """The fraction of zeros in each pruned tensor of ``module`` (``name_orig * name_mask``, by its
    dotted name, e.g. ``"0.weight"``), and ``global_sparsity`` over all of them. With
    ``include_unpruned`` every parameter is reported too (after :func:`remove`, or for weights that
    are zero anyway).

    >>> import neurarust as nr
    >>> from neurarust.nn.utils import prune
    >>> net = nr.nn.Sequential(nr.nn.Linear(10, 10), nr.nn.ReLU(), nr.nn.Linear(10, 2))
    >>> _ = prune.l1_unstructured(net[0], "weight", amount=0.8)
    >>> report = prune.sparsity(net)
    >>> dict(report), report.global_sparsity
    ({'0.weight': 0.8}, 0.8)
    >>> print(report)
    tensor        zeros       size  sparsity
    0.weight         80        100    80.00%
    global           80        100    80.00%
    >>> round(prune.sparsity(net, include_unpruned=True).global_sparsity, 3)
    0.606
    """
    counts: dict[str, tuple[int, int]] = {}
    with no_grad():
        for prefix, m in module.named_modules():
            dot = prefix + "." if prefix else ""
            pruned = {hook._tensor_name: hook for _, hook in _pruning_hooks(m)}
            for name, hook in pruned.items():
                t = hook.apply_mask(m)
                counts[dot + name] = (_zero_count(t), t.numel())
            if include_unpruned:
                for name, p in m._parameters.items():
                    base = name[:-len("_orig")] if name.endswith("_orig") else name
                    if p is not None and base not in pruned:
                        counts[dot + name] = (_zero_count(p), p.numel())
    return SparsityReport(counts)
