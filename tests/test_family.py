"""fmlab.family: one builder for every size; parameters counted by hand; sharing cuts parameters, not compute."""
import itertools

import pytest
import torch
from torch import nn

from fmlab import family
from fmlab.nets import num_params


@pytest.mark.parametrize("depth,width,share", list(itertools.product((1, 2, 4, 8), (8, 16, 128), (False, True))))
def test_parameter_count_by_hand_matches_numel(depth, width, share):
    model = family.make_model(depth, width, share)
    assert family.param_formula(depth, width, share) == sum(p.numel() for p in model.parameters())
    assert num_params(model) == family.param_formula(depth, width, share)


def test_other_input_and_output_sizes():
    model = family.Family(3, 16, in_dim=20, num_classes=4)
    assert model(torch.rand(5, 20)).shape == (5, 4)
    assert num_params(model) == family.param_formula(3, 16, in_dim=20, num_classes=4)


def test_sharing_one_block_cuts_parameters_but_not_compute():
    shared, unshared = family.make_model(4, 16, share=True), family.make_model(4, 16)
    assert num_params(shared) == num_params(family.make_model(1, 16)) < num_params(unshared)

    def linear_calls(model: nn.Module) -> int:
        calls = []
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        hooks = [m.register_forward_hook(lambda *a: calls.append(1)) for m in linears]
        model(torch.rand(3, 64))
        for h in hooks:
            h.remove()
        return len(calls)

    assert linear_calls(shared) == linear_calls(unshared) == 4 + 2  # stem, 4 block passes, head


def test_blocks_are_registered_so_the_optimizer_sees_them():
    model = family.make_model(3, 8)
    names = {n.split(".")[0] for n, _ in model.named_parameters()}
    assert names == {"stem", "blocks", "norm", "head"} and len(model.blocks) == 3


def test_a_block_is_x_plus_relu_of_w_layernorm_x():
    block = family.Block(4)
    x = torch.randn(2, 4)
    expected = x + torch.relu(block.linear(nn.functional.layer_norm(x, (4,))))
    assert torch.allclose(block(x), expected)


def test_the_same_seed_gives_the_same_weights():
    a, b = family.make_model(2, 8, seed=3), family.make_model(2, 8, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
