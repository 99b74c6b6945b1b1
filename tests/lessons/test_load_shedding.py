"""load-shedding: past capacity an unbounded queue's p99 explodes; shedding and a token bucket keep it bounded
by refusing about the excess."""
import pytest

from fmlab.demos import load_shedding as demo


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_the_unbounded_queue_collapses_past_capacity(result):
    _cfg, r = result
    m = r.metrics  # latencies in mean service times
    assert m["p99_fifo_low"] < 8  # at 50% load a request barely waits (M/M/2: p99 ≈ 5.5)
    assert m["p99_fifo"] > 20 * m["p99_fifo_low"]
    assert m["rejected_fifo"] == 0


def test_shedding_and_the_bucket_bound_the_served_latency(result):
    cfg, r = result
    m = r.metrics
    assert m["p99_shed"] < cfg.queue_limit / cfg.workers + 15  # a full queue drains in limit / workers
    assert m["p99_bucket"] < 30
    assert m["rejected_shed"] == pytest.approx(1 / 3, abs=0.08)  # the excess at 150%
    assert m["rejected_bucket"] > m["rejected_shed"]  # it admits 90% of capacity, not 100%
    assert m["bucket_rejected_below"] > 0  # a rate limit refuses bursts even when the workers are idle


def test_charts_and_table(result):
    cfg, r = result
    assert len(r.charts) == 4
    assert r.charts[0].plot("en").layout.yaxis.type == "log"
    assert len(r.tables[0].rows) == demo.NUM_LOADS
    assert [row["load"] for row in r.tables[0].rows][::5] == ["50%", "100%", "150%"]


def test_the_predicate_on_hand_made_metrics():
    m = {"top_load": 1.5, "p99_fifo_low": 5.0, "p99_fifo": 300.0, "p99_shed": 16.0, "p99_bucket": 11.0,
         "rejected_fifo": 0.0, "rejected_shed": 0.33, "rejected_bucket": 0.4}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "p99_fifo": 40.0}) is False  # no collapse
    assert demo.CLAIM.check({**m, "p99_shed": 100.0}) is False  # shedding did not bound the latency
    assert demo.CLAIM.check({**m, "rejected_shed": 0.6}) is False  # refused far more than the excess
    assert demo.CLAIM.check({**m, "top_load": 1.1}) is None  # too close to capacity to test
