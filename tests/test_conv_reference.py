"""The CPU convolution references' layouts (kernels/conv.py) against torch: the flat patches of
"same" correlations (wrapped reads zeroed), of other stride-1 ones (a wider grid, cropped), the
shifted-add split of narrowing 2-D correlations, blocks of samples, and the forward's patches kept
for the weight gradient. Forward and every gradient, float64 so that layout errors cannot hide."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import neurarust as nr
import neurarust.kernels.conv as conv
from neurarust.registry import call

RNG = np.random.default_rng(0)

# (input shape, weight shape, stride, padding, dilation, transposed, output_padding, groups)
CASES = {
    "same_2d_widening": ((2, 4, 5, 6), (6, 2, 3, 3), 1, 1, 1, False, 0, 2),
    "same_2d_narrowing_dilated": ((2, 6, 5, 7), (2, 6, 3, 3), 1, 2, 2, False, 0, 1),
    "same_3d_narrowing": ((1, 4, 3, 4, 5), (2, 4, 3, 3, 3), 1, 1, 1, False, 0, 1),
    "valid_2d_cropped_grid": ((2, 3, 6, 5), (4, 3, 3, 2), 1, 0, 1, False, 0, 1),
    "transposed_stride1_cropping": ((2, 4, 6, 6), (4, 2, 3, 3), 1, 3, 1, True, 0, 1),
    "stride2_windows": ((3, 2, 7, 6), (4, 2, 3, 3), 2, 1, 1, False, 0, 1),
}


def _run(args, weight_grad: bool = True):
    """Our and torch's output and (input, weight, bias) gradients of ``args`` for a random output
    gradient."""
    shape, wshape, *rest = args
    x, w = RNG.standard_normal(shape), RNG.standard_normal(wshape)
    b = RNG.standard_normal(wshape[1] * rest[-1] if rest[3] else wshape[0])
    g = None
    results = []
    for lib, make in ((nr, nr.tensor), (torch, torch.tensor)):
        ts = [make(a.copy(), requires_grad=grad) for a, grad in ((x, True), (w, weight_grad), (b, True))]
        if lib is nr:
            out = call("convolution", *ts, *rest)
        else:
            e = lambda v: [v] * (len(shape) - 2)  # noqa: E731
            out = torch.convolution(*ts, e(rest[0]), e(rest[1]), e(rest[2]), rest[3], e(rest[4]), rest[5])
        g = RNG.standard_normal(tuple(out.shape)) if g is None else g
        out.backward(make(g))
        results.append([out.detach().numpy()] + [t.grad.numpy() for t in ts if t.grad is not None])
    return results


@pytest.mark.parametrize("name", CASES)
def test_reference_matches_torch(name):
    ours, theirs = _run(CASES[name])
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_blocks_of_one_sample_match_a_whole_batch(monkeypatch):
    monkeypatch.setattr(conv, "BLOCK_BYTES", 1)
    for name in ("same_2d_narrowing_dilated", "valid_2d_cropped_grid", "stride2_windows"):
        ours, theirs = _run(CASES[name])
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_narrowing_forward_without_weight_gradient_splits_its_taps():
    ours, theirs = _run(CASES["same_2d_narrowing_dilated"], weight_grad=False)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_kept_patches_serve_only_the_same_input_values():
    x = nr.tensor(RNG.standard_normal((2, 3, 5, 5)), requires_grad=True)
    w1, w2 = (nr.tensor(RNG.standard_normal((4, 3, 3, 3)), requires_grad=True) for _ in range(2))
    y1 = call("convolution", x, w1, None, 1, 1)          # kept, then replaced by the next forward
    y2 = call("convolution", x * 2, w2, None, 1, 1)
    (y1.sum() + y2.sum()).backward()
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    tw1, tw2 = (torch.tensor(w.detach().numpy(), requires_grad=True) for w in (w1, w2))
    conv2d = torch.nn.functional.conv2d
    (conv2d(tx, tw1, padding=1).sum() + conv2d(tx * 2, tw2, padding=1).sum()).backward()
    for ours, theirs in ((x, tx), (w1, tw1), (w2, tw2)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-10)
