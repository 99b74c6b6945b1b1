"""A scalable model family: one builder, a depth × width grid, and the accuracy–cost Pareto front.

`make_model(depth, width)` stacks identical pre-norm residual blocks in an `nn.ModuleList`,
so a size is two numbers in a config, not new code. Every member is trained the same way on
handwritten digits. The parameter count grows like depth·width², but on an easy task accuracy
saturates early: the members worth shipping are the Pareto-optimal ones (no other member is both
smaller and more accurate), and the cheapest of those within a point of the best is usually far
smaller than the largest. Latency is measured, not assumed: at batch 1 it tracks depth (layers run
one after another) more than parameters. With `share_blocks`, the deepest members reuse one block
at every layer (ALBERT-style): parameters shrink to a one-block model's, but latency does not.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import data, plots
from ..demo import Chart, Demo, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit
from ..nets import init_weights, num_params
from ..params import DemoConfig, param
from ..text import T, _

DEPTHS = (1, 2, 3, 4, 6, 8)
WIDTHS = (8, 16, 32, 64, 128, 256)
IN_DIM, NUM_CLASSES = 64, 10  # 8×8 digit images, 10 digits


@dataclass(frozen=True)
class Config(DemoConfig):
    depths: tuple = param((1, 2, 4), choices=DEPTHS, label=_("Depths", "深度"),
                          help=_("Numbers of residual blocks in the family", "模型家族中残差块的个数"))
    widths: tuple = param((8, 16, 32, 64, 128), choices=WIDTHS, label=_("Widths", "宽度"),
                          help=_("Hidden sizes in the family", "模型家族中的隐藏层宽度"))
    share_blocks: bool = param(False, label=_("Add shared-block members", "加入共享模块的成员"),
                               help=_("Also build the deepest members with ONE block reused at every layer "
                                      "(ALBERT-style)",
                                      "另外构建最深的一组成员，每一层都复用同一个模块（ALBERT 式）"))
    tolerance: float = param(0.01, low=0.0, high=0.1, label=_("Accuracy you may give up", "可接受的精度损失"),
                             help=_("Pick the cheapest member within this much of the best accuracy",
                                    "在与最佳精度相差不超过该值的成员中，选参数最少的那个"))
    epochs: int = param(5, low=1, high=40, label=_("Epochs", "训练轮数"),
                        help=_("Passes over the digits training set, the same for every member",
                               "遍历手写数字训练集的次数，所有成员相同"))
    lr: float = param(1e-2, low=1e-4, high=3e-2, log=True, label=_("Learning rate (Adam)", "学习率（Adam）"),
                      help=_("Adam's step size, the same for every member", "Adam 的步长，所有成员相同"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run", "相同种子，相同结果"))


class Block(nn.Module):
    """Pre-norm residual block x + ReLU(W·LayerNorm(x)): same width in and out, so it stacks."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.linear = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:  # (B, W) -> (B, W)
        return x + F.relu(self.linear(self.norm(x)))


class Family(nn.Module):
    """stem (64 -> width) -> `depth` blocks -> LayerNorm -> head (width -> 10).

    `share=True` keeps a single block and applies it `depth` times (cross-layer sharing).
    """

    def __init__(self, depth: int, width: int, share: bool = False):
        super().__init__()
        self.depth = depth
        self.stem = nn.Linear(IN_DIM, width)
        self.blocks = nn.ModuleList(Block(width) for _ in range(1 if share else depth))  # never `self.modules`
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, NUM_CLASSES)

    def forward(self, x: Tensor) -> Tensor:  # (B, 64) -> (B, 10)
        h = self.stem(x)  # (B, W)
        for i in range(self.depth):
            h = self.blocks[i % len(self.blocks)](h)
        return self.head(self.norm(h))


def make_model(depth: int, width: int, share: bool = False, seed: int = 0) -> Family:
    """The one builder every size comes from."""
    return init_weights(Family(depth, width, share), seed)


