"""monitoring: PSI equals the symmetrised KL divergence of the binned shares (scipy), drift brightens and
noises images, the risk-coverage curve by hand."""
import numpy as np
import torch
from scipy.stats import entropy

from fmlab import monitoring


def test_psi_is_the_symmetric_kl_of_the_binned_shares():
    rng = np.random.default_rng(0)
    reference, current = rng.normal(0, 1, 5000), rng.normal(0.5, 1.2, 800)
    edges = monitoring.bin_edges(reference, 10)
    e, a = monitoring.shares(reference, edges), monitoring.shares(current, edges)
    assert np.isclose(monitoring.psi(reference, current), entropy(a, e) + entropy(e, a))
    assert np.allclose(e, 0.1, atol=1e-3)  # quantile bins: the reference fills each tenth


def test_psi_is_small_for_the_same_distribution_and_grows_with_the_shift():
    rng = np.random.default_rng(1)
    reference = rng.normal(0, 1, 5000)
    same, shifted, far = (monitoring.psi(reference, rng.normal(mu, 1, 1000)) for mu in (0.0, 0.3, 1.0))
    assert same < 0.05 < shifted < far
    assert far > 0.25  # a one-sigma shift is a "major" shift by the usual rule


def test_an_empty_bin_keeps_psi_finite():
    assert np.isfinite(monitoring.psi(np.arange(100.0), np.full(50, 10.0)))


def test_drift_is_clean_at_zero_severity_and_stays_in_range():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(32, 64)
    assert torch.equal(monitoring.drifted(X, 0.0, 0.3, 0.4, g), X)
    out = monitoring.drifted(X, 1.0, 0.3, 0.4, g)
    assert out.min() >= 0 and out.max() <= 1 and out.mean() > X.mean()


def test_risk_coverage_by_hand():
    confidence = np.array([0.9, 0.8, 0.7, 0.6])
    correct = np.array([True, True, False, False])
    coverage, risk = monitoring.risk_coverage(confidence, correct)
    assert coverage.tolist() == [0.25, 0.5, 0.75, 1.0]
    assert risk.tolist() == [0.0, 0.0, 1 / 3, 0.5]
    assert monitoring.risk_at(coverage, risk, 0.8) == 1 / 3
