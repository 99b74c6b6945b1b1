"""Grad-CAM on a small CNN trained live on synthetic shapes, checked with the pointing game.

The data come with ground-truth boxes, so instead of admiring heat maps we can score them:
does the map's peak fall on the object, not on the background noise or the distractor blob?
A randomly initialised copy of the network is the sanity check: a map that looks just as
good for an untrained net explains the image, not the model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion, Saliency
from torch import Tensor, nn

from .. import data, plots
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, part, silent
from ..explain import grad_cam, normalise, pointing_game, upsample
from ..fit import evaluate, fit
from ..nets import CNN, init_weights
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, sentences

METHODS = ("integrated-gradients", "saliency", "occlusion")
METHOD_NAMES = {"integrated-gradients": _("Integrated Gradients", "积分梯度"),
                "saliency": _("Saliency", "显著图"), "occlusion": _("Occlusion", "遮挡")}
GRAD_CAM = _("Grad-CAM", "Grad-CAM")
RANDOM_NET = _("Grad-CAM (random net)", "Grad-CAM（随机网络）")
NUM_SHOWN = 8  # test images drawn in the grids


@dataclass(frozen=True)
class Config(DemoConfig):
    epochs: int = epochs_param(4, high=20, help=_("Passes over the shapes training set", "遍历形状训练集的次数"))
    lr: float = lr_param(3e-3, low=1e-4, high=1e-1, help=_("Adam's step size", "Adam 的步长"))
    num_images: int = param(2000, low=300, high=6000, label=_("Images", "图像数量"),
                            help=_("Generated images; a quarter is held out for testing",
                                   "生成的图像数量，其中四分之一留作测试"))
    method: str = param("integrated-gradients", choices=METHODS, choice_labels=METHOD_NAMES,
                        label=_("Second method", "第二种方法"),
                        help=_("Attribution shown and scored beside Grad-CAM", "与 Grad-CAM 一同展示并评分的归因方法"))
    seed: int = seed_param()


def cnn(num_classes: int, seed: int) -> CNN:
    """The small CNN every map explains, its weights drawn from `seed`."""
    return init_weights(CNN(3, num_classes, width=16, depth=2, batchnorm=True), seed)


def cam_maps(model: CNN, X: Tensor, target: Tensor) -> Tensor:
    """captum's Grad-CAM at the last conv block, upsampled to the input and scaled to [0, 1]: (B, H, W)."""
    cam = LayerGradCam(model, model.cam_layer).attribute(X, target=target, relu_attributions=True)  # (B, 1, h, w)
    return normalise(LayerAttribution.interpolate(cam, X.shape[-2:], interpolate_mode="bilinear")[:, 0]).detach()


def pixel_maps(method: str, model: nn.Module, X: Tensor, target: Tensor) -> Tensor:
    """A pixel-level attribution with captum, |attribution| summed over colour channels, in [0, 1]: (B, H, W)."""
    if method == "integrated-gradients":
        attr = IntegratedGradients(model).attribute(X, target=target, baselines=X * 0, n_steps=24,
                                                    internal_batch_size=512)
    elif method == "saliency":
        attr = Saliency(model).attribute(X.clone().requires_grad_(), target=target)
    else:
        attr = Occlusion(model).attribute(X, target=target, sliding_window_shapes=(3, 6, 6), strides=(3, 4, 4),
                                          perturbations_per_eval=64)
    return normalise(attr.abs().sum(dim=1)).detach()  # (B, H, W)


def attribute(cfg: Config, model: CNN, split: data.Split) -> dict[str, Tensor]:
    """Maps (B, H, W) of the true class on the test images: Grad-CAM, the second method, Grad-CAM of a random net."""
    X, y = split.X_val, split.y_val
    num_second = min(len(X), 100 if cfg.method == "occlusion" else 200)  # these cost many forward passes
    random_net = cnn(split.num_classes, cfg.seed + 1).eval()
    return {"cam": cam_maps(model, X, y), "second": pixel_maps(cfg.method, model, X[:num_second], y[:num_second]),
            "random": cam_maps(random_net, X, y)}


def scores(model: CNN, split: data.Split, maps: dict[str, Tensor]) -> Metrics:
    """Test accuracy, the pointing game for each map, and how far our grad_cam is from captum's."""
    X, y, boxes = split.X_val, split.y_val, split.extras["boxes"]
    ours = normalise(upsample(grad_cam(model, model.cam_layer, X[:64], y[:64]).detach(), X.shape[-1]))  # (64, H, W)
    return {
        "accuracy": evaluate(model, X, y)["acc"],
        "pointing_game": pointing_game(maps["cam"], boxes).mean().item(),
        "pointing_game_second": pointing_game(maps["second"], boxes[:len(maps["second"])]).mean().item(),
        "pointing_game_random": pointing_game(maps["random"], boxes).mean().item(),
        "max_diff_ours_vs_captum": (ours - maps["cam"][:64]).abs().max().item(),
    }


def lesson(m: Metrics) -> bool:
    """Grad-CAM of the trained net points at the object on 80%+ of images, 20+ points above the random net."""
    return m["pointing_game"] >= 0.8 and m["pointing_game"] - m["pointing_game_random"] > 0.2


