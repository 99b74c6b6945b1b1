"""fmlab.diagnosis: diagnose() on hand-made signals, dead ReLUs counted by hand and against a forward pass, and
read_signals against the numbers of a real fit."""
import math

import pytest
import torch
import torch.nn.functional as F

from fmlab import data
from fmlab.diagnosis import READINGS, SIGNAL_NAMES, Signals, dead_shares, diagnose, read_signals
from fmlab.fit import evaluate, fit
from fmlab.nets import MLP, init_weights

BASE = dict(start_loss=2.3, peak_loss=2.3, train_loss=0.1, val_loss=0.15, val_acc=0.96, dead_share=0.05,
            diverged=False, num_classes=10)


def test_diagnose_on_hand_made_signals():
    cases = {
        "healthy": {},
        "lr_high": dict(peak_loss=50.0),
        "dead_relu": dict(train_loss=2.3, val_loss=2.3, val_acc=0.1, dead_share=1.0),
        "label_shuffle": dict(train_loss=2.2, val_loss=2.4, val_acc=0.1),
        "lr_low": dict(train_loss=2.1, val_loss=2.1, val_acc=0.6),
        "label_noise": dict(train_loss=1.2, val_loss=0.5, val_acc=0.93),
        "overfit": dict(train_loss=0.004, val_loss=0.5, val_acc=0.85),
    }
    for expected, change in cases.items():
        assert diagnose(Signals(**(BASE | change))) == expected, expected
    assert diagnose(Signals(**(BASE | dict(diverged=True, train_loss=math.nan)))) == "lr_high"
    assert set(READINGS) == set(cases) - {"healthy"}  # a look and a fix for every problem it can name
    assert set(SIGNAL_NAMES) <= set(BASE)


def test_dead_shares_by_hand():
    model = MLP(2, 2, width=2, depth=1)
    with torch.no_grad():
        for layer in model.linears():
            layer.weight.copy_(torch.eye(2))
        model.stem.bias.copy_(torch.tensor([0.0, -10.0]))  # unit 2 of the stem never fires on inputs below 10
        model.blocks[0].linear.bias.copy_(torch.tensor([-1.0, 0.0]))
    X = torch.arange(6.0).view(3, 2)  # rows (0, 1), (2, 3), (4, 5)
    # stem: z = (x1, x2 - 10) -> unit 2 is ≤ 0 on every row; block: z = (relu(x1) - 1, 0) -> unit 1 fires on x1 = 2, 4
    assert dead_shares(model, X) == [0.5, 0.5]


def test_dead_shares_match_a_direct_forward_pass():
    split = data.digits(seed=0)
    model = init_weights(MLP(64, 10, width=128, depth=1), 0)
    for bias in (None, -0.5):
        if bias is not None:
            with torch.no_grad():
                for layer in model.linears()[:-1]:
                    layer.bias.fill_(bias)
        with torch.no_grad():
            h1 = F.relu(model.stem(split.X_val))  # (N, 128)
            h2 = F.relu(model.blocks[0].linear(h1))  # (N, 128)
        expected = [(h == 0).all(dim=0).float().mean().item() for h in (h1, h2)]
        assert dead_shares(model, split.X_val) == pytest.approx(expected)


def test_read_signals_are_the_numbers_of_the_fit():
    split = data.digits(seed=0)
    train, val = (split.X_train[:256], split.y_train[:256]), (split.X_val, split.y_val)
    model = init_weights(MLP(64, 10, width=32, depth=1), 0)
    run = fit(model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9), train, epochs=2, batch_size=32,
              device=torch.device("cpu"))
    s = read_signals(run, model, train, val, num_classes=10)
    assert s.start_loss == run.history["loss"][0] and s.peak_loss == max(run.history["loss"])
    assert abs(s.start_loss - math.log(10)) < 0.3  # a sane start is ln C
    assert s.train_loss == evaluate(model, *train)["loss"]  # in eval mode, not the running mean of the steps
    assert (s.val_loss, s.val_acc) == tuple(evaluate(model, *val).values())
    assert s.dead_share == max(dead_shares(model, val[0])) and not s.diverged


def test_a_diverged_fit_reads_as_lr_high():
    split = data.digits(seed=0)
    train, val = (split.X_train[:256], split.y_train[:256]), (split.X_val, split.y_val)
    model = init_weights(MLP(64, 10, width=32, depth=1), 0)
    run = fit(model, torch.optim.SGD(model.parameters(), lr=1e30), train, epochs=3, batch_size=32,
              device=torch.device("cpu"))
    s = read_signals(run, model, train, val, num_classes=10)
    assert run.diverged and s.diverged and math.isnan(s.train_loss)
    assert diagnose(s) == "lr_high"
