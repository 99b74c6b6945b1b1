"""A scalable model family: one builder, a depth × width grid, and the accuracy–cost Pareto front.

Every member comes from `fmlab.family.make_model(depth, width)`; parameters grow like depth·width², but on an
easy task accuracy saturates early. The members worth shipping are Pareto-optimal (no other is both smaller and
more accurate); the cheapest within a point of the best is far smaller than the largest. Measured latency at
batch 1 tracks depth (layers run one after another) more than parameters, and sharing one block across layers
(`share_blocks`, ALBERT-style) cuts parameters to a one-block model's, not latency.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

import torch

from .. import data, plots
from ..cost import cheapest_within, latency_ms, pareto_front
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..family import Family, make_model, param_formula
from ..fit import evaluate, fit
from ..nets import num_params
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, same, sentences

DEPTHS = (1, 2, 3, 4, 6, 8)
WIDTHS = (8, 16, 32, 64, 128, 256)
MS_AT_BATCH = _("ms at batch {batch}", "批大小 {batch} 毫秒")


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
    epochs: int = epochs_param(5, high=40, help=_("Passes over the digits training set, the same for every member",
                                                  "遍历手写数字训练集的次数，所有成员相同"))
    lr: float = lr_param(1e-2, low=1e-4, high=3e-2, help=_("Adam's step size, the same for every member",
                                                           "Adam 的步长，所有成员相同"))
    seed: int = seed_param()


@dataclass
class Member:
    depth: int
    width: int
    share: bool
    params: int
    acc: float = 0.0
    latency_1: float = 0.0
    latency_256: float = 0.0
    on_front: bool = False

    @property
    def label(self) -> T:  # "d4×w16", or "d4×w16 shared": run name and table row
        base = f"d{self.depth}×w{self.width}"
        return _("{base} shared", "{base} 共享").format(base=base) if self.share else same(base)

    @property
    def key(self) -> str:  # "d4_w16" or "d4_w16_shared", in metric names
        return f"d{self.depth}_w{self.width}" + ("_shared" if self.share else "")


def family(cfg: Config) -> list[Member]:
    """Every (depth, width) of the grid, plus the deepest depth with one shared block if asked."""
    grid = [(d, w, False) for d in sorted(cfg.depths) for w in sorted(cfg.widths)]
    if cfg.share_blocks and max(cfg.depths) > 1:
        grid += [(max(cfg.depths), w, True) for w in sorted(cfg.widths)]
    return [Member(d, w, s, num_params(Family(d, w, s))) for d, w, s in grid]


def train_member(member: Member, cfg: Config, split: data.Split, report: Report) -> Family:
    """Train one member with the family's shared recipe; records its held-out accuracy."""
    model = make_model(member.depth, member.width, member.share, cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    fit(model, opt, (split.X_train, split.y_train), epochs=cfg.epochs, batch_size=128, seed=cfg.seed, report=report)
    member.acc = evaluate(model, split.X_val, split.y_val)["acc"]
    return model


def measure(members: list[Member], models: list[Family], X: torch.Tensor) -> None:
    """Record each member's latency at batch 1 and 256, and whether it is on the accuracy–parameters front."""
    for m, one, many, on in zip(members, latency_ms(models, X[:1]), latency_ms(models, X[:256]),
                                pareto_front([m.params for m in members], [m.acc for m in members])):
        m.latency_1, m.latency_256, m.on_front = one, many, on


def collect(members: list[Member], chosen: Member) -> Metrics:
    """Each member's accuracy and parameters; the chosen, best, smallest and largest members."""
    largest = max(members, key=lambda m: m.params)
    metrics = {f"acc_{m.key}": m.acc for m in members} | {f"params_{m.key}": float(m.params) for m in members}
    # latency is measured wall time, different on every run, so it lives in the table, charts and verdict
    return metrics | {"best_acc": max(m.acc for m in members), "chosen_acc": chosen.acc,
                      "chosen_params": float(chosen.params), "largest_params": float(largest.params),
                      "smallest_params": float(min(m.params for m in members)), "largest_acc": largest.acc,
                      "size_ratio": largest.params / chosen.params,
                      "front_size": float(sum(m.on_front for m in members))}


def verdict(cfg: Config, members: list[Member], chosen: Member) -> T:
    """The family's span, the member worth shipping, and what latency tracks."""
    best, largest = max(members, key=lambda m: m.acc), max(members, key=lambda m: m.params)
    ratio = largest.params / chosen.params
    return sentences(
        _("{count} members from one builder, {smallest:,} to {largest:,} parameters. Best accuracy {best:.1%} "
          "({name}); the largest reached {largest_acc:.1%}.",
          "同一个构建函数生成了 {count} 个成员，参数量从 {smallest:,} 到 {largest:,}。最佳精度 {best:.1%}（{name}）；"
          "最大的模型为 {largest_acc:.1%}。")
        .format(count=len(members), smallest=min(m.params for m in members), largest=largest.params, best=best.acc,
                name=best.label, largest_acc=largest.acc),
        _("The cheapest member within {tol:.1%} of the best is {name} with {params:,} parameters ({acc:.1%}), {size}.",
          "与最佳精度相差不超过 {tol:.1%} 的成员中，最便宜的是 {name}，{params:,} 个参数（{acc:.1%}），{size}。").format(
            tol=cfg.tolerance, name=chosen.label, params=chosen.params, acc=chosen.acc,
            size=_("{ratio:.0f}× smaller than the largest", "只有最大模型的 1/{ratio:.0f}").format(ratio=ratio)
            if chosen is not largest else _("the largest member itself", "也就是最大的成员")),
        _("Accuracy saturated early: extra parameters bought almost nothing.", "精度很早就饱和了：多出来的参数几乎换不来精度。")
        if ratio >= 4 else _("Here accuracy kept rising with size: train longer or shrink the grid to see it saturate.",
                             "本次精度随规模持续上升：增加训练轮数或缩小网格，可以看到饱和。"),
        latency_by_depth(cfg, members), sharing(members),
    )


def latency_by_depth(cfg: Config, members: list[Member]) -> T:
    """Mean batch-1 latency of the deepest and the shallowest unshared members."""
    deep, shallow = max(cfg.depths), min(cfg.depths)
    ms = {d: statistics.mean(m.latency_1 for m in members if m.depth == d and not m.share) for d in (shallow, deep)}
    return _("At batch 1, depth-{deep} members took {deep_ms:.3f} ms on average and depth-{shallow} members "
             "{shallow_ms:.3f} ms, whatever their width: layers run one after another, so measure latency.",
             "批大小为 1 时，深度 {deep} 的成员平均耗时 {deep_ms:.3f} 毫秒，深度 {shallow} 的成员 {shallow_ms:.3f} 毫秒，"
             "与宽度关系不大：各层只能依次计算，所以延迟要实测。").format(
        deep=deep, shallow=shallow, deep_ms=ms[deep], shallow_ms=ms[shallow])


def sharing(members: list[Member]) -> T | None:
    """What sharing one block did to the widest shared member's parameters and batch-256 latency."""
    s = max((m for m in members if m.share), key=lambda m: m.width, default=None)
    if s is None:
        return None
    twin = next(m for m in members if not m.share and m.depth == s.depth and m.width == s.width)
    one = next((m for m in members if m.depth == 1 and m.width == s.width), None)
    one_block = (_(", the one-block {name} {ms:.2f} ms", "，只有一个模块的 {name} 为 {ms:.2f} 毫秒")
                 .format(name=one.label, ms=one.latency_256) if one else same(""))
    return _("Sharing one block across {depth} layers cut width {width} from {unshared:,} to {params:,} parameters, "
             "yet its batch-256 latency was {ms:.2f} ms (unshared {twin_ms:.2f} ms{one}): every layer still runs, "
             "so sharing saves memory, not compute.",
             "让 {depth} 层共享同一个模块后，宽度 {width} 的参数量从 {unshared:,} 降到 {params:,}，但批大小 256 的延迟为 "
             "{ms:.2f} 毫秒（不共享时为 {twin_ms:.2f} 毫秒{one}）：每一层仍然要计算，共享节省的是内存，而不是计算量。").format(
        depth=s.depth, width=s.width, unshared=twin.params, params=s.params, ms=s.latency_256,
        twin_ms=twin.latency_256, one=one_block)


def lesson(m: Metrics) -> bool | None:
    """In a grid spanning 4×+ in parameters, the cheapest member within tolerance is 4×+ smaller than the largest."""
    return m["size_ratio"] >= 4 if m["largest_params"] >= 4 * m["smallest_params"] else None


CLAIM = Claim(
    _("accuracy saturates early, so the cheapest member within the tolerance of the best is at least 4× smaller "
      "than the largest",
      "精度很早就饱和，因此与最佳精度相差在容忍范围内的最便宜成员，比最大的成员至少小 4 倍"),
    lesson,
)


def run(cfg: Config, report: Report = silent) -> Result:
    """Train every member of the depth × width grid on digits; find the Pareto front and the member to ship."""
    split = data.digits(seed=cfg.seed)
    members = family(cfg)
    models = [train_member(m, cfg, split, part(report, m.label, i, len(members))) for i, m in enumerate(members)]
    measure(members, models, split.X_val)
    chosen = members[cheapest_within([m.params for m in members], [m.acc for m in members], cfg.tolerance)]
    metrics = collect(members, chosen)
    told = sentences(verdict(cfg, members, chosen), CLAIM.verdict(metrics))
    return Result(metrics, told, charts(members), [table(members)])


def by_depth(members: list[Member], value: str, lang: str) -> dict[str, tuple[list, list]]:
    """(parameters, `value`) of the members, one series per depth (the shared-block members apart)."""
    out: dict[str, tuple[list, list]] = {}
    for d, share in dict.fromkeys((m.depth, m.share) for m in members):  # in family order, shared last
        name = (_("depth {d}, one shared block", "深度 {d}，共享一个模块") if share else _("depth {d}", "深度 {d}"))
        group = [m for m in members if (m.depth, m.share) == (d, share)]
        out[name.format(d=d).get(lang)] = ([m.params for m in group], [getattr(m, value) for m in group])
    return out


def charts(members: list[Member]) -> list[Chart]:
    """Accuracy against parameters with the front; latency at batch 1 and 256."""
    front = sorted((m for m in members if m.on_front), key=lambda m: m.params)

    def accuracy_plot(lang: str):
        name = _("Pareto front", "帕累托前沿").get(lang)
        series = by_depth(members, "acc", lang) | {name: ([m.params for m in front], [m.acc for m in front])}
        return plots.lines_xy(series, plots.PARAMETERS_LOG, plots.HELD_OUT_ACCURACY, lang, log_x=True,
                              dashes={name: "dot"})

    def latency_chart(batch: int, caption: T | None = None) -> Chart:
        return Chart(_("Measured latency at batch {batch}", "实测延迟（批大小 {batch}）").format(batch=batch),
                     lambda lang: plots.lines_xy(by_depth(members, f"latency_{batch}", lang), plots.PARAMETERS_LOG,
                                                 _("ms per forward pass", "每次前向传播的毫秒数"), lang, log_x=True),
                     caption=caption)

    return [
        Chart(_("Accuracy vs parameters, with the Pareto front", "精度与参数量，以及帕累托前沿"), accuracy_plot,
              caption=_("A member is on the front when no other member is both smaller and more accurate.",
                        "如果没有任何其他成员同时更小且更准，该成员就位于帕累托前沿上。")),
        latency_chart(1, _("At batch 1 the cost is mostly per layer: depth, not parameters, sets the latency.",
                           "批大小为 1 时，开销主要按层计：决定延迟的是深度，而不是参数量。")),
        latency_chart(256),
    ]


def table(members: list[Member]) -> Table:
    """One row per member: parameters (counted and by hand), accuracy, latency, on the front."""
    return Table(_("Family members", "家族成员"),
                 {"name": _("member", "成员"), "params": plots.PARAMETERS,
                  "formula": _("by hand: b·w² + (77 + 3b)·w + 10, b blocks", "手算：b·w² + (77 + 3b)·w + 10，b 为模块数"),
                  "acc": plots.HELD_OUT_ACCURACY, "latency_1": MS_AT_BATCH.format(batch=1),
                  "latency_256": MS_AT_BATCH.format(batch=256), "front": _("on the front", "位于前沿")},
                 [{"name": m.label, "params": m.params, "formula": param_formula(m.depth, m.width, m.share),
                   "acc": round(m.acc, 4), "latency_1": round(m.latency_1, 4), "latency_256": round(m.latency_256, 3),
                   "front": m.on_front} for m in members])


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
    key_label=_("how many times smaller the chosen member is than the largest", "所选成员比最大成员小多少倍"),
    claim=CLAIM,
)
