"""Optimizer race: SGD, momentum, Adam, AdamW, Adagrad and RMSprop on one task and one 2-D surface.

Part 1 trains the same MLP (same initial weights) on handwritten digits with each optimizer
at one shared learning rate. Part 2 lets each optimizer walk a 2-D loss surface, so you can
see *why* they differ: plain SGD zig-zags across a steep valley, momentum and Adam cut along it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from .. import data, plots
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..fit import Fit, fit
from ..nets import MLP, init_weights
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, names, sentences

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "adagrad", "rmsprop")
OPTIMIZER_NAMES = {"sgd": _("SGD", "SGD"), "momentum": _("SGD + momentum", "SGD + 动量"), "adam": _("Adam", "Adam"),
                   "adamw": _("AdamW", "AdamW"), "adagrad": _("Adagrad", "Adagrad"), "rmsprop": _("RMSprop", "RMSprop")}
SURFACES = ("valley", "rosenbrock")
SURFACE_NAMES = {"valley": _("narrow valley ½(x² + 25y²)", "狭长山谷 ½(x² + 25y²)"),
                 "rosenbrock": _("Rosenbrock banana", "Rosenbrock 香蕉函数")}


@dataclass(frozen=True)
class Config(DemoConfig):
    optimizers: tuple = param(OPTIMIZERS, choices=OPTIMIZERS, choice_labels=OPTIMIZER_NAMES,
                              label=_("Optimizers", "优化器"),
                              help=_("Which optimizers race", "参与比较的优化器"))
    lr: float = lr_param(0.01, low=1e-4, high=1.0, optimizer=None,
                         help=_("One learning rate shared by all optimizers on digits",
                                "所有优化器在手写数字任务上共用的学习率"))
    epochs: int = epochs_param(8, high=40, help=_("Passes over the digits training set", "遍历手写数字训练集的次数"))
    batch_size: int = param(64, choices=(16, 32, 64, 128, 256), label=_("Batch size", "批大小"),
                            help=_("Examples per gradient step", "每次梯度更新使用的样本数"))
    surface: str = param("valley", choices=SURFACES, choice_labels=SURFACE_NAMES,
                         label=_("2-D surface", "二维损失曲面"),
                         help=_("valley: f = ½(x² + 25y²), condition number 25; rosenbrock: a curved banana valley",
                                "valley：f = ½(x² + 25y²)，条件数 25；rosenbrock：弯曲的香蕉形山谷"))
    surface_lr: float = param(0.03, low=1e-4, high=1.0, log=True, label=_("Surface learning rate", "曲面学习率"),
                              help=_("Learning rate for the walk on the 2-D surface", "在二维曲面上行走时的学习率"))
    surface_steps: int = param(100, low=10, high=500, label=_("Surface steps", "曲面步数"),
                               help=_("Optimizer steps on the 2-D surface", "在二维曲面上的迭代步数"))
    seed: int = seed_param()


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    """The optimizer called `name`, with PyTorch's default hyper-parameters apart from lr."""
    build = {"sgd": lambda: torch.optim.SGD(params, lr=lr),
             "momentum": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9),
             "adam": lambda: torch.optim.Adam(params, lr=lr),
             "adamw": lambda: torch.optim.AdamW(params, lr=lr, weight_decay=0.01),
             "adagrad": lambda: torch.optim.Adagrad(params, lr=lr),
             "rmsprop": lambda: torch.optim.RMSprop(params, lr=lr)}
    if name not in build:
        raise ValueError(f"unknown optimizer {name!r}")
    return build[name]()


def valley(p: Tensor) -> Tensor:
    """An ill-conditioned quadratic: curvature 1 along x, 25 along y; minimum at (0, 0)."""
    return 0.5 * (p[0] ** 2 + 25 * p[1] ** 2)


