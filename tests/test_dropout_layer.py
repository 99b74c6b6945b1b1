"""fmlab.dropout_layer: our `inverted_dropout` is F.dropout / nn.Dropout (same random draw, same output, the same
statistics); survivors are scaled by 1/(1 - p); eval mode is the identity, and torch.no_grad() does not switch it."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fmlab.dropout_layer import Dropout, inverted_dropout, mask_stats, true_class_probability


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_our_inverted_dropout_is_f_dropout(p):
    x = torch.randn(2000, 64)
    ours = inverted_dropout(x, p, torch.Generator().manual_seed(7))
    torch.manual_seed(7)  # a fresh generator and the re-seeded global one give the same stream
    theirs = F.dropout(x, p, training=True)
    assert torch.equal(ours == 0, theirs == 0)  # the same units dropped
    assert torch.allclose(ours, theirs, rtol=1e-6, atol=1e-6)  # and the same 1/(1 - p) scaling
    assert not torch.equal(ours, inverted_dropout(x, p, torch.Generator().manual_seed(8)))


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_mask_statistics_match_f_dropout_on_independent_draws(p):
    x = torch.rand(400, 500) + 0.5  # all nonzero, mean 1
    ours = mask_stats(x, inverted_dropout(x, p, torch.Generator().manual_seed(0)))
    torch.manual_seed(123)  # a different stream: only the statistics can agree
    theirs = mask_stats(x, F.dropout(x, p, training=True))
    for stats in (ours, theirs):
        assert stats["dropped_share"] == pytest.approx(p, abs=0.005)  # 200,000 draws: about ±5 standard errors
        assert stats["mean_ratio"] == pytest.approx(1.0, abs=0.02)
    assert ours["dropped_share"] == pytest.approx(theirs["dropped_share"], abs=0.007)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_our_dropout_module_is_nn_dropout_in_train_and_eval_mode(p):
    x = torch.randn(300, 32)
    ours, theirs = Dropout(p), nn.Dropout(p)
    torch.manual_seed(3)
    a = ours.train()(x)
    torch.manual_seed(3)
    assert torch.allclose(a, theirs.train()(x), rtol=1e-6, atol=1e-6)
    assert torch.equal(ours.eval()(x), x) and torch.equal(theirs.eval()(x), x)  # eval mode: the identity
    assert torch.equal(inverted_dropout(x, p, training=False), x)


def test_survivors_are_scaled_so_the_expected_activation_is_unchanged():
    x = torch.ones(200_000)
    for p in (0.2, 0.5, 0.8):
        out = inverted_dropout(x, p, torch.Generator().manual_seed(0))
        values = out.unique()
        assert values.numel() == 2 and values[0] == 0 and values[1].item() == pytest.approx(1 / (1 - p))
        assert abs((out == 0).float().mean().item() - p) < 0.01
        assert abs(out.mean().item() - 1.0) < 0.01
    # by hand: p = 0.5 on 0..7 gives each entry 0 or twice its value
    out = inverted_dropout(torch.arange(8.0), 0.5, torch.Generator().manual_seed(1))
    assert all(v in (0.0, 2 * i) for i, v in enumerate(out.tolist()))
    assert torch.equal(inverted_dropout(torch.ones(5), 1.0), torch.zeros(5))
    assert torch.equal(F.dropout(torch.ones(5), 1.0, training=True), torch.zeros(5))


def test_mask_stats_by_hand():
    x = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0])  # mean 2; the 0 was never alive
    dropped = torch.tensor([0.0, 0.0, 4.0, 0.0, 8.0])  # p = 0.5: 1 and 3 dropped, 2 and 4 doubled
    assert mask_stats(x, dropped) == {"dropped_share": 0.5, "mean_ratio": pytest.approx(2.4 / 2.0)}


def test_no_grad_does_not_switch_dropout_off_but_eval_does():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), Dropout(0.5), nn.Linear(32, 10))
    x = torch.rand(1, 64)
    probs = true_class_probability(model, x, 3, passes=20, training=True)
    assert probs.shape == (20,) and probs.unique().numel() > 1  # a new mask on every pass, inside torch.no_grad()
    fixed = true_class_probability(model, x, 3, passes=20, training=False)
    assert fixed.unique().numel() == 1
    assert model.training  # the helper restores the mode it found
