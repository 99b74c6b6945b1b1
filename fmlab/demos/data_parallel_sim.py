"""Data parallelism for real: two processes, gloo, DistributedDataParallel, against one process.

Each of two ranks (started like torchrun starts them) trains a replica on its half of every
global batch; DDP averages the gradients with an all-reduce, so the replicas take the very step
one process takes on the whole batch. A matmul benchmark beside it shows when more cores help:
tiny operations are bound by per-call overhead, big ones by arithmetic.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import data, plots
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..fit import fit
from ..nets import init_weights
from ..parallel import Job, build, data_parallel, matmul_gflops, max_param_diff, mlp
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, sentences

SIZES = (8, 32, 128, 512)  # matmul sizes benchmarked
MODES = ("ddp", "by-hand")
MODE_NAMES = {"ddp": _("DistributedDataParallel", "DistributedDataParallel"),
              "by-hand": _("all_reduce by hand", "手写 all_reduce")}
ONE = _("1 process, whole batch", "1 个进程，整批")
TWO = _("2 processes, half each", "2 个进程，各半批")


@dataclass(frozen=True)
class Config(DemoConfig):
    epochs: int = epochs_param(10, high=30, help=_("Passes over the digits training set", "遍历手写数字训练集的次数"))
    lr: float = lr_param(0.5, low=1e-3, high=2.0, optimizer="SGD", help=_("SGD's step size", "SGD 的步长"))
    batch_size: int = param(128, choices=(64, 128, 256), label=_("Global batch", "全局批大小"),
                            help=_("Split in two halves, one per process", "被分成两半，每个进程一半"))
    mode: str = param("ddp", choices=MODES, choice_labels=MODE_NAMES, label=_("Gradient averaging", "梯度平均方式"),
                      help=_("DDP's built-in all-reduce, or the same written as explicit dist.all_reduce calls",
                             "DDP 内置的 all-reduce，或写成显式的 dist.all_reduce 调用"))
    seed: int = seed_param()


def job(cfg: Config, split: data.Split):
    """What both ranks and the single process start from: the same data, initial weights and batch order."""
    model = init_weights(mlp(64, 64, split.num_classes), cfg.seed)
    return Job(split.X_train, split.y_train, model.state_dict(), hidden=64, lr=cfg.lr, batch_size=cfg.batch_size,
               epochs=cfg.epochs, seed=cfg.seed, by_hand=cfg.mode == "by-hand")


def benchmark(report: Report) -> dict[str, list[float]]:
    """GFLOP/s of square fp32 matmuls with 1 and 2 threads."""
    out: dict[str, list[float]] = {"1": [], "2": []}
    for i, size in enumerate(SIZES):
        for threads in (1, 2):
            out[str(threads)].append(matmul_gflops(size, threads, repeats=max(3, 2_000_000 // size ** 2)))
        report(Event("stage", 0.5 + 0.1 * (i + 1) / len(SIZES), note=_("Timing {n}×{n} matmuls", "正在计时 {n}×{n} 矩阵乘法")
                     .format(n=size)))
    return out


def run(cfg: Config, report: Report = silent) -> Result:
    """Train on one process (live), benchmark matmuls, train on two with gloo, and compare them weight by weight."""
    split = data.digits(seed=cfg.seed)
    spec = job(cfg, split)
    single = build(spec)
    reference = fit(single, torch.optim.SGD(single.parameters(), lr=cfg.lr), (spec.X, spec.y), epochs=cfg.epochs,
                    batch_size=cfg.batch_size, seed=cfg.seed, device=torch.device("cpu"), report=part(report, ONE, 0, 2))
    gflops = benchmark(report)
    report(Event("stage", 0.6, note=_("Launching 2 processes (gloo)", "正在启动 2 个进程（gloo）")))
    ddp = data_parallel(spec, world=2)
    report(Event("stage", 1.0, note=_("Done", "完成")))
    losses = {"one": reference.history["loss"], "two": ddp["losses"]}
    metrics = {
        "max_loss_diff": float(np.max(np.abs(np.subtract(losses["one"], losses["two"])))),
        "max_param_diff": max_param_diff(single.state_dict(), ddp["state"]),
        "final_loss": float(np.mean(losses["one"][-10:])),
        "step_ms_one": 1e3 * reference.seconds / len(losses["one"]),
        "step_ms_two": ddp["step_ms"],
        "gflops_small": gflops["1"][0],
        "gflops_large": max(gflops["1"][-1], gflops["2"][-1]),
    }
    return Result(metrics, verdict(cfg, metrics), charts(losses, gflops), [table(metrics)])


def lesson(m: Metrics) -> bool:
    """Two processes end with the single process's weights to float error, and the run trained."""
    return m["max_param_diff"] < 1e-5 and m["max_loss_diff"] < 1e-4 and m["final_loss"] < 1.0


