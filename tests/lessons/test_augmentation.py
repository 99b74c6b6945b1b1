"""augmentation: label-preserving transforms help, flips hurt digits; the v2 kernels do what we claim."""
import pytest
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from fmlab.demos import augmentation


@pytest.fixture(scope="module")
def result():
    return augmentation.run(augmentation.Config())


@pytest.fixture(scope="module")
def metrics(result):
    return result.metrics


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    shows_claim(augmentation.CLAIM, result)


def test_the_claim_needs_both_augmentations_to_do_something(metrics):
    assert augmentation.CLAIM.check({**metrics, "flip_p": 0.0}) is None
    assert augmentation.CLAIM.check({**metrics, "max_rotation": 0.0, "max_shift": 0.0}) is None
    assert augmentation.CLAIM.check({**metrics, "acc_flip": metrics["acc_none"]}) is False  # flips cost nothing
    no_gain = {**metrics, "moved_acc_shift_rotate": metrics["moved_acc_none"] + 0.01}
    assert augmentation.CLAIM.check(no_gain) is False


def test_flips_hurt_digits(metrics):
    assert metrics["acc_flip"] < metrics["acc_none"] - 0.02
    assert metrics["acc_flip"] < metrics["acc_shift_rotate"] - 0.02
    assert metrics["moved_acc_flip"] < metrics["moved_acc_none"]


def test_shifts_and_rotations_help(metrics):
    # the digits are centred and size-normalised, so on them the gain is small (within about ±1.5 points
    # across seeds); on digits that are moved a little it is large: the invariance the transform teaches
    assert metrics["acc_shift_rotate"] > metrics["acc_none"] - 0.01
    assert metrics["moved_acc_shift_rotate"] > metrics["moved_acc_none"] + 0.04


def test_few_training_digits_are_memorised(metrics):
    assert metrics["train_size"] == 100
    assert metrics["train_acc_none"] >= 0.99  # the regime where augmentation matters


def test_shift_rotate_is_reproducible_from_its_generator():
    X = torch.rand(6, 1, 8, 8)
    a = augmentation.shift_rotate(X, 10.0, 0.5, torch.Generator().manual_seed(1))
    b = augmentation.shift_rotate(X, 10.0, 0.5, torch.Generator().manual_seed(1))
    c = augmentation.shift_rotate(X, 10.0, 0.5, torch.Generator().manual_seed(2))
    assert torch.equal(a, b) and not torch.equal(a, c)
    same = augmentation.shift_rotate(X[:1].repeat(6, 1, 1, 1), 10.0, 0.5, torch.Generator().manual_seed(1))
    assert len({tuple(v.flatten().tolist()) for v in same}) == 6  # one image, six different motions: per sample
    assert torch.equal(augmentation.shift_rotate(X, 0.0, 0.0, torch.Generator()), X)  # no motion: identity


def test_a_v2_transform_with_the_same_seed_gives_the_same_output():
    x = torch.rand(1, 8, 8)
    t = v2.RandomAffine(degrees=10, translate=(0.2, 0.2), interpolation=v2.InterpolationMode.BILINEAR)
    torch.manual_seed(5)
    first = t(x)
    torch.manual_seed(5)
    assert torch.equal(t(x), first)
    torch.manual_seed(5)
    params = t.make_params([x])  # RandomAffine = random parameters + the kernel `move` calls
    assert torch.equal(augmentation.move(x, params["angle"], params["translate"]), first)


def test_move_by_one_pixel_by_hand():
    x = torch.arange(16.0).view(1, 4, 4)
    right = augmentation.move(x, 0.0, (1.0, 0.0))
    assert torch.equal(right, torch.tensor([[[0.0, 0, 1, 2], [0, 4, 5, 6], [0, 8, 9, 10], [0, 12, 13, 14]]]))
    down = augmentation.move(x, 0.0, (0.0, 1.0))
    assert torch.equal(down[0, 1:], x[0, :-1]) and torch.equal(down[0, 0], torch.zeros(4))


def test_a_flip_is_exactly_torch_flip():
    X = torch.rand(50, 1, 8, 8)
    mirrored = torch.flip(X, dims=[-1])
    assert torch.equal(TF.horizontal_flip(X), mirrored)
    assert torch.equal(v2.RandomHorizontalFlip(p=1.0)(X), mirrored)
    assert torch.equal(augmentation.random_flip(X, 1.0, torch.Generator()), mirrored)
    assert torch.equal(augmentation.random_flip(X, 0.0, torch.Generator()), X)
    half = augmentation.random_flip(X, 0.5, torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(h, m) for h, m in zip(half, mirrored)])
    kept = torch.tensor([torch.equal(h, x) for h, x in zip(half, X)])
    assert torch.all(flipped ^ kept) and 10 < flipped.sum() < 40  # each image either mirrored or untouched


def test_variants_are_independent_draws():
    X = torch.rand(4, 1, 8, 8)
    g = torch.Generator().manual_seed(0)
    out = augmentation.variants(X, lambda X: augmentation.shift_rotate(X, 10.0, 0.5, g), 3)
    assert out.shape == (12, 1, 8, 8)
    assert not torch.equal(out[:4], out[4:8])
