"""Label-flip poisoning of a digit classifier, and kNN sanitization as the defence.

An attacker relabels a share r of the training digits; logistic regression trained on them loses
accuracy as r grows. Before training, the defender drops every digit whose label disagrees with
the majority of its k nearest neighbours (scikit-learn's `NearestNeighbors`). That catches nearly
all flipped labels while they are a minority, and fails once the poison dominates neighbourhoods.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .. import data, plots
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit
from ..nets import init_weights
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..poisoning import ATTACKS, flip, removal, sanitize
from ..text import T, _, join, same, sentences

RATES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
ATTACK_NAMES = {"next": _("y → y + 1 (mod 10)", "y → y + 1（mod 10）"),
                "random": _("y → a random other digit", "y → 随机的另一个数字")}
PLAIN = _("trained on the poisoned set", "在被投毒的数据上训练")
SANITIZED = _("kNN-sanitized first", "先做 kNN 清洗")
RATE_AXIS = _("share of training labels flipped r", "被翻转的训练标签比例 r")


@dataclass(frozen=True)
class Config(DemoConfig):
    rates: tuple = param((0.0, 0.1, 0.2, 0.3, 0.4), choices=RATES, label=_("Poisoning rates", "投毒比例"),
                         help=_("Shares r of the training labels the attacker flips; one plain and one sanitized "
                                "model per rate", "攻击者翻转的训练标签比例 r；每个比例各训练一个普通模型和一个清洗后的模型"))
    attack: str = param("next", choices=ATTACKS, choice_labels=ATTACK_NAMES, label=_("Attack", "攻击方式"),
                        help=_("Where flipped labels go: all to the next digit (poison piles up), or spread out",
                               "翻转后的标签去向：全部改成下一个数字（毒样本会扎堆），或分散到其他数字"))
    k: int = param(10, low=3, high=30, label=_("Neighbours k", "近邻数 k"),
                   help=_("A point is dropped when its label loses the vote of its k nearest training digits",
                          "若某个点的标签在其 k 个最近训练样本的投票中落败，就把它剔除"))
    epochs: int = epochs_param(30, high=100, help=_("Passes over the training digits (batches of 256)",
                                                    "遍历训练样本的次数（批大小 256）"))
    lr: float = lr_param(0.05, low=1e-3, high=0.3, help=_("Adam's step size for the logistic regression",
                                                          "逻辑回归所用 Adam 的步长"))
    seed: int = seed_param()


def logistic_regression(seed: int) -> nn.Linear:
    """Multinomial logistic regression on 64 pixels: one linear layer, trained with softmax cross-entropy."""
    return init_weights(nn.Linear(64, 10), seed)


def key(r: float) -> str:
    """The metric-name suffix of one rate: "0.2"."""
    return f"{r:g}"


def train(cfg: Config, X: Tensor, y: Tensor, name: T, index: int, count: int, report: Report) -> tuple[nn.Linear, Fit]:
    """One logistic regression on (X, y), reported as sub-run `index` of `count`."""
    model = logistic_regression(cfg.seed)
    trained = fit(model, torch.optim.Adam(model.parameters(), lr=cfg.lr), (X, y), epochs=cfg.epochs,
                  batch_size=256, seed=cfg.seed, report=part(report, name, index, count))
    return model, trained


def sweep(cfg: Config, split: data.Split, report: Report) -> tuple[Metrics, dict[float, tuple[Fit, Fit]]]:
    """At every rate: poison, sanitize, train on both sets; test accuracy and what the filter removed."""
    rates, metrics, fits = sorted(cfg.rates), {}, {}
    for i, r in enumerate(rates):
        report(Event("stage", i / len(rates), note=_("Flipping {r:.0%} of the labels, then the kNN filter",
                                                      "翻转 {r:.0%} 的标签，再运行 kNN 过滤器").format(r=r)))
        y_bad, is_poison = flip(split.y_train, r, cfg.seed, cfg.attack)  # (N,), (N,) bool
        keep = sanitize(split.X_train, y_bad, cfg.k)  # (N,) bool
        rate = same("r = {r:.0%}").format(r=r)
        plain, plain_fit = train(cfg, split.X_train, y_bad, sentences(rate, PLAIN), 2 * i, 2 * len(rates), report)
        cleaned, cleaned_fit = train(cfg, split.X_train[keep], y_bad[keep], sentences(rate, SANITIZED), 2 * i + 1,
                                     2 * len(rates), report)
        caught, lost = removal(keep, is_poison)
        metrics |= {f"acc_plain_{key(r)}": evaluate(plain, split.X_val, split.y_val)["acc"],
                    f"acc_sanitized_{key(r)}": evaluate(cleaned, split.X_val, split.y_val)["acc"],
                    f"poison_removed_{key(r)}": caught, f"clean_removed_{key(r)}": lost,
                    f"kept_{key(r)}": float(keep.sum())}
        fits[r] = (plain_fit, cleaned_fit)
    metrics["best_gain"] = max(metrics[f"acc_sanitized_{key(r)}"] - metrics[f"acc_plain_{key(r)}"] for r in rates)
    metrics["attack_next"] = float(cfg.attack == "next")
    return metrics, fits


def swept(m: Metrics) -> list[float]:
    """The rates a run swept, read back from its metric names."""
    return sorted(float(k.rsplit("_", 1)[1]) for k in m if k.startswith("acc_plain_"))


def tested(m: Metrics) -> tuple[float, float] | None:
    """(a minority rate in [0.1, 0.25], a dominating rate ≥ 0.35) swept beside r = 0, or None."""
    rates = swept(m)
    low, high = [r for r in rates if 0.1 <= r <= 0.25], [r for r in rates if r >= 0.35]
    return (max(low), max(high)) if rates and rates[0] == 0 and low and high else None


def lesson(m: Metrics) -> bool | None:
    """Plain accuracy falls with r; at a minority r the filter catches 90%+ of flips and keeps accuracy
    near clean; at a dominating r it catches far fewer."""
    rates = tested(m)
    if rates is None or not m["attack_next"]:
        return None  # random flips never pile up in one class: nothing dominates a neighbourhood
    lo, hi, clean = key(rates[0]), key(rates[1]), m["acc_plain_0"]
    falls = m[f"acc_plain_{lo}"] < clean - 0.05 and m[f"acc_plain_{hi}"] < m[f"acc_plain_{lo}"] - 0.1
    holds = (m[f"acc_sanitized_{lo}"] > clean - 0.04 and m[f"acc_sanitized_{lo}"] > m[f"acc_plain_{lo}"] + 0.04
             and m[f"poison_removed_{lo}"] >= 0.9 and m[f"clean_removed_{lo}"] <= 0.08)
    weakens = m[f"poison_removed_{hi}"] < m[f"poison_removed_{lo}"] - 0.1
    return falls and holds and weakens


CLAIM = Claim(
    _("flipped labels drag test accuracy down as their share grows, and kNN sanitization keeps it near the clean "
      "level by removing 90%+ of the flips while they are a minority, then weakens once the poison dominates "
      "neighbourhoods",
      "被翻转的标签越多，测试准确率就越低；在毒样本占少数时，kNN 清洗能剔除 90% 以上的翻转样本，把准确率保持在接近干净数据的水平，"
      "而当毒样本在邻域中占多数时，清洗效果随之减弱"),
    lesson,
    fragile=_("With few digits per class, the split decides how many atypical clean digits lose their "
              "neighbours' vote; a small k makes the vote noisy.",
              "每类样本不多时，数据划分决定了有多少不典型的干净数字会在近邻投票中落败；k 太小时投票本身也很嘈杂。"),
)


def verdict(cfg: Config, m: Metrics) -> T:
    """Clean vs poisoned accuracy, what the filter caught at a minority rate, what happened at the top rate."""
    rates = sorted(cfg.rates)
    lo, hi = tested(m) or (rates[len(rates) // 2], rates[-1])
    if hi == 0:
        return sentences(_("Choose a poisoning rate above 0 to see the attack.", "请选择大于 0 的投毒比例，才能看到攻击的效果。"),
                         CLAIM.verdict(m))
    by_rate = join([_("{acc:.1%} at r = {r:.0%}", "r = {r:.0%} 时 {acc:.1%}").format(acc=m[f"acc_plain_{key(r)}"], r=r)
                    for r in rates])
    return sentences(
        _("Test accuracy of the model trained on the poisoned labels: {by_rate}.",
          "在被投毒标签上训练的模型，测试准确率为：{by_rate}。").format(by_rate=by_rate),
        *[_("At r = {r:.0%} the kNN filter (k = {k}) removed {caught:.0%} of the flipped labels and {lost:.1%} of "
            "the clean ones; trained on what was left, the model reached {acc:.1%}.",
            "r = {r:.0%} 时，kNN 过滤器（k = {k}）剔除了 {caught:.0%} 的翻转标签和 {lost:.1%} 的干净样本；"
            "用剩下的数据训练，模型达到 {acc:.1%}。")
          .format(r=r, k=cfg.k, caught=m[f"poison_removed_{key(r)}"], lost=m[f"clean_removed_{key(r)}"],
                  acc=m[f"acc_sanitized_{key(r)}"]) for r in sorted({lo, hi}) if r > 0],
        _("Random flips spread over the nine other digits, so even at r = {hi:.0%} they rarely outvote the true label "
          "in a neighbourhood.", "随机翻转分散到其余九个数字上，所以即使 r = {hi:.0%}，它们也很少在邻域投票中胜过真实标签。")
        .format(hi=hi) if cfg.attack == "random" else None,
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Sweep the poisoning rate: a model on the poisoned digits and one on the kNN-sanitized digits per rate."""
    report(Event("stage", 0.0, note=_("Loading the digits", "正在加载手写数字")))
    split = data.digits(seed=cfg.seed)
    metrics, fits = sweep(cfg, split, report)
    return Result(metrics, verdict(cfg, metrics), charts(cfg, metrics, fits), tables(cfg, metrics))


