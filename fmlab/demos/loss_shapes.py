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
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..fit import fit
from ..params import DemoConfig, lr_param, param, seed_param
from ..text import T, _, join, sentences

TRUE_SLOPE, TRUE_INTERCEPT = 2.0, 1.0
LOSSES = ("mse", "l1", "huber")
LOSS_NAMES = {"mse": _("MSE", "MSE（均方误差）"), "l1": _("L1 (MAE)", "L1（平均绝对误差）"), "huber": _("Huber", "Huber")}
Line = tuple[float, float, list[float]]  # slope, intercept, loss per step


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
    lr: float = lr_param(0.05, low=1e-3, high=0.5, help=_("Adam's step size", "Adam 的步长"))
    seed: int = seed_param()


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


def fit_line(name: str, cfg: Config, x: Tensor, y: Tensor, report: Report) -> Line:
    """Fit y = a x + b under one loss, from a = b = 0; returns slope, intercept and the loss history."""
    model = nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    result = fit(model, opt, (x, y), epochs=cfg.steps, batch_size=len(x), loss_fn=loss_fn(name, cfg.delta),
                 seed=cfg.seed, report=report)
    return model.weight.item(), model.bias.item(), result.history["loss"]


def line_error(slope: float, intercept: float) -> float:
    """Mean |fitted - true| over x uniform in [-2, 2] (exact for two lines)."""
    xs = np.linspace(-2, 2, 401)
    return float(np.mean(np.abs((slope - TRUE_SLOPE) * xs + intercept - TRUE_INTERCEPT)))


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


def lesson(m: Metrics) -> bool | None:
    """With gross outliers, MSE's line ends over 4x farther from the true line than both L1's and Huber's."""
    if m["outlier_share"] == 0 or m["outlier_shift"] < 3:  # gross: 10x the noise (σ = 0.3) or more
        return None
    return m["line_error_mse"] > 4 * max(m["line_error_l1"], m["line_error_huber"])


CLAIM = Claim(
    _("a few gross outliers drag the MSE line over 4× farther from the true line than the L1 and Huber lines",
      "少量严重离群点把 MSE 拟合的直线拉离真实直线，偏离超过 L1 和 Huber 直线的 4 倍"),
    lesson,
    fragile=_("A Huber δ near the outlier shift makes Huber as sensitive as MSE, and with too few steps the L1 and "
              "Huber lines have not yet reached the true line.",
              "Huber δ 接近离群点偏移量时，Huber 与 MSE 一样敏感；迭代步数太少时，L1 与 Huber 直线还没走到真实直线附近。"),
)


