"""Dynamic batching, for real: an asyncio server that answers requests in batches of those waiting.

`await batcher.predict(x)` queues one request and waits for its answer. The batcher takes the oldest
waiting request, lets more join until it holds `max_batch` or the oldest has waited `max_wait_ms`
(Triton's `max_queue_delay_microseconds`, TorchServe's `max_batch_delay`), runs ONE forward pass under
`torch.inference_mode()` and gives each request its own row. `max_batch=1` is one-at-a-time serving.

One event loop in one server thread, as Ray Serve's `@serve.batch` does: the client coroutine, the
queue and the model share it, so no request waits for threads to hand the GIL back and forth (on a
busy machine every hand-off can cost a whole time slice: measured here, 5-10× slower serving).
`serve_stream` replays a timed request stream in real time; `poisson_arrivals` draws one.
"""
from __future__ import annotations

import asyncio
import io
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, TypeVar

import numpy as np
import torch
from torch import Tensor, nn

from .latency import Latency, measure, timings_ms

R = TypeVar("R")


@dataclass
class Request:
    """One input row, when it arrived and when its answer was ready (perf_counter seconds)."""

    x: Tensor  # (D,)
    arrived: float
    future: asyncio.Future
    done: float = float("nan")
    batch_size: int = 0  # how many requests shared its forward pass

    @property
    def latency_ms(self) -> float:
        return (self.done - self.arrived) * 1e3


class Batcher:
    """Serves `model` in dynamic batches inside the running event loop; `async with` starts and stops it."""

    def __init__(self, model: nn.Module, max_batch: int, max_wait_ms: float):
        if max_batch < 1 or max_wait_ms < 0:
            raise ValueError("max_batch must be >= 1 and max_wait_ms >= 0")
        self.model, self.max_batch, self.max_wait = model.eval(), max_batch, max_wait_ms / 1e3
        self.waiting: deque[Request] = deque()
        self.batch_sizes: list[int] = []  # one entry per forward pass
        self.closing = False
        self.wake = asyncio.Event()  # set when the first request arrives, a batch fills, or on close
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Batcher:
        self.task = asyncio.get_running_loop().create_task(self.serve())
        return self

    async def __aexit__(self, *exc) -> None:
        """Answer everything still waiting, then stop."""
        self.closing = True
        self.wake.set()
        await self.task

    def submit(self, x: Tensor, arrived: float | None = None) -> Request:
        """Queue one input row (D,) that arrived at `arrived` (default: now); its future gets the output row."""
        request = Request(x, time.perf_counter() if arrived is None else arrived,
                          asyncio.get_running_loop().create_future())
        self.waiting.append(request)
        if len(self.waiting) in (1, self.max_batch):
            self.wake.set()
        return request

    async def predict(self, x: Tensor) -> Tensor:
        """The model's output row (K,) for the input row x (D,), computed in some batch."""
        return await self.submit(x).future

    async def collect(self) -> list[Request] | None:
        """The next batch: the oldest request plus those that join before it is full or max_wait is up."""
        while not self.waiting:
            if self.closing:
                return None
            self.wake.clear()
            await self.wake.wait()
        deadline = self.waiting[0].arrived + self.max_wait
        while len(self.waiting) < self.max_batch and not self.closing and (left := deadline - time.perf_counter()) > 0:
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), left)
            except TimeoutError:
                break
        return [self.waiting.popleft() for _ in range(min(self.max_batch, len(self.waiting)))]

    async def serve(self) -> None:
        """Collect a batch, one forward pass, answer every request; until closed and empty."""
        while (batch := await self.collect()) is not None:
            with torch.inference_mode():
                out = self.model(torch.stack([r.x for r in batch]))  # (B, D) -> (B, K)
            done = time.perf_counter()
            self.batch_sizes.append(len(batch))
            for r, row in zip(batch, out):
                r.done, r.batch_size = done, len(batch)
                r.future.set_result(row)
            await asyncio.sleep(0)  # let the client hand in what arrived during the forward pass


def in_thread(call: Callable[[], R], threads: int = 1) -> R:
    """`call()` run in a new thread with `threads` intra-op threads (a serving replica's setting); its result.

    Set in that thread: a new thread starts with OpenMP's default team (every core), and on a busy machine
    a matmul that waits for a second, descheduled core takes 10-50× longer.
    """
    out = []

    def body() -> None:
        torch.set_num_threads(threads)
        out.append(call())

    worker = threading.Thread(target=body, name="fmlab-server")
    worker.start()
    worker.join()
    return out[0]


