"""Plain vs residual networks at growing depth, with and without BatchNorm.

Every variant is the same MLP on handwritten digits; only the identity shortcut
(y = x + F(x)) and BatchNorm are toggled. Deep plain stacks stall because the gradient
reaching the early layers vanishes; the shortcut gives it a path straight back.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import data, plots
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..fit import Fit, fit
from ..nets import MLP, init_weights
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, join, names, same, sentences

VARIANTS = ("plain", "plain+bn", "residual", "residual+bn")
VARIANT_NAMES = {"plain": _("plain", "普通"), "plain+bn": _("plain + BatchNorm", "普通 + BatchNorm"),
                 "residual": _("residual", "残差"), "residual+bn": _("residual + BatchNorm", "残差 + BatchNorm")}
DEPTHS = (2, 5, 10, 20, 30, 40)


@dataclass(frozen=True)
class Config(DemoConfig):
    variants: tuple = param(("plain", "residual"), choices=VARIANTS, choice_labels=VARIANT_NAMES,
                            label=_("Variants", "网络变体"),
                            help=_("Plain or residual blocks, each with or without BatchNorm",
                                   "普通块或残差块，可选是否带 BatchNorm"))
    depths: tuple = param((2, 10, 20), choices=DEPTHS, label=_("Depths", "深度"),
                          help=_("Numbers of hidden blocks to compare", "要比较的隐藏块数量"))
    width: int = param(64, low=16, high=256, label=_("Width", "宽度"),
                       help=_("Units per hidden layer", "每个隐藏层的神经元数"))
    epochs: int = epochs_param(10, high=40, help=_("Passes over the digits training set", "遍历手写数字训练集的次数"))
    lr: float = lr_param(1e-3, low=1e-5, high=1e-1,
                         help=_("Adam's step size, the same for every variant", "Adam 的步长，所有变体相同"))
    seed: int = seed_param()


def build(variant: str, depth: int, width: int, seed: int) -> MLP:
    """The MLP for `variant` ("plain", "residual", optionally "+bn") with `depth` hidden blocks."""
    model = MLP(64, 10, width=width, depth=depth, batchnorm=variant.endswith("+bn"),
                residual=variant.startswith("residual"))
    return init_weights(model, seed)


def layer_grad_norms(model: MLP, X: torch.Tensor, y: torch.Tensor) -> list[float]:
    """‖∂loss/∂W‖ for each weight layer, input to output, from one batch before any training."""
    model.zero_grad()
    F.cross_entropy(model(X), y).backward()
    norms = [layer.weight.grad.norm().item() for layer in model.linears()]
    model.zero_grad()
    return norms


def final_loss(run: Fit) -> float:
    """Mean training loss over the last 10% of steps (NaN if the run diverged)."""
    return run.mean_loss(max(1, len(run.history["loss"]) // 10))


def first_to_last(norms: list[float]) -> float:
    """How much smaller the first layer's gradient is than the last layer's."""
    return norms[-1] / max(norms[0], 1e-30)


def verdict(cfg: Config, finals: dict[str, float], accs: dict[str, float], ratios: dict[str, float]) -> T:
    """Compare variants at the deepest depth, and the plain net's loss across depths."""
    deep = max(cfg.depths)
    at_deep = {v: finals[f"{v} d{deep}"] for v in cfg.variants}
    best = min(at_deep, key=lambda v: at_deep[v] if np.isfinite(at_deep[v]) else np.inf)
    each = join(_("{name} loss {loss:.3f} (acc {acc:.1%})", "{name} 损失 {loss:.3f}（准确率 {acc:.1%}）")
                .format(name=VARIANT_NAMES[v], loss=at_deep[v], acc=accs[f"{v} d{deep}"]) for v in cfg.variants)
    stalled = [VARIANT_NAMES[v] for v in cfg.variants if at_deep[v] > 0.8 * np.log(10)]  # chance: ln 10 ≈ 2.30
    grads = join(_("{ratio:.3g}× in {name}", "{name} 为 {ratio:.3g} 倍").format(ratio=ratios[v], name=VARIANT_NAMES[v])
                 for v in cfg.variants)
    return sentences(
        _("At depth {deep}: {each}.", "深度 {deep} 时：{each}。").format(deep=deep, each=each),
        _("{names} stalled near the chance loss ln 10 ≈ 2.30.", "{names} 停滞在随机猜测的损失 ln 10 ≈ 2.30 附近。")
        .format(names=names(stalled)) if stalled else None,
        _("At step 0 the last layer's gradient was this many times the first layer's: {grads}.",
          "第 0 步时最后一层的梯度是第一层的：{grads}。").format(grads=grads),
        _("{best} trained best.", "{best} 训练效果最好。").format(best=VARIANT_NAMES[best]),
        plain_across_depths(cfg, finals),
    )


def plain_across_depths(cfg: Config, finals: dict[str, float]) -> T | None:
    """How the plain net's loss changed from the shallowest to the deepest depth."""
    if "plain" not in cfg.variants or len(cfg.depths) < 2:
        return None
    shallow, deep = min(cfg.depths), max(cfg.depths)
    worse = finals[f"plain d{deep}"] > finals[f"plain d{shallow}"]
    return _("The plain net's loss went from {a:.3f} at depth {shallow} to {b:.3f} at depth {deep}{so}.",
             "普通网络的损失从深度 {shallow} 的 {a:.3f} 变为深度 {deep} 的 {b:.3f}{so}。").format(
        a=finals[f"plain d{shallow}"], b=finals[f"plain d{deep}"], shallow=shallow, deep=deep,
        so=_(": more layers made it worse, not better", "：层数越多反而越差") if worse else same(""))


