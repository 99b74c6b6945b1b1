"""Choosing a loss: MSE, L1 and Huber on a line with outliers, and classification losses vs the margin.

The same linear model is fitted three times; only the loss changes. MSE squares residuals,
so a few gross outliers (10% of points shifted up by 8) dominate its gradient and drag the
line; L1's gradient is bounded (±1 per point) and Huber is quadratic near zero and linear
beyond δ, so both stay near the true line y = 2x + 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import plots
from ..demo import Chart, Demo, Report, Result, Table, part, silent
from ..fit import fit
from ..params import DemoConfig, param
from ..text import T, _

TRUE_SLOPE, TRUE_INTERCEPT = 2.0, 1.0
LOSSES = ("mse", "l1", "huber")
LOSS_NAMES = {"mse": _("MSE", "MSE（均方误差）"), "l1": _("L1 (MAE)", "L1（平均绝对误差）"), "huber": _("Huber", "Huber")}


@dataclass(frozen=True)
class Config(DemoConfig):
    outlier_fraction: float = param(0.1, low=0.0, high=0.4, label=_("Outlier share", "离群点比例"),
                                    help=_("Share of points shifted far above the line", "被移到直线上方很远处的点所占比例"))
    outlier_shift: float = param(8.0, low=0.0, high=20.0, label=_("Outlier shift", "离群点偏移"),
                                 help=_("How far up the outliers are moved", "离群点向上平移的距离"))
    delta: float = param(1.0, low=0.1, high=5.0, log=True, label=_("Huber δ", "Huber δ"),
                         help=_("Residual size where Huber turns from quadratic to linear",
                                "Huber 损失由二次变为线性的残差阈值"))
    steps: int = param(400, low=50, high=2000, label=_("Steps", "迭代步数"),
                       help=_("Full-batch Adam steps per loss", "每种损失的全批量 Adam 迭代步数"))
    lr: float = param(0.05, low=1e-3, high=0.5, log=True, label=_("Learning rate (Adam)", "学习率（Adam）"),
                      help=_("Adam's step size", "Adam 的步长"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run", "相同种子，相同结果"))


def line_with_outliers(cfg: Config, num: int = 200) -> tuple[Tensor, Tensor, Tensor]:
    """x (N, 1) in [-2, 2], y (N, 1) = 2x + 1 + noise, with a share of y shifted up; and the outlier mask (N,)."""
    rng = np.random.default_rng(cfg.seed)
    x = rng.uniform(-2, 2, (num, 1))
    y = TRUE_SLOPE * x + TRUE_INTERCEPT + rng.normal(0, 0.3, (num, 1))
    outlier = rng.random(num) < cfg.outlier_fraction
    y[outlier] += cfg.outlier_shift
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32), torch.from_numpy(outlier)


def loss_fn(name: str, delta: float):
    """The regression loss `name` as (prediction, target) -> mean loss."""
    if name == "mse":
        return F.mse_loss
    if name == "l1":
        return F.l1_loss
    return lambda pred, target: F.huber_loss(pred, target, delta=delta)


def fit_line(name: str, cfg: Config, x: Tensor, y: Tensor, report: Report) -> tuple[float, float, list[float]]:
    """Fit y = a x + b under one loss; returns slope, intercept and the loss history."""
    model = nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    result = fit(model, opt, (x, y), epochs=cfg.steps, batch_size=len(x), loss_fn=loss_fn(name, cfg.delta),
                 seed=cfg.seed, report=report)
    return model.weight.item(), model.bias.item(), result.history["loss"]


def residual_curves(delta: float) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each loss and its gradient as functions of the residual r = prediction - target."""
    r = np.linspace(-4, 4, 161)
    huber = np.where(np.abs(r) <= delta, 0.5 * r ** 2, delta * (np.abs(r) - 0.5 * delta))
    values = {"mse": r ** 2, "l1": np.abs(r), "huber": huber}
    grads = {"mse": 2 * r, "l1": np.sign(r), "huber": np.clip(r, -delta, delta)}
    return r, values, grads


