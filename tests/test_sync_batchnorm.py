"""nn.SyncBatchNorm: exactly BatchNorm without a process group, with one process and in eval mode
(against BatchNorm2d and torch.nn.SyncBatchNorm); the synchronized statistics in a world of one;
convert_sync_batchnorm and PyTorch's state_dict keys; and two gloo processes, each with part of the
batch, giving the outputs, input gradients, summed weight gradients and running statistics of one
BatchNorm over the whole batch.

The two-process job runs once per module (``sync_results``); its ranks import this module to find
``two_rank_job``, as ``neurarust.distributed.spawn`` pickles jobs by reference.
"""
from __future__ import annotations

import numpy as np
import pytest

import neurarust as nr
import neurarust.distributed as dist
from neurarust.errors import ShapeError

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.timeout(300)
C = 3


def _set_affine(bn, dtype="float64") -> None:
    with nr.no_grad():
        bn.weight.copy_(nr.tensor(np.linspace(0.5, 1.5, bn.num_features).astype(dtype)))
        bn.bias.copy_(nr.tensor(np.linspace(-1.0, 1.0, bn.num_features).astype(dtype)))


def _set_affine_torch(bn) -> None:
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(np.linspace(0.5, 1.5, bn.num_features)))
        bn.bias.copy_(torch.tensor(np.linspace(-1.0, 1.0, bn.num_features)))


# ----------------------------------------------------------------------------------------------
# One process: BatchNorm exactly
# ----------------------------------------------------------------------------------------------

def _run(module, x: np.ndarray, w: np.ndarray, lib) -> tuple:
    """Output, input gradient, weight and bias gradients of ``sum(module(x) * w)``."""
    a = lib.tensor(x, requires_grad=True)
    y = module(a)
    (y * lib.tensor(w)).sum().backward()
    grads = [p.grad.numpy().copy() for p in (module.weight, module.bias)]
    return [y.detach().numpy(), a.grad.numpy().copy(), *grads]


@pytest.mark.parametrize("shape", [(6, C), (4, C, 5), (3, C, 2, 4), (2, C, 2, 3, 2)])
def test_without_a_process_group_it_is_batchnorm_and_torchs_syncbatchnorm(shape):
    rng = np.random.default_rng(0)
    plain = {2: nr.nn.BatchNorm1d, 3: nr.nn.BatchNorm1d, 4: nr.nn.BatchNorm2d, 5: nr.nn.BatchNorm3d}[len(shape)]
    ours, plain = nr.nn.SyncBatchNorm(C).to(nr.float64), plain(C).to(nr.float64)
    theirs = torch.nn.SyncBatchNorm(C).double()
    for m in (ours, plain):
        _set_affine(m)
    _set_affine_torch(theirs)
    for step in range(2):
        x, w = rng.standard_normal(shape), rng.standard_normal(shape)
        got = _run(ours, x, w, nr)
        for other, lib in ((theirs, torch), (plain, nr)):
            want = _run(other, x, w, lib)
            for g, t in zip(got, want):
                np.testing.assert_allclose(g, t, rtol=1e-12, atol=1e-12)
        for m in (ours, plain, theirs):
            for p in (m.weight, m.bias):
                p.grad = None
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(ours, name).numpy(), getattr(theirs, name).numpy(), rtol=1e-12)
    ours.eval(), theirs.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(ours(nr.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(momentum=None), dict(affine=False), dict(track_running_stats=False),
                                    dict(bias=False)])
def test_options_behave_as_torchs(kwargs):
    rng = np.random.default_rng(1)
    ours, theirs = nr.nn.SyncBatchNorm(C, **kwargs).to(nr.float64), torch.nn.SyncBatchNorm(C, **kwargs).double()
    assert repr(ours) == repr(theirs)
    for _ in range(2):
        x = rng.standard_normal((4, C, 3))
        np.testing.assert_allclose(ours(nr.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-12, atol=1e-12)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-12)


def test_state_dict_exchanges_with_torchs():
    theirs = torch.nn.SyncBatchNorm(C)
    theirs(torch.randn(4, C, 2))
    ours = nr.nn.SyncBatchNorm(C)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key].numpy(), value.numpy())
    back = torch.nn.SyncBatchNorm(C)
    back.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})


@pytest.mark.parametrize("shape", [(3,), (2, 0, 4)])
def test_bad_inputs_raise_shape_errors(shape):
    with pytest.raises(ShapeError):
        nr.nn.SyncBatchNorm(C)(nr.zeros(*shape))


# ----------------------------------------------------------------------------------------------
# convert_sync_batchnorm
# ----------------------------------------------------------------------------------------------