def rosenbrock(p: Tensor) -> Tensor:
    """The Rosenbrock banana, scaled by 1/10 so one learning rate suits both surfaces; minimum at (1, 1)."""
    return ((1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2) / 10


@dataclass(frozen=True)
class Surface:
    """A 2-D loss surface: the function, where the walk starts, the minimum, and the plotted window."""

    f: Callable[[Tensor], Tensor]
    start: tuple[float, float]
    minimum: tuple[float, float]
    x_range: tuple[float, float]
    y_range: tuple[float, float]


SURFACE_SPECS = {
    "valley": Surface(valley, start=(-4.0, 1.5), minimum=(0.0, 0.0), x_range=(-5, 5), y_range=(-2.5, 2.5)),
    "rosenbrock": Surface(rosenbrock, start=(-1.5, 2.0), minimum=(1.0, 1.0), x_range=(-2, 2), y_range=(-1, 3)),
}


def trajectory(name: str, f: Callable[[Tensor], Tensor], start: tuple[float, float], lr: float,
               steps: int) -> np.ndarray:
    """Points visited by optimizer `name` minimising f from `start`: (steps + 1, 2); stops early if it blows up."""
    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = make_optimizer(name, [p], lr)
    path = [p.detach().clone()]
    for _step in range(steps):
        opt.zero_grad()
        f(p).backward()
        opt.step()
        if not torch.isfinite(p).all() or p.abs().max() > 1e3:
            break
        path.append(p.detach().clone())
    return torch.stack(path).numpy()


def race(cfg: Config, report: Report) -> dict[str, Fit]:
    """Train one MLP per optimizer on digits from identical initial weights."""
    split = data.digits(seed=cfg.seed)
    runs = {}
    for i, name in enumerate(cfg.optimizers):
        model = init_weights(MLP(64, 10, width=64, depth=1), cfg.seed)
        opt = make_optimizer(name, model.parameters(), cfg.lr)
        runs[name] = fit(model, opt, (split.X_train, split.y_train), epochs=cfg.epochs, batch_size=cfg.batch_size,
                         val=(split.X_val, split.y_val), seed=cfg.seed,
                         report=part(report, OPTIMIZER_NAMES[name], i, len(cfg.optimizers) + 1))
    return runs


def final_loss(run: Fit) -> float:
    """Mean training loss over the last epoch's worth of steps (NaN if it diverged)."""
    return run.mean_loss(max(1, len(run.history["loss"]) // max(1, len(run.history["val_acc"]))))


def verdict(cfg: Config, runs: dict[str, Fit], dist: dict[str, float]) -> T:
    """Who won on digits and on the surface, by how much, and who diverged: in numbers."""
    return sentences(race_verdict(cfg, runs), *[
        _("{name} diverged at step {step}: this lr is too high for it.", "{name} 在第 {step} 步发散：这个学习率对它来说太大。")
        .format(name=OPTIMIZER_NAMES[n], step=r.diverged_at) for n, r in runs.items() if r.diverged],
        surface_verdict(cfg, dist))


def race_verdict(cfg: Config, runs: dict[str, Fit]) -> T | None:
    """The fastest and slowest optimizer on digits among those that did not diverge."""
    ok = {n: final_loss(r) for n, r in runs.items() if not r.diverged}
    if len(ok) < 2:
        return None
    best, worst = min(ok, key=ok.get), max(ok, key=ok.get)
    return _("At lr {lr:g}, {best} trained fastest on digits (final loss {best_loss:.3f}, val acc {best_acc:.1%}); "
             "{worst} was slowest (loss {worst_loss:.3f}, val acc {worst_acc:.1%}).",
             "学习率 {lr:g} 下，{best} 在手写数字上训练最快（最终损失 {best_loss:.3f}，验证准确率 {best_acc:.1%}）；"
             "{worst} 最慢（损失 {worst_loss:.3f}，验证准确率 {worst_acc:.1%}）。").format(
        lr=cfg.lr, best=OPTIMIZER_NAMES[best], best_loss=ok[best], best_acc=runs[best].final("val_acc"),
        worst=OPTIMIZER_NAMES[worst], worst_loss=ok[worst], worst_acc=runs[worst].final("val_acc"))


def surface_verdict(cfg: Config, dist: dict[str, float]) -> T | None:
    """Who ended closest to and farthest from the surface's minimum, and who blew up."""
    finite = {n: d for n, d in dist.items() if np.isfinite(d)}
    blown = [OPTIMIZER_NAMES[n] for n, d in dist.items() if not np.isfinite(d)]
    closest, farthest = (min(finite, key=finite.get), max(finite, key=finite.get)) if finite else (None, None)
    return sentences(
        _("After {steps} steps on the {surface}, {closest} ended {near:.3g} from the minimum and {farthest} {far:.3g}.",
          "在{surface}上走 {steps} 步后，{closest} 距最小值 {near:.3g}，{farthest} 距最小值 {far:.3g}。")
        .format(steps=cfg.surface_steps, surface=SURFACE_NAMES[cfg.surface], closest=OPTIMIZER_NAMES[closest],
                near=finite[closest], farthest=OPTIMIZER_NAMES[farthest], far=finite[farthest])
        if len(finite) >= 2 else None,
        _("{names} blew up on the surface: lr {lr:g} is too large for its steepest curvature.",
          "{names} 在曲面上发散：学习率 {lr:g} 相对其最陡方向的曲率过大。").format(names=names(blown), lr=cfg.surface_lr)
        if blown else None)


def lesson(m: Metrics) -> bool | None:
    """Adam reaches under a quarter of plain SGD's loss on digits at the same learning rate."""
    return m["loss_adam"] < m["loss_sgd"] / 4


CLAIM = Claim(_("at one shared learning rate Adam trains to under a quarter of plain SGD's loss",
                "同一学习率下，Adam 的训练损失不到普通 SGD 的四分之一"), lesson,
              fragile=_("At a large learning rate plain SGD catches up, or Adam becomes unstable.",
                        "学习率很大时普通 SGD 会追上来，或 Adam 变得不稳定。"))


def walk(cfg: Config, report: Report) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Each optimizer's path on the chosen surface, and how far it ended from the minimum (inf if it blew up)."""
    surface = SURFACE_SPECS[cfg.surface]
    report(Event("stage", len(cfg.optimizers) / (len(cfg.optimizers) + 1),
                 note=_("Walking the 2-D surface", "在二维曲面上行走")))
    paths = {n: trajectory(n, surface.f, surface.start, cfg.surface_lr, cfg.surface_steps) for n in cfg.optimizers}
    dist = {n: float(np.linalg.norm(p[-1] - np.array(surface.minimum))) if len(p) == cfg.surface_steps + 1
            else float("inf") for n, p in paths.items()}
    return paths, dist


def collect(runs: dict[str, Fit], dist: dict[str, float]) -> Metrics:
    """Per optimizer: final loss and val accuracy on digits (NaN if diverged), distance to the surface minimum."""
    metrics = {}
    for name, r in runs.items():
        metrics[f"loss_{name}"] = final_loss(r)
        metrics[f"val_acc_{name}"] = r.final("val_acc") if not r.diverged else float("nan")
        metrics[f"surface_dist_{name}"] = dist[name]
    metrics["best_val_acc"] = max((r.final("val_acc") for r in runs.values() if not r.diverged), default=float("nan"))
    return metrics


def run(cfg: Config, report: Report = silent) -> Result:
    """Race the optimizers on digits, then walk them on the 2-D surface."""
    runs = race(cfg, report)
    paths, dist = walk(cfg, report)
    metrics = collect(runs, dist)
    told = sentences(verdict(cfg, runs, dist), CLAIM.verdict(metrics))
    return Result(metrics, told, charts(cfg, runs, paths), [summary(cfg, metrics)])


def charts(cfg: Config, runs: dict[str, Fit], paths: dict[str, np.ndarray]) -> list[Chart]:
    """Loss curves and val accuracy on digits; the paths over the surface's contours."""
    surface = SURFACE_SPECS[cfg.surface]
    xs, ys = np.linspace(*surface.x_range, 120), np.linspace(*surface.y_range, 120)
    grid = torch.tensor(np.stack(np.meshgrid(xs, ys)), dtype=torch.float64)  # (2, Y, X)
    zs = surface.f(grid).numpy()  # (Y, X)
    return [
        Chart(_("Training loss on digits", "手写数字上的训练损失"),
              lambda lang: plots.curves({OPTIMIZER_NAMES[n].get(lang): r.history["loss"] for n, r in runs.items()},
                                        plots.STEP, plots.LOSS_LOG, lang, log_y=True)),
        Chart(_("Validation accuracy per epoch", "每轮验证准确率"),
              lambda lang: plots.curves({OPTIMIZER_NAMES[n].get(lang): r.history["val_acc"] for n, r in runs.items()},
                                        plots.EPOCH, plots.VAL_ACCURACY, lang)),
        Chart(_("Trajectories on the 2-D surface", "二维曲面上的优化轨迹"),
              lambda lang: plots.contour_paths(xs, ys, zs, {OPTIMIZER_NAMES[n].get(lang): p for n, p in paths.items()},
                                               surface.minimum, lang),
              caption=_("Contours are log-spaced; the star is the minimum.", "等高线按对数间隔；星号为最小值。")),
    ]


def summary(cfg: Config, metrics: Metrics) -> Table:
    """One row per optimizer: final loss, val accuracy, distance to the surface minimum."""
    return Table(plots.SUMMARY,
                 {"optimizer": _("optimizer", "优化器"), "loss": plots.FINAL_LOSS, "acc": plots.VAL_ACCURACY,
                  "dist": _("distance to surface minimum", "到曲面最小值的距离")},
                 [{"optimizer": OPTIMIZER_NAMES[n], "loss": round(metrics[f"loss_{n}"], 4),
                   "acc": round(metrics[f"val_acc_{n}"], 4), "dist": round(metrics[f"surface_dist_{n}"], 4)}
                  for n in cfg.optimizers])


DEMO = Demo(
    id="optimizers",
    title=_("Optimizer race", "优化器赛跑"),
    summary=_("SGD, momentum, Adam, AdamW, Adagrad and RMSprop on digits and on a 2-D loss surface.",
              "SGD、动量、Adam、AdamW、Adagrad 与 RMSprop 在手写数字和二维损失曲面上的比较。"),
    category="optimization",
    config=Config,
    run=run,
    smoke=dict(epochs=1, surface_steps=20),
    key_metric="best_val_acc",
    key_label=_("best validation accuracy", "最佳验证准确率"),
    claim=CLAIM,
)