def charts(cfg: Config, m: Metrics, fits: dict[float, tuple[Fit, Fit]]) -> list[Chart]:
    """Accuracy vs r, the filter's catch and collateral per r, and the training loss at the top rate."""
    rates = sorted(cfg.rates)
    xs = [f"{r:.0%}" for r in rates]
    accuracy = {PLAIN: [m[f"acc_plain_{key(r)}"] for r in rates],
                SANITIZED: [m[f"acc_sanitized_{key(r)}"] for r in rates]}
    removed = {_("flipped labels removed", "被剔除的翻转标签"): "poison_removed",
               _("clean points removed", "被误删的干净样本"): "clean_removed"}
    top = rates[-1]
    return [
        Chart(_("Test accuracy vs poisoning rate", "测试准确率与投毒比例"),
              lambda lang: plots.lines_xy({n.get(lang): (xs, v) for n, v in accuracy.items()}, RATE_AXIS,
                                          _("test accuracy", "测试准确率"), lang),
              caption=_("Test digits carry their true labels: this is what the poisoned model costs in use.",
                        "测试集使用真实标签：这就是被投毒的模型在实际使用中的代价。")),
        Chart(_("What the kNN filter removed", "kNN 过滤器剔除了什么"),
              lambda lang: plots.grouped_bars({n.get(lang): {x: m[f"{what}_{key(r)}"] for x, r in zip(xs, rates)}
                                         for n, what in removed.items()}, RATE_AXIS, _("share removed", "剔除比例"), lang),
              caption=_("Left bar: recall of the filter on the flipped labels. Right bar: good data lost.",
                        "左侧柱：过滤器对翻转标签的召回率。右侧柱：被误删的正常数据。")),
        Chart(_("Training loss at r = {r:.0%}", "r = {r:.0%} 时的训练损失").format(r=top),
              lambda lang: plots.curves({PLAIN.get(lang): fits[top][0].history["loss"],
                                         SANITIZED.get(lang): fits[top][1].history["loss"]},
                                        plots.STEP, plots.TRAIN_LOSS, lang)),
    ]