CLAIM = Claim(
    _("two processes that average their half-batch gradients take exactly the steps one process takes on the whole "
      "batch: same losses, same weights, up to float rounding",
      "两个进程各算半批梯度再取平均，走的每一步都与单进程处理整批完全相同：损失相同、权重相同，只差浮点舍入"),
    lesson,
)


def verdict(cfg: Config, m: Metrics) -> T:
    """Equality first, then time per step and the matmul lesson."""
    return sentences(
        _("With {mode}, the two processes' losses differed from the single process's by at most {loss:.1e} and the "
          "final weights by at most {param:.1e}.",
          "使用 {mode} 时，两个进程的损失与单进程最多相差 {loss:.1e}，最终权重最多相差 {param:.1e}。")
        .format(mode=MODE_NAMES[cfg.mode], loss=m["max_loss_diff"], param=m["max_param_diff"]),
        _("A step took {one:.2f} ms on one process and {two:.2f} ms on two: for a model this small the all-reduce "
          "costs more than halving the batch saves.",
          "单进程每步 {one:.2f} 毫秒，双进程每步 {two:.2f} 毫秒：模型这么小，all-reduce 的开销超过了批量减半省下的时间。")
        .format(one=m["step_ms_one"], two=m["step_ms_two"]) if m["step_ms_two"] > m["step_ms_one"] else
        _("A step took {one:.2f} ms on one process and {two:.2f} ms on two.",
          "单进程每步 {one:.2f} 毫秒，双进程每步 {two:.2f} 毫秒。").format(one=m["step_ms_one"], two=m["step_ms_two"]),
        _("An 8×8 matmul ran at {small:.2f} GFLOP/s, a 512×512 one at {large:.1f}: tiny operations are bound by "
          "per-call overhead, not arithmetic.",
          "8×8 矩阵乘法只有 {small:.2f} GFLOP/s，512×512 则达到 {large:.1f}：小运算受限于每次调用的开销，而不是算力。")
        .format(small=m["gflops_small"], large=m["gflops_large"]),
        CLAIM.verdict(m),
    )


def charts(losses: dict[str, list[float]], gflops: dict[str, list[float]]) -> list[Chart]:
    """The two loss curves (they overlap), and matmul throughput against size."""
    threads = {"1": _("1 thread", "1 个线程"), "2": _("2 threads", "2 个线程")}
    return [
        Chart(_("One process vs two: the curves lie on top of each other", "单进程与双进程：两条曲线完全重合"),
              lambda lang: plots.curves({ONE.get(lang): losses["one"], TWO.get(lang): losses["two"]}, plots.STEP,
                                        plots.TRAIN_LOSS, lang, dashes={TWO.get(lang): "dot"})),
        Chart(_("Matmul throughput against size", "矩阵乘法吞吐量与矩阵大小"),
              lambda lang: plots.lines_xy({threads[k].get(lang): (SIZES, v) for k, v in gflops.items()},
                                          _("matrix size n (n×n)", "矩阵大小 n（n×n）"), _("GFLOP/s", "GFLOP/s"), lang,
                                          log_x=True, log_y=True)),
    ]


def table(m: Metrics) -> Table:
    return Table(plots.SUMMARY, {"what": _("measured", "测量项"), "value": _("value", "数值")}, [
        {"what": _("max |Δ loss|", "损失最大差值"), "value": m["max_loss_diff"]},
        {"what": _("max |Δ weight|", "权重最大差值"), "value": m["max_param_diff"]},
        {"what": _("ms per step, 1 process", "每步毫秒（1 个进程）"), "value": m["step_ms_one"]},
        {"what": _("ms per step, 2 processes", "每步毫秒（2 个进程）"), "value": m["step_ms_two"]},
    ])


DEMO = Demo(
    id="data-parallel-sim",
    title=_("Data parallelism with torch.distributed", "用 torch.distributed 做数据并行"),
    summary=_("Two gloo processes with DistributedDataParallel train exactly what one process trains; a matmul "
              "benchmark shows when cores help.",
              "两个 gloo 进程用 DistributedDataParallel 训练出与单进程完全相同的模型；矩阵乘法基准显示多核何时有用。"),
    category="deployment",
    config=Config,
    run=run,
    smoke=dict(epochs=1),
    key_metric="max_param_diff",
    key_label=_("max |Δ weight|, 2 processes vs 1", "双进程与单进程的权重最大差值"),
    claim=CLAIM,
    timed=frozenset({"step_ms_one", "step_ms_two", "gflops_small", "gflops_large"}),
)
