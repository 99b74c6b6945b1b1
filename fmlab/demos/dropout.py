"""Dropout: random zeroing in training, a regulariser that narrows the train/validation gap.

In train mode `nn.Dropout(p)` zeroes each activation with probability p and scales the
survivors by 1/(1 − p) ("inverted" dropout), so the expected activation is unchanged and
eval mode simply passes activations through. Here a wide MLP learns 300 handwritten digits,
30% of whose training labels were replaced by random ones. Without dropout it memorises the
wrong labels (training accuracy near 100%, validation far lower); with p = 0.5 no unit can
rely on its partners, the net fits the shared pattern rather than each wrong label, and the
gap closes; p = 0.9 throws away so much that it underfits. `model.train()` / `model.eval()`
switch dropout on and off: `torch.no_grad()` does not.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .. import data, plots
from ..demo import Chart, Demo, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit, seeded_global_rng
from ..nets import init_weights
from ..params import DemoConfig, param
from ..text import T, _

RATES = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


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
    epochs: int = param(60, low=1, high=300, label=_("Epochs", "训练轮数"),
                        help=_("Passes over the training digits (batches of 50)", "遍历训练样本的次数（批大小 50）"))
    lr: float = param(3e-3, low=1e-4, high=3e-2, log=True, label=_("Learning rate (Adam)", "学习率（Adam）"),
                      help=_("The same for every run", "所有运行共用"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run", "相同种子，相同结果"))


def inverted_dropout(x: Tensor, p: float) -> Tensor:
    """Train-mode dropout by hand: keep each entry with probability 1 − p and scale it by 1/(1 − p)."""
    if p >= 1:
        return torch.zeros_like(x)
    keep = torch.empty_like(x).bernoulli_(1 - p)  # 1 = kept, 0 = dropped; the draw nn.Dropout makes
    return x * keep / (1 - p)


def mlp(p: float, width: int, seed: int) -> nn.Sequential:
    """64 -> width -> width -> 10, with dropout after each hidden activation (never on the logits)."""
    model = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Dropout(p),
                          nn.Linear(width, width), nn.ReLU(), nn.Dropout(p),
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


@torch.no_grad()
def true_class_probability(model: nn.Module, x: Tensor, label: int, passes: int, training: bool) -> Tensor:
    """P(label) for one input x (1, 64) over `passes` forward passes, all under no_grad: (passes,)."""
    was_training = model.training
    model.train(training)
    device = next(model.parameters()).device
    probs = torch.stack([model(x.to(device)).softmax(dim=1)[0, label] for _ in range(passes)])
    model.train(was_training)
    return probs.cpu()


@torch.no_grad()
def dropout_statistics(p: float, h: Tensor) -> tuple[float, float]:
    """nn.Dropout(p) in train mode on activations h: (share zeroed, mean after / mean before)."""
    out = nn.Dropout(p).train()(h)
    dropped = ((out == 0) & (h != 0)).sum() / (h != 0).sum()
    return dropped.item(), (out.mean() / h.mean()).item()


def key(p: float) -> str:
    return f"p{p:g}"


def verdict(cfg: Config, m: dict[str, float], switch: dict[str, float]) -> T:
    rates = sorted(cfg.rates)
    rows_en = "; ".join(f"p = {p:g}: train {m[f'train_acc_{key(p)}']:.0%}, validation {m[f'val_acc_{key(p)}']:.0%}"
                        for p in rates)
    rows_zh = "；".join(f"p = {p:g}：训练 {m[f'train_acc_{key(p)}']:.0%}，验证 {m[f'val_acc_{key(p)}']:.0%}"
                        for p in rates)
    best = max(rates, key=lambda p: m[f"val_acc_{key(p)}"])
    lo = rates[0]
    helped = best > lo and m[f"val_acc_{key(best)}"] > m[f"val_acc_{key(lo)}"] + 0.03 \
        and m[f"gap_{key(best)}"] < m[f"gap_{key(lo)}"] - 0.05
    if helped:
        end_en = (f"At p = {lo:g} the net memorised {m[f'memorised_{key(lo)}']:.0%} of the wrong labels; "
                  f"p = {best:g} memorised {m[f'memorised_{key(best)}']:.0%}, cut the train–validation gap from "
                  f"{m[f'gap_{key(lo)}']:.2f} to {m[f'gap_{key(best)}']:.2f} and validated best.")
        end_zh = (f"p = {lo:g} 时网络记住了 {m[f'memorised_{key(lo)}']:.0%} 的错误标签；p = {best:g} 只记住了 "
                  f"{m[f'memorised_{key(best)}']:.0%}，训练与验证的差距从 {m[f'gap_{key(lo)}']:.2f} 缩小到 "
                  f"{m[f'gap_{key(best)}']:.2f}，验证准确率最高。")
    else:
        end_en = ("In this run dropout did not clearly help: with more wrong labels, fewer training digits or more "
                  "epochs the net without dropout overfits more.")
        end_zh = "本次 dropout 没有明显帮助：增加错误标签比例、减少训练样本或增加训练轮数，不加 dropout 的网络会过拟合得更厉害。"
    top = max(rates)
    if top >= 0.8 and m[f"train_acc_{key(top)}"] < m[f"train_acc_{key(best)}"] - 0.1:
        end_en += f" p = {top:g} underfits: it fits even the training labels worse."
        end_zh += f"p = {top:g} 欠拟合：连训练标签都拟合得更差。"
    if switch["p"] > 0:
        end_en += (f" Train mode is random: over 100 passes of one validation digit through the p = {switch['p']:g} "
                   f"net, P(true class) ranged from {switch['min']:.2f} to {switch['max']:.2f}; eval mode gave "
                   f"{switch['eval']:.2f} every time.")
        end_zh += (f"训练模式是随机的：同一张验证图像在 p = {switch['p']:g} 的网络上前向 100 次，真实类别的概率在 "
                   f"{switch['min']:.2f} 到 {switch['max']:.2f} 之间波动；推理模式每次都是 {switch['eval']:.2f}。")
    return _(f"{m['wrong_share']:.0%} of the {cfg.num_train} training labels are wrong. {rows_en}. {end_en}",
             f"{cfg.num_train} 个训练标签中有 {m['wrong_share']:.0%} 是错的。{rows_zh}。{end_zh}")


def run(cfg: Config, report: Report = silent) -> Result:
    split = data.digits(seed=cfg.seed)
    X, y_clean = split.X_train[:cfg.num_train], split.y_train[:cfg.num_train]  # (N, 64), (N,)
    y = data.flip_labels(y_clean, cfg.label_noise, cfg.seed)
    wrong = y != y_clean
    val = (split.X_val, split.y_val)
    rates = sorted(cfg.rates)
    names = {p: f"p = {p:g}" for p in rates}
    runs = {p: train(p, cfg, X, y, val, part(report, names[p], i, len(rates))) for i, p in enumerate(rates)}

    metrics: dict[str, float] = {"wrong_share": wrong.float().mean().item()}  # a random replacement can be right
    for p, (model, result) in runs.items():
        train_scores, val_scores = evaluate(model, X, y), evaluate(model, *val)
        with torch.no_grad():
            model.eval()
            pred = model(X[wrong].to(next(model.parameters()).device)).argmax(dim=1).cpu()
        metrics[f"train_acc_{key(p)}"] = train_scores["acc"]
        metrics[f"val_acc_{key(p)}"] = val_scores["acc"]
        metrics[f"val_loss_{key(p)}"] = val_scores["loss"]
        metrics[f"gap_{key(p)}"] = train_scores["acc"] - val_scores["acc"]
        metrics[f"memorised_{key(p)}"] = (pred == y[wrong]).float().mean().item() if wrong.any() else 0.0

    best = max(rates, key=lambda p: metrics[f"val_acc_{key(p)}"])
    metrics["best_p"], metrics["best_val_acc"] = best, metrics[f"val_acc_{key(best)}"]

    # the train()/eval() switch on the dropout net closest to p = 0.5
    p_switch = min(rates, key=lambda p: (p == 0, abs(p - 0.5)))
    model = runs[p_switch][0]
    x0, label0 = split.X_val[:1], int(split.y_val[0])  # (1, 64)
    with seeded_global_rng(cfg.seed):
        train_mode = true_class_probability(model, x0, label0, 100, training=True)  # (100,)
        eval_mode = true_class_probability(model, x0, label0, 100, training=False)  # (100,)
    switch = {"p": p_switch, "min": train_mode.min().item(), "max": train_mode.max().item(),
              "eval": eval_mode[0].item()}
    metrics["switch_p"] = p_switch
    metrics["train_mode_spread"] = switch["max"] - switch["min"]
    metrics["eval_mode_spread"] = (eval_mode.max() - eval_mode.min()).item()
    metrics["eval_mode_probability"] = switch["eval"]

    # inverted dropout keeps the mean: nn.Dropout on the net's real hidden activations
    with torch.no_grad():
        hidden = model[1](model[0](split.X_val.to(next(model.parameters()).device))).cpu()  # (N_val, width)
    with seeded_global_rng(cfg.seed):
        dropped, mean_ratio = dropout_statistics(p_switch, hidden)
    metrics["dropped_share"] = dropped
    metrics["mean_ratio"] = mean_ratio

    charts = [
        Chart(_("Accuracy vs dropout rate", "准确率与 dropout 比例"),
              lambda lang: plots.lines_xy(
                  {_("train (given labels)", "训练集（所给标签）").get(lang):
                       (rates, [metrics[f"train_acc_{key(p)}"] for p in rates]),
                   _("validation (clean labels)", "验证集（正确标签）").get(lang):
                       (rates, [metrics[f"val_acc_{key(p)}"] for p in rates])},
                  _("dropout rate p", "dropout 比例 p"), _("accuracy", "准确率"), lang),
              caption=_("The vertical distance between the lines is the train–validation gap.",
                        "两条线之间的竖直距离就是训练与验证的差距。")),
        Chart(_("Accuracy per epoch (dashed: training labels)", "每轮准确率（虚线：训练标签）"),
              lambda lang: plots.curves(
                  {**{f"{names[p]} {_('val', '验证').get(lang)}": r.history["val_acc"] for p, (_m, r) in runs.items()},
                   **{f"{names[p]} {_('train', '训练').get(lang)}": r.history["train_acc"]
                      for p, (_m, r) in runs.items()}},
                  _("epoch", "轮次"), _("accuracy", "准确率"), lang,
                  dashes={f"{names[p]} {_('train', '训练').get(lang)}": "dash" for p in rates})),
        Chart(_("Validation loss per epoch", "每轮验证损失"),
              lambda lang: plots.curves({names[p]: r.history["val_loss"] for p, (_m, r) in runs.items()},
                                        _("epoch", "轮次"), _("cross-entropy", "交叉熵"), lang),
              caption=_("Without dropout the validation loss climbs again as the net memorises wrong labels.",
                        "不加 dropout 时，网络开始记忆错误标签，验证损失随之回升。")),
        Chart(_("One validation digit, 100 forward passes under torch.no_grad()",
                "同一张验证图像在 torch.no_grad() 下前向 100 次"),
              lambda lang: plots.curves(
                  {_("model.train()", "model.train()").get(lang): train_mode.tolist(),
                   _("model.eval()", "model.eval()").get(lang): eval_mode.tolist()},
                  _("forward pass", "前向次数"), _("P(true class)", "P(真实类别)"), lang),
              caption=_(f"The p = {p_switch:g} net: each train-mode pass draws a new dropout mask.",
                        f"p = {p_switch:g} 的网络：训练模式下每次前向都会重新采样 dropout 掩码。")),
    ]
    table = Table(_("Runs", "各次运行"),
                  {"p": _("dropout p", "dropout p"), "train": _("train accuracy (given labels)", "训练准确率（所给标签）"),
                   "memorised": _("wrong labels memorised", "记住的错误标签"),
                   "val": _("val accuracy", "验证准确率"), "loss": _("val loss", "验证损失"),
                   "gap": _("train − val", "训练 − 验证")},
                  [{"p": p, "train": round(metrics[f"train_acc_{key(p)}"], 3),
                    "memorised": round(metrics[f"memorised_{key(p)}"], 3),
                    "val": round(metrics[f"val_acc_{key(p)}"], 3), "loss": round(metrics[f"val_loss_{key(p)}"], 3),
                    "gap": round(metrics[f"gap_{key(p)}"], 3)} for p in rates])
    history = {names[p]: r.history for p, (_m, r) in runs.items()}
    return Result(metrics, verdict(cfg, metrics, switch), history, charts, [table])


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
)