def tables(cfg: Config, m: Metrics) -> list[Table]:
    """One row per poisoning rate."""
    rows = [{"rate": f"{r:.0%}", "plain": round(m[f"acc_plain_{key(r)}"], 3),
             "sanitized": round(m[f"acc_sanitized_{key(r)}"], 3), "caught": round(m[f"poison_removed_{key(r)}"], 3),
             "lost": round(m[f"clean_removed_{key(r)}"], 3), "kept": int(m[f"kept_{key(r)}"])}
            for r in sorted(cfg.rates)]
    return [Table(_("Poisoning sweep", "投毒比例扫描"),
                  {"rate": _("flipped r", "翻转比例 r"), "plain": _("accuracy, poisoned", "准确率（投毒数据）"),
                   "sanitized": _("accuracy, sanitized", "准确率（清洗后）"),
                   "caught": _("flipped removed", "翻转标签剔除率"), "lost": _("clean removed", "干净样本误删率"),
                   "kept": _("training digits kept", "保留的训练样本数")}, rows)]


DEMO = Demo(
    id="label-flip-poisoning",
    title=_("Label-flip poisoning vs kNN sanitization", "标签翻转投毒与 kNN 清洗"),
    summary=_("An attacker flips a share of the digit training labels; logistic regression trained on them vs on the "
              "set a k-nearest-neighbour filter cleaned first, across poisoning rates.",
              "攻击者翻转一部分手写数字训练标签；在不同投毒比例下，比较直接在其上训练的逻辑回归与先经 k 近邻过滤清洗后再训练的逻辑回归。"),
    category="adversarial",
    config=Config,
    run=run,
    smoke=dict(rates=(0.0, 0.2), epochs=2),
    key_metric="best_gain",
    key_label=_("largest accuracy gain from sanitization", "清洗带来的最大准确率提升"),
    claim=CLAIM,
)
