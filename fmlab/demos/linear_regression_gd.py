"""Fitting a line y = w·x + b: the closed form, then batch, mini-batch and stochastic gradient descent.

Least squares has a closed form: the normal equations AᵀA·θ = Aᵀy with A = [x, 1]. Gradient
descent reaches the same point because the MSE is a convex quadratic, and its speed depends on
the condition number κ of the Hessian 2AᵀA/n. A raw feature far from zero (mean 5) ties slope and
intercept together in a long, narrow valley (κ in the hundreds), where batch GD crawls; the
standardised feature gives round contours (κ = 1) and batch GD lands in one step of size 1/L.
One example per step (SGD) is cheap but noisy: at a constant step it keeps jittering around the
optimum; a decaying step lets it settle.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import plots
from ..demo import Chart, Demo, Event, Report, Result, Table, part, silent
from ..fit import fit
from ..params import DemoConfig, param
from ..text import T, _

TRUE_SLOPE, TRUE_INTERCEPT = 1.5, -3.0
VARIANTS = ("batch_raw", "batch", "minibatch", "sgd", "sgd_decay")
VARIANT_NAMES = {"batch_raw": _("batch GD, raw x", "批量 GD，原始 x"), "batch": _("batch GD", "批量 GD"),
                 "minibatch": _("mini-batch GD", "小批量 GD"), "sgd": _("SGD, constant step", "SGD，恒定步长"),
                 "sgd_decay": _("SGD, 1/t step", "SGD，1/t 衰减步长")}
AXES = (_("slope w", "斜率 w"), _("intercept b", "截距 b"))


@dataclass(frozen=True)
class Config(DemoConfig):
    num: int = param(100, low=20, high=2000, label=_("Examples", "样本数"),
                     help=_("Points (x, y) in the data set", "数据集中 (x, y) 点的个数"))
    x_mean: float = param(5.0, low=0.0, high=20.0, label=_("Raw feature mean", "原始特征均值"),
                          help=_("How far the raw x sits from 0; larger means a narrower valley",
                                 "原始 x 离 0 有多远；越大，损失曲面的山谷越窄"))
    noise: float = param(1.0, low=0.0, high=5.0, label=_("Noise std", "噪声标准差"),
                         help=_("Std of the noise added to y = 1.5x − 3", "加在 y = 1.5x − 3 上的噪声的标准差"))
    step: float = param(1.0, low=0.1, high=2.5, label=_("Batch GD step × 1/L", "批量 GD 步长（× 1/L）"),
                        help=_("Batch GD's step in units of 1/L (L: largest Hessian eigenvalue); above 2 it diverges",
                               "批量 GD 的步长，以 1/L 为单位（L 为 Hessian 最大特征值）；超过 2 就会发散"))
    lr: float = param(0.05, low=1e-3, high=0.5, log=True, label=_("Mini-batch / SGD step", "小批量 / SGD 步长"),
                      help=_("Constant step of mini-batch GD and SGD, and the starting step of the decayed SGD",
                             "小批量 GD 与 SGD 的恒定步长，也是衰减 SGD 的初始步长"))
    batch_size: int = param(16, choices=(4, 8, 16, 32, 64), label=_("Mini-batch size", "小批量大小"),
                            help=_("Examples per step of mini-batch GD", "小批量 GD 每步使用的样本数"))
    epochs: int = param(10, low=1, high=50, label=_("Passes", "遍历次数"),
                        help=_("Passes over the data for every variant", "每种方法遍历数据的次数"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same data and order", "相同种子，相同的数据与顺序"))


def make_data(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """x (N,) around x_mean with std 1, y (N,) = 1.5x − 3 + noise."""
    rng = np.random.default_rng(cfg.seed)
    x = cfg.x_mean + rng.standard_normal(cfg.num)
    return x, TRUE_SLOPE * x + TRUE_INTERCEPT + cfg.noise * rng.standard_normal(cfg.num)


def design(x: np.ndarray) -> np.ndarray:
    """A = [x, 1] (N, 2): the column of ones carries the intercept."""
    return np.c_[x, np.ones_like(x)]


def closed_form(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(slope, intercept) from the normal equations AᵀA θ = Aᵀy, solved without forming an inverse."""
    A = design(x)
    return np.linalg.solve(A.T @ A, A.T @ y)


