"""Offline data sets: shapes, ranges, determinism, and ground truth that matches the pixels."""
import pytest
import torch

from fmlab import data


def test_digits_vectors_and_images():
    split = data.digits(seed=0)
    assert split.X_train.shape[1] == 64 and split.X_train.dtype == torch.float32
    assert len(split.X_train) + len(split.X_val) == 1797
    assert 0 <= split.X_train.min() and split.X_train.max() <= 1
    assert set(split.y_train.tolist()) == set(range(10))
    images = data.digits(seed=0, image_size=16)
    assert images.X_train.shape[1:] == (1, 16, 16)
    assert torch.equal(images.y_train, split.y_train)


def test_same_seed_same_split_other_seed_other_split():
    a, b, c = data.digits(seed=1), data.digits(seed=1), data.digits(seed=2)
    assert torch.equal(a.X_train, b.X_train)
    assert not torch.equal(a.y_train, c.y_train)


def test_shapes_images_boxes_and_masks():
    split = data.shapes(num=400, seed=0)
    assert split.X_train.shape[1:] == (3, 32, 32)
    assert split.num_classes == 3 and set(split.y_val.tolist()) == {0, 1, 2}
    boxes, masks = split.extras["boxes"], split.extras["masks"]
    assert boxes.shape == (len(split.X_val), 4) and masks.shape == (len(split.X_val), 32, 32)
    for box, mask in zip(boxes, masks):
        x0, y0, x1, y1 = box.tolist()
        rows, cols = mask.nonzero(as_tuple=True)
        assert (x0, y0, x1, y1) == (cols.min(), rows.min(), cols.max(), rows.max())
        assert 10 <= mask.sum() < 32 * 32 / 2  # a visible object that does not fill the image


def test_shapes_object_pixels_stand_out_from_background():
    split = data.shapes(num=200, seed=3, distractor=False)
    X, masks = split.X_val, split.extras["masks"]
    inside = (X * masks[:, None]).sum((2, 3)) / masks.sum((1, 2))[:, None]  # (N, 3) mean colour
    outside = (X * ~masks[:, None]).sum((2, 3)) / (~masks).sum((1, 2))[:, None]
    assert ((inside - outside).abs().max(dim=1).values > 0.3).float().mean() > 0.95


def test_shapes_deterministic():
    assert torch.equal(data.shapes(num=100, seed=5).X_train, data.shapes(num=100, seed=5).X_train)


@pytest.mark.parametrize("name", data.TOY_NAMES)
def test_toy2d(name):
    split = data.toy2d(name, num=300, seed=0)
    assert split.X_train.shape[1] == 2
    assert set(split.y_train.tolist()) == {0, 1}
    assert split.X_train.abs().max() < 4


def test_toy2d_unknown_name():
    with pytest.raises(ValueError, match="unknown toy set"):
        data.toy2d("donuts")


def test_pointer_labels_are_the_token_after_mark():
    split = data.pointer(num=200, length=8, seed=1)
    X, y, mark = split.X_val, split.y_val, split.extras["mark"]
    assert X.shape == (40, 8) and X.dtype == torch.int64
    rows = torch.arange(len(X))
    assert (X[rows, mark] == data.MARK).all() and ((X == data.MARK).sum(dim=1) == 1).all()
    assert (y == X[rows, mark + 1]).all() and (mark < 7).all()
    assert torch.equal(data.pointer(num=200, length=8, seed=1).X_train, split.X_train)


def test_sines_classes_are_frequencies():
    split = data.sines(num=400, length=40, noise=0.0, seed=0)
    assert split.X_train.shape == (300, 40, 1) and split.num_classes == 4
    spectrum = torch.fft.rfft(split.X_train[..., 0]).abs()  # (N, 21)
    assert (spectrum[:, 1:].argmax(dim=1) == split.y_train).all()  # peak at y + 1 cycles


def test_kept_shapes_are_equal_copies_a_caller_may_change():
    first = data.shapes(num=60, seed=3)
    first.X_train.zero_()
    first.extras["boxes"].zero_()
    again = data.shapes(num=60, seed=3)
    fresh = data.shapes.__wrapped__(num=60, seed=3)  # built anew, not kept
    assert torch.equal(again.X_train, fresh.X_train) and again.X_train.abs().sum() > 0
    assert torch.equal(again.extras["boxes"], fresh.extras["boxes"])
    assert again.X_train is not data.shapes(num=60, seed=3).X_train


def test_a_kept_split_is_one_entry_however_its_arguments_are_spelled():
    """The zygote warms shapes(); grad-cam asks for shapes(num=2000, seed=0): the same split, built once."""
    data.shapes(num=80, seed=4)
    hits = data.shapes.cache_info().hits
    data.shapes(80, 4)
    data.shapes(seed=4, num=80)
    assert data.shapes.cache_info().hits == hits + 2
