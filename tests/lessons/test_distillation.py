"""distillation: a frozen teacher trained on labels teaches a 16× smaller student on a separate unlabelled
transfer set; the student beats cross-entropy on its few labels and nears the all-labels reference."""
import dataclasses

import pytest
import torch

from fmlab import data
from fmlab.demos import distillation as demo


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_distillation_replaces_the_missing_labels(result):
    _cfg, r = result
    m = r.metrics
    assert m["acc_teacher"] >= 0.93
    assert m["acc_distilled"] >= m["acc_few_labels"] + 0.08
    assert m["acc_distilled"] >= m["acc_all_labels"] - 0.04
    assert m["acc_distilled"] <= m["acc_teacher"] + 0.01  # the student does not beat its teacher
    assert 15 < m["param_ratio"] < 17  # 64-256-10 vs 64-16-10
    assert m["num_transfer"] == 1258 - 500


def test_dark_knowledge_the_loss_checks_and_the_T_squared_factor(result):
    _cfg, r = result
    m = r.metrics
    assert m["teacher_top_t1"] > 0.98 and m["teacher_top_t4"] < 0.8  # almost one-hot at T = 1, softer at T = 4
    assert m["kd_vs_by_hand"] < 1e-5
    assert m["log_target_is_nan"] == 1.0 and abs(m["wrong_probs_as_input"] - m["kd_loss"]) > 0.01
    assert 0.7 < m["grad_ratio_scaled"] < 1.5 and m["grad_ratio_unscaled"] < 0.03
    assert "NaN" in r.verdict.en and "NaN" in r.verdict.zh


def test_no_one_but_the_reference_sees_the_transfer_labels(monkeypatch):
    """Scramble the transfer set's labels: the teacher and the distilled student do not change."""
    cfg = demo.Config(**demo.DEMO.smoke)
    clean = demo.run(cfg).metrics
    split = data.digits(seed=cfg.seed)
    scrambled = dataclasses.replace(split, y_train=torch.cat([split.y_train[:cfg.num_labelled],
                                                              (split.y_train[cfg.num_labelled:] + 1) % 10]))
    monkeypatch.setattr(demo.data, "digits", lambda seed: scrambled.copy())
    m = demo.run(cfg).metrics
    for k in ("acc_teacher", "acc_few_labels", "acc_distilled", "kd_loss"):
        assert m[k] == clean[k], k
    assert m["acc_all_labels"] < clean["acc_all_labels"] - 0.2  # the reference did learn from them


def test_the_predicate_on_hand_made_metrics():
    m = {"acc_few_labels": 0.80, "acc_distilled": 0.93, "acc_all_labels": 0.95}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "acc_few_labels": 0.90}) is False  # not a wide margin over the few labels
    assert demo.CLAIM.check({**m, "acc_all_labels": 0.99}) is False  # far from the reference
    assert demo.CLAIM.check({"acc_distilled": 0.93}) is None  # nothing to compare with
