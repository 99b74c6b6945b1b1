"""Diagnosing a training run from a few numbers read off it, the way you would read its loss plot.

Each classic failure leaves its own signature: the loss at step 1 (≈ ln C for a sane initialisation),
its peak, the final train and validation loss, validation accuracy against chance (1/C), and the share
of ReLU units that never fire. `read_signals` measures them after a `fit`; `diagnose` checks them in a
fixed order, because earlier causes mask later ones, and names the problem; `READINGS` says how each
one looks on the curves and how to fix it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from . import plots
from .fit import Fit, evaluate
from .nets import MLP
from .text import _


@dataclass(frozen=True)
class Signals:  # the numbers a practitioner reads off a run
    start_loss: float  # training loss at step 1: ≈ ln C for a sane initialisation
    peak_loss: float  # largest training-step loss
    train_loss: float  # final loss on the training set as the run saw it (its labels), in eval mode
    val_loss: float  # final validation loss
    val_acc: float  # final validation accuracy
    dead_share: float  # worst hidden layer's share of ReLU units that are zero on every validation input
    diverged: bool
    num_classes: int


SIGNAL_NAMES = {"start_loss": _("loss at step 1", "第 1 步损失"), "peak_loss": _("peak loss", "损失峰值"),
                "train_loss": _("final train loss", "最终训练损失"), "val_loss": _("final val loss", "最终验证损失"),
                "val_acc": plots.VAL_ACCURACY, "dead_share": _("dead ReLUs (worst layer)", "死亡 ReLU（最差层）")}


def diagnose(s: Signals) -> str:
    """Name the problem from a run's signals; checked in this order because earlier causes mask later ones."""
    chance = 1 / s.num_classes
    if s.diverged or s.peak_loss > 2 * s.start_loss or s.train_loss > 1.05 * s.start_loss:
        return "lr_high"  # the loss spiked, ended above its start, or became NaN
    if s.dead_share > 0.5:
        return "dead_relu"  # a layer with no active unit passes no gradient
    if s.val_acc < chance + 0.15:
        return "label_shuffle"  # nothing learned that transfers: labels unrelated to the inputs
    if s.train_loss > 0.8 * s.start_loss:
        return "lr_low"  # loss barely moved, yet no other symptom
    if s.val_loss < 0.75 * s.train_loss:
        return "label_noise"  # clean validation labels beat the noisy training labels
    if s.val_loss - s.train_loss > 0.25:
        return "overfit"  # train loss near zero, validation far above it
    return "healthy"


@torch.no_grad()
def dead_shares(model: MLP, X: Tensor) -> list[float]:
    """Per hidden layer of a plain MLP: share of units whose pre-activation is ≤ 0 for every row of X (N, in)."""
    shares, h = [], X
    for layer in model.linears()[:-1]:  # hidden layers only: the head has no ReLU
        z = layer(h)  # (N, width) pre-activations
        shares.append((z <= 0).all(dim=0).float().mean().item())
        h = F.relu(z)  # assumes no norm or shortcut between the linear layers
    return shares


def read_signals(run: Fit, model: MLP, train: tuple[Tensor, Tensor], val: tuple[Tensor, Tensor],
                 num_classes: int) -> Signals:
    """The signals of a finished `fit` of `model` on `train`, validated on `val`."""
    losses = run.history["loss"]
    scores = evaluate(model, *val)
    train_loss = math.nan if run.diverged else evaluate(model, *train)["loss"]  # not the epoch's running mean
    return Signals(start_loss=losses[0] if losses else math.nan, peak_loss=max(losses, default=math.nan),
                   train_loss=train_loss, val_loss=scores["loss"], val_acc=scores["acc"],
                   dead_share=max(dead_shares(model, val[0])), diverged=run.diverged, num_classes=num_classes)


READINGS = {  # diagnosis: (what it looks like on the curves, how to fix it)
    "lr_high": (_("the loss spikes, rises above its start or turns NaN", "损失出现尖峰、升到起点以上或变成 NaN"),
                _("lower the learning rate, add warm-up and gradient clipping", "调低学习率，加入预热和梯度裁剪")),
    "lr_low": (_("the loss creeps down from ln C while accuracy still rises", "损失从 ln C 缓慢下降，准确率却仍在上升"),
               _("raise the learning rate (a short sweep or range test shows which side you are on)",
                 "调高学习率（做一次小范围搜索或区间测试，看清是偏大还是偏小）")),
    "overfit": (_("train loss near zero, validation loss far above it", "训练损失接近 0，验证损失远高于它"),
                _("more data or augmentation, weight decay, dropout, early stopping", "更多数据或数据增强、权重衰减、dropout、早停")),
    "label_shuffle": (_("validation accuracy at chance while the train loss creeps down (memorising)",
                        "验证准确率停在随机水平，训练损失却在缓慢下降（在死记硬背）"),
                      _("check the data pipeline: shuffle inputs and labels with one permutation",
                        "检查数据管道：输入和标签必须用同一个排列打乱")),
    "label_noise": (_("a high train-loss floor, with the clean validation loss below it",
                      "训练损失停在较高的“底”上，干净验证集上的损失反而更低"),
                    _("clean or relabel the data; a robust loss or label smoothing softens the damage",
                      "清洗或重新标注数据；鲁棒损失或标签平滑能减轻影响")),
    "dead_relu": (_("a flat loss at ln C and a hidden layer whose units never fire", "损失平躺在 ln C，某个隐藏层的神经元从不激活"),
                  _("proper (He) initialisation, a lower learning rate, LeakyReLU/GELU or normalisation",
                    "合适的（He）初始化、更低的学习率、LeakyReLU/GELU 或归一化层")),
}
