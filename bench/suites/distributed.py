"""The distributed suite: how well do 2 gloo processes scale on this machine, and does bucketing
overlap the gradient all-reduces with backward?

Weak scaling: every process trains the same MLP (float32, reference backend) on its own batch of
``BATCH`` rows per step, so 2 processes do twice the work of 1 in the same number of steps.
Scaling efficiency = (2-process samples/s) / (2 x 1-process samples/s), where the 1-process run
trains the plain module (no DDP, no communication); the same 1-process run also times DDP with a
world of one, in alternating blocks of steps (its cost over the plain module is the reducer's own:
copying gradients into buckets and back, since a world of one launches no all-reduce). Each process keeps
NumPy on one thread, so 2 processes need 2 free cores; the load average before the run is reported
because other work on the machine lowers the figure.

Then one traced step of the 2-process run with small buckets prints, for rank 0, when each
parameter's gradient became ready and when each bucket's all-reduce started, in milliseconds from
the start of ``loss.backward()``: buckets that start before backward ends overlap communication
with the rest of backward. Figures, not test assertions.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import statistics
import tempfile
import time

from bench.harness import Context, SuiteResult, Target, md_table

BATCH = 64
WIDTH = 512
TRACE_BUCKET_MB = 0.5
ROUNDS = 4


# ----------------------------------------------------------------------------------------------
# Inside each process
# ----------------------------------------------------------------------------------------------

def _model():
    import neurarust as nr

    nr.manual_seed(0)
    return nr.nn.Sequential(nr.nn.Linear(256, WIDTH), nr.nn.ReLU(), nr.nn.Linear(WIDTH, WIDTH), nr.nn.ReLU(),
                            nr.nn.Linear(WIDTH, WIDTH), nr.nn.ReLU(), nr.nn.Linear(WIDTH, 10))


def _step_times(net, params, steps: int, seed: int) -> list[float]:
    import numpy as np

    import neurarust as nr

    rng = np.random.default_rng(seed)
    x = nr.from_numpy(rng.standard_normal((BATCH, 256)).astype("float32"))
    y = nr.from_numpy(rng.integers(0, 10, BATCH))
    opt = nr.optim.SGD(params, lr=0.01)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        opt.zero_grad()
        nr.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return times


def _traced_step(ddp) -> dict:
    import numpy as np

    import neurarust as nr

    rng = np.random.default_rng(1)
    loss = nr.nn.functional.cross_entropy(ddp(nr.from_numpy(rng.standard_normal((BATCH, 256)).astype("float32"))),
                                          nr.from_numpy(rng.integers(0, 10, BATCH)))
    ddp.reducer.trace = []
    start = time.perf_counter()
    loss.backward()
    end = time.perf_counter()
    events = [(e, i, 1e3 * (t - start)) for e, i, t in ddp.reducer.trace]
    ddp.reducer.trace = None
    buckets = [(b.index, [ddp.reducer.names[i] for i in b.members], b.nbytes) for b in ddp.reducer.buckets]
    return {"events": events, "backward_ms": 1e3 * (end - start), "buckets": buckets}


def _job(rank: int, world: int, tmp: str, steps: int) -> None:
    import torch

    torch.set_num_threads(1)
    import neurarust.distributed as dist
    from neurarust.parallel import DistributedDataParallel as DDP

    dist.init_process_group("gloo", init_method="file://" + os.path.join(tmp, "rdv"), world_size=world, rank=rank,
                            timeout=120)
    out: dict = {"plain": [], "ddp": []}
    net, ddp = _model(), DDP(_model())
    _step_times(net, net.parameters(), 2, rank)
    _step_times(ddp, ddp.parameters(), 2, rank)
    dist.barrier()
    for _ in range(ROUNDS):   # alternate blocks, so a change of machine load hits both alike
        if world == 1:
            out["plain"] += _step_times(net, net.parameters(), steps // ROUNDS, rank)
        out["ddp"] += _step_times(ddp, ddp.parameters(), steps // ROUNDS, rank)
    if world > 1:
        traced = DDP(_model(), bucket_cap_mb=TRACE_BUCKET_MB)
        _traced_step(traced)               # warm-up
        out["trace"] = _traced_step(traced)
    with open(os.path.join(tmp, f"rank{rank}.pkl"), "wb") as f:
        pickle.dump(out, f)
    dist.destroy_process_group()


# ----------------------------------------------------------------------------------------------
# The parent
# ----------------------------------------------------------------------------------------------

def _launch(world: int, steps: int) -> list[dict]:
    ctx = mp.get_context("spawn")
    saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        procs = [ctx.Process(target=_job, args=(r, world, tmp, steps)) for r in range(world)]
        try:
            for p in procs:
                p.start()
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        for p in procs:
            p.join(300)
            if p.is_alive():
                p.kill()
        if any(p.exitcode != 0 for p in procs):
            raise RuntimeError(f"distributed benchmark: exit codes {[p.exitcode for p in procs]}")
        return [pickle.load(open(os.path.join(tmp, f"rank{r}.pkl"), "rb")) for r in range(world)]


def timeline(trace: dict) -> str:
    """The traced step as a table: event, what it concerns, milliseconds from backward's start."""
    names = {}
    for index, members, nbytes in trace["buckets"]:
        names[index] = f"bucket {index} ({len(members)} params, {nbytes / 1e6:.2f} MB)"
    rows = []
    for event, i, ms in trace["events"]:
        what = names.get(i, "") if event.startswith("allreduce") else ("" if i < 0 else f"param {i}")
        rows.append([event, what, f"{ms:.2f}"])
    rows.append(["loss.backward() returns", "", f"{trace['backward_ms']:.2f}"])
    return md_table(["event (rank 0)", "of", "ms from backward start"], rows)


