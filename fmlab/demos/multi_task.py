"""Multi-task learning: one shared trunk, two heads, and a weighted joint loss L = L_A + λ·L_B.

Task A asks which digit an 8×8 image shows, and every training image has that label. Task B asks a
related yes/no question (is the digit odd?), but only a few dozen images carry a B label; every other
row is masked out of L_B. Alone, B has too few labels to learn good features; sharing the trunk lets it
reuse the features thousands of digit labels shaped. With Adam each head learns at full speed whatever
λ is, but the shared trunk follows whichever loss dominates: a huge λ makes it serve the tiny B set.
The two-head net and the masked joint loss live in `fmlab.multitask`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .. import data, plots
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..fit import Fit, fit
from ..multitask import MISSING, TwoHeadNet, joint_loss, separate_params
from ..nets import init_weights, num_params
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, sentences

TASKS_B = ("parity", "ge5")
TASK_B_NAMES = {"parity": _("is the digit odd?", "数字是奇数吗？"), "ge5": _("is the digit ≥ 5?", "数字 ≥ 5 吗？")}
WEIGHTS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
A_ALONE, B_ALONE = _("A alone", "A 单独训练"), _("B alone", "B 单独训练")
TASK_A, TASK_B = _("task A (digit)", "任务 A（数字）"), _("task B", "任务 B")
TASK_B_ACCURACY = _("task-B accuracy", "任务 B 准确率")
Scores = dict[T, tuple[float, float]]  # run name -> held-out (task A, task B) accuracy


@dataclass(frozen=True)
class Config(DemoConfig):
    task_b: str = param("parity", choices=TASKS_B, choice_labels=TASK_B_NAMES, label=_("Task B", "任务 B"),
                        help=_("The yes/no question of the scarce-label task", "标签稀缺的是/否任务问的是什么"))
    labels_b: int = param(20, low=10, high=1000, log=True, label=_("Task-B labels", "任务 B 的标签数"),
                          help=_("Training images that keep a task-B label (of about 1,260)",
                                 "保留任务 B 标签的训练图像数（共约 1260 张）"))
    weight_b: float = param(1.0, low=0.01, high=1000.0, log=True, label=_("λ for the comparison", "对比用的 λ"),
                            help=_("Weight of L_B in the shared model compared with the single-task models",
                                   "与单任务模型对比时，共享模型中 L_B 的权重"))
    sweep: tuple = param((0.1, 10.0, 100.0), choices=WEIGHTS, label=_("λ sweep", "λ 扫描"),
                         help=_("More values of λ to train, to see both tasks change with the weight",
                                "额外训练的 λ 取值，用来观察两个任务随权重的变化"))
    epochs: int = epochs_param(10, high=40, help=_("Passes over the digits training set", "遍历手写数字训练集的次数"))
    lr: float = lr_param(5e-3, low=1e-4, high=3e-2, help=_("Adam's step size for every run", "所有训练共用的 Adam 步长"))
    seed: int = seed_param(_("Same seed, same run (and the same labelled B images)",
                             "相同种子，相同结果（任务 B 的有标签图像也相同）"))


def task_b_labels(digits: Tensor, task: str) -> Tensor:  # (N,) digits -> (N,) 0/1
    return digits % 2 if task == "parity" else (digits >= 5).long()


@torch.no_grad()
def accuracies(model: TwoHeadNet, X: Tensor, digits: Tensor, task: str) -> tuple[float, float]:
    """Held-out accuracy of each head: A by arg-max, B by the sign of its logit."""
    model.eval()
    device = next(model.parameters()).device
    logits_a, logit_b = model(X.to(device))
    digits = digits.to(device)
    acc_a = (logits_a.argmax(1) == digits).float().mean().item()
    acc_b = ((logit_b > 0).long() == task_b_labels(digits, task)).float().mean().item()
    return acc_a, acc_b


def weight_run(weight: float) -> T:
    return _("λ = {weight:g}", "λ = {weight:g}").format(weight=weight)


def make_jobs(cfg: Config, X: Tensor, digits: Tensor, weights: list[float]) -> dict[T, tuple[Tensor, Tensor, float]]:
    """Every run's (X, y (N, 2) = (digit, B label) with MISSING holes, λ): A alone, B alone, shared at each λ."""
    keep = torch.zeros(len(X), dtype=torch.bool)  # (N,): the rows that keep their task-B label
    keep[torch.from_numpy(np.random.default_rng(cfg.seed + 1).permutation(len(X))[:cfg.labels_b])] = True
    b_or_missing = torch.where(keep, task_b_labels(digits, cfg.task_b), MISSING)  # (N,)
    missing = torch.full_like(digits, MISSING)
    jobs = {A_ALONE: (X, torch.stack([digits, missing], 1), 0.0),  # B labels hidden
            B_ALONE: (X[keep], torch.stack([missing[keep], b_or_missing[keep]], 1), 1.0)}  # only B's rows
    return jobs | {weight_run(w): (X, torch.stack([digits, b_or_missing], 1), w) for w in weights}


