"""label-flip-poisoning: accuracy falls with the share of flipped labels; kNN sanitization holds it up while the
poison is a minority of each neighbourhood, and weakens at r = 40%."""
import pytest

from fmlab.demos import label_flip_poisoning as demo


@pytest.fixture(scope="module")
def result():
    return demo.run(demo.Config())


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    shows_claim(demo.CLAIM, result)


def test_poisoning_degrades_the_plain_model(result):
    m = result.metrics
    assert m["acc_plain_0"] >= 0.93
    assert m["acc_plain_0"] > m["acc_plain_0.1"] > m["acc_plain_0.2"] > m["acc_plain_0.3"] > m["acc_plain_0.4"]
    assert m["acc_plain_0.4"] < m["acc_plain_0"] - 0.2


def test_sanitization_catches_minority_poison_and_weakens_when_it_dominates(result):
    m = result.metrics
    for r in ("0.1", "0.2"):
        assert m[f"poison_removed_{r}"] >= 0.95 and m[f"clean_removed_{r}"] <= 0.06
        assert m[f"acc_sanitized_{r}"] >= m["acc_plain_0"] - 0.03
    assert m["poison_removed_0.4"] < 0.9 and m["clean_removed_0.4"] > 0.1  # the poison starts winning votes
    assert m["acc_sanitized_0.4"] < m["acc_sanitized_0.2"] - 0.05
    assert m["acc_sanitized_0.4"] > m["acc_plain_0.4"] + 0.1  # still far better than no filter


def test_random_flips_do_not_pile_up():
    m = demo.run(demo.Config(attack="random", rates=(0.0, 0.2, 0.4), epochs=5)).metrics
    assert m["poison_removed_0.4"] >= 0.95  # spread over nine classes, the poison never wins a vote
    assert demo.CLAIM.check(m) is None


def hand_made(**changes):
    m = {"attack_next": 1.0, "acc_plain_0": 0.96, "acc_sanitized_0": 0.96, "poison_removed_0": 0.0,
         "clean_removed_0": 0.02, "acc_plain_0.2": 0.85, "acc_sanitized_0.2": 0.95, "poison_removed_0.2": 0.98,
         "clean_removed_0.2": 0.04, "acc_plain_0.4": 0.6, "acc_sanitized_0.4": 0.8, "poison_removed_0.4": 0.8,
         "clean_removed_0.4": 0.2}
    return {**m, **changes}


def test_the_predicate_on_hand_made_metrics():
    assert demo.CLAIM.check(hand_made()) is True
    assert demo.CLAIM.check(hand_made(**{"acc_plain_0.2": 0.94})) is False  # the attack did not hurt
    assert demo.CLAIM.check(hand_made(**{"poison_removed_0.2": 0.7})) is False  # the filter missed the flips
    assert demo.CLAIM.check(hand_made(**{"acc_sanitized_0.2": 0.88})) is False  # sanitized but still degraded
    assert demo.CLAIM.check(hand_made(**{"poison_removed_0.4": 0.95})) is False  # never weakens
    assert demo.CLAIM.check(hand_made(attack_next=0.0)) is None  # random flips: nothing dominates
    untested = {k: v for k, v in hand_made().items() if not k.endswith("0.4")}
    assert demo.CLAIM.check(untested) is None  # no rate where the poison dominates
