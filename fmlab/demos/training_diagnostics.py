"""Reading training curves: six classic pathologies, each produced live and diagnosed.

The same MLP trains on handwritten digits twice: once healthy, once with one thing broken
(the learning rate, the amount of data, the labels, or the initialisation). Each failure
leaves its own signature in a few numbers you can read off any run: the loss at step 0
(≈ ln C), its peak, the final train and validation loss, validation accuracy against
chance, and the share of ReLU units that never fire. `diagnose` reads those numbers in a
fixed order, the way you would read a loss plot, and names the problem.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .. import data, plots
from ..demo import Chart, Demo, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit
from ..nets import MLP, init_weights
from ..params import DemoConfig, param
from ..text import T, _

PROBLEMS = ("lr_high", "lr_low", "overfit", "label_shuffle", "label_noise", "dead_relu")
NAMES = {
    "healthy": _("healthy", "正常"),
    "lr_high": _("learning rate too high", "学习率过高"),
    "lr_low": _("learning rate too low", "学习率过低"),
    "overfit": _("overfitting", "过拟合"),
    "label_shuffle": _("label-shuffling bug", "标签打乱 bug"),
    "label_noise": _("30% wrong labels", "30% 错误标签"),
    "dead_relu": _("dead ReLUs", "ReLU 死亡"),
}
HIGH_LR_FACTOR = 100  # lr_high: 100× the healthy learning rate
LOW_LR_FACTOR = 50  # lr_low: 1/50 of it
SMALL_TRAIN = 64  # overfit: training examples kept...
OVERFIT_EPOCHS = 10  # ...and ×10 the epochs, so the big net can memorise them
NOISE = 0.3  # label_noise: share of training labels replaced by random ones
DEAD_BIAS = -0.5  # dead_relu: every hidden bias starts here, so w·x + b < 0 for (almost) every input
BATCH = 32
WIDTH = 128


@dataclass(frozen=True)
class Config(DemoConfig):
    problem: str = param("lr_high", choices=PROBLEMS, choice_labels={k: NAMES[k] for k in PROBLEMS},
                         label=_("Pathology", "训练问题"),
                         help=_("What goes wrong in the second run; the first run is the healthy baseline",
                                "第二组训练中出错的环节；第一组是正常的基线"))
    lr: float = param(0.05, low=1e-3, high=0.5, log=True, label=_("Healthy learning rate", "正常学习率"),
                      help=_("SGD (momentum 0.9) step size of the baseline; 'too high' uses 100×, 'too low' 1/50",
                             "基线所用 SGD（动量 0.9）的学习率；“过高”用它的 100 倍，“过低”用它的 1/50"))
    epochs: int = param(10, low=2, high=40, label=_("Epochs", "训练轮数"),
                        help=_("Passes over the 1,258 training digits (overfitting: 10× as many over 64)",
                               "遍历 1258 个训练样本的次数（过拟合组：在 64 个样本上遍历 10 倍次数）"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run", "相同种子，相同结果"))


@dataclass(frozen=True)
class Signals:
    """The numbers a practitioner reads off a run."""

    start_loss: float  # training loss at step 1: ≈ ln C for a sane initialisation
    peak_loss: float  # largest training-step loss
    train_loss: float  # final loss on the training set as the run saw it (its labels), in eval mode
    val_loss: float  # final validation loss
    val_acc: float  # final validation accuracy
    dead_share: float  # worst hidden layer's share of ReLU units that are zero on every validation input
    diverged: bool
    num_classes: int


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


def dead_shares(model: MLP, X: Tensor) -> list[float]:
    """Per hidden layer: share of units whose pre-activation is ≤ 0 for every row of X (N, 64)."""
    outputs: list[Tensor] = []
    hooks = [layer.register_forward_hook(lambda _m, _i, out: outputs.append(out))
             for layer in model.linears()[:-1]]  # hidden layers only: the head has no ReLU
    with torch.no_grad():
        model(X)
    for hook in hooks:
        hook.remove()
    return [(out <= 0).all(dim=0).float().mean().item() for out in outputs]  # each out: (N, width)


def training_set(problem: str, split: data.Split, seed: int) -> tuple[Tensor, Tensor]:
    """The training data as the pathology sees it: fewer rows, shuffled labels or noisy labels."""
    X, y = split.X_train, split.y_train
    g = torch.Generator().manual_seed(seed)
    if problem == "overfit":
        return X[:SMALL_TRAIN], y[:SMALL_TRAIN]
    if problem == "label_shuffle":  # the bug: labels permuted on their own, no longer matching their images
        return X, y[torch.randperm(len(y), generator=g)]
    if problem == "label_noise":
        y = y.clone()
        flip = torch.rand(len(y), generator=g) < NOISE
        y[flip] = torch.randint(0, split.num_classes, (int(flip.sum()),), generator=g)
    return X, y


def build(problem: str, seed: int) -> MLP:
    """64 -> 128 -> 128 -> 10 ReLU MLP; for dead_relu, every hidden bias starts at DEAD_BIAS."""
    model = init_weights(MLP(64, 10, width=WIDTH, depth=1), seed)
    if problem == "dead_relu":
        with torch.no_grad():
            for layer in model.linears()[:-1]:
                layer.bias.fill_(DEAD_BIAS)
    return model


@dataclass
class Run:
    fit: Fit
    signals: Signals
    layer_dead: list[float]
    val_steps: list[int]  # the training step at which each validation point was taken


def train(problem: str, cfg: Config, split: data.Split, report: Report) -> Run:
    """One run of the healthy recipe with `problem` ("healthy" for none) switched on."""
    X, y = training_set(problem, split, cfg.seed)
    model = build(problem, cfg.seed)
    lr = cfg.lr * (HIGH_LR_FACTOR if problem == "lr_high" else 1 / LOW_LR_FACTOR if problem == "lr_low" else 1)
    epochs = cfg.epochs * (OVERFIT_EPOCHS if problem == "overfit" else 1)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    result = fit(model, opt, (X, y), epochs=epochs, batch_size=BATCH, val=(split.X_val, split.y_val),
                 seed=cfg.seed, report=report)
    steps_per_epoch = math.ceil(len(X) / BATCH)
    losses = result.history["loss"]
    scores = evaluate(model, split.X_val, split.y_val)
    train_loss = math.nan if result.diverged else evaluate(model, X, y)["loss"]  # not the epoch's running mean
    layer_dead = dead_shares(model, split.X_val)
    signals = Signals(start_loss=losses[0] if losses else math.nan,
                      peak_loss=max(losses) if losses else math.nan,
                      train_loss=train_loss,
                      val_loss=scores["loss"], val_acc=scores["acc"], dead_share=max(layer_dead),
                      diverged=result.diverged, num_classes=split.num_classes)
    val_steps = [steps_per_epoch * (i + 1) for i in range(len(result.history["val_loss"]))]
    return Run(result, signals, layer_dead, val_steps)


SIGNS = {
    "healthy": _("both losses fall together and stay close", "训练和验证损失一起下降并保持接近"),
    "lr_high": _("the loss spikes, rises above its start or turns NaN", "损失出现尖峰、升到起点以上或变成 NaN"),
    "lr_low": _("the loss creeps down from ln C while accuracy still rises", "损失从 ln C 缓慢下降，准确率却仍在上升"),
    "overfit": _("train loss near zero, validation loss far above it", "训练损失接近 0，验证损失远高于它"),
    "label_shuffle": _("validation accuracy at chance while the train loss creeps down (memorising)",
                       "验证准确率停在随机水平，训练损失却在缓慢下降（在死记硬背）"),
    "label_noise": _("a high train-loss floor, with the clean validation loss below it",
                     "训练损失停在较高的“底”上，干净验证集上的损失反而更低"),
    "dead_relu": _("a flat loss at ln C and a hidden layer whose units never fire",
                   "损失平躺在 ln C，某个隐藏层的神经元从不激活"),
}
FIXES = {
    "healthy": _("nothing to fix", "无需修正"),
    "lr_high": _("lower the learning rate, add warm-up and gradient clipping", "调低学习率，加入预热和梯度裁剪"),
    "lr_low": _("raise the learning rate (a short sweep or range test shows which side you are on)",
                "调高学习率（做一次小范围搜索或区间测试，看清是偏大还是偏小）"),
    "overfit": _("more data or augmentation, weight decay, dropout, early stopping",
                 "更多数据或数据增强、权重衰减、dropout、早停"),
    "label_shuffle": _("check the data pipeline: shuffle inputs and labels with one permutation",
                       "检查数据管道：输入和标签必须用同一个排列打乱"),
    "label_noise": _("clean or relabel the data; a robust loss or label smoothing softens the damage",
                     "清洗或重新标注数据；鲁棒损失或标签平滑能减轻影响"),
    "dead_relu": _("proper (He) initialisation, a lower learning rate, LeakyReLU/GELU or normalisation",
                   "合适的（He）初始化、更低的学习率、LeakyReLU/GELU 或归一化层"),
}


def verdict(cfg: Config, healthy: Run, broken: Run, found: str) -> T:
    h, b = healthy.signals, broken.signals
    name = NAMES[cfg.problem]
    head = _(f"Healthy run: train loss {h.train_loss:.3f}, validation loss {h.val_loss:.3f}, accuracy "
             f"{h.val_acc:.1%}. Broken run ({name.en}): step-1 loss {b.start_loss:.2f} (ln {h.num_classes} = "
             f"{math.log(h.num_classes):.2f}), peak {b.peak_loss:.3g}, final train {b.train_loss:.3f}, validation "
             f"{b.val_loss:.3f}, accuracy {b.val_acc:.1%}, dead ReLUs in the worst layer {b.dead_share:.0%}.",
             f"正常组：训练损失 {h.train_loss:.3f}，验证损失 {h.val_loss:.3f}，准确率 {h.val_acc:.1%}。"
             f"问题组（{name.zh}）：第 1 步损失 {b.start_loss:.2f}（ln {h.num_classes} = {math.log(h.num_classes):.2f}），"
             f"峰值 {b.peak_loss:.3g}，最终训练损失 {b.train_loss:.3f}，验证损失 {b.val_loss:.3f}，"
             f"准确率 {b.val_acc:.1%}，最差隐藏层中死亡的 ReLU 占 {b.dead_share:.0%}。")
    if b.diverged:
        head = _(head.en + f" It diverged at step {broken.fit.diverged_at}.",
                 head.zh + f"它在第 {broken.fit.diverged_at} 步发散。")
    if found == cfg.problem:
        end = _(f"diagnose() named it: {name.en} — {SIGNS[found].en}. Fix: {FIXES[found].en}.",
                f"diagnose() 给出的诊断正确：{name.zh}——{SIGNS[found].zh}。修正方法：{FIXES[found].zh}。")
    else:
        end = _(f"diagnose() read this run as {NAMES[found].en}, not {name.en}: with these settings the "
                f"signature did not show clearly (try more epochs or the default learning rate).",
                f"diagnose() 把这组判为“{NAMES[found].zh}”而不是“{name.zh}”：在当前设置下症状不够明显"
                f"（可以增加训练轮数或恢复默认学习率）。")
    return _(f"{head.en} {end.en}", f"{head.zh}{end.zh}")


def run(cfg: Config, report: Report = silent) -> Result:
    split = data.digits(seed=cfg.seed)
    runs = {key: train(key, cfg, split, part(report, NAMES[key].en, i, 2))
            for i, key in enumerate(("healthy", cfg.problem))}
    found = {key: diagnose(r.signals) for key, r in runs.items()}
    healthy, broken = runs["healthy"], runs[cfg.problem]
    metrics: dict[str, float] = {"diagnosed_correctly": float(found[cfg.problem] == cfg.problem),
                                 "healthy_diagnosed_healthy": float(found["healthy"] == "healthy")}
    for key, label in (("healthy", "healthy"), (cfg.problem, "problem")):
        s = runs[key].signals
        metrics |= {f"start_loss_{label}": s.start_loss, f"peak_loss_{label}": s.peak_loss,
                    f"train_loss_{label}": s.train_loss, f"val_loss_{label}": s.val_loss,
                    f"val_acc_{label}": s.val_acc, f"dead_share_{label}": s.dead_share}

    def names(lang: str) -> dict[str, str]:
        return {key: NAMES[key].get(lang) for key in runs}

    def loss_curves(lang: str):
        series = {}
        for key, r in runs.items():
            n = names(lang)[key]
            train_x = list(range(1, len(r.fit.history["loss"]) + 1))
            series[f"{n}: {_('train', '训练').get(lang)}"] = (train_x, r.fit.history["loss"])
            series[f"{n}: {_('validation', '验证').get(lang)}"] = (r.val_steps, r.fit.history["val_loss"])
        return plots.lines_xy(series, _("step", "步数"), _("loss (log)", "损失（对数）"), lang, log_y=True)

    charts = [
        Chart(_("Training loss per step and validation loss per epoch", "每步训练损失与每轮验证损失"),
              loss_curves,
              caption=_(f"A sane start is ln {split.num_classes} = {math.log(split.num_classes):.2f}; "
                        f"read where each curve goes from there.",
                        f"正常的起点是 ln {split.num_classes} = {math.log(split.num_classes):.2f}；"
                        f"看每条曲线从这里走向何方。")),
        Chart(_("Validation accuracy", "验证准确率"),
              lambda lang: plots.lines_xy({names(lang)[k]: (r.val_steps, r.fit.history["val_acc"])
                                           for k, r in runs.items()},
                                          _("step", "步数"), _("accuracy", "准确率"), lang)),
        Chart(_("Dead ReLU units per hidden layer", "各隐藏层中死亡的 ReLU 单元"),
              lambda lang: plots.bars({f"{names(lang)[k]} · {_('layer', '层').get(lang)} {i + 1}": share
                                       for k, r in runs.items() for i, share in enumerate(r.layer_dead)},
                                      _("run · layer", "训练组 · 层"), _("share never active", "从不激活的比例"), lang),
              caption=_("A unit that is zero for every input gets zero gradient and never recovers.",
                        "对所有输入都输出 0 的单元得不到梯度，再也不会恢复。")),
    ]
    table = Table(_("Signals and diagnosis", "信号与诊断"),
                  {"run": _("run", "训练组"), "start": _("loss at step 1", "第 1 步损失"),
                   "peak": _("peak loss", "损失峰值"), "train": _("final train loss", "最终训练损失"),
                   "val": _("final val loss", "最终验证损失"), "acc": _("val accuracy", "验证准确率"),
                   "dead": _("dead ReLUs (worst layer)", "死亡 ReLU（最差层）"), "diagnosis": _("diagnose()", "diagnose()")},
                  [{"run": NAMES[k].en, "start": round(r.signals.start_loss, 3), "peak": round(r.signals.peak_loss, 3),
                    "train": round(r.signals.train_loss, 4), "val": round(r.signals.val_loss, 4),
                    "acc": round(r.signals.val_acc, 4), "dead": round(r.signals.dead_share, 3),
                    "diagnosis": NAMES[found[k]].en} for k, r in runs.items()])
    history = {NAMES[k].en: r.fit.history for k, r in runs.items()}
    return Result(metrics, verdict(cfg, healthy, broken, found[cfg.problem]), history, charts, [table])


DEMO = Demo(
    id="training-diagnostics",
    title=_("Diagnosing training from its curves", "从曲线诊断训练问题"),
    summary=_("A healthy run beside one pathology (learning rate too high or too low, overfitting, shuffled or "
              "noisy labels, dead ReLUs), and a diagnose() that names the problem from the run's numbers.",
              "正常训练与一种病态训练并排对比（学习率过高或过低、过拟合、标签打乱或带噪、ReLU 死亡），"
              "再由 diagnose() 根据这次训练的数字说出问题所在。"),
    category="optimization",
    config=Config,
    run=run,
    smoke=dict(epochs=2),
    key_metric="diagnosed_correctly",
    key_label=_("diagnose() named the pathology (1 = yes)", "diagnose() 判断正确（1 = 是）"),
)
