"""Code run inside the worker processes of tests/test_distributed.py.

The tests start these jobs with ``neurarust.distributed.spawn`` (torchrun's environment, a free
port, a gloo group), which pickles each job by reference, so they live in an importable module.
Each job returns what the parent checks.
"""
from __future__ import annotations

import time

import numpy as np

BATCH = 4          # per rank and step
STEPS = 5
LR = 0.1


def _rank_world() -> tuple[int, int]:
    import neurarust.distributed as dist

    return dist.get_rank(), dist.get_world_size()


# ----------------------------------------------------------------------------------------------
# The training problem (shared with the single-process reference)
# ----------------------------------------------------------------------------------------------

def data(world: int, dtype: str, micro: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of shape (STEPS, micro, world * BATCH, ...): rank r's rows are
    ``[r * BATCH:(r + 1) * BATCH]`` of each micro-batch."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((STEPS, micro, world * BATCH, 6)).astype(dtype)
    y = rng.standard_normal((STEPS, micro, world * BATCH, 3)).astype(dtype)
    return x, y


def model(seed: int, dtype: str):
    import neurarust as nr

    nr.manual_seed(seed)
    net = nr.nn.Sequential(nr.nn.Linear(6, 8), nr.nn.Tanh(), nr.nn.Linear(8, 3))
    return net.to(getattr(nr, dtype))


def params_np(net) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in net.parameters()]


def train(net, x: np.ndarray, y: np.ndarray, rows: slice, no_sync=None) -> None:
    """STEPS SGD steps; each step sums the mean-MSE gradients of its micro-batches (all but the last
    under ``no_sync`` when given)."""
    import contextlib

    import neurarust as nr

    opt = nr.optim.SGD(net.parameters(), lr=LR)
    for s in range(x.shape[0]):
        opt.zero_grad()
        for m in range(x.shape[1]):
            quiet = no_sync() if (no_sync is not None and m < x.shape[1] - 1) else contextlib.nullcontext()
            with quiet:
                out = net(nr.from_numpy(x[s, m, rows].copy()))
                nr.nn.functional.mse_loss(out, nr.from_numpy(y[s, m, rows].copy())).backward()
        opt.step()


def reference(world: int, dtype: str, micro: int = 1) -> list[np.ndarray]:
    """One process training rank 0's initial model on the concatenated batches."""
    net = model(100, dtype)
    x, y = data(world, dtype, micro)
    train(net, x, y, slice(None))
    return params_np(net)


# ----------------------------------------------------------------------------------------------
# Jobs
# ----------------------------------------------------------------------------------------------

DDP_CASES = {
    "float64": dict(dtype="float64"),
    "float32": dict(dtype="float32"),
    "no_sync": dict(dtype="float64", micro=2),
    "buckets": dict(dtype="float64", bucket_cap_mb=0.0001),
    "bucket_view": dict(dtype="float64", gradient_as_bucket_view=True, bucket_cap_mb=0.0001),
}


def ddp_job() -> dict:
    """Every DDP case, the collectives and the error cases; one process launch for them all."""
    import torch

    torch.set_num_threads(1)
    rank, world = _rank_world()
    out = {"ddp": {name: _ddp_case(rank, world, **case) for name, case in DDP_CASES.items()}}
    out["collectives"] = collectives(rank, world)
    out["unused"] = _unused_params(rank)
    out["mismatch"] = _mismatched_models(rank)
    out["buffers"] = _buffer_broadcast(rank)
    from neurarust.distributed import average_metrics, is_main_process

    out["metrics"] = average_metrics({"loss": float(rank), "accuracy": 0.5 + rank / 4})
    out["main"] = is_main_process()
    return out


def _ddp_case(rank: int, world: int, dtype: str, micro: int = 1, **ddp_kw) -> dict:
    from neurarust.parallel import DistributedDataParallel as DDP

    net = model(100 + rank, dtype)          # the ranks start apart: rank 0's parameters must win
    ddp = DDP(net, **ddp_kw)
    after_init = params_np(net)
    x, y = data(world, dtype, micro)
    train(ddp, x, y, slice(rank * BATCH, (rank + 1) * BATCH), no_sync=ddp.no_sync if micro > 1 else None)
    return {"after_init": after_init, "final": params_np(net), "buckets": len(ddp.bucket_sizes)}


