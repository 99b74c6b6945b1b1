"""Multi-task learning: one shared trunk, two heads, and a weighted joint loss L = L_A + λ·L_B.

Task A asks which digit an 8×8 image shows, and every training image has that label.
Task B asks a related yes/no question (is the digit odd?), but only a few dozen images carry
a B label; every other row is masked out of L_B rather than given a made-up label.
Trained alone, B has too few labels to learn good features. Sharing the trunk lets B reuse
the features that thousands of digit labels shaped, so B gets better. The weight λ matters:
with Adam each head still learns at full speed, but the shared trunk follows whichever loss
dominates. A huge λ makes the trunk serve the tiny B set and task A collapses.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import data, plots
from ..demo import Chart, Demo, Report, Result, Table, part, silent
from ..fit import Fit, fit
from ..nets import init_weights, num_params
from ..params import DemoConfig, param
from ..text import T, _

MISSING = -1  # a label this row does not have; masked out of that task's loss
TASKS_B = ("parity", "ge5")
TASK_B_NAMES = {"parity": _("is the digit odd?", "数字是奇数吗？"), "ge5": _("is the digit ≥ 5?", "数字 ≥ 5 吗？")}
WEIGHTS = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)


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
    epochs: int = param(10, low=1, high=40, label=_("Epochs", "训练轮数"),
                        help=_("Passes over the digits training set", "遍历手写数字训练集的次数"))
    lr: float = param(5e-3, low=1e-4, high=3e-2, log=True, label=_("Learning rate (Adam)", "学习率（Adam）"),
                      help=_("Adam's step size for every run", "所有训练共用的 Adam 步长"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run (and the same labelled B images)", "相同种子，相同结果（任务 B 的有标签图像也相同）"))


class TwoHeadNet(nn.Module):
    """Hard parameter sharing: a shared MLP trunk, a 10-way head for A and a 1-logit head for B."""

    def __init__(self, width: int = 128, features: int = 64):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                   nn.Linear(width, features), nn.ReLU())
        self.head_a = nn.Linear(features, 10)
        self.head_b = nn.Linear(features, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # (B, 64) -> (B, 10), (B,)
        h = self.trunk(x)  # (B, features): the representation both tasks share
        return self.head_a(h), self.head_b(h).squeeze(1)


def task_b_labels(digits: Tensor, task: str) -> Tensor:
    """Task B's 0/1 label for each digit (N,)."""
    return digits % 2 if task == "parity" else (digits >= 5).long()


def masked_mean(losses: Tensor, mask: Tensor) -> Tensor:
    """Mean of per-row losses over the rows that have a label; 0 (not NaN) when none has."""
    return (losses * mask).sum() / mask.sum().clamp_min(1)


def task_losses(outputs: tuple[Tensor, Tensor], y: Tensor) -> tuple[Tensor, Tensor]:
    """L_A and L_B for y (B, 2) = (digit, B label), each averaged over the rows where it is not MISSING."""
    logits_a, logit_b = outputs
    has_a, has_b = y[:, 0] != MISSING, y[:, 1] != MISSING
    loss_a = F.cross_entropy(logits_a, y[:, 0].clamp_min(0), reduction="none")  # (B,)
    loss_b = F.binary_cross_entropy_with_logits(logit_b, y[:, 1].clamp_min(0).float(), reduction="none")  # (B,)
    return masked_mean(loss_a, has_a), masked_mean(loss_b, has_b)


def joint_loss(weight_b: float):
    """L = L_A + λ·L_B: one backward pass sends both tasks' gradients into the shared trunk."""

    def loss(outputs: tuple[Tensor, Tensor], y: Tensor) -> Tensor:
        loss_a, loss_b = task_losses(outputs, y)
        return loss_a + weight_b * loss_b

    return loss


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


