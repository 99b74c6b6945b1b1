"""multi-label: softmax-CE cannot express several labels, sigmoid-BCE can; the maths is in tests/test_multilabel.py."""
import pytest

from fmlab.demos import multi_label


@pytest.fixture(scope="module")
def result():
    return multi_label.run(multi_label.Config())


@pytest.fixture(scope="module")
def metrics(result):
    return result.metrics


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    shows_claim(multi_label.CLAIM, result)


def test_the_claim_needs_several_labels_per_example():
    m = {"true_labels": 1.9, "bce_half_micro_f1": 0.83, "softmax_tuned_micro_f1": 0.75}
    assert multi_label.CLAIM.check(m) is True
    assert multi_label.CLAIM.check({**m, "softmax_tuned_micro_f1": 0.82}) is False  # a win under 0.02 is no win
    assert multi_label.CLAIM.check({**m, "true_labels": 1.1}) is None  # about one label each: softmax is not wrong


def test_softmax_splits_its_mass_so_at_most_one_label_passes_one_half(metrics):
    assert metrics["true_labels"] > 1.5
    # softmax at p > 0.5 keeps under half the labels the examples carry; the sigmoids keep nearly all
    assert metrics["softmax_half_labels"] < 0.5 * metrics["true_labels"]
    assert metrics["bce_half_labels"] > 0.85 * metrics["true_labels"]
    assert metrics["softmax_p_true_3"] < 0.6 * metrics["softmax_p_true_1"]  # about 1/n with n true labels
    assert metrics["bce_p_true_3"] > 0.85 * metrics["bce_p_true_1"]  # each sigmoid answers for its own label


def test_sigmoid_bce_beats_softmax_even_with_tuned_thresholds(metrics):
    assert metrics["bce_half_micro_f1"] > metrics["softmax_tuned_micro_f1"] + 0.03
    assert metrics["bce_half_subset_accuracy"] > metrics["softmax_tuned_subset_accuracy"] + 0.05
    assert metrics["bce_half_hamming"] < metrics["softmax_tuned_hamming"] - 0.01
    assert metrics["softmax_tuned_micro_f1"] > metrics["softmax_half_micro_f1"] + 0.1  # 0.5 is wrong for softmax


def test_tuned_thresholds_lift_rare_labels_but_not_exact_matches(metrics):
    assert metrics["bce_tuned_macro_f1"] > metrics["bce_half_macro_f1"] + 0.01
    assert metrics["rare_f1_gain"] > metrics["common_f1_gain"] + 0.03
    assert metrics["bce_tuned_subset_accuracy"] <= metrics["bce_half_subset_accuracy"] + 0.005