def hessian(x: np.ndarray) -> np.ndarray:
    """Hessian of the MSE mean((A θ − y)²) with respect to θ: 2AᵀA / n, the same everywhere."""
    A = design(x)
    return 2 * A.T @ A / len(x)


def mse(x: np.ndarray, y: np.ndarray, thetas: np.ndarray) -> np.ndarray:
    """Full-data MSE at each (slope, intercept) row of thetas (S, 2) -> (S,)."""
    return ((x[None, :] * thetas[:, :1] + thetas[:, 1:] - y[None, :]) ** 2).mean(axis=1)


def recording(report: Report, model: nn.Linear, path: list[tuple[float, float]]) -> Report:
    """A report that also appends (slope, intercept) after every optimizer step."""

    def hook(event: Event) -> None:
        if event.kind == "step":
            path.append((model.weight.item(), model.bias.item()))
        report(event)

    return hook


def descend(x: np.ndarray, y: np.ndarray, batch_size: int, lr: float, decay: bool, cfg: Config,
            report: Report) -> np.ndarray:
    """Run (mini-batch) gradient descent on the MSE from (0, 0); returns the path (steps + 1, 2)."""
    model = nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.zero_()
        model.bias.zero_()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    steps_per_epoch = -(-len(x) // batch_size)
    # 1/t decay: the step halves after one pass, is a third after two, ...
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1 / (1 + t / steps_per_epoch)) if decay else None
    path = [(0.0, 0.0)]
    X = torch.tensor(x, dtype=torch.float32)[:, None]  # (N, 1)
    Y = torch.tensor(y, dtype=torch.float32)[:, None]  # (N, 1)
    fit(model, opt, (X, Y), epochs=cfg.epochs, batch_size=batch_size, loss_fn=F.mse_loss, seed=cfg.seed,
        report=recording(report, model, path), scheduler=scheduler)
    return np.array(path)


def condition(H: np.ndarray) -> float:
    """κ = largest / smallest eigenvalue."""
    eig = np.linalg.eigvalsh(H)
    return float(eig.max() / eig.min())


def surface(x: np.ndarray, y: np.ndarray, theta: np.ndarray, paths: list[np.ndarray]) -> tuple:
    """A grid around the start (0, 0), the optimum and the paths, and the excess MSE on it (Y, X)."""
    pts = np.vstack([np.zeros((1, 2)), theta[None], *paths])
    lo, hi = pts.min(0), pts.max(0)
    pad = 0.15 * (hi - lo).max() + 0.2
    xs = np.linspace(lo[0] - pad, hi[0] + pad, 90)
    ys = np.linspace(lo[1] - pad, hi[1] + pad, 90)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)  # (Y·X, 2)
    zs = (mse(x, y, grid) - mse(x, y, theta[None])[0]).reshape(len(ys), len(xs))
    return xs, ys, zs


def jitter(path: np.ndarray, theta: np.ndarray, last: int) -> float:
    """RMS distance from the optimum over the last `last` iterates: how much a run still moves around it."""
    return float(np.sqrt(((path[-last:] - theta) ** 2).sum(axis=1).mean()))


