"""canary-release: the stale v1 decays under drift, the retrained v2 is promoted, the broken v3 is rolled back
after only its canary slice saw it."""
import pytest

from fmlab.demos import canary_release as demo


@pytest.fixture(scope="module")
def result():
    return demo.run(demo.Config())


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    shows_claim(demo.CLAIM, result)


def test_drift_makes_v1_stale_and_the_release_restores_accuracy(result):
    m = result.metrics
    assert m["v1_alone_same_steps"] < m["v1_before_release"] < 0.9  # v1 keeps decaying
    assert m["served_after_promotion"] > m["v1_alone_same_steps"] + 0.05


def test_the_broken_candidate_hurts_only_its_slice(result):
    m = result.metrics
    assert m["v3_rolled_back"] == 1 and m["v3_full_rollout_loss"] > 0.1
    assert m["v3_trial_loss"] < 0.2 * m["v3_full_rollout_loss"]


def test_the_gate_table_lists_both_decisions_in_both_languages(result):
    [gate] = result.tables
    assert [row["version"] for row in gate.rows] == ["v2", "v3"]
    assert [row["outcome"].zh for row in gate.rows] == ["晋升", "回滚"]


def test_without_drift_the_release_tests_nothing():
    assert demo.CLAIM.check(demo.run(demo.Config(drift_degrees=0.0, requests=200)).metrics) is None


def test_the_predicate_on_hand_made_metrics():
    m = {"drift_degrees": 3.0, "v2_promoted": 1.0, "v3_rolled_back": 1.0, "served_after_promotion": 0.86,
         "v1_alone_same_steps": 0.75, "v3_trial_loss": 0.02, "v3_full_rollout_loss": 0.3}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "v3_rolled_back": 0.0}) is False  # the broken model went out to everyone
    assert demo.CLAIM.check({**m, "v2_promoted": 0.0}) is False
    assert demo.CLAIM.check({**m, "served_after_promotion": 0.77}) is False  # the release restored nothing
