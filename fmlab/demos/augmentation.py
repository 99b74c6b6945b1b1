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
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit
from ..nets import MLP, init_weights
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, join, same, sentences

RUNS = ("none", "shift_rotate", "flip")
RUN_NAMES = {"none": _("no augmentation", "不做增强"), "shift_rotate": _("shift + rotate", "平移 + 旋转"),
             "flip": _("horizontal flip", "水平翻转")}
MOVED_DEGREES, MOVED_SHIFT = 10.0, 0.5  # how the "moved" validation digits are displaced (fixed, not a setting)
TRAINING_DATA = _("training data", "训练数据")


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
    epochs: int = epochs_param(15, high=40, help=_("Passes over all the variants", "遍历全部变体的次数"))
    lr: float = lr_param(3e-3, low=1e-4, high=1e-1, help=_("Adam's step size, the same for every run", "Adam 的步长，各组相同"))
    seed: int = seed_param()


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


def augmented_sets(X: Tensor, cfg: Config) -> dict[str, Tensor]:
    """Run name -> `cfg.copies` variants of every training image: each (copies · N, 1, 8, 8)."""
    g = torch.Generator().manual_seed(cfg.seed)
    augments = {"none": lambda X: X, "shift_rotate": lambda X: shift_rotate(X, cfg.degrees, cfg.shift, g),
                "flip": lambda X: random_flip(X, cfg.flip_p, g)}
    return {k: variants(X, augments[k], cfg.copies) for k in RUNS}


def accuracies(models: dict[str, MLP], X: Tensor, y: Tensor, split: data.Split, seed: int) -> Metrics:
    """Each model's accuracy on its training digits, the validation digits and the moved validation digits."""
    X_val = split.X_val.view(-1, 1, 8, 8)  # (N_val, 1, 8, 8)
    X_moved = shift_rotate(X_val, MOVED_DEGREES, MOVED_SHIFT, torch.Generator().manual_seed(seed + 1))
    metrics: Metrics = {}
    for k, model in models.items():
        metrics[f"acc_{k}"] = evaluate(model, X_val, split.y_val)["acc"]
        metrics[f"moved_acc_{k}"] = evaluate(model, X_moved, split.y_val)["acc"]
        metrics[f"train_acc_{k}"] = evaluate(model, X, y)["acc"]
    return metrics


def lesson(m: Metrics) -> bool | None:
    """Shift + rotate gains over 3 points on moved digits; flips cost over 2 points on the usual ones."""
    if m["flip_p"] == 0 or (m["max_rotation"] == 0 and m["max_shift"] == 0):
        return None  # one of the two augmentations changes nothing
    return (m["moved_acc_shift_rotate"] > m["moved_acc_none"] + 0.03) and (m["acc_flip"] < m["acc_none"] - 0.02)


CLAIM = Claim(
    _("label-preserving shifts and rotations raise accuracy on moved digits by over 3 points, while "
      "label-breaking horizontal flips cost over 2 points of validation accuracy",
      "保持标签的平移和旋转让被移动数字上的准确率提高 3 个百分点以上，而破坏标签的水平翻转让验证准确率下降 2 个百分点以上"),
    lesson,
    fragile=_("Both effects are a few points: a flip probability near 0, tiny rotations and shifts, or many "
              "training digits per class make them shrink into run-to-run noise.",
              "两种效应都只有几个百分点：翻转概率接近 0、旋转和平移很小，或每类训练样本很多时，它们会淹没在不同运行间的波动里。"),
)


