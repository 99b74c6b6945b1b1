"""Data augmentation on handwritten digits: label-preserving vs label-breaking transforms.

Augmentation trains on random variants of each image instead of the image itself, so the
model cannot memorise pixels and learns the invariance the transform encodes. A small shift
or rotation keeps a digit's label (a slightly tilted 4 is still a 4): accuracy goes up, most
of all on digits that are not perfectly centred. A horizontal flip breaks the label (a
mirrored 2, 3 or 7 is not that digit), so it teaches a false invariance and costs accuracy.
Validation images are never augmented. The transforms are torchvision.transforms.v2 kernels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from .. import data, plots
from ..demo import Chart, Demo, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit
from ..nets import MLP, init_weights
from ..params import DemoConfig, param
from ..text import T, _

RUNS = ("none", "shift_rotate", "flip")
RUN_NAMES = {"none": _("no augmentation", "不做增强"), "shift_rotate": _("shift + rotate", "平移 + 旋转"),
             "flip": _("horizontal flip", "水平翻转")}
MOVED_DEGREES, MOVED_SHIFT = 10.0, 0.5  # how the "moved" validation digits are displaced (fixed, not a setting)


@dataclass(frozen=True)
class Config(DemoConfig):
    per_class: int = param(10, low=3, high=100, label=_("Training digits per class", "每类训练样本数"),
                           help=_("Few examples: the regime where augmentation matters",
                                  "样本越少，数据增强越重要"))
    degrees: float = param(10.0, low=0.0, high=45.0, label=_("Max rotation (°)", "最大旋转角度（°）"),
                           help=_("Each variant is rotated by a random angle in ±this",
                                  "每个变体随机旋转 ±该角度以内"))
    shift: float = param(0.5, low=0.0, high=2.0, label=_("Max shift (pixels)", "最大平移（像素）"),
                         help=_("Random sub-pixel shift of the 8×8 image, in ±this along each axis",
                                "对 8×8 图像在每个方向上随机平移 ±该值（可为亚像素）"))
    flip_p: float = param(0.5, low=0.0, high=1.0, label=_("Flip probability", "翻转概率"),
                          help=_("Share of variants mirrored left-right in the flip run",
                                 "翻转组中左右镜像的变体比例"))
    copies: int = param(20, low=1, high=50, label=_("Variants per image", "每张图的变体数"),
                        help=_("Random variants drawn per training image (the no-augmentation run repeats the "
                               "original as often, so every run takes the same steps)",
                               "每张训练图像抽取的随机变体数（不增强组把原图重复同样次数，各组训练步数相同）"))
    epochs: int = param(15, low=1, high=40, label=_("Epochs", "训练轮数"),
                        help=_("Passes over all the variants", "遍历全部变体的次数"))
    lr: float = param(3e-3, low=1e-4, high=1e-1, log=True, label=_("Learning rate (Adam)", "学习率（Adam）"),
                      help=_("Adam's step size, the same for every run", "Adam 的步长，各组相同"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run", "相同种子，相同结果"))


def few_digits(split: data.Split, per_class: int, seed: int) -> tuple[Tensor, Tensor]:
    """`per_class` training images of each digit: X (N, 1, 8, 8), y (N,)."""
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in range(split.num_classes):
        rows = torch.nonzero(split.y_train == c)[:, 0]
        picks.append(rows[torch.randperm(len(rows), generator=g)[:per_class]])
    idx = torch.cat(picks)
    return split.X_train[idx].view(-1, 1, 8, 8), split.y_train[idx]


def move(x: Tensor, angle: float, translate: tuple[float, float]) -> Tensor:
    """Rotate one image (C, H, W) by `angle` degrees and shift it by `translate` pixels.

    The same kernel, interpolation and fill that v2.RandomAffine uses; it takes sub-pixel
    shifts, where RandomAffine rounds them to whole pixels (too coarse for 8×8 digits).
    """
    return TF.affine(x, angle=angle, translate=list(translate), scale=1.0, shear=[0.0, 0.0],
                     interpolation=v2.InterpolationMode.BILINEAR, fill=0.0)


def shift_rotate(X: Tensor, degrees: float, shift: float, g: torch.Generator) -> Tensor:
    """A different random rotation and shift for EVERY image: (N, C, H, W) -> same shape.

    Parameters come from the private generator `g` (v2's Random* classes draw from torch's
    global one), so a run is reproducible even beside other runs.
    """
    angles = (torch.rand(len(X), generator=g) * 2 - 1) * degrees  # (N,)
    shifts = (torch.rand(len(X), 2, generator=g) * 2 - 1) * shift  # (N, 2) as (dx, dy)
    return torch.stack([move(x, a, (dx, dy)) for x, a, (dx, dy) in zip(X, angles.tolist(), shifts.tolist())])


def random_flip(X: Tensor, p: float, g: torch.Generator) -> Tensor:
    """Mirror each image left-right with probability `p`: (N, C, H, W) -> same shape."""
    flip = torch.rand(len(X), generator=g) < p  # (N,)
    return torch.where(flip[:, None, None, None], TF.horizontal_flip(X), X)


def variants(X: Tensor, augment: Callable[[Tensor], Tensor], copies: int) -> Tensor:
    """`copies` independent random variants of every image, stacked: (copies · N, C, H, W).

    fit() takes tensors, so the variants are drawn up front: a stand-in for a transform in
    Dataset.__getitem__, which would draw a fresh variant of every image in every epoch.
    """
    return torch.cat([augment(X) for _copy in range(copies)])


def train(X: Tensor, y: Tensor, cfg: Config, split: data.Split, report: Report) -> tuple[MLP, Fit]:
    """The same MLP (64-128-10) from the same initial weights, trained on one augmented set."""
    model = init_weights(MLP(64, 10, width=128, depth=0), cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    result = fit(model, opt, (X, y), epochs=cfg.epochs, batch_size=128,
                 val=(split.X_val.view(-1, 1, 8, 8), split.y_val), seed=cfg.seed, report=report)
    return model, result


def verdict(cfg: Config, m: dict[str, float]) -> T:
    gain, moved_gain = m["acc_shift_rotate"] - m["acc_none"], m["moved_acc_shift_rotate"] - m["moved_acc_none"]
    drop = m["acc_none"] - m["acc_flip"]
    head_en = (f"Validation accuracy with {m['train_size']:.0f} training digits: no augmentation "
               f"{m['acc_none']:.1%}, shift + rotate {m['acc_shift_rotate']:.1%}, horizontal flip {m['acc_flip']:.1%}. "
               f"On the same digits moved by up to ±{MOVED_DEGREES:.0f}° and ±{MOVED_SHIFT} px: "
               f"{m['moved_acc_none']:.1%}, {m['moved_acc_shift_rotate']:.1%} and {m['moved_acc_flip']:.1%}.")
    head_zh = (f"用 {m['train_size']:.0f} 张训练数字时的验证准确率：不做增强 {m['acc_none']:.1%}，平移 + 旋转 "
               f"{m['acc_shift_rotate']:.1%}，水平翻转 {m['acc_flip']:.1%}。把这些验证数字随机旋转 ±{MOVED_DEGREES:.0f}° "
               f"以内、平移 ±{MOVED_SHIFT} 像素以内后：分别为 {m['moved_acc_none']:.1%}、"
               f"{m['moved_acc_shift_rotate']:.1%} 和 {m['moved_acc_flip']:.1%}。")
    if gain > -0.01 and moved_gain > 0.02 and drop > 0.01:
        same_en = f"{gain:+.1%} on the centred digits" if abs(gain) >= 0.005 else "no change on the centred digits"
        same_zh = (f"在居中的数字上{'提高' if gain > 0 else '下降'} {abs(gain):.1%}" if abs(gain) >= 0.005
                   else "在居中的数字上几乎没有变化")
        end_en = (f"Shifts and rotations keep the label: {same_en}, and +{moved_gain:.1%} on moved ones, the "
                  f"invariance they teach. Flips break the label (a mirrored 2 or 7 is not that digit): −{drop:.1%}.")
        end_zh = (f"平移和旋转保持标签不变：{same_zh}，在被移动的数字上提高 {moved_gain:.1%}，这正是它们教给模型的不变性。"
                  f"翻转会破坏标签（镜像的 2 或 7 已不是原来的数字）：准确率下降 {drop:.1%}。")
    else:
        end_en = ("In this run the effect did not show clearly: try fewer training digits per class, a flip "
                  "probability near 0.5, or rotations of about 10°.")
        end_zh = "本次效果不明显：可以减少每类训练样本数、把翻转概率设在 0.5 左右，或把旋转角度设为 10° 左右。"
    return _(f"{head_en} {end_en}", f"{head_zh}{end_zh}")


def to_rgb(X: Tensor) -> np.ndarray:
    """Grey images (N, 1, H, W) in [0, 1] -> (N, H, W, 3) for plots.image_grid."""
    return X.clamp(0, 1).permute(0, 2, 3, 1).repeat(1, 1, 1, 3).numpy()


def run(cfg: Config, report: Report = silent) -> Result:
    split = data.digits(seed=cfg.seed)
    X, y = few_digits(split, cfg.per_class, cfg.seed)  # (N, 1, 8, 8), (N,)
    g = torch.Generator().manual_seed(cfg.seed)
    augments = {"none": lambda X: X, "shift_rotate": lambda X: shift_rotate(X, cfg.degrees, cfg.shift, g),
                "flip": lambda X: random_flip(X, cfg.flip_p, g)}
    sets = {k: variants(X, augment, cfg.copies) for k, augment in augments.items()}  # each (copies · N, 1, 8, 8)
    y_all = y.repeat(cfg.copies)
    runs = {k: train(sets[k], y_all, cfg, split, part(report, RUN_NAMES[k].en, i, len(RUNS)))
            for i, k in enumerate(RUNS)}

    X_val = split.X_val.view(-1, 1, 8, 8)
    X_moved = shift_rotate(X_val, MOVED_DEGREES, MOVED_SHIFT, torch.Generator().manual_seed(cfg.seed + 1))
    metrics: dict[str, float] = {"train_size": float(len(X))}
    for k, (model, _r) in runs.items():
        metrics[f"acc_{k}"] = evaluate(model, X_val, split.y_val)["acc"]
        metrics[f"moved_acc_{k}"] = evaluate(model, X_moved, split.y_val)["acc"]
        metrics[f"train_acc_{k}"] = evaluate(model, X, y)["acc"]

    first = torch.stack([torch.nonzero(y == c)[0, 0] for c in range(10)])  # one image of each digit
    second = first + len(X) if cfg.copies > 1 else first  # the same images in the second set of variants
    grid = np.stack([to_rgb(X[first]), to_rgb(sets["shift_rotate"][first]), to_rgb(sets["shift_rotate"][second]),
                     to_rgb(sets["flip"][first]), to_rgb(sets["flip"][second])])  # (5, 10, 8, 8, 3)
    rows = [_("original", "原图"), _("shift+rotate", "平移+旋转"), _("shift+rotate", "平移+旋转"),
            _("flip", "翻转"), _("flip", "翻转")]
    charts = [
        Chart(_("Training images and two random variants of each", "训练图像及其两组随机变体"),
              lambda lang: plots.image_grid(grid, rows, [str(c) for c in range(10)], lang),
              caption=_(f"Each variant is a fresh random draw. The flip rows mirror about {cfg.flip_p:.0%} of the "
                        "digits: a mirrored 2, 3 or 7 is a different glyph with the old label.",
                        f"每个变体都是一次新的随机抽样。翻转行中约 {cfg.flip_p:.0%} 的数字被镜像："
                        "镜像后的 2、3、7 已是另一个字形，却仍带着原来的标签。")),
        Chart(_("Validation accuracy", "验证准确率"),
              lambda lang: plots.bars({RUN_NAMES[k].get(lang): metrics[f"acc_{k}"] for k in RUNS},
                                      _("training data", "训练数据"), _("accuracy", "准确率"), lang)),
        Chart(_("Accuracy on moved validation digits", "被移动的验证数字上的准确率"),
              lambda lang: plots.bars({RUN_NAMES[k].get(lang): metrics[f"moved_acc_{k}"] for k in RUNS},
                                      _("training data", "训练数据"), _("accuracy", "准确率"), lang),
              caption=_(f"The same validation digits, each rotated by up to ±{MOVED_DEGREES:.0f}° and shifted by up "
                        f"to ±{MOVED_SHIFT} px: the invariance shift-and-rotate augmentation taught.",
                        f"同一批验证数字，每张随机旋转 ±{MOVED_DEGREES:.0f}° 以内并平移 ±{MOVED_SHIFT} 像素以内："
                        "这正是平移+旋转增强教会模型的不变性。")),
        Chart(_("Validation accuracy per epoch", "每轮验证准确率"),
              lambda lang: plots.curves({RUN_NAMES[k].get(lang): r.history["val_acc"] for k, (_m, r) in runs.items()},
                                        _("epoch", "轮次"), _("accuracy", "准确率"), lang)),
    ]
    table = Table(_("Runs", "各组训练"),
                  {"run": _("training data", "训练数据"), "train": _("train accuracy", "训练准确率"),
                   "val": _("val accuracy", "验证准确率"), "moved": _("moved val accuracy", "移动后验证准确率")},
                  [{"run": RUN_NAMES[k].en, "train": round(metrics[f"train_acc_{k}"], 4),
                    "val": round(metrics[f"acc_{k}"], 4), "moved": round(metrics[f"moved_acc_{k}"], 4)} for k in RUNS])
    history = {RUN_NAMES[k].en: r.history for k, (_m, r) in runs.items()}
    return Result(metrics, verdict(cfg, metrics), history, charts, [table])


DEMO = Demo(
    id="augmentation",
    title=_("Data augmentation: keep the label", "数据增强：标签必须保持不变"),
    summary=_("An MLP on 100 handwritten digits with no augmentation, random shifts and rotations, or random "
              "horizontal flips (torchvision v2): label-preserving transforms help, flips hurt.",
              "用 100 张手写数字训练 MLP，分别不做增强、随机平移旋转、随机水平翻转（torchvision v2）："
              "保持标签的变换有帮助，翻转反而有害。"),
    category="regularization",
    config=Config,
    run=run,
    smoke=dict(per_class=3, copies=2, epochs=1),
    key_metric="acc_shift_rotate",
    key_label=_("val accuracy with shift + rotate", "平移 + 旋转增强后的验证准确率"),
)
