"""fmlab.multitask: masked per-task losses match PyTorch; the joint gradient is the weighted sum of the two."""
import torch
import torch.nn.functional as F

from fmlab import multitask
from fmlab.nets import init_weights, num_params


def test_masked_losses_match_pytorch_on_the_labelled_rows():
    g = torch.Generator().manual_seed(0)
    logits_a, logit_b = torch.randn(8, 10, generator=g), torch.randn(8, generator=g)
    digits = torch.randint(0, 10, (8,), generator=g)
    b = torch.tensor([1, 0, multitask.MISSING, 1, multitask.MISSING, multitask.MISSING, 0, 1])
    a = digits.clone()
    a[5] = multitask.MISSING
    loss_a, loss_b = multitask.task_losses((logits_a, logit_b), torch.stack([a, b], 1))
    has_a, has_b = a >= 0, b >= 0
    assert torch.allclose(loss_a, F.cross_entropy(logits_a[has_a], a[has_a]))
    assert torch.allclose(loss_b, F.binary_cross_entropy_with_logits(logit_b[has_b], b[has_b].float()))


def test_a_batch_without_task_B_labels_adds_zero_not_nan():
    logit_b = torch.randn(4, requires_grad=True)
    y = torch.stack([torch.arange(4), torch.full((4,), multitask.MISSING)], 1)
    _, loss_b = multitask.task_losses((torch.randn(4, 10), logit_b), y)
    loss_b.backward()
    assert loss_b.item() == 0.0 and torch.all(logit_b.grad == 0)


def test_the_joint_gradient_is_the_weighted_sum_and_heads_stay_separate():
    model = init_weights(multitask.TwoHeadNet(), 0)
    X = torch.rand(16, 64)
    y = torch.stack([torch.arange(16) % 10, torch.arange(16) % 2], 1)

    def grads(weight_a: float, weight_b: float) -> dict[str, torch.Tensor]:
        model.zero_grad()
        loss_a, loss_b = multitask.task_losses(model(X), y)
        (weight_a * loss_a + weight_b * loss_b).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters()}

    only_a, only_b, joint = grads(1, 0), grads(0, 1), grads(1, 3.0)
    for name in joint:
        assert torch.allclose(joint[name], only_a[name] + 3.0 * only_b[name], atol=1e-6), name
    assert all(torch.all(g == 0) for n, g in only_b.items() if n.startswith("head_a"))  # L_B never reaches head A
    assert any(torch.any(g != 0) for n, g in only_b.items() if n.startswith("trunk"))  # but it does reach the trunk


def test_parameter_counts_shared_and_separate_by_numel():
    net = multitask.TwoHeadNet()
    single_a = torch.nn.Sequential(multitask.TwoHeadNet().trunk, torch.nn.Linear(64, 10))
    single_b = torch.nn.Sequential(multitask.TwoHeadNet().trunk, torch.nn.Linear(64, 1))
    assert multitask.separate_params(net) == num_params(single_a) + num_params(single_b)
    assert num_params(net) == multitask.separate_params(net) - num_params(net.trunk)  # sharing saves one trunk