def verdict(m: Metrics) -> T:
    """Accuracy of each run on centred and moved digits, and what each augmentation changed."""
    accs = join(_("{name} {acc:.1%}", "{name} {acc:.1%}").format(name=RUN_NAMES[k], acc=m[f"acc_{k}"]) for k in RUNS)
    moved = join(_("{name} {acc:.1%}", "{name} {acc:.1%}").format(name=RUN_NAMES[k], acc=m[f"moved_acc_{k}"])
                 for k in RUNS)
    moved_gain, flip_change = m["moved_acc_shift_rotate"] - m["moved_acc_none"], m["acc_flip"] - m["acc_none"]
    return sentences(
        _("Validation accuracy with {n:.0f} training digits: {accs}.", "用 {n:.0f} 张训练数字时的验证准确率：{accs}。")
        .format(n=m["train_size"], accs=accs),
        _("On the same digits rotated by up to ±{deg:.0f}° and shifted by up to ±{px} px: {moved}.",
          "把这些验证数字随机旋转 ±{deg:.0f}° 以内、平移 ±{px} 像素以内后：{moved}。")
        .format(deg=MOVED_DEGREES, px=MOVED_SHIFT, moved=moved),
        _("Shift + rotate changed accuracy by {gain:+.1f} points on the centred digits and by {moved:+.1f} on the "
          "moved ones{why}.", "平移 + 旋转使居中数字上的准确率变化 {gain:+.1f} 个百分点，被移动数字上变化 {moved:+.1f} 个百分点{why}。")
        .format(gain=100 * (m["acc_shift_rotate"] - m["acc_none"]), moved=100 * moved_gain,
                why=_(": the invariance it teaches", "：这正是它教给模型的不变性") if moved_gain > 0 else same("")),
        _("Horizontal flips changed it by {drop:+.1f} points{why}.", "水平翻转使准确率变化 {drop:+.1f} 个百分点{why}。")
        .format(drop=100 * flip_change,
                why=_(": a mirrored 2, 3 or 7 is another glyph that keeps the old label",
                      "：镜像后的 2、3、7 已是另一个字形，却仍带着原来的标签") if flip_change < 0 else same("")),
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Train one MLP per augmentation on a few digits; compare accuracy on centred and moved validation digits."""
    split = data.digits(seed=cfg.seed)
    X, y = few_digits(split, cfg.per_class, cfg.seed)  # (N, 1, 8, 8), (N,)
    sets = augmented_sets(X, cfg)
    y_all = y.repeat(cfg.copies)  # (copies · N,)
    runs = {k: train(sets[k], y_all, cfg, split, part(report, RUN_NAMES[k], i, len(RUNS))) for i, k in enumerate(RUNS)}
    metrics = {"train_size": float(len(X)), "flip_p": cfg.flip_p, "max_rotation": cfg.degrees, "max_shift": cfg.shift}
    metrics |= accuracies({k: model for k, (model, _fit) in runs.items()}, X, y, split, cfg.seed)
    return Result(metrics, verdict(metrics), charts(cfg, X, y, sets, runs, metrics), [summary(metrics)])


def to_rgb(X: Tensor) -> np.ndarray:
    """Grey images (N, 1, H, W) in [0, 1] -> (N, H, W, 3) for plots.image_grid."""
    return X.clamp(0, 1).permute(0, 2, 3, 1).repeat(1, 1, 1, 3).numpy()


def examples(X: Tensor, y: Tensor, sets: dict[str, Tensor], copies: int) -> np.ndarray:
    """One training image of each digit, then two random variants under each augmentation: (5, 10, 8, 8, 3)."""
    first = torch.stack([torch.nonzero(y == c)[0, 0] for c in range(10)])  # (10,)
    second = first + len(X) if copies > 1 else first  # the same images in the second set of variants
    return np.stack([to_rgb(X[first]), to_rgb(sets["shift_rotate"][first]), to_rgb(sets["shift_rotate"][second]),
                     to_rgb(sets["flip"][first]), to_rgb(sets["flip"][second])])


def charts(cfg: Config, X: Tensor, y: Tensor, sets: dict[str, Tensor], runs: dict[str, tuple[MLP, Fit]],
           m: Metrics) -> list[Chart]:
    """Example variants, accuracy per run on centred and moved digits, validation accuracy per epoch."""
    grid = examples(X, y, sets, cfg.copies)
    rows = [_("original", "原图")] + [RUN_NAMES["shift_rotate"]] * 2 + [RUN_NAMES["flip"]] * 2
    bars = lambda prefix, lang: plots.bars({RUN_NAMES[k].get(lang): m[f"{prefix}{k}"] for k in RUNS},
                                           TRAINING_DATA, plots.ACCURACY, lang)
    return [
        Chart(_("Training images and two random variants of each", "训练图像及其两组随机变体"),
              lambda lang: plots.image_grid(grid, rows, [str(c) for c in range(10)], lang),
              caption=_("Each variant is a fresh random draw. The flip rows mirror about {p:.0%} of the digits: a "
                        "mirrored 2, 3 or 7 is a different glyph with the old label.",
                        "每个变体都是一次新的随机抽样。翻转行中约 {p:.0%} 的数字被镜像：镜像后的 2、3、7 已是另一个字形，"
                        "却仍带着原来的标签。").format(p=cfg.flip_p)),
        Chart(_("Validation accuracy", "验证准确率"), lambda lang: bars("acc_", lang)),
        Chart(_("Accuracy on moved validation digits", "被移动的验证数字上的准确率"), lambda lang: bars("moved_acc_", lang),
              caption=_("The same validation digits, each rotated by up to ±{deg:.0f}° and shifted by up to ±{px} px: "
                        "the invariance shift-and-rotate augmentation taught.",
                        "同一批验证数字，每张随机旋转 ±{deg:.0f}° 以内并平移 ±{px} 像素以内：这正是平移+旋转增强教会模型的不变性。")
              .format(deg=MOVED_DEGREES, px=MOVED_SHIFT)),
        Chart(_("Validation accuracy per epoch", "每轮验证准确率"),
              lambda lang: plots.curves({RUN_NAMES[k].get(lang): r.history["val_acc"] for k, (_m, r) in runs.items()},
                                        plots.EPOCH, plots.VAL_ACCURACY, lang)),
    ]


def summary(m: Metrics) -> Table:
    """One row per run: train, validation and moved-validation accuracy."""
    return Table(plots.SUMMARY,
                 {"run": TRAINING_DATA, "train": plots.TRAIN_ACCURACY, "val": plots.VAL_ACCURACY,
                  "moved": _("moved val accuracy", "移动后验证准确率")},
                 [{"run": RUN_NAMES[k], "train": round(m[f"train_acc_{k}"], 4), "val": round(m[f"acc_{k}"], 4),
                   "moved": round(m[f"moved_acc_{k}"], 4)} for k in RUNS])


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
    claim=CLAIM,
    gpu=True,
)
