"""Data parallelism with real `torch.distributed`: two processes, the gloo backend, DistributedDataParallel.

Each rank holds a full replica, computes gradients on its half of every global batch, and DDP
all-reduces (averages) the gradients before the optimizer step, so both replicas stay identical
and equal to one process training on the whole batch. `all_reduce_by_hand` does the same
averaging in plain `dist.all_reduce` calls, to show what DDP does under the hood.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the folder holding fmlab/, for the rank processes


@dataclass(frozen=True)
class Job:
    """One data-parallel training run: what every rank needs to rebuild the same model and batches."""

    X: Tensor  # (N, D) all training inputs; each rank slices its shard of every batch
    y: Tensor  # (N,)
    state: dict  # the initial weights, the same on every rank
    hidden: int
    lr: float
    batch_size: int  # global batch, split across ranks (keep it and the data set even, so the halves are equal)
    epochs: int
    seed: int
    by_hand: bool  # average gradients with explicit all_reduce calls instead of DDP


def mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))


def build(job: Job) -> nn.Module:
    model = mlp(job.X.shape[1], job.hidden, int(job.y.max()) + 1)
    model.load_state_dict(job.state)
    return model


def batches(job: Job) -> list[Tensor]:
    """The global batches' indices in `fmlab.fit.fit`'s order (a seeded permutation per epoch): steps × (≤ batch_size,)."""
    g = torch.Generator().manual_seed(job.seed)
    out: list[Tensor] = []
    for _ in range(job.epochs):
        order = torch.randperm(len(job.X), generator=g)
        out += list(order.split(job.batch_size))
    return out


def all_reduce_by_hand(model: nn.Module, world: int) -> None:
    """Average every gradient over the ranks: sum with all_reduce, divide by the world size (what DDP does)."""
    import torch.distributed as dist

    for p in model.parameters():
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        p.grad /= world


def rank_main(folder: Path) -> None:
    """One rank's training loop, started the way torchrun starts it (RANK, WORLD_SIZE, MASTER_ADDR/PORT in the env).

    Rank 0 writes the global losses, the final weights and the timings to folder/result.pt.
    """
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    torch.set_num_threads(1)
    dist.init_process_group("gloo")  # env:// reads the rendezvous from the environment
    rank, world = dist.get_rank(), dist.get_world_size()
    job: Job = torch.load(folder / "job.pt", weights_only=False)
    model = build(job)
    net = model if job.by_hand else DDP(model)  # DDP broadcasts rank 0's weights, then all-reduces in backward
    opt = torch.optim.SGD(model.parameters(), lr=job.lr)
    losses, seconds, reduce_seconds = [], 0.0, 0.0
    for idx in batches(job):
        shard = idx.chunk(world)[rank]  # (batch_size / world,) this rank's half of the global batch
        start = time.perf_counter()
        loss = F.cross_entropy(net(job.X[shard]), job.y[shard])
        opt.zero_grad()
        loss.backward()  # under DDP the gradient all-reduce runs here, overlapped with backward
        if job.by_hand:
            reduce_start = time.perf_counter()
            all_reduce_by_hand(model, world)
            reduce_seconds += time.perf_counter() - reduce_start
        opt.step()
        seconds += time.perf_counter() - start
        global_loss = loss.detach().clone()
        dist.all_reduce(global_loss)  # the mean of the shard losses is the global batch's loss
        losses.append(global_loss.item() / world)
    if rank == 0:
        torch.save({"losses": losses, "state": model.state_dict(), "step_ms": 1e3 * seconds / len(losses),
                    "reduce_ms": 1e3 * reduce_seconds / len(losses)}, folder / "result.pt")
    dist.barrier()
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_all(procs: list[subprocess.Popen], timeout: float) -> int | None:
    """Wait until every rank exits; returns None when all succeeded, else the rank that failed first.

    A rank that dies leaves the others blocked in an all-reduce, so the first failure ends the wait at once.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        codes = [p.poll() for p in procs]
        failed = next((rank for rank, code in enumerate(codes) if code not in (None, 0)), None)
        if failed is not None or all(code == 0 for code in codes):
            return failed
        time.sleep(0.05)
    raise TimeoutError(f"data-parallel ranks still running after {timeout:.0f} s")


def data_parallel(job: Job, world: int = 2, timeout: float = 120.0) -> dict:
    """Train `job` on `world` processes launched like torchrun (gloo); returns rank 0's losses, weights, timings."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        torch.save(job, folder / "job.pt")
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()),
               "WORLD_SIZE": str(world), "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))}
        logs = [folder / f"rank{r}.log" for r in range(world)]
        streams = [log.open("w") for log in logs]
        procs = [subprocess.Popen([sys.executable, "-m", "fmlab.parallel", tmp], env={**env, "RANK": str(r)},
                                  stdout=subprocess.DEVNULL, stderr=streams[r]) for r in range(world)]
        try:
            failed = wait_all(procs, timeout)
        finally:
            for p, stream in zip(procs, streams):
                p.kill()
                p.wait()
                stream.close()
        if failed is not None:
            raise RuntimeError(f"rank {failed} failed: " + logs[failed].read_text()[-800:])
        return torch.load(folder / "result.pt", weights_only=False)


def max_param_diff(a: dict, b: dict) -> float:
    """Largest |difference| between two state dicts' entries."""
    return max((a[k] - b[k]).abs().max().item() for k in a)


def matmul_gflops(size: int, threads: int, repeats: int) -> float:
    """GFLOP/s of a (size × size) @ (size × size) fp32 matmul with `threads` intra-op threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        A, B = torch.randn(size, size), torch.randn(size, size)
        A @ B  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            A @ B
        seconds = (time.perf_counter() - start) / repeats
    finally:
        torch.set_num_threads(previous)
    return 2 * size ** 3 / seconds / 1e9


if __name__ == "__main__":
    rank_main(Path(sys.argv[1]))
