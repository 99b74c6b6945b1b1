"""model-family: one builder, a depth × width grid; accuracy saturates, so a small member is on the Pareto front."""
import itertools

import pytest

from fmlab import family
from fmlab.demos import model_family
from fmlab.nets import num_params


@pytest.fixture(scope="module")
def result():
    cfg = model_family.Config()
    return cfg, model_family.run(cfg)


def test_accuracy_saturates_and_a_far_smaller_member_is_enough(result):
    cfg, r = result
    m = r.metrics
    assert m["best_acc"] > 0.95
    assert m["size_ratio"] >= 4  # the chosen member is at least 4x smaller than the largest
    assert m["chosen_acc"] >= m["best_acc"] - cfg.tolerance
    assert m["largest_acc"] < m["chosen_acc"] + 0.02  # 4x+ the parameters bought under 2 points
    smallest = min(cfg.widths)
    assert m[f"acc_d1_w{smallest}"] < m["best_acc"] - 0.03  # size does matter at first


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(model_family.CLAIM, r)


def test_the_claim_needs_a_grid_that_spans_4x_in_size():
    m = {"smallest_params": 714.0, "largest_params": 76938.0, "size_ratio": 8.3}
    assert model_family.CLAIM.check(m) is True
    assert model_family.CLAIM.check({**m, "size_ratio": 1.0}) is False  # the largest member was needed
    assert model_family.CLAIM.check({**m, "largest_params": 2000.0}) is None  # no member 4x smaller to pick


def members_from_metrics(metrics):
    """{member key: (parameters, accuracy)}, read back from the run's unrounded metrics."""
    return {k[len("acc_"):]: (metrics["params_" + k[len("acc_"):]], v) for k, v in metrics.items()
            if k.startswith("acc_d")}


def test_the_chosen_member_is_the_cheapest_within_tolerance_and_on_a_brute_force_front(result):
    cfg, r = result
    members = members_from_metrics(r.metrics)
    assert len(members) == len(cfg.depths) * len(cfg.widths)
    best = max(acc for _params, acc in members.values())
    good_enough = {k: v for k, v in members.items() if v[1] >= best - cfg.tolerance}
    cheapest = min(good_enough, key=lambda k: (good_enough[k][0], -good_enough[k][1]))  # ties: the more accurate
    assert r.metrics["chosen_params"] == members[cheapest][0] and r.metrics["chosen_acc"] == members[cheapest][1]
    assert r.metrics["size_ratio"] == pytest.approx(max(p for p, _acc in members.values()) / members[cheapest][0])
    name = cheapest.replace("_", "×")  # the metric key d4_w16 is the member d4×w16
    assert f"within {cfg.tolerance:.1%} of the best is {name} with" in r.verdict.en

    keys = list(members)
    front = dict(zip(keys, brute_force_front([members[k][0] for k in keys], [members[k][1] for k in keys])))
    assert front[cheapest]
    rows = {row["name"].en.replace("×", "_"): row for row in r.tables[0].rows}
    assert {k: rows[k]["front"] for k in keys} == front
    assert r.metrics["front_size"] == sum(front.values())


def brute_force_front(costs, scores):
    """A point is dominated if another is no costlier and no worse, and strictly better in one of the two."""
    return [not any(c2 <= c and s2 >= s and (c2 < c or s2 > s) for c2, s2 in zip(costs, scores))
            for c, s in zip(costs, scores)]


def test_the_run_reports_the_counted_parameters(result):
    cfg, r = result
    for d, w in itertools.product(cfg.depths, cfg.widths):
        counted = num_params(family.Family(d, w))
        assert r.metrics[f"params_d{d}_w{w}"] == counted == family.param_formula(d, w)


def test_latency_at_batch_1_grows_with_depth(result):
    cfg, r = result
    rows = r.tables[0].rows

    def mean_latency(depth: int) -> float:
        own = [row["latency_1"] for row in rows if row["name"].en.startswith(f"d{depth}×")]
        return sum(own) / len(own)

    assert mean_latency(max(cfg.depths)) > 1.2 * mean_latency(min(cfg.depths))
