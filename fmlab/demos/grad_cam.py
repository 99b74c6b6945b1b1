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
from ..demo import Chart, Demo, Event, Report, Result, part, silent
from ..explain import grad_cam, normalise, pointing_game, upsample
from ..fit import evaluate, fit
from ..nets import CNN, init_weights
from ..params import DemoConfig, param
from ..text import T, _

METHODS = ("integrated-gradients", "saliency", "occlusion")
METHOD_NAMES = {"integrated-gradients": _("Integrated Gradients", "积分梯度"),
                "saliency": _("Saliency", "显著图"), "occlusion": _("Occlusion", "遮挡")}
RANDOM_NET = _("Grad-CAM (random net)", "Grad-CAM（随机网络）")


@dataclass(frozen=True)
class Config(DemoConfig):
    epochs: int = param(4, low=1, high=20, label=_("Epochs", "训练轮数"),
                        help=_("Passes over the shapes training set", "遍历形状训练集的次数"))
    lr: float = param(3e-3, low=1e-4, high=1e-1, log=True, label=_("Learning rate (Adam)", "学习率（Adam）"),
                      help=_("Adam's step size", "Adam 的步长"))
    num_images: int = param(2000, low=300, high=6000, label=_("Images", "图像数量"),
                            help=_("Generated images; a quarter is held out for testing",
                                   "生成的图像数量，其中四分之一留作测试"))
    method: str = param("integrated-gradients", choices=METHODS, choice_labels=METHOD_NAMES,
                        label=_("Second method", "第二种方法"),
                        help=_("Attribution shown and scored beside Grad-CAM", "与 Grad-CAM 一同展示并评分的归因方法"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run", "相同种子，相同结果"))


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


def as_rgb(X: Tensor) -> np.ndarray:
    """(B, 3, H, W) tensor -> (B, H, W, 3) array for display."""
    return X.permute(0, 2, 3, 1).cpu().numpy()


def verdict(cfg: Config, m: dict[str, float]) -> T:
    second = METHOD_NAMES[cfg.method]
    faithful = m["pointing_game"] - m["pointing_game_random"] > 0.15
    trust_en = ("Grad-CAM points at the object far more often for the trained net than for a random one, so the map "
                "reflects what the model learned." if faithful else
                "Careful: the random net's maps point almost as well, so these maps mostly track image contrast.")
    trust_zh = ("训练后网络的 Grad-CAM 指向物体的比例远高于随机网络，说明热力图反映了模型学到的东西。" if faithful else
                "注意：随机网络的热力图几乎同样准确，说明这些热力图主要反映的是图像对比度。")
    return _(f"Test accuracy {m['accuracy']:.1%}. Grad-CAM's peak fell inside the object's box for "
             f"{m['pointing_game']:.1%} of test images ({second.en}: {m['pointing_game_second']:.1%}); for the "
             f"randomly initialised net Grad-CAM scored {m['pointing_game_random']:.1%}. {trust_en}",
             f"测试准确率 {m['accuracy']:.1%}。Grad-CAM 的峰值落在物体框内的测试图像比例为 {m['pointing_game']:.1%}"
             f"（{second.zh}：{m['pointing_game_second']:.1%}）；随机初始化网络的 Grad-CAM 得分为 "
             f"{m['pointing_game_random']:.1%}。{trust_zh}")


def run(cfg: Config, report: Report = silent) -> Result:
    """Train the CNN, then compute, score and draw Grad-CAM and a second attribution."""
    split = data.shapes(num=cfg.num_images, seed=cfg.seed)
    model = init_weights(CNN(3, split.num_classes, width=16, depth=2, batchnorm=True), cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    trained = fit(model, opt, (split.X_train, split.y_train), epochs=cfg.epochs, batch_size=64,
                  val=(split.X_val, split.y_val), seed=cfg.seed, report=part(report, "cnn", 0, 2))
    report(Event("stage", 0.5, note=_("Computing attributions", "正在计算归因")))

    model.eval().cpu()
    X, y, boxes = split.X_val, split.y_val, split.extras["boxes"]
    cams = cam_maps(model, X, y)  # explain the true class
    n_second = min(len(X), 100 if cfg.method == "occlusion" else 200)  # these cost many forward passes
    second = pixel_maps(cfg.method, model, X[:n_second], y[:n_second])
    random_net = init_weights(CNN(3, split.num_classes, width=16, depth=2, batchnorm=True), cfg.seed + 1).eval()
    random_cams = cam_maps(random_net, X, y)
    ours = normalise(upsample(grad_cam(model, model.cam_layer, X[:64], y[:64]).detach(), X.shape[-1]))

    metrics = {
        "accuracy": evaluate(model, X, y)["acc"],
        "pointing_game": pointing_game(cams, boxes).mean().item(),
        "pointing_game_second": pointing_game(second, boxes[:n_second]).mean().item(),
        "pointing_game_random": pointing_game(random_cams, boxes).mean().item(),
        "max_diff_ours_vs_captum": (ours - cams[:64]).abs().max().item(),
    }
    report(Event("stage", 1.0, note=_("Done", "完成")))

    show = torch.arange(8)
    with torch.no_grad():
        pred = model(X[show]).argmax(1)
    titles = [f"{split.classes[int(t)].en}{'' if int(p) == int(t) else ' ✗'}" for t, p in zip(y[show], pred)]
    rgb = np.stack([as_rgb(X[show])] * 3)  # (3, 8, H, W, 3)
    rows = [_("image", "图像"), _("Grad-CAM", "Grad-CAM"), METHOD_NAMES[cfg.method]]
    overlays = {1: cams[show].numpy(), 2: second[show].numpy()}
    random_overlay = {1: random_cams[show].numpy()}
    history = {"cnn": trained.history}
    charts = [
        Chart(_("Where the trained CNN looks (dashed: true box)", "训练后的 CNN 在看哪里（虚线：真实物体框）"),
              lambda lang: plots.image_grid(rgb, rows, titles, lang, overlays, boxes[show].numpy())),
        Chart(_("Sanity check: Grad-CAM of a randomly initialised CNN", "合理性检验：随机初始化 CNN 的 Grad-CAM"),
              lambda lang: plots.image_grid(rgb[:2], rows[:2], titles, lang, random_overlay, boxes[show].numpy())),
        Chart(_("Pointing game (share of peaks inside the box)", "指向游戏（峰值落在框内的比例）"),
              lambda lang: plots.bars({"Grad-CAM": metrics["pointing_game"],
                                       METHOD_NAMES[cfg.method].get(lang): metrics["pointing_game_second"],
                                       RANDOM_NET.get(lang): metrics["pointing_game_random"]},
                                      _("method", "方法"), _("pointing game", "指向游戏得分"), lang)),
        Chart(_("Training", "训练过程"),
              lambda lang: plots.curves({_("train loss", "训练损失").get(lang): trained.history["loss"]}, _("step", "步数"),
                                        _("loss", "损失"), lang)),
    ]
    return Result(metrics, verdict(cfg, metrics), history, charts)


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
)
