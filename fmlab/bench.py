"""`python -m fmlab bench`: each demo's default run (wall time, peak RSS, key metric), and the
training loop's overhead against a plain hand-written PyTorch loop doing the same steps.

`python -m fmlab bench --seeds 5`: on how many of seeds 0-4 each demo's default run shows its claim.

A benchmark, not a test: it prints a table, optionally writes JSON, and exits 1 when a target is missed.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import torch
import torch.nn.functional as F

from . import data, registry
from .fit import configure_threads, evaluate, fit
from .nets import MLP, init_weights
from .params import make

MAX_SECONDS = 10.0  # every default run, on a 2-core CPU
MAX_OVERHEAD = 0.10  # fit vs the plain loop
MIN_SEED_SHARE = 0.8  # a lesson holds on at least 4 of seeds 0-4: robust, not lucky
MAX_SMOKE_SECONDS = 2.0  # each smoke run (what the test suite runs), once the process has imported torch's lazy parts


def run_default(demo_id: str) -> dict[str, Any]:
    """One default run in a fresh process (so peak RSS is the demo's own)."""
    out = subprocess.run([sys.executable, "-m", "fmlab", "run", demo_id, "--json"], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def smoke_seconds(demo_ids: list[str]) -> dict[str, float]:
    """Seconds of each demo's smoke run in this process, timed on a second run so one-time imports don't count."""
    out = {}
    for demo_id in demo_ids:
        demo = registry.get(demo_id)
        cfg = registry.smoke_config(demo)
        demo.run(cfg)  # warm-up: the first optimizer/sklearn call imports torch._dynamo, sklearn, ...
        start = time.perf_counter()
        demo.run(cfg)
        out[demo_id] = time.perf_counter() - start
    return out


def plain_loop(model, opt, X, y, X_val, y_val, epochs: int, batch_size: int, seed: int) -> list[float]:
    """The loop everyone writes by hand: same batches, same per-epoch evaluation, no events."""
    g = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=g)
        for i in range(math.ceil(len(X) / batch_size)):
            idx = order[i * batch_size:(i + 1) * batch_size]
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        evaluate(model, X_val, y_val)
    return losses


def loop_overhead(repeats: int, epochs: int = 10, batch_size: int = 32) -> dict[str, float]:
    """Median seconds of `fit` and of the plain loop on the same MLP/digits work, alternating runs."""
    split = data.digits(seed=0)
    times: dict[str, list[float]] = {"fit": [], "plain": []}
    for _ in range(repeats):
        for name in ("plain", "fit"):
            model = init_weights(MLP(64, 10, width=64, depth=2), 0)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)
            start = time.perf_counter()
            if name == "fit":
                fit(model, opt, (split.X_train, split.y_train), epochs=epochs, batch_size=batch_size,
                    val=(split.X_val, split.y_val), seed=0, device=torch.device("cpu"))
            else:
                plain_loop(model, opt, split.X_train, split.y_train, split.X_val, split.y_val, epochs, batch_size, 0)
            times[name].append(time.perf_counter() - start)
    fit_s, plain_s = statistics.median(times["fit"]), statistics.median(times["plain"])
    return {"fit_seconds": fit_s, "plain_seconds": plain_s, "overhead": fit_s / plain_s - 1}


def bench(demo_ids: list[str], json_path: str | None, overhead_repeats: int) -> int:
    rows = []
    smoke = smoke_seconds(demo_ids)
    print(f"{'demo':20s} {'seconds':>8s} {'smoke s':>8s} {'peak RSS MB':>12s}  key metric", flush=True)
    for demo_id in demo_ids:
        demo = registry.get(demo_id)
        out = run_default(demo_id)
        key = out["metrics"].get(demo.key_metric)
        rows.append({"demo": demo_id, "seconds": out["seconds"], "smoke_seconds": smoke[demo_id],
                     "peak_rss_mb": out["peak_rss_mb"], "key_metric": demo.key_metric, "value": key})
        print(f"{demo_id:20s} {out['seconds']:8.2f} {smoke[demo_id]:8.2f} {out['peak_rss_mb']:12.1f}  "
              f"{demo.key_metric} = {key:.4g}", flush=True)
    overhead = loop_overhead(overhead_repeats)
    print(f"\ntraining loop: fit {overhead['fit_seconds']:.3f} s vs plain loop {overhead['plain_seconds']:.3f} s "
          f"-> overhead {overhead['overhead']:+.1%} (target <= {MAX_OVERHEAD:.0%})")
    seconds = [r["seconds"] for r in rows]
    print(f"default runs: max {max(seconds):.2f} s, median {statistics.median(seconds):.2f} s "
          f"(target <= {MAX_SECONDS:.0f} s each)")
    print(f"smoke runs: max {max(smoke.values()):.2f} s (target <= {MAX_SMOKE_SECONDS:.0f} s each)")
    if json_path:
        with open(json_path, "w") as fh:
            json.dump({"demos": rows, "loop": overhead, "torch_threads": torch.get_num_threads()}, fh, indent=2)
    ok = (max(seconds) <= MAX_SECONDS and overhead["overhead"] <= MAX_OVERHEAD
          and max(smoke.values()) <= MAX_SMOKE_SECONDS)
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


def claim_on_seed(demo_id: str, seed: int) -> bool | None:
    """Whether the demo's default run with this seed showed its claim (None: no claim, or not tested)."""
    configure_threads(1)
    demo = registry.get(demo_id)
    if demo.claim is None:
        return None
    cfg = make(demo.config, {"seed": seed})
    return demo.claim.check(demo.run(cfg).metrics)


def lesson_seeds(demo_ids: list[str], seeds: int, workers: int | None = None) -> int:
    """Print, per demo, on how many of seeds 0..seeds-1 its lesson showed; 1 when one falls short."""
    jobs = [(d, s) for d in demo_ids for s in range(seeds)]
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        shown = dict(zip(jobs, pool.map(claim_on_seed, *zip(*jobs))))
    print(f"{'demo':22s} {'shown':>6s}  per seed (+ shown, - not shown, ? no claim)", flush=True)
    short = []
    for demo_id in demo_ids:
        marks = [shown[(demo_id, s)] for s in range(seeds)]
        k = sum(m is True for m in marks)
        if k < MIN_SEED_SHARE * seeds:
            short.append(demo_id)
        print(f"{demo_id:22s} {k:>3d}/{seeds:<2d}  " + " ".join({True: "+", False: "-", None: "?"}[m] for m in marks))
    print(f"lessons shown on >= {MIN_SEED_SHARE:.0%} of seeds: {len(demo_ids) - len(short)}/{len(demo_ids)}"
          + (f"; short: {', '.join(short)}" if short else ""))
    return 1 if short else 0
