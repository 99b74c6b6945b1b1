"""Reading training curves: six classic pathologies, each produced live and diagnosed.

The same MLP trains on handwritten digits twice: once healthy, once with one thing broken (the
learning rate, the amount of data, the labels, or the initialisation). Each failure leaves its own
signature in a few numbers read off any run: the loss at step 1 (≈ ln C), its peak, the final train
and validation loss, validation accuracy against chance, and the share of ReLU units that never fire.
`fmlab.diagnosis` reads them in a fixed order, the way you would read a loss plot, and names the problem.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .. import data, plots
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..diagnosis import READINGS, SIGNAL_NAMES, Signals, dead_shares, diagnose, read_signals
from ..fit import Fit, fit
from ..nets import MLP, init_weights
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, same, sentences

PROBLEMS = ("lr_high", "lr_low", "overfit", "label_shuffle", "label_noise", "dead_relu")
NAMES = {"healthy": _("healthy", "正常"), "lr_high": _("learning rate too high", "学习率过高"),
         "lr_low": _("learning rate too low", "学习率过低"), "overfit": _("overfitting", "过拟合"),
         "label_shuffle": _("label-shuffling bug", "标签打乱 bug"), "label_noise": _("30% wrong labels", "30% 错误标签"),
         "dead_relu": _("dead ReLUs", "ReLU 死亡")}
LR_FACTOR = {"lr_high": 100, "lr_low": 1 / 50}  # × the healthy learning rate
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
    lr: float = lr_param(0.05, low=1e-3, high=0.5, optimizer="SGD",
                         help=_("The healthy run's step size (momentum 0.9); 'too high' uses 100×, 'too low' 1/50",
                                "正常组的学习率（动量 0.9）；“过高”用它的 100 倍，“过低”用它的 1/50"))
    epochs: int = epochs_param(10, low=2, high=40,
                               help=_("Passes over the 1,258 training digits (overfitting: 10× as many over 64)",
                                      "遍历 1258 个训练样本的次数（过拟合组：在 64 个样本上遍历 10 倍次数）"))
    seed: int = seed_param()


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
    """One training run: its fit, what it signals, each hidden layer's dead ReLU share, when it validated."""
    fit: Fit
    signals: Signals
    layer_dead: list[float]
    val_steps: list[int]  # the training step at which each validation point was taken


def train(problem: str, cfg: Config, split: data.Split, report: Report) -> Run:
    """One run of the healthy recipe with `problem` ("healthy" for none) switched on."""
    X, y = training_set(problem, split, cfg.seed)
    model = build(problem, cfg.seed)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr * LR_FACTOR.get(problem, 1), momentum=0.9)
    epochs = cfg.epochs * (OVERFIT_EPOCHS if problem == "overfit" else 1)
    val = (split.X_val, split.y_val)
    result = fit(model, opt, (X, y), epochs=epochs, batch_size=BATCH, val=val, seed=cfg.seed, report=report)
    signals = read_signals(result, model, (X, y), val, split.num_classes)
    val_steps = [math.ceil(len(X) / BATCH) * (i + 1) for i in range(len(result.history["val_loss"]))]
    return Run(result, signals, dead_shares(model, split.X_val), val_steps)


CLAIM = Claim(
    _("diagnose() names the pathology from the broken run's numbers and reads the healthy run as healthy",
      "diagnose() 根据问题组的数字说出了问题所在，并把正常组判为正常"),
    lambda m: m["diagnosed_correctly"] == m["healthy_diagnosed_healthy"] == 1,
    fragile=_("With few epochs or a learning rate far from the default, a signature may not show clearly "
              "or another symptom may show first.",
              "训练轮数少或学习率偏离默认值太远时，症状可能不够明显，或者先出现了别的症状。"),
)


