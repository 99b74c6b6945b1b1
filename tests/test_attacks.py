"""fgsm and pgd equal captum's FGSM and PGD; a linear model's FGSM step by hand; fit(batch_transform=half_perturbed(...)) attacks every batch."""
import pytest
import torch
import torch.nn.functional as F
from captum.robust import FGSM, PGD
from torch import nn

from fmlab import data
from fmlab.attacks import fgsm, gaussian_noise, half_perturbed, input_gradient, pgd, random_sign
from fmlab.fit import fit
from fmlab.nets import MLP, init_weights

pytestmark = pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients")


def summed_ce(logits, y):
    """Per-example cross-entropy (B,): captum differentiates their sum, as fgsm does."""
    return F.cross_entropy(logits, y, reduction="none")


@pytest.fixture(scope="module")
def digits():
    split = data.digits(seed=0)
    model = init_weights(MLP(64, 10, width=32, depth=1), 0)
    fit(model, torch.optim.Adam(model.parameters(), lr=3e-3), (split.X_train, split.y_train), epochs=2, seed=0)
    return model.eval(), split.X_val[:200], split.y_val[:200]


def test_fgsm_equals_captum(digits):
    model, X, y = digits
    theirs = FGSM(model, loss_func=summed_ce, lower_bound=0.0, upper_bound=1.0).perturb(X, epsilon=0.1, target=y)
    ours = fgsm(model, X, y, 0.1)
    assert (ours - theirs).abs().max().item() < 1e-6
    assert (ours - X).abs().max().item() == pytest.approx(0.1, abs=1e-6)  # the whole budget, on some pixel


def test_pgd_equals_captum(digits):
    model, X, y = digits
    attack = PGD(model, loss_func=summed_ce, lower_bound=0.0, upper_bound=1.0)
    theirs = attack.perturb(X, radius=0.1, step_size=0.025, step_num=10, target=y)
    ours = pgd(model, X, y, eps=0.1, alpha=0.025, steps=10)
    assert (ours - theirs).abs().max().item() < 1e-6
    assert (ours - X).abs().max().item() <= 0.1 + 1e-6 and ours.min() >= 0 and ours.max() <= 1


def test_pgd_with_a_random_start_equals_captum_from_the_same_seed(digits):
    model, X, y = digits
    attack = PGD(model, loss_func=summed_ce, lower_bound=0.0, upper_bound=1.0)
    torch.manual_seed(7)
    theirs = attack.perturb(X, radius=0.1, step_size=0.025, step_num=5, target=y, random_start=True)
    torch.manual_seed(7)
    ours = pgd(model, X, y, eps=0.1, alpha=0.025, steps=5, random_start=True)
    assert (ours - theirs).abs().max().item() < 1e-5


def test_on_images_too():
    model = init_weights(nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3)), 1)
    X, y = torch.rand(16, 1, 4, 4, generator=torch.Generator().manual_seed(0)), torch.arange(16) % 3
    theirs = FGSM(model, loss_func=summed_ce, lower_bound=0.0, upper_bound=1.0).perturb(X, epsilon=0.05, target=y)
    assert (fgsm(model, X, y, 0.05) - theirs).abs().max().item() < 1e-6


def linear_model():
    """Two classes, three inputs: logits = W x with w_0 = (1, -1, 0), w_1 = (-1, 2, 0); no class reads input 3."""
    model = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -1.0, 0.0], [-1.0, 2.0, 0.0]]))
    return model


def test_fgsm_by_hand_on_a_linear_model():
    # ∇ₓ CE = Σ_k p_k w_k − w_y; for y = 0 that is p_1 (w_1 − w_0) = p_1 (−2, 3, 0): signs (−1, +1, 0):
    # the third pixel, which no class reads, does not move
    model, X, y = linear_model(), torch.tensor([[0.5, 0.5, 0.5]]), torch.tensor([0])
    p1 = torch.softmax(model(X), dim=1)[0, 1].item()
    assert input_gradient(model, X, y)[0].tolist() == pytest.approx([-2 * p1, 3 * p1, 0.0], abs=1e-6)
    assert fgsm(model, X, y, 0.1)[0].tolist() == pytest.approx([0.4, 0.6, 0.5], abs=1e-6)
    # near the edges of [0, 1] the step is clamped
    assert fgsm(model, torch.tensor([[0.05, 0.98, 0.5]]), y, 0.1)[0].tolist() == pytest.approx([0.0, 1.0, 0.5])


def test_pgd_by_hand_on_a_linear_model():
    # the gradient's sign never changes for this model, so k steps of α go min(kα, ε) along it
    model, X, y = linear_model(), torch.tensor([[0.5, 0.5, 0.5]]), torch.tensor([0])
    assert pgd(model, X, y, eps=0.1, alpha=0.03, steps=2)[0].tolist() == pytest.approx([0.44, 0.56, 0.5], abs=1e-6)
    assert pgd(model, X, y, eps=0.1, alpha=0.03, steps=5)[0].tolist() == pytest.approx([0.4, 0.6, 0.5], abs=1e-6)


def test_random_sign_has_the_same_budget_in_a_random_direction():
    X = torch.full((100, 64), 0.5)
    noisy = random_sign(X, 0.1, torch.Generator().manual_seed(0))
    assert torch.allclose((noisy - X).abs(), torch.full_like(X, 0.1))
    assert 0.4 < ((noisy - X) > 0).float().mean().item() < 0.6


def test_fit_perturbs_every_batch_it_draws():
    split = data.digits(seed=0)
    X, y = split.X_train[:256], split.y_train[:256]
    seen = []

    def spy(model, X_batch, y_batch):
        seen.append((X_batch.clone(), y_batch.clone()))
        return X_batch

    model = init_weights(MLP(64, 10, width=16, depth=0), 0)
    out = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=2, batch_size=64,
              batch_transform=half_perturbed(spy))
    assert len(seen) == out.steps == 8  # once per step, not once per run
    rows = {tuple(r.tolist()): int(label) for r, label in zip(X, y)}
    assert all(rows[tuple(r.tolist())] == int(label) for Xb, yb in seen for r, label in zip(Xb, yb))

    # with an identity perturbation, ½ CE + ½ CE is plain fit
    plain = init_weights(MLP(64, 10, width=16, depth=0), 0)
    fit(plain, torch.optim.SGD(plain.parameters(), lr=0.1), (X, y), epochs=2, batch_size=64)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(model.parameters(), plain.parameters()))


def test_adversarial_batches_come_from_the_current_weights():
    # the FGSM perturbation of the same batch changes as the model trains
    split = data.digits(seed=0)
    X, y = split.X_train[:128], split.y_train[:128]
    deltas = []

    def attack(model, X_batch, y_batch):
        X_adv = fgsm(model, X_batch, y_batch, 0.1)
        deltas.append((X_adv - X_batch).sign())
        return X_adv

    model = init_weights(MLP(64, 10, width=16, depth=0), 0)
    fit(model, torch.optim.Adam(model.parameters(), lr=1e-2), (X, y), epochs=5, batch_size=128,
        batch_transform=half_perturbed(attack))
    assert (deltas[0] != deltas[-1]).float().mean().item() > 0.05


def test_gaussian_noise_ignores_the_model_and_stays_in_range():
    noise = gaussian_noise(0.5, torch.Generator().manual_seed(0))
    X = torch.rand(50, 64)
    out = noise(None, X, None)
    assert out.min() >= 0 and out.max() <= 1 and (out - X).abs().mean() > 0.1