CLAIM = Claim(
    _("the trained net's Grad-CAM peaks on the object far more often than a random net's, so the map shows what "
      "the model learned, not just image contrast",
      "训练后网络的 Grad-CAM 峰值落在物体上的比例远高于随机网络，说明热力图反映的是模型学到的东西，而不只是图像对比度"),
    lesson,
    fragile=_("An untrained net's map follows image contrast, and on some seeds that alone finds the object on about "
              "two thirds of images, narrowing the gap.",
              "未训练网络的热力图跟随图像对比度，在某些种子下仅凭这一点就能在约三分之二的图像上找到物体，差距随之缩小。"),
)


def verdict(cfg: Config, m: Metrics) -> T:
    """Accuracy, the three pointing-game scores, and whether the sanity check separates them."""
    return sentences(
        _("Test accuracy {acc:.1%}.", "测试准确率 {acc:.1%}。").format(acc=m["accuracy"]),
        _("Grad-CAM's peak fell inside the object's box on {cam:.1%} of test images ({method}: {second:.1%}); "
          "for the randomly initialised net Grad-CAM scored {random:.1%}.",
          "Grad-CAM 的峰值落在物体框内的测试图像比例为 {cam:.1%}（{method}：{second:.1%}）；"
          "随机初始化网络的 Grad-CAM 得分为 {random:.1%}。")
        .format(cam=m["pointing_game"], method=METHOD_NAMES[cfg.method], second=m["pointing_game_second"],
                random=m["pointing_game_random"]),
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Train the CNN, then compute, score and draw Grad-CAM and a second attribution."""
    split = data.shapes(num=cfg.num_images, seed=cfg.seed)
    model = cnn(split.num_classes, cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    trained = fit(model, opt, (split.X_train, split.y_train), epochs=cfg.epochs, batch_size=64,
                  val=(split.X_val, split.y_val), seed=cfg.seed, report=part(report, _("CNN", "CNN"), 0, 2))
    report(Event("stage", 0.5, note=_("Computing attributions", "正在计算归因")))
    model.eval().cpu()
    maps = attribute(cfg, model, split)
    metrics = scores(model, split, maps)
    report(Event("stage", 1.0, note=_("Done", "完成")))
    return Result(metrics, verdict(cfg, metrics), charts(cfg, model, split, maps, metrics, trained.history["loss"]))


def charts(cfg: Config, model: CNN, split: data.Split, maps: dict[str, Tensor], m: Metrics,
           losses: list[float]) -> list[Chart]:
    """Maps over the first test images (trained and random net), the pointing-game bars, the training loss."""
    X, y = split.X_val[:NUM_SHOWN], split.y_val[:NUM_SHOWN]
    with torch.no_grad():
        pred = model(X).argmax(1)  # (N,)
    boxes = split.extras["boxes"][:NUM_SHOWN].numpy()

    def titles(lang: str) -> list[str]:  # the true class, ✗ where the net got it wrong
        return [split.classes[int(t)].get(lang) + ("" if p == t else " ✗") for t, p in zip(y, pred)]

    rgb = np.stack([X.permute(0, 2, 3, 1).numpy()] * 3)  # (3, N, H, W, 3)
    rows = [_("image", "图像"), GRAD_CAM, METHOD_NAMES[cfg.method]]
    overlays = {1: maps["cam"][:NUM_SHOWN].numpy(), 2: maps["second"][:NUM_SHOWN].numpy()}
    random_overlay = {1: maps["random"][:NUM_SHOWN].numpy()}
    bars = {GRAD_CAM: m["pointing_game"], METHOD_NAMES[cfg.method]: m["pointing_game_second"],
            RANDOM_NET: m["pointing_game_random"]}
    return [
        Chart(_("Where the trained CNN looks (dashed: true box)", "训练后的 CNN 在看哪里（虚线：真实物体框）"),
              lambda lang: plots.image_grid(rgb, rows, titles(lang), lang, overlays, boxes)),
        Chart(_("Sanity check: Grad-CAM of a randomly initialised CNN", "合理性检验：随机初始化 CNN 的 Grad-CAM"),
              lambda lang: plots.image_grid(rgb[:2], rows[:2], titles(lang), lang, random_overlay, boxes)),
        Chart(_("Pointing game (share of peaks inside the box)", "指向游戏（峰值落在框内的比例）"),
              lambda lang: plots.bars({k.get(lang): v for k, v in bars.items()}, plots.METHOD,
                                      _("pointing game", "指向游戏得分"), lang)),
        Chart(_("Training", "训练过程"),
              lambda lang: plots.curves({plots.TRAIN_LOSS.get(lang): losses}, plots.STEP, plots.LOSS, lang)),
    ]


DEMO = Demo(
    id="grad-cam",
    title=_("Grad-CAM and attributions", "Grad-CAM 与归因方法"),
    summary=_("A CNN trained live on synthetic shapes; Grad-CAM and a second method scored by the pointing game.",
              "在合成形状上现场训练 CNN；用指向游戏为 Grad-CAM 与另一种归因方法打分。"),
    category="explainability",
    config=Config,
    run=run,
    smoke=dict(epochs=1, num_images=300, method="saliency"),
    key_metric="pointing_game",
    key_label=_("pointing game (Grad-CAM)", "指向游戏得分（Grad-CAM）"),
    claim=CLAIM,
    gpu=True,
)
