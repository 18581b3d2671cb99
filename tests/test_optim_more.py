"""The torch.optim pieces added after the first set: Rprop, ASGD, Adafactor, Muon, SparseAdam and
torch.optim.swa_utils, each against PyTorch's own on the same parameters and gradients (float64):
parameters and state after every step, the Triton path (interpreter) for the fused rules, capturable
mode, state dict round trips (through neurarust.save, and from torch's state dicts)."""
from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch
from torch.optim import swa_utils as torch_swa

import neurarust as nr
from neurarust.errors import ArgumentError, LayoutError
from neurarust.optim import swa_utils
from neurarust.tensor import Tensor

SHAPES = ((4, 3), (5,), (), (2, 3, 2))


def _data(shapes, steps, seed=0, zeros=False):
    """Initial values and one gradient per step (some gradient entries exactly zero with ``zeros``)."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in shapes]
    grads = []
    for _ in range(steps):
        step = [rng.standard_normal(s) for s in shapes]
        if zeros:
            step = [np.where(np.abs(g) < 0.3, 0.0, g) for g in step]
        grads.append(step)
    return init, grads


def _np(t) -> np.ndarray:
    return t.detach().numpy() if isinstance(t, (Tensor, torch.Tensor)) else np.asarray(t)


def _assert_state(nr_state: dict, torch_state: dict, rtol, atol, what=""):
    assert set(nr_state) == set(torch_state), (sorted(nr_state), sorted(torch_state))
    for key, value in torch_state.items():
        np.testing.assert_allclose(_np(nr_state[key]), _np(value), rtol=rtol, atol=atol, err_msg=f"{what} {key}")


def _run(name, kwargs, steps=6, shapes=SHAPES, backend="reference", rtol=1e-10, atol=1e-12, zeros=False,
         nr_kwargs=None, seed=0):
    """Step NeuraRust's and torch's optimizer ``name`` together; compare params every step, state at
    the end. Returns both optimizers and param lists."""
    init, grads = _data(shapes, steps, seed, zeros)
    ps = [nr.tensor(a, requires_grad=True) for a in init]
    ts = [torch.tensor(a, requires_grad=True) for a in init]
    opt = getattr(nr.optim, name)(ps, **kwargs, **(nr_kwargs or {}))
    ref = getattr(torch.optim, name)(ts, **kwargs)
    for i, step in enumerate(grads):
        for p, t, g in zip(ps, ts, step):
            p.grad, t.grad = nr.tensor(g), torch.tensor(g)
        with nr.backends.using(backend):
            opt.step()
        ref.step()
        for j, (p, t) in enumerate(zip(ps, ts)):
            np.testing.assert_allclose(_np(p), _np(t), rtol=rtol, atol=atol, err_msg=f"param {j} after step {i}")
    for j, (p, t) in enumerate(zip(ps, ts)):
        _assert_state(opt.state[p], ref.state[t], rtol, atol, f"param {j}")
    return opt, ref, ps, ts


# -- Rprop ------------------------------------------------------------------------------------------
RPROP = [dict(), dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2)), dict(lr=0.2, maximize=True),
         dict(lr=0.01, etas=(0.9, 1.1), step_sizes=(0.009, 0.0105))]


@pytest.mark.parametrize("kwargs", RPROP, ids=[f"rprop{i}" for i in range(len(RPROP))])
def test_rprop_matches_torch(kwargs):
    opt, _, ps, _ = _run("Rprop", kwargs, steps=8, zeros=True)
    assert opt.state[ps[0]]["step"] == 8.0


# -- ASGD -------------------------------------------------------------------------------------------
ASGD = [dict(), dict(lr=0.05, lambd=0.01, alpha=0.5, t0=2), dict(lr=0.1, t0=0, weight_decay=0.1, maximize=True),
        dict(lr=0.02, lambd=0.1, alpha=1.0, t0=3.5, weight_decay=0.01)]


@pytest.mark.parametrize("kwargs", ASGD, ids=[f"asgd{i}" for i in range(len(ASGD))])
def test_asgd_matches_torch(kwargs):
    opt, _, ps, _ = _run("ASGD", kwargs, steps=8)
    assert isinstance(opt.state[ps[0]]["eta"], float)


# -- Adafactor ----------------------------------------------------------------------------------------
ADAFACTOR = [dict(), dict(lr=0.5, weight_decay=0.1), dict(lr=0.05, beta2_decay=-0.5, eps=(1e-3, 1e-2), d=2.0),
             dict(lr=0.2, eps=(0.4, 0.5), maximize=True, weight_decay=0.05)]


@pytest.mark.parametrize("kwargs", ADAFACTOR, ids=[f"adafactor{i}" for i in range(len(ADAFACTOR))])
def test_adafactor_matches_torch(kwargs):
    # 2-D and 3-D params keep factored moments, the vector and the scalar a full variance
    opt, _, ps, _ = _run("Adafactor", kwargs, steps=6, shapes=SHAPES + ((1, 6), (6, 1)))
    assert sorted(opt.state[ps[0]]) == ["col_var", "row_var", "step"]
    assert sorted(opt.state[ps[1]]) == ["step", "variance"]


def test_adafactor_tensor_lr_and_groups_at_different_steps():
    init, grads = _data(SHAPES[:2], 4, seed=5)
    ps = [nr.tensor(a, requires_grad=True) for a in init]
    ts = [torch.tensor(a, requires_grad=True) for a in init]
    opt = nr.optim.Adafactor([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.3}], lr=nr.tensor(0.1))
    ref = torch.optim.Adafactor([{"params": ts[:1]}, {"params": ts[1:], "lr": 0.3}], lr=torch.tensor(0.1))
    for i, step in enumerate(grads):
        for j, (p, t, g) in enumerate(zip(ps, ts, step)):
            if i == 0 and j == 1:       # the vector starts a step late
                p.grad = t.grad = None
                continue
            p.grad, t.grad = nr.tensor(g), torch.tensor(g)
        opt.step()
        ref.step()
    for p, t in zip(ps, ts):   # torch computes rho and alpha as float32 tensors from a tensor lr
        np.testing.assert_allclose(_np(p), _np(t), rtol=1e-6, atol=1e-9)
    assert opt.state[ps[1]]["step"] == 3.0


def test_adafactor_checks_its_options_as_torch():
    w = [nr.zeros(2, requires_grad=True)]
    for kwargs in (dict(lr=-1.0), dict(beta2_decay=0.5), dict(eps=(-1.0, 1e-3)), dict(eps=(None, -1.0)), dict(d=0.5),
                   dict(weight_decay=-1.0)):
        with pytest.raises(ValueError):
            torch.optim.Adafactor([torch.zeros(2, requires_grad=True)], **kwargs)
        with pytest.raises(ArgumentError):
            nr.optim.Adafactor(w, **kwargs)


# -- Muon -------------------------------------------------------------------------------------------
MUON = [dict(lr=0.02), dict(lr=0.05, nesterov=False, momentum=0.9, weight_decay=0.0),
        dict(lr=0.01, adjust_lr_fn="match_rms_adamw", ns_steps=3),
        dict(lr=0.02, adjust_lr_fn="original", ns_coefficients=(2.0, -1.5, 0.5), eps=1e-3)]


@pytest.mark.parametrize("kwargs", MUON, ids=[f"muon{i}" for i in range(len(MUON))])
def test_muon_matches_torch(kwargs):
    # the Newton-Schulz iteration runs in bfloat16 in both: the same roundings, so the same numbers
    _run("Muon", kwargs, steps=4, shapes=((4, 3), (3, 5), (2, 2)), rtol=1e-9, atol=1e-12)


def test_muon_triton_path_stays_close_to_torch():
    # bfloat16 products accumulated in another order: the orthogonalized update agrees to a few
    # bfloat16 ulps, so the params to a small fraction of one step (lr)
    lr = 0.02
    _run("Muon", dict(lr=lr), steps=2, shapes=((5, 3), (2, 4)), backend="triton", rtol=0, atol=0.1 * lr)


def test_muon_refuses_what_torch_refuses():
    with pytest.raises(ArgumentError, match="2D parameters"):
        nr.optim.Muon([nr.zeros(3, requires_grad=True)])
    with pytest.raises(ArgumentError, match="not supported"):
        nr.optim.Muon([nr.zeros(2, 2, requires_grad=True)], adjust_lr_fn="bogus")
    with pytest.raises(ArgumentError, match="less than 100"):
        nr.optim.muon.zeropower_via_newtonschulz(nr.ones(2, 2), ns_steps=100)


# -- SparseAdam ---------------------------------------------------------------------------------------
def test_sparse_adam_refuses_dense_gradients_as_torch():
    w, t = nr.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    opt, ref = nr.optim.SparseAdam([w], lr=0.1), torch.optim.SparseAdam([t], lr=0.1)
    opt.step()                      # no gradient: nothing to do, as torch
    ref.step()
    w.grad, t.grad = nr.ones(2), torch.ones(2)
    with pytest.raises(RuntimeError, match="dense gradients") as torch_error:
        ref.step()
    with pytest.raises(LayoutError, match="dense gradients") as mine:
        opt.step()
    assert str(mine.value) == str(torch_error.value)
    assert w.tolist() == [0.0, 0.0] and not opt.state
    for kwargs in (dict(lr=0.0), dict(eps=0.0), dict(betas=(1.0, 0.9)), dict(betas=(0.9, -0.1))):
        with pytest.raises(ValueError):
            torch.optim.SparseAdam([torch.zeros(1, requires_grad=True)], **kwargs)
        with pytest.raises(ArgumentError):
            nr.optim.SparseAdam([nr.zeros(1, requires_grad=True)], **kwargs)
    assert opt.defaults == dict(lr=0.1, betas=(0.9, 0.999), eps=1e-8, maximize=False)


def test_every_torch_optimizer_is_here():
    missing = set(torch.optim.__all__) - set(nr.optim.__all__)
    assert missing <= {"swap_in_optimizer_params_and_state"}, missing
    assert set(torch_swa.__all__) == set(swa_utils.__all__)
    assert nr.optim.swa_utils is swa_utils


# -- the Triton path, capturable mode -----------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [("Rprop", RPROP[1]), ("ASGD", ASGD[2]), ("Adafactor", ADAFACTOR[1])],
                         ids=["Rprop", "ASGD", "Adafactor"])
def test_triton_path_matches_torch(name, kwargs):
    before = nr.backends.launch_counts["optim"]
    # the kernel takes its hyperparameters as float32 arguments, fp64 params too
    _run(name, kwargs, steps=2, shapes=SHAPES[:2] + ((0,),) if name != "Adafactor" else SHAPES, backend="triton",
         rtol=1e-6, atol=1e-9)
    assert nr.backends.launch_counts["optim"] - before == 2   # one fused launch per step for the group


@pytest.mark.parametrize("backend", ["reference", "triton"])
@pytest.mark.parametrize("name,kwargs", [("Rprop", RPROP[1]), ("ASGD", dict(lr=0.05, lambd=0.01, t0=1))],
                         ids=["Rprop", "ASGD"])
def test_capturable_equals_ordinary_and_skips_found_inf_steps(name, kwargs, backend):
    init, grads = _data(SHAPES[:2], 4, seed=2)
    runs = []
    for capturable in (False, True):
        ps = [nr.tensor(a, requires_grad=True) for a in init]
        opt = getattr(nr.optim, name)(ps, capturable=capturable, **kwargs)
        for i, step in enumerate(grads):
            for p, g in zip(ps, step):
                p.grad = nr.tensor(g)
            if capturable:
                opt.found_inf = nr.tensor(1.0 if i == 1 else 0.0)
            elif i == 1:
                continue                # the ordinary run simply skips the step the flag skips
            with nr.backends.using(backend):
                opt.step()
        runs.append((ps, opt))
    (ordinary, o1), (captured, o2) = runs
    for a, b in zip(ordinary, captured):
        np.testing.assert_allclose(_np(b), _np(a), rtol=1e-6, atol=1e-9)
    state = o2.state[captured[0]]
    assert isinstance(state["step"], Tensor) and state["step"].dtype is nr.float32 and state["step"].item() == 3.0
    if name == "ASGD":
        for key in ("eta", "mu"):
            assert isinstance(state[key], Tensor)
            np.testing.assert_allclose(state[key].item(), o1.state[ordinary[0]][key], rtol=1e-6)


def test_a_compiled_step_with_capturable_rprop_and_asgd_equals_eager():
    def train(compiled):
        nr.manual_seed(0)
        model = nr.nn.Sequential(nr.nn.Linear(4, 5), nr.nn.Tanh(), nr.nn.Linear(5, 2))
        params = list(model.parameters())
        opts = [nr.optim.Rprop(params[:2], lr=0.01, capturable=True),
                nr.optim.ASGD(params[2:], lr=0.05, t0=1, capturable=True)]

        def step(x, y):
            for o in opts:
                o.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            for o in opts:
                o.step()
            return loss

        fn = nr.compile(step) if compiled else step
        nr.manual_seed(1)
        losses = [fn(nr.randn(3, 4), nr.randn(3, 2)).item() for _ in range(5)]
        return losses, [p.detach().clone() for p in params], fn

    (l1, p1, _), (l2, p2, fast) = train(False), train(True)
    assert fast.stats["replays"] >= 2
    np.testing.assert_allclose(l2, l1, rtol=1e-5)
    for a, b in zip(p1, p2):
        np.testing.assert_allclose(_np(b), _np(a), rtol=1e-5, atol=1e-6)


# -- state dicts --------------------------------------------------------------------------------------
CHECKPOINTS = [("Rprop", RPROP[1]), ("ASGD", ASGD[1]), ("Adafactor", ADAFACTOR[1]), ("Muon", MUON[0])]


@pytest.mark.parametrize("name,kwargs", CHECKPOINTS, ids=[n for n, _ in CHECKPOINTS])
def test_a_saved_state_dict_resumes_identically(name, kwargs, tmp_path):
    shapes = ((3, 4), (2, 2)) if name == "Muon" else SHAPES
    init, grads = _data(shapes, 6, seed=3)
    ps = [nr.tensor(a, requires_grad=True) for a in init]
    opt = getattr(nr.optim, name)(ps, **kwargs)

    def steps(opt, ps, which):
        for step in which:
            for p, g in zip(ps, step):
                p.grad = nr.tensor(g)
            opt.step()

    steps(opt, ps, grads[:3])
    path = os.path.join(tmp_path, "opt.safetensors")
    nr.save(opt.state_dict(), path)
    qs = [p.detach().clone().requires_grad_() for p in ps]
    resumed = getattr(nr.optim, name)(qs, **kwargs)
    resumed.load_state_dict(nr.load(path))
    assert resumed.param_groups[0].keys() == opt.param_groups[0].keys()
    assert all(type(resumed.param_groups[0][k]) is type(v) for k, v in opt.param_groups[0].items() if k != "params")
    steps(opt, ps, grads[3:])
    steps(resumed, qs, grads[3:])
    for p, q in zip(ps, qs):
        assert np.array_equal(_np(p), _np(q))


@pytest.mark.parametrize("name,kwargs", CHECKPOINTS, ids=[n for n, _ in CHECKPOINTS])
def test_a_torch_state_dict_loads(name, kwargs):
    shapes = ((3, 4), (2, 2)) if name == "Muon" else SHAPES
    init, grads = _data(shapes, 5, seed=4)
    ts = [torch.tensor(a, requires_grad=True) for a in init]
    ref = getattr(torch.optim, name)(ts, **kwargs)
    for step in grads[:3]:
        for t, g in zip(ts, step):
            t.grad = torch.tensor(g)
        ref.step()
    ps = [nr.tensor(t.detach().numpy().copy(), requires_grad=True) for t in ts]
    opt = getattr(nr.optim, name)(ps, **kwargs)
    opt.load_state_dict(copy.deepcopy(ref.state_dict()))
    assert all(isinstance(v, float) for s in opt.state.values() for k, v in s.items() if k in ("step", "eta", "mu"))
    for step in grads[3:]:
        for p, t, g in zip(ps, ts, step):
            p.grad, t.grad = nr.tensor(g), torch.tensor(g)
        opt.step()
        ref.step()
    for p, t in zip(ps, ts):
        np.testing.assert_allclose(_np(p), _np(t), rtol=1e-6, atol=1e-9)


# -- swa_utils ----------------------------------------------------------------------------------------
def _models(seed=0):
    """The same small model with a BatchNorm in both frameworks (float64)."""
    nr.manual_seed(seed)
    mine = nr.nn.Sequential(nr.nn.Linear(3, 4), nr.nn.BatchNorm1d(4), nr.nn.Linear(4, 2)).to(nr.float64)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)).double()
    _copy_into(mine, theirs)
    return mine, theirs


def _copy_into(mine, theirs):
    with torch.no_grad():
        for a, b in zip(list(mine.parameters()) + list(mine.buffers()),
                        list(theirs.parameters()) + list(theirs.buffers())):
            b.copy_(torch.tensor(_np(a)))


def _perturb(mine, theirs, rng):
    with nr.no_grad():
        for p in list(mine.parameters()) + [b for b in mine.buffers() if b.dtype.is_floating_point]:
            p.add_(nr.tensor(rng.standard_normal(tuple(p.shape))))
    _copy_into(mine, theirs)


AVERAGES = {
    "swa": (dict(), dict()),
    "swa_buffers": (dict(use_buffers=True), dict(use_buffers=True)),
    "ema_multi": (dict(multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.9), use_buffers=True),
                  dict(multi_avg_fn=torch_swa.get_ema_multi_avg_fn(0.9), use_buffers=True)),
    "ema_single": (dict(avg_fn=swa_utils.get_ema_avg_fn(0.8)), dict(avg_fn=torch_swa.get_ema_avg_fn(0.8))),
    "swa_multi": (dict(multi_avg_fn=swa_utils.get_swa_multi_avg_fn()),
                  dict(multi_avg_fn=torch_swa.get_swa_multi_avg_fn())),
}


@pytest.mark.parametrize("case", list(AVERAGES))
def test_averaged_model_matches_torch(case):
    mine, theirs = _models()
    kw_mine, kw_theirs = AVERAGES[case]
    avg, ref = swa_utils.AveragedModel(mine, **kw_mine), torch_swa.AveragedModel(theirs, **kw_theirs)
    rng = np.random.default_rng(1)
    for _ in range(4):
        _perturb(mine, theirs, rng)
        avg.update_parameters(mine)
        ref.update_parameters(theirs)
    assert avg.n_averaged.item() == ref.n_averaged.item() == 4 and avg.n_averaged.dtype is nr.int64
    for a, b in zip(list(avg.parameters()) + list(avg.buffers()), list(ref.parameters()) + list(ref.buffers())):
        # torch's SWA lerp weight 1 / (n + 1) is a float32 tensor
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-7, atol=1e-12)
    x = np.random.default_rng(2).standard_normal((5, 3))
    avg.eval(), ref.eval()
    np.testing.assert_allclose(_np(avg(nr.tensor(x))), _np(ref(torch.tensor(x))), rtol=1e-7, atol=1e-12)
    assert mine is not avg.module and avg.module.training is False


def test_averaged_model_takes_one_averaging_function_and_checks_decay():
    net = nr.nn.Linear(1, 1)
    with pytest.raises(ArgumentError, match="Only one"):
        swa_utils.AveragedModel(net, avg_fn=swa_utils.get_swa_avg_fn(), multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    for make in (swa_utils.get_ema_avg_fn, swa_utils.get_ema_multi_avg_fn):
        with pytest.raises(ArgumentError, match="decay"):
            make(1.5)


@pytest.mark.parametrize("strategy,epochs,swa_lr", [("cos", 5, 0.05), ("linear", 3, [0.05, 0.2]), ("cos", 0, 0.1),
                                                    ("linear", 1, 0.3)])
def test_swalr_learning_rates_match_torch(strategy, epochs, swa_lr):
    groups = lambda ps: [{"params": ps[:1]}, {"params": ps[1:], "lr": 0.5}]  # noqa: E731
    opt = nr.optim.SGD(groups([nr.zeros(1, requires_grad=True), nr.zeros(1, requires_grad=True)]), lr=1.0)
    ref = torch.optim.SGD(groups([torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]), lr=1.0)
    sched = swa_utils.SWALR(opt, swa_lr, anneal_epochs=epochs, anneal_strategy=strategy)
    ref_sched = torch_swa.SWALR(ref, swa_lr, anneal_epochs=epochs, anneal_strategy=strategy)
    assert sched.get_last_lr() == pytest.approx(ref_sched.get_last_lr(), rel=1e-12)
    for _ in range(8):
        opt.step(), ref.step()
        sched.step(), ref_sched.step()
        assert sched.get_last_lr() == pytest.approx(ref_sched.get_last_lr(), rel=1e-12)
        assert [g["swa_lr"] for g in opt.param_groups] == [g["swa_lr"] for g in ref.param_groups]
    state = sched.state_dict()
    assert "anneal_func" not in state and "optimizer" not in state
    again = swa_utils.SWALR(opt, swa_lr, anneal_epochs=epochs, anneal_strategy="linear")
    again.load_state_dict(state)
    assert again._anneal_strategy == strategy and again.anneal_func is sched.anneal_func


def test_swalr_checks_its_arguments():
    opt = nr.optim.SGD([nr.zeros(1, requires_grad=True)])
    with pytest.raises(ArgumentError, match="anneal_strategy"):
        swa_utils.SWALR(opt, 0.1, anneal_strategy="step")
    with pytest.raises(ArgumentError, match="anneal_epochs"):
        swa_utils.SWALR(opt, 0.1, anneal_epochs=-1)
    with pytest.raises(ArgumentError):
        swa_utils.SWALR(opt, [0.1, 0.2])


def test_update_bn_matches_torch():
    mine, theirs = _models(seed=3)
    x = np.random.default_rng(5).standard_normal((10, 3))
    y = np.zeros((10, 1))
    loader = nr.data.DataLoader(nr.data.TensorDataset(nr.tensor(x), nr.tensor(y)), batch_size=4)
    torch_loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)),
                                               batch_size=4)
    mine.eval(), theirs.eval()
    swa_utils.update_bn(loader, mine)
    torch_swa.update_bn(torch_loader, theirs)
    bn, ref = mine[1], theirs[1]
    for key in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(_np(getattr(bn, key)), _np(getattr(ref, key)), rtol=1e-10, atol=1e-12)
    assert bn.momentum == 0.1 and not mine.training
    # a plain list of tensors, through an AveragedModel
    avg = swa_utils.AveragedModel(mine)
    swa_utils.update_bn([nr.tensor(x[:5]), nr.tensor(x[5:])], avg)
    torch_swa.update_bn([torch.tensor(x[:5]), torch.tensor(x[5:])], theirs)
    np.testing.assert_allclose(_np(avg.module[1].running_var), _np(ref.running_var), rtol=1e-10)
    swa_utils.update_bn([nr.tensor(x)], nr.nn.Linear(3, 1))   # no BatchNorm: nothing to do


def test_adafactor_leaves_an_empty_param_as_it_is():
    # torch.optim.Adafactor divides by zero (the RMS of no elements) on one
    w, v = nr.zeros(0, requires_grad=True), nr.ones(2, requires_grad=True)
    opt = nr.optim.Adafactor([w, v])
    w.grad, v.grad = nr.zeros(0), nr.ones(2)
    opt.step()
    assert opt.state[w]["step"] == 1.0 and tuple(opt.state[w]["variance"].shape) == (0,)
    assert [round(x, 4) for x in v.tolist()] == [0.99, 0.99]
