"""Training diagnostics: each pathology is produced live and diagnose() names it from the run's numbers.
diagnose() and its signals on their own: tests/test_diagnosis.py."""
import math
from functools import cache

import pytest
import torch

from fmlab import data
from fmlab.demos import training_diagnostics as td
from fmlab.diagnosis import READINGS, dead_shares


@cache
def result(problem: str):
    return td.run(td.Config(problem=problem))


def metrics(problem: str) -> dict[str, float]:
    return result(problem).metrics


def test_the_claim_holds_at_the_defaults(shows_claim):
    shows_claim(td.CLAIM, result(td.Config().problem))


def test_the_claim_fails_when_either_run_is_misread():
    both = {"diagnosed_correctly": 1.0, "healthy_diagnosed_healthy": 1.0}
    assert td.CLAIM.check(both) is True
    assert td.CLAIM.check({**both, "diagnosed_correctly": 0.0}) is False
    assert td.CLAIM.check({**both, "healthy_diagnosed_healthy": 0.0}) is False


@pytest.mark.parametrize("problem", td.PROBLEMS)
def test_diagnose_names_the_pathology_its_run_produced(problem):
    r = result(problem)
    assert r.metrics["diagnosed_correctly"] == 1.0
    assert r.metrics["healthy_diagnosed_healthy"] == 1.0
    sign, fix = READINGS[problem]
    assert f"{td.NAMES[problem].en} — {sign.en}. Fix: {fix.en}." in r.verdict.en  # the verdict names it, and the fix
    assert f"{td.NAMES[problem].zh}——{sign.zh}。修正方法：{fix.zh}。" in r.verdict.zh


def test_the_default_pathology_in_numbers():
    cfg = td.Config()
    assert cfg.problem == "lr_high"
    m = metrics(cfg.problem)
    assert abs(m["start_loss_healthy"] - math.log(10)) < 0.15  # a sane start is ln C
    assert m["train_loss_healthy"] < 0.15 and m["val_acc_healthy"] > 0.95
    assert m["val_loss_healthy"] - m["train_loss_healthy"] < 0.1
    # 100× the learning rate: the loss spikes far above its start, then stays at or above chance
    assert m["peak_loss_problem"] > 10 * m["start_loss_problem"]
    assert m["train_loss_problem"] > 0.9 * math.log(10) and m["val_acc_problem"] < 0.2
    assert m["dead_share_problem"] > 0.9 > 0.3 > m["dead_share_healthy"]  # the blow-up killed the ReLUs


def test_each_signature_separates_from_the_healthy_run():
    assert metrics("overfit")["val_loss_problem"] - metrics("overfit")["train_loss_problem"] > 0.3
    assert metrics("label_noise")["val_loss_problem"] < 0.6 * metrics("label_noise")["train_loss_problem"]
    assert metrics("label_shuffle")["val_acc_problem"] < 0.2
    lr_low = metrics("lr_low")
    assert lr_low["train_loss_problem"] > 0.8 * lr_low["start_loss_problem"] and lr_low["val_acc_problem"] > 0.3
    assert metrics("dead_relu")["dead_share_problem"] == 1.0


def test_the_dead_relu_net_is_dead_before_any_training():
    split = data.digits(seed=0)
    assert dead_shares(td.build("dead_relu", seed=0), split.X_val)[-1] == 1.0
    assert max(dead_shares(td.build("healthy", seed=0), split.X_val)) < 0.1


def test_label_bugs_change_only_the_labels():
    split = data.digits(seed=0)
    X, y = td.training_set("label_shuffle", split, seed=0)
    assert torch.equal(X, split.X_train) and torch.equal(y.sort().values, split.y_train.sort().values)
    assert (y == split.y_train).float().mean() < 0.2  # same label counts, no longer matching their images
    _X, noisy = td.training_set("label_noise", split, seed=0)
    wrong = (noisy != split.y_train).float().mean().item()
    assert abs(wrong - td.NOISE * 0.9) < 0.05  # a random replacement is right 1 time in 10
