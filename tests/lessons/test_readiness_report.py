"""readiness-report: a model with a fine test score still fails the shifted-data and malformed-input checks;
validation turns every malformed request into a clear refusal."""
import pytest

from fmlab.demos import readiness_report as demo


@pytest.fixture(scope="module")
def result():
    return demo.run(demo.Config())


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    shows_claim(demo.CLAIM, result)


def test_a_fine_test_score_and_a_failing_shift_check(result):
    m = result.metrics
    assert m["test_accuracy"] > 0.95 and m["shifted_accuracy"] < 0.85
    assert m["size_mb_passed"] == 1 and m["size_mb"] < 1.0


def test_each_malformed_request_is_refused_only_with_validation(result):
    malformed = result.tables[1]
    assert [row["validated"].en for row in malformed.rows] == ["refused with a clear message"] * 3
    assert {row["raw"].en for row in malformed.rows} <= {"answered as if valid", "crashed (a stack trace, HTTP 500)"}


def test_no_shift_means_the_shift_check_passes_and_the_lesson_fails():
    m = demo.run(demo.Config(shift=0.0, epochs=10)).metrics
    assert m["shifted_accuracy_passed"] == 1 and demo.CLAIM.check(m) is False


def test_the_predicate_on_hand_made_metrics():
    m = {"test_accuracy_passed": 1.0, "shifted_accuracy_passed": 0.0, "malformed_refused_raw": 0.0,
         "malformed_refused_validated": 3.0, "malformed_total": 3.0}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "test_accuracy_passed": 0.0}) is None  # a model that is not good to begin with
    assert demo.CLAIM.check({**m, "malformed_refused_validated": 2.0}) is False
