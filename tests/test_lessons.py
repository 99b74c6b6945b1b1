"""Each demo shows its lesson at its default config, with a margin."""
import math

import numpy as np
import pytest
import torch

from fmlab.demos import grad_cam, gradient_clipping, loss_shapes, optimizers, self_attention


def test_adam_beats_plain_sgd_at_the_default_lr():
    m = optimizers.run(optimizers.Config()).metrics
    assert m["loss_adam"] < m["loss_sgd"] / 4
    assert m["val_acc_adam"] > m["val_acc_sgd"] + 0.2
    # on the ill-conditioned valley momentum gets much closer to the minimum than plain SGD
    assert m["surface_dist_momentum"] < m["surface_dist_sgd"] / 4


def test_grad_cam_points_at_the_object():
    m = grad_cam.run(grad_cam.Config()).metrics
    assert m["accuracy"] >= 0.95
    assert m["pointing_game"] >= 0.9
    assert m["pointing_game"] > m["pointing_game_random"] + 0.2  # the sanity check separates them
    assert m["max_diff_ours_vs_captum"] < 1e-4


def test_self_attention_solves_the_pointer_task_that_mean_pooling_cannot():
    cfg = self_attention.Config()
    m = self_attention.run(cfg).metrics
    assert m["acc_attention"] >= 0.9
    assert m["acc_mean"] <= 0.5
    assert m["pool_on_target"] >= 0.7  # the pooling query finds the token after MARK
    assert m["target_to_mark"] > 3 / cfg.length  # that token looks back at MARK far above uniform


def test_outliers_drag_the_mse_line_but_not_huber_or_l1():
    cfg = loss_shapes.Config()
    m = loss_shapes.run(cfg).metrics
    assert m["line_error_mse"] > 4 * max(m["line_error_huber"], m["line_error_l1"])
    assert max(m["line_error_huber"], m["line_error_l1"]) < 0.15
    # the MSE fit is least squares: it matches numpy's closed-form solution
    x, y, _outlier = loss_shapes.line_with_outliers(cfg)
    design = np.c_[x.numpy(), np.ones(len(x))]
    slope, intercept = np.linalg.lstsq(design, y.numpy()[:, 0], rcond=None)[0]
    assert abs(m["slope_mse"] - slope) < 0.02 and abs(m["intercept_mse"] - intercept) < 0.02


def test_loss_gradients_match_autograd():
    r, _values, grads = loss_shapes.residual_curves(delta=1.0)
    pred = torch.tensor(r, requires_grad=True)
    for name, grad in grads.items():
        (g,) = torch.autograd.grad(loss_shapes.loss_fn(name, 1.0)(pred, torch.zeros_like(pred)) * len(r), pred)
        keep = np.abs(r) > 1e-9  # L1's gradient at exactly 0 is a convention
        assert np.allclose(g.numpy()[keep], grad[keep], atol=1e-6), name


def test_clipping_rescues_the_rnn_that_exploding_gradients_break():
    m = gradient_clipping.run(gradient_clipping.Config()).metrics
    assert m["acc_unclipped"] < 0.5 and m["acc_clipped"] > 0.8
    assert m["spike_unclipped"] > 5  # rare steps far above the typical gradient (~10x on 1 thread, ~20x on 2)
    assert m["loss_clipped"] < m["loss_unclipped"] - 0.5
