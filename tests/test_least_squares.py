"""Least squares: the normal equations against numpy and scikit-learn, the Hessian against autograd,
and gradient descent against the step-size theory (1/L lands at once when κ = 1, above 2/L diverges)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LinearRegression

from fmlab.least_squares import closed_form, condition, descend, design, hessian, mse


@pytest.fixture
def line():
    rng = np.random.default_rng(0)
    x = 5.0 + rng.standard_normal(100)
    return x, 1.5 * x - 3.0 + rng.standard_normal(100)


def standardised(x):
    return (x - x.mean()) / x.std()


def test_closed_form_matches_lstsq_and_sklearn(line):
    x, y = line
    for feature in (x, standardised(x)):
        ours = closed_form(feature, y)
        lstsq = np.linalg.lstsq(design(feature), y, rcond=None)[0]
        sk = LinearRegression().fit(feature[:, None], y)
        assert np.allclose(ours, lstsq, atol=1e-8)
        assert np.allclose(ours, [sk.coef_[0], sk.intercept_], atol=1e-8)


def test_hessian_formula_matches_autograd(line):
    x, y = line
    X, Y = torch.tensor(x), torch.tensor(y)

    def loss(theta):
        return F.mse_loss(X * theta[0] + theta[1], Y)

    H = torch.autograd.functional.hessian(loss, torch.tensor([0.3, -0.2], dtype=torch.float64))
    assert np.allclose(H.numpy(), hessian(x), rtol=1e-10)


def test_condition_and_mse_by_hand(line):
    x, y = line
    assert condition(np.diag([8.0, 2.0])) == 4.0
    assert condition(hessian(x)) == pytest.approx(np.linalg.cond(hessian(x)))
    assert condition(hessian(standardised(x))) == pytest.approx(1.0)  # mean 0, std 1: round contours
    thetas = np.array([[0.0, 0.0], [1.0, 2.0]])
    assert np.allclose(mse(np.array([1.0, 3.0]), np.array([3.0, 5.0]), thetas), [17.0, 0.0])  # y = x + 2


def test_one_full_batch_step_of_1_over_L_lands_on_the_optimum_when_kappa_is_1(line):
    x, y = line
    z = standardised(x)
    L = np.linalg.eigvalsh(hessian(z)).max()
    path = descend(z, y, batch_size=len(z), lr=1 / L, epochs=1, seed=0)
    assert path.shape == (2, 2) and np.allclose(path[0], 0.0)
    assert np.allclose(path[1], closed_form(z, y), atol=1e-5)


def test_a_step_above_two_over_L_diverges(line):
    x, y = line
    z = standardised(x)
    L = np.linalg.eigvalsh(hessian(z)).max()
    theta = closed_form(z, y)
    for step, grows in ((1.9, False), (2.2, True)):
        path = descend(z, y, batch_size=len(z), lr=step / L, epochs=10, seed=0)
        distance = np.linalg.norm(path - theta, axis=1)
        assert (distance[-1] > distance[0]) == grows, step


def test_a_decaying_step_shrinks_like_1_over_t(line):
    x, y = line
    z = standardised(x)
    constant = descend(z, y, batch_size=1, lr=0.05, epochs=3, seed=0)
    decayed = descend(z, y, batch_size=1, lr=0.05, epochs=3, seed=0, decay=True)
    assert len(constant) == len(decayed) == 3 * len(z) + 1
    assert np.allclose(constant[1], decayed[1])  # the first step is at the full rate
    last_moves = lambda path: np.linalg.norm(np.diff(path[-len(z):], axis=0), axis=1).mean()
    assert last_moves(decayed) < 0.5 * last_moves(constant)  # a third of the step in the third pass
