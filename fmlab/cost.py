"""What a model costs and which models are worth it: measured latency, the Pareto front, the cheapest good one."""
from __future__ import annotations

import time

import torch
from torch import Tensor, nn


def pareto_front(costs: list[float], scores: list[float]) -> list[bool]:
    """Which points no other point beats: nothing is at most as costly AND at least as good, one strictly."""
    front, best_cheaper = [False] * len(costs), float("-inf")
    for cost in sorted(set(costs)):  # cheapest first
        group = [i for i, c in enumerate(costs) if c == cost]
        top = max(scores[i] for i in group)
        if top > best_cheaper:  # better than everything cheaper; equal best points of one cost all count
            for i in group:
                front[i] = scores[i] == top
            best_cheaper = top
    return front


def cheapest_within(costs: list[float], scores: list[float], tolerance: float) -> int:
    """Index of the cheapest point scoring within `tolerance` of the best; among equal costs, the better score.

    It is always on the Pareto front: anything cheaper scores lower, by more than `tolerance`.
    """
    best = max(scores)
    return min((i for i, s in enumerate(scores) if s >= best - tolerance), key=lambda i: (costs[i], -scores[i]))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def latency_ms(models: list[nn.Module], X: Tensor, rounds: int = 20) -> list[float]:
    """Best-of-`rounds` wall time of one forward pass on X for each model, in milliseconds.

    Every round times each model once in turn, so a burst of load on a shared machine hits all
    models alike, and the minimum drops the bursts.
    """
    device = next(models[0].parameters()).device
    X = X.to(device)
    best = [float("inf")] * len(models)
    for model in models:
        model.eval()(X)  # warm-up
    for _round in range(rounds):
        for i, model in enumerate(models):
            synchronize(device)
            start = time.perf_counter()
            model(X)
            synchronize(device)
            best[i] = min(best[i], (time.perf_counter() - start) * 1e3)
    return best
