"""fmlab.compress: the by-hand global magnitude threshold is what prune.global_unstructured masks, structured
shrinking keeps the rows prune.ln_structured keeps and computes the same function on them, the mask stays
fixed while fine-tuning, and int8 with ONNX Runtime stays close to the fp32 model at a quarter of the size."""
import copy
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from fmlab import compress
from fmlab.latency import checkpoint_bytes
from fmlab.nets import MLP, init_weights


def mlp(width=32, seed=0):
    return init_weights(MLP(64, 10, width=width, depth=1), seed)


@pytest.mark.parametrize("sparsity", (0.0, 0.3, 0.9, 0.99))
def test_hand_threshold_equals_prune_global_unstructured(sparsity):
    model = mlp()
    by_hand = compress.magnitude_masks([w for m, _n in compress.prunable(model) for w in [m.weight]], sparsity)
    compress.global_prune(model, sparsity)
    masks = [m.weight_mask for m, _n in compress.prunable(model)]
    assert all(torch.equal(a, b) for a, b in zip(by_hand, masks))
    total = sum(m.numel() for m in masks)
    assert sum(int((m == 0).sum()) for m in masks) == round(sparsity * total)  # counted over all layers together


def test_hand_threshold_on_a_tiny_case():
    a, b = torch.tensor([[0.1, -0.5], [2.0, 0.05]]), torch.tensor([[-0.3, 1.0, 0.2]])
    masks = compress.magnitude_masks([a, b], 3 / 7)  # the 3 smallest |w| of 7: 0.05, 0.1, 0.2
    assert masks[0].tolist() == [[0, 1], [1, 0]] and masks[1].tolist() == [[1, 1, 0]]


def test_global_pruning_is_not_uniform_per_layer():
    model = compress.global_prune(mlp(width=128), 0.9)
    kept = [float(m.weight_mask.mean()) for m, _n in compress.prunable(model)]
    assert kept[0] > kept[1]  # the stem's fan-in is 64, the hidden layer's 128: larger initial weights survive


def test_mask_stays_fixed_while_fine_tuning_and_remove_makes_it_permanent():
    model = compress.global_prune(mlp(), 0.8)
    masks = [m.weight_mask.clone() for m, _n in compress.prunable(model)]
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    X, y = torch.rand(64, 64), torch.randint(0, 10, (64,))
    for _ in range(5):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
    compress.make_permanent(model)
    for (m, _n), mask in zip(compress.prunable(model), masks):
        assert not hasattr(m, "weight_orig") and not hasattr(m, "weight_mask")
        assert torch.all(m.weight[mask == 0] == 0) and torch.all(m.weight[mask == 1] != 0)
    dense = mlp()
    assert compress.nonzeros(model) < 0.3 * compress.nonzeros(dense)
    assert abs(checkpoint_bytes(model) - checkpoint_bytes(dense)) < 0.01 * checkpoint_bytes(dense)  # zeros cost bytes


def test_strongest_neurons_are_the_rows_ln_structured_keeps():
    layer = nn.Linear(16, 40)
    ours = compress.strongest_neurons(layer, 10)
    prune.ln_structured(layer, "weight", amount=30, n=2, dim=0)  # remove 30 rows by L2 norm
    kept = layer.weight_mask.any(dim=1).nonzero().flatten()
    assert torch.equal(ours, kept)


def test_shrink_computes_the_same_function_as_masking_the_dropped_neurons():
    model, keep = mlp(width=40), 8
    small = compress.shrink(model, keep)
    assert [tuple(l.weight.shape) for l in small.linears()] == [(keep, 64), (keep, keep), (10, keep)]
    masked = copy.deepcopy(model)  # the same net with the dropped neurons' outputs forced to zero
    with torch.no_grad():
        for layer in masked.linears()[:-1]:
            drop = torch.ones(layer.out_features, dtype=torch.bool)
            drop[compress.strongest_neurons(layer, keep)] = False
            layer.weight[drop] = 0
            layer.bias[drop] = 0
    X = torch.rand(16, 64)
    torch.testing.assert_close(small(X), masked(X), atol=1e-5, rtol=1e-5)


def test_paired_ratio():
    a = np.array([[2.0, 9.0], [4.0, 4.5], [20.0, 3.0]])  # (rounds, block): a burst hit some calls
    b = np.array([[1.0, 1.1], [2.0, 2.0], [1.5, 1.5]])
    assert compress.paired_ratio(a, b) == 2.0  # per-round fastest: 2/1, 4/2, 3/1.5


def test_int8_with_onnx_runtime_is_close_and_a_quarter_of_the_size():
    model = mlp(width=128).eval()
    X = torch.rand(32, 64)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = compress.export_onnx(model, Path(tmp) / "fp32.onnx", 64)
        int8 = compress.onnx_int8(fp32, Path(tmp) / "int8.onnx")
        with torch.inference_mode():
            reference = model(X)
        torch.testing.assert_close(compress.OnnxModel(fp32)(X), reference, atol=1e-5, rtol=1e-5)
        quantized = compress.OnnxModel(int8)(X)
        assert (quantized - reference).abs().max() < 0.05 * reference.abs().max()
        assert fp32.stat().st_size > 3 * int8.stat().st_size
        assert compress.OnnxModel(int8)(X[:1]).shape == (1, 10)  # the batch dimension is dynamic
    torch_int8 = compress.torch_int8(model)
    assert (torch_int8(X) - reference).abs().max() < 0.05 * reference.abs().max()
    assert checkpoint_bytes(model) > 3 * checkpoint_bytes(torch_int8)