def margin_curves() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Classification losses against the margin m = y·f(x) (y in {-1, +1})."""
    m = np.linspace(-2, 3, 201)
    return m, {"0-1": (m <= 0).astype(float), "hinge": np.maximum(0, 1 - m),
               "logistic / ln 2": np.log1p(np.exp(-m)) / math.log(2), "squared": (1 - m) ** 2}


def verdict(cfg: Config, fits: dict[str, tuple[float, float, list[float]]], errors: dict[str, float]) -> T:
    worst = max(errors, key=errors.get)
    robust = min(errors["l1"], errors["huber"])
    parts_en = ", ".join(f"{LOSS_NAMES[n].en} slope {a:.2f} intercept {b:.2f}" for n, (a, b, _h) in fits.items())
    parts_zh = "，".join(f"{LOSS_NAMES[n].zh} 斜率 {a:.2f}、截距 {b:.2f}" for n, (a, b, _h) in fits.items())
    if cfg.outlier_fraction > 0 and cfg.outlier_shift > 0 and errors["mse"] > 2 * robust:
        end_en = (f"MSE was pulled {errors['mse']:.2f} away from the true line (mean distance over x in [-2, 2]); "
                  f"the bounded gradients of L1 and Huber kept them within {robust:.2f}.")
        end_zh = (f"MSE 被离群点拉离真实直线 {errors['mse']:.2f}（x∈[-2, 2] 上的平均距离）；"
                  f"L1 和 Huber 的梯度有界，偏离不超过 {robust:.2f}。")
    else:
        end_en = f"Without strong outliers the three fits agree; the largest deviation was {LOSS_NAMES[worst].en}'s."
        end_zh = f"没有明显离群点时三种拟合结果接近；偏离最大的是 {LOSS_NAMES[worst].zh}。"
    return _(f"True line: slope {TRUE_SLOPE:.0f}, intercept {TRUE_INTERCEPT:.0f}. Fits: {parts_en}. {end_en}",
             f"真实直线：斜率 {TRUE_SLOPE:.0f}，截距 {TRUE_INTERCEPT:.0f}。拟合结果：{parts_zh}。{end_zh}")


def line_error(slope: float, intercept: float) -> float:
    """Mean |fitted - true| over x uniform in [-2, 2] (exact for two lines)."""
    xs = np.linspace(-2, 2, 401)
    return float(np.mean(np.abs((slope - TRUE_SLOPE) * xs + intercept - TRUE_INTERCEPT)))


def run(cfg: Config, report: Report = silent) -> Result:
    x, y, outlier = line_with_outliers(cfg)
    fits = {n: fit_line(n, cfg, x, y, part(report, LOSS_NAMES[n].en, i, len(LOSSES))) for i, n in enumerate(LOSSES)}
    errors = {n: line_error(a, b) for n, (a, b, _h) in fits.items()}
    metrics = {f"slope_{n}": a for n, (a, _b, _h) in fits.items()}
    metrics |= {f"intercept_{n}": b for n, (_a, b, _h) in fits.items()}
    metrics |= {f"line_error_{n}": e for n, e in errors.items()}

    xs = np.array([-2.0, 2.0])
    r, values, grads = residual_curves(cfg.delta)
    m, margins = margin_curves()
    points = x[:, 0].numpy(), y[:, 0].numpy(), outlier.numpy()
    charts = [
        Chart(_("Fitted lines (red: outliers)", "拟合直线（红色：离群点）"),
              lambda lang: plots.scatter_lines(*points, {LOSS_NAMES[n].get(lang): (xs, a * xs + b)
                                                         for n, (a, b, _h) in fits.items()}, lang)),
        Chart(_("Gradient of each loss vs the residual", "各损失对残差的梯度"),
              lambda lang: plots.lines_xy({LOSS_NAMES[n].get(lang): (r, g) for n, g in grads.items()},
                                          _("residual (prediction − target)", "残差（预测 − 目标）"),
                                          _("∂loss/∂prediction", "∂损失/∂预测"), lang),
              caption=_("MSE's gradient grows with the residual, so one far outlier outweighs many good points.",
                        "MSE 的梯度随残差线性增长，一个远处的离群点就能压过许多正常点。")),
        Chart(_("Classification losses vs the margin y·f(x)", "分类损失与间隔 y·f(x) 的关系"),
              lambda lang: plots.lines_xy({k: (m, v) for k, v in margins.items()}, _("margin y·f(x)", "间隔 y·f(x)"),
                                          _("loss", "损失"), lang),
              caption=_("Hinge is exactly 0 beyond margin 1; logistic keeps shrinking; both upper-bound 0-1. "
                        "Squared loss rises again for confident correct answers (m > 1).",
                        "hinge 在间隔大于 1 后恰为 0；logistic 持续减小；两者都是 0-1 损失的上界。"
                        "平方损失对“自信且正确”的预测（m > 1）反而又开始惩罚。")),
        Chart(_("Loss during fitting", "拟合过程中的损失"),
              lambda lang: plots.curves({LOSS_NAMES[n].get(lang): h for n, (_a, _b, h) in fits.items()},
                                        _("step", "步数"), _("loss (log)", "损失（对数）"), lang, log_y=True)),
    ]
    table = Table(_("Fits", "拟合结果"),
                  {"loss": _("loss", "损失"), "slope": _("slope", "斜率"), "intercept": _("intercept", "截距"),
                   "error": _("mean distance to the true line", "与真实直线的平均距离")},
                  [{"loss": LOSS_NAMES[n].en, "slope": round(a, 3), "intercept": round(b, 3),
                    "error": round(errors[n], 3)} for n, (a, b, _h) in fits.items()])
    history = {LOSS_NAMES[n].en: {"loss": h} for n, (_a, _b, h) in fits.items()}
    return Result(metrics, verdict(cfg, fits, errors), history, charts, [table])


DEMO = Demo(
    id="loss-shapes",
    title=_("Loss shapes and outliers", "损失函数的形状与离群点"),
    summary=_("MSE vs L1 vs Huber on a line with outliers, their gradients, and hinge/logistic/squared vs the margin.",
              "在含离群点的直线上比较 MSE、L1 与 Huber，展示它们的梯度，以及 hinge/logistic/平方损失与间隔的关系。"),
    category="losses",
    config=Config,
    run=run,
    smoke=dict(steps=50),
    key_metric="line_error_huber",
    key_label=_("Huber fit's distance to the true line", "Huber 拟合与真实直线的距离"),
)
