"""``AdaptiveLogSoftmaxWithLoss`` (Grave et al., "Efficient softmax approximation for GPUs"), PyTorch's
algorithm, parameter names and shapes: a head over the ``cutoffs[0]`` most frequent classes plus one
logit per tail cluster, each cluster a ``Linear(in, in // div_value**(i+1)) -> Linear(.., cluster
size)`` projection, run only on the rows whose targets fall in it::

    >>> import neurarust as nr
    >>> asm = nr.nn.AdaptiveLogSoftmaxWithLoss(8, 20, cutoffs=[5, 10], div_value=2.0)
    >>> out = asm(nr.randn(4, 8), nr.tensor([0, 6, 12, 19]))
    >>> out.output.shape, out.loss.shape, sorted(asm.state_dict())
    (neurarust.Size([4]), neurarust.Size([]), ['head.weight', 'tail.0.0.weight', 'tail.0.1.weight', 'tail.1.0.weight', 'tail.1.1.weight'])
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Sequence

from neurarust.creation import zeros
from neurarust.errors import ArgumentError, IndexOutOfRangeError, ShapeError
from neurarust.tensor import Tensor

from . import functional as F
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Adaptive softmax over ``n_classes`` sorted by frequency: ``forward(input, target)`` gives the
    named tuple ``(output, loss)``, each row's target log-probability and the mean negative of them;
    ``log_prob(input)`` the full ``(N, n_classes)`` log-distribution; ``predict(input)`` the most
    likely class of each row (the full distribution only for rows whose head picks a cluster).

    >>> import neurarust as nr
    >>> asm = nr.nn.AdaptiveLogSoftmaxWithLoss(4, 6, cutoffs=[2], div_value=2.0, head_bias=True)
    >>> x = nr.randn(3, 4)
    >>> bool((asm.log_prob(x).exp().sum(1) - 1).abs().max() < 1e-5), asm.predict(x).shape
    (True, neurarust.Size([3]))
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs: Sequence[int], div_value: float = 4.0,
                 head_bias: bool = False, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ArgumentError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ArgumentError("cutoffs should be a sequence of unique, positive integers sorted in an increasing "
                                f"order, where each value is between 1 and n_classes-1 (got {cutoffs} for "
                                f"n_classes={n_classes})")
        kw = {"device": device, "dtype": dtype}
        self.in_features, self.n_classes = in_features, n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value, self.head_bias = div_value, head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(self.in_features, self.head_size, bias=self.head_bias, **kw)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hsz = int(self.in_features // (self.div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(self.in_features, hsz, bias=False, **kw),
                                        Linear(hsz, osz, bias=False, **kw)))

    def reset_parameters(self) -> None:
        """Each Linear's own initialisation again, as at construction."""
        self.head.reset_parameters()
        for i2h, h2o in self.tail:
            i2h.reset_parameters()
            h2o.reset_parameters()

    def forward(self, input_: Tensor, target_: Tensor) -> _ASMoutput:
        """``_ASMoutput(output, loss)``: ``input_`` ``(N, in_features)`` with ``target_`` ``(N,)``, or
        ``(in_features,)`` with a 0-d target."""
        if target_.ndim == 1:
            if input_.shape[0] != target_.shape[0]:
                raise ShapeError("Input and target should have the same size in the batch dimension "
                                 f"(input {list(input_.shape)}, target {list(target_.shape)}).")
            if input_.ndim != 2:
                raise ShapeError(f"1D target tensor expects 2D input tensors, but found inputs with size "
                                 f"{list(input_.shape)}")
        elif target_.ndim == 0:
            if input_.ndim != 1:
                raise ShapeError(f"0D target tensor expects 1D input tensors, but found inputs with size "
                                 f"{list(input_.shape)}")
        else:
            raise ShapeError(f"0D or 1D target tensor expected, multi-target not supported (got shape "
                             f"{list(target_.shape)})")
        batched = target_.ndim > 0
        input = input_ if batched else input_.unsqueeze(0)
        target = target_ if batched else target_.unsqueeze(0)
        batch = target.shape[0]
        output = zeros(batch, dtype=input.dtype, device=input.device)
        gather_inds = zeros(batch, dtype=target.dtype, device=target.device)
        used_rows = 0
        bounds = [0] + self.cutoffs
        for i in range(len(bounds) - 1):
            low, high = bounds[i], bounds[i + 1]
            rows = ((target >= low) & (target < high)).nonzero().reshape(-1)
            if rows.numel() == 0:
                continue
            picked = target.index_select(0, rows)
            if i == 0:
                gather_inds = gather_inds.index_copy(0, rows, picked)
            else:
                cluster_logprob = F.log_softmax(self.tail[i - 1](input.index_select(0, rows)), dim=1)
                gather_inds = gather_inds.index_fill(0, rows, self.shortlist_size + i - 1)
                local = cluster_logprob.gather(1, (picked - low).unsqueeze(1)).squeeze(1)
                output = output.index_copy(0, rows, local)
            used_rows += rows.numel()
        if used_rows != batch:
            raise IndexOutOfRangeError(f"Target values should be in [0, {self.n_classes - 1}], but values in range "
                                       f"[{target.min().item()}, {target.max().item()}] were found. ")
        head_logprob = F.log_softmax(self.head(input), dim=1)
        output = output + head_logprob.gather(1, gather_inds.unsqueeze(1)).squeeze(1)
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _get_full_log_prob(self, input: Tensor, head_output: Tensor) -> Tensor:
        """The ``(N, n_classes)`` log-distribution: the head's shortlist, then each cluster's
        log-softmax plus its head log-probability."""
        head_logprob = F.log_softmax(head_output, dim=1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster_logprob = F.log_softmax(self.tail[i](input), dim=1)
            parts.append(cluster_logprob + head_logprob[:, self.shortlist_size + i].unsqueeze(1))
        return parts[0] if len(parts) == 1 else F._call("cat", parts, 1)

    def log_prob(self, input: Tensor) -> Tensor:
        """Log-probabilities of every class, ``(N, n_classes)``."""
        return self._get_full_log_prob(input, self.head(input))

    def predict(self, input: Tensor) -> Tensor:
        """The most likely class of each row, ``(N,)``; as ``log_prob(input).argmax(1)``."""
        head_output = self.head(input)
        output = head_output.argmax(1)
        not_in_shortlist = output >= self.shortlist_size
        if not bool(not_in_shortlist.any()):
            return output
        if bool(not_in_shortlist.all()):
            return self._get_full_log_prob(input, head_output).argmax(1)
        rows = not_in_shortlist.nonzero().reshape(-1)
        log_prob = self._get_full_log_prob(input.index_select(0, rows), head_output.index_select(0, rows))
        return output.index_copy(0, rows, log_prob.argmax(1))
