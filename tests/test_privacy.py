"""fmlab.privacy: the hand-written DP-SGD step equals opacus's, our ε equals opacus's RDP accountant
without subsampling, and the attack's AUC on a case small enough to count by hand."""
import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from fmlab.nets import MLP, init_weights
from fmlab.privacy import (ORDERS, attack_auc, clip_factors, gaussian_epsilon, noisy_outputs, opacus_gradient,
                           per_example_grads, private_gradient, train_private, true_class_confidence)


@pytest.fixture
def batch():
    """A small MLP and a batch whose gradients are mostly larger than C = 1, so clipping matters."""
    g = torch.Generator().manual_seed(0)
    model = init_weights(MLP(20, 4, width=16, depth=0), 0)
    return model, torch.randn(32, 20, generator=g) * 3, torch.randint(0, 4, (32,), generator=g)


def rdp_accountant_epsilon(sigma: float, sample_rate: float, steps: int) -> float:
    from opacus.accountants import RDPAccountant

    accountant = RDPAccountant()
    accountant.history = [(sigma, sample_rate, steps)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "optimal order is the smallest alpha" at large ε
        return accountant.get_epsilon(delta=1e-5, alphas=list(ORDERS))


def test_per_example_grads_average_to_the_batch_gradient(batch):
    model, X, y = batch
    per_example = per_example_grads(model, X, y)
    model.zero_grad()
    F.cross_entropy(model(X), y).backward()
    for name, p in model.named_parameters():
        assert per_example[name].shape == (len(X), *p.shape)
        assert torch.allclose(per_example[name].mean(0), p.grad, atol=1e-6)


def test_clip_factors_by_hand():
    per_example = {"w": torch.tensor([[[1.2, 1.6]], [[0.3, 0.0]]]), "b": torch.tensor([[0.0], [0.4]])}  # norms 2, 0.5
    assert torch.allclose(clip_factors(per_example, 1.0), torch.tensor([0.5, 1.0]), atol=1e-6)


def test_our_clipped_mean_equals_opacus_without_noise(batch):
    model, X, y = batch
    per_example = per_example_grads(model, X, y)
    assert (clip_factors(per_example, 1.0) < 1).float().mean() > 0.5  # most examples were clipped
    ours = private_gradient(per_example, max_norm=1.0, noise_multiplier=0.0)
    theirs = opacus_gradient(model, X, y, max_norm=1.0, noise_multiplier=0.0, seed=0)
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert torch.allclose(ours[name], theirs[name], atol=1e-7), name


def test_our_noisy_step_equals_opacus_with_the_same_seed(batch):
    model, X, y = batch
    ours = private_gradient(per_example_grads(model, X, y), 1.0, 1.3, torch.Generator().manual_seed(7))
    theirs = opacus_gradient(model, X, y, max_norm=1.0, noise_multiplier=1.3, seed=7)
    other_seed = opacus_gradient(model, X, y, max_norm=1.0, noise_multiplier=1.3, seed=8)
    for name in ours:
        assert torch.allclose(ours[name], theirs[name], atol=1e-7), name
    assert not torch.allclose(ours["stem.weight"], other_seed["stem.weight"], atol=1e-3)


def test_the_noise_has_std_sigma_c_over_the_batch_size():
    zero = {"w": torch.zeros(50, 200, 100)}  # 50 examples with zero gradient: what is left is the noise
    out = private_gradient(zero, max_norm=2.0, noise_multiplier=1.5, generator=torch.Generator().manual_seed(0))
    noise = out["w"]  # (200, 100): 20,000 draws of N(0, (σC)²) / B
    assert abs(noise.std().item() / (1.5 * 2.0 / 50) - 1) < 0.03
    assert abs(noise.mean().item()) < 3 * (1.5 * 2.0 / 50) / math.sqrt(noise.numel())
    halved = private_gradient(zero, 2.0, 1.5, torch.Generator().manual_seed(0), expected_batch_size=100)
    assert torch.allclose(halved["w"], noise / 2)  # opacus divides by the expected batch size


@pytest.mark.parametrize("sigma, steps", [(0.8, 10), (1.5, 100), (4.0, 1000)])
def test_gaussian_epsilon_equals_opacus_rdp_accountant_at_sampling_rate_one(sigma, steps):
    assert gaussian_epsilon(sigma, steps) == pytest.approx(rdp_accountant_epsilon(sigma, 1.0, steps), rel=1e-9)


def test_more_noise_smaller_epsilon_and_subsampling_amplifies():
    sigmas = [0.5, 1.0, 2.0, 4.0, 8.0]
    ours = [gaussian_epsilon(s, 150) for s in sigmas]
    theirs = [rdp_accountant_epsilon(s, 0.2, 150) for s in sigmas]
    assert ours == sorted(ours, reverse=True) and theirs == sorted(theirs, reverse=True)
    assert all(t < o for t, o in zip(theirs, ours))  # each record in 20% of batches: far smaller ε
    assert gaussian_epsilon(2.0, 300) > gaussian_epsilon(2.0, 150)  # more steps, more privacy spent


def test_train_private_reports_progress_and_its_epsilon_is_the_accountants():
    g = torch.Generator().manual_seed(1)
    X, y = torch.randn(200, 20, generator=g), torch.randint(0, 4, (200,), generator=g)
    events = []
    runs = [train_private(init_weights(MLP(20, 4, width=16, depth=0), 0), X, y, noise_multiplier=2.0,
                          max_grad_norm=1.0, batch_size=50, epochs=3, lr=1e-2, seed=3, report=events.append)
            for _ in range(2)]
    (eps, losses), again = runs
    assert again == (eps, losses)  # same seed, same batches, same noise
    assert len(losses) == 12 and all(math.isfinite(v) for v in losses)
    assert eps == pytest.approx(rdp_accountant_epsilon(2.0, 50 / 200, 12))
    fractions = [e.fraction for e in events[:12]]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_attack_auc_by_hand():
    members, outsiders = torch.tensor([0.9, 0.8]), torch.tensor([0.1, 0.85])
    assert attack_auc(members, outsiders) == pytest.approx(3 / 4)  # 3 of the 4 member/outsider pairs ranked right
    probs = torch.tensor([[0.7, 0.3], [0.2, 0.8]])
    assert true_class_confidence(probs, torch.tensor([1, 1])).tolist() == pytest.approx([0.3, 0.8])


def test_averaging_queries_shrinks_output_noise_by_root_q():
    probs = torch.full((2000, 4), 0.25)
    g = torch.Generator().manual_seed(0)
    one, many = (noisy_outputs(probs, 0.5, q, g) - probs for q in (1, 100))
    assert one.std().item() == pytest.approx(0.5, rel=0.03)
    assert many.std().item() == pytest.approx(0.05, rel=0.03)
