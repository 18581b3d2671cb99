"""The Module system and containers against torch.nn: attribute reassignment order, errors, hooks,
container methods and reprs (a differential review; each test pins one behaviour PyTorch has)."""
from collections import OrderedDict

import numpy as np
import pytest

import neurarust as nr
from neurarust import nn

torch = pytest.importorskip("torch")


# -- attribute protocol -------------------------------------------------------------------------
def test_reassigning_a_parameter_keeps_its_place_in_state_dict():
    ours, theirs = nn.Linear(2, 2), torch.nn.Linear(2, 2)
    ours.weight = nn.Parameter(nr.zeros(2, 2))
    theirs.weight = torch.nn.Parameter(torch.zeros(2, 2))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "bias"]


def test_reassigning_a_submodule_keeps_its_place():
    def build(lib):
        m = lib.Module()
        m.a, m.b = lib.ReLU(), lib.Tanh()
        m.a = lib.Sigmoid()
        return [name for name, _ in m.named_children()]

    assert build(nn) == build(torch.nn) == ["a", "b"]


def test_to_an_integer_dtype_raises_a_type_error():
    with pytest.raises(TypeError):
        torch.nn.Linear(2, 2).to(torch.int32)
    with pytest.raises(nr.DTypeError, match="int32"):
        nn.Linear(2, 2).to(nr.int32)


@pytest.mark.parametrize("target, message", [("0.weight", "`weight` is not an nn.Module")])
def test_get_submodule_error_messages(target, message):
    with pytest.raises(AttributeError, match=message):
        torch.nn.Sequential(torch.nn.Linear(2, 2)).get_submodule(target)
    with pytest.raises(AttributeError, match=message):
        nn.Sequential(nn.Linear(2, 2)).get_submodule(target)


@pytest.mark.parametrize("getter, target, message", [("get_parameter", "0", "`0` is not an nn.Parameter"),
                                                     ("get_buffer", "0.weight", "`weight` is not a buffer"),
                                                     ("get_parameter", "0.zz", "Linear has no attribute `zz`")])
def test_get_parameter_and_buffer_error_messages(getter, target, message):
    with pytest.raises(AttributeError, match=message):
        getattr(torch.nn.Sequential(torch.nn.Linear(2, 2)), getter)(target)
    with pytest.raises(AttributeError, match=message):
        getattr(nn.Sequential(nn.Linear(2, 2)), getter)(target)


def test_strict_load_error_lists_missing_keys_before_unexpected_ones():
    state = {"weight": nr.zeros(2, 2), "extra": nr.zeros(1)}
    with pytest.raises(nn.StateDictError) as info:
        nn.Linear(2, 2).load_state_dict(state)
    text = str(info.value)
    assert text.index('Missing key(s) in state_dict: "bias"') < text.index('Unexpected key(s) in state_dict: "extra"')


# -- hooks ----------------------------------------------------------------------------------------
def _failing_module(lib):
    """A module of ``lib`` (torch.nn or nn) whose forward raises ValueError."""
    class Failing(lib.Module):
        def forward(self, x):
            raise ValueError("boom")
    return Failing()


@pytest.mark.parametrize("with_kwargs", [False, True])
def test_always_call_forward_hook_runs_when_forward_raises(with_kwargs):
    seen = {}
    for name, lib, x in (("torch", torch.nn, torch.ones(1)), ("ours", nn, nr.ones(1))):
        module, calls = _failing_module(lib), []
        record = (lambda m, a, k, out: calls.append(out)) if with_kwargs else (lambda m, a, out: calls.append(out))
        module.register_forward_hook(record, always_call=True, with_kwargs=with_kwargs)
        module.register_forward_hook(lambda m, a, out: calls.append("plain"))
        with pytest.raises(ValueError, match="boom"):
            module(x)
        seen[name] = calls
    assert seen["ours"] == seen["torch"] == [None]