def train_all(cfg: Config, split: data.Split, jobs: dict, report: Report) -> tuple[Scores, dict[T, Fit]]:
    """Train a fresh two-head net (same initial weights) per job for the same number of Adam steps; score each."""
    steps = cfg.epochs * math.ceil(len(split.X_train) / 128)  # B alone has few rows: more epochs, as many steps
    scores, fits = {}, {}
    for i, (name, (X, y, weight_b)) in enumerate(jobs.items()):
        model = init_weights(TwoHeadNet(), cfg.seed)
        batch_size = min(128, len(X))
        fits[name] = fit(model, torch.optim.Adam(model.parameters(), lr=cfg.lr), (X, y),
                         epochs=max(1, round(steps / math.ceil(len(X) / batch_size))), batch_size=batch_size,
                         loss_fn=joint_loss(weight_b), seed=cfg.seed, report=part(report, name, i, len(jobs)))
        scores[name] = accuracies(model, split.X_val, split.y_val, cfg.task_b)
    return scores, fits


def collect(cfg: Config, scores: Scores, weights: list[float]) -> Metrics:
    """Accuracies alone and shared, B's gain, A's drop at the largest λ, and parameter counts."""
    shared, top = scores[weight_run(cfg.weight_b)], scores[weight_run(max(weights))]
    metrics = {"acc_a_alone": scores[A_ALONE][0], "acc_b_alone": scores[B_ALONE][1],
               "acc_a_shared": shared[0], "acc_b_shared": shared[1]}
    metrics["gain_b"] = metrics["acc_b_shared"] - metrics["acc_b_alone"]
    metrics["acc_a_max_weight"] = top[0]
    metrics["drop_a_max_weight"] = metrics["acc_a_alone"] - top[0]
    for w in weights:
        metrics[f"acc_a_lambda_{w:g}"], metrics[f"acc_b_lambda_{w:g}"] = scores[weight_run(w)]
    net = TwoHeadNet()
    metrics["params_shared"] = float(num_params(net))
    metrics["params_separate"] = float(separate_params(net))
    metrics |= {"labels_b": float(cfg.labels_b), "weight_shared": cfg.weight_b, "weight_max": max(weights)}
    return metrics


def verdict(cfg: Config, m: Metrics) -> T:
    """B alone vs shared, A alone vs shared, and what the largest λ did to A."""
    fell = m["drop_a_max_weight"] > 0.1
    return sentences(
        _("Task B ({task}) with {labels} labels: alone {alone:.1%}, with the shared trunk at λ = {weight:g} "
          "{shared:.1%} ({gain:+.1f} points).",
          "任务 B（{task}）只有 {labels} 个标签：单独训练 {alone:.1%}，λ = {weight:g} 时共享主干 {shared:.1%}"
          "（{gain:+.1f} 个百分点）。")
        .format(task=TASK_B_NAMES[cfg.task_b], labels=cfg.labels_b, alone=m["acc_b_alone"], weight=cfg.weight_b,
                shared=m["acc_b_shared"], gain=m["gain_b"] * 100),
        _("Task A: alone {alone:.1%}, shared {shared:.1%}.", "任务 A：单独训练 {alone:.1%}，共享 {shared:.1%}。")
        .format(alone=m["acc_a_alone"], shared=m["acc_a_shared"]),
        _("B reused features that the digit labels shaped.", "B 复用了由数字标签塑造出的特征。") if m["gain_b"] > 0.02 else
        _("Here sharing did not clearly help B: try another seed, fewer B labels, or λ ≤ 1.",
          "本次共享没有明显帮到 B：可以换一个种子、减少 B 的标签数，或取 λ ≤ 1。"),
        _("At λ = {top:g}, task A {how} {acc:.1%}: {why}.", "λ = {top:g} 时任务 A {how} {acc:.1%}：{why}。").format(
            top=m["weight_max"], acc=m["acc_a_max_weight"], how=_("fell to", "跌到") if fell else _("held at", "仍有"),
            why=_("L_B dominated the shared trunk, so the weight is a real hyperparameter",
                  "L_B 主导了共享主干，损失权重是实打实的超参数") if fell else
            _("add λ = 100 or more to the sweep to see one loss take over the trunk",
              "在扫描中加入 100 或更大的 λ，就能看到一个损失霸占主干")),
    )


def lesson(m: Metrics) -> bool | None:
    """With ≤ 50 B labels, λ ≤ 1 and λ ≥ 100 in the sweep: sharing adds 2+ points to B and λ max costs A 10+."""
    if m["labels_b"] > 50 or m["weight_shared"] > 1 or m["weight_max"] < 100:
        return None
    return m["gain_b"] > 0.02 and m["drop_a_max_weight"] > 0.1


