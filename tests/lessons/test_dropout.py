"""dropout: at the default config it narrows the train/validation gap, p = 0.9 underfits, and train mode is random.

Our `inverted_dropout` against F.dropout / nn.Dropout: tests/test_dropout_layer.py.
"""
import pytest
import torch

from fmlab import data
from fmlab.demos import dropout
from fmlab.dropout_layer import Dropout


@pytest.fixture(scope="module")
def result():
    cfg = dropout.Config()
    assert cfg.rates == (0.0, 0.5, 0.9)  # the rates the question's quiz asks about
    return dropout.run(cfg)


@pytest.fixture(scope="module")
def metrics(result):
    return result.metrics


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    shows_claim(dropout.CLAIM, result)


def test_the_claim_needs_p_0_and_p_0_5_and_a_real_gain():
    m = {"val_acc_p0": 0.76, "gap_p0": 0.22, "val_acc_p0.5": 0.85, "gap_p0.5": -0.02}
    assert dropout.CLAIM.check(m) is True
    assert dropout.CLAIM.check({k: v for k, v in m.items() if "p0.5" not in k}) is None  # p = 0.5 was not run
    assert dropout.CLAIM.check({**m, "val_acc_p0.5": 0.78}) is False  # validates barely better
    assert dropout.CLAIM.check({**m, "gap_p0.5": 0.15}) is False  # the gap hardly shrinks


def test_without_dropout_the_net_memorises_wrong_labels(metrics):
    m = metrics
    assert m["train_acc_p0"] > 0.9  # 30% of the labels are wrong: this is memorisation
    assert m["memorised_p0"] > 0.7
    assert m["gap_p0"] > 0.15


def test_dropout_narrows_the_gap_and_validates_better(metrics):
    m = metrics
    assert m["gap_p0.5"] < m["gap_p0"] - 0.1
    assert m["val_acc_p0.5"] > m["val_acc_p0"] + 0.05
    assert m["memorised_p0.5"] < m["memorised_p0"] - 0.3
    assert m["best_p"] == 0.5


def test_p_0_5_has_the_lowest_validation_loss_and_p_0_9_underfits(metrics):
    m = metrics
    assert m["val_loss_p0.5"] < m["val_loss_p0"] - 0.1
    assert m["val_loss_p0.5"] < m["val_loss_p0.9"] - 0.1
    assert m["train_acc_p0.9"] < m["train_acc_p0.5"] - 0.1  # it fits even the training labels worse


def test_train_mode_is_random_and_eval_mode_is_not(metrics):
    assert metrics["switch_p"] == 0.5
    assert metrics["train_mode_spread"] > 0.2
    assert metrics["eval_mode_spread"] == 0.0


def test_inverted_dropout_keeps_the_mean_on_the_nets_activations(metrics):
    assert abs(metrics["dropped_share"] - 0.5) < 0.02
    assert abs(metrics["mean_ratio"] - 1.0) < 0.03


def test_the_demos_net_drops_with_our_function():
    model = dropout.mlp(0.5, 32, seed=0)
    assert [type(m) for m in model if "Dropout" in type(m).__name__] == [Dropout] * 2


def test_flip_labels_replaces_about_the_share_asked():
    y = torch.arange(10).repeat(500)  # (5000,)
    noisy = data.flip_labels(y, 0.3, seed=0)
    changed = (noisy != y).float().mean().item()
    assert abs(changed - 0.3 * 0.9) < 0.02  # a random replacement keeps the label 1 time in 10
    assert torch.equal(data.flip_labels(y, 0.0, seed=0), y)


def test_dropout_masks_follow_the_seed_not_torchs_global_generator():
    cfg = dropout.Config(rates=(0.5,), num_train=60, width=32, epochs=2)
    torch.manual_seed(1)
    first = dropout.run(cfg).metrics
    torch.manual_seed(2)
    assert dropout.run(cfg).metrics == first
