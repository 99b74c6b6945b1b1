"""dp-sgd: noise on a non-private model's outputs is averaged away by repeated queries, DP-SGD brings the
membership attack near chance, smaller ε costs accuracy, and our DP-SGD step equals opacus's."""
import subprocess
import sys

import pytest

from fmlab.demos import dp_sgd as demo


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_the_non_private_model_leaks_even_behind_noisy_outputs(result):
    _cfg, r = result
    m = r.metrics
    assert m["train_acc_non_private"] > m["test_acc_non_private"] + 0.1  # it memorised its records
    assert m["auc_non_private"] > 0.58
    assert m["test_acc_output_noise"] < m["test_acc_non_private"] - 0.1  # the noise costs accuracy ...
    assert m["auc_output_noise_avg"] > m["auc_non_private"] - 0.02  # ... and hides nothing from 100 queries


def test_dp_sgd_trades_accuracy_for_epsilon_and_stops_the_attack(result):
    cfg, r = result
    m = r.metrics
    sigmas = sorted(cfg.noise_multipliers)
    eps = [m[f"eps_{s:g}"] for s in sigmas]
    assert eps == sorted(eps, reverse=True) and eps[-1] < 2  # more noise, smaller ε
    assert all(m[f"eps_{s:g}"] < m[f"full_batch_eps_{s:g}"] / 3 for s in sigmas)  # Poisson subsampling amplifies
    assert m[f"test_acc_dp_{sigmas[0]:g}"] - m[f"test_acc_dp_{sigmas[-1]:g}"] > 0.06
    assert all(m[f"auc_dp_{s:g}"] < min(0.56, m["auc_non_private"] - 0.04) for s in sigmas)
    assert m["max_diff_ours_vs_opacus"] < 1e-6


def test_the_table_has_a_row_per_model(result):
    cfg, r = result
    assert len(r.tables[0].rows) == 2 + len(cfg.noise_multipliers)


def test_the_demo_module_does_not_import_opacus():
    code = "import sys; import fmlab.demos.dp_sgd; print('opacus' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_predicate_on_hand_made_metrics():
    m = {"output_noise": 0.5, "queries": 100, "auc_non_private": 0.62, "auc_output_noise_avg": 0.63,
         "test_acc_non_private": 0.83, "test_acc_output_noise": 0.67,
         "eps_1": 20.0, "eps_8": 1.3, "test_acc_dp_1": 0.84, "test_acc_dp_8": 0.74, "auc_dp_1": 0.55, "auc_dp_8": 0.53}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "auc_output_noise_avg": 0.55}) is False  # the noise did hide membership
    assert demo.CLAIM.check({**m, "auc_dp_8": 0.6}) is False  # DP did not stop the attack
    assert demo.CLAIM.check({**m, "test_acc_dp_8": 0.83}) is False  # privacy came for free
    assert demo.CLAIM.check({**m, "auc_non_private": 0.52, "auc_output_noise_avg": 0.52}) is False  # nothing leaked
    assert demo.CLAIM.check({**m, "output_noise": 0.0}) is None  # no noisy outputs to test
    assert demo.CLAIM.check({**m, "queries": 1}) is None  # no repeated queries to average
    one = {k: v for k, v in m.items() if not k.endswith("_8")}
    assert demo.CLAIM.check(one) is None  # one σ: no trade-off to see
