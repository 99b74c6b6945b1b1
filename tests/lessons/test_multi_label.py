"""multi-label: softmax-CE cannot express several labels; sigmoid-BCE can; fmlab.multilabel vs scikit-learn."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score, hamming_loss
from torch import nn

from fmlab import multilabel
from fmlab.demos import multi_label


@pytest.fixture(scope="module")
def result():
    return multi_label.run(multi_label.Config())


@pytest.fixture(scope="module")
def metrics(result):
    return result.metrics


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    shows_claim(multi_label.CLAIM, result)


def test_the_claim_needs_several_labels_per_example():
    m = {"true_labels": 1.9, "bce_half_micro_f1": 0.83, "softmax_tuned_micro_f1": 0.75}
    assert multi_label.CLAIM.check(m) is True
    assert multi_label.CLAIM.check({**m, "softmax_tuned_micro_f1": 0.82}) is False  # a win under 0.02 is no win
    assert multi_label.CLAIM.check({**m, "true_labels": 1.1}) is None  # about one label each: softmax is not wrong


def test_softmax_splits_its_mass_so_at_most_one_label_passes_one_half(metrics):
    assert metrics["true_labels"] > 1.5
    # softmax at p > 0.5 keeps under half the labels the examples carry; the sigmoids keep nearly all
    assert metrics["softmax_half_labels"] < 0.5 * metrics["true_labels"]
    assert metrics["bce_half_labels"] > 0.85 * metrics["true_labels"]
    assert metrics["softmax_p_true_3"] < 0.6 * metrics["softmax_p_true_1"]  # about 1/n with n true labels
    assert metrics["bce_p_true_3"] > 0.85 * metrics["bce_p_true_1"]  # each sigmoid answers for its own label


def test_sigmoid_bce_beats_softmax_even_with_tuned_thresholds(metrics):
    assert metrics["bce_half_micro_f1"] > metrics["softmax_tuned_micro_f1"] + 0.03
    assert metrics["bce_half_subset_accuracy"] > metrics["softmax_tuned_subset_accuracy"] + 0.05
    assert metrics["bce_half_hamming"] < metrics["softmax_tuned_hamming"] - 0.01
    assert metrics["softmax_tuned_micro_f1"] > metrics["softmax_half_micro_f1"] + 0.1  # 0.5 is wrong for softmax


def test_tuned_thresholds_lift_rare_labels_but_not_exact_matches(metrics):
    assert metrics["bce_tuned_macro_f1"] > metrics["bce_half_macro_f1"] + 0.01
    assert metrics["rare_f1_gain"] > metrics["common_f1_gain"] + 0.03
    assert metrics["bce_tuned_subset_accuracy"] <= metrics["bce_half_subset_accuracy"] + 0.005


def random_labels(seed: int, n: int = 50, k: int = 6):
    rng = np.random.default_rng(seed)
    Y, P = (rng.random((n, k)) < 0.3).astype(np.int64), (rng.random((n, k)) < 0.3).astype(np.int64)
    Y[:, 0] = P[:, 0] = 0  # a label neither present nor predicted: F1 0 by scikit-learn's zero_division=0
    return Y, P


@pytest.mark.parametrize("seed", range(5))
def test_our_metrics_match_sklearn(seed):
    Y, P = random_labels(seed)
    ours = multilabel.multilabel_metrics(torch.tensor(Y, dtype=torch.float32), torch.tensor(P))
    assert ours["hamming"] == pytest.approx(hamming_loss(Y, P))
    assert ours["subset_accuracy"] == pytest.approx(accuracy_score(Y, P))  # exact match on multi-label input
    assert ours["micro_f1"] == pytest.approx(f1_score(Y, P, average="micro", zero_division=0))
    assert ours["macro_f1"] == pytest.approx(f1_score(Y, P, average="macro", zero_division=0))
    assert ours["labels"] == pytest.approx(P.sum(1).mean())


def test_metrics_on_a_hand_made_case():
    Y = torch.tensor([[1, 0, 1], [0, 1, 0]], dtype=torch.float32)
    P = torch.tensor([[1, 0, 0], [0, 1, 0]])
    m = multilabel.multilabel_metrics(Y, P)
    # one of six decisions wrong; one of two sets exact; TP 2, FP 0, FN 1 -> micro 4/5;
    # per label F1: 1, 1, 0 -> macro 2/3
    assert m["hamming"] == pytest.approx(1 / 6) and m["subset_accuracy"] == 0.5
    assert m["micro_f1"] == pytest.approx(0.8) and m["macro_f1"] == pytest.approx(2 / 3)


def test_our_bce_matches_torch_and_stays_finite_at_extreme_logits():
    g = torch.Generator().manual_seed(0)
    logits = torch.cat([torch.randn(32, 10, generator=g) * 3, torch.tensor([[100.0, -100.0] * 5])])
    targets = (torch.rand(33, 10, generator=g) < 0.4).float()
    mine = logits.clone().requires_grad_(True)
    theirs = logits.clone().requires_grad_(True)
    ours = multi_label.bce_with_logits(mine, targets)
    reference = nn.BCEWithLogitsLoss()(theirs, targets)
    assert torch.isfinite(ours) and torch.allclose(ours, reference, atol=1e-6)
    assert torch.allclose(ours, F.binary_cross_entropy_with_logits(logits, targets), atol=1e-6)
    ours.backward()
    reference.backward()
    assert torch.allclose(mine.grad, theirs.grad, atol=1e-7)
    # the naive sigmoid-then-log form overflows where the fused one does not
    naive = -(targets * torch.log(logits.sigmoid()) + (1 - targets) * torch.log(1 - logits.sigmoid())).mean()
    assert not torch.isfinite(naive)


def test_bce_needs_float_targets():
    with pytest.raises(RuntimeError):
        nn.BCEWithLogitsLoss()(torch.zeros(2, 4), torch.randint(0, 2, (2, 4)))


def test_our_softmax_ce_matches_torch_with_probability_targets():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(16, 5, generator=g)
    targets = (torch.rand(16, 5, generator=g) < 0.4).float()
    targets[0] = 0  # an example with no label: an all-zero target row
    share = targets / targets.sum(1, keepdim=True).clamp_min(1)
    assert torch.allclose(multi_label.softmax_ce(logits, targets), F.cross_entropy(logits, share), atol=1e-6)


def test_tuned_thresholds_are_the_best_f1_on_the_grid():
    g = torch.Generator().manual_seed(2)
    Y = (torch.rand(200, 4, generator=g) < torch.tensor([0.05, 0.2, 0.4, 0.6])).float()
    probs = (0.6 * Y + 0.5 * torch.rand(200, 4, generator=g)).clamp(0, 1)
    grid = multilabel.GRID
    chosen = multilabel.tune_thresholds(probs, Y)
    for k in range(4):
        f1s = [f1_score(Y[:, k].numpy(), (probs[:, k] > t).numpy(), zero_division=0) for t in grid]
        assert f1_score(Y[:, k].numpy(), (probs[:, k] > chosen[k]).numpy(), zero_division=0) == pytest.approx(max(f1s))


def test_true_label_probability_by_hand():
    Y = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 1]], dtype=torch.float32)
    probs = torch.tensor([[0.9, 0.05, 0.05], [0.4, 0.4, 0.2], [0.2, 0.3, 0.5]])
    p = multi_label.true_label_probability(probs, Y, max_count=3)
    assert p[0] == pytest.approx(0.9) and p[1] == pytest.approx((0.4 + 0.4 + 0.3 + 0.5) / 4) and np.isnan(p[2])
