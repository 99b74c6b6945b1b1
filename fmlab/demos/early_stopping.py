"""Overfitting, early stopping with patience and best-checkpoint restore, learning curves, K-fold.

A big MLP on 200 handwritten digits, a fifth of their labels replaced by random digits, keeps
driving its training loss down by memorising the wrong labels; its validation loss falls, bottoms out and rises
again. Early stopping watches the validation loss after every epoch, keeps a copy of the best
weights, stops after `patience` epochs without improvement and restores that copy. A learning
curve shows the train–validation gap closing as data grows, and K-fold cross-validation
estimates accuracy from every example; both measure overfitting, neither prevents it.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .. import data, plots
from ..demo import Chart, Demo, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit
from ..nets import MLP, init_weights
from ..params import DemoConfig, param
from ..text import T, _

NUM_TRAIN, NUM_VAL = 200, 400  # training and validation examples; the rest of the digits are the test set
CURVE_SIZES = (100, 200, 400, 800)  # training-set sizes for the learning curve
CURVE_EPOCHS = 15


@dataclass(frozen=True)
class Config(DemoConfig):
    patience: int = param(10, low=0, high=50, label=_("Patience", "耐心值（patience）"),
                          help=_("Epochs in a row without a new best validation loss before stopping",
                                 "验证损失连续多少个 epoch 没有创新低就停止"))
    max_epochs: int = param(50, low=5, high=200, label=_("Max epochs", "最大训练轮数"),
                            help=_("Length of the run without early stopping", "不早停时训练的轮数"))
    label_noise: float = param(0.2, low=0.0, high=0.6, label=_("Label noise", "标签噪声"),
                               help=_("Share of training and validation labels replaced by random digits "
                                      "(the test set stays clean)",
                                      "训练集和验证集中被随机数字替换的标签比例（测试集保持干净）"))
    width: int = param(256, low=16, high=512, label=_("Width", "宽度"),
                       help=_("Units in each of the MLP's two hidden layers", "MLP 两个隐藏层各自的神经元数"))
    folds: int = param(5, low=2, high=10, label=_("Folds (K)", "折数（K）"),
                       help=_("K for the cross-validation estimate", "交叉验证估计所用的 K"))
    lr: float = param(1e-3, low=1e-4, high=1e-2, log=True, label=_("Learning rate (Adam)", "学习率（Adam）"),
                      help=_("Adam's step size", "Adam 的步长"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run", "相同种子，相同结果"))


class EarlyStopping:
    """fit(on_epoch=...) hook: stop after `patience` epochs without a new best validation loss.

    Keeps a deep copy of the best epoch's state_dict; `restore(model)` loads it back.
    """

    def __init__(self, patience: int):
        self.patience = patience
        self.best_loss = math.inf
        self.best_epoch = 0
        self.best_state: dict[str, Tensor] | None = None
        self.stopped_at: int | None = None

    def __call__(self, epoch: int, run: Fit, model: nn.Module) -> bool:
        loss = run.history["val_loss"][-1]  # fit(val=...) has just evaluated this epoch
        if loss < self.best_loss:
            self.best_loss, self.best_epoch = loss, epoch
            self.best_state = copy.deepcopy(model.state_dict())  # a copy: training goes on changing the weights
        elif epoch - self.best_epoch >= self.patience:
            self.stopped_at = epoch
            return True
        return False

    def restore(self, model: nn.Module) -> nn.Module:
        model.load_state_dict(self.best_state)
        return model


def noisy(y: Tensor, share: float, g: torch.Generator) -> Tensor:
    """Replace a random `share` of the labels by uniformly random digits (some land on the right one)."""
    replace = torch.rand(len(y), generator=g) < share
    return torch.where(replace, torch.randint(0, 10, y.shape, generator=g), y)


def kfold(num: int, k: int) -> list[tuple[Tensor, Tensor]]:
    """(train indices, validation indices) for k contiguous folds; the first num % k folds get one extra.

    The rows are already in random order (data.digits shuffles), so contiguous folds are random folds.
    """
    folds, start = [], 0
    for i in range(k):
        size = num // k + (1 if i < num % k else 0)
        val = torch.arange(start, start + size)
        train = torch.cat([torch.arange(0, start), torch.arange(start + size, num)])
        folds.append((train, val))
        start += size
    return folds


def build(cfg: Config) -> MLP:
    return init_weights(MLP(64, 10, width=cfg.width, depth=1), cfg.seed)


def train(cfg: Config, X: Tensor, y: Tensor, epochs: int, report: Report,
          val: tuple[Tensor, Tensor] | None = None, stopper: EarlyStopping | None = None) -> tuple[MLP, Fit]:
    """The same MLP, the same initial weights, Adam, mini-batches of 50."""
    model = build(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    result = fit(model, opt, (X, y), epochs=epochs, batch_size=50, val=val, seed=cfg.seed, report=report,
                 on_epoch=stopper)
    return model, result


def epoch_losses(full: Fit, best: int, stop: float, lang: str):
    """Per-epoch training loss (mean over the epoch's steps) and validation loss, with the best and stop epochs."""
    epochs = len(full.history["val_loss"])
    steps = len(full.history["loss"]) // epochs
    train_loss = np.asarray(full.history["loss"][:epochs * steps]).reshape(epochs, steps).mean(axis=1)
    fig = plots.curves({_("train", "训练").get(lang): train_loss, _("validation", "验证").get(lang): full.history["val_loss"]},
                       _("epoch", "轮次"), _("cross-entropy", "交叉熵"), lang)
    fig.add_vline(x=best, line_dash="dot", line_color="#2ca02c")
    fig.add_vline(x=stop, line_dash="dash", line_color="#7f7f7f")
    return fig


def verdict(cfg: Config, m: dict[str, float]) -> T:
    head_en = (f"Without early stopping the validation loss bottomed out at epoch {m['best_epoch_full_run']:.0f} "
               f"({m['min_val_loss_full_run']:.3f}) and ended at {m['last_val_loss']:.3f} after {cfg.max_epochs} epochs, "
               f"while the training loss fell to {m['last_train_loss']:.3f}. Patience {cfg.patience} stopped at epoch "
               f"{m['stop_epoch']:.0f} and restored epoch {m['best_epoch']:.0f}: test accuracy {m['test_acc_restored']:.1%}, "
               f"against {m['test_acc_at_stop']:.1%} for the weights at the stop and {m['test_acc_last']:.1%} "
               f"after all {cfg.max_epochs} epochs. Patience 0 stopped at epoch {m['stop_epoch_p0']:.0f}"
               + (", on the first uptick, before the best epoch." if m["stop_epoch_p0"] < m["best_epoch"] else "."))
    head_zh = (f"不早停时，验证损失在第 {m['best_epoch_full_run']:.0f} 个 epoch 最低（{m['min_val_loss_full_run']:.3f}），训练 {cfg.max_epochs} "
               f"个 epoch 后回升到 {m['last_val_loss']:.3f}，而训练损失降到 {m['last_train_loss']:.3f}。patience 为 "
               f"{cfg.patience} 的早停在第 {m['stop_epoch']:.0f} 个 epoch 停止并恢复第 {m['best_epoch']:.0f} 个 epoch 的权重："
               f"测试准确率 {m['test_acc_restored']:.1%}；停止时的权重为 {m['test_acc_at_stop']:.1%}，训练满 {cfg.max_epochs} "
               f"个 epoch 为 {m['test_acc_last']:.1%}。patience 为 0 时在第 {m['stop_epoch_p0']:.0f} 个 epoch 就停了"
               + ("：验证损失第一次小幅回升就停下，早于最佳 epoch。" if m["stop_epoch_p0"] < m["best_epoch"] else "。"))
    curve_en = (f"Learning curve: the train–val accuracy gap went from {m[f'lc_gap_n{CURVE_SIZES[0]}']:.1%} with "
                f"{CURVE_SIZES[0]} examples to {m[f'lc_gap_n{CURVE_SIZES[-1]}']:.1%} with {CURVE_SIZES[-1]}. "
                f"{cfg.folds}-fold estimate: {m['kfold_mean_acc']:.1%} ± {m['kfold_std_acc']:.1%} "
                f"(validation set: {m['val_acc_kfold_recipe']:.1%}).")
    curve_zh = (f"学习曲线：训练与验证准确率之差从 {CURVE_SIZES[0]} 个样本时的 {m[f'lc_gap_n{CURVE_SIZES[0]}']:.1%} "
                f"缩小到 {CURVE_SIZES[-1]} 个样本时的 {m[f'lc_gap_n{CURVE_SIZES[-1]}']:.1%}。{cfg.folds} 折交叉验证估计："
                f"{m['kfold_mean_acc']:.1%} ± {m['kfold_std_acc']:.1%}（验证集上为 {m['val_acc_kfold_recipe']:.1%}）。")
    if m["last_val_loss"] - m["min_val_loss_full_run"] < 0.05:
        curve_en += " The validation loss barely rose in this run: try more label noise, a wider net or more epochs."
        curve_zh += "本次验证损失几乎没有回升：可以加大标签噪声、加宽网络或增加训练轮数。"
    return _(f"{head_en} {curve_en}", f"{head_zh}{curve_zh}")


def run(cfg: Config, report: Report = silent) -> Result:
    split = data.digits(seed=cfg.seed)  # the 30% "val" part of data.digits is our clean test set
    g = torch.Generator().manual_seed(cfg.seed)
    y_pool = noisy(split.y_train, cfg.label_noise, g)  # the labelling process: train and val share its errors
    X_val, y_val = split.X_train[:NUM_VAL], y_pool[:NUM_VAL]
    X_pool, y_pool = split.X_train[NUM_VAL:], y_pool[NUM_VAL:]  # (858, 64): training sets are drawn from here
    X, y = X_pool[:NUM_TRAIN], y_pool[:NUM_TRAIN]
    test = (split.X_val, split.y_val)
    val = (X_val, y_val)
    stages = 3 + len(CURVE_SIZES) + cfg.folds

    full_model, full = train(cfg, X, y, cfg.max_epochs, part(report, "no early stopping", 0, stages), val)
    stopper = EarlyStopping(cfg.patience)
    model, stopped = train(cfg, X, y, cfg.max_epochs, part(report, f"patience {cfg.patience}", 1, stages), val, stopper)
    at_stop = evaluate(model, *test)["acc"]
    stopper.restore(model)
    zero = EarlyStopping(0)
    train(cfg, X, y, cfg.max_epochs, part(report, "patience 0", 2, stages), val, zero)

    val_losses = full.history["val_loss"]
    metrics = {
        "best_epoch": float(stopper.best_epoch),
        "stop_epoch": float(stopper.stopped_at or len(stopped.history["val_loss"])),
        "stop_epoch_p0": float(zero.stopped_at or len(val_losses)),
        "best_val_loss": stopper.best_loss, "min_val_loss_full_run": min(val_losses),
        "best_epoch_full_run": float(int(np.argmin(val_losses)) + 1),
        "restored_val_loss": evaluate(model, *val)["loss"], "last_val_loss": val_losses[-1],
        "last_train_loss": evaluate(full_model, X, y)["loss"],
        "test_acc_restored": evaluate(model, *test)["acc"], "test_acc_at_stop": at_stop,
        "test_acc_last": evaluate(full_model, *test)["acc"],
    }

    for i, size in enumerate(CURVE_SIZES):  # the same recipe on more data (fixed epochs, no early stopping)
        X_n, y_n = X_pool[:size], y_pool[:size]
        curve_model, _r = train(cfg, X_n, y_n, min(CURVE_EPOCHS, cfg.max_epochs), part(report, f"n={size}", 3 + i, stages))
        metrics[f"lc_train_acc_n{size}"] = evaluate(curve_model, X_n, y_n)["acc"]
        metrics[f"lc_val_acc_n{size}"] = evaluate(curve_model, *val)["acc"]
        metrics[f"lc_gap_n{size}"] = metrics[f"lc_train_acc_n{size}"] - metrics[f"lc_val_acc_n{size}"]

    epochs = max(1, stopper.best_epoch)  # the recipe K-fold estimates: train for the chosen number of epochs
    fold_accs = []
    for j, (tr, va) in enumerate(kfold(NUM_TRAIN, cfg.folds)):
        fold_model, _r = train(cfg, X[tr], y[tr], epochs, part(report, f"fold {j + 1}", 3 + len(CURVE_SIZES) + j, stages))
        fold_accs.append(evaluate(fold_model, X[va], y[va])["acc"])
    metrics["kfold_mean_acc"], metrics["kfold_std_acc"] = float(np.mean(fold_accs)), float(np.std(fold_accs))
    metrics["val_acc_kfold_recipe"] = evaluate(train(cfg, X, y, epochs, silent)[0], *val)["acc"]

    best, stop = stopper.best_epoch, int(metrics["stop_epoch"])
    loss_chart = lambda lang: epoch_losses(full, best, stop, lang)
    charts = [
        Chart(_("Training and validation loss per epoch", "每个 epoch 的训练损失与验证损失"), loss_chart,
              caption=_(f"Dotted: the best epoch ({best}), restored; dashed: where patience {cfg.patience} stopped "
                        f"({stop}).", f"点线：最佳 epoch（{best}），早停后恢复到这里；虚线：patience 为 {cfg.patience} "
                        f"时停止的位置（{stop}）。")),
        Chart(_("Test accuracy (clean labels)", "测试准确率（标签干净）"),
              lambda lang: plots.bars({_("restored best", "恢复最佳权重").get(lang): metrics["test_acc_restored"],
                                       _("weights at the stop", "停止时的权重").get(lang): metrics["test_acc_at_stop"],
                                       _(f"all {cfg.max_epochs} epochs", f"训练满 {cfg.max_epochs} 轮").get(lang):
                                           metrics["test_acc_last"]},
                                      _("model", "模型"), _("accuracy", "准确率"), lang)),
        Chart(_("Learning curve", "学习曲线"),
              lambda lang: plots.lines_xy(
                  {_("train", "训练").get(lang): (CURVE_SIZES, [metrics[f"lc_train_acc_n{s}"] for s in CURVE_SIZES]),
                   _("validation", "验证").get(lang): (CURVE_SIZES, [metrics[f"lc_val_acc_n{s}"] for s in CURVE_SIZES])},
                  _("training examples", "训练样本数"), _("accuracy (labels as given)", "准确率（按给定标签）"), lang),
              caption=_(f"{cfg.label_noise:.0%} of labels are random, so validation accuracy tops out near "
                        f"{1 - cfg.label_noise * 0.9:.0%}. The gap closes as data grows.",
                        f"有 {cfg.label_noise:.0%} 的标签是随机的，验证准确率的上限约为 {1 - cfg.label_noise * 0.9:.0%}。"
                        "数据越多，两者差距越小。")),
        Chart(_(f"{cfg.folds}-fold cross-validation accuracy per fold", f"{cfg.folds} 折交叉验证中每折的准确率"),
              lambda lang: plots.bars({_(f"fold {j + 1}", f"第 {j + 1} 折").get(lang): a for j, a in enumerate(fold_accs)},
                                      _("fold", "折"), _("accuracy", "准确率"), lang)),
    ]
    table = Table(_("Early stopping", "早停"),
                  {"rule": _("rule", "规则"), "stop": _("stopped at epoch", "停止的 epoch"),
                   "best": _("weights from epoch", "所用权重的 epoch"), "test": _("test accuracy", "测试准确率")},
                  [{"rule": f"patience {cfg.patience}, restored", "stop": stop, "best": best,
                    "test": round(metrics["test_acc_restored"], 4)},
                   {"rule": f"patience {cfg.patience}, not restored", "stop": stop, "best": stop,
                    "test": round(metrics["test_acc_at_stop"], 4)},
                   {"rule": "no early stopping", "stop": cfg.max_epochs, "best": cfg.max_epochs,
                    "test": round(metrics["test_acc_last"], 4)}])
    history = {"no early stopping": full.history, f"patience {cfg.patience}": stopped.history}
    return Result(metrics, verdict(cfg, metrics), history, charts, [table])


DEMO = Demo(
    id="early-stopping",
    title=_("Overfitting and early stopping", "过拟合与早停"),
    summary=_("A big MLP on 200 digits with noisy labels: U-shaped validation loss, early stopping with patience "
              "and best-checkpoint restore, a learning curve and a K-fold estimate.",
              "在 200 张带噪声标签的数字上训练大 MLP：U 形验证损失、带 patience 和最佳检查点恢复的早停、学习曲线与 K 折估计。"),
    category="regularization",
    config=Config,
    run=run,
    smoke=dict(max_epochs=5, patience=1, width=16, folds=2),
    key_metric="test_acc_restored",
    key_label=_("test accuracy of the restored model", "恢复最佳权重后的测试准确率"),
)
