"""model-family: one builder, a depth × width grid; accuracy saturates, so a small member is on the Pareto front."""
import itertools
import random

import pytest
import torch
from torch import nn

from fmlab import cost
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


def test_choose_takes_the_cheapest_member_within_tolerance():
    big, mid, tie, small = [model_family.Member(1, width, False, params, acc=acc) for width, params, acc in
                            ((64, 1000, 0.97), (32, 300, 0.965), (16, 300, 0.962), (8, 100, 0.90))]
    members = [big, mid, tie, small]
    assert model_family.choose(members, 0.01) is mid  # 0.965 within 0.01 of 0.97; the tie loses on accuracy
    assert model_family.choose(members, 0.0) is big
    assert model_family.choose(members, 0.1) is small


def brute_force_front(costs, scores):
    """A point is dominated if another is no costlier and no worse, and strictly better in one of the two."""
    return [not any(c2 <= c and s2 >= s and (c2 < c or s2 > s) for c2, s2 in zip(costs, scores))
            for c, s in zip(costs, scores)]


def test_pareto_front_on_random_points_with_ties():
    rng = random.Random(0)
    for _ in range(200):
        n = rng.randint(1, 12)
        costs = [rng.randint(1, 6) for _ in range(n)]
        scores = [rng.randint(1, 6) / 6 for _ in range(n)]
        assert cost.pareto_front(costs, scores) == brute_force_front(costs, scores), (costs, scores)


@pytest.mark.parametrize("depth,width,share", list(itertools.product((1, 2, 4, 8), (8, 16, 128), (False, True))))
def test_parameter_count_by_hand_matches_numel(depth, width, share):
    model = model_family.make_model(depth, width, share)
    assert model_family.param_formula(depth, width, share) == sum(p.numel() for p in model.parameters())
    assert num_params(model) == model_family.param_formula(depth, width, share)


def test_the_run_reports_the_counted_parameters(result):
    cfg, r = result
    for d, w in itertools.product(cfg.depths, cfg.widths):
        counted = num_params(model_family.Family(d, w))
        assert r.metrics[f"params_d{d}_w{w}"] == counted == model_family.param_formula(d, w)


def test_sharing_one_block_cuts_parameters_but_not_compute():
    shared, unshared = model_family.make_model(4, 16, share=True), model_family.make_model(4, 16)
    assert num_params(shared) == num_params(model_family.make_model(1, 16)) < num_params(unshared)

    def linear_calls(model: nn.Module) -> int:
        calls = []
        linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
        hooks = [m.register_forward_hook(lambda *a: calls.append(1)) for m in linears]
        model(torch.rand(3, 64))
        for h in hooks:
            h.remove()
        return len(calls)

    assert linear_calls(shared) == linear_calls(unshared) == 4 + 2  # stem, 4 block passes, head


def test_blocks_are_registered_so_the_optimizer_sees_them():
    model = model_family.make_model(3, 8)
    names = {n.split(".")[0] for n, _ in model.named_parameters()}
    assert names == {"stem", "blocks", "norm", "head"} and len(model.blocks) == 3


def test_latency_at_batch_1_grows_with_depth(result):
    cfg, r = result
    rows = r.tables[0].rows

    def mean_latency(depth: int) -> float:
        own = [row["latency_1"] for row in rows if row["name"].en.startswith(f"d{depth}×")]
        return sum(own) / len(own)

    assert mean_latency(max(cfg.depths)) > 1.2 * mean_latency(min(cfg.depths))
