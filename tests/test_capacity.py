"""Capacity helpers: the classifier ladder's shapes, the decision-boundary map by hand, and the tiny batch
of well-separated points that the memorisation sanity check uses."""
import math

import numpy as np
import torch
from torch import nn

from fmlab.capacity import classifier, probability_map, tiny_batch
from fmlab.nets import MLP, num_params


def test_the_ladder_starts_at_logistic_regression():
    linear = classifier((), seed=0)
    assert isinstance(linear, nn.Linear) and num_params(linear) == 2 * 2 + 2
    tiny = classifier((2,), seed=0)
    assert isinstance(tiny, MLP) and num_params(tiny) == (2 * 2 + 2) + (2 * 2 + 2)  # 2 -> 2 hidden -> 2
    big = classifier((64, 64), seed=0)
    assert len(big.linears()) == 3 and num_params(big) == (2 * 64 + 64) + (64 * 64 + 64) + (64 * 2 + 2)
    assert torch.equal(classifier((8,), seed=3).stem.weight, classifier((8,), seed=3).stem.weight)  # seeded


def test_probability_map_by_hand():
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.copy_(torch.tensor([0.0, math.log(3.0)]))  # softmax -> P(class 1) = 3 / 4 everywhere
    xs, ys = np.linspace(-1, 1, 5), np.linspace(-2, 2, 3)
    probs = probability_map(model, xs, ys)
    assert probs.shape == (3, 5) and np.allclose(probs, 0.75)
    with torch.no_grad():
        model.bias.zero_()
        model.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0]]))  # logit of class 1 = x
    probs = probability_map(model, xs, ys)
    assert np.allclose(probs[0], 1 / (1 + np.exp(-xs)), atol=1e-6) and np.allclose(probs, probs[0])


def test_the_tiny_batch_has_no_two_points_too_close_to_tell_apart():
    X = torch.tensor([[0.0, 0.0], [0.05, 0.0], [1.0, 0.0], [1.0, 0.1], [2.0, 2.0]])
    picked, y = tiny_batch(X, size=16, gap=0.2, seed=0)
    assert torch.equal(picked, X[[0, 2, 4]])  # [0.05, 0] is 0.05 from [0, 0], [1, 0.1] is 0.1 from [1, 0]
    assert y.shape == (3,) and set(y.tolist()) <= {0, 1}
    picked, y = tiny_batch(X, size=2, gap=0.2, seed=0)
    assert torch.equal(picked, X[[0, 2]]) and y.shape == (2,)  # stops at `size`