def verdict(cfg: Config, healthy: Run, broken: Run, found: dict[str, str], metrics: Metrics) -> T:
    """The signals of both runs against a sane start, what diagnose() read from them, and the fix."""
    name, read, c = NAMES[cfg.problem], found[cfg.problem], broken.signals.num_classes
    signals = _("{run}: step-1 loss {start_loss:.2f}, peak {peak_loss:.3g}, final train loss {train_loss:.3f}, "
                "validation loss {val_loss:.3f}, accuracy {val_acc:.1%}, dead ReLUs in worst layer {dead_share:.0%}.",
                "{run}：第 1 步损失 {start_loss:.2f}，峰值 {peak_loss:.3g}，最终训练损失 {train_loss:.3f}，"
                "验证损失 {val_loss:.3f}，准确率 {val_acc:.1%}，最差隐藏层中死亡的 ReLU 占 {dead_share:.0%}。")
    roles = {_("Healthy run", "正常组"): healthy, _("Broken run ({name})", "问题组（{name}）").format(name=name): broken}
    return sentences(
        _("A sane run starts at ln {c} = {ln_c:.2f}.", "正常的训练从 ln {c} = {ln_c:.2f} 起步。")
        .format(c=c, ln_c=math.log(c)),
        *(signals.format(run=role, **{k: getattr(r.signals, k) for k in SIGNAL_NAMES}) for role, r in roles.items()),
        _("It diverged at step {step}.", "它在第 {step} 步发散。").format(step=broken.fit.diverged_at)
        if broken.signals.diverged else None,
        _("diagnose() named it: {name} — {sign}. Fix: {fix}.", "diagnose() 给出的诊断正确：{name}——{sign}。修正方法：{fix}。")
        .format(name=name, sign=READINGS[read][0], fix=READINGS[read][1]) if read == cfg.problem else
        _("diagnose() read this run as {read}, not {name}.", "diagnose() 把这组判为“{read}”而不是“{name}”。")
        .format(read=NAMES[read], name=name),
        _("It read the healthy run as {read}.", "它把正常组判为“{read}”。").format(read=NAMES[found["healthy"]])
        if found["healthy"] != "healthy" else None,
        CLAIM.verdict(metrics),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Train the healthy recipe and the broken one on digits; diagnose each from its signals."""
    split = data.digits(seed=cfg.seed)
    runs = {key: train(key, cfg, split, part(report, NAMES[key], i, 2))
            for i, key in enumerate(("healthy", cfg.problem))}
    found = {key: diagnose(r.signals) for key, r in runs.items()}
    metrics = {"diagnosed_correctly": float(found[cfg.problem] == cfg.problem),
               "healthy_diagnosed_healthy": float(found["healthy"] == "healthy")}
    for key, label in (("healthy", "healthy"), (cfg.problem, "problem")):
        metrics |= {f"{signal}_{label}": getattr(runs[key].signals, signal) for signal in SIGNAL_NAMES}
    told = verdict(cfg, runs["healthy"], runs[cfg.problem], found, metrics)
    return Result(metrics, told, charts(runs, split.num_classes), [summary(runs, found)])


def loss_curves(runs: dict[str, Run], lang: str):
    """Each run's training loss per step and validation loss per epoch, on one log axis."""
    name = _("{run}: {split}", "{run}：{split}")
    series = {}
    for key, r in runs.items():
        steps = range(1, len(r.fit.history["loss"]) + 1)
        series[name.format(run=NAMES[key], split=plots.TRAIN).get(lang)] = (steps, r.fit.history["loss"])
        series[name.format(run=NAMES[key], split=plots.VALIDATION).get(lang)] = (r.val_steps, r.fit.history["val_loss"])
    return plots.lines_xy(series, plots.STEP, plots.LOSS_LOG, lang, log_y=True)


def charts(runs: dict[str, Run], num_classes: int) -> list[Chart]:
    """Loss curves, validation accuracy, and the share of dead ReLUs per hidden layer."""
    layer_name = _("{run} · layer {i}", "{run} · 第 {i} 层")
    return [
        Chart(_("Training loss per step and validation loss per epoch", "每步训练损失与每轮验证损失"),
              lambda lang: loss_curves(runs, lang),
              caption=_("A sane start is ln {c} = {ln_c:.2f}; read where each curve goes from there.",
                        "正常的起点是 ln {c} = {ln_c:.2f}；看每条曲线从这里走向何方。")
              .format(c=num_classes, ln_c=math.log(num_classes))),
        Chart(_("Validation accuracy", "验证准确率"),
              lambda lang: plots.lines_xy({NAMES[k].get(lang): (r.val_steps, r.fit.history["val_acc"])
                                           for k, r in runs.items()}, plots.STEP, plots.VAL_ACCURACY, lang)),
        Chart(_("Dead ReLU units per hidden layer", "各隐藏层中死亡的 ReLU 单元"),
              lambda lang: plots.bars({layer_name.format(run=NAMES[k], i=i + 1).get(lang): share
                                       for k, r in runs.items() for i, share in enumerate(r.layer_dead)},
                                      _("run · layer", "训练组 · 层"), _("share never active", "从不激活的比例"), lang),
              caption=_("A unit that is zero for every input gets zero gradient and never recovers.",
                        "对所有输入都输出 0 的单元得不到梯度，再也不会恢复。")),
    ]


def summary(runs: dict[str, Run], found: dict[str, str]) -> Table:
    """One row per run: its signals and what diagnose() read from them."""
    return Table(_("Signals and diagnosis", "信号与诊断"),
                 {"run": plots.RUN, **SIGNAL_NAMES, "diagnosis": same("diagnose()")},
                 [{"run": NAMES[k], **{c: round(getattr(r.signals, c), 4) for c in SIGNAL_NAMES},
                   "diagnosis": NAMES[found[k]]} for k, r in runs.items()])


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
    claim=CLAIM,
)
