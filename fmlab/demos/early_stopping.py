"""Overfitting, early stopping with patience and best-checkpoint restore, learning curves, K-fold.

A big MLP on 200 handwritten digits, a fifth of their labels replaced by random digits, memorises the wrong
labels: its training loss keeps falling while its validation loss bottoms out and rises again. Early stopping
(`fmlab.overfitting`) stops after `patience` epochs without a new best and restores the best epoch's weights.
A learning curve (the train–validation gap closes as data grows) and K-fold cross-validation (accuracy
estimated from every example) measure overfitting; neither prevents it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .. import data, overfitting, plots
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit
from ..nets import MLP, init_weights
from ..params import DemoConfig, lr_param, param, seed_param
from ..text import T, _, sentences

NUM_TRAIN, NUM_VAL = 200, 400  # training and validation examples; the rest of the digits are the test set
CURVE_SIZES, CURVE_EPOCHS = (100, 200, 400, 800), 15  # the learning curve's training-set sizes, and its epochs
NO_STOPPING = _("no early stopping", "不早停")
PATIENCE = _("patience {p}", "patience {p}")  # a run's name: PATIENCE.format(p=10)
FOLD = _("fold {j}", "第 {j} 折")
RULE = _("rule", "规则")


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
    lr: float = lr_param(1e-3, low=1e-4, high=1e-2, help=_("Adam's step size", "Adam 的步长"))
    seed: int = seed_param()


@dataclass(frozen=True)
class Sets:
    """Noisy training and validation labels (they share the labeller's errors) and a clean test set."""

    pool: tuple[Tensor, Tensor]  # (858, 64), (858,): training sets of every size are drawn from here
    train: tuple[Tensor, Tensor]  # (NUM_TRAIN, 64), (NUM_TRAIN,): the pool's first rows
    val: tuple[Tensor, Tensor]  # (NUM_VAL, 64), (NUM_VAL,)
    test: tuple[Tensor, Tensor]  # the 30% "val" part of data.digits, clean labels


def sets(cfg: Config) -> Sets:
    """Digits with `label_noise` of the training and validation labels replaced by random digits."""
    split = data.digits(seed=cfg.seed)
    y = overfitting.noisy_labels(split.y_train, cfg.label_noise, 10, torch.Generator().manual_seed(cfg.seed))
    X_pool, y_pool = split.X_train[NUM_VAL:], y[NUM_VAL:]
    return Sets((X_pool, y_pool), (X_pool[:NUM_TRAIN], y_pool[:NUM_TRAIN]), (split.X_train[:NUM_VAL], y[:NUM_VAL]),
                (split.X_val, split.y_val))


def train(cfg: Config, X: Tensor, y: Tensor, epochs: int, report: Report, val: tuple[Tensor, Tensor] | None = None,
          stopper: overfitting.EarlyStopping | None = None) -> tuple[MLP, Fit]:
    """The same MLP, the same initial weights, Adam, mini-batches of 50."""
    model = init_weights(MLP(64, 10, width=cfg.width, depth=1), cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    return model, fit(model, opt, (X, y), epochs=epochs, batch_size=50, val=val, seed=cfg.seed, report=report,
                      on_epoch=stopper)


def stopping_runs(cfg: Config, s: Sets, report: Report, stages: int) -> tuple[Metrics, Fit]:
    """Train to the end, with patience `cfg.patience` (then restore its best epoch) and with patience 0."""
    full_model, full = train(cfg, *s.train, cfg.max_epochs, part(report, NO_STOPPING, 0, stages), s.val)
    stopper, zero = overfitting.EarlyStopping(cfg.patience), overfitting.EarlyStopping(0)
    model, stopped = train(cfg, *s.train, cfg.max_epochs, part(report, PATIENCE.format(p=cfg.patience), 1, stages),
                           s.val, stopper)
    at_stop = evaluate(model, *s.test)["acc"]
    stopper.restore(model)
    train(cfg, *s.train, cfg.max_epochs, part(report, PATIENCE.format(p=0), 2, stages), s.val, zero)
    val_losses = full.history["val_loss"]
    return {
        "best_epoch": float(stopper.best_epoch),
        "stop_epoch": float(stopper.stopped_at or len(stopped.history["val_loss"])),
        "stop_epoch_p0": float(zero.stopped_at or len(val_losses)), "best_val_loss": stopper.best_loss,
        "min_val_loss_full_run": min(val_losses), "best_epoch_full_run": float(int(np.argmin(val_losses)) + 1),
        "restored_val_loss": evaluate(model, *s.val)["loss"], "last_val_loss": val_losses[-1],
        "last_train_loss": evaluate(full_model, *s.train)["loss"],
        "test_acc_restored": evaluate(model, *s.test)["acc"], "test_acc_at_stop": at_stop,
        "test_acc_last": evaluate(full_model, *s.test)["acc"],
    }, full


def learning_curve(cfg: Config, s: Sets, report: Report, stages: int) -> Metrics:
    """The same recipe on more data (fixed epochs, no early stopping): train and validation accuracy per size."""
    def train_first(X: Tensor, y: Tensor, i: int) -> nn.Module:
        run_name = _("{n} examples", "{n} 个样本").format(n=len(X))
        return train(cfg, X, y, min(CURVE_EPOCHS, cfg.max_epochs), part(report, run_name, 3 + i, stages))[0]

    m: Metrics = {}
    for n, (train_acc, val_acc) in overfitting.learning_curve(train_first, *s.pool, CURVE_SIZES, s.val).items():
        m |= {f"lc_train_acc_n{n}": train_acc, f"lc_val_acc_n{n}": val_acc, f"lc_gap_n{n}": train_acc - val_acc}
    return m


def kfold_estimate(cfg: Config, s: Sets, epochs: int, report: Report, stages: int) -> tuple[Metrics, list[float]]:
    """K-fold accuracy of the recipe "train for `epochs`", and that recipe's accuracy on the validation set."""
    def train_fold(X: Tensor, y: Tensor, j: int) -> nn.Module:
        return train(cfg, X, y, epochs, part(report, FOLD.format(j=j + 1), 3 + len(CURVE_SIZES) + j, stages))[0]

    accs = overfitting.cross_val_accuracy(train_fold, *s.train, cfg.folds)
    return {"kfold_mean_acc": float(np.mean(accs)), "kfold_std_acc": float(np.std(accs)),
            "val_acc_kfold_recipe": evaluate(train(cfg, *s.train, epochs, silent)[0], *s.val)["acc"]}, accs


def lesson(m: Metrics) -> bool:
    return (m["last_val_loss"] > m["min_val_loss_full_run"] + 0.1
            and m["test_acc_restored"] > m["test_acc_last"])


CLAIM = Claim(
    _("the validation loss bottoms out and rises again as training goes on, and the restored best-epoch weights "
      "score higher on the clean test set than the last epoch's",
      "随着训练继续，验证损失先降到最低再回升，恢复的最佳 epoch 权重在干净测试集上的准确率高于最后一个 epoch 的权重"),
    lesson,
    fragile=_("The rise in validation loss is partly over-confidence on noisy labels rather than more wrong answers, "
              "so on some seeds (seed 3 of 0–4) the last epoch's weights score as well on the test set.",
              "验证损失的回升有一部分来自模型在噪声标签上过于自信，而不是答错更多，"
              "所以在某些种子下（0–4 中的种子 3）最后一个 epoch 的权重在测试集上同样好。"),
)


def run(cfg: Config, report: Report = silent) -> Result:
    """Train with and without early stopping, then a learning curve and a K-fold estimate of the chosen recipe."""
    s = sets(cfg)
    stages = 3 + len(CURVE_SIZES) + cfg.folds
    metrics, full = stopping_runs(cfg, s, report, stages)
    metrics |= learning_curve(cfg, s, report, stages)
    epochs = max(1, int(metrics["best_epoch"]))  # the recipe K-fold estimates: train for the chosen number of epochs
    folds, fold_accs = kfold_estimate(cfg, s, epochs, report, stages)
    metrics |= folds
    return Result(metrics, verdict(cfg, metrics), charts(cfg, full, metrics, fold_accs), [table(cfg, metrics)])


def verdict(cfg: Config, m: Metrics) -> T:
    first, last = CURVE_SIZES[0], CURVE_SIZES[-1]
    too_soon = _(", on the first uptick, before the best epoch", "：验证损失第一次小幅回升就停下，早于最佳 epoch")
    return sentences(
        _("Without early stopping the validation loss bottomed out at epoch {best} ({low:.3f}) and ended at "
          "{end:.3f} after {epochs} epochs, while the training loss fell to {train:.3f}.",
          "不早停时，验证损失在第 {best} 个 epoch 最低（{low:.3f}），训练 {epochs} 个 epoch 后回升到 {end:.3f}，"
          "而训练损失降到 {train:.3f}。").format(
            best=int(m["best_epoch_full_run"]), low=m["min_val_loss_full_run"], end=m["last_val_loss"],
            epochs=cfg.max_epochs, train=m["last_train_loss"]),
        _("Patience {p} stopped at epoch {stop} and restored epoch {best}: test accuracy {restored:.1%}, against "
          "{at_stop:.1%} for the weights at the stop and {last:.1%} after all {epochs} epochs.",
          "patience 为 {p} 的早停在第 {stop} 个 epoch 停止并恢复第 {best} 个 epoch 的权重：测试准确率 {restored:.1%}；"
          "停止时的权重为 {at_stop:.1%}，训练满 {epochs} 个 epoch 为 {last:.1%}。").format(
            p=cfg.patience, stop=int(m["stop_epoch"]), best=int(m["best_epoch"]), restored=m["test_acc_restored"],
            at_stop=m["test_acc_at_stop"], last=m["test_acc_last"], epochs=cfg.max_epochs),
        _("Patience 0 stopped at epoch {p0}{too_soon}.", "patience 为 0 时在第 {p0} 个 epoch 停止{too_soon}。").format(
            p0=int(m["stop_epoch_p0"]), too_soon=too_soon if m["stop_epoch_p0"] < m["best_epoch"] else _("", "")),
        _("Learning curve: the train–val accuracy gap went from {a:.1%} with {first} examples to {b:.1%} with {last}.",
          "学习曲线：训练与验证准确率之差从 {first} 个样本时的 {a:.1%} 变为 {last} 个样本时的 {b:.1%}。").format(
            a=m[f"lc_gap_n{first}"], b=m[f"lc_gap_n{last}"], first=first, last=last),
        _("{k}-fold estimate: {mean:.1%} ± {std:.1%} (validation set: {val:.1%}).",
          "{k} 折交叉验证估计：{mean:.1%} ± {std:.1%}（验证集上为 {val:.1%}）。").format(
            k=cfg.folds, mean=m["kfold_mean_acc"], std=m["kfold_std_acc"], val=m["val_acc_kfold_recipe"]),
        _("The validation loss barely rose in this run: try more label noise, a wider net or more epochs.",
          "本次验证损失几乎没有回升：可以加大标签噪声、加宽网络或增加训练轮数。")
        if m["last_val_loss"] - m["min_val_loss_full_run"] < 0.05 else None,
        CLAIM.verdict(m),
    )


def rules(cfg: Config, m: Metrics) -> list[tuple[T, int, int, float]]:
    """Each stopping rule: its name, the epoch it stopped at, the epoch whose weights it kept, their test accuracy."""
    stop, best, end, p = int(m["stop_epoch"]), int(m["best_epoch"]), cfg.max_epochs, cfg.patience
    return [(_("patience {p}, restored", "patience {p}，恢复最佳权重").format(p=p), stop, best, m["test_acc_restored"]),
            (_("patience {p}, not restored", "patience {p}，不恢复").format(p=p), stop, stop, m["test_acc_at_stop"]),
            (NO_STOPPING, end, end, m["test_acc_last"])]


def epoch_losses(full: Fit, best: int, stop: int, lang: str):
    """Per-epoch training loss (mean over the epoch's steps) and validation loss, with the best and stop epochs."""
    fig = plots.curves({plots.TRAIN.get(lang): overfitting.train_loss_per_epoch(full),
                        plots.VALIDATION.get(lang): full.history["val_loss"]}, plots.EPOCH, plots.CROSS_ENTROPY, lang)
    return (fig.add_vline(x=best, line_dash="dot", line_color="#2ca02c")
            .add_vline(x=stop, line_dash="dash", line_color="#7f7f7f"))


def charts(cfg: Config, full: Fit, m: Metrics, fold_accs: list[float]) -> list[Chart]:
    best, stop = int(m["best_epoch"]), int(m["stop_epoch"])
    tests = {name: acc for name, _stop, _kept, acc in rules(cfg, m)}
    curve = {plots.TRAIN: [m[f"lc_train_acc_n{s}"] for s in CURVE_SIZES],
             plots.VALIDATION: [m[f"lc_val_acc_n{s}"] for s in CURVE_SIZES]}
    return [
        Chart(_("Training and validation loss per epoch", "每个 epoch 的训练损失与验证损失"),
              lambda lang: epoch_losses(full, best, stop, lang),
              caption=_("Dotted: the best epoch ({best}), restored; dashed: where patience {p} stopped ({stop}).",
                        "点线：最佳 epoch（{best}），早停后恢复到这里；虚线：patience 为 {p} 时停止的位置（{stop}）。")
              .format(best=best, p=cfg.patience, stop=stop)),
        Chart(_("Test accuracy (clean labels)", "测试准确率（标签干净）"),
              lambda lang: plots.bars({k.get(lang): v for k, v in tests.items()}, RULE, plots.ACCURACY, lang)),
        Chart(_("Learning curve", "学习曲线"),
              lambda lang: plots.lines_xy({k.get(lang): (CURVE_SIZES, v) for k, v in curve.items()},
                                          _("training examples", "训练样本数"),
                                          _("accuracy (labels as given)", "准确率（按给定标签）"), lang),
              caption=_("{noise:.0%} of labels are random, so validation accuracy tops out near {top:.0%}. "
                        "The gap closes as data grows.", "有 {noise:.0%} 的标签是随机的，验证准确率的上限约为 {top:.0%}。"
                        "数据越多，两者差距越小。").format(noise=cfg.label_noise, top=1 - cfg.label_noise * 0.9)),
        Chart(_("{k}-fold cross-validation accuracy per fold", "{k} 折交叉验证中每折的准确率").format(k=cfg.folds),
              lambda lang: plots.bars({FOLD.format(j=j + 1).get(lang): a for j, a in enumerate(fold_accs)},
                                      _("fold", "折"), plots.ACCURACY, lang)),
    ]


def table(cfg: Config, m: Metrics) -> Table:
    return Table(_("Early stopping", "早停"),
                 {"rule": RULE, "stop": _("stopped at epoch", "停止的 epoch"),
                  "best": _("weights from epoch", "所用权重的 epoch"), "test": _("test accuracy", "测试准确率")},
                 [{"rule": r, "stop": a, "best": b, "test": round(acc, 4)} for r, a, b, acc in rules(cfg, m)])


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
    claim=CLAIM,
)
