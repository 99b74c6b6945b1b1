"""L2 regularisation and weight decay: a λ sweep on 300 noisy-label digits, and why Adam's `weight_decay` is not AdamW.

A weight the data never push (a pixel blank in every training digit) gets the gradient λw alone: Adam
divides it by its own RMS √v̂, a step of about η that erases the weight whatever λ is; AdamW decays
outside the adaptive step, w ← w − ηλw − η·adam, keeping exactly (1 − ηλ)^steps. The update rules and
the checks of which coincide (SGD's weight_decay is an L2 penalty) are in `fmlab.decay`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor

from .. import data, plots
from ..decay import (CHECK_LAMBDA, CHECK_STEPS, CHECKS, decoupled_shrink, flat_weights, make_optimizer,
                     unreached_inputs, unreached_size, update_rule_gaps)
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..fit import evaluate, fit
from ..nets import MLP, init_weights
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, same, sentences

LAMBDAS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
OPTIMIZERS = ("adam", "adamw")
NAMES = {"adam": _("Adam(weight_decay): coupled L2", "Adam(weight_decay)：耦合的 L2"),
         "adamw": _("AdamW: decoupled decay", "AdamW：解耦的权重衰减")}
SHORT = {"adam": same("Adam + L2"), "adamw": same("AdamW")}
LAMBDA_AXIS = _("λ (weight_decay)", "λ（weight_decay）")


@dataclass(frozen=True)
class Config(DemoConfig):
    lambdas: tuple = param((0.0, 1e-2, 1e-1, 1.0, 10.0), choices=LAMBDAS, label=_("λ values", "λ 取值"),
                           help=_("weight_decay values swept for both Adam and AdamW (0 = no decay)",
                                  "Adam 与 AdamW 都扫描的 weight_decay 取值（0 表示不衰减）"))
    lr: float = lr_param(1e-2, low=1e-4, high=3e-2, optimizer="Adam, AdamW",
                         help=_("Shared by Adam and AdamW; AdamW shrinks weights by η·λ per step",
                                "Adam 与 AdamW 共用；AdamW 每步把权重收缩 η·λ"))
    epochs: int = epochs_param(25, low=2, high=200, help=_("Passes over the training digits (batches of 50)",
                                                           "遍历训练样本的次数（批大小 50）"))
    label_noise: float = param(0.3, low=0.0, high=0.8, label=_("Wrong training labels", "错误训练标签比例"),
                               help=_("Share of training labels replaced by a random digit: something to overfit",
                                      "训练标签中被随机数字替换的比例：制造过拟合的空间"))
    num_train: int = param(300, low=50, high=1200, label=_("Training digits", "训练样本数"),
                           help=_("Few examples, so regularisation matters", "样本少，正则化的作用才明显"))
    width: int = param(64, choices=(32, 64, 128, 256), label=_("Hidden width", "隐藏层宽度"),
                       help=_("Units in each of the two hidden layers", "两个隐藏层各自的单元数"))
    seed: int = seed_param()


def mlp(width: int, seed: int) -> MLP:
    """64 -> width -> width -> 10 with ReLUs."""
    return init_weights(MLP(64, 10, width=width, depth=1), seed)


def key(o: str, lam: float) -> str:
    """The metric-name suffix of one run: "adamw_0.01"."""
    return f"{o}_{lam:g}"


def swept(m: Metrics) -> list[float]:
    """The λ values a run swept, read back from its metric names."""
    return sorted(float(k.rsplit("_", 1)[1]) for k in m if k.startswith("val_acc_adamw_"))


def lesson(m: Metrics) -> bool | None:
    """A λ > 0 beats λ = 0 by a point; at the smallest λ > 0 AdamW keeps (1 − ηλ)^steps and Adam ~0."""
    lams = swept(m)
    decayed = [lam for lam in lams if lam > 0]
    if lams[0] != 0 or not decayed or not m["quiet_pixels"]:
        return None
    lam = decayed[0]
    kept = decoupled_shrink(m["lr"], lam, m["steps"])
    if kept < 0.1:
        return None  # AdamW erases those weights too at this λ: nothing tells the two apart
    best = max(m[f"val_acc_{key(o, d)}"] for o in OPTIMIZERS for d in decayed)
    return (best > m["val_acc_adamw_0"] + 0.01 and abs(m[f"quiet_{key('adamw', lam)}"] - kept) < 0.01
            and m[f"quiet_{key('adam', lam)}"] < 0.01)


CLAIM = Claim(
    _("a moderate λ beats no decay on validation accuracy, and Adam's weight_decay is coupled L2: it erases the "
      "weights no data gradient reaches, which AdamW shrinks by exactly (1 − ηλ)^steps",
      "适中的 λ 比不衰减的验证准确率更高；而 Adam 的 weight_decay 是耦合的 L2：它会抹掉数据梯度到达不了的权重，AdamW 则让这些权重恰好收缩为 (1 − ηλ)^步数"),
    lesson,
    fragile=_("The accuracy gained from a moderate λ is small on some seeds (about 2 points at seed 1 with the "
              "defaults): with 300 digits and 30% wrong labels, the split decides how much overfitting there is.",
              "在某些种子上，适中的 λ 带来的准确率提升很小（默认设置下种子 1 约 2 个百分点）：只有 300 个样本且 30% 标签错误时，数据划分决定了有多少过拟合可以纠正。"),
)


def train_sweep(cfg: Config, X: Tensor, y: Tensor, report: Report) -> dict[tuple[str, float], MLP]:
    """Both optimizers at every λ (λ = 0 once: there Adam and AdamW are the same algorithm)."""
    jobs = [(o, lam) for lam in sorted(cfg.lambdas) for o in OPTIMIZERS if lam > 0 or o == "adamw"]
    models = {}
    for i, (o, lam) in enumerate(jobs):
        model = mlp(cfg.width, cfg.seed)
        name = _("{opt}, λ = {lam:g}", "{opt}，λ = {lam:g}").format(opt=SHORT[o], lam=lam)
        fit(model, make_optimizer(o, model, lam, cfg.lr), (X, y), epochs=cfg.epochs, batch_size=50, seed=cfg.seed,
            report=part(report, name, i, len(jobs)))
        models[(o, lam)] = model
    if 0.0 in cfg.lambdas:
        models[("adam", 0.0)] = models[("adamw", 0.0)]
    return models


def measure(models: dict[tuple[str, float], MLP], X: Tensor, y: Tensor, val: tuple[Tensor, Tensor],
            quiet: Tensor, w0: float) -> Metrics:
    """Per run: train and val accuracy, ‖W‖, and the share of the blank-pixel weights' size kept."""
    metrics = {}
    for (o, lam), model in models.items():
        k = key(o, lam)
        metrics[f"train_acc_{k}"] = evaluate(model, X, y)["acc"]
        metrics[f"val_acc_{k}"] = evaluate(model, *val)["acc"]
        metrics[f"norm_{k}"] = flat_weights(model).norm().item()
        metrics[f"quiet_{k}"] = unreached_size(model.stem, quiet) / w0 if quiet.any() else float("nan")
    return metrics


