"""Grad-CAM proved by hand on a fixed-weight toy net, and against captum; the pointing game by hand."""
import torch
from captum.attr import LayerGradCam
from torch import nn

from fmlab.explain import grad_cam, normalise, pointing_game
from fmlab.nets import CNN, init_weights


class Toy(nn.Module):
    """A = conv1x1(x) with channels A0 = x and A1 = 8 - x; logits = W · mean(A)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 1)
        self.head = nn.Linear(2, 2, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([1.0, -1.0]).view(2, 1, 1, 1))
            self.conv.bias.copy_(torch.tensor([0.0, 8.0]))
            self.head.weight.copy_(torch.tensor([[1.0, 2.0], [-1.0, 1.0]]))

    def forward(self, x):
        return self.head(self.conv(x).mean(dim=(2, 3)))


X = torch.arange(16.0).view(1, 1, 4, 4)


def test_grad_cam_by_hand():
    # class 0: alpha = (1, 2)/16, map = ReLU(x/16 + 2(8 - x)/16) = (16 - x)/16
    # class 1: alpha = (-1, 1)/16, map = ReLU((-x + 8 - x)/16) = ReLU(8 - 2x)/16
    model = Toy()
    expected0 = (16 - X[0, 0]) / 16
    expected1 = torch.tensor([8.0, 6, 4, 2] + [0.0] * 12).view(4, 4) / 16
    assert torch.allclose(grad_cam(model, model.conv, X, torch.tensor([0]))[0], expected0)
    assert torch.allclose(grad_cam(model, model.conv, X, torch.tensor([1]))[0], expected1)


def test_grad_cam_matches_captum_on_a_random_cnn():
    model = init_weights(CNN(3, 3, width=8, depth=2), 0).eval()
    images, target = torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 1])
    ours = grad_cam(model, model.cam_layer, images, target)
    theirs = LayerGradCam(model, model.cam_layer).attribute(images, target=target, relu_attributions=True)[:, 0]
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_grad_cam_of_one_image_ignores_the_others_in_the_batch():
    model = init_weights(CNN(3, 3, width=8, depth=2), 1).eval()
    images = torch.rand(3, 3, 32, 32)
    alone = grad_cam(model, model.cam_layer, images[:1], torch.tensor([2]))
    batched = grad_cam(model, model.cam_layer, images, torch.tensor([2, 0, 1]))
    assert torch.allclose(alone[0], batched[0], atol=1e-6)


def test_pointing_game_by_hand():
    maps = torch.zeros(3, 8, 8)
    maps[0, 2, 3] = 1  # peak at row 2, col 3: inside (x0=3, y0=2, x1=5, y1=4)
    maps[1, 6, 6] = 1  # outside
    maps[2, 4, 5] = 1  # on the corner (x1=5, y1=4): inclusive, so inside
    boxes = torch.tensor([[3, 2, 5, 4]] * 3)
    assert pointing_game(maps, boxes).tolist() == [1.0, 0.0, 1.0]


def test_normalise_scales_each_map_to_unit_range():
    maps = torch.stack([torch.arange(4.0).view(2, 2), torch.zeros(2, 2)])
    out = normalise(maps)
    assert out[0].max() == 1 and out[0].min() == 0 and torch.equal(out[1], torch.zeros(2, 2))
