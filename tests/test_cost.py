"""fmlab.cost: the Pareto front against brute force, the cheapest good-enough point, measured latency."""
import random

import torch
from torch import nn

from fmlab import cost


def brute_force_front(costs, scores):
    """A point is dominated if another is no costlier and no worse, and strictly better in one of the two."""
    return [not any(c2 <= c and s2 >= s and (c2 < c or s2 > s) for c2, s2 in zip(costs, scores))
            for c, s in zip(costs, scores)]


def random_points(seed: int, num: int = 200):
    """`num` small random (costs, scores) sets with many ties, and the generator that drew them."""
    rng = random.Random(seed)
    for _ in range(num):
        n = rng.randint(1, 12)
        yield [rng.randint(1, 6) for _ in range(n)], [rng.randint(1, 6) / 6 for _ in range(n)], rng


def test_pareto_front_on_random_points_with_ties():
    for costs, scores, _ in random_points(0):
        assert cost.pareto_front(costs, scores) == brute_force_front(costs, scores), (costs, scores)


def test_cheapest_within_takes_the_cheapest_point_within_tolerance():
    costs, scores = [1000, 300, 300, 100], [0.97, 0.965, 0.962, 0.90]
    assert cost.cheapest_within(costs, scores, 0.01) == 1  # 0.965 within 0.01 of 0.97; the tie loses on score
    assert cost.cheapest_within(costs, scores, 0.0) == 0
    assert cost.cheapest_within(costs, scores, 0.1) == 3


def test_cheapest_within_is_on_the_front_by_brute_force():
    for costs, scores, rng in random_points(1):
        n = len(costs)
        tolerance = rng.choice((0.0, 0.1, 0.2, 0.5))
        i = cost.cheapest_within(costs, scores, tolerance)
        good = [j for j in range(n) if scores[j] >= max(scores) - tolerance]
        assert i in good and costs[i] == min(costs[j] for j in good)
        assert brute_force_front(costs, scores)[i], (costs, scores, tolerance)


def test_latency_is_one_positive_time_per_model_and_leaves_eval_mode():
    models = [nn.Linear(8, 2), nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 2))]
    times = cost.latency_ms(models, torch.rand(4, 8), rounds=3)
    assert len(times) == 2 and all(t > 0 for t in times)
    assert not any(m.training for m in models)
