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
from ..demo import Chart, Demo, Event, Report, Result, Table, part, silent
from ..fit import fit
from ..nets import MLP, init_weights
from ..params import DemoConfig, param
from ..text import T, _

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
    lr: float = param(0.01, low=1e-4, high=1.0, log=True, label=_("Learning rate", "学习率"),
                      help=_("One learning rate shared by all optimizers on digits",
                             "所有优化器在手写数字任务上共用的学习率"))
    epochs: int = param(8, low=1, high=40, label=_("Epochs", "训练轮数"),
                        help=_("Passes over the digits training set", "遍历手写数字训练集的次数"))
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
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run", "相同种子，相同结果"))


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    """The optimizer called `name`, with PyTorch's default hyper-parameters apart from lr."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}")


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


def race(cfg: Config, report: Report) -> dict[str, dict]:
    """Train one MLP per optimizer on digits from identical initial weights."""
    split = data.digits(seed=cfg.seed)
    runs = {}
    for i, name in enumerate(cfg.optimizers):
        model = init_weights(MLP(64, 10, width=64, depth=1), cfg.seed)
        opt = make_optimizer(name, model.parameters(), cfg.lr)
        runs[name] = fit(model, opt, (split.X_train, split.y_train), epochs=cfg.epochs, batch_size=cfg.batch_size,
                         val=(split.X_val, split.y_val), seed=cfg.seed,
                         report=part(report, name, i, len(cfg.optimizers) + 1))
    return runs


def final_loss(run) -> float:
    """Mean training loss over the last epoch's worth of steps (NaN if it diverged)."""
    return run.mean_loss(max(1, len(run.history["loss"]) // max(1, len(run.history["val_acc"]))))


def verdict(cfg: Config, runs: dict, dist: dict[str, float]) -> T:
    """Who won, by how much, and what the surface showed — in numbers."""
    ok = {n: r for n, r in runs.items() if not r.diverged}
    lines_en, lines_zh = [], []
    if ok:
        best = min(ok, key=lambda n: final_loss(ok[n]))
        worst = max(ok, key=lambda n: final_loss(ok[n]))
        lines_en.append(f"At lr {cfg.lr:g}, {best} trained fastest on digits (final loss {final_loss(ok[best]):.3f}, "
                        f"val acc {ok[best].final('val_acc'):.1%}); {worst} was slowest "
                        f"(loss {final_loss(ok[worst]):.3f}, val acc {ok[worst].final('val_acc'):.1%}).")
        lines_zh.append(f"学习率 {cfg.lr:g} 下，{best} 在手写数字上训练最快（最终损失 {final_loss(ok[best]):.3f}，"
                        f"验证准确率 {ok[best].final('val_acc'):.1%}）；{worst} 最慢（损失 {final_loss(ok[worst]):.3f}，"
                        f"验证准确率 {ok[worst].final('val_acc'):.1%}）。")
    for name, run in runs.items():
        if run.diverged:
            lines_en.append(f"{name} diverged at step {run.diverged_at}: this lr is too high for it.")
            lines_zh.append(f"{name} 在第 {run.diverged_at} 步发散：这个学习率对它来说太大。")
    finite = {n: d for n, d in dist.items() if np.isfinite(d)}
    if finite:
        closest, farthest = min(finite, key=finite.get), max(finite, key=finite.get)
        lines_en.append(f"On the {cfg.surface} surface after {cfg.surface_steps} steps, {closest} ended "
                        f"{finite[closest]:.3g} from the minimum and {farthest} {finite[farthest]:.3g}.")
        lines_zh.append(f"在 {cfg.surface} 曲面上走 {cfg.surface_steps} 步后，{closest} 距最小值 {finite[closest]:.3g}，"
                        f"{farthest} 距最小值 {finite[farthest]:.3g}。")
    blown = [n for n, d in dist.items() if not np.isfinite(d)]
    if blown:
        lines_en.append(f"{', '.join(blown)} blew up on the surface: lr {cfg.surface_lr:g} is too large for its "
                        f"steepest curvature.")
        lines_zh.append(f"{'、'.join(blown)} 在曲面上发散：学习率 {cfg.surface_lr:g} 相对其最陡方向的曲率过大。")
    return T(" ".join(lines_en), " ".join(lines_zh))


def run(cfg: Config, report: Report = silent) -> Result:
    """Race the optimizers on digits, then walk them on the 2-D surface."""
    runs = race(cfg, report)
    surface = SURFACE_SPECS[cfg.surface]
    report(Event("stage", len(cfg.optimizers) / (len(cfg.optimizers) + 1),
                 note=_("Walking the 2-D surface", "在二维曲面上行走")))
    paths = {n: trajectory(n, surface.f, surface.start, cfg.surface_lr, cfg.surface_steps) for n in cfg.optimizers}
    dist = {n: float(np.linalg.norm(p[-1] - np.array(surface.minimum))) if len(p) == cfg.surface_steps + 1
            else float("inf")
            for n, p in paths.items()}

    metrics = {}
    for name, r in runs.items():
        metrics[f"loss_{name}"] = final_loss(r)
        metrics[f"val_acc_{name}"] = r.final("val_acc") if not r.diverged else float("nan")
        metrics[f"surface_dist_{name}"] = dist[name]
    metrics["best_val_acc"] = max((r.final("val_acc") for r in runs.values() if not r.diverged), default=float("nan"))

    xs, ys = np.linspace(*surface.x_range, 120), np.linspace(*surface.y_range, 120)
    grid = torch.tensor(np.stack(np.meshgrid(xs, ys)), dtype=torch.float64)  # (2, Y, X)
    zs = surface.f(grid).numpy()  # (Y, X)
    losses = {n: r.history["loss"] for n, r in runs.items()}
    charts = [
        Chart(_("Training loss on digits", "手写数字上的训练损失"),
              lambda lang: plots.curves(losses, _("step", "步数"), _("loss (log)", "损失（对数）"), lang, log_y=True)),
        Chart(_("Validation accuracy per epoch", "每轮验证准确率"),
              lambda lang: plots.curves({n: r.history["val_acc"] for n, r in runs.items()},
                                        _("epoch", "轮次"), _("accuracy", "准确率"), lang)),
        Chart(_("Trajectories on the 2-D surface", "二维曲面上的优化轨迹"),
              lambda lang: plots.contour_paths(xs, ys, zs, paths, surface.minimum, lang),
              caption=_("Contours are log-spaced; the star is the minimum.", "等高线按对数间隔；星号为最小值。")),
    ]
    table = Table(_("Summary", "汇总"),
                  {"optimizer": _("optimizer", "优化器"), "loss": _("final loss", "最终损失"),
                   "acc": _("val accuracy", "验证准确率"), "dist": _("distance to surface minimum", "到曲面最小值的距离")},
                  [{"optimizer": n, "loss": round(metrics[f"loss_{n}"], 4), "acc": round(metrics[f"val_acc_{n}"], 4),
                    "dist": round(dist[n], 4)} for n in cfg.optimizers])
    history = {n: r.history for n, r in runs.items()}
    return Result(metrics, verdict(cfg, runs, dist), history, charts, [table])


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
)
