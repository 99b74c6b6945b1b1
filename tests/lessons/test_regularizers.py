"""Regularisers: each narrows the MLP's train/validation gap; L1 zeroes noise-feature weights, L2 only shrinks them.

The penalties themselves are checked in tests/test_penalties.py.
"""
import pytest

from fmlab.demos import regularizers as reg


@pytest.fixture(scope="module")
def result():
    cfg = reg.Config()
    assert cfg.num_noise == 20 and cfg.num_train == 200
    return reg.run(cfg)


@pytest.fixture(scope="module")
def metrics(result):
    return result.metrics


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    shows_claim(reg.CLAIM, result)
    assert "Every regulariser narrowed" in result.verdict.en and "feature selection" in result.verdict.en


def test_the_claim_fails_without_sparsity_and_is_not_tested_without_noise(metrics):
    m = dict(metrics)
    assert reg.CLAIM.check({**m, "noise_near_zero_l1": m["noise_near_zero_l2"] + 0.1}) is False
    assert reg.CLAIM.check({**m, "gap_dropout": m["gap_none"]}) is False  # dropout did not narrow the gap
    assert reg.CLAIM.check({**m, "val_loss_l2": m["val_loss_none"]}) is False
    assert reg.CLAIM.check({**m, "num_noise": 0.0}) is None


def test_the_unregularised_mlp_fits_the_noise(metrics):
    assert metrics["train_acc_none"] > 0.99
    assert metrics["gap_none"] > 0.15


def test_every_regulariser_narrows_the_gap_and_validates_better(metrics):
    m = metrics
    for r in ("l1", "l2"):
        assert m[f"gap_{r}"] < m["gap_none"] - 0.1, r
    assert m["gap_dropout"] < m["gap_none"] - 0.02  # dropout is the mildest of the three here
    for r in ("l1", "l2", "dropout"):
        assert m[f"val_acc_{r}"] > m["val_acc_none"] + 0.02, r
        assert m[f"val_loss_{r}"] < m["val_loss_none"] - 0.3, r
    assert max(m["gap_l1"], m["gap_l2"], m["gap_dropout"]) < m["gap_none"]  # none has the largest gap (the quiz)


def test_l1_zeroes_the_noise_weights_and_l2_only_shrinks_them(metrics):
    m = metrics
    assert m["noise_near_zero_l1"] >= 0.6
    assert m["noise_near_zero_l2"] <= 0.3
    assert m["noise_near_zero_l1"] > m["noise_near_zero_l2"] + 0.4
    assert m["noise_near_zero_none"] <= 0.1
    assert m["noise_mean_l2"] < 0.5 * m["noise_mean_none"]  # L2 shrinks them ...
    assert m["noise_mean_l2"] > 3 * reg.NEAR_ZERO  # ... but leaves them clearly non-zero
    assert m["informative_l1"] > 10 * m["noise_mean_l1"]  # L1 keeps the two useful features


def test_noise_features_are_appended_to_the_moons():
    cfg = reg.Config(num_noise=5, num_train=60)
    split = reg.moons_with_noise(cfg)
    assert split.X_train.shape == (60, 7) and split.X_val.shape == (reg.NUM_VAL, 7)
    assert abs(split.X_val[:, 2:].std().item() - 1.0) < 0.05


def test_the_tables_name_each_run_in_both_languages(result):
    mlp_table, linear_table = result.tables
    for table, runs in ((mlp_table, reg.RUNS), (linear_table, reg.LINEAR_RUNS)):
        for lang in ("en", "zh"):
            header = table.columns["run"].get(lang)
            assert [row[header] for row in table.frame(lang)] == [reg.NAMES[r].get(lang) for r in runs]
    assert [row["gap"] for row in mlp_table.rows] == [round(result.metrics[f"gap_{r}"], 3) for r in reg.RUNS]