def verdict(fits: dict[str, Line], m: Metrics, num: int) -> T:
    """How many of the `num` points are outliers, the true line, each fit, and how far each landed from the truth."""
    each = join((_("{name} slope {a:.2f}, intercept {b:.2f}", "{name} 斜率 {a:.2f}、截距 {b:.2f}")
                 .format(name=LOSS_NAMES[n], a=a, b=b) for n, (a, b, _h) in fits.items()), T("; ", "；"))
    errors = {n: m[f"line_error_{n}"] for n in fits}
    worst, robust = max(errors, key=errors.get), min(errors["l1"], errors["huber"])
    return sentences(
        _("{count} of {num} points ({share:.1%}) were shifted up by {shift:g}.",
          "{num} 个点中有 {count} 个（{share:.1%}）被上移了 {shift:g}。")
        .format(count=round(m["outlier_share"] * num), num=num, share=m["outlier_share"], shift=m["outlier_shift"])
        if m["outlier_share"] > 0 else None,
        _("True line: slope {a:.0f}, intercept {b:.0f}. Fits: {each}.", "真实直线：斜率 {a:.0f}，截距 {b:.0f}。拟合结果：{each}。")
        .format(a=TRUE_SLOPE, b=TRUE_INTERCEPT, each=each),
        _("MSE was pulled {mse:.2f} away from the true line (mean distance over x in [-2, 2]); the bounded gradients "
          "of L1 and Huber kept them within {robust:.2f}.",
          "MSE 被离群点拉离真实直线 {mse:.2f}（x∈[-2, 2] 上的平均距离）；L1 和 Huber 的梯度有界，偏离不超过 {robust:.2f}。")
        .format(mse=errors["mse"], robust=robust) if m["outlier_share"] > 0 and errors["mse"] > 2 * robust else
        _("The three fits ended close together; {worst} was farthest from the true line ({err:.2f} on average over "
          "x in [-2, 2]).",
          "三种拟合结果接近；{worst} 离真实直线最远（x∈[-2, 2] 上平均 {err:.2f}）。")
        .format(worst=LOSS_NAMES[worst], err=errors[worst]),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Fit one line per loss to the same outlier-laden points; compare the fits with the true line."""
    x, y, outlier = line_with_outliers(cfg)
    fits = {n: fit_line(n, cfg, x, y, part(report, LOSS_NAMES[n], i, len(LOSSES))) for i, n in enumerate(LOSSES)}
    metrics = {f"slope_{n}": a for n, (a, _b, _h) in fits.items()}
    metrics |= {f"intercept_{n}": b for n, (_a, b, _h) in fits.items()}
    metrics |= {f"line_error_{n}": line_error(a, b) for n, (a, b, _h) in fits.items()}
    metrics |= {"outlier_share": outlier.float().mean().item(), "outlier_shift": cfg.outlier_shift}
    told = sentences(verdict(fits, metrics, len(x)), CLAIM.verdict(metrics))
    return Result(metrics, told, charts(cfg, fits, (x[:, 0].numpy(), y[:, 0].numpy(), outlier.numpy())),
                  [summary(fits, metrics)])


def charts(cfg: Config, fits: dict[str, Line], points: tuple[np.ndarray, np.ndarray, np.ndarray]) -> list[Chart]:
    """The fitted lines over the points, each loss's gradient, classification losses vs margin, loss curves."""
    xs = np.array([-2.0, 2.0])
    r, _values, grads = residual_curves(cfg.delta)
    m, margins = margin_curves()
    return [
        Chart(_("Fitted lines (red: outliers)", "拟合直线（红色：离群点）"),
              lambda lang: plots.scatter_lines(*points, {LOSS_NAMES[n].get(lang): (xs, a * xs + b)
                                                         for n, (a, b, _h) in fits.items()}, lang)),
        Chart(_("Gradient of each loss vs the residual (Huber δ = {delta:g})", "各损失对残差的梯度（Huber δ = {delta:g}）")
              .format(delta=cfg.delta),
              lambda lang: plots.lines_xy({LOSS_NAMES[n].get(lang): (r, g) for n, g in grads.items()},
                                          _("residual (prediction − target)", "残差（预测 − 目标）"),
                                          _("∂loss/∂prediction", "∂损失/∂预测"), lang),
              caption=_("MSE's gradient grows with the residual, so one far outlier outweighs many good points.",
                        "MSE 的梯度随残差线性增长，一个远处的离群点就能压过许多正常点。")),
        Chart(_("Classification losses vs the margin y·f(x)", "分类损失与间隔 y·f(x) 的关系"),
              lambda lang: plots.lines_xy({k: (m, v) for k, v in margins.items()}, _("margin y·f(x)", "间隔 y·f(x)"),
                                          plots.LOSS, lang),
              caption=_("Hinge is exactly 0 beyond margin 1; logistic keeps shrinking; both upper-bound 0-1. "
                        "Squared loss rises again for confident correct answers (m > 1).",
                        "hinge 在间隔大于 1 后恰为 0；logistic 持续减小；两者都是 0-1 损失的上界。"
                        "平方损失对“自信且正确”的预测（m > 1）反而又开始惩罚。")),
        Chart(_("Loss during fitting", "拟合过程中的损失"),
              lambda lang: plots.curves({LOSS_NAMES[n].get(lang): h for n, (_a, _b, h) in fits.items()},
                                        plots.STEP, plots.LOSS_LOG, lang, log_y=True)),
    ]


def summary(fits: dict[str, Line], m: Metrics) -> Table:
    """One row per loss: slope, intercept and mean distance to the true line."""
    return Table(_("Fits", "拟合结果"),
                 {"loss": _("loss function", "损失函数"), "slope": _("slope", "斜率"), "intercept": _("intercept", "截距"),
                  "error": _("mean distance to the true line", "与真实直线的平均距离")},
                 [{"loss": LOSS_NAMES[n], "slope": round(a, 3), "intercept": round(b, 3),
                   "error": round(m[f"line_error_{n}"], 3)} for n, (a, b, _h) in fits.items()])


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
    claim=CLAIM,
)
