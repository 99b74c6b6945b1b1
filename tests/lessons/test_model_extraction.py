"""model-extraction: a few hundred API queries copy the victim, with or without probabilities, and the copy's
FGSM examples transfer to the victim."""
import pytest

from fmlab.demos import model_extraction as demo


@pytest.fixture(scope="module")
def result():
    return demo.run(demo.Config())


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    shows_claim(demo.CLAIM, result)


def test_extraction_improves_with_queries_in_both_modes(result):
    m = result.metrics
    assert m["victim_acc_clean"] >= 0.93
    for mode in demo.MODES:
        assert m[f"agreement_{mode}_25"] < m[f"agreement_{mode}_400"] - 0.05
        assert m[f"agreement_{mode}_200"] >= 0.9  # the predict item: about 90%+ at 200 queries
    assert m["agreement_labels_400"] >= 0.93


def test_probabilities_help_most_when_queries_are_scarce(result):
    m = result.metrics
    small = m["agreement_probs_25"] - m["agreement_labels_25"]
    large = m["agreement_probs_400"] - m["agreement_labels_400"]
    assert small > 0.04 and large < 0.04 and small > large


def test_the_stolen_copy_enables_a_transfer_attack(result):
    m = result.metrics
    assert m["victim_acc_noise"] > m["victim_acc_clean"] - 0.1  # random noise of the same size barely hurts
    assert m["victim_acc_transfer"] < m["victim_acc_noise"] - 0.3
    assert m["victim_acc_whitebox"] <= m["victim_acc_transfer"] + 0.05  # white-box is at least as strong


def hand_made(**changes):
    m = {"largest_budget": 400.0, "agreement_probs_400": 0.98, "agreement_labels_400": 0.96,
         "victim_acc_clean": 0.96, "victim_acc_noise": 0.93, "victim_acc_transfer": 0.4}
    return {**m, **changes}


def test_the_predicate_on_hand_made_metrics():
    assert demo.CLAIM.check(hand_made()) is True
    assert demo.CLAIM.check(hand_made(agreement_labels_400=0.85)) is False  # labels only did stop it
    assert demo.CLAIM.check(hand_made(agreement_probs_400=0.99, agreement_labels_400=0.91)) is False  # big gap
    assert demo.CLAIM.check(hand_made(victim_acc_transfer=0.8)) is False  # the copy's attack does not transfer
    assert demo.CLAIM.check({**hand_made(largest_budget=100.0), "agreement_probs_100": 0.95,
                             "agreement_labels_100": 0.9}) is None  # no budget of a few hundred