CLAIM = Claim(
    _("with a few dozen labels, task B does better on the shared trunk than alone, and a huge weight on L_B "
      "wrecks task A",
      "只有几十个标签时，任务 B 在共享主干上比单独训练更好，而给 L_B 极大的权重会毁掉任务 A"),
    lesson,
    fragile=_("With so few B labels, which images carry them matters: on some seeds B alone already reaches about "
              "85% and sharing adds only a point.",
              "B 的标签这么少，哪几张图像带标签影响很大：在某些种子下 B 单独训练就能达到约 85%，共享只多出约一个百分点。"),
)


def run(cfg: Config, report: Report = silent) -> Result:
    """Train A alone, B alone and the two-head model at each λ on digits; compare both tasks' accuracy."""
    split = data.digits(seed=cfg.seed)
    weights = sorted(set(cfg.sweep) | {cfg.weight_b})
    jobs = make_jobs(cfg, split.X_train, split.y_train, weights)
    scores, fits = train_all(cfg, split, jobs, report)
    metrics = collect(cfg, scores, weights)
    told = sentences(verdict(cfg, metrics), CLAIM.verdict(metrics))
    return Result(metrics, told, charts(cfg, scores, fits, weights, metrics), tables(scores, metrics))


def charts(cfg: Config, scores: Scores, fits: dict[T, Fit], weights: list[float], m: Metrics) -> list[Chart]:
    """Both tasks' accuracy against λ, task B alone vs shared, training losses."""
    span = [min(weights), max(weights)]

    def sweep_plot(lang: str):
        shared = {task.get(lang): (weights, [scores[weight_run(w)][i] for w in weights])
                  for i, task in enumerate((TASK_A, TASK_B))}
        alone = {A_ALONE.get(lang): (span, [m["acc_a_alone"]] * 2), B_ALONE.get(lang): (span, [m["acc_b_alone"]] * 2)}
        return plots.lines_xy(shared | alone, _("λ, the weight of L_B (log)", "λ，即 L_B 的权重（对数）"),
                              plots.HELD_OUT_ACCURACY, lang, log_x=True, dashes=dict.fromkeys(alone, "dash"))

    shared = _("shared, λ = {weight:g}", "共享，λ = {weight:g}").format(weight=cfg.weight_b)
    return [
        Chart(_("Held-out accuracy of both tasks vs the weight λ", "两个任务的留出集准确率随权重 λ 的变化"), sweep_plot,
              caption=_("Flat lines: each task trained alone. A small λ helps B without hurting A; a huge λ "
                        "hands the trunk to B and A collapses.",
                        "水平线：各任务单独训练的结果。λ 较小时 B 获益而 A 不受影响；λ 过大时主干被 B 占据，A 随之崩溃。")),
        Chart(_("Task B: alone vs with a shared trunk", "任务 B：单独训练与共享主干"),
              lambda lang: plots.bars({B_ALONE.get(lang): m["acc_b_alone"], shared.get(lang): m["acc_b_shared"]},
                                      plots.MODEL, TASK_B_ACCURACY, lang)),
        Chart(_("Training loss (L_A + λ·L_B)", "训练损失（L_A + λ·L_B）"),
              lambda lang: plots.curves({n.get(lang): f.history["loss"] for n, f in fits.items()}, plots.STEP,
                                        plots.LOSS_LOG, lang, log_y=True),
              caption=_("B alone drives its loss to almost zero: it memorises its few labelled images, and still "
                        "generalises worse than the shared model.",
                        "单独训练的 B 把损失压到几乎为零：它记住了那几张有标签的图像，泛化却仍不如共享模型。")),
    ]


def tables(scores: Scores, m: Metrics) -> list[Table]:
    """Both accuracies per run; parameters of one two-head model vs two single-task models."""
    runs = Table(_("Runs", "各组训练"),
                 {"run": plots.RUN, "acc_a": _("task A accuracy", "任务 A 准确率"), "acc_b": TASK_B_ACCURACY},
                 [{"run": n, "acc_a": round(a, 4) if n != B_ALONE else None,
                   "acc_b": round(b, 4) if n != A_ALONE else None} for n, (a, b) in scores.items()])
    sizes = Table(_("Parameters", "参数量"), {"model": plots.MODEL, "params": plots.PARAMETERS},
                  [{"model": _("one two-head model", "一个双头模型"), "params": int(m["params_shared"])},
                   {"model": _("two single-task models", "两个单任务模型"), "params": int(m["params_separate"])}])
    return [runs, sizes]


DEMO = Demo(
    id="multi-task",
    title=_("Multi-task learning: shared trunk, two heads", "多任务学习：共享主干与两个输出头"),
    summary=_("A digit classifier and a scarce-label yes/no task share one trunk: the scarce task gains, and a "
              "sweep of the loss weight shows one task taking over.",
              "数字分类与一个标签稀缺的是/否任务共享同一个主干：稀缺任务获益；扫描损失权重可以看到一个任务如何霸占主干。"),
    category="structure",
    config=Config,
    run=run,
    smoke=dict(epochs=1, sweep=(10.0,)),
    key_metric="gain_b",
    key_label=_("task-B accuracy gained by sharing", "共享带来的任务 B 准确率提升"),
    claim=CLAIM,
)