def test_always_call_hook_is_not_run_twice_when_a_later_hook_raises():
    calls = []
    module = nn.Identity()
    module.register_forward_hook(lambda m, a, out: calls.append("always"), always_call=True)
    module.register_forward_hook(lambda m, a, out: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        module(nr.ones(1))
    assert calls == ["always"]


def test_full_backward_hook_sees_zeros_for_an_input_without_grad():
    seen = {}
    for name, lib in (("torch", torch), ("ours", nr)):
        lib.manual_seed(0)
        bil = lib.nn.Bilinear(2, 2, 1)
        with lib.no_grad():
            bil.weight.copy_(lib.tensor([[[1.0, 2.0], [3.0, 4.0]]]))
        a, b = lib.tensor([[1.0, -1.0]], requires_grad=True), lib.tensor([[0.5, 2.0]])
        grads = []
        bil.register_full_backward_hook(lambda m, gin, gout: grads.extend(g.tolist() for g in gin))
        bil(a, b).sum().backward()
        seen[name] = grads
    np.testing.assert_allclose(np.array(seen["ours"], dtype=float), np.array(seen["torch"], dtype=float), rtol=1e-6)
    assert seen["ours"][1] == [[0.0, 0.0]]


# -- containers -----------------------------------------------------------------------------------
def test_module_list_repr_compresses_runs_of_equal_modules():
    def build(lib):
        return lib.ModuleList([lib.Linear(2, 2) for _ in range(3)] + [lib.ReLU(), lib.ReLU(), lib.Linear(2, 2)])

    assert repr(build(nn)) == repr(build(torch.nn))
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList()) == "ModuleList()"


def test_nested_module_list_repr_matches_torch():
    def build(lib):
        return lib.Sequential(lib.ModuleList([lib.Sequential(lib.Linear(2, 2), lib.ReLU()) for _ in range(2)]))

    assert repr(build(nn)) == repr(build(torch.nn))


def test_sequential_pop_returns_the_module_and_renumbers():
    seq = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    assert isinstance(seq.pop(0), nn.ReLU)
    assert list(seq._modules) == ["0", "1"] and isinstance(seq[0], nn.Tanh)


def test_sequential_add_iadd_and_mul():
    a, b = nn.ReLU(), nn.Tanh()
    joined = nn.Sequential(a) + nn.Sequential(b)
    assert [m for m in joined] == [a, b] and list(joined._modules) == ["0", "1"]
    grown = nn.Sequential(a)
    grown += nn.Sequential(b)
    assert [m for m in grown] == [a, b]
    assert [m for m in nn.Sequential(a, b) * 2] == [a, b, a, b]
    with pytest.raises(nr.ArgumentError):
        nn.Sequential(a) + [b]
    with pytest.raises(nr.ArgumentError):
        nn.Sequential(a) * 0


def test_module_list_pop():
    layers = nn.ModuleList([nn.ReLU(), nn.Tanh()])
    assert isinstance(layers.pop(0), nn.ReLU)
    assert list(layers._modules) == ["0"] and isinstance(layers[0], nn.Tanh)


def test_parameter_dict_has_dict_methods():
    params = nn.ParameterDict(OrderedDict(b=nr.zeros(2)))
    assert params.get("missing") is None and params.get("b") is params["b"]
    assert params.setdefault("c", nr.ones(1)) is params["c"] and list(params) == ["b", "c"]
    clone = params.copy()
    assert list(clone) == ["b", "c"] and clone["b"] is params["b"]
    key, value = params.popitem()
    assert key == "c" and value.tolist() == [1.0] and list(params) == ["b"]
    params.clear()
    assert len(params) == 0 and list(params.parameters()) == []


def test_parameter_dict_rejects_a_non_string_key():
    with pytest.raises(TypeError, match="not a string"):
        torch.nn.ParameterDict()[1] = torch.zeros(1)
    with pytest.raises(nr.SignatureError, match="not a string"):
        nn.ParameterDict()[1] = nr.zeros(1)


def test_module_dict_update_rejects_what_is_not_key_value_pairs():
    with pytest.raises(nr.SignatureError, match="iterable of key/value pairs, but got int"):
        nn.ModuleDict().update(3)
    with pytest.raises(nr.ArgumentError, match="element #0 has length 3; 2 is required"):
        nn.ModuleDict().update([("a", nn.ReLU(), 3)])


# -- layers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{"norm_type": 1.0, "max_norm": 1.0}, {"scale_grad_by_freq": True},
                                    {"sparse": True}])
def test_embedding_repr_matches_torch(kwargs):
    assert repr(nn.Embedding(10, 3, **kwargs)) == repr(torch.nn.Embedding(10, 3, **kwargs))


@pytest.mark.parametrize("cls", [nn.Embedding, nn.EmbeddingBag])
def test_embedding_from_pretrained_rejects_a_table_that_is_not_2d(cls):
    with pytest.raises(nr.ShapeError, match=r"2-dimensional, got \[3\]"):
        cls.from_pretrained(nr.ones(3))


@pytest.mark.parametrize("min_val, max_val", [(1.0, -1.0), (0.5, 0.5)])
def test_hardtanh_rejects_max_not_above_min_at_construction(min_val, max_val):
    with pytest.raises(AssertionError):
        torch.nn.Hardtanh(min_val, max_val)
    with pytest.raises(nr.ArgumentError, match="must be greater than min_val"):
        nn.Hardtanh(min_val, max_val)