def collectives(rank: int, world: int) -> dict:
    """Each collective on NeuraRust tensors and, on the same data, torch.distributed's own result."""
    import torch
    import torch.distributed as tdist

    import neurarust as nr
    import neurarust.distributed as dist

    base = np.arange(12, dtype=np.float32).reshape(3, 4) * (rank + 1) - 5.0
    res: dict = {}

    def pair(name, ours, theirs):
        res[name] = (np.asarray(ours), np.asarray(theirs))

    for op in ("SUM", "AVG", "MAX", "MIN"):
        a = nr.from_numpy(base.copy())
        dist.all_reduce(a, op=getattr(dist.ReduceOp, op))
        t = torch.from_numpy(base.copy())
        tdist.all_reduce(t, op=tdist.ReduceOp.SUM if op == "AVG" else getattr(tdist.ReduceOp, op))
        pair(f"all_reduce_{op}", a.numpy(), t.numpy() / world if op == "AVG" else t.numpy())
    a = nr.from_numpy(base.copy()).t()                 # non-contiguous: copied, reduced, copied back
    work = dist.all_reduce(a, async_op=True)
    work.wait()
    t = torch.from_numpy(base.copy()).t().contiguous()
    tdist.all_reduce(t)
    pair("all_reduce_async_noncontiguous", a.numpy(), t.numpy())
    a = nr.from_numpy(base.copy())
    dist.broadcast(a, src=1)
    t = torch.from_numpy(base.copy())
    tdist.broadcast(t, src=1)
    pair("broadcast", a.numpy(), t.numpy())
    outs = [nr.zeros(3, 4) for _ in range(world)]
    dist.all_gather(outs, nr.from_numpy(base.copy()))
    touts = [torch.zeros(3, 4) for _ in range(world)]
    tdist.all_gather(touts, torch.from_numpy(base.copy()))
    pair("all_gather", np.stack([o.numpy() for o in outs]), np.stack([o.numpy() for o in touts]))
    o = nr.zeros(3 * world, 4)
    dist.all_gather_into_tensor(o, nr.from_numpy(base.copy()))
    to = torch.zeros(3 * world, 4)
    tdist.all_gather_into_tensor(to, torch.from_numpy(base.copy()))
    pair("all_gather_into_tensor", o.numpy(), to.numpy())
    big = np.arange(8 * world, dtype=np.float32).reshape(2 * world, 4) + rank
    for op in ("SUM", "AVG"):
        o = nr.zeros(2, 4)
        dist.reduce_scatter_tensor(o, nr.from_numpy(big.copy()), op=getattr(dist.ReduceOp, op))
        to = torch.zeros(2, 4)
        tdist.reduce_scatter_tensor(to, torch.from_numpy(big.copy()))
        pair(f"reduce_scatter_tensor_{op}", o.numpy(), to.numpy() / world if op == "AVG" else to.numpy())
    gl = [nr.zeros(3, 4) for _ in range(world)] if rank == 0 else None
    dist.gather(nr.from_numpy(base.copy()), gl, dst=0)
    tgl = [torch.zeros(3, 4) for _ in range(world)] if rank == 0 else None
    tdist.gather(torch.from_numpy(base.copy()), tgl, dst=0)
    if rank == 0:
        pair("gather", np.stack([g.numpy() for g in gl]), np.stack([g.numpy() for g in tgl]))
    src_list = [np.full((2,), 10.0 * r + 1, dtype=np.float32) for r in range(world)]
    s = nr.zeros(2)
    dist.scatter(s, [nr.from_numpy(v.copy()) for v in src_list] if rank == 0 else None, src=0)
    ts = torch.zeros(2)
    tdist.scatter(ts, [torch.from_numpy(v.copy()) for v in src_list] if rank == 0 else None, src=0)
    pair("scatter", s.numpy(), ts.numpy())
    msg = np.array([3.0, 1.0, 4.0], dtype=np.float32)
    if rank == 0:
        dist.send(nr.from_numpy(msg.copy()), dst=1)
        tdist.send(torch.from_numpy(msg.copy()), dst=1)
    elif rank == 1:
        r = nr.zeros(3)
        sender = dist.recv(r, src=0)
        tr = torch.zeros(3)
        tdist.recv(tr, src=0)
        pair("send_recv", r.numpy(), tr.numpy())
        res["recv_sender"] = sender
    if rank == 1:
        dist.isend(nr.from_numpy(msg * 2), dst=0).wait()
    elif rank == 0:
        r = nr.zeros(3)
        dist.irecv(r, src=1).wait()
        pair("isend_irecv", r.numpy(), msg * 2)
    a = nr.from_numpy(base.copy())
    ptr = a.data_ptr()
    dist.all_reduce(a)
    res["in_place"] = a.data_ptr() == ptr and a._version > 0
    return res


def _unused_params(rank: int) -> dict:
    import neurarust as nr
    from neurarust.errors import DistributedError
    from neurarust.parallel import DistributedDataParallel as DDP

    class TwoHeads(nr.nn.Module):
        def __init__(self):
            super().__init__()
            nr.manual_seed(3)
            self.body = nr.nn.Linear(6, 3).double()
            self.unused = nr.nn.Linear(3, 3).double()

        def forward(self, x):
            return self.body(x)

    out = {}
    x = nr.ones(2, 6, dtype=nr.float64)
    try:
        DDP(TwoHeads())(x).sum().backward()
        out["error"] = None
    except DistributedError as e:
        out["error"] = str(e)
    ddp = DDP(TwoHeads(), find_unused_parameters=True)
    ddp(x).sum().backward()
    out["unused_grad_is_none"] = ddp.module.unused.weight.grad is None
    out["used_bias_grad"] = ddp.module.body.bias.grad.numpy().copy()
    return out


def _mismatched_models(rank: int) -> str | None:
    import neurarust as nr
    from neurarust.errors import DistributedError
    from neurarust.parallel import DistributedDataParallel as DDP

    try:
        DDP(nr.nn.Linear(3, 4 + rank))
    except DistributedError as e:
        return str(e)
    return None


def _buffer_broadcast(rank: int) -> list:
    import neurarust as nr
    from neurarust.parallel import DistributedDataParallel as DDP

    net = nr.nn.BatchNorm1d(2)
    ddp = DDP(net)
    net.running_mean.fill_(float(rank + 5))       # the ranks drift apart between forwards...
    ddp(nr.ones(4, 2))                            # ...and rank 0's buffers are broadcast first
    return net.running_mean.tolist()


def fault_job(mode: str) -> dict:
    """Rank 1 fails (``raise``: the process dies; ``hang``: it stays alive but never joins); rank 0
    runs an all-reduce and reports how it ended and after how long."""
    import neurarust as nr
    import neurarust.distributed as dist

    rank, _ = _rank_world()
    if rank == 1:
        if mode == "raise":
            raise RuntimeError("rank 1 fails on purpose")
        time.sleep(8.0)
        return {}
    start = time.monotonic()
    try:
        dist.all_reduce(nr.ones(4))
        return {"error": None, "seconds": time.monotonic() - start}
    except Exception as e:
        return {"error_type": type(e).__name__, "message": str(e), "seconds": time.monotonic() - start}