def train(X: Tensor, y: Tensor, weight_b: float, steps: int, cfg: Config, report: Report) -> tuple[TwoHeadNet, Fit]:
    """A fresh two-head net (same initial weights every run) trained for `steps` Adam steps."""
    model = init_weights(TwoHeadNet(), cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    batch_size = min(128, len(X))
    epochs = max(1, round(steps / math.ceil(len(X) / batch_size)))
    return model, fit(model, opt, (X, y), epochs=epochs, batch_size=batch_size, loss_fn=joint_loss(weight_b),
                      seed=cfg.seed, report=report)


def labelled_rows(num: int, count: int, seed: int) -> Tensor:
    """Which `count` of `num` training rows keep their task-B label (N,) bool."""
    keep = torch.zeros(num, dtype=torch.bool)
    keep[torch.from_numpy(np.random.default_rng(seed + 1).permutation(num)[:count])] = True
    return keep


def verdict(cfg: Config, m: dict[str, float]) -> T:
    task = TASK_B_NAMES[cfg.task_b]
    top = max(cfg.sweep + (cfg.weight_b,))
    helped = m["gain_b"] > 0.02
    hurt = m["drop_a_max_weight"] > 0.1
    head_en = (f"Task B ({task.en}) with {cfg.labels_b} labels: alone {m['acc_b_alone']:.1%}, with the shared trunk "
               f"at λ = {cfg.weight_b:g} {m['acc_b_shared']:.1%} ({m['gain_b'] * 100:+.1f} points). Task A: alone "
               f"{m['acc_a_alone']:.1%}, shared {m['acc_a_shared']:.1%}. ")
    head_zh = (f"任务 B（{task.zh}）只有 {cfg.labels_b} 个标签：单独训练 {m['acc_b_alone']:.1%}，λ = {cfg.weight_b:g} "
               f"时共享主干 {m['acc_b_shared']:.1%}（{m['gain_b'] * 100:+.1f} 个百分点）。任务 A：单独训练 "
               f"{m['acc_a_alone']:.1%}，共享 {m['acc_a_shared']:.1%}。")
    mid_en = ("B reused features that the digit labels shaped. " if helped else
              "Here sharing did not clearly help B: try fewer B labels, or λ ≤ 1. ")
    mid_zh = ("B 复用了由数字标签塑造出的特征。" if helped else "本次共享没有明显帮到 B：可以减少 B 的标签数，或取 λ ≤ 1。")
    end_en = (f"At λ = {top:g}, task A fell to {m['acc_a_max_weight']:.1%}: L_B dominated the shared trunk, "
              "so the weight is a real hyperparameter." if hurt else
              f"At λ = {top:g} task A held at {m['acc_a_max_weight']:.1%}: add λ = 100 or more to the sweep to see "
              "one loss take over the trunk.")
    end_zh = (f"λ = {top:g} 时任务 A 跌到 {m['acc_a_max_weight']:.1%}：L_B 主导了共享主干，损失权重是实打实的超参数。"
              if hurt else
              f"λ = {top:g} 时任务 A 仍有 {m['acc_a_max_weight']:.1%}：在扫描中加入 100 或更大的 λ，就能看到一个损失霸占主干。")
    return _(head_en + mid_en + end_en, head_zh + mid_zh + end_zh)


def run(cfg: Config, report: Report = silent) -> Result:
    split = data.digits(seed=cfg.seed)
    X, digits = split.X_train, split.y_train
    keep = labelled_rows(len(X), min(cfg.labels_b, len(X)), cfg.seed)
    b_or_missing = torch.where(keep, task_b_labels(digits, cfg.task_b), MISSING)
    missing = torch.full_like(digits, MISSING)
    steps = cfg.epochs * math.ceil(len(X) / 128)  # every run takes the same number of Adam steps

    weights = sorted(set(cfg.sweep) | {cfg.weight_b})
    jobs = {"A alone": (X, torch.stack([digits, missing], 1), 0.0),  # B labels hidden
            "B alone": (X[keep], torch.stack([missing[keep], b_or_missing[keep]], 1), 1.0)}  # only B's rows
    jobs |= {f"λ = {w:g}": (X, torch.stack([digits, b_or_missing], 1), w) for w in weights}
    scores: dict[str, tuple[float, float]] = {}
    fits: dict[str, Fit] = {}
    for i, (name, (X_run, y_run, w)) in enumerate(jobs.items()):
        model, fits[name] = train(X_run, y_run, w, steps, cfg, part(report, name, i, len(jobs)))
        scores[name] = accuracies(model, split.X_val, split.y_val, cfg.task_b)

    shared, top = f"λ = {cfg.weight_b:g}", f"λ = {max(weights):g}"
    metrics = {"acc_a_alone": scores["A alone"][0], "acc_b_alone": scores["B alone"][1],
               "acc_a_shared": scores[shared][0], "acc_b_shared": scores[shared][1]}
    metrics["gain_b"] = metrics["acc_b_shared"] - metrics["acc_b_alone"]
    metrics["acc_a_max_weight"] = scores[top][0]
    metrics["drop_a_max_weight"] = metrics["acc_a_alone"] - scores[top][0]
    for w in weights:
        metrics[f"acc_a_lambda_{w:g}"], metrics[f"acc_b_lambda_{w:g}"] = scores[f"λ = {w:g}"]
    net = TwoHeadNet()
    trunk = num_params(net.trunk)
    metrics["params_shared"] = float(num_params(net))
    metrics["params_separate"] = float(2 * trunk + num_params(net.head_a) + num_params(net.head_b))

    task_a, task_b = _("task A (digit)", "任务 A（数字）"), _("task B", "任务 B")
    alone_a, alone_b = _("A alone", "A 单独训练"), _("B alone", "B 单独训练")
    span = [min(weights), max(weights)]

    def sweep_plot(lang: str):
        return plots.lines_xy({task_a.get(lang): (weights, [scores[f"λ = {w:g}"][0] for w in weights]),
                               task_b.get(lang): (weights, [scores[f"λ = {w:g}"][1] for w in weights]),
                               alone_a.get(lang): (span, [metrics["acc_a_alone"]] * 2),
                               alone_b.get(lang): (span, [metrics["acc_b_alone"]] * 2)},
                              _("λ, the weight of L_B (log)", "λ，即 L_B 的权重（对数）"),
                              _("held-out accuracy", "留出集准确率"), lang, log_x=True,
                              dashes={alone_a.get(lang): "dash", alone_b.get(lang): "dash"})

    charts = [
        Chart(_("Held-out accuracy of both tasks vs the weight λ", "两个任务的留出集准确率随权重 λ 的变化"), sweep_plot,
              caption=_("Flat lines: each task trained alone. A small λ helps B without hurting A; a huge λ "
                        "hands the trunk to B and A collapses.",
                        "水平线：各任务单独训练的结果。λ 较小时 B 获益而 A 不受影响；λ 过大时主干被 B 占据，A 随之崩溃。")),
        Chart(_("Task B: alone vs with a shared trunk", "任务 B：单独训练与共享主干"),
              lambda lang: plots.bars({alone_b.get(lang): metrics["acc_b_alone"],
                                       _(f"shared, λ = {cfg.weight_b:g}", f"共享，λ = {cfg.weight_b:g}").get(lang):
                                       metrics["acc_b_shared"]},
                                      _("model", "模型"), _("task-B accuracy", "任务 B 准确率"), lang)),
        Chart(_("Training loss (L_A + λ·L_B)", "训练损失（L_A + λ·L_B）"),
              lambda lang: plots.curves({n: f.history["loss"] for n, f in fits.items()}, _("step", "步数"),
                                        _("loss (log)", "损失（对数）"), lang, log_y=True),
              caption=_("B alone drives its loss to almost zero: it memorises its few labelled images, and still "
                        "generalises worse than the shared model.",
                        "单独训练的 B 把损失压到几乎为零：它记住了那几张有标签的图像，泛化却仍不如共享模型。")),
    ]
    runs = Table(_("Runs", "各组训练"),
                 {"run": _("run", "训练组"), "acc_a": _("task A accuracy", "任务 A 准确率"),
                  "acc_b": _("task B accuracy", "任务 B 准确率")},
                 [{"run": n, "acc_a": round(a, 4) if n != "B alone" else None,
                   "acc_b": round(b, 4) if n != "A alone" else None} for n, (a, b) in scores.items()])
    sizes = Table(_("Parameters", "参数量"),
                  {"model": _("model", "模型"), "params": _("parameters", "参数量")},
                  [{"model": "one two-head model", "params": int(metrics["params_shared"])},
                   {"model": "two single-task models", "params": int(metrics["params_separate"])}])
    return Result(metrics, verdict(cfg, metrics), {n: f.history for n, f in fits.items()}, charts, [runs, sizes])


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
)
