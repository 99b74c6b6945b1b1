"""Latency and size, measured the way serving teams do: warm up first, repeat, report percentiles.

Shared by the compression, export and serving demos, so "p99" and "size on disk" mean the
same thing on every page.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn


def timings_ms(call: Callable[[], object], repeats: int = 50, warmup: int = 5) -> np.ndarray:
    """Wall-clock milliseconds of `repeats` calls of `call()`, after `warmup` untimed ones: (repeats,)."""
    for _ in range(warmup):
        call()
    out = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        call()
        out[i] = (time.perf_counter() - start) * 1e3
    return out


@dataclass(frozen=True)
class Latency:
    """Percentiles of a set of latency samples, in milliseconds."""

    p50: float
    p99: float
    mean: float

    @classmethod
    def of(cls, samples_ms: np.ndarray) -> Latency:
        p50, p99 = np.percentile(samples_ms, [50, 99])
        return cls(float(p50), float(p99), float(np.mean(samples_ms)))


def measure(model: nn.Module, X: torch.Tensor, repeats: int = 50, warmup: int = 5) -> Latency:
    """Latency of one forward pass of `model` on the batch `X` under inference_mode."""
    def call() -> None:
        with torch.inference_mode():
            model(X)

    return Latency.of(timings_ms(call, repeats, warmup))


def checkpoint_bytes(model: nn.Module) -> int:
    """Bytes of `torch.save(model.state_dict())`: what the checkpoint costs on disk."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes
