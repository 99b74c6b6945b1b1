"""fmlab.poisoning: the label-flip attack, and the kNN filter checked against scikit-learn's KNeighborsClassifier."""
import pytest
import torch
from sklearn.neighbors import KNeighborsClassifier

from fmlab import data
from fmlab.poisoning import flip, knn_majority, removal, sanitize


@pytest.mark.parametrize("attack", ["next", "random"])
def test_flip_changes_exactly_the_chosen_share(attack):
    y = torch.arange(200) % 10
    poisoned, is_poison = flip(y, 0.3, seed=0, attack=attack)
    assert is_poison.sum() == 60 and torch.equal(poisoned != y, is_poison)  # every chosen label really changes
    if attack == "next":
        assert torch.equal(poisoned[is_poison], (y[is_poison] + 1) % 10)
    assert torch.equal(flip(y, 0.3, seed=0, attack=attack)[0], poisoned)  # same seed, same attack


def test_knn_majority_equals_a_leave_one_out_kneighbors_classifier():
    split = data.digits(seed=0)
    g = torch.Generator().manual_seed(0)
    X = split.X_train[:150] + 1e-4 * torch.randn(150, 64, generator=g)  # jitter: no two points at equal distance
    y, _mask = flip(split.y_train[:150], 0.3, seed=0)
    ours = knn_majority(X, y, k=7)
    theirs = []
    for i in range(len(X)):  # scikit-learn's majority vote of the k nearest points, the point itself left out
        others = torch.arange(len(X)) != i
        clf = KNeighborsClassifier(n_neighbors=7).fit(X[others].numpy(), y[others].numpy())
        theirs.append(clf.predict(X[i:i + 1].numpy())[0])
    assert ours.tolist() == theirs
    assert torch.equal(sanitize(X, y, k=7), ours == y)


def test_knn_filter_by_hand():
    X = torch.tensor([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0]])  # two clusters on a line
    y = torch.tensor([0, 1, 0, 1, 1, 1])  # point 1 carries a flipped label
    assert knn_majority(X, y, k=2, num_classes=2).tolist() == [0, 0, 0, 1, 1, 1]  # 1's neighbours 0, 2 say 0
    assert sanitize(X, y, k=2, num_classes=2).tolist() == [True, False, True, True, True, True]


def test_removal_rates():
    keep = torch.tensor([False, True, False, True, True])
    is_poison = torch.tensor([True, True, False, False, False])
    caught, lost = removal(keep, is_poison)
    assert caught == pytest.approx(0.5) and lost == pytest.approx(1 / 3)
    assert removal(torch.ones(3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool)) == (0.0, 0.0)


def test_unknown_attack_is_rejected():
    with pytest.raises(ValueError):
        flip(torch.zeros(4, dtype=torch.long), 0.5, seed=0, attack="backdoor")
