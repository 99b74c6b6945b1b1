"""Overfitting: provoke it with noisy labels, see it on held-out data, stop it early.

`noisy_labels` gives a net wrong labels to memorise. `EarlyStopping` is a `fit(on_epoch=...)` hook: it watches
the validation loss after every epoch, keeps a copy of the best weights and stops after `patience` epochs without
improvement. `kfold` and `cross_val_accuracy` estimate a recipe's accuracy from every example; `learning_curve`
shows the train–validation gap as data grows; `train_loss_per_epoch` sets the training loss beside the
validation loss. These measure overfitting; only early stopping changes training.
"""
from __future__ import annotations

import copy
import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .fit import Fit, evaluate


def noisy_labels(y: Tensor, share: float, num_classes: int, g: torch.Generator) -> Tensor:
    """Replace a random `share` of the labels by uniformly random classes (some land on the right one)."""
    replace = torch.rand(len(y), generator=g) < share
    return torch.where(replace, torch.randint(0, num_classes, y.shape, generator=g), y)


Train = Callable[[Tensor, Tensor, int], nn.Module]  # (X, y, index of this run) -> the recipe's trained model


class EarlyStopping:
    """fit(on_epoch=...) hook: stop after `patience` epochs without a new best validation loss.

    Keeps a deep copy of the best epoch's state_dict; `restore(model)` loads it back.
    """

    def __init__(self, patience: int):
        self.patience = patience
        self.best_loss, self.best_epoch = math.inf, 0
        self.best_state: dict[str, Tensor] | None = None
        self.stopped_at: int | None = None

    def __call__(self, epoch: int, run: Fit, model: nn.Module) -> bool:
        loss = run.history["val_loss"][-1]  # fit(val=...) has just evaluated this epoch
        if loss < self.best_loss:
            self.best_loss, self.best_epoch = loss, epoch
            self.best_state = copy.deepcopy(model.state_dict())  # a copy: training goes on changing the weights
        elif epoch - self.best_epoch >= self.patience:
            self.stopped_at = epoch
            return True
        return False

    def restore(self, model: nn.Module) -> nn.Module:
        model.load_state_dict(self.best_state)
        return model


def kfold(num: int, k: int) -> list[tuple[Tensor, Tensor]]:
    """(train indices, validation indices) for k contiguous folds; the first num % k folds get one extra.

    Contiguous folds are random folds when the rows are already in random order (data.digits shuffles).
    """
    rows = torch.arange(num)
    return [(rows[~torch.isin(rows, val)], val) for val in rows.tensor_split(k)]  # tensor_split sizes as KFold


def cross_val_accuracy(train: Train, X: Tensor, y: Tensor, k: int) -> list[float]:
    """Accuracy on each of `k` folds of (X, y) of the model `train` fits on the other k − 1 folds."""
    accs = []
    for j, (rest, fold) in enumerate(kfold(len(X), k)):
        accs.append(evaluate(train(X[rest], y[rest], j), X[fold], y[fold])["acc"])
    return accs


def learning_curve(train: Train, X: Tensor, y: Tensor, sizes: Sequence[int],
                   val: tuple[Tensor, Tensor]) -> dict[int, tuple[float, float]]:
    """{n: (train accuracy, validation accuracy)} of the model `train` fits on the first n rows, for n in `sizes`."""
    points = {}
    for i, n in enumerate(sizes):
        model = train(X[:n], y[:n], i)
        points[n] = (evaluate(model, X[:n], y[:n])["acc"], evaluate(model, *val)["acc"])
    return points


def train_loss_per_epoch(run: Fit) -> np.ndarray:
    """Mean training loss of each validated epoch, to set beside history["val_loss"]: (epochs,)."""
    epochs = len(run.history["val_loss"])
    steps = len(run.history["loss"]) // epochs
    losses = np.asarray(run.history["loss"][:epochs * steps])  # a diverged run's unfinished epoch is dropped
    return losses.reshape(epochs, steps).mean(axis=1)  # (epochs, steps) -> (epochs,)
