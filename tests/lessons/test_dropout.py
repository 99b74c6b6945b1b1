"""dropout: at the default config it narrows the train/validation gap, p = 0.9 underfits, and train mode is random.

Our `inverted_dropout` is checked against F.dropout / nn.Dropout: same random draw, same output; survivors
scaled by 1/(1 - p); eval mode is the identity.
"""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fmlab import data
from fmlab.demos import dropout


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


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_our_inverted_dropout_is_f_dropout(p):
    x = torch.randn(2000, 64)
    ours = dropout.inverted_dropout(x, p, torch.Generator().manual_seed(7))
    torch.manual_seed(7)  # a fresh generator and the re-seeded global one give the same stream
    theirs = F.dropout(x, p, training=True)
    assert torch.equal(ours == 0, theirs == 0)  # the same units dropped
    assert torch.allclose(ours, theirs, rtol=1e-6, atol=1e-6)  # and the same 1/(1 - p) scaling
    assert not torch.equal(ours, dropout.inverted_dropout(x, p, torch.Generator().manual_seed(8)))


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_our_dropout_module_is_nn_dropout_in_train_and_eval_mode(p):
    x = torch.randn(300, 32)
    ours, theirs = dropout.Dropout(p), nn.Dropout(p)
    torch.manual_seed(3)
    a = ours.train()(x)
    torch.manual_seed(3)
    assert torch.allclose(a, theirs.train()(x), rtol=1e-6, atol=1e-6)
    assert torch.equal(ours.eval()(x), x) and torch.equal(theirs.eval()(x), x)  # eval mode: the identity
    assert torch.equal(dropout.inverted_dropout(x, p, training=False), x)


def test_survivors_are_scaled_so_the_expected_activation_is_unchanged():
    x = torch.ones(200_000)
    for p in (0.2, 0.5, 0.8):
        out = dropout.inverted_dropout(x, p, torch.Generator().manual_seed(0))
        values = out.unique()
        assert values.numel() == 2 and values[0] == 0 and values[1].item() == pytest.approx(1 / (1 - p))
        assert abs((out == 0).float().mean().item() - p) < 0.01
        assert abs(out.mean().item() - 1.0) < 0.01
    # by hand: p = 0.5 on 0..7 gives each entry 0 or twice its value
    out = dropout.inverted_dropout(torch.arange(8.0), 0.5, torch.Generator().manual_seed(1))
    assert all(v in (0.0, 2 * i) for i, v in enumerate(out.tolist()))
    assert torch.equal(dropout.inverted_dropout(torch.ones(5), 1.0), torch.zeros(5))
    assert torch.equal(F.dropout(torch.ones(5), 1.0, training=True), torch.zeros(5))


def test_the_demos_net_drops_with_our_function():
    model = dropout.mlp(0.5, 32, seed=0)
    assert [type(m) for m in model if "Dropout" in type(m).__name__] == [dropout.Dropout] * 2


def test_no_grad_does_not_switch_dropout_off_but_eval_does():
    model = dropout.mlp(0.5, 32, seed=0)
    x = torch.rand(1, 64)
    probs = dropout.true_class_probability(model, x, 3, passes=20, training=True)
    assert probs.unique().numel() > 1  # a new mask on every pass, inside torch.no_grad()
    fixed = dropout.true_class_probability(model, x, 3, passes=20, training=False)
    assert fixed.unique().numel() == 1
    assert model.training  # the helper restores the mode it found


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
