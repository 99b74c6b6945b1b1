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

from .. import plots
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..least_squares import closed_form, condition, descend, hessian, mse
from ..params import DemoConfig, epochs_param, param, seed_param
from ..text import T, _, join, sentences

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
    epochs: int = epochs_param(10, high=50, label=_("Passes", "遍历次数"),
                               help=_("Passes over the data for every variant", "每种方法遍历数据的次数"))
    seed: int = seed_param(_("Same seed, same data and order", "相同种子，相同的数据与顺序"))


def make_data(cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    """x (N,) around x_mean with std 1, y (N,) = 1.5x − 3 + noise."""
    rng = np.random.default_rng(cfg.seed)
    x = cfg.x_mean + rng.standard_normal(cfg.num)
    return x, TRUE_SLOPE * x + TRUE_INTERCEPT + cfg.noise * rng.standard_normal(cfg.num)


@dataclass(frozen=True)
class Problem:
    """The data, its standardised feature z = (x − mean) / std, and the closed-form optimum (2,) on each."""

    x: np.ndarray  # (N,)
    y: np.ndarray  # (N,)
    z: np.ndarray  # (N,)
    theta_raw: np.ndarray  # (2,)
    theta_std: np.ndarray  # (2,)


def problem(cfg: Config) -> Problem:
    """Draw the data and solve it in closed form on the raw and the standardised feature."""
    x, y = make_data(cfg)
    z = (x - x.mean()) / x.std()
    return Problem(x, y, z, closed_form(x, y), closed_form(z, y))


def variants(cfg: Config, p: Problem) -> dict[str, tuple[np.ndarray, int, float, bool]]:
    """variant: (feature, batch size, step, decayed?); batch GD steps are in units of 1/L."""
    L_raw, L_std = np.linalg.eigvalsh(hessian(p.x)).max(), np.linalg.eigvalsh(hessian(p.z)).max()
    return {"batch_raw": (p.x, cfg.num, cfg.step / L_raw, False), "batch": (p.z, cfg.num, cfg.step / L_std, False),
            "minibatch": (p.z, cfg.batch_size, cfg.lr, False), "sgd": (p.z, 1, cfg.lr, False),
            "sgd_decay": (p.z, 1, cfg.lr, True)}


def updates_per_pass(cfg: Config, batch_size: int) -> int:
    """Optimizer steps in one pass over the data."""
    return -(-cfg.num // batch_size)


def jitter(path: np.ndarray, theta: np.ndarray, last: int) -> float:
    """RMS distance from the optimum over the last `last` iterates: how much a run still moves around it."""
    return float(np.sqrt(((path[-last:] - theta) ** 2).sum(axis=1).mean()))


def measure(cfg: Config, p: Problem, settings: dict, paths: dict[str, np.ndarray]) -> tuple[Metrics, dict]:
    """Metrics of the closed form and of each path's last pass; the excess MSE per step (steps + 1,) per variant."""
    best = float(mse(p.x, p.y, p.theta_raw[None])[0])
    excess = {v: mse(settings[v][0], p.y, path) - best for v, path in paths.items()}
    metrics = {"slope_closed": float(p.theta_raw[0]), "intercept_closed": float(p.theta_raw[1]), "mse_closed": best,
               "kappa_raw": condition(hessian(p.x)), "kappa_std": condition(hessian(p.z))}
    for v, path in paths.items():
        last = updates_per_pass(cfg, settings[v][1])
        metrics[f"excess_{v}"] = max(float(excess[v][-last:].mean()), 0.0)
        metrics[f"jitter_{v}"] = jitter(path, p.theta_raw if v == "batch_raw" else p.theta_std, last=last)
    slope_gd = paths["batch"][-1, 0] / p.x.std()  # back to the raw feature's units
    metrics["slope_batch"] = float(slope_gd)
    metrics["intercept_batch"] = float(paths["batch"][-1, 1] - slope_gd * p.x.mean())
    return metrics, excess


def lesson(m: Metrics) -> bool | None:
    """Raw x leaves batch GD 10× further above the optimum than standardised x; the 1/t step cuts SGD's jitter 2×."""
    if m["kappa_raw"] < 10:
        return None  # the raw feature is already well conditioned: nothing for scaling to fix
    scaling = m["excess_batch_raw"] > 10 * max(m["excess_batch"], 1e-12)
    return scaling and m["jitter_sgd"] > 2 * m["jitter_sgd_decay"]


CLAIM = Claim(
    _("scaling the feature, not a cleverer optimizer, makes batch GD fast, and constant-step SGD keeps jittering "
      "around the optimum until its step decays",
      "让批量 GD 变快的是特征缩放，而不是更聪明的优化器；恒定步长的 SGD 会一直在最优点附近抖动，直到步长衰减"),
    lesson,
    fragile=_("With a small mini-batch / SGD step the noise barely shows and the decaying step stalls before the "
              "optimum: raise that step to see the difference.",
              "小批量 / SGD 步长太小时，噪声几乎看不出来，衰减步长也会在到达最优点之前停滞：调大该步长就能看到差别。"),
)


def verdict(cfg: Config, m: Metrics) -> T:
    """The closed form, what scaling did to batch GD, and how much each stochastic variant still moves."""
    return sentences(
        _("Closed form: slope {slope:.3f}, intercept {intercept:.3f} (true line 1.5, −3), MSE {mse:.3f}.",
          "闭式解：斜率 {slope:.3f}，截距 {intercept:.3f}（真实直线为 1.5、−3），MSE {mse:.3f}。")
        .format(slope=m["slope_closed"], intercept=m["intercept_closed"], mse=m["mse_closed"]),
        _("After {epochs} passes of batch GD at step {step:g}/L, the raw feature (κ = {kappa_raw:.0f}) is still "
          "{raw:.2g} above that MSE; the standardised one (κ = {kappa_std:.0f}) {std:.2g} above.",
          "批量 GD 以 {step:g}/L 的步长遍历 {epochs} 次后，原始特征（κ = {kappa_raw:.0f}）的 MSE 仍比闭式解高 {raw:.2g}；"
          "标准化特征（κ = {kappa_std:.0f}）只高 {std:.2g}。")
        .format(epochs=cfg.epochs, step=cfg.step, kappa_raw=m["kappa_raw"], raw=m["excess_batch_raw"],
                kappa_std=m["kappa_std"], std=m["excess_batch"]),
        _("On standardised x (step {lr:g}, mini-batches of {batch_size}), the last pass's mean MSE above the "
          "optimum and RMS distance from it: {each}.",
          "在标准化的 x 上（步长 {lr:g}，小批量大小 {batch_size}），最后一遍中平均高出最优 MSE 的量与到最优点的均方根距离："
          "{each}。").format(lr=cfg.lr, batch_size=cfg.batch_size, each=join(
              (_("{name}: {excess:.2g} and {jitter:.3f}", "{name}：{excess:.2g} 和 {jitter:.3f}")
               .format(name=VARIANT_NAMES[v], excess=m[f"excess_{v}"], jitter=m[f"jitter_{v}"])
               for v in ("sgd", "minibatch", "sgd_decay")), sep=_("; ", "；"))),
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Solve in closed form, then run every GD variant for the same number of passes."""
    p = problem(cfg)
    settings = variants(cfg, p)
    paths = {v: descend(f, p.y, batch_size=b, lr=lr, epochs=cfg.epochs, seed=cfg.seed, decay=d,
                        report=part(report, VARIANT_NAMES[v], i, len(VARIANTS)))
             for i, (v, (f, b, lr, d)) in enumerate(settings.items())}  # (steps + 1, 2) each
    metrics, excess = measure(cfg, p, settings, paths)
    return Result(metrics, verdict(cfg, metrics), charts(cfg, p, settings, paths, excess),
                  [summary(settings, paths, metrics)])


def charts(cfg: Config, p: Problem, settings: dict, paths: dict[str, np.ndarray], excess: dict) -> list[Chart]:
    """The raw and the standardised feature's contours with the paths on them; the excess MSE per pass."""
    passes = {v: np.arange(len(path)) / updates_per_pass(cfg, settings[v][1]) for v, path in paths.items()}
    floor = 1e-12  # log axes need positive values; an exact hit is drawn at the floor
    return [
        contours(_("Raw x: batch GD in a narrow valley", "原始 x：批量 GD 在狭长山谷中"), p.x, p.y, p.theta_raw,
                 {"batch_raw": paths["batch_raw"]},
                 _("Contours of the MSE above its minimum (log-spaced); the star is the closed form. Slope and "
                   "intercept trade off along the valley, so progress along it is slow.",
                   "等高线为高出最小值的 MSE（按对数间隔），星号为闭式解。斜率和截距沿山谷此消彼长，沿谷底前进非常缓慢。")),
        contours(_("Standardised x: batch, mini-batch and stochastic GD", "标准化 x：批量、小批量与随机梯度下降"),
                 p.z, p.y, p.theta_std, {v: paths[v] for v in VARIANTS[1:]},
                 _("Round contours: batch GD at step 1/L jumps straight to the star; SGD wanders around it.",
                   "等高线是圆形的：步长 1/L 的批量 GD 一步直达星号；SGD 在其周围游走。")),
        Chart(_("MSE above the closed form, per pass over the data", "高出闭式解的 MSE（按遍历次数）"),
              lambda lang: plots.lines_xy({VARIANT_NAMES[v].get(lang): (passes[v], np.maximum(excess[v], floor))
                                           for v in VARIANTS}, _("passes over the data", "遍历数据的次数"),
                                          _("MSE − closed-form MSE (log)", "MSE − 闭式解 MSE（对数）"), lang, log_y=True),
              caption=_("Nothing gets below the closed form: it is the minimum.", "没有任何方法能低于闭式解：它就是最小值。")),
    ]


def contours(title: T, x: np.ndarray, y: np.ndarray, theta: np.ndarray, paths: dict[str, np.ndarray],
             caption: T) -> Chart:
    """Each variant's path (at most ~300 of its points) on the MSE contours of feature x; the star is theta (2,)."""
    thin = {v: path[:: max(1, len(path) // 300)] for v, path in paths.items()}
    grid = surface(x, y, theta, list(thin.values()))
    return Chart(title, lambda lang: plots.contour_paths(
        *grid, {VARIANT_NAMES[v].get(lang): path for v, path in thin.items()}, tuple(theta), lang, axes=AXES),
        caption=caption)


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


def summary(settings: dict, paths: dict[str, np.ndarray], m: Metrics) -> Table:
    """One row per variant: examples per step, updates, step size, final excess MSE and jitter."""
    return Table(_("Variants", "各方法"),
                 {"variant": plots.METHOD, "batch": _("examples per step", "每步样本数"),
                  "updates": _("updates", "更新次数"), "lr": _("step", "步长"),
                  "excess": _("final MSE − closed form", "最终 MSE − 闭式解"),
                  "jitter": _("RMS distance to optimum, last pass", "最后一遍到最优点的均方根距离")},
                 [{"variant": VARIANT_NAMES[v], "batch": settings[v][1], "updates": len(paths[v]) - 1,
                   "lr": float(f"{settings[v][2]:.3g}"), "excess": float(f"{m[f'excess_{v}']:.3g}"),
                   "jitter": float(f"{m[f'jitter_{v}']:.3g}")} for v in VARIANTS])


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
    claim=CLAIM,
)
