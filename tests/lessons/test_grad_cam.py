"""grad-cam: the trained CNN's Grad-CAM points at the object, a random net's does not, and our
grad_cam equals captum's LayerGradCam."""
import pytest
import torch

from fmlab.demos import grad_cam as demo
from fmlab.explain import pointing_game


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_grad_cam_points_at_the_object(result):
    _cfg, r = result
    m = r.metrics
    assert m["accuracy"] >= 0.95
    assert m["pointing_game"] >= 0.9
    assert m["pointing_game"] > m["pointing_game_random"] + 0.2  # the sanity check separates them
    assert m["max_diff_ours_vs_captum"] < 1e-4


def test_image_titles_are_class_names_in_the_learners_language(result):
    _cfg, r = result
    zh_names = {n.zh for n in demo.data.SHAPE_NAMES}
    titles = [a.text.removesuffix(" ✗") for a in r.charts[0].plot("zh").layout.annotations[:demo.NUM_SHOWN]]
    assert titles and set(titles) <= zh_names


def test_pointing_game_by_hand():
    maps = torch.zeros(2, 4, 4)
    maps[0, 1, 2] = 1.0  # peak at row 1, col 2: inside (x0=2, y0=0, x1=3, y1=1)
    maps[1, 3, 0] = 1.0  # peak at row 3, col 0: outside
    boxes = torch.tensor([[2, 0, 3, 1], [2, 0, 3, 1]])
    assert pointing_game(maps, boxes).tolist() == [1.0, 0.0]


def test_the_predicate_on_hand_made_metrics():
    m = {"pointing_game": 0.95, "pointing_game_random": 0.4}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "pointing_game_random": 0.8}) is False  # the random net points as well
    assert demo.CLAIM.check({**m, "pointing_game": 0.7, "pointing_game_random": 0.1}) is False  # rarely on target
