"""fmlab.multilabel: losses against PyTorch, metrics and tuned thresholds against scikit-learn and by hand."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score, hamming_loss
from torch import nn

from fmlab import multilabel


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


@pytest.mark.parametrize("seed", range(3))
def test_per_label_f1_matches_sklearn(seed):
    Y, P = random_labels(seed)
    ours = multilabel.per_label_f1(torch.tensor(Y, dtype=torch.float32), torch.tensor(P))
    assert ours.tolist() == pytest.approx(f1_score(Y, P, average=None, zero_division=0).tolist())


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
    ours = multilabel.bce_with_logits(mine, targets)
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
    assert torch.allclose(multilabel.softmax_ce(logits, targets), F.cross_entropy(logits, share), atol=1e-6)


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
    p = multilabel.true_label_probability(probs, Y, max_count=3)
    assert p[0] == pytest.approx(0.9) and p[1] == pytest.approx((0.4 + 0.4 + 0.3 + 0.5) / 4) and np.isnan(p[2])
