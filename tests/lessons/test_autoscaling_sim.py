"""autoscaling-sim: the autoscaler meets the SLO most of the time for less than a peak-sized fleet, breaching it
right after the ramp starts; a small fixed fleet breaks it at the peak."""
import pytest

from fmlab.demos import autoscaling_sim as demo


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_cost_and_slo_per_fleet(result):
    _cfg, r = result
    m = r.metrics
    assert m["cost_small"] == pytest.approx(2) and m["cost_large"] == pytest.approx(5)
    assert m["violations_small"] > 0.5 and m["violations_large"] == 0
    assert 0 < m["violations_auto"] < 0.2
    assert m["cost_auto"] < 0.8 * m["cost_large"]
    assert m["max_replicas_auto"] >= 5  # ceil(3.0 / 0.6): it reaches the peak's fleet
    assert m["breaches_after_ramp"] > 0.9  # the lag is at the start of the ramp
    assert m["worst_p99_auto"] < m["worst_p99_small"] / 5


def test_a_slower_start_up_breaks_the_slo_for_longer(result):
    cfg, r = result
    slow = demo.run(demo.Config(startup=4 * cfg.startup)).metrics
    assert slow["violations_auto"] > r.metrics["violations_auto"] + 0.03


def test_charts_and_table(result):
    _cfg, r = result
    assert r.charts[1].plot("en").layout.yaxis.type == "log"
    rows = r.tables[0].frame("en")
    assert [row["fleet"] for row in rows] == ["fixed 2 replicas", "fixed 5 replicas", "autoscaler 1–10"]


def test_the_predicate_on_hand_made_metrics():
    m = {"peak": 3.0, "fixed_small": 2.0, "fixed_large": 5.0, "violations_small": 0.8, "violations_large": 0.0,
         "violations_auto": 0.08, "breaches_after_ramp": 1.0, "cost_auto": 3.4, "cost_large": 5.0}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "violations_auto": 0.3}) is False  # the autoscaler misses the SLO too often
    assert demo.CLAIM.check({**m, "cost_auto": 4.6}) is False  # no saving
    assert demo.CLAIM.check({**m, "breaches_after_ramp": 0.3}) is False  # breaches not from the ramp's lag
    assert demo.CLAIM.check({**m, "fixed_small": 3.0}) is None  # the small fleet copes with the peak
    assert demo.CLAIM.check({**m, "violations_auto": 0.0}) is None  # no lag to learn from (e.g. a high minimum)