def lesson(m: Metrics) -> bool | None:
    """At depth 20 or more, the residual net's loss is under half the plain net's."""
    deep = int(m["depth_deepest"])
    if deep < 20:
        return None
    return m[f"loss_residual_d{deep}"] < 0.5 * m[f"loss_plain_d{deep}"]


CLAIM = Claim(
    _("at 20+ hidden blocks the plain net stalls while the residual net trains to under half its loss",
      "20 个以上隐藏块时普通网络停滞不前，而残差网络的损失降到它的一半以下"),
    lesson,
)


def train_all(cfg: Config, split: data.Split, report: Report) -> tuple[dict[str, Fit], dict[str, list[float]]]:
    """Train every (variant, depth) pair; measure each net's per-layer gradient norms at step 0."""
    jobs = [(v, d) for d in sorted(cfg.depths) for v in cfg.variants]
    runs: dict[str, Fit] = {}
    grad_norms: dict[str, list[float]] = {}
    for i, (variant, depth) in enumerate(jobs):
        name = f"{variant} d{depth}"
        model = build(variant, depth, cfg.width, cfg.seed)
        grad_norms[name] = layer_grad_norms(model, split.X_train[:256], split.y_train[:256])
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        label = _("{variant}, depth {depth}", "{variant}，深度 {depth}").format(variant=VARIANT_NAMES[variant],
                                                                              depth=depth)
        runs[name] = fit(model, opt, (split.X_train, split.y_train), epochs=cfg.epochs, batch_size=64,
                         val=(split.X_val, split.y_val), seed=cfg.seed, report=part(report, label, i, len(jobs)))
    return runs, grad_norms


def run(cfg: Config, report: Report = silent) -> Result:
    """Train every (variant, depth) pair on digits; compare losses and step-0 gradient norms per layer."""
    split = data.digits(seed=cfg.seed)
    runs, grad_norms = train_all(cfg, split, report)
    deep = max(cfg.depths)
    finals = {n: final_loss(r) for n, r in runs.items()}
    accs = {n: r.final("val_acc") for n, r in runs.items()}
    ratios = {v: first_to_last(grad_norms[f"{v} d{deep}"]) for v in cfg.variants}

    metrics = {f"loss_{n.replace(' ', '_')}": v for n, v in finals.items()}
    metrics |= {f"acc_{n.replace(' ', '_')}": v for n, v in accs.items()}
    metrics |= {f"grad_ratio_{v}_d{deep}": r for v, r in ratios.items()}
    metrics["deepest_best_acc"] = max(accs[f"{v} d{deep}"] for v in cfg.variants)
    metrics["depth_deepest"] = float(deep)

    told = sentences(verdict(cfg, finals, accs, ratios), CLAIM.verdict(metrics))
    return Result(metrics, told, charts(cfg, runs, grad_norms, finals), [summary(cfg, finals, accs)])


def charts(cfg: Config, runs: dict[str, Fit], grad_norms: dict[str, list[float]],
           finals: dict[str, float]) -> list[Chart]:
    """Loss curves, step-0 gradient norm per layer at the deepest depth, final loss against depth."""
    deep, depths = max(cfg.depths), sorted(cfg.depths)
    dashes = {n: "dot" if n.startswith("plain") else "solid" for n in runs}
    deepest = {n: g for n, g in grad_norms.items() if n.endswith(f"d{deep}")}
    return [
        Chart(_("Training loss", "训练损失"),
              lambda lang: plots.curves({n: r.history["loss"] for n, r in runs.items()}, plots.STEP,
                                        plots.LOSS_LOG, lang, log_y=True, dashes=dashes)),
        Chart(_("Gradient norm per layer at step 0, depth {deep}", "第 0 步各层梯度范数（深度 {deep}）").format(deep=deep),
              lambda lang: plots.curves(deepest, _("layer (input → output)", "层（输入 → 输出）"),
                                        _("‖∂loss/∂W‖ (log)", "‖∂loss/∂W‖（对数）"), lang, log_y=True, dashes=dashes),
              caption=_("Plain: the gradient shrinks layer by layer on its way back to the input.",
                        "普通网络：梯度在反向传回输入的途中逐层缩小。")),
        Chart(_("Final training loss vs depth", "最终训练损失与深度"),
              lambda lang: plots.lines_xy({v: (depths, [finals[f"{v} d{d}"] for d in depths]) for v in cfg.variants},
                                          _("depth (hidden blocks)", "深度（隐藏块数）"), plots.FINAL_LOSS, lang)),
    ]


def summary(cfg: Config, finals: dict[str, float], accs: dict[str, float]) -> Table:
    """One row per (variant, depth): final loss and val accuracy."""
    return Table(plots.SUMMARY,
                 {"variant": _("variant", "变体"), "depth": _("depth", "深度"), "loss": plots.FINAL_LOSS,
                  "acc": plots.VAL_ACCURACY},
                 [{"variant": v, "depth": d, "loss": round(finals[f"{v} d{d}"], 4), "acc": round(accs[f"{v} d{d}"], 4)}
                  for d in sorted(cfg.depths) for v in cfg.variants])


DEMO = Demo(
    id="residual-depth",
    title=_("Residual connections and depth", "残差连接与网络深度"),
    summary=_("Plain vs residual MLPs (BatchNorm on/off) at growing depth: loss curves and per-layer gradients.",
              "不同深度下普通网络与残差网络（可选 BatchNorm）的对比：损失曲线与逐层梯度。"),
    category="structure",
    config=Config,
    run=run,
    smoke=dict(depths=(2, 5), epochs=1),
    key_metric="deepest_best_acc",
    key_label=_("best val accuracy at the greatest depth", "最大深度下的最佳验证准确率"),
    claim=CLAIM,
)