def param_formula(depth: int, width: int, share: bool = False) -> int:
    """Parameters by hand: stem 64w + w, each block w² + w (linear) + 2w (LayerNorm), head LN 2w + 10w + 10."""
    blocks = 1 if share else depth
    return (IN_DIM + 1) * width + blocks * (width * width + 3 * width) + 2 * width + (width + 1) * NUM_CLASSES


def pareto_front(costs: list[float], scores: list[float]) -> list[bool]:
    """Which points no other point beats: nothing is at most as costly AND at least as good, one strictly."""
    front, best_cheaper = [False] * len(costs), float("-inf")
    for cost in sorted(set(costs)):  # cheapest first
        group = [i for i, c in enumerate(costs) if c == cost]
        top = max(scores[i] for i in group)
        if top > best_cheaper:  # better than everything cheaper; equal best points of one cost all count
            for i in group:
                front[i] = scores[i] == top
            best_cheaper = top
    return front


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def latency_ms(models: list[nn.Module], X: Tensor, rounds: int = 20) -> list[float]:
    """Best-of-`rounds` wall time of one forward pass on X for each model, in milliseconds.

    Every round times each model once in turn, so a burst of load on a shared machine hits all
    models alike, and the minimum drops the bursts.
    """
    device = next(models[0].parameters()).device
    X = X.to(device)
    best = [float("inf")] * len(models)
    for model in models:
        model.eval()(X)  # warm-up
    for _round in range(rounds):
        for i, model in enumerate(models):
            synchronize(device)
            start = time.perf_counter()
            model(X)
            synchronize(device)
            best[i] = min(best[i], (time.perf_counter() - start) * 1e3)
    return best


@dataclass
class Member:
    name: str
    depth: int
    width: int
    share: bool
    params: int
    acc: float = 0.0
    latency_1: float = 0.0
    latency_256: float = 0.0
    on_front: bool = False


