"""fmlab.distill: the loss equals T² · Σ p_t (log p_t − log p_s) by hand, its gradient is T·(p_s − p_t)/B,
the T² factor keeps that gradient about the same size across T, and the classic wrong calls give wrong values."""
import math

import pytest
import torch
import torch.nn.functional as F

from fmlab import distill


def logits(seed: int, rows: int = 8, classes: int = 10, scale: float = 3.0) -> torch.Tensor:
    return scale * torch.randn(rows, classes, generator=torch.Generator().manual_seed(seed))


def test_a_two_class_case_by_hand():
    s = torch.tensor([[0.0, 0.0]])  # p_s = (1/2, 1/2)
    t = torch.tensor([[math.log(3.0), 0.0]])  # p_t = (3/4, 1/4)
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)  # 0.130812...
    assert distill.distill_loss(s, t, 1.0).item() == pytest.approx(kl, abs=1e-6)
    # at T = 2 the same probabilities need logits twice as far apart, and the loss is multiplied by T² = 4
    assert distill.distill_loss(2 * s, 2 * t, 2.0).item() == pytest.approx(4 * kl, abs=1e-6)


@pytest.mark.parametrize("T", (1.0, 2.0, 4.0, 10.0))
def test_kl_div_loss_equals_the_sum_by_hand(T):
    s, t = logits(0), logits(1)
    p_t, log_p_s = F.softmax(t / T, 1), F.log_softmax(s / T, 1)
    by_hand = T ** 2 * sum((p_t[i] * (p_t[i].log() - log_p_s[i])).sum() for i in range(len(s))) / len(s)
    assert distill.distill_loss(s, t, T).item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert distill.distill_loss_by_hand(s, t, T).item() == pytest.approx(by_hand.item(), rel=1e-5)


def test_the_loss_is_zero_only_when_the_student_matches_the_teacher():
    t = logits(1)
    assert distill.distill_loss(t + 5.0, t, 4.0).item() == pytest.approx(0.0, abs=1e-6)  # a shift: same softmax
    assert distill.distill_loss(logits(0), t, 4.0).item() > 0.1


@pytest.mark.parametrize("T", (1.0, 4.0))
def test_the_gradient_is_T_times_p_s_minus_p_t_over_the_batch(T):
    s, t = logits(0).requires_grad_(), logits(1)
    distill.distill_loss(s, t, T).backward()
    expected = T * (distill.soften(s.detach(), T) - distill.soften(t, T)) / len(t)  # (B, K)
    assert torch.allclose(s.grad, expected, atol=1e-6)


def test_the_T_squared_factor_keeps_the_gradient_about_the_same_size():
    s, t = logits(0), logits(1)
    temperatures = (2.0, 4.0, 8.0, 16.0)
    scaled = [distill.soft_gradient_norm(s, t, T) for T in temperatures]
    unscaled = [distill.soft_gradient_norm(s, t, T, squared_factor=False) for T in temperatures]
    assert max(scaled) / min(scaled) < 1.5  # within 50% from T = 2 to T = 16
    assert unscaled[-1] / unscaled[0] < 1 / 30  # without T²: about (2/16)² = 1/64
    for T, a, b in zip(temperatures, scaled, unscaled):
        assert a == pytest.approx(T ** 2 * b, rel=1e-5)


def test_the_classic_wrong_calls_give_wrong_values():
    s, t, T = logits(0), logits(1), 4.0
    right = distill.distill_loss(s, t, T).item()
    wrong = distill.mistakes(s, t, T)
    assert math.isnan(wrong["log_probs_as_target"])  # log p_t < 0 read as a probability
    assert math.isfinite(wrong["probs_as_input"]) and abs(wrong["probs_as_input"] - right) > 0.1 * right
    assert abs(wrong["swapped"] - right) > 1e-3  # KL is not symmetric
    assert wrong["mean_reduction"] == pytest.approx(right / 10, rel=1e-5)  # also divided by the 10 classes


def test_log_target_true_is_the_right_way_to_pass_log_probabilities():
    s, t, T = logits(0), logits(1), 4.0
    ok = T ** 2 * F.kl_div(F.log_softmax(s / T, 1), F.log_softmax(t / T, 1), reduction="batchmean", log_target=True)
    assert ok.item() == pytest.approx(distill.distill_loss(s, t, T).item(), rel=1e-5)


def test_pack_keeps_the_teacher_logits_and_marks_unlabelled_rows():
    t = logits(1, rows=4)
    packed = distill.pack(t)
    assert packed.shape == (4, 11) and torch.equal(packed[:, :10], t) and (packed[:, 10] == -1).all()
    assert distill.pack(t, torch.tensor([3, -1, 0, 9]))[:, 10].tolist() == [3.0, -1.0, 0.0, 9.0]


def test_the_student_objective_mixes_soft_and_hard_terms():
    s, t, T = logits(0, rows=4), logits(1, rows=4), 4.0
    y = torch.tensor([3, -1, 0, -1])
    kd = distill.distill_loss(s, t, T)
    assert distill.student_objective(T, 1.0)(s, distill.pack(t, y)).item() == pytest.approx(kd.item())  # no label read
    ce = F.cross_entropy(s[[0, 2]], y[[0, 2]])  # only the labelled rows
    mixed = distill.student_objective(T, 0.7)(s, distill.pack(t, y)).item()
    assert mixed == pytest.approx(0.7 * kd.item() + 0.3 * ce.item(), rel=1e-6)
    assert distill.student_objective(T, 0.7)(s, distill.pack(t)).item() == pytest.approx(0.7 * kd.item())  # none


def test_the_distilled_student_gets_no_label_at_alpha_1():
    teacher = torch.nn.Linear(64, 10)
    X_transfer, X_few, y_few = torch.rand(30, 64), torch.rand(5, 64), torch.arange(5)
    X, packed = distill.soft_targets(teacher, X_transfer, X_few, y_few, alpha=1.0)
    assert torch.equal(X, X_transfer) and (packed[:, -1] == -1).all()
    assert torch.allclose(packed[:, :10], teacher(X_transfer))
    X, packed = distill.soft_targets(teacher, X_transfer, X_few, y_few, alpha=0.5)
    assert len(X) == 35 and packed[-5:, -1].tolist() == y_few.float().tolist()
