"""Dropout: random zeroing in training, a regulariser that narrows the train/validation gap.

In train mode dropout zeroes each activation with probability p and scales the survivors by
1/(1 − p), so eval mode simply passes activations through (`fmlab.dropout_layer` writes it by hand).
A wide MLP learns 300 digits, 30% of whose training labels were replaced by random ones. Without
dropout it memorises the wrong labels; with p = 0.5 no unit can rely on its partners, the net
fits the shared pattern and the gap closes; p = 0.9 throws away so much that it underfits.
`model.train()` / `model.eval()` switch dropout on and off: `torch.no_grad()` does not.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .. import data, plots
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..dropout_layer import Dropout, inverted_dropout, mask_stats, true_class_probability
from ..fit import Fit, evaluate, fit, seeded_global_rng
from ..nets import init_weights
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, join, same, sentences

RATES = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
SWITCH_PASSES = 100  # forward passes of one validation digit in train mode and in eval mode


@dataclass(frozen=True)
class Config(DemoConfig):
    rates: tuple = param((0.0, 0.5, 0.9), choices=RATES, label=_("Dropout rates p", "dropout 比例 p"),
                         help=_("One run per rate; p is the probability of DROPPING a hidden unit",
                                "每个比例训练一次；p 是隐藏单元被丢弃的概率"))
    label_noise: float = param(0.3, low=0.0, high=0.8, label=_("Wrong training labels", "错误训练标签比例"),
                               help=_("Share of training labels replaced by a random digit (validation stays clean)",
                                      "训练标签中被随机数字替换的比例（验证集标签保持正确）"))
    num_train: int = param(300, low=50, high=1200, label=_("Training digits", "训练样本数"),
                           help=_("Few examples and a wide net: room to memorise", "样本少而网络宽：足以死记硬背"))
    width: int = param(128, choices=(32, 64, 128, 256, 512), label=_("Hidden width", "隐藏层宽度"),
                       help=_("Units in each of the two hidden layers", "两个隐藏层各自的单元数"))
    epochs: int = epochs_param(60, high=300, help=_("Passes over the training digits (batches of 50)",
                                                    "遍历训练样本的次数（批大小 50）"))
    lr: float = lr_param(3e-3, low=1e-4, high=3e-2, help=_("The same for every run", "所有运行共用"))
    seed: int = seed_param()


def mlp(p: float, width: int, seed: int) -> nn.Sequential:
    """64 -> width -> width -> 10, with dropout after each hidden activation (never on the logits)."""
    model = nn.Sequential(nn.Linear(64, width), nn.ReLU(), Dropout(p),
                          nn.Linear(width, width), nn.ReLU(), Dropout(p),
                          nn.Linear(width, 10))
    return init_weights(model, seed)


def train(p: float, cfg: Config, X: Tensor, y: Tensor, val: tuple[Tensor, Tensor],
          report: Report) -> tuple[nn.Module, Fit]:
    """Adam on (X, y); history["train_acc"] records accuracy on the given labels in eval mode after each epoch."""
    model = mlp(p, cfg.width, cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def track(epoch: int, result: Fit, model: nn.Module) -> bool:
        result.history.setdefault("train_acc", []).append(evaluate(model, X, y)["acc"])
        return False

    with seeded_global_rng(cfg.seed):
        result = fit(model, opt, (X, y), epochs=cfg.epochs, batch_size=50, val=val, seed=cfg.seed, report=report,
                     on_epoch=track)
    return model, result


def key(p: float) -> str:
    return f"p{p:g}"


def rate_name(p: float) -> T:
    return same(f"p = {p:g}")


def noisy_digits(cfg: Config) -> tuple[data.Split, Tensor, Tensor, Tensor]:
    """The digits, and the first `num_train` training images (N, 64) with labels (N,) of which some are wrong."""
    split = data.digits(seed=cfg.seed)
    X, y_clean = split.X_train[:cfg.num_train], split.y_train[:cfg.num_train]  # (N, 64), (N,)
    y = data.flip_labels(y_clean, cfg.label_noise, cfg.seed)
    return split, X, y, y != y_clean


def scores(p: float, model: nn.Module, X: Tensor, y: Tensor, wrong: Tensor, val: tuple[Tensor, Tensor]) -> Metrics:
    """Train/validation accuracy, validation loss, their gap and the share of wrong labels the net reproduces."""
    train_scores, val_scores = evaluate(model, X, y), evaluate(model, *val)
    with torch.no_grad():
        model.eval()
        pred = model(X[wrong].to(next(model.parameters()).device)).argmax(dim=1).cpu()  # (num_wrong,)
    return {f"train_acc_{key(p)}": train_scores["acc"], f"val_acc_{key(p)}": val_scores["acc"],
            f"val_loss_{key(p)}": val_scores["loss"], f"gap_{key(p)}": train_scores["acc"] - val_scores["acc"],
            f"memorised_{key(p)}": (pred == y[wrong]).float().mean().item() if wrong.any() else 0.0}


def train_eval_switch(model: nn.Module, split: data.Split, seed: int) -> tuple[Tensor, Tensor]:
    """P(true class) of the first validation digit over repeated passes in train and in eval mode: 2 × (passes,)."""
    x0, label0 = split.X_val[:1], int(split.y_val[0])  # (1, 64)
    with seeded_global_rng(seed):
        train_mode = true_class_probability(model, x0, label0, SWITCH_PASSES, training=True)
        eval_mode = true_class_probability(model, x0, label0, SWITCH_PASSES, training=False)
    return train_mode, eval_mode


@torch.no_grad()
def mean_check(model: nn.Sequential, p: float, split: data.Split, seed: int) -> Metrics:
    """`inverted_dropout` on the net's first hidden activations: the share of them zeroed, and the mean kept."""
    h = model[1](model[0](split.X_val.to(next(model.parameters()).device))).cpu()  # (N_val, width)
    return mask_stats(h, inverted_dropout(h, p, torch.Generator().manual_seed(seed)))


