"""multi-task: the scarce-label task gains from a shared trunk; a huge loss weight wrecks the other task."""
import plotly.graph_objects as go
import pytest
import torch
import torch.nn.functional as F

from fmlab import plots
from fmlab.demos import multi_task
from fmlab.nets import init_weights, num_params
from fmlab.text import T


@pytest.fixture(scope="module")
def result():
    cfg = multi_task.Config()
    assert cfg.weight_b == 1.0 and max(cfg.sweep) >= 100 and cfg.labels_b <= 50
    return multi_task.run(cfg)


@pytest.fixture(scope="module")
def metrics(result):
    return result.metrics


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    shows_claim(multi_task.CLAIM, result)


def test_the_claim_needs_scarce_labels_a_small_shared_weight_and_a_huge_one_in_the_sweep():
    m = {"labels_b": 20.0, "weight_shared": 1.0, "weight_max": 100.0, "gain_b": 0.07, "drop_a_max_weight": 0.7}
    assert multi_task.CLAIM.check(m) is True
    assert multi_task.CLAIM.check({**m, "gain_b": 0.01}) is False  # B did not gain
    assert multi_task.CLAIM.check({**m, "drop_a_max_weight": 0.05}) is False  # A survived the huge weight
    assert multi_task.CLAIM.check({**m, "labels_b": 500.0}) is None  # B is not scarce
    assert multi_task.CLAIM.check({**m, "weight_shared": 10.0}) is None  # the comparison itself uses a big λ
    assert multi_task.CLAIM.check({**m, "weight_max": 10.0}) is None  # no huge λ in the sweep


def test_the_scarce_label_task_gains_from_sharing(metrics):
    assert metrics["gain_b"] > 0.03
    assert metrics["acc_b_shared"] > metrics["acc_b_alone"] + 0.03
    assert metrics["acc_a_shared"] > metrics["acc_a_alone"] - 0.03  # A barely pays for it
    assert metrics["acc_a_alone"] > 0.9


def test_a_huge_weight_on_L_B_wrecks_task_A(metrics):
    assert metrics["drop_a_max_weight"] > 0.3
    assert metrics["acc_a_lambda_100"] < metrics["acc_a_lambda_1"] - 0.3
    assert metrics["acc_b_lambda_100"] < metrics["acc_b_shared"] - 0.02  # and B does not even gain from it


def test_masked_losses_match_pytorch_on_the_labelled_rows():
    g = torch.Generator().manual_seed(0)
    logits_a, logit_b = torch.randn(8, 10, generator=g), torch.randn(8, generator=g)
    digits = torch.randint(0, 10, (8,), generator=g)
    b = torch.tensor([1, 0, multi_task.MISSING, 1, multi_task.MISSING, multi_task.MISSING, 0, 1])
    a = digits.clone()
    a[5] = multi_task.MISSING
    loss_a, loss_b = multi_task.task_losses((logits_a, logit_b), torch.stack([a, b], 1))
    has_a, has_b = a >= 0, b >= 0
    assert torch.allclose(loss_a, F.cross_entropy(logits_a[has_a], a[has_a]))
    assert torch.allclose(loss_b, F.binary_cross_entropy_with_logits(logit_b[has_b], b[has_b].float()))


def test_a_batch_without_task_B_labels_adds_zero_not_nan():
    logit_b = torch.randn(4, requires_grad=True)
    y = torch.stack([torch.arange(4), torch.full((4,), multi_task.MISSING)], 1)
    _, loss_b = multi_task.task_losses((torch.randn(4, 10), logit_b), y)
    loss_b.backward()
    assert loss_b.item() == 0.0 and torch.all(logit_b.grad == 0)


def test_the_joint_gradient_is_the_weighted_sum_and_heads_stay_separate():
    model = init_weights(multi_task.TwoHeadNet(), 0)
    X = torch.rand(16, 64)
    y = torch.stack([torch.arange(16) % 10, torch.arange(16) % 2], 1)

    def grads(weight_a: float, weight_b: float) -> dict[str, torch.Tensor]:
        model.zero_grad()
        loss_a, loss_b = multi_task.task_losses(model(X), y)
        (weight_a * loss_a + weight_b * loss_b).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters()}

    only_a, only_b, joint = grads(1, 0), grads(0, 1), grads(1, 3.0)
    for name in joint:
        assert torch.allclose(joint[name], only_a[name] + 3.0 * only_b[name], atol=1e-6), name
    assert all(torch.all(g == 0) for n, g in only_b.items() if n.startswith("head_a"))  # L_B never reaches head A
    assert any(torch.any(g != 0) for n, g in only_b.items() if n.startswith("trunk"))  # but it does reach the trunk


def test_parameter_counts_by_hand_and_by_numel(metrics):
    trunk = (64 * 128 + 128) + (128 * 128 + 128) + (128 * 64 + 64)
    heads = (64 * 10 + 10) + (64 + 1)
    assert metrics["params_shared"] == trunk + heads == num_params(multi_task.TwoHeadNet())
    single_a = torch.nn.Sequential(multi_task.TwoHeadNet().trunk, torch.nn.Linear(64, 10))
    single_b = torch.nn.Sequential(multi_task.TwoHeadNet().trunk, torch.nn.Linear(64, 1))
    assert metrics["params_separate"] == 2 * trunk + heads == num_params(single_a) + num_params(single_b)


def test_lines_xy_log_x_and_dashes():
    fig = plots.lines_xy({"a": ([1, 10, 100], [0.1, 0.2, 0.3]), "b": ([1, 100], [0.5, 0.5])}, T("x", "x"),
                         T("y", "y"), "en", log_x=True, dashes={"b": "dash"})
    assert isinstance(fig, go.Figure) and fig.layout.xaxis.type == "log"
    assert fig.data[0].line.dash == "solid" and fig.data[1].line.dash == "dash"
    plain = plots.lines_xy({"a": ([1, 2], [3, 4])}, T("x", "x"), T("y", "y"), "en")
    assert plain.layout.xaxis.type is None and plain.data[0].line.dash == "solid"  # defaults unchanged
