"""drift-monitor: PSI alarms batches before the late labels, without false alarms; confidence barely moves;
abstaining on the least confident 15% removes a far larger share of the errors."""
import pytest

from fmlab.demos import drift_monitor as demo
from fmlab.params import ConfigError


@pytest.fixture(scope="module")
def result():
    return demo.run(demo.Config())


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    shows_claim(demo.CLAIM, result)


def test_the_alarm_comes_from_the_inputs_before_the_labels(result):
    m = result.metrics
    assert m["false_alarms"] == 0
    assert demo.Config().drift_start <= m["psi_alert_batch"] < m["accuracy_known_batch"] - 2
    assert m["final_accuracy"] < m["clean_accuracy"] - 0.2  # the drift really hurts by the end
    assert m["confidence_clean"] - m["confidence_final"] < m["clean_accuracy"] - m["final_accuracy"]


def test_the_least_confident_hold_many_of_the_errors(result):
    m = result.metrics
    assert m["error_at_coverage"] < m["error_full_coverage"]
    assert m["errors_in_rejected"] > 0.3


def test_without_drift_nothing_alarms_and_the_lesson_is_not_tested():
    m = demo.run(demo.Config(shift=0.0, noise=0.0, epochs=3)).metrics
    assert m["false_alarms"] == 0 and m["psi_fired"] == 0
    assert demo.CLAIM.check(m) is None


def test_drift_must_start_inside_the_stream():
    with pytest.raises(ConfigError) as error:
        demo.Config(num_batches=20, drift_start=25)
    assert "漂移" in error.value.text.zh and "Drift" in error.value.text.en


def test_the_predicate_on_hand_made_metrics():
    m = {"drift_strength": 0.7, "psi_fired": 1.0, "false_alarms": 0.0, "lead_batches": 8.0, "errors_in_rejected": 0.5}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "psi_fired": 0.0}) is False  # the drift went unnoticed
    assert demo.CLAIM.check({**m, "false_alarms": 2.0}) is False
    assert demo.CLAIM.check({**m, "lead_batches": 0.0}) is False
    assert demo.CLAIM.check({**m, "errors_in_rejected": 0.15}) is False  # confidence no better than chance