def verdict(cfg: Config, m: dict[str, float]) -> T:
    en = [f"Closed form: slope {m['slope_closed']:.3f}, intercept {m['intercept_closed']:.3f} "
          f"(true line 1.5, −3), MSE {m['mse_closed']:.3f}."]
    zh = [f"闭式解：斜率 {m['slope_closed']:.3f}，截距 {m['intercept_closed']:.3f}（真实直线为 1.5、−3），"
          f"MSE {m['mse_closed']:.3f}。"]
    en.append(f"After {cfg.epochs} passes of batch GD at step {cfg.step:g}/L, the raw feature "
              f"(κ = {m['kappa_raw']:.0f}) "
              f"is still {m['excess_batch_raw']:.2g} above that MSE; the standardised one (κ = {m['kappa_std']:.0f}) "
              f"{m['excess_batch']:.2g} above.")
    zh.append(f"批量 GD 以 {cfg.step:g}/L 的步长遍历 {cfg.epochs} 次后，原始特征（κ = {m['kappa_raw']:.0f}）的 MSE 仍比闭式解高 "
              f"{m['excess_batch_raw']:.2g}；标准化特征（κ = {m['kappa_std']:.0f}）只高 {m['excess_batch']:.2g}。")
    en.append(f"On standardised x ({cfg.num} updates per pass, step {cfg.lr:g}), constant-step SGD spent its last pass "
              f"{m['excess_sgd']:.2g} above the optimal MSE on average, at an RMS distance of {m['jitter_sgd']:.3f} "
              f"from the optimum; mini-batches of {cfg.batch_size}: {m['excess_minibatch']:.2g} and "
              f"{m['jitter_minibatch']:.3f}; SGD with a 1/t step: {m['excess_sgd_decay']:.2g} and "
              f"{m['jitter_sgd_decay']:.3f}.")
    zh.append(f"在标准化的 x 上（每遍更新 {cfg.num} 次，步长 {cfg.lr:g}），恒定步长的 SGD 在最后一遍中平均比最优 MSE 高 "
              f"{m['excess_sgd']:.2g}，与最优点的均方根距离为 {m['jitter_sgd']:.3f}；批量为 {cfg.batch_size} 的小批量 GD："
              f"{m['excess_minibatch']:.2g} 和 {m['jitter_minibatch']:.3f}；1/t 衰减步长的 SGD：{m['excess_sgd_decay']:.2g} 和 "
              f"{m['jitter_sgd_decay']:.3f}。")
    if not m["jitter_sgd"] > 2 * m["jitter_sgd_decay"]:
        en.append("Here the constant step was small enough that its noise barely showed: raise the step to see it.")
        zh.append("本次恒定步长够小，噪声不明显：调大步长就能看到。")
    elif m["excess_batch_raw"] > 10 * max(m["excess_batch"], 1e-12):
        en.append("Scaling the feature, not a cleverer optimizer, made batch GD fast; the noise of single-example "
                  "steps only settles when the step decays.")
        zh.append("让批量 GD 变快的是特征缩放，而不是更聪明的优化器；单样本更新的噪声只有在步长衰减后才会平息。")
    return T(" ".join(en), "".join(zh))