def test_convert_sync_batchnorm_replaces_every_batchnorm_sharing_its_state():
    net = nr.nn.Sequential(nr.nn.Conv2d(2, 4, 3), nr.nn.BatchNorm2d(4),
                           nr.nn.Sequential(nr.nn.Linear(4, 4), nr.nn.BatchNorm1d(4, affine=False).eval()),
                           nr.nn.BatchNorm3d(4, bias=False, track_running_stats=False))
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    old = [net[1], net[2][1], net[3]]
    out = nr.nn.SyncBatchNorm.convert_sync_batchnorm(net, process_group="group")
    assert out is net and isinstance(net[0], nr.nn.Conv2d) and isinstance(net[2][0], nr.nn.Linear)
    new = [net[1], net[2][1], net[3]]
    for o, n in zip(old, new):
        assert type(n) is nr.nn.SyncBatchNorm and n.process_group == "group" and n.training == o.training
        assert (n.num_features, n.eps, n.momentum, n.affine, n.track_running_stats) == \
            (o.num_features, o.eps, o.momentum, o.affine, o.track_running_stats)
        for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            assert getattr(n, name) is getattr(o, name)
    assert new[2].bias is None and new[2].weight is not None
    assert list(net.state_dict()) == list(before)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    single = nr.nn.BatchNorm1d(3)
    assert type(nr.nn.SyncBatchNorm.convert_sync_batchnorm(single)) is nr.nn.SyncBatchNorm


def test_converted_state_dict_keys_are_torchs():
    ours = nr.nn.SyncBatchNorm.convert_sync_batchnorm(
        nr.nn.Sequential(nr.nn.Conv2d(1, 2, 3), nr.nn.BatchNorm2d(2), nr.nn.ReLU()))
    theirs = torch.nn.SyncBatchNorm.convert_sync_batchnorm(
        torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2), torch.nn.ReLU()))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)


# ----------------------------------------------------------------------------------------------
# A world of one: the synchronized path itself (called directly, as the module falls back to
# BatchNorm there) equals BatchNorm
# ----------------------------------------------------------------------------------------------

@pytest.fixture
def world_of_one(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", world_size=1, rank=0,
                            timeout=30)
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 2e-5)])
def test_synchronized_statistics_in_a_world_of_one_are_batchnorms(world_of_one, dtype, tol):
    from neurarust.nn.normalization import _sync_batch_norm

    rng = np.random.default_rng(2)
    x, w = (rng.standard_normal((4, C, 3, 2)) * 3 + 5).astype(dtype), rng.standard_normal((4, C, 3, 2))
    bn = nr.nn.BatchNorm2d(C).to(getattr(nr, dtype))
    _set_affine(bn, dtype)
    want = _run(bn, x, w.astype(dtype), nr)
    rm, rv = nr.zeros(C, dtype=getattr(nr, dtype)), nr.ones(C, dtype=getattr(nr, dtype))
    sync = nr.nn.SyncBatchNorm(C).to(getattr(nr, dtype))
    _set_affine(sync, dtype)
    a = nr.tensor(x, requires_grad=True)
    y = _sync_batch_norm(a, sync.weight, sync.bias, rm, rv, 1e-5, 0.1, None)
    (y * nr.tensor(w.astype(dtype))).sum().backward()
    got = [y.detach().numpy(), a.grad.numpy(), sync.weight.grad.numpy(), sync.bias.grad.numpy()]
    for g, t in zip(got, want):
        np.testing.assert_allclose(g, t, rtol=tol, atol=tol)
    np.testing.assert_allclose(rm.numpy(), bn.running_mean.numpy(), rtol=tol)
    np.testing.assert_allclose(rv.numpy(), bn.running_var.numpy(), rtol=tol)


def test_module_in_a_world_of_one_is_batchnorm(world_of_one):
    x = np.random.default_rng(3).standard_normal((4, C, 2))
    sync, bn = nr.nn.SyncBatchNorm(C).to(nr.float64), nr.nn.BatchNorm1d(C).to(nr.float64)
    np.testing.assert_array_equal(sync(nr.tensor(x)).detach().numpy(), bn(nr.tensor(x)).detach().numpy())
    np.testing.assert_array_equal(sync.running_var.numpy(), bn.running_var.numpy())


# ----------------------------------------------------------------------------------------------
# Two processes
# ----------------------------------------------------------------------------------------------