def cold_start(model: nn.Module, build: Callable[[], nn.Module], x: Tensor, calls: int = 10) -> tuple[np.ndarray, Latency]:
    """A new replica's start: `build()` loaded with `model`'s checkpoint; its first `calls` calls (ms), then warm."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    fresh = build()
    fresh.load_state_dict(torch.load(io.BytesIO(buffer.getvalue())))
    fresh.eval()

    def call() -> None:
        with torch.inference_mode():
            fresh(x)

    return timings_ms(call, repeats=calls, warmup=0), measure(fresh, x, repeats=50, warmup=5)


def poisson_arrivals(qps: float, seconds: float, seed: int) -> np.ndarray:
    """Arrival times (s from the start) of a Poisson stream of rate `qps` over `seconds`: (N,), N ≥ 2."""
    gaps = np.random.default_rng(seed).exponential(1.0 / qps, size=int(qps * seconds * 1.5) + 10)
    times = np.cumsum(gaps)
    return times[:max(2, int((times < seconds).sum()))]


async def replay(batcher: Batcher, X: Tensor, arrivals: np.ndarray, sent: list[Request]) -> None:
    """Hand in X[i % len(X)] at arrivals[i] seconds from now, in real time, appending each request to `sent`.

    A request that falls due while the loop is busy is handed in late but keeps its due time as its arrival:
    it was waiting at the door, and that wait counts in its latency.
    """
    start = time.perf_counter()
    for i, t in enumerate(arrivals):
        wait = start + t - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        sent.append(batcher.submit(X[i % len(X)], arrived=start + t))
    if sent:
        await sent[-1].future  # first in, first out: the last answer comes last


@dataclass
class Served:
    """What one stream measured: per-request latency (arrival -> answer), rates, batch sizes."""

    requests: list[Request]
    batch_sizes: list[int]

    @property
    def latencies_ms(self) -> np.ndarray:  # (N,)
        return np.array([r.latency_ms for r in self.requests])

    @property
    def offered_qps(self) -> float:
        """Requests per second that arrived."""
        return (len(self.requests) - 1) / (self.requests[-1].arrived - self.requests[0].arrived)

    @property
    def served_qps(self) -> float:
        """Requests answered per second, from the first arrival to the last answer."""
        return len(self.requests) / (max(r.done for r in self.requests) - self.requests[0].arrived)


def serve_stream(model: nn.Module, X: Tensor, arrivals: np.ndarray, max_batch: int, max_wait_ms: float,
                 progress: Callable[[float], None] = lambda share: None, every_s: float = 0.2) -> Served:
    """Replay `arrivals` (s) against a fresh Batcher in a server thread; progress(share answered) meanwhile."""
    sent: list[Request] = []
    batch_sizes: list[int] = []

    async def main() -> None:
        async with Batcher(model, max_batch, max_wait_ms) as batcher:
            await replay(batcher, X, arrivals, sent)
        batch_sizes.extend(batcher.batch_sizes)

    def body() -> None:
        torch.set_num_threads(1)  # see in_thread
        asyncio.run(main())

    server = threading.Thread(target=body, name="fmlab-server")
    server.start()
    while server.is_alive():
        server.join(timeout=every_s)
        progress(sum(r.done == r.done for r in list(sent)) / len(arrivals))  # done is NaN until answered
    return Served(sent, batch_sizes)


def warm_shapes(model: nn.Module, X: Tensor, max_batch: int) -> None:
    """One forward pass at every batch size the batcher can form, 1..max_batch, in a fresh thread.

    The first call at a new input shape is slow (kernels and buffers are set up for it); a server that
    warms up only at batch 1 meets those first calls in the middle of live traffic.
    """
    def body() -> None:
        with torch.inference_mode():
            for b in range(1, max_batch + 1):
                model(X[:b])

    in_thread(body)


def saturated_throughput(model: nn.Module, X: Tensor, max_batch: int, num: int) -> float:
    """Requests per second the batcher answers when `num` requests are all waiting at once (its capacity)."""
    async def main() -> float:
        async with Batcher(model, max_batch, max_wait_ms=0.0) as batcher:
            requests = [batcher.submit(X[i % len(X)]) for i in range(num)]
            await requests[-1].future
        return num / (requests[-1].done - requests[0].arrived)

    return in_thread(lambda: asyncio.run(main()))