def run(cfg: Config, report: Report = silent) -> Result:
    """Solve in closed form, then run every GD variant for the same number of passes."""
    x, y = make_data(cfg)
    mean, std = x.mean(), x.std()
    z = (x - mean) / std  # the standardised feature
    theta_raw, theta_std = closed_form(x, y), closed_form(z, y)
    H_raw, H_std = hessian(x), hessian(z)
    L_raw, L_std = np.linalg.eigvalsh(H_raw).max(), np.linalg.eigvalsh(H_std).max()
    settings = {  # variant: (feature, batch size, step, decayed?)
        "batch_raw": (x, cfg.num, cfg.step / L_raw, False),
        "batch": (z, cfg.num, cfg.step / L_std, False),
        "minibatch": (z, cfg.batch_size, cfg.lr, False),
        "sgd": (z, 1, cfg.lr, False),
        "sgd_decay": (z, 1, cfg.lr, True),
    }
    paths = {v: descend(f, y, b, lr, d, cfg, part(report, VARIANT_NAMES[v].en, i, len(VARIANTS)))
             for i, (v, (f, b, lr, d)) in enumerate(settings.items())}

    best = float(mse(x, y, theta_raw[None])[0])
    excess = {v: mse(settings[v][0], y, p) - best for v, p in paths.items()}  # per step, (steps + 1,)
    metrics = {"slope_closed": float(theta_raw[0]), "intercept_closed": float(theta_raw[1]), "mse_closed": best,
               "kappa_raw": condition(H_raw), "kappa_std": condition(H_std)}
    for v, p in paths.items():
        theta = theta_raw if v == "batch_raw" else theta_std
        updates_per_pass = -(-cfg.num // settings[v][1])
        metrics[f"excess_{v}"] = max(float(excess[v][-updates_per_pass:].mean()), 0.0)  # over the last pass
        metrics[f"jitter_{v}"] = jitter(p, theta, last=updates_per_pass)
    slope_gd = paths["batch"][-1, 0] / std  # back to the raw feature's units
    metrics["slope_batch"] = float(slope_gd)
    metrics["intercept_batch"] = float(paths["batch"][-1, 1] - slope_gd * mean)

    passes = {v: np.arange(len(p)) / -(-cfg.num // settings[v][1]) for v, p in paths.items()}
    thin = {v: p[:: max(1, len(p) // 300)] for v, p in paths.items()}  # at most ~300 points per path on a plot
    raw_grid = surface(x, y, theta_raw, [paths["batch_raw"]])
    std_grid = surface(z, y, theta_std, [thin[v] for v in VARIANTS[1:]])
    floor = 1e-12  # log axes need positive values; an exact hit is drawn at the floor
    charts = [
        Chart(_("Raw x: batch GD in a narrow valley", "原始 x：批量 GD 在狭长山谷中"),
              lambda lang: plots.contour_paths(*raw_grid, {VARIANT_NAMES["batch_raw"].get(lang): paths["batch_raw"]},
                                               tuple(theta_raw), lang, axes=AXES),
              caption=_("Contours of the MSE above its minimum (log-spaced); the star is the closed form. Slope and "
                        "intercept trade off along the valley, so progress along it is slow.",
                        "等高线为高出最小值的 MSE（按对数间隔），星号为闭式解。斜率和截距沿山谷此消彼长，沿谷底前进非常缓慢。")),
        Chart(_("Standardised x: batch, mini-batch and stochastic GD", "标准化 x：批量、小批量与随机梯度下降"),
              lambda lang: plots.contour_paths(*std_grid, {VARIANT_NAMES[v].get(lang): thin[v] for v in VARIANTS[1:]},
                                               tuple(theta_std), lang, axes=AXES),
              caption=_("Round contours: batch GD at step 1/L jumps straight to the star; SGD wanders around it.",
                        "等高线是圆形的：步长 1/L 的批量 GD 一步直达星号；SGD 在其周围游走。")),
        Chart(_("MSE above the closed form, per pass over the data", "高出闭式解的 MSE（按遍历次数）"),
              lambda lang: plots.lines_xy({VARIANT_NAMES[v].get(lang): (passes[v], np.maximum(excess[v], floor))
                                           for v in VARIANTS}, _("passes over the data", "遍历数据的次数"),
                                          _("MSE − closed-form MSE (log)", "MSE − 闭式解 MSE（对数）"), lang, log_y=True),
              caption=_("Nothing gets below the closed form: it is the minimum.", "没有任何方法能低于闭式解：它就是最小值。")),
    ]
    table = Table(_("Variants", "各方法"),
                  {"variant": _("method", "方法"), "batch": _("examples per step", "每步样本数"),
                   "updates": _("updates", "更新次数"), "lr": _("step", "步长"),
                   "excess": _("final MSE − closed form", "最终 MSE − 闭式解"),
                   "jitter": _("RMS distance to optimum, last pass", "最后一遍到最优点的均方根距离")},
                  [{"variant": VARIANT_NAMES[v].en, "batch": settings[v][1], "updates": len(paths[v]) - 1,
                    "lr": float(f"{settings[v][2]:.3g}"), "excess": float(f"{metrics[f'excess_{v}']:.3g}"),
                    "jitter": float(f"{metrics[f'jitter_{v}']:.3g}")} for v in VARIANTS])
    history = {VARIANT_NAMES[v].en: {"excess_mse": list(map(float, excess[v]))} for v in VARIANTS}
    return Result(metrics, verdict(cfg, metrics), history, charts, [table])


DEMO = Demo(
    id="linear-regression-gd",
    title=_("Linear regression: closed form vs gradient descent", "线性回归：闭式解与梯度下降"),
    summary=_("Closed form vs batch, mini-batch and stochastic gradient descent on a line fit; their paths on the "
              "loss contours, raw vs standardised feature.",
              "在直线拟合上对比闭式解与批量、小批量、随机梯度下降；在损失等高线上画出各自路径，并对比原始与标准化特征。"),
    category="optimization",
    config=Config,
    run=run,
    smoke=dict(num=40, epochs=2),
    key_metric="excess_sgd_decay",
    key_label=_("decayed SGD's MSE above the closed form", "衰减步长 SGD 高出闭式解的 MSE"),
)
