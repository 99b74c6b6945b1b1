"""gradient-clipping: the same RNN stays near chance without clipping and learns with its gradient norm clipped."""
import numpy as np
import pytest
import torch

from fmlab.demos import gradient_clipping as demo


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_clipping_rescues_the_rnn_that_exploding_gradients_break(result):
    _cfg, r = result
    m = r.metrics
    assert m["acc_unclipped"] < 0.5 and m["acc_clipped"] > 0.8
    assert m["spike_unclipped"] > 5  # rare steps far above the typical gradient (~10x on 1 thread, ~20x on 2)
    assert m["loss_clipped"] < m["loss_unclipped"] - 0.5
    assert 0 < m["clipped_share"] <= 1


def test_spike_ratio_is_max_over_median():
    assert demo.spike_ratio([1.0, 2.0, 3.0, 30.0, 2.0]) == pytest.approx(15.0)
    assert np.isnan(demo.spike_ratio([]))


def test_recurrent_matrix_has_the_requested_gain():
    model = demo.SequenceClassifier(16, 4, gain=1.3, seed=0)
    W = model.rnn.weight_hh_l0.detach()
    assert torch.allclose(W @ W.T, 1.3 ** 2 * torch.eye(16), atol=1e-5)  # orthogonal × 1.3
    assert model(torch.zeros(2, 5, 1)).shape == (2, 4)


def test_the_predicate_on_hand_made_metrics():
    m = {"acc_unclipped": 0.25, "acc_clipped": 0.95, "clipped_share": 0.9}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "acc_clipped": 0.3}) is False  # clipping did not help
    assert demo.CLAIM.check({**m, "clipped_share": 0.0}) is None  # never clipped: the same run twice