def lesson(m: Metrics) -> bool | None:
    """p = 0.5 validates over 3 points better than p = 0 and cuts the train–validation gap by over 0.1."""
    return m["val_acc_p0.5"] > m["val_acc_p0"] + 0.03 and m["gap_p0.5"] < m["gap_p0"] - 0.1


CLAIM = Claim(
    _("with dropout p = 0.5 the net validates over 3 points better than without dropout and its train–validation "
      "accuracy gap shrinks by over 0.1",
      "dropout 取 p = 0.5 时，验证准确率比不加 dropout 高 3 个百分点以上，训练与验证准确率的差距缩小 0.1 以上"),
    lesson,
    fragile=_("Dropout helps when there is something to memorise: with few wrong labels, many training digits or a "
              "narrow net the net without dropout barely overfits, and there is no gap to close.",
              "只有存在可以死记的东西时 dropout 才有帮助：错误标签很少、训练样本很多或网络很窄时，不加 dropout 的网络几乎不过拟合，"
              "也就没有差距可缩小。"),
)


def verdict(cfg: Config, m: Metrics, rates: list[float], train_mode: Tensor) -> T:
    """Accuracy per rate, memorised wrong labels, underfitting at the top rate, and the train/eval switch."""
    rows = join((_("{p}: train {train:.0%}, validation {val:.0%}", "{p}：训练 {train:.0%}，验证 {val:.0%}")
                 .format(p=rate_name(p), train=m[f"train_acc_{key(p)}"], val=m[f"val_acc_{key(p)}"]) for p in rates),
                _("; ", "；"))
    lo, best, top = rates[0], m["best_p"], rates[-1]
    underfit = top >= 0.8 and m[f"train_acc_{key(top)}"] < m[f"train_acc_{key(best)}"] - 0.1
    best_vs_lo = _("p = {best:g} validated best: it reproduced {b:.0%} of the wrong labels where p = {lo:g} "
                   "reproduced {a:.0%}, and the train–validation gap went from {ga:.2f} to {gb:.2f}.",
                   "p = {best:g} 的验证准确率最高：它只复现了 {b:.0%} 的错误标签，而 p = {lo:g} 复现了 {a:.0%}；"
                   "训练与验证的差距从 {ga:.2f} 变为 {gb:.2f}。")
    return sentences(
        _("{wrong:.0%} of the {n} training labels are wrong.", "{n} 个训练标签中有 {wrong:.0%} 是错的。")
        .format(wrong=m["wrong_share"], n=cfg.num_train),
        _("{rows}.", "{rows}。").format(rows=rows),
        (_("p = {best:g} validated best.", "p = {best:g} 的验证准确率最高。") if best == lo else best_vs_lo)
        .format(lo=lo, best=best, a=m[f"memorised_{key(lo)}"], b=m[f"memorised_{key(best)}"],
                ga=m[f"gap_{key(lo)}"], gb=m[f"gap_{key(best)}"]) if len(rates) > 1 else None,
        _("p = {top:g} underfits: it fits even the training labels worse.", "p = {top:g} 欠拟合：连训练标签都拟合得更差。")
        .format(top=top) if underfit else None,
        _("Train mode is random: over {n} passes of one validation digit through the p = {p:g} net, P(true class) "
          "ranged from {lo:.2f} to {hi:.2f}; eval mode gave {eval:.2f} every time.",
          "训练模式是随机的：同一张验证图像在 p = {p:g} 的网络上前向 {n} 次，真实类别的概率在 {lo:.2f} 到 {hi:.2f} 之间波动；"
          "推理模式每次都是 {eval:.2f}。")
        .format(n=SWITCH_PASSES, p=m["switch_p"], lo=train_mode.min().item(), hi=train_mode.max().item(),
                eval=m["eval_mode_probability"]) if m["switch_p"] > 0 else None,
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Train the MLP at every dropout rate on digits with wrong labels; then show the train/eval switch."""
    split, X, y, wrong = noisy_digits(cfg)
    val, rates = (split.X_val, split.y_val), sorted(cfg.rates)
    runs = {p: train(p, cfg, X, y, val, part(report, rate_name(p), i, len(rates))) for i, p in enumerate(rates)}
    metrics: Metrics = {"wrong_share": wrong.float().mean().item()}  # a random replacement can be right
    for p, (model, _fit) in runs.items():
        metrics |= scores(p, model, X, y, wrong, val)
    metrics["best_p"] = max(rates, key=lambda p: metrics[f"val_acc_{key(p)}"])
    metrics["best_val_acc"] = metrics[f"val_acc_{key(metrics['best_p'])}"]

    p_switch = min(rates, key=lambda p: (p == 0, abs(p - 0.5)))  # the dropout net closest to p = 0.5
    train_mode, eval_mode = train_eval_switch(runs[p_switch][0], split, cfg.seed)  # (passes,) each
    metrics |= {"switch_p": p_switch, "train_mode_spread": (train_mode.max() - train_mode.min()).item(),
                "eval_mode_spread": (eval_mode.max() - eval_mode.min()).item(),
                "eval_mode_probability": eval_mode[0].item()}
    metrics |= mean_check(runs[p_switch][0], p_switch, split, cfg.seed)

    told = verdict(cfg, metrics, rates, train_mode)
    return Result(metrics, told, charts(rates, runs, metrics, train_mode, eval_mode), [summary(rates, metrics)])


def charts(rates: list[float], runs: dict[float, tuple[nn.Module, Fit]], m: Metrics, train_mode: Tensor,
           eval_mode: Tensor) -> list[Chart]:
    """Accuracy against p, accuracy and validation loss per epoch, and 100 passes in train vs eval mode."""
    train_name, val_name = _("train", "训练"), _("val", "验证")
    per_epoch = lambda lang: {
        **{f"{rate_name(p).get(lang)} {val_name.get(lang)}": r.history["val_acc"] for p, (_m, r) in runs.items()},
        **{f"{rate_name(p).get(lang)} {train_name.get(lang)}": r.history["train_acc"] for p, (_m, r) in runs.items()}}
    return [
        Chart(_("Accuracy vs dropout rate", "准确率与 dropout 比例"),
              lambda lang: plots.lines_xy(
                  {_("train (given labels)", "训练集（所给标签）").get(lang): (rates, [m[f"train_acc_{key(p)}"] for p in rates]),
                   _("validation (clean labels)", "验证集（正确标签）").get(lang):
                       (rates, [m[f"val_acc_{key(p)}"] for p in rates])},
                  _("dropout rate p", "dropout 比例 p"), plots.ACCURACY, lang),
              caption=_("The vertical distance between the lines is the train–validation gap.",
                        "两条线之间的竖直距离就是训练与验证的差距。")),
        Chart(_("Accuracy per epoch (dashed: training labels)", "每轮准确率（虚线：训练标签）"),
              lambda lang: plots.curves(per_epoch(lang), plots.EPOCH, plots.ACCURACY, lang,
                                        dashes={f"{rate_name(p).get(lang)} {train_name.get(lang)}": "dash"
                                                for p in rates})),
        Chart(_("Validation loss per epoch", "每轮验证损失"),
              lambda lang: plots.curves({rate_name(p).get(lang): r.history["val_loss"] for p, (_m, r) in runs.items()},
                                        plots.EPOCH, plots.CROSS_ENTROPY, lang),
              caption=_("Without dropout the validation loss climbs again as the net memorises wrong labels.",
                        "不加 dropout 时，网络开始记忆错误标签，验证损失随之回升。")),
        Chart(_("One validation digit, {n} forward passes under torch.no_grad()",
                "同一张验证图像在 torch.no_grad() 下前向 {n} 次").format(n=SWITCH_PASSES),
              lambda lang: plots.curves({"model.train()": train_mode.tolist(), "model.eval()": eval_mode.tolist()},
                                        _("forward pass", "前向次数"), _("P(true class)", "P(真实类别)"), lang),
              caption=_("The p = {p:g} net: each train-mode pass draws a new dropout mask.",
                        "p = {p:g} 的网络：训练模式下每次前向都会重新采样 dropout 掩码。").format(p=m["switch_p"])),
    ]


def summary(rates: list[float], m: Metrics) -> Table:
    """One row per rate: accuracy on the given labels, wrong labels memorised, validation accuracy and loss, gap."""
    return Table(plots.SUMMARY,
                 {"p": _("dropout p", "dropout p"), "train": _("train accuracy (given labels)", "训练准确率（所给标签）"),
                  "memorised": _("wrong labels memorised", "记住的错误标签"), "val": plots.VAL_ACCURACY,
                  "loss": _("val loss", "验证损失"), "gap": _("train − val", "训练 − 验证")},
                 [{"p": p, **{col: round(m[f"{metric}_{key(p)}"], 3) for col, metric in
                              (("train", "train_acc"), ("memorised", "memorised"), ("val", "val_acc"),
                               ("loss", "val_loss"), ("gap", "gap"))}} for p in rates])


DEMO = Demo(
    id="dropout",
    title=_("Dropout: rate sweep and the train/eval switch", "Dropout：比例扫描与训练/推理模式切换"),
    summary=_("A wide MLP on 300 digits, 30% of their labels randomised, at several dropout rates: the "
              "train–validation gap, underfitting at high p, and random train-mode vs deterministic eval-mode "
              "predictions.",
              "在 300 张数字图像（30% 的标签被随机替换）上，用不同 dropout 比例训练宽 MLP：训练与验证的差距、"
              "p 过大时的欠拟合，以及训练模式下随机、推理模式下确定的预测。"),
    category="regularization",
    config=Config,
    run=run,
    smoke=dict(rates=(0.0, 0.5), num_train=100, width=32, epochs=2),
    key_metric="best_val_acc",
    key_label=_("best validation accuracy over the rates", "各比例中最高的验证准确率"),
    claim=CLAIM,
)
