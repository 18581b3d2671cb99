"""The CPU path's in-place lane (SGD, Adam) gives bit for bit what the rules' reference math gives:
it is the same operations in the same order, done in place with reused scratch buffers."""
from __future__ import annotations

import numpy as np
import pytest

import neurarust as nr
from neurarust.kernels import optim as K

SHAPES = ((5, 7), (3,), (), (0,))
CASES = [
    ("sgd", dict(lr=0.1)),
    ("sgd", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01, first=True)),
    ("sgd", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgd", dict(lr=0.1, momentum=0.9, dampening=0.0)),
    ("adam", dict(step=3, lr=0.01, weight_decay=0.1)),
    ("adam", dict(step=1, lr=0.01, amsgrad=True)),
    ("adam", dict(step=5, lr=0.01, weight_decay=0.1, decoupled=True, amsgrad=True)),
]


def _lists(rule, h, dtype, seed):
    rng = np.random.default_rng(seed)
    out = []
    for what in ("params", "grads") + rule.states:
        if not K._used(rule, what, h):
            out.append([])
            continue
        arrays = [rng.standard_normal(s) for s in SHAPES]
        if what in ("exp_avg_sqs", "max_exp_avg_sqs"):
            arrays = [np.abs(a) for a in arrays]
        out.append([nr.tensor(a, dtype=dtype) for a in arrays])
    return out


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("dtype", [nr.float32, nr.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("name,hyper", CASES, ids=[f"{n}{i}" for i, (n, _) in enumerate(CASES)])
def test_in_place_lane_equals_the_reference_math_exactly(name, hyper, dtype, maximize):
    rule = K.RULES[name]
    h = dict(rule.defaults, **hyper)
    k, first = tuple(float(x) for x in rule.scalars(h)), bool(h.get("first", False))
    flags = tuple(bool(f) for f in rule.flags(h)) + (maximize,)
    fast, slow = _lists(rule, h, dtype, 0), _lists(rule, h, dtype, 0)
    K._run_reference(rule, fast, k, flags, first)
    for i in range(len(slow[0])):
        K._reference_one(rule, [ls[i] if ls else None for ls in slow], k, flags, first)
    for a, b in zip(fast, slow):
        for x, y in zip(a, b):
            assert np.array_equal(x.numpy(), y.numpy())
