"""dynamic-batching: past the one-at-a-time rate the unbatched queue explodes while the real dynamic batcher keeps
up, every answer is the model's own output for that input, a batch costs little more than one call, and a cold
model's first call is slower than its warm median. Latencies are wall-clock on a shared machine: wide margins."""
import pytest

from fmlab.demos import dynamic_batching as demo


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_unbatched_serving_falls_behind_and_batching_keeps_up(result):
    cfg, r = result
    m, top, low = r.metrics, max(cfg.loads), min(cfg.loads)
    un, dyn = demo.key("unbatched", top), demo.key("batched", top)
    assert m[f"p99_ms_{un}"] > 50  # the queue grew: requests waited for everything ahead of them
    assert m[f"p99_ms_{un}"] > 3 * m[f"p99_ms_{demo.key('unbatched', low)}"]
    assert m[f"served_per_s_{un}"] < 0.8 * m[f"offered_per_s_{un}"]
    assert m[f"p99_ms_{dyn}"] < 100 and m["p99_ratio"] > 5
    assert m[f"served_per_s_{dyn}"] > 0.8 * m[f"offered_per_s_{dyn}"]
    assert 2 < m[f"mean_batch_{dyn}"] <= cfg.max_batch and m["max_batch_seen"] <= cfg.max_batch


def test_answers_are_the_models_own(result):
    _cfg, r = result
    assert r.metrics["answer_max_diff"] < 1e-4
    assert r.metrics["accuracy"] > 0.85 and r.metrics["served_accuracy"] > 0.85


def test_a_batch_costs_little_more_than_one_call(result):
    _cfg, r = result
    m = r.metrics
    assert m["service_ms_32"] / 32 < m["service_ms_1"] / 4  # per request, batch 32 is 4+× cheaper (~20× here)
    assert m["capacity_per_s_32"] > 3 * m["capacity_per_s_1"]


def test_the_first_call_of_a_cold_model_is_slower(result):
    _cfg, r = result
    assert r.metrics["first_call_ms"] > 1.1 * r.metrics["warm_p50_ms"]


def test_the_predicate_on_hand_made_metrics():
    m = {"top_load": 2.0, "p99_ratio": 40.0, "served_per_s_batched_2x": 1990.0, "offered_per_s_batched_2x": 2000.0,
         "answer_max_diff": 1e-6, "max_batch_seen": 32.0, "max_batch": 32}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "p99_ratio": 2.0}) is False  # batching did not cut the tail
    assert demo.CLAIM.check({**m, "served_per_s_batched_2x": 900.0}) is False  # the batched server fell behind too
    assert demo.CLAIM.check({**m, "answer_max_diff": 0.1}) is False  # answers mixed up between requests
    assert demo.CLAIM.check({**m, "top_load": 1.0}) is None  # no overload: nothing for batching to rescue
