"""Module's state-dict hooks, extra state, set_submodule, to_empty and compile(), each run the same
way on a NeuraRust module and its PyTorch twin: the hooks see the same arguments and the results
agree."""
from __future__ import annotations

import pytest
import torch

import neurarust as nr
from neurarust import nn


def twins():
    return nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)), \
        torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))


@pytest.mark.parametrize("lib", ["nr", "torch"])
def test_state_dict_hooks_see_prefix_and_may_edit_the_dict(lib):
    net = twins()[0 if lib == "nr" else 1]
    calls = []
    net[0].register_state_dict_pre_hook(lambda m, prefix, keep_vars: calls.append(("pre", prefix, keep_vars)))
    def drop_bias(module, sd, prefix, local_metadata):
        del sd[prefix + "bias"]

    net[2].register_state_dict_post_hook(drop_bias)
    keys = list(net.state_dict())
    assert calls == [("pre", "0.", False)]
    assert keys == ["0.weight", "0.bias", "2.weight"]
    net[0].register_state_dict_post_hook(lambda m, sd, prefix, meta: sd)
    with pytest.raises(RuntimeError, match="post-hook must return None"):
        net.state_dict()


def _state(lib, net):
    return net.state_dict() if lib == "nr" else {k: v.clone() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("lib", ["nr", "torch"])
def test_load_pre_hook_renames_old_keys(lib):
    net = twins()[0 if lib == "nr" else 1]
    state = _state(lib, net)
    state["0.w_old"] = state.pop("0.weight")

    def rename(module, sd, prefix, local_metadata, strict, missing, unexpected, errors):
        if prefix + "w_old" in sd:
            sd[prefix + "weight"] = sd.pop(prefix + "w_old")

    net[0].register_load_state_dict_pre_hook(rename)
    result = net.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []


@pytest.mark.parametrize("lib", ["nr", "torch"])
def test_load_pre_hook_errors_fail_the_load(lib):
    net = twins()[0 if lib == "nr" else 1]
    net[2].register_load_state_dict_pre_hook(lambda m, sd, prefix, *rest: rest[-1].append("refused by hook"))
    with pytest.raises(RuntimeError, match="refused by hook"):
        net.load_state_dict(_state(lib, net))


@pytest.mark.parametrize("lib", ["nr", "torch"])
def test_load_post_hook_may_forgive_missing_keys(lib):
    net = twins()[0 if lib == "nr" else 1]
    state = _state(lib, net)
    del state["2.bias"]
    seen = []

    def forgive(module, incompatible):
        seen.append(list(incompatible.missing_keys))
        incompatible.missing_keys.clear()

    net.register_load_state_dict_post_hook(forgive)
    result = net.load_state_dict(state)
    assert seen == [["2.bias"]] and result.missing_keys == []


def test_a_strict_load_that_fails_copies_nothing_without_post_hooks():
    net = twins()[0]
    state = {k: v + 1 for k, v in net.state_dict().items()}
    del state["2.bias"]
    before = net[0].weight.tolist()
    with pytest.raises(RuntimeError, match='Missing key.*"2.bias"'):
        net.load_state_dict(state)
    assert net[0].weight.tolist() == before


def _counter(base):
    class Counter(base):
        def __init__(self):
            super().__init__()
            self.steps = 0

        def get_extra_state(self):
            return {"steps": self.steps}

        def set_extra_state(self, state):
            self.steps = state["steps"]

        def forward(self, x):
            return x

    return Counter


@pytest.mark.parametrize("lib", ["nr", "torch"])
def test_extra_state_round_trips_and_is_a_key(lib):
    Counter = _counter(nn.Module if lib == "nr" else torch.nn.Module)
    seq = (nn.Sequential if lib == "nr" else torch.nn.Sequential)
    a, b = seq(Counter()), seq(Counter())
    a[0].steps = 5
    state = a.state_dict()
    assert list(state) == ["0._extra_state"] and state["0._extra_state"] == {"steps": 5}
    b.load_state_dict(state)
    assert b[0].steps == 5
    with pytest.raises(RuntimeError, match='Missing key.*"0._extra_state"'):
        b.load_state_dict({})


@pytest.mark.parametrize("lib", ["nr", "torch"])
def test_set_submodule(lib):
    mod = nn if lib == "nr" else torch.nn
    net = mod.Sequential(mod.Sequential(mod.ReLU()))
    net.set_submodule("0.0", mod.Tanh())
    net.set_submodule("0.extra", mod.Identity())
    assert [type(m).__name__ for m in net[0].children()] == ["Tanh", "Identity"]
    with pytest.raises(AttributeError, match="no attribute `missing`"):
        net.set_submodule("0.missing", mod.ReLU(), strict=True)
    net[0].plain = 3
    with pytest.raises(AttributeError, match="is not an nn.Module"):
        net.set_submodule("0.plain", mod.ReLU())
    with pytest.raises(ValueError, match="is not an nn.Module"):
        net.set_submodule("0.0", 3)
    with pytest.raises(ValueError, match="without a target name"):
        net.set_submodule("", mod.ReLU())


def test_to_empty_keeps_shapes_dtypes_and_parameters():
    net = twins()[0].double()
    old = [p.data_ptr() for p in net.parameters()]
    assert net.to_empty(device="cpu") is net
    assert [tuple(p.shape) for p in net.parameters()] == [(3, 2), (3,), (1, 3), (1,)]
    assert all(isinstance(p, nn.Parameter) and p.dtype is nr.float64 for p in net.parameters())
    assert all(p.data_ptr() != o for p, o in zip(net.parameters(), old))


def test_compile_in_place_matches_eager_and_keeps_state_dict_keys():
    net, eager = twins()[0], twins()[0]
    eager.load_state_dict(net.state_dict())
    keys = list(net.state_dict())
    net.compile()
    x = nr.randn(4, 2)
    for _ in range(3):                  # eager, capture, replay
        net.zero_grad()
        eager.zero_grad()
        net(x).pow(2).sum().backward()
        eager(x).pow(2).sum().backward()
        for p, q in zip(net.parameters(), eager.parameters()):
            assert (p.grad - q.grad).abs().max().item() < 1e-6
    assert net._compiled_call_impl.stats["replays"] >= 1
    assert list(net.state_dict()) == keys
