"""fmlab.overfitting: noisy labels, early stopping, K-fold splits and estimates, learning curves, per-epoch loss."""
import numpy as np
import pytest
import torch
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import KFold, cross_val_score
from torch import nn

from fmlab import overfitting
from fmlab.fit import Fit, fit


class MostFrequent(nn.Module):
    """Predicts the most frequent training label for every row, like sklearn's DummyClassifier."""

    def __init__(self, y: torch.Tensor, num_classes: int):
        super().__init__()
        self.logits = nn.Parameter(nn.functional.one_hot(torch.bincount(y, minlength=num_classes).argmax(),
                                                         num_classes).float())

    def forward(self, X: torch.Tensor) -> torch.Tensor:  # (N, D) -> (N, K)
        return self.logits.expand(len(X), -1)


def test_noisy_labels_replace_about_the_share_asked_for():
    y = torch.arange(10_000) % 10
    g = torch.Generator().manual_seed(0)
    assert torch.equal(overfitting.noisy_labels(y, 0.0, 10, g), y)
    noisy = overfitting.noisy_labels(y, 0.3, 10, torch.Generator().manual_seed(0))
    assert noisy.min() >= 0 and noisy.max() <= 9
    assert (noisy != y).float().mean().item() == pytest.approx(0.3 * 0.9, abs=0.02)  # 1 in 10 lands on the truth
    assert torch.equal(noisy, overfitting.noisy_labels(y, 0.3, 10, torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("num,k", [(200, 5), (23, 4), (10, 10), (7, 2)])
def test_our_folds_are_sklearns(num, k):
    ours = overfitting.kfold(num, k)
    theirs = list(KFold(n_splits=k).split(np.zeros(num)))
    assert len(ours) == len(theirs)
    for (tr, va), (tr_ref, va_ref) in zip(ours, theirs):
        assert tr.tolist() == tr_ref.tolist() and va.tolist() == va_ref.tolist()


def test_cross_val_accuracy_is_sklearns_cross_val_score():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(23, 3, generator=g), torch.randint(0, 3, (23,), generator=g)
    seen = []

    def train(X_rest, y_rest, j):
        seen.append(j)
        return MostFrequent(y_rest, 3)

    ours = overfitting.cross_val_accuracy(train, X, y, 4)
    theirs = cross_val_score(DummyClassifier(strategy="most_frequent"), X.numpy(), y.numpy(), cv=KFold(4))
    assert seen == [0, 1, 2, 3]
    assert np.allclose(ours, theirs)


def test_learning_curve_trains_on_the_first_rows_by_hand():
    X = torch.zeros(6, 1)
    y = torch.tensor([1, 1, 0, 0, 0, 0])
    val = (torch.zeros(4, 1), torch.tensor([0, 0, 0, 1]))
    curve = overfitting.learning_curve(lambda X_n, y_n, i: MostFrequent(y_n, 2), X, y, (2, 6), val)
    # 2 rows: both say 1, so it predicts 1 (train 100%, val 1/4); 6 rows: mostly 0 (train 4/6, val 3/4)
    assert curve == {2: (1.0, 0.25), 6: (pytest.approx(4 / 6), 0.75)}


def test_early_stopping_by_hand():
    """Scripted validation losses through the hook: best at epoch 2, patience 2 stops at epoch 4."""
    model = nn.Linear(1, 1)
    stopper = overfitting.EarlyStopping(patience=2)
    run = Fit()
    decisions = []
    for epoch, loss in enumerate([1.0, 0.5, 0.7, 0.6, 0.4], start=1):
        with torch.no_grad():
            model.weight.fill_(epoch)  # the weights at each epoch, so we can tell which were kept
        run.history["val_loss"].append(loss)
        decisions.append(stopper(epoch, run, model))
        if decisions[-1]:
            break
    assert decisions == [False, False, False, True]
    assert stopper.best_epoch == 2 and stopper.best_loss == 0.5 and stopper.stopped_at == 4
    stopper.restore(model)
    assert model.weight.item() == 2.0  # a deep copy: later epochs did not overwrite the checkpoint


def test_patience_zero_stops_at_the_first_non_improvement():
    stopper = overfitting.EarlyStopping(patience=0)
    run, model = Fit(), nn.Linear(1, 1)
    out = []
    for epoch, loss in enumerate([1.0, 0.9, 0.95], start=1):
        run.history["val_loss"].append(loss)
        out.append(stopper(epoch, run, model))
    assert out == [False, False, True]


def test_fit_stops_when_the_hook_says_so():
    X, y = torch.randn(40, 3), torch.randint(0, 2, (40,))
    model = nn.Linear(3, 2)
    stopper = overfitting.EarlyStopping(patience=1)
    result = fit(model, torch.optim.SGD(model.parameters(), lr=10.0), (X, y), epochs=50, batch_size=40,
                 val=(X, 1 - y), on_epoch=stopper)  # flipped validation labels: val loss soon rises
    assert stopper.stopped_at == len(result.history["val_loss"]) < 50


def test_train_loss_per_epoch_by_hand():
    run = Fit()
    run.history["loss"] = [4.0, 2.0, 3.0, 1.0, 9.0]  # two epochs of two steps, then a diverged epoch's first step
    run.history["val_loss"] = [2.5, 1.5]
    assert overfitting.train_loss_per_epoch(run).tolist() == [3.0, 2.0]