def verdict(cfg: Config, m: Metrics) -> T:
    """‖W‖ and accuracy across λ, the blank-pixel weights, and which update rules coincide."""
    lams = sorted(cfg.lambdas)
    if lams[-1] == 0:
        return _("Add a λ above 0 to see weight decay at work.", "请加入大于 0 的 λ，才能看到权重衰减的作用。")
    lo, hi, first, steps = lams[0], lams[-1], next(lam for lam in lams if lam > 0), int(m["steps"])
    best = {o: max(lams, key=lambda lam: m[f"val_acc_{key(o, lam)}"]) for o in OPTIMIZERS}
    adam_q, adamw_q = m[f"quiet_{key('adam', first)}"], m[f"quiet_{key('adamw', first)}"]
    formula = decoupled_shrink(cfg.lr, first, steps)
    underfit = all(m[f"val_acc_{key(o, hi)}"] < m[f"val_acc_{key(o, lo)}"] - 0.1 for o in OPTIMIZERS)
    return sentences(
        _("‖W‖ fell from {n0:.1f} at λ = {lo:g} to {na:.2f} with Adam + L2 and {nw:.2f} with AdamW at λ = {hi:g}.",
          "‖W‖ 从 λ = {lo:g} 时的 {n0:.1f}，降到 λ = {hi:g} 时 Adam + L2 的 {na:.2f} 和 AdamW 的 {nw:.2f}。")
        .format(n0=m[f"norm_{key('adamw', lo)}"], lo=lo, hi=hi, na=m[f"norm_{key('adam', hi)}"],
                nw=m[f"norm_{key('adamw', hi)}"]),
        _("Best validation accuracy: Adam + L2 {aa:.0%} at λ = {ba:g}, AdamW {aw:.0%} at λ = {bw:g} (λ = {lo:g}: "
          "{a0:.0%}){under}.",
          "最高验证准确率：Adam + L2 在 λ = {ba:g} 时为 {aa:.0%}，AdamW 在 λ = {bw:g} 时为 {aw:.0%}"
          "（λ = {lo:g} 时为 {a0:.0%}）{under}。")
        .format(aa=m[f"val_acc_{key('adam', best['adam'])}"], ba=best["adam"], lo=lo,
                aw=m[f"val_acc_{key('adamw', best['adamw'])}"], bw=best["adamw"], a0=m[f"val_acc_{key('adamw', lo)}"],
                under=_("; at λ = {hi:g} both underfit", "；λ = {hi:g} 时两者都欠拟合").format(hi=hi) if underfit
                else same("")),
        _("Weights from always-blank pixels get no data gradient: at λ = {lam:g}, AdamW kept {w:.1%} of their size, "
          "exactly (1 − ηλ)^{steps} = {f:.1%}; Adam's coupled L2 kept {a:.2%}, because it rescales λw to a step of "
          "about η whatever λ is.",
          "来自始终空白像素的权重得不到任何数据梯度：λ = {lam:g} 时，AdamW 让它们保留了 {w:.1%} 的大小，恰好等于 "
          "(1 − ηλ)^{steps} = {f:.1%}；Adam 的耦合 L2 只保留了 {a:.2%}，因为它把 λw 归一化成约 η 大小的一步，与 λ 无关。")
        .format(lam=first, w=adamw_q, steps=steps, f=formula, a=adam_q)
        if adam_q < 0.1 and abs(adamw_q - formula) < 0.01 else None,
        _("Same update or not (max |Δw| after {n} steps): SGD + penalty vs SGD(weight_decay) {sgd:.0e}, Adam + penalty "
          "vs Adam(weight_decay) {adam:.0e}, Adam(weight_decay) vs AdamW {apart:.2f}.",
          "更新是否相同（{n} 步后的最大 |Δw|）：SGD + 惩罚项与 SGD(weight_decay) 相差 {sgd:.0e}，Adam + 惩罚项与 "
          "Adam(weight_decay) 相差 {adam:.0e}，Adam(weight_decay) 与 AdamW 相差 {apart:.2f}。")
        .format(n=CHECK_STEPS, sgd=m["sgd_penalty_vs_weight_decay"], adam=m["adam_penalty_vs_weight_decay"],
                apart=m["adam_weight_decay_vs_adamw"]),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Sweep λ for Adam and AdamW on few noisy-label digits; check which update rules coincide."""
    split = data.digits(seed=cfg.seed)
    X, y = split.X_train[:cfg.num_train], data.flip_labels(split.y_train[:cfg.num_train], cfg.label_noise, cfg.seed)
    quiet = unreached_inputs(X)  # (64,) pixels blank in every training digit: no data gradient reaches them
    w0 = unreached_size(mlp(cfg.width, cfg.seed).stem, quiet)  # before training
    models = train_sweep(cfg, X, y, report)
    metrics = measure(models, X, y, (split.X_val, split.y_val), quiet, w0)
    metrics |= {"steps": cfg.epochs * math.ceil(len(X) / 50), "quiet_pixels": int(quiet.sum()), "lr": cfg.lr}
    metrics |= update_rule_gaps(mlp(cfg.width, cfg.seed), X[:100], y[:100], cfg.lr)
    told = sentences(verdict(cfg, metrics), CLAIM.verdict(metrics))
    return Result(metrics, told, charts(cfg, metrics, models), tables(cfg, metrics))


def charts(cfg: Config, m: Metrics, models: dict[tuple[str, float], MLP]) -> list[Chart]:
    """‖W‖, accuracy and blank-pixel weights kept against λ; a weight histogram per optimizer."""
    lams = sorted(cfg.lambdas)
    xs = [f"{lam:g}" for lam in lams]  # a categorical axis: λ = 0 has no place on a log scale

    def series(what: str, o: str) -> list[float]:
        return [m[f"{what}_{key(o, lam)}"] for lam in lams]

    def lines(named: dict[T, list[float]], y: T, lang: str, log_y: bool = False):
        return plots.lines_xy({name.get(lang): (xs, ys) for name, ys in named.items()}, LAMBDA_AXIS, y, lang, log_y)

    accuracy = {_("{opt} {split}", "{opt} {split}").format(opt=SHORT[o], split=split): series(what, o)
                for what, split in (("val_acc", _("val", "验证")), ("train_acc", _("train", "训练"))) for o in OPTIMIZERS}
    formula = {_("(1 − ηλ)^steps", "(1 − ηλ)^步数"): [decoupled_shrink(cfg.lr, lam, m["steps"]) for lam in lams]}
    return [
        Chart(_("Weight norm ‖W‖ vs λ", "权重范数 ‖W‖ 与 λ"),
              lambda lang: lines({NAMES[o]: series("norm", o) for o in OPTIMIZERS}, _("‖W‖ (log)", "‖W‖（对数）"),
                                 lang, log_y=True),
              caption=_("The same λ is a much stronger penalty in Adam: AdamW's shrink per step is only η·λ.",
                        "同样的 λ 在 Adam 中是强得多的惩罚：AdamW 每步的收缩量只有 η·λ。")),
        Chart(_("Accuracy vs λ", "准确率与 λ"), lambda lang: lines(accuracy, plots.ACCURACY, lang),
              caption=_("Training accuracy is measured on the given labels ({noise:.0%} replaced by random digits): "
                        "far above the validation accuracy means memorised noise.",
                        "训练准确率按所给标签计算（其中 {noise:.0%} 被换成了随机数字）：远高于验证准确率，说明网络记住了噪声。")
              .format(noise=cfg.label_noise)),
        Chart(_("Weights no data gradient reaches: share of their size kept", "数据梯度到达不了的权重：保留下来的比例"),
              lambda lang: lines({**{NAMES[o]: series("quiet", o) for o in OPTIMIZERS}, **formula},
                                 _("mean |w| / mean |w₀|", "平均 |w| / 初始平均 |w₀|"), lang),
              caption=_("First-layer weights of pixels that are blank in every training digit. AdamW follows the "
                        "formula exactly; Adam's L2 zeroes them at every λ > 0.",
                        "第一层中对应“所有训练图像都空白的像素”的权重。AdamW 与公式完全吻合；Adam 的 L2 在任何 λ > 0 时都把它们压到 0。")),
        *[Chart(_("Weight histogram, {opt}", "权重直方图：{opt}").format(opt=SHORT[o]),
                lambda lang, o=o: plots.histograms({same("λ = {lam:g}").format(lam=lam).get(lang):
                                                    flat_weights(models[(o, lam)]).numpy() for lam in lams},
                                                   _("weight value", "权重值"), _("count (log)", "数量（对数）"),
                                                   lang, log_y=True))
          for o in OPTIMIZERS],
    ]


def tables(cfg: Config, m: Metrics) -> list[Table]:
    """The λ sweep per optimizer, and the update-rule comparisons."""
    rows = [{"optimizer": SHORT[o], "lam": lam, "norm": round(m[f"norm_{key(o, lam)}"], 3),
             "train": round(m[f"train_acc_{key(o, lam)}"], 3), "val": round(m[f"val_acc_{key(o, lam)}"], 3),
             "quiet": round(m[f"quiet_{key(o, lam)}"], 4)} for o in OPTIMIZERS for lam in sorted(cfg.lambdas)]
    return [
        Table(_("λ sweep", "λ 扫描"),
              {"optimizer": _("optimizer", "优化器"), "lam": same("λ"), "norm": same("‖W‖"),
               "train": plots.TRAIN_ACCURACY, "val": plots.VAL_ACCURACY,
               "quiet": _("blank-pixel weights kept", "空白像素权重保留比例")}, rows),
        Table(_("Same update or not? Max |Δw| after {n} full-batch steps, λ = {lam:g}",
                "更新是否相同？全批量 {n} 步后的最大 |Δw|，λ = {lam:g}").format(n=CHECK_STEPS, lam=CHECK_LAMBDA),
              {"pair": _("compared", "比较对象"), "diff": _("max |Δw|", "最大 |Δw|")},
              [{"pair": label, "diff": m[k]} for k, (_a, _b, label) in CHECKS.items()]),
    ]


DEMO = Demo(
    id="weight-decay",
    title=_("Weight decay: λ sweep, Adam's L2 vs AdamW", "权重衰减：λ 扫描，Adam 的 L2 与 AdamW"),
    summary=_("Sweep weight_decay for Adam and AdamW on 300 noisy-label digits: weight norms, histograms and "
              "accuracy; exact checks that SGD's weight_decay equals an L2 penalty and that AdamW is decoupled.",
              "在 300 张含错误标签的数字图像上，为 Adam 和 AdamW 扫描 weight_decay：权重范数、直方图与准确率；"
              "并精确验证 SGD 的 weight_decay 等于 L2 惩罚项、AdamW 的衰减是解耦的。"),
    category="regularization",
    config=Config,
    run=run,
    smoke=dict(lambdas=(0.0, 0.1), num_train=100, width=32, epochs=2),
    key_metric="adam_weight_decay_vs_adamw",
    key_label=_("max |Δw|, Adam(weight_decay) vs AdamW", "Adam(weight_decay) 与 AdamW 的最大 |Δw|"),
    claim=CLAIM,
)
