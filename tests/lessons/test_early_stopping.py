"""Early-stopping demo: U-shaped validation loss, stop near the best epoch, restore its weights exactly."""
import math

import numpy as np
import pytest

from fmlab import overfitting
from fmlab.demo import silent
from fmlab.demos import early_stopping


@pytest.fixture(scope="module")
def result():
    cfg = early_stopping.Config()
    return cfg, early_stopping.run(cfg)


@pytest.fixture(scope="module")
def val_losses(result):
    """Per-epoch validation loss of the run without early stopping and of the patience run, retrained by hand."""
    cfg, _r = result
    s = early_stopping.sets(cfg)
    _m, full = early_stopping.train(cfg, *s.train, cfg.max_epochs, silent, s.val)
    stopper = overfitting.EarlyStopping(cfg.patience)
    _m, stopped = early_stopping.train(cfg, *s.train, cfg.max_epochs, silent, s.val, stopper)
    return full.history["val_loss"], stopped.history["val_loss"]


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(early_stopping.CLAIM, r)


def test_the_claim_fails_without_a_rise_or_when_restoring_does_not_help(result):
    _cfg, r = result
    m = r.metrics
    assert early_stopping.CLAIM.check({**m, "last_val_loss": m["min_val_loss_full_run"] + 0.05}) is False
    assert early_stopping.CLAIM.check({**m, "test_acc_last": m["test_acc_restored"]}) is False


def test_validation_loss_is_u_shaped_while_training_loss_falls(result, val_losses):
    cfg, r = result
    m = r.metrics
    val = val_losses[0]
    assert min(val) == m["min_val_loss_full_run"] and val[-1] == m["last_val_loss"]  # the run the metrics describe
    assert len(val) == cfg.max_epochs
    assert 3 <= m["best_epoch_full_run"] <= cfg.max_epochs - 10  # an interior minimum ...
    assert m["last_val_loss"] > m["min_val_loss_full_run"] + 0.15  # ... and a clear rise after it
    assert val[0] > m["min_val_loss_full_run"] + 0.3
    assert m["last_train_loss"] < 0.5 * m["min_val_loss_full_run"]  # the net keeps fitting its (noisy) training set


def test_early_stopping_stops_patience_epochs_after_the_best_and_restores_it(result, val_losses):
    cfg, r = result
    m = r.metrics
    assert m["stop_epoch"] == m["best_epoch"] + cfg.patience < cfg.max_epochs
    assert abs(m["best_epoch"] - m["best_epoch_full_run"]) <= 2  # near the full run's best epoch
    # the restored model IS the best epoch's model: same validation loss as recorded at that epoch
    assert math.isclose(m["restored_val_loss"], m["best_val_loss"], rel_tol=0, abs_tol=1e-6)
    full, stopped = val_losses
    assert len(stopped) == m["stop_epoch"]
    assert m["best_val_loss"] == min(stopped) == stopped[int(m["best_epoch"]) - 1]
    # same seed: the stopped run retraces the full run epoch for epoch until it stops
    assert np.allclose(stopped, full[:len(stopped)], atol=1e-6)


def test_restoring_beats_the_last_epoch_and_patience_zero_stops_too_soon(result):
    cfg, r = result
    m = r.metrics
    assert m["test_acc_restored"] > m["test_acc_last"] + 0.02
    assert m["test_acc_restored"] >= m["test_acc_at_stop"]
    # patience 0 gives up on the first uptick, before the epoch with the lowest validation loss (as the verdict says)
    assert m["stop_epoch_p0"] < m["best_epoch_full_run"]
    assert "before the best epoch" in r.verdict.en and "早于最佳 epoch" in r.verdict.zh


def test_learning_curve_gap_closes_with_more_data(result):
    _cfg, r = result
    m = r.metrics
    first, last = early_stopping.CURVE_SIZES[0], early_stopping.CURVE_SIZES[-1]
    assert m[f"lc_gap_n{last}"] < m[f"lc_gap_n{first}"] - 0.05
    assert m[f"lc_val_acc_n{last}"] > m[f"lc_val_acc_n{first}"] + 0.1


def test_kfold_estimate_is_close_to_the_validation_set(result):
    cfg, r = result
    m = r.metrics
    assert m["kfold_std_acc"] > 0  # one split is a noisy estimate: the folds disagree
    assert abs(m["kfold_mean_acc"] - m["val_acc_kfold_recipe"]) < 0.1


def test_the_table_names_each_rule_in_both_languages(result):
    cfg, r = result
    (table,) = r.tables
    rules = {lang: [row[table.columns["rule"].get(lang)] for row in table.frame(lang)] for lang in ("en", "zh")}
    p = cfg.patience
    assert rules["en"] == [f"patience {p}, restored", f"patience {p}, not restored", "no early stopping"]
    assert rules["zh"] == [f"patience {p}，恢复最佳权重", f"patience {p}，不恢复", "不早停"]
    restored, at_stop, last = table.rows
    assert restored["best"] == r.metrics["best_epoch"] and at_stop["best"] == at_stop["stop"] == r.metrics["stop_epoch"]
    assert last["stop"] == cfg.max_epochs and restored["test"] > last["test"]
