"""neurarust.nn: the Module system and containers, each layer against torch.nn with copied weights
(forward and backward), initialisers, nn.utils, and a small MLP that trains."""
from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pytest
import torch

import neurarust as nr
import neurarust.nn.functional as F
from neurarust import nn

RNG = np.random.default_rng(0)


def _np(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy(force=True)


def _both(arr: np.ndarray, requires_grad: bool = False):
    a = nr.tensor(arr, requires_grad=requires_grad)
    b = torch.tensor(arr, requires_grad=requires_grad)
    return a, b


def _copy_weights(ours: nn.Module, theirs: torch.nn.Module) -> None:
    ours.load_state_dict(theirs.state_dict())  # torch tensors are taken through DLPack


def check_layer(ours: nn.Module, theirs: torch.nn.Module, *inputs: np.ndarray, grad: bool = True,
                rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Same output, same input and parameter gradients for the same weights and output weighting."""
    _copy_weights(ours, theirs)
    pairs = [_both(x, grad and x.dtype.kind == "f") for x in inputs]
    out, ref = ours(*(p[0] for p in pairs)), theirs(*(p[1] for p in pairs))
    np.testing.assert_allclose(_np(out), _np(ref), rtol=rtol, atol=atol)
    if not grad:
        return
    w = RNG.standard_normal(tuple(ref.shape)).astype(np.float32)
    (out * nr.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for (a, b) in pairs:
        if b.requires_grad:
            np.testing.assert_allclose(_np(a.grad), _np(b.grad), rtol=rtol, atol=atol)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(_np(p.grad), _np(theirs_params[name].grad), rtol=rtol, atol=atol, err_msg=name)


def randn(*shape) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


# -- layers vs torch ------------------------------------------------------------------------------
LAYERS = [
    ("linear", lambda: (nn.Linear(4, 3), torch.nn.Linear(4, 3)), [(2, 5, 4)]),
    ("linear_no_bias", lambda: (nn.Linear(4, 3, bias=False), torch.nn.Linear(4, 3, bias=False)), [(2, 4)]),
    ("bilinear", lambda: (nn.Bilinear(2, 3, 4), torch.nn.Bilinear(2, 3, 4)), [(5, 2), (5, 3)]),
    ("identity", lambda: (nn.Identity(), torch.nn.Identity()), [(2, 3)]),
    ("flatten", lambda: (nn.Flatten(), torch.nn.Flatten()), [(2, 3, 4)]),
    ("unflatten", lambda: (nn.Unflatten(1, (2, 3)), torch.nn.Unflatten(1, (2, 3))), [(4, 6)]),
    ("relu", lambda: (nn.ReLU(), torch.nn.ReLU()), [(3, 4)]),
    ("relu6", lambda: (nn.ReLU6(), torch.nn.ReLU6()), [(3, 4)]),
    ("leaky_relu", lambda: (nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)), [(3, 4)]),
    ("elu", lambda: (nn.ELU(0.7), torch.nn.ELU(0.7)), [(3, 4)]),
    ("gelu", lambda: (nn.GELU(), torch.nn.GELU()), [(3, 4)]),
    ("gelu_tanh", lambda: (nn.GELU("tanh"), torch.nn.GELU("tanh")), [(3, 4)]),
    ("silu", lambda: (nn.SiLU(), torch.nn.SiLU()), [(3, 4)]),
    ("mish", lambda: (nn.Mish(), torch.nn.Mish()), [(3, 4)]),
    ("tanh", lambda: (nn.Tanh(), torch.nn.Tanh()), [(3, 4)]),
    ("sigmoid", lambda: (nn.Sigmoid(), torch.nn.Sigmoid()), [(3, 4)]),
    ("softmax", lambda: (nn.Softmax(dim=1), torch.nn.Softmax(dim=1)), [(3, 4)]),
    ("log_softmax", lambda: (nn.LogSoftmax(dim=0), torch.nn.LogSoftmax(dim=0)), [(3, 4)]),
    ("softplus", lambda: (nn.Softplus(2.0, 1.0), torch.nn.Softplus(2.0, 1.0)), [(3, 4)]),
    ("hardtanh", lambda: (nn.Hardtanh(-0.5, 0.8), torch.nn.Hardtanh(-0.5, 0.8)), [(3, 4)]),
    ("prelu_shared", lambda: (nn.PReLU(), torch.nn.PReLU()), [(2, 3, 4)]),
    ("prelu_channels", lambda: (nn.PReLU(3, 0.1), torch.nn.PReLU(3, 0.1)), [(2, 3, 4)]),
    ("dropout_eval", lambda: (nn.Dropout(0.3).eval(), torch.nn.Dropout(0.3).eval()), [(3, 4)]),
]


@pytest.mark.parametrize("name,make,shapes", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(name, make, shapes):
    ours, theirs = make()
    check_layer(ours, theirs, *(randn(*s) for s in shapes))
    assert repr(ours) == repr(theirs)


def test_embedding_matches_torch_with_padding_idx():
    ours, theirs = nn.Embedding(6, 3, padding_idx=2), torch.nn.Embedding(6, 3, padding_idx=2)
    idx = np.array([[0, 2, 5], [2, 2, 1]])
    check_layer(ours, theirs, idx)
    assert ours.weight.grad[2].abs().sum().item() == 0.0
    assert repr(ours) == repr(theirs)
    assert nn.Embedding(4, 2, padding_idx=-1).weight[3].tolist() == [0.0, 0.0]


def test_embedding_max_norm_renormalises_looked_up_rows():
    ours, theirs = nn.Embedding(5, 3, max_norm=1.0), torch.nn.Embedding(5, 3, max_norm=1.0)
    _copy_weights(ours, theirs)
    idx = np.array([1, 3, 3])
    np.testing.assert_allclose(_np(ours(nr.tensor(idx))), _np(theirs(torch.tensor(idx))), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(ours.weight), _np(theirs.weight), rtol=1e-5, atol=1e-6)


def test_functional_forms():
    x = randn(3, 4)
    a, b = _both(x)
    pairs = [(F.relu(a), torch.nn.functional.relu(b)),
             (F.elu(a, 2.0), torch.nn.functional.elu(b, 2.0)),
             (F.softmax(a, 0), torch.nn.functional.softmax(b, 0)),
             (F.normalize(a), torch.nn.functional.normalize(b)),
             (F.pad(a, (1, 2), value=3.0), torch.nn.functional.pad(b, (1, 2), value=3.0)),
             (F.linear(a, a), torch.nn.functional.linear(b, b))]
    for ours, theirs in pairs:
        np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-5, atol=1e-6)
    idx = np.array([0, 3, 1])
    assert F.one_hot(nr.tensor(idx), 4).tolist() == torch.nn.functional.one_hot(torch.tensor(idx), 4).tolist()
    with pytest.warns(UserWarning, match="Implicit dimension"):
        assert F.softmax(a).shape == (3, 4)


def test_losses_are_looked_up_lazily():
    with pytest.raises(AttributeError):
        F.no_such_loss  # noqa: B018
    for name in F.LOSSES:
        try:
            getattr(F, name)
        except AttributeError as e:
            assert name in str(e)


def test_dropout_training_masks_and_scales():
    nr.manual_seed(0)
    x = nr.ones(2000, requires_grad=True)
    y = nn.Dropout(0.25)(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.75) < 0.05
    assert np.allclose(_np(y)[_np(kept)], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_allclose(_np(x.grad), _np(y))
    nr.manual_seed(3)
    first = F.dropout(nr.ones(50)).tolist()
    nr.manual_seed(3)
    assert F.dropout(nr.ones(50)).tolist() == first
    assert F.dropout(nr.ones(3), 1.0).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(nr.ArgumentError):
        nn.Dropout(1.5)


def test_layers_on_the_triton_backend():
    ours = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())
    with nr.backends.using("triton"):
        before = sum(nr.backends.launch_counts.values())
        check_layer(ours, theirs, randn(2, 3))
        emb_ours, emb_theirs = nn.Embedding(4, 2, padding_idx=0), torch.nn.Embedding(4, 2, padding_idx=0)
        check_layer(emb_ours, emb_theirs, np.array([0, 3, 3]))
        assert sum(nr.backends.launch_counts.values()) > before


# -- Module -----------------------------------------------------------------------------------------
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.blocks = nn.ModuleList([nn.Linear(4, 4), nn.Tanh()])
        self.head = nn.Linear(4, 2)
        self.register_buffer("running", nr.zeros(4))
        self.register_buffer("scratch", nr.zeros(1), persistent=False)
        self.scale = nn.Parameter(nr.ones(1))

    def forward(self, x):
        x = self.fc(x)
        for b in self.blocks:
            x = b(x)
        return self.head(x) * self.scale


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 4)
        self.blocks = torch.nn.ModuleList([torch.nn.Linear(4, 4), torch.nn.Tanh()])
        self.head = torch.nn.Linear(4, 2)
        self.register_buffer("running", torch.zeros(4))
        self.register_buffer("scratch", torch.zeros(1), persistent=False)
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        x = self.fc(x)
        for b in self.blocks:
            x = b(x)
        return self.head(x) * self.scale


def test_registration_and_traversal_match_torch():
    ours, theirs = Net(), TorchNet()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters(recurse=False)] == ["scale"]
    assert len(list(ours.modules())) == len(list(theirs.modules()))
    assert repr(ours) == repr(theirs).replace("TorchNet", "Net")
    check_layer(ours, theirs, randn(5, 3))


def test_shared_parameters_are_listed_once_and_attributes_behave():
    lin = nn.Linear(2, 2)
    net = nn.Sequential(lin, lin)
    assert len(list(net.parameters())) == 2
    assert len(list(net.named_parameters(remove_duplicate=False))) == 4
    m = nn.Module()
    m.w = nn.Parameter(nr.zeros(1))
    m.w = None
    assert "w" in m._parameters and m.w is None
    with pytest.raises(TypeError):
        m.w = nr.zeros(1)
    m.add_module("sub", nn.ReLU())
    assert m.get_submodule("sub") is m.sub
    del m.sub
    assert not hasattr(m, "sub")
    with pytest.raises(AttributeError):
        m.get_submodule("nope")
    with pytest.raises(KeyError):
        m.register_buffer("a.b", nr.zeros(1))
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_train_eval_apply_requires_grad_zero_grad():
    net = Net()
    assert all(m.training for m in net.modules())
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen.count("Linear") == 3
    net(nr.ones(2, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad.abs().sum().item() == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_casts_floats_in_place_and_keeps_parameter_identity():
    net = Net()
    net.register_buffer("steps", nr.zeros(1, dtype=nr.int64))
    weight = net.fc.weight
    net(nr.ones(1, 3)).sum().backward()
    net.to(nr.float64)
    assert net.fc.weight is weight and weight.dtype == nr.float64 and weight.grad.dtype == nr.float64
    assert net.running.dtype == nr.float64 and net.steps.dtype == nr.int64
    assert net(nr.ones(1, 3, dtype=nr.float64)).dtype == nr.float64
    assert net.half().fc.weight.dtype == nr.float16
    assert net.bfloat16().fc.weight.dtype == nr.bfloat16
    assert net.float().fc.weight.dtype == nr.float32
    assert net.double().fc.weight.dtype == nr.float64
    assert net.to("cpu", dtype=nr.float32).cpu().fc.weight.dtype == nr.float32
    assert weight.requires_grad and weight.is_leaf
    with pytest.raises(nr.DTypeError):  # a TypeError, as PyTorch
        net.to(nr.int32)


def test_state_dict_round_trip_and_strict_errors():
    a, b = Net(), Net()
    with nr.no_grad():
        a.running.fill_(3.0)
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert p.tolist() == q.tolist(), name
    assert "scratch" not in a.state_dict()
    assert not a.state_dict()["fc.weight"].requires_grad
    assert a.state_dict(keep_vars=True)["fc.weight"] is a.fc.weight


def test_load_state_dict_validates_everything_before_copying():
    a, b = Net(), Net()
    before = {k: v.tolist() for k, v in b.state_dict().items()}
    bad = dict(a.state_dict())
    bad["head.weight"] = nr.zeros(3, 3)
    del bad["fc.bias"]
    bad["extra"] = nr.zeros(1)
    with pytest.raises(nn.StateDictError) as info:
        b.load_state_dict(bad)
    msg = str(info.value)
    assert '"fc.bias"' in msg and '"extra"' in msg and "size mismatch for head.weight" in msg
    assert {k: v.tolist() for k, v in b.state_dict().items()} == before  # nothing half-loaded
    with pytest.raises(nn.StateDictError, match="size mismatch"):  # shapes are checked even when not strict
        b.load_state_dict(bad, strict=False)
    del bad["head.weight"]
    result = b.load_state_dict(bad, strict=False)
    assert set(result.missing_keys) == {"fc.bias", "head.weight"} and result.unexpected_keys == ["extra"]
    assert b.fc.weight.tolist() == a.fc.weight.tolist()


def test_deepcopy_and_pickle():
    net = Net()
    net(nr.ones(1, 3)).sum().backward()
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert isinstance(clone.fc.weight, nn.Parameter) and clone.fc.weight.requires_grad
        assert clone.fc.weight is not net.fc.weight
        assert clone.fc.weight.tolist() == net.fc.weight.tolist()
        assert clone(nr.ones(2, 3)).tolist() == net(nr.ones(2, 3)).tolist()
        assert list(clone.state_dict()) == list(net.state_dict())
    assert copy.deepcopy(net).fc.weight.grad is None      # PyTorch's Parameter.__deepcopy__ leaves .grad behind


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append("post") or out + 1)
    h3 = lin.register_forward_hook(lambda m, args, out: calls.append("first"), prepend=True)
    out = lin(nr.ones(1, 2))
    np.testing.assert_allclose(_np(out), _np(lin.bias + 1)[None], rtol=1e-6)
    assert calls == ["first", "post"]
    for h in (h1, h2, h3):
        h.remove()
    lin.register_forward_pre_hook(lambda m, args, kwargs: ((args[0] * 2,), kwargs), with_kwargs=True)
    lin.register_forward_hook(lambda m, args, kwargs, out: out * 0, with_kwargs=True)
    assert lin(nr.ones(1, 2)).tolist() == [[0.0, 0.0]]


def test_full_backward_hooks_match_torch():
    ours, theirs = nn.Linear(3, 2), torch.nn.Linear(3, 2)
    _copy_weights(ours, theirs)
    got = {"ours": [], "theirs": []}

    def recorder(key):
        def hook(module, grad_input, grad_output):
            got[key].append([_np(g) if g is not None else None for g in grad_input + grad_output])
            return tuple(g * 2 if g is not None else None for g in grad_input)
        return hook

    ours.register_full_backward_hook(recorder("ours"))
    theirs.register_full_backward_hook(recorder("theirs"))
    x = randn(4, 3)
    a, b = _both(x, requires_grad=True)
    ours(a).pow(2).sum().backward()
    theirs(b).pow(2).sum().backward()
    for g_ours, g_theirs in zip(got["ours"][0], got["theirs"][0]):
        np.testing.assert_allclose(g_ours, g_theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_np(a.grad), _np(b.grad), rtol=1e-5, atol=1e-6)  # the doubled grad_input
    # Inputs that need no grad: the hook still runs, with grad_input None.
    got["ours"].clear()
    ours(nr.tensor(x)).sum().backward()
    assert got["ours"][0][0] is None and got["ours"][0][1].shape == (4, 2)
    pre = []
    ours.register_full_backward_pre_hook(lambda m, gout: pre.append(gout[0].shape))
    ours(nr.tensor(x)).sum().backward()
    assert pre == [(4, 2)]


def test_containers():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    seq.append(nn.Linear(3, 1))
    seq.insert(1, nn.Tanh())
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh", "ReLU", "Linear"]
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and isinstance(seq[-1], nn.Linear)
    assert isinstance(seq[1:], nn.Sequential) and len(seq[1:]) == 2
    from collections import OrderedDict
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and named(nr.ones(1, 2)).shape == (1, 2)
    ml = nn.ModuleList([nn.ReLU()]) + [nn.Tanh()]
    ml += [nn.Sigmoid()]
    ml[0] = nn.ELU()
    assert [type(m).__name__ for m in ml] == ["ELU", "Tanh", "Sigmoid"]
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.Linear(1, 2)
    assert list(md) == ["a", "b"] and len(list(md.parameters())) == 4 and md.pop("a") is not None
    pl = nn.ParameterList([nr.zeros(2), nn.Parameter(nr.ones(1))])
    pl.append(nr.ones(3))
    assert [p.numel() for p in pl] == [2, 1, 3] and all(isinstance(p, nn.Parameter) for p in pl)
    assert list(pl.state_dict()) == ["0", "1", "2"]
    pd = nn.ParameterDict({"a": nr.zeros(1)})
    pd["b"] = nr.ones(2)
    assert list(pd) == ["a", "b"] and list(pd.state_dict()) == ["a", "b"]
    tpl = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2))])
    assert repr(nn.ParameterList([nr.zeros(2)])) == repr(tpl).replace("torch.", "neurarust.")


# -- init and utils ---------------------------------------------------------------------------------
def test_calculate_gain_matches_torch():
    for name, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                        ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert nn.init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))
    with pytest.raises(nr.ArgumentError):
        nn.init.calculate_gain("nope")


def test_initialisers_fill_in_place_with_the_right_statistics():
    nr.manual_seed(0)
    w = nn.Parameter(nr.empty(64, 32))
    init = nn.init
    assert init.uniform_(w, -0.1, 0.1) is w and w.abs().max().item() <= 0.1 and w.requires_grad
    bound = math.sqrt(6 / 96)
    assert init.xavier_uniform_(w).abs().max().item() <= bound
    assert init.xavier_normal_(w).std().item() == pytest.approx(math.sqrt(2 / 96), rel=0.1)
    assert init.kaiming_normal_(w, nonlinearity="relu").std().item() == pytest.approx(math.sqrt(2 / 32), rel=0.1)
    assert init.kaiming_uniform_(w, mode="fan_out").abs().max().item() <= math.sqrt(3) * math.sqrt(2 / 1.0001) / 8
    assert init.normal_(w, 1.0, 0.5).mean().item() == pytest.approx(1.0, abs=0.05)
    t = init.trunc_normal_(w, mean=0.5, std=1.0, a=0.0, b=1.0)
    assert t.min().item() >= 0.0 and t.max().item() <= 1.0
    assert init.constant_(w, 2.5).tolist()[0][0] == 2.5
    assert init.zeros_(w).abs().sum().item() == 0 and init.ones_(w).sum().item() == 64 * 32
    q = init.orthogonal_(nr.empty(4, 6), gain=2.0)
    np.testing.assert_allclose(_np(q @ q.t()), 4 * np.eye(4), atol=1e-5)
    assert init.eye_(nr.empty(2, 3)).tolist() == torch.nn.init.eye_(torch.empty(2, 3)).tolist()
    d_ours = init.dirac_(nr.empty(4, 2, 3), groups=2)
    assert d_ours.tolist() == torch.nn.init.dirac_(torch.empty(4, 2, 3), groups=2).tolist()
    g = nr.Generator().manual_seed(5)
    a = init.normal_(nr.empty(3), generator=g).tolist()
    assert init.normal_(nr.empty(3), generator=g.manual_seed(5)).tolist() == a


def test_default_init_bounds_match_torch():
    lin = nn.Linear(16, 8)
    assert lin.weight.abs().max().item() <= 1 / 4 and lin.bias.abs().max().item() <= 1 / 4
    assert nn.Embedding(100, 10).weight.std().item() == pytest.approx(1.0, rel=0.2)
    assert nn.PReLU().weight.tolist() == [0.25]


def test_parameters_to_vector_and_back():
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = nn.utils.parameters_to_vector(net.parameters())
    ref = torch.nn.utils.parameters_to_vector([torch.tensor(_np(p)) for p in net.parameters()])
    np.testing.assert_allclose(_np(vec), ref.numpy())
    nn.utils.vector_to_parameters(nr.arange(vec.shape[0]).float(), net.parameters())
    assert net[0].weight.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and net[1].bias.tolist() == [10.0]
    with pytest.raises(nr.ShapeError):
        nn.utils.vector_to_parameters(nr.zeros(3), net.parameters())


# -- training -------------------------------------------------------------------------------------
def test_tiny_mlp_trains_and_its_loss_falls():
    nr.manual_seed(0)
    x = nr.tensor(RNG.uniform(-1, 1, (32, 2)).astype(np.float32))
    y = (x[:, :1] * x[:, 1:]).sign()
    net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    losses = []
    for _ in range(60):
        loss = ((net(x) - y) ** 2).mean()
        losses.append(loss.item())
        net.zero_grad()
        loss.backward()
        with nr.no_grad():
            for p in net.parameters():
                p.sub_(p.grad * 0.2)
    assert losses[-1] < 0.6 * losses[0]


# -- loss modules ---------------------------------------------------------------------------------
def _probs(*shape) -> np.ndarray:
    return RNG.uniform(0.05, 0.95, shape).astype(np.float32)


def _signs(n: int) -> np.ndarray:
    return np.where(RNG.standard_normal(n) > 0, 1.0, -1.0).astype(np.float32)


LOSSES = [
    ("mse", "mse_loss", lambda: (nn.MSELoss(), torch.nn.MSELoss()), lambda: [randn(3, 4), randn(3, 4)]),
    ("l1_sum", "l1_loss", lambda: (nn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum")),
     lambda: [randn(3, 4), randn(3, 4)]),
    ("smooth_l1", "smooth_l1_loss", lambda: (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5)),
     lambda: [randn(3, 4), randn(3, 4)]),
    ("huber_none", "huber_loss", lambda: (nn.HuberLoss("none", 0.7), torch.nn.HuberLoss("none", 0.7)),
     lambda: [randn(3, 4), randn(3, 4)]),
    ("cross_entropy", "cross_entropy",
     lambda: (nn.CrossEntropyLoss(weight=nr.tensor([1.0, 2.0, 0.5]), ignore_index=1, label_smoothing=0.1),
              torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5]), ignore_index=1, label_smoothing=0.1)),
     lambda: [randn(4, 3), np.array([0, 2, 1, 2])]),
    ("nll", "nll_loss", lambda: (nn.NLLLoss(), torch.nn.NLLLoss()), lambda: [randn(4, 3), np.array([0, 2, 1, 2])]),
    ("bce", "binary_cross_entropy", lambda: (nn.BCELoss(), torch.nn.BCELoss()), lambda: [_probs(3, 2), _probs(3, 2)]),
    ("bce_logits", "binary_cross_entropy_with_logits",
     lambda: (nn.BCEWithLogitsLoss(pos_weight=nr.tensor([2.0, 0.5])),
              torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0, 0.5]))),
     lambda: [randn(3, 2), _probs(3, 2)]),
    ("kl_div", "kl_div", lambda: (nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean")),
     lambda: [np.log(_probs(3, 4)), _probs(3, 4)]),
    ("cosine_embedding", "cosine_embedding_loss",
     lambda: (nn.CosineEmbeddingLoss(0.2), torch.nn.CosineEmbeddingLoss(0.2)),
     lambda: [randn(4, 3), randn(4, 3), _signs(4)]),
    ("margin_ranking", "margin_ranking_loss",
     lambda: (nn.MarginRankingLoss(0.1), torch.nn.MarginRankingLoss(0.1)), lambda: [randn(5), randn(5), _signs(5)]),
    ("triplet", "triplet_margin_loss", lambda: (nn.TripletMarginLoss(), torch.nn.TripletMarginLoss()),
     lambda: [randn(4, 3), randn(4, 3), randn(4, 3)]),
]


@pytest.mark.parametrize("name,fn,make,inputs", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_module_matches_torch(name, fn, make, inputs):
    assert getattr(F, fn).name == fn  # the functional form is the registry entry
    ours, theirs = make()
    args = inputs()
    pairs = [_both(a, requires_grad=a.dtype.kind == "f" and i == 0) for i, a in enumerate(args)]
    out, ref = ours(*(p[0] for p in pairs)), theirs(*(p[1] for p in pairs))
    np.testing.assert_allclose(_np(out), _np(ref), rtol=1e-5, atol=1e-6)
    (out * nr.tensor(np.ones(tuple(ref.shape), np.float32))).sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(_np(pairs[0][0].grad), _np(pairs[0][1].grad), rtol=1e-5, atol=1e-6)
    assert repr(ours) == repr(theirs)


def test_parameter_basics():
    p = nn.Parameter(nr.ones(2))
    assert repr(p).startswith("Parameter containing:\n") and p.is_leaf
    p.data = nr.zeros(3, dtype=nr.float64)
    assert p.shape == (3,) and p.dtype == nr.float64 and p.requires_grad and isinstance(p, nn.Parameter)
    assert not p.data.requires_grad
    q = pickle.loads(pickle.dumps(p))
    assert isinstance(q, nn.Parameter) and q.requires_grad and q.tolist() == [0.0, 0.0, 0.0]
    assert not nn.Parameter(nr.ones(1), requires_grad=False).requires_grad
    assert isinstance(p * 2, nr.Tensor) and not isinstance(p * 2, nn.Parameter)


def test_composed_functionals_pass_gradcheck():
    from neurarust.autograd import gradcheck, gradgradcheck

    def leaf(*shape):
        return nr.tensor(RNG.standard_normal(shape) + 0.1, dtype=nr.float64, requires_grad=True)

    x1, x2, w = leaf(2, 3), leaf(2, 2), leaf(4, 3, 2)
    assert gradcheck(lambda a, b, c: F.bilinear(a, b, c), (x1, x2, w))
    assert gradgradcheck(lambda a: F.elu(a, 0.5) + F.mish(a), (leaf(3, 2),))
    table = leaf(5, 2)
    idx = nr.tensor([[4, 0], [0, 1]])
    assert gradcheck(lambda t: F.embedding(idx, t), (table,))  # (padding_idx zeroes a true gradient on purpose)
    assert gradgradcheck(lambda t: F.embedding(idx, t) ** 2, (table,))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_mlp_matches_torch(dtype):
    ours = nn.Sequential(nn.Linear(4, 3), nn.GELU(), nn.Linear(3, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.GELU(), torch.nn.Linear(3, 2))
    _copy_weights(ours, theirs)
    ours.to(getattr(nr, dtype))
    theirs.to(getattr(torch, dtype))
    x = randn(5, 4)
    a = nr.tensor(x).to(getattr(nr, dtype)).requires_grad_()
    b = torch.tensor(x).to(getattr(torch, dtype)).requires_grad_()
    out, ref = ours(a), theirs(b)
    assert out.dtype == getattr(nr, dtype)
    np.testing.assert_allclose(_np(out.float()), ref.float().detach().numpy(), rtol=2e-2, atol=2e-2)
    out.float().sum().backward()
    ref.float().sum().backward()
    np.testing.assert_allclose(_np(ours[0].weight.grad.float()), theirs[0].weight.grad.float().numpy(), rtol=3e-2, atol=3e-2)


@pytest.mark.parametrize("name,args", [("uniform", ()), ("normal", ()), ("constant", (0.5,)), ("eye", ()),
                                       ("xavier_uniform", ()), ("xavier_normal", ()), ("kaiming_uniform", ()),
                                       ("kaiming_normal", ()), ("orthogonal", ()), ("sparse", (0.5,))])
def test_nn_init_old_names_warn_and_fill_as_the_new_ones(name, args):
    with pytest.warns(FutureWarning, match=f"nn.init.{name}` is now deprecated"):
        w = getattr(nn.init, name)(nr.empty(3, 3), *args)
    with pytest.warns(FutureWarning):
        getattr(torch.nn.init, name)(torch.empty(3, 3), *args)   # torch has the same names
    assert w.shape == (3, 3) and bool(nr.isfinite(w).all())