STEPS = 2
# case: (model, input shape of the whole batch, rows of rank 0 (rank 1 takes the rest), dtype)
CASES = {"converted_conv_net": ("conv", (6, 2, 3, 4), 3, "float64"),
         "uneven_shares_momentum_none": ("bn", (7, C, 5), 5, "float64"),
         "float32_2d": ("bn", (8, C), 4, "float32"),
         "empty_share_on_rank1": ("bn", (4, C, 2), 4, "float64")}


def _model(kind: str, dtype: str, sync: bool):
    nr.manual_seed(0)
    if kind == "conv":
        net = nr.nn.Sequential(nr.nn.Conv2d(2, C, 3, padding=1), nr.nn.BatchNorm2d(C), nr.nn.Tanh())
        _set_affine(net[1])
        net = net.to(getattr(nr, dtype))
        return nr.nn.SyncBatchNorm.convert_sync_batchnorm(net) if sync else net
    cls = nr.nn.SyncBatchNorm if sync else nr.nn.BatchNorm1d
    bn = cls(C, momentum=None if kind == "bn" and dtype == "float64" else 0.1)
    _set_affine(bn)
    return bn.to(getattr(nr, dtype))


def _data(case: str) -> tuple[np.ndarray, np.ndarray]:
    _, shape, _, dtype = CASES[case]
    rng = np.random.default_rng(len(case))
    out_shape = (shape[0], C, *shape[2:])
    return (rng.standard_normal((STEPS, *shape)) * 2 + 1).astype(dtype), rng.standard_normal((STEPS, *out_shape))


def _steps(net, x: np.ndarray, w: np.ndarray, rows: slice, reduce_grads) -> dict:
    """STEPS forward/backward passes on ``rows`` of each step's batch, then one eval forward."""
    out: dict = {"y": [], "dx": [], "grads": []}
    for s in range(STEPS):
        a = nr.tensor(x[s, rows], requires_grad=True)
        y = net(a)
        (y * nr.tensor(w[s, rows].astype(x.dtype))).sum().backward()
        grads = [p.grad for p in net.parameters()]
        reduce_grads(grads)
        out["y"].append(y.detach().numpy())
        out["dx"].append(a.grad.numpy())
        out["grads"].append([g.numpy().copy() for g in grads])
        for p in net.parameters():
            p.grad = None
    out["buffers"] = {k: v.numpy().copy() for k, v in net.state_dict().items() if "running" in k or "tracked" in k}
    net.eval()
    out["eval"] = net(nr.tensor(x[0, rows])).detach().numpy()
    return out


def two_rank_job() -> dict:
    """Each case on this rank's share of the batch; weight gradients summed over the ranks."""
    rank = dist.get_rank()
    results = {}
    for case, (kind, shape, split, dtype) in CASES.items():
        x, w = _data(case)
        rows = slice(0, split) if rank == 0 else slice(split, shape[0])

        def reduce(grads):
            for g in grads:
                dist.all_reduce(g)

        results[case] = _steps(_model(kind, dtype, sync=True), x, w, rows, reduce)
    return results


@pytest.fixture(scope="module")
def sync_results() -> list:
    # the ranks compute on the NumPy path, whatever CI sets (the world-of-one tests cover the kernels)
    return dist.spawn(two_rank_job, 2, backend="gloo", timeout_s=60, env={"NEURARUST_BACKEND": "reference"})


@pytest.mark.parametrize("case", list(CASES))
def test_two_processes_equal_one_batchnorm_over_the_whole_batch(sync_results, case):
    kind, shape, split, dtype = CASES[case]
    x, w = _data(case)
    want = _steps(_model(kind, dtype, sync=False), x, w, slice(None), lambda grads: None)
    tol = 1e-11 if dtype == "float64" else 1e-4
    for rank, res in enumerate(sync_results):
        got = res[case]
        rows = slice(0, split) if rank == 0 else slice(split, shape[0])
        for s in range(STEPS):
            msg = f"{case}, rank {rank}, step {s}"
            np.testing.assert_allclose(got["y"][s], want["y"][s][rows], rtol=tol, atol=tol, err_msg=msg)
            np.testing.assert_allclose(got["dx"][s], want["dx"][s][rows], rtol=tol, atol=tol, err_msg=msg)
            for g, t in zip(got["grads"][s], want["grads"][s]):
                np.testing.assert_allclose(g, t, rtol=tol, atol=tol, err_msg=msg)
        assert got["buffers"].keys() == want["buffers"].keys()
        for k, v in want["buffers"].items():
            np.testing.assert_allclose(got["buffers"][k], v, rtol=tol, atol=tol, err_msg=f"{case} {k}")
        np.testing.assert_allclose(got["eval"], want["eval"][rows], rtol=tol, atol=tol, err_msg=f"{case} eval")
