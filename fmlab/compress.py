"""Model compression, by hand and with the tools: magnitude pruning, structured shrinking, int8 with ONNX Runtime.

- Unstructured: `global_prune` is `torch.nn.utils.prune.global_unstructured` (L1) over every Linear weight;
  `magnitude_masks` writes the same global threshold out by hand (a test checks they agree).
- Structured: `shrink` keeps the hidden neurons with the largest incoming-weight norm and copies them into
  a smaller dense MLP (the rows `prune.ln_structured(n=2, dim=0)` would keep; a test checks that too).
- int8: `onnx_int8` exports to ONNX and runs ONNX Runtime's `quantize_dynamic`; `OnnxModel` runs a file.

onnx and onnxruntime are imported inside the functions that use them: declaring a demo must not load them.
"""
from __future__ import annotations

import copy
import random
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.utils import prune

from .latency import timings_ms
from .nets import MLP


def prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, "weight") for every Linear layer: what global pruning ranks together (biases stay)."""
    return [(m, "weight") for m in model.modules() if isinstance(m, nn.Linear)]


def magnitude_masks(weights: list[Tensor], sparsity: float) -> list[Tensor]:
    """By hand: zero the `sparsity` share of smallest |w| over all tensors together; masks shaped like each."""
    scores = torch.cat([w.detach().abs().flatten() for w in weights])  # (total,)
    k = round(sparsity * len(scores))  # how many weights to remove, counted over the whole network
    if k == 0:
        return [torch.ones_like(w) for w in weights]
    threshold = scores.kthvalue(k).values  # the k-th smallest magnitude: it and everything below go
    return [(w.detach().abs() > threshold).to(w.dtype) for w in weights]


def global_prune(model: nn.Module, sparsity: float) -> nn.Module:
    """torch's global L1 pruning in place: each weight becomes weight_orig * weight_mask (mask fixed)."""
    prune.global_unstructured(prunable(model), pruning_method=prune.L1Unstructured, amount=sparsity)
    return model


def make_permanent(model: nn.Module) -> nn.Module:
    """`prune.remove`: fold each mask into a plain dense weight full of zeros (no more weight_orig, mask)."""
    for module, name in prunable(model):
        if prune.is_pruned(module):
            prune.remove(module, name)
    return model


def nonzeros(model: nn.Module) -> int:
    """Non-zero entries in all parameters (after `make_permanent`, the pruned weights count as zeros)."""
    return sum(int(p.count_nonzero()) for p in model.parameters())


def strongest_neurons(layer: nn.Linear, keep: int) -> Tensor:
    """Indices (keep,), ascending, of the output neurons whose incoming weights (rows) have the largest L2 norm."""
    return layer.weight.detach().norm(dim=1).topk(keep).indices.sort().values


def shrink(model: MLP, keep: int) -> MLP:
    """Structured pruning: a new, smaller dense MLP of width `keep` holding the strongest neurons of each layer.

    Layer l keeps rows `idx_l` of its weight (its outputs) and columns `idx_{l-1}` (the inputs that survived).
    """
    layers = model.linears()  # stem, hidden..., head
    small = MLP(layers[0].in_features, layers[-1].out_features, width=keep, depth=len(layers) - 2)
    cols = torch.arange(layers[0].in_features)  # the stem sees every input pixel
    with torch.no_grad():
        for old, new in zip(layers, small.linears()):
            rows = strongest_neurons(old, keep) if old is not layers[-1] else torch.arange(old.out_features)
            new.weight.copy_(old.weight[rows][:, cols])  # (len(rows), len(cols))
            new.bias.copy_(old.bias[rows])
            cols = rows
    return small


def torch_int8(model: nn.Module) -> nn.Module:
    """torch.ao's dynamic quantization of the Linear layers (deprecated in favour of torchao, still shipped)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its deprecation notices, once per call
        return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear}, dtype=torch.qint8)


def export_onnx(model: nn.Module, path: Path, in_dim: int) -> Path:
    """The fp32 model as an ONNX file with a dynamic batch dimension.

    The TorchScript exporter (dynamo=False) takes milliseconds here; the dynamo exporter takes seconds.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "legacy exporter" notices
        torch.onnx.export(model.eval(), (torch.zeros(1, in_dim),), str(path), dynamo=False, input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    return path


def onnx_int8(fp32: Path, int8: Path) -> Path:
    """ONNX Runtime's dynamic quantization: int8 weights, activation scales computed per batch at run time."""
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(fp32))
    del graph.graph.value_info[:]  # stale shape annotations make quantize_dynamic's shape inference fail
    onnx.save(graph, str(fp32))
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its "consider pre-processing" advice, printed on every call, and only here
    try:
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
    return int8


class OnnxModel:
    """An ONNX file run by ONNX Runtime with torch's thread count: call it with X (B, in) to get logits (B, out)."""

    def __init__(self, path: Path):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()  # as many as torch gets: comparable timings
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, X: Tensor) -> Tensor:
        return torch.from_numpy(self.session.run(None, {"x": X.numpy()})[0])

    def eval(self) -> OnnxModel:  # what callers do to a torch model before timing it
        return self


def accuracy(model: Callable[[Tensor], Tensor], X: Tensor, y: Tensor) -> float:
    """Share of rows of X (N, in) whose arg-max output is the label y (N,); works for torch and ONNX models."""
    with torch.inference_mode():
        return (model(X).argmax(1) == y).float().mean().item()


def interleaved_timings(models: dict[str, Callable[[Tensor], object]], X: Tensor, rounds: int, block: int = 2,
                        warmup: int = 3, seed: int = 0, tick: Callable[[float], None] = lambda f: None
                        ) -> dict[str, np.ndarray]:
    """Milliseconds (rounds, block) per model on the batch X: `warmup` untimed calls each, then `rounds` rounds
    that visit the models in a shuffled order and time `block` calls each, so load on a shared machine hits
    all of them alike. `tick(fraction)` is called after each round.
    """
    def call(model):
        def once() -> None:
            with torch.inference_mode():
                model(X)
        return once

    calls = {name: call(model) for name, model in models.items()}
    for once in calls.values():
        timings_ms(once, repeats=1, warmup=warmup)
    order, samples, rng = list(models), {name: [] for name in models}, random.Random(seed)
    for r in range(rounds):
        rng.shuffle(order)
        for name in order:
            samples[name].append(timings_ms(calls[name], repeats=block, warmup=0))
        tick((r + 1) / rounds)
    return {name: np.stack(s) for name, s in samples.items()}


def paired_ratio(a: np.ndarray, b: np.ndarray) -> float:
    """How many times slower a is than b: the median over rounds of the ratio of their fastest calls in that
    round, from (rounds, block) timings each. Pairing within a round cancels slow drifts in the machine's load;
    the fastest of a block skips the calls a burst of load interrupted."""
    return float(np.median(a.min(axis=1) / b.min(axis=1)))
