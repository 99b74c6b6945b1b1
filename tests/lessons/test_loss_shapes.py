"""loss-shapes: a few gross outliers drag the MSE line (least squares) far from the truth while L1 and
Huber, whose gradients are bounded, stay on it; the plotted gradients are the losses' real gradients."""
import numpy as np
import pytest
import torch

from fmlab.demos import loss_shapes as demo


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    assert cfg.outlier_fraction > 0 and cfg.outlier_shift >= 3
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_outliers_drag_the_mse_line_but_not_huber_or_l1(result):
    cfg, r = result
    m = r.metrics
    assert m["line_error_mse"] > 4 * max(m["line_error_huber"], m["line_error_l1"])
    assert max(m["line_error_huber"], m["line_error_l1"]) < 0.15
    # the MSE fit is least squares: it matches numpy's closed-form solution
    x, y, _outlier = demo.line_with_outliers(cfg)
    design = np.c_[x.numpy(), np.ones(len(x))]
    slope, intercept = np.linalg.lstsq(design, y.numpy()[:, 0], rcond=None)[0]
    assert abs(m["slope_mse"] - slope) < 0.02 and abs(m["intercept_mse"] - intercept) < 0.02


def test_the_verdict_counts_the_outliers_and_states_the_drag(result):
    cfg, r = result
    m = r.metrics
    _x, _y, outlier = demo.line_with_outliers(cfg)
    count, num = int(outlier.sum()), len(outlier)
    assert f"{count} of {num} points ({count / num:.1%}) were shifted up by {cfg.outlier_shift:g}" in r.verdict.en
    assert f"MSE was pulled {m['line_error_mse']:.2f} away" in r.verdict.en
    robust = min(m["line_error_l1"], m["line_error_huber"])
    assert f"偏离不超过 {robust:.2f}" in r.verdict.zh


def test_loss_gradients_match_autograd():
    r, _values, grads = demo.residual_curves(delta=1.0)
    pred = torch.tensor(r, requires_grad=True)
    for name, grad in grads.items():
        (g,) = torch.autograd.grad(demo.loss_fn(name, 1.0)(pred, torch.zeros_like(pred)) * len(r), pred)
        keep = np.abs(r) > 1e-9  # L1's gradient at exactly 0 is a convention
        assert np.allclose(g.numpy()[keep], grad[keep], atol=1e-6), name


def test_settings_without_gross_outliers_do_not_test_the_claim():
    m = {"outlier_share": 0.1, "outlier_shift": 8.0, "line_error_mse": 0.8, "line_error_l1": 0.05,
         "line_error_huber": 0.1}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "outlier_share": 0.0}) is None
    assert demo.CLAIM.check({**m, "outlier_shift": 1.0}) is None  # a shift near the noise is no gross outlier
    assert demo.CLAIM.check({**m, "line_error_huber": 0.3}) is False  # Huber dragged too (δ too large)
