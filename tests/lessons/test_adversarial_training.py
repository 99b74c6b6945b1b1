"""adversarial-training: training on the current model's FGSM examples buys PGD accuracy that Gaussian-noise training
does not, at almost no clean cost; random signs of the same (or twice the) size barely hurt any model."""
import pytest

from fmlab.demos import adversarial_training as demo


@pytest.fixture(scope="module")
def result():
    return demo.run(demo.Config())


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    shows_claim(demo.CLAIM, result)


def test_adversarial_training_buys_robust_accuracy_that_noise_does_not(result):
    m = result.metrics
    assert m["pgd_acc_adversarial"] > 0.65
    assert m["pgd_acc_adversarial"] > m["pgd_acc_noise"] + 0.12 > m["pgd_acc_standard"] + 0.12
    assert m["pgd_acc_standard"] < 0.6  # the attack really hurts the standard model
    assert all(m[f"clean_acc_{n}"] > 0.94 for n in demo.MODELS)  # and none of them pays much on clean digits


def test_random_signs_are_not_an_attack(result):
    m = result.metrics
    for n in demo.MODELS:
        assert m[f"clean_acc_{n}"] - m[f"random_acc_{n}"] < 0.03  # the same ε in a random direction
        assert m[f"clean_acc_{n}"] - m[f"random_2eps_acc_{n}"] < 0.1  # even twice as large
    assert m["clean_acc_standard"] - m["fgsm_acc_standard"] > 0.3  # FGSM's chosen signs
    assert m["l1_over_l2"] > 4  # ‖g‖₁/‖g‖₂: why the sign of the gradient beats a random sign


def test_the_evaluation_is_not_fooled_by_masked_gradients(result):
    m = result.metrics
    assert all(m[f"pgd_acc_max_eps_{n}"] < 0.1 for n in demo.MODELS)  # at ε = 0.3 PGD breaks every model
    assert m["pgd_acc_adversarial"] <= m["fgsm_acc_adversarial"] + 0.02  # PGD no weaker than FGSM


def test_adversarial_training_moves_the_gradient_onto_the_strokes(result):
    m = result.metrics
    assert m["ink_share_adversarial"] > m["ink_share_standard"] + 0.08
    assert abs(m["ink_share_standard"] - m["ink_pixels"]) < 0.1  # the standard model's is spread like the pixels


def test_the_table_has_one_row_per_model(result):
    (table,) = result.tables
    assert [row["model"] for row in table.rows] == [demo.NAMES[n] for n in demo.MODELS]


def test_the_predicate_on_hand_made_metrics():
    m = {"clean_acc_standard": 0.97, "clean_acc_noise": 0.97, "clean_acc_adversarial": 0.96,
         "pgd_acc_standard": 0.45, "pgd_acc_noise": 0.52, "pgd_acc_adversarial": 0.75}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "pgd_acc_noise": 0.7}) is False  # noise training as robust: no lesson
    assert demo.CLAIM.check({**m, "clean_acc_adversarial": 0.9}) is False  # robustness bought with clean accuracy
    assert demo.CLAIM.check({**m, "pgd_acc_standard": 0.9}) is None  # ε too small to hurt anyone: untested
    assert demo.CLAIM.check({"pgd_acc_standard": 0.4}) is None  # metrics of a run that did not finish
