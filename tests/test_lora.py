"""fmlab.lora: the layer starts as the frozen one, costs r·(in + out) parameters, has the gradients and merged
weight of y = W x + b + (α/r)·B A x by hand, and the memory it saves is measured from the optimizer."""
import copy
import math

import pytest
import torch
from torch import nn

from fmlab import lora
from fmlab.nets import MLP, init_weights


def layer(r=4, alpha=8.0, seed=0):
    base = nn.Linear(64, 256)
    return base, lora.LoRALinear(copy.deepcopy(base), r, alpha, torch.Generator().manual_seed(seed))


def randomise_B(layer: lora.LoRALinear) -> None:
    with torch.no_grad():
        layer.B.normal_(generator=torch.Generator().manual_seed(1))


def test_lora_layer_equals_the_frozen_layer_at_init():
    base, adapted = layer()
    X = torch.rand(32, 64)
    assert torch.equal(adapted(X), base(X))  # B = 0: exactly the pretrained function
    assert not adapted.base.weight.requires_grad and not adapted.base.bias.requires_grad
    assert adapted.A.requires_grad and adapted.B.requires_grad and adapted.scale == 8.0 / 4


@pytest.mark.parametrize("r", (1, 2, 4, 8, 16, 32))
def test_trainable_parameters_are_r_times_in_plus_out(r):
    _base, adapted = layer(r)
    assert [p.shape for p in lora.trainable(adapted)] == [(r, 64), (256, r)]
    assert sum(p.numel() for p in lora.trainable(adapted)) == r * (64 + 256)


def test_merged_weight_gives_the_same_outputs_as_by_hand():
    _base, adapted = layer()
    randomise_B(adapted)
    X = torch.rand(32, 64)
    merged = adapted.merged()
    assert isinstance(merged, nn.Linear) and not torch.equal(merged.weight, adapted.base.weight)
    expected = X @ (adapted.base.weight + adapted.scale * adapted.B @ adapted.A).T + adapted.base.bias  # by hand
    assert torch.allclose(merged(X), adapted(X), atol=1e-5) and torch.allclose(adapted(X), expected, atol=1e-5)


def test_gradients_of_A_and_B_match_the_hand_derivation():
    _base, adapted = layer(r=3, alpha=6.0)
    randomise_B(adapted)
    X, G = torch.rand(16, 64), torch.randn(16, 256)  # G = ∂loss/∂y for loss = Σ G ⊙ y
    (adapted(X) * G).sum().backward()
    s, A, B = adapted.scale, adapted.A.detach(), adapted.B.detach()
    assert torch.allclose(adapted.B.grad, s * G.T @ (X @ A.T), atol=1e-4)  # ∂/∂B = s·Gᵀ (X Aᵀ): (out, r)
    assert torch.allclose(adapted.A.grad, s * (G @ B).T @ X, atol=1e-4)  # ∂/∂A = s·(G B)ᵀ X: (r, in)
    assert adapted.base.weight.grad is None  # frozen: no gradient is even stored


def test_add_lora_wraps_the_named_layers_in_order():
    model = init_weights(MLP(64, 10, width=32, depth=1), 0)
    X = torch.rand(8, 64)
    before = model(X)
    g = torch.Generator().manual_seed(3)
    lora.add_lora(model, ("stem", "blocks.0.linear"), 2, 4.0, g)
    assert isinstance(model.stem, lora.LoRALinear) and isinstance(model.blocks[0].linear, lora.LoRALinear)
    assert isinstance(model.head, nn.Linear) and torch.equal(model(X), before)
    g = torch.Generator().manual_seed(3)  # the stem's A is drawn first, then the block's
    assert torch.equal(model.stem.A, torch.randn(2, 64, generator=g) / 8)
    assert torch.equal(model.blocks[0].linear.A, torch.randn(2, 32, generator=g) / math.sqrt(32))


def test_training_bytes_are_a_gradient_and_two_adam_moments_per_trainable_parameter():
    model = init_weights(MLP(64, 10, width=32, depth=1), 0).requires_grad_(False)
    lora.add_lora(model, ("stem",), 4, 8.0, torch.Generator().manual_seed(0))
    params = lora.trainable(model)
    opt = torch.optim.Adam(params, lr=1e-3)
    assert lora.state_bytes(opt) == 0 and lora.training_bytes(params, opt) == 0  # nothing allocated yet
    model(torch.rand(8, 64)).sum().backward()
    opt.step()
    num = 4 * (64 + 32)
    assert sum(p.numel() for p in params) == num
    assert lora.state_bytes(opt) == 2 * 4 * num  # exp_avg and exp_avg_sq in fp32
    assert lora.training_bytes(params, opt) == 3 * 4 * num
