"""Knowledge distillation on digits: a teacher trained on labels teaches a 16× smaller student on unlabelled images.

The training digits are cut in two: a labelled set for the 64-256-10 teacher and a separate transfer set whose
labels stay hidden. The 64-16-10 student gets the same number of steps three ways: cross-entropy on its few labels,
distillation on the transfer set (the frozen teacher's probabilities at temperature T are its only targets), and,
as a reference, cross-entropy on every label. The loss and its T² factor are in `fmlab.distill`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .. import data, plots
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..distill import (distill_loss, distill_loss_by_hand, mistakes, soft_gradient_norm, soft_targets, soften,
                       student_objective)
from ..fit import evaluate, fit
from ..latency import checkpoint_bytes
from ..nets import MLP, init_weights, num_params
from ..params import DemoConfig, param, seed_param
from ..text import T, _, same, sentences

TEACHER_WIDTH, TEACHER_EPOCHS, LR, BATCH = 256, 30, 3e-3, 64
GRAD_TEMPERATURES = (1, 2, 4, 8, 16)  # where the gradient of the soft term is measured, with and without T²
SHOWN_DIGIT = 3  # dark knowledge is shown on a typical test image of this digit
RUNS = ("teacher", "few_labels", "distilled", "all_labels")
NAMES = {"teacher": _("teacher", "教师"), "few_labels": _("student: CE on its few labels", "学生：少量标签交叉熵"),
         "distilled": _("student: distilled, no labels", "学生：蒸馏，不用标签"),
         "all_labels": _("student: CE on all labels (reference)", "学生：全部标签交叉熵（参照）")}
MISTAKES = {"right": _("KLDivLoss(log p_s, p_t), batchmean (right)", "KLDivLoss(log p_s, p_t)，batchmean（正确）"),
            "by_hand": _("Σ p_t (log p_t − log p_s), by hand", "手算 Σ p_t (log p_t − log p_s)"),
            "log_probs_as_target": _("log-probabilities as the target", "目标传入对数概率"),
            "probs_as_input": _("probabilities as the input", "输入传入概率"), "swapped": _("arguments swapped", "参数顺序颠倒"),
            "mean_reduction": _('reduction="mean" (also ÷ classes)', 'reduction="mean"（还除以类别数）')}


@dataclass(frozen=True)
class Config(DemoConfig):
    temperature: float = param(4.0, low=1.0, high=20.0, label=_("Temperature T", "温度 T"), help=_(
        "Both teacher and student logits are divided by T in the soft term", "软目标项中教师与学生的 logits 都除以 T"))
    alpha: float = param(1.0, low=0.0, high=1.0, label=_("Soft-target weight α", "软目标权重 α"),
                         help=_("1 = pure distillation, no labels; below 1 the student also gets (1 − α)·CE on "
                                "its few labels", "1 表示纯蒸馏、不用标签；小于 1 时学生还在少量标签上加 (1 − α)·CE"))
    num_labelled: int = param(500, low=100, high=900, label=_("Teacher's labelled digits", "教师的有标签样本数"),
                              help=_("The teacher learns on these; the rest of the 1,258 training digits are the "
                                     "unlabelled transfer set", "教师在这些样本上训练；1258 个训练样本中其余部分是无标签迁移集"))
    num_few: int = param(50, low=10, high=200, label=_("Student's labels", "学生的标签数"), help=_(
        "Labelled digits the student may use (from the teacher's labelled set)", "学生可用的有标签样本数（取自教师的有标签集）"))
    student_width: int = param(16, choices=(8, 16, 32, 64), label=_("Student width", "学生宽度"), help=_(
        "Hidden units of the 64-w-10 student (the teacher has 256)", "64-w-10 学生的隐藏单元数（教师为 256）"))
    steps: int = param(400, low=50, high=2000, label=_("Student steps", "学生训练步数"), help=_(
        "Adam steps of batch 64 for every student: the same compute for each", "每个学生的 Adam 步数（批大小 64），各组计算量相同"))
    seed: int = seed_param()


def mlp(width: int, seed: int) -> MLP:
    """64 -> width -> 10 with one ReLU."""
    return init_weights(MLP(64, 10, width=width, depth=0), seed)


def train(model: MLP, X: Tensor, target: Tensor, steps: int, seed: int, report: Report, **kw) -> list[float]:
    """Adam for about `steps` steps of batch 64 (whole epochs); returns the per-step losses."""
    epochs = max(1, round(steps / math.ceil(len(X) / BATCH)))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    return fit(model, opt, (X, target), epochs=epochs, batch_size=BATCH, seed=seed, report=report, **kw).history["loss"]


def train_all(cfg: Config, split: data.Split, report: Report) -> tuple[dict[str, MLP], dict[str, list[float]]]:
    """The teacher on its labelled set, then three students; only the reference ever sees the transfer labels."""
    X, y, n, few = split.X_train, split.y_train, cfg.num_labelled, slice(0, cfg.num_few)
    models = {r: mlp(TEACHER_WIDTH if r == "teacher" else cfg.student_width, cfg.seed + (r != "teacher"))
              for r in RUNS}  # the three students start from the same weights
    losses = {"teacher": train(models["teacher"], X[:n], y[:n], TEACHER_EPOCHS * math.ceil(n / BATCH), cfg.seed,
                               part(report, NAMES["teacher"], 0, 4))}
    teacher = models["teacher"].cpu().eval().requires_grad_(False)  # frozen: no gradient, no optimizer
    X_soft, packed = soft_targets(teacher, X[n:], X[few], y[few], cfg.alpha)  # transfer labels y[n:] unused
    jobs = {"few_labels": (X[few], y[few], {}),
            "distilled": (X_soft, packed, {"loss_fn": student_objective(cfg.temperature, cfg.alpha)}),
            "all_labels": (X, y, {})}  # every label: the reference only
    for i, (r, (Xr, target, kw)) in enumerate(jobs.items(), start=1):
        losses[r] = train(models[r], Xr, target, cfg.steps, cfg.seed, part(report, NAMES[r], i, 4), **kw)
    return {r: m.cpu().eval() for r, m in models.items()}, losses


def dark_knowledge(teacher: MLP, split: data.Split) -> dict[float, np.ndarray]:
    """The teacher's probabilities (10,) at T = 1 and 4 for the test SHOWN_DIGIT of median teacher confidence."""
    with torch.no_grad():
        z = teacher(split.X_val[split.y_val == SHOWN_DIGIT])  # (n, 10)
    i = int(soften(z, 1.0)[:, SHOWN_DIGIT].argsort()[len(z) // 2])
    return {t: soften(z[i:i + 1], t)[0].numpy() for t in (1.0, 4.0)}


def scores(cfg: Config, split: data.Split, models: dict[str, MLP], probs: dict[float, np.ndarray]) -> Metrics:
    """Test accuracy of every model, parameters and checkpoint bytes, set sizes, the teacher's top probability per T."""
    m = {f"acc_{r}": evaluate(models[r], split.X_val, split.y_val)["acc"] for r in RUNS}
    m |= {"params_teacher": num_params(models["teacher"]), "params_student": num_params(models["distilled"]),
          "bytes_teacher": checkpoint_bytes(models["teacher"]), "bytes_student": checkpoint_bytes(models["distilled"]),
          "num_labelled": cfg.num_labelled, "num_transfer": len(split.X_train) - cfg.num_labelled}
    m |= {f"teacher_top_t{t:g}": float(p[SHOWN_DIGIT]) for t, p in probs.items()}
    return m | {"param_ratio": m["params_teacher"] / m["params_student"]}


def loss_checks(s: Tensor, t: Tensor, temp: float) -> Metrics:
    """On logits s, t (N, 10): the right loss, its |Δ| to the formula by hand, and the wrong calls' values."""
    right, by_hand = distill_loss(s, t, temp).item(), distill_loss_by_hand(s, t, temp).item()
    wrong = mistakes(s, t, temp)
    return {"kd_loss": right, "kd_by_hand": by_hand, "kd_vs_by_hand": abs(right - by_hand),
            **{f"wrong_{k}": v for k, v in wrong.items() if math.isfinite(v)},
            "log_target_is_nan": float(math.isnan(wrong["log_probs_as_target"]))}


def lesson(m: Metrics) -> bool:
    """Distilled on unlabelled images, the student beats CE on its few labels by 5+ points, within 4 of all labels."""
    return m["acc_distilled"] >= m["acc_few_labels"] + 0.05 and m["acc_distilled"] >= m["acc_all_labels"] - 0.04


def number(v: float) -> T:  # a loss value as text, NaN included
    return same("NaN" if math.isnan(v) else format(v, ".4f"))


CLAIM = Claim(
    _("the tiny student distilled from the frozen teacher on unlabelled transfer images beats the same student "
      "trained on its few labels by a wide margin and comes close to the student trained on every label",
      "在无标签迁移图像上向冻结教师蒸馏的小型学生模型，大幅超过只用少量标签训练的同一学生，并接近用全部标签训练的学生"),
    lesson,
    fragile=_("With many student labels the cross-entropy student is already good, and with a weak teacher (few "
              "labelled digits) the distilled student inherits its mistakes.",
              "学生标签多时，交叉熵训练的学生本身就不错；教师的有标签样本太少时，蒸馏出的学生会继承教师的错误。"),
)


def verdict(cfg: Config, m: Metrics, probs: dict[float, np.ndarray]) -> T:
    """The four accuracies, the teacher's soft probabilities, the loss checks and the T² factor."""
    hot = probs[4.0].argsort()[::-1]  # digits by the teacher's probability at T = 4
    runner, third = (int(d) for d in hot[hot != SHOWN_DIGIT][:2])
    return sentences(
        _("The teacher (64-256-10, {pt:,} parameters) learned from {nl} labelled digits: test accuracy {t:.1%}.",
          "教师（64-256-10，{pt:,} 个参数）在 {nl} 个有标签数字上训练：测试准确率 {t:.1%}。")
        .format(pt=int(m["params_teacher"]), nl=cfg.num_labelled, t=m["acc_teacher"]),
        _("The student ({ps:,} parameters, {ratio:.0f}× fewer) reached {few:.1%} with cross-entropy on its {nf} "
          "labels, {kd:.1%} distilled at T = {temp:g} on {nu:,} transfer images whose labels it never saw, and "
          "{all:.1%} with all {na:,} labels (reference).",
          "学生（{ps:,} 个参数，为教师的 1/{ratio:.0f}）用自己的 {nf} 个标签做交叉熵训练达到 {few:.1%}；在 {nu:,} 张从未见过标签的"
          "迁移图像上以 T = {temp:g} 蒸馏达到 {kd:.1%}；用全部 {na:,} 个标签训练（参照）达到 {all:.1%}。")
        .format(ps=int(m["params_student"]), ratio=m["param_ratio"], few=m["acc_few_labels"], nf=cfg.num_few,
                kd=m["acc_distilled"], temp=cfg.temperature, nu=int(m["num_transfer"]), all=m["acc_all_labels"],
                na=int(m["num_labelled"] + m["num_transfer"])),
        _("With α = {alpha:g} the distilled student also had (1 − α)·CE on its {nf} labels.", "α = {alpha:g} 时，"
          "蒸馏的学生还在自己的 {nf} 个标签上加了 (1 − α)·CE。").format(alpha=cfg.alpha, nf=cfg.num_few) if cfg.alpha < 1 else None,
        _("Dark knowledge: on a typical test {d}, the teacher gave {d} a probability of {p1:.4f} at T = 1; at T = 4 it "
          "gave {p4:.2f}, and the runners-up {r1} ({q1:.3f}) and {r2} ({q2:.3f}) became visible.",
          "暗知识：对一张典型的测试图像 {d}，教师在 T = 1 时给 {d} 的概率为 {p1:.4f}；T = 4 时为 {p4:.2f}，"
          "排在后面的 {r1}（{q1:.3f}）和 {r2}（{q2:.3f}）显露出来。")
        .format(d=SHOWN_DIGIT, p1=m["teacher_top_t1"], p4=m["teacher_top_t4"], r1=runner, q1=probs[4.0][runner],
                r2=third, q2=probs[4.0][third]),
        _("On the transfer images, T² × nn.KLDivLoss(log p_s, p_t) gave {kd:.4f}, the same as the formula by hand "
          "(|Δ| = {diff:.2g}); log-probabilities as the target gave {nan}, probabilities as the input {wrong:.4f}.",
          "在迁移图像上，T² × nn.KLDivLoss(log p_s, p_t) 得到 {kd:.4f}，与手算公式相同（|Δ| = {diff:.2g}）；"
          "目标传入对数概率得到 {nan}，输入传入概率得到 {wrong:.4f}。")
        .format(kd=m["kd_loss"], diff=m["kd_vs_by_hand"], nan=number(m.get("wrong_log_probs_as_target", math.nan)),
                wrong=m["wrong_probs_as_input"]),
        _("From T = 2 to T = 16 the soft term's gradient changed by a factor of {s:.2f} with the T² factor and {u:.4f} "
          "without it (about (2/16)² = 1/64).",
          "从 T = 2 到 T = 16，软目标项的梯度在乘 T² 时变为原来的 {s:.2f} 倍，不乘时变为 {u:.4f} 倍（约 (2/16)² = 1/64）。")
        .format(s=m["grad_ratio_scaled"], u=m["grad_ratio_unscaled"]),
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Train the teacher on labels, distil the student on unlabelled images, compare with CE students."""
    split = data.digits(seed=cfg.seed)
    models, losses = train_all(cfg, split, report)
    report(Event("stage", 1.0, note=_("Measuring", "正在测量")))
    probs = dark_knowledge(models["teacher"], split)
    with torch.no_grad():  # logits (N_transfer, 10) on the transfer images
        s, s_few, t = (models[r](split.X_train[cfg.num_labelled:]) for r in ("distilled", "few_labels", "teacher"))
    grads = {k: [soft_gradient_norm(s_few, t, temp, k == "scaled") for temp in GRAD_TEMPERATURES]
             for k in ("scaled", "unscaled")}  # ‖∂L_soft/∂s‖ with and without T², s still unlike the teacher's
    metrics = scores(cfg, split, models, probs) | loss_checks(s, t, cfg.temperature)
    metrics |= {f"grad_ratio_{k}": g[-1] / g[1] for k, g in grads.items()}  # T = 16 against T = 2
    return Result(metrics, verdict(cfg, metrics, probs), charts(metrics, probs, grads, losses), tables(cfg, metrics))


def charts(m: Metrics, probs: dict[float, np.ndarray], grads: dict[str, list[float]],
           losses: dict[str, list[float]]) -> list[Chart]:
    """Accuracy per model, the teacher's probabilities at T = 1 and 4, gradient size vs T, training losses."""
    soft = {same("T = {t:g}").format(t=t): ([str(d) for d in range(10)], p.tolist()) for t, p in probs.items()}
    grad = {_("with T²", "乘 T²"): (GRAD_TEMPERATURES, grads["scaled"]),
            _("without T²", "不乘 T²"): (GRAD_TEMPERATURES, grads["unscaled"])}
    return [
        Chart(_("Test accuracy", "测试准确率"), lambda lang: plots.bars(
            {NAMES[r].get(lang): m[f"acc_{r}"] for r in RUNS}, plots.MODEL, plots.ACCURACY, lang)),
        Chart(_("Dark knowledge: the teacher's probabilities for a typical test {d}", "暗知识：教师对一张典型测试图像 {d} 的概率")
              .format(d=SHOWN_DIGIT),
              lambda lang: plots.lines_xy({k.get(lang): v for k, v in soft.items()}, _("digit", "数字"),
                                          _("probability (log)", "概率（对数）"), lang, log_y=True),
              caption=_("Dividing the logits by T keeps their order but lifts the wrong classes: which other digits "
                        "this image resembles.", "logits 除以 T 不改变排序，但抬高了错误类别：这张图像还像哪些数字。")),
        Chart(_("Gradient of the soft term vs temperature", "软目标项的梯度与温度"),
              lambda lang: plots.lines_xy({k.get(lang): v for k, v in grad.items()}, _("temperature T", "温度 T"),
                                          _("‖∂L/∂logits‖ (log)", "‖∂L/∂logits‖（对数）"), lang, log_y=True, log_x=True),
              caption=_("Without T² the soft term's gradient falls like 1/T²; with it, it stays about the same.",
                        "不乘 T² 时软目标项的梯度按 1/T² 下降；乘上之后基本不变。")),
        Chart(_("Training", "训练过程"),
              lambda lang: plots.curves({NAMES[r].get(lang): losses[r] for r in RUNS}, plots.STEP, plots.LOSS_LOG,
                                        lang, log_y=True),
              caption=_("The distilled student's loss is T²·KL to the teacher, the others' cross-entropy on labels.",
                        "蒸馏学生的损失是与教师之间的 T²·KL，其余是标签上的交叉熵。")),
    ]


def tables(cfg: Config, m: Metrics) -> list[Table]:
    """Models side by side; the right loss and the classic wrong calls on the same logits."""
    labels = {"teacher": cfg.num_labelled, "few_labels": cfg.num_few, "distilled": 0 if cfg.alpha == 1 else cfg.num_few,
              "all_labels": int(m["num_labelled"] + m["num_transfer"])}
    who = {r: "teacher" if r == "teacher" else "student" for r in RUNS}
    rows = [{"model": NAMES[r], "params": int(m[f"params_{who[r]}"]), "kib": round(m[f"bytes_{who[r]}"] / 1024, 1),
             "labels": labels[r], "acc": round(m[f"acc_{r}"], 3)} for r in RUNS]
    values = {"right": m["kd_loss"], "by_hand": m["kd_by_hand"],
              **{k: m.get(f"wrong_{k}", math.nan) for k in list(MISTAKES)[2:]}}
    return [
        Table(_("Teacher and students", "教师与学生"),
              {"model": plots.MODEL, "params": plots.PARAMETERS, "kib": _("checkpoint, KiB", "检查点，KiB"),
               "labels": _("labels used", "所用标签数"), "acc": _("test accuracy", "测试准确率")}, rows),
        Table(_("The soft loss on the transfer set, T = {t:g}: right and wrong calls", "迁移集上的软损失，T = {t:g}：正确与错误写法")
              .format(t=cfg.temperature),
              {"call": _("call", "写法"), "value": _("T² × value", "T² × 数值")},
              [{"call": MISTAKES[k], "value": number(v)} for k, v in values.items()]),
    ]


DEMO = Demo(
    id="distillation",
    title=_("Knowledge distillation: a teacher, a 16× smaller student, no labels", "知识蒸馏：教师、小 16 倍的学生、不用标签"),
    summary=_("A 64-256-10 teacher trained on labelled digits teaches a 64-16-10 student on a separate unlabelled "
              "transfer set at temperature T; compared with the student on its few labels and on all labels.",
              "在有标签数字上训练的 64-256-10 教师，以温度 T 在另一份无标签迁移集上教 64-16-10 学生；并与只用少量标签、用全部标签训练的学生比较。"),
    category="compression",
    config=Config,
    run=run,
    smoke=dict(num_labelled=200, num_few=20, steps=50),
    key_metric="acc_distilled",
    key_label=_("distilled student's test accuracy", "蒸馏学生的测试准确率"),
    claim=CLAIM,
)
