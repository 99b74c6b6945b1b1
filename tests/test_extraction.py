"""fmlab.extraction: the API's two modes, the soft-target loss, and FGSM checked against captum's FGSM."""
import torch
import torch.nn.functional as F
from captum.robust import FGSM
from torch import nn

from fmlab.extraction import accuracy, agreement, fgsm, prediction_api, sign_noise, steal_loss
from fmlab.nets import MLP, init_weights


def net(seed=0):
    return init_weights(MLP(64, 10, width=32, depth=0), seed).eval()


def test_the_api_returns_probabilities_or_only_the_top_label():
    model, X = net(), torch.rand(5, 64, generator=torch.Generator().manual_seed(0))
    api = prediction_api(model)
    probs, labels = api(X, "probs"), api(X, "labels")
    assert probs.shape == (5, 10) and torch.allclose(probs.sum(1), torch.ones(5))
    assert labels.shape == (5,) and torch.equal(labels, probs.argmax(1))
    assert not probs.requires_grad  # the attacker gets numbers, not the victim's gradients


def test_steal_loss_with_probabilities_is_kl_plus_the_apis_entropy():
    g = torch.Generator().manual_seed(0)
    logits, p = torch.randn(6, 10, generator=g), torch.randn(6, 10, generator=g).softmax(1)
    ours = steal_loss(logits, p)
    assert torch.allclose(ours, F.cross_entropy(logits, p))  # torch's cross-entropy with probability targets
    kl = F.kl_div(F.log_softmax(logits, 1), p, reduction="batchmean")  # log-probs in, probs as target
    entropy = -(p * p.log()).sum(1).mean()
    assert torch.allclose(ours, kl + entropy, atol=1e-6)
    labels = torch.tensor([0, 3, 9, 1, 1, 2])
    assert torch.allclose(steal_loss(logits, labels), F.cross_entropy(logits, labels))


def test_fgsm_equals_captums_fgsm():
    model = net()
    g = torch.Generator().manual_seed(1)
    X, y = torch.rand(32, 64, generator=g) * 0.8 + 0.1, torch.randint(0, 10, (32,), generator=g)
    ours = fgsm(model, X, y, eps=0.1)
    theirs = FGSM(model, loss_func=nn.CrossEntropyLoss(reduction="none"), lower_bound=0.0,
                  upper_bound=1.0).perturb(X.clone().requires_grad_(), epsilon=0.1, target=y)
    assert torch.allclose(ours, theirs, atol=1e-6)
    assert (ours - X).abs().max() <= 0.1 + 1e-6 and ours.min() >= 0 and ours.max() <= 1


def test_fgsm_by_hand_on_a_linear_model():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, -1.0], [0.0, 0.0]]))
    X, y = torch.tensor([[0.5, 0.5]]), torch.tensor([0])
    # logits (0, 0): dCE/dlogit0 = p0 - 1 = -0.5, so dCE/dx = -0.5 · (1, -1): sign (-1, +1)
    assert torch.allclose(fgsm(model, X, y, eps=0.2), torch.tensor([[0.3, 0.7]]))


def test_sign_noise_has_fgsms_size_and_a_seed():
    X = torch.full((4, 64), 0.5)
    noise = sign_noise(X, 0.1, seed=0)
    assert torch.allclose((noise - X).abs(), torch.full_like(X, 0.1))
    assert torch.equal(noise, sign_noise(X, 0.1, seed=0)) and not torch.equal(noise, sign_noise(X, 0.1, seed=1))


def test_agreement_and_accuracy():
    model, X = net(), torch.rand(20, 64, generator=torch.Generator().manual_seed(2))
    assert agreement(model, model, X) == 1.0
    with torch.no_grad():
        y = model(X).argmax(1)
    assert accuracy(model, X, y) == 1.0 and accuracy(model, X, (y + 1) % 10) == 0.0
    assert 0.0 <= agreement(model, net(seed=5), X) <= 1.0