def train_member(member: Member, cfg: Config, split: data.Split, report: Report) -> tuple[Family, Fit]:
    """Train one member with the family's shared recipe; records its held-out accuracy."""
    model = make_model(member.depth, member.width, member.share, cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    result = fit(model, opt, (split.X_train, split.y_train), epochs=cfg.epochs, batch_size=128, seed=cfg.seed,
                 report=report)
    member.acc = evaluate(model, split.X_val, split.y_val)["acc"]
    return model, result


def choose(members: list[Member], tolerance: float) -> Member:
    """The cheapest member within `tolerance` of the best accuracy (always on the Pareto front)."""
    best = max(m.acc for m in members)
    return min((m for m in members if m.acc >= best - tolerance), key=lambda m: (m.params, -m.acc))


def verdict(cfg: Config, members: list[Member], chosen: Member) -> T:
    best = max(members, key=lambda m: m.acc)
    largest = max(members, key=lambda m: m.params)
    ratio = largest.params / chosen.params
    head_en = (f"{len(members)} members from one builder, {min(m.params for m in members):,} to {largest.params:,} "
               f"parameters. Best accuracy {best.acc:.1%} ({best.name}); the largest reached {largest.acc:.1%}. "
               f"The cheapest member within {cfg.tolerance:.0%} of the best is {chosen.name} with {chosen.params:,} "
               f"parameters ({chosen.acc:.1%}), {ratio:.0f}× smaller than the largest. ")
    head_zh = (f"同一个构建函数生成了 {len(members)} 个成员，参数量从 {min(m.params for m in members):,} 到 "
               f"{largest.params:,}。最佳精度 {best.acc:.1%}（{best.name}）；最大的模型为 {largest.acc:.1%}。与最佳精度相差"
               f"不超过 {cfg.tolerance:.0%} 的成员中，最便宜的是 {chosen.name}，{chosen.params:,} 个参数（{chosen.acc:.1%}），"
               f"比最大的模型小 {ratio:.0f} 倍。")
    if ratio >= 4:
        mid_en, mid_zh = "Accuracy saturated early: extra parameters bought almost nothing. ", "精度很早就饱和了：多出来的参数几乎换不来精度。"
    else:
        mid_en, mid_zh = ("Here accuracy kept rising with size: train longer or shrink the grid to see it saturate. ",
                          "本次精度随规模持续上升：增加训练轮数或缩小网格，可以看到饱和。")
    deep, shallow = max(cfg.depths), min(cfg.depths)
    lat = {d: statistics.mean(m.latency_1 for m in members if m.depth == d and not m.share) for d in (shallow, deep)}
    end_en = (f"At batch 1, depth-{deep} members took {lat[deep]:.3f} ms on average and depth-{shallow} members "
              f"{lat[shallow]:.3f} ms, whatever their width: layers run one after another, so measure latency.")
    end_zh = (f"批大小为 1 时，深度 {deep} 的成员平均耗时 {lat[deep]:.3f} 毫秒，深度 {shallow} 的成员 {lat[shallow]:.3f} 毫秒，"
              "与宽度关系不大：各层只能依次计算，所以延迟要实测。")
    shared = [m for m in members if m.share]
    if shared:
        s = max(shared, key=lambda m: m.width)
        twin = next(m for m in members if not m.share and m.depth == s.depth and m.width == s.width)
        one = next((m for m in members if m.depth == 1 and m.width == s.width), None)
        one_en = f", the one-block d1×w{s.width} {one.latency_256:.2f} ms" if one else ""
        one_zh = f"，只有一个模块的 d1×w{s.width} 为 {one.latency_256:.2f} 毫秒" if one else ""
        end_en += (f" Sharing one block across {s.depth} layers cut width {s.width} from {twin.params:,} to "
                   f"{s.params:,} parameters, yet its batch-256 latency was {s.latency_256:.2f} ms (unshared "
                   f"{twin.latency_256:.2f} ms{one_en}): every layer still runs, so sharing saves memory, not compute.")
        end_zh += (f"让 {s.depth} 层共享同一个模块后，宽度 {s.width} 的参数量从 {twin.params:,} 降到 {s.params:,}，但批大小 256 "
                   f"的延迟为 {s.latency_256:.2f} 毫秒（不共享时为 {twin.latency_256:.2f} 毫秒{one_zh}）：每一层仍然要计算，"
                   "共享节省的是内存，而不是计算量。")
    return _(head_en + mid_en + end_en, head_zh + mid_zh + end_zh)


def run(cfg: Config, report: Report = silent) -> Result:
    split = data.digits(seed=cfg.seed)
    grid = [(d, w, False) for d in sorted(cfg.depths) for w in sorted(cfg.widths)]
    if cfg.share_blocks and max(cfg.depths) > 1:
        grid += [(max(cfg.depths), w, True) for w in sorted(cfg.widths)]
    members = [Member(f"d{d}×w{w}" + (" shared" if s else ""), d, w, s, num_params(Family(d, w, s)))
               for d, w, s in grid]
    trained = [train_member(m, cfg, split, part(report, m.name, i, len(members))) for i, m in enumerate(members)]
    fits = {m.name: result for m, (_model, result) in zip(members, trained)}
    models = [model for model, _result in trained]
    single, bulk = latency_ms(models, split.X_val[:1]), latency_ms(models, split.X_val[:256])
    for m, one, many in zip(members, single, bulk):
        m.latency_1, m.latency_256 = one, many
    for m, on in zip(members, pareto_front([m.params for m in members], [m.acc for m in members])):
        m.on_front = on
    chosen = choose(members, cfg.tolerance)
    largest = max(members, key=lambda m: m.params)

    metrics: dict[str, float] = {}
    for m in members:
        key = m.name.replace("×", "_").replace(" ", "_")
        metrics[f"acc_{key}"] = m.acc
        metrics[f"params_{key}"] = float(m.params)
    metrics |= {"best_acc": max(m.acc for m in members), "chosen_acc": chosen.acc,
                "chosen_params": float(chosen.params), "largest_params": float(largest.params),
                "largest_acc": largest.acc, "size_ratio": largest.params / chosen.params,
                "front_size": float(sum(m.on_front for m in members))}
    # latency is measured wall time, different on every run, so it lives in the table, charts and verdict

    def by_depth(value: str, lang: str) -> dict[str, tuple[list, list]]:
        out = {}
        for d in sorted(cfg.depths):
            own = [m for m in members if m.depth == d and not m.share]
            out[_(f"depth {d}", f"深度 {d}").get(lang)] = ([m.params for m in own], [getattr(m, value) for m in own])
        shared = [m for m in members if m.share]
        if shared:
            out[_(f"depth {shared[0].depth}, one shared block", f"深度 {shared[0].depth}，共享一个模块").get(lang)] = (
                [m.params for m in shared], [getattr(m, value) for m in shared])
        return out

    def accuracy_plot(lang: str):
        front = sorted((m for m in members if m.on_front), key=lambda m: m.params)
        series = by_depth("acc", lang)
        front_name = _("Pareto front", "帕累托前沿").get(lang)
        series[front_name] = ([m.params for m in front], [m.acc for m in front])
        return plots.lines_xy(series, _("parameters (log)", "参数量（对数）"), _("held-out accuracy", "留出集准确率"),
                              lang, log_x=True, dashes={front_name: "dot"})

    charts = [
        Chart(_("Accuracy vs parameters, with the Pareto front", "精度与参数量，以及帕累托前沿"), accuracy_plot,
              caption=_("A member is on the front when no other member is both smaller and more accurate.",
                        "如果没有任何其他成员同时更小且更准，该成员就位于帕累托前沿上。")),
        Chart(_("Measured latency at batch 1", "实测延迟（批大小 1）"),
              lambda lang: plots.lines_xy(by_depth("latency_1", lang), _("parameters (log)", "参数量（对数）"),
                                          _("ms per forward pass", "每次前向传播的毫秒数"), lang, log_x=True),
              caption=_("At batch 1 the cost is mostly per layer: depth, not parameters, sets the latency.",
                        "批大小为 1 时，开销主要按层计：决定延迟的是深度，而不是参数量。")),
        Chart(_("Measured latency at batch 256", "实测延迟（批大小 256）"),
              lambda lang: plots.lines_xy(by_depth("latency_256", lang), _("parameters (log)", "参数量（对数）"),
                                          _("ms per forward pass", "每次前向传播的毫秒数"), lang, log_x=True)),
    ]
    table = Table(_("Family members", "家族成员"),
                  {"name": _("member", "成员"), "params": _("parameters", "参数量"),
                   "formula": _("by hand: b·w² + (77 + 3b)·w + 10, b blocks", "手算：b·w² + (77 + 3b)·w + 10，b 为模块数"),
                   "acc": _("held-out accuracy", "留出集准确率"), "latency_1": _("ms at batch 1", "批大小 1 毫秒"),
                   "latency_256": _("ms at batch 256", "批大小 256 毫秒"), "front": _("on the front", "位于前沿")},
                  [{"name": m.name, "params": m.params, "formula": param_formula(m.depth, m.width, m.share),
                    "acc": round(m.acc, 4), "latency_1": round(m.latency_1, 4), "latency_256": round(m.latency_256, 3),
                    "front": m.on_front} for m in members])
    return Result(metrics, verdict(cfg, members, chosen), {n: f.history for n, f in fits.items()}, charts, [table])


DEMO = Demo(
    id="model-family",
    title=_("A scalable model family and its Pareto front", "可扩展的模型家族与帕累托前沿"),
    summary=_("One builder makes a depth × width grid of residual MLPs; accuracy against parameters with the "
              "Pareto front, and measured latency.",
              "用同一个构建函数生成深度 × 宽度的一组残差 MLP：精度与参数量的关系、帕累托前沿，以及实测延迟。"),
    category="structure",
    config=Config,
    run=run,
    smoke=dict(depths=(1, 2), widths=(8, 16), epochs=1),
    key_metric="size_ratio",
    key_label=_("how many times smaller the chosen member is than the largest",
                "所选成员比最大成员小多少倍"),
)