def run(ctx: Context) -> SuiteResult:
    steps = 8 if ctx.quick else 40
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    one = _launch(1, steps)[0]
    two = _launch(2, steps)
    t_plain = statistics.median(one["plain"])
    t_ddp1 = statistics.median(one["ddp"])
    t_ddp2 = max(statistics.median(r["ddp"]) for r in two)     # the slower rank sets the pace
    efficiency = t_plain / t_ddp2
    trace = two[0]["trace"]
    result = SuiteResult("distributed")
    result.cases = [
        {"case": "1 process, plain module", "step_s": t_plain, "samples_per_s": BATCH / t_plain},
        {"case": "1 process, DDP (world of one)", "step_s": t_ddp1, "samples_per_s": BATCH / t_ddp1},
        {"case": "2 processes, DDP over gloo", "step_s": t_ddp2, "samples_per_s": 2 * BATCH / t_ddp2},
    ]
    starts = [ms for e, _, ms in trace["events"] if e == "allreduce_start"]
    end = next(ms for e, _, ms in trace["events"] if e == "backward_end")
    result.extra = {"scaling_efficiency": efficiency, "ddp_overhead_world_1": t_ddp1 / t_plain - 1,
                    "loadavg_before": load_before, "steps": steps, "batch_per_rank": BATCH,
                    "cpu_count": os.cpu_count(), "trace": trace,
                    "buckets_started_before_backward_end": sum(ms < end for ms in starts), "buckets": len(starts)}
    result.targets = [Target("scaling efficiency, 2 gloo processes (fraction of 2x; info)", efficiency, None,
                             f"{os.cpu_count()} cores, load average {load_before} before the run").to_json()]
    rows = [[c["case"], f"{1e3 * c['step_s']:.1f} ms", f"{c['samples_per_s']:.0f}"] for c in result.cases]
    result.sections.append((f"DDP weak scaling ({BATCH} rows per process per step, MLP 256-{WIDTH}x3-10, float32)",
                            md_table(["run", "step (median)", "samples/s"], rows)
                            + f"\n\nScaling efficiency of 2 processes: {efficiency:.2f}."))
    result.sections.append((f"Bucket all-reduces against backward progress (bucket_cap_mb={TRACE_BUCKET_MB})",
                            timeline(trace)))
    ctx.log(f"distributed: 2-process scaling efficiency {efficiency:.2f}; "
            f"{result.extra['buckets_started_before_backward_end']} of {len(starts)} bucket all-reduces started "
            f"before backward ended")
    ctx.log(timeline(trace))
    return result
