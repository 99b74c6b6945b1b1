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
from ..demo import Chart, Demo, Report, Result, Table, part, silent
from ..fit import Fit, fit
from ..nets import MLP, init_weights
from ..params import DemoConfig, param
from ..text import T, _

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
    epochs: int = param(10, low=1, high=40, label=_("Epochs", "训练轮数"),
                        help=_("Passes over the digits training set", "遍历手写数字训练集的次数"))
    lr: float = param(1e-3, low=1e-5, high=1e-1, log=True, label=_("Learning rate (Adam)", "学习率（Adam）"),
                      help=_("Adam's step size, the same for every variant", "Adam 的步长，所有变体相同"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run", "相同种子，相同结果"))


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


def verdict(cfg: Config, finals: dict[str, float], accs: dict[str, float], grad_norms: dict[str, list[float]]) -> T:
    """Compare variants at the deepest depth, and the plain net's loss across depths."""
    deep = max(cfg.depths)
    at_deep = {v: finals[f"{v} d{deep}"] for v in cfg.variants}
    best = min(at_deep, key=lambda v: at_deep[v] if np.isfinite(at_deep[v]) else np.inf)
    parts_en = [f"At depth {deep}: " + ", ".join(f"{v} loss {at_deep[v]:.3f} (acc {accs[f'{v} d{deep}']:.1%})"
                                                 for v in cfg.variants) + "."]
    parts_zh = ["深度 " + str(deep) + " 时：" + "，".join(f"{v} 损失 {at_deep[v]:.3f}（准确率 {accs[f'{v} d{deep}']:.1%}）"
                                                       for v in cfg.variants) + "。"]
    stalled = [v for v in cfg.variants if at_deep[v] > 0.8 * np.log(10)]  # still near chance: ln 10 ≈ 2.30
    if stalled:
        parts_en.append(f"{', '.join(stalled)} stalled near the chance loss ln 10 ≈ 2.30.")
        parts_zh.append(f"{'、'.join(stalled)} 停滞在随机猜测的损失 ln 10 ≈ 2.30 附近。")
    ratios = {v: first_to_last(grad_norms[f"{v} d{deep}"]) for v in cfg.variants}
    parts_en.append("At step 0 the last layer's gradient was " + ", ".join(
        f"{ratios[v]:.3g}× the first layer's in {v}" for v in cfg.variants) + ".")
    parts_zh.append("第 0 步时最后一层的梯度是第一层的：" + "，".join(f"{v} {ratios[v]:.3g} 倍" for v in cfg.variants) + "。")
    parts_en.append(f"{best} trained best.")
    parts_zh.append(f"{best} 训练效果最好。")
    if "plain" in cfg.variants and len(cfg.depths) > 1:
        shallow = min(cfg.depths)
        parts_en.append(f"The plain net's loss went from {finals[f'plain d{shallow}']:.3f} at depth {shallow} "
                        f"to {finals[f'plain d{deep}']:.3f} at depth {deep}: more layers made it worse, not better.")
        parts_zh.append(f"普通网络的损失从深度 {shallow} 的 {finals[f'plain d{shallow}']:.3f} 变为深度 {deep} 的 "
                        f"{finals[f'plain d{deep}']:.3f}：层数越多反而越差。")
    return T(" ".join(parts_en), " ".join(parts_zh))


def run(cfg: Config, report: Report = silent) -> Result:
    """Train every (variant, depth) pair on digits; measure step-0 gradient norms per layer."""
    split = data.digits(seed=cfg.seed)
    jobs = [(v, d) for d in sorted(cfg.depths) for v in cfg.variants]
    runs: dict[str, Fit] = {}
    grad_norms: dict[str, list[float]] = {}
    for i, (variant, depth) in enumerate(jobs):
        name = f"{variant} d{depth}"
        model = build(variant, depth, cfg.width, cfg.seed)
        grad_norms[name] = layer_grad_norms(model, split.X_train[:256], split.y_train[:256])
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        runs[name] = fit(model, opt, (split.X_train, split.y_train), epochs=cfg.epochs, batch_size=64,
                         val=(split.X_val, split.y_val), seed=cfg.seed, report=part(report, name, i, len(jobs)))

    finals = {n: final_loss(r) for n, r in runs.items()}
    accs = {n: r.final("val_acc") for n, r in runs.items()}
    metrics = {f"loss_{n.replace(' ', '_')}": v for n, v in finals.items()}
    metrics |= {f"acc_{n.replace(' ', '_')}": v for n, v in accs.items()}
    deep = max(cfg.depths)
    metrics |= {f"grad_ratio_{v}_d{deep}": first_to_last(grad_norms[f"{v} d{deep}"]) for v in cfg.variants}
    metrics["deepest_best_acc"] = max(accs[f"{v} d{deep}"] for v in cfg.variants)

    dashes = {n: "dot" if n.startswith("plain") else "solid" for n in runs}
    deepest = {n: g for n, g in grad_norms.items() if n.endswith(f"d{deep}")}
    charts = [
        Chart(_("Training loss", "训练损失"),
              lambda lang: plots.curves({n: r.history["loss"] for n, r in runs.items()}, _("step", "步数"),
                                        _("loss (log)", "损失（对数）"), lang, log_y=True, dashes=dashes)),
        Chart(_(f"Gradient norm per layer at step 0, depth {deep}", f"第 0 步各层梯度范数（深度 {deep}）"),
              lambda lang: plots.curves(deepest, _("layer (input → output)", "层（输入 → 输出）"),
                                        _("‖∂loss/∂W‖ (log)", "‖∂loss/∂W‖（对数）"), lang, log_y=True, dashes=dashes),
              caption=_("Plain: the gradient shrinks layer by layer on its way back to the input.",
                        "普通网络：梯度在反向传回输入的途中逐层缩小。")),
        Chart(_("Final training loss vs depth", "最终训练损失与深度"),
              lambda lang: plots.lines_xy({v: (sorted(cfg.depths), [finals[f"{v} d{d}"] for d in sorted(cfg.depths)])
                                           for v in cfg.variants}, _("depth (hidden blocks)", "深度（隐藏块数）"),
                                          _("final loss", "最终损失"), lang)),
    ]
    table = Table(_("Summary", "汇总"),
                  {"variant": _("variant", "变体"), "depth": _("depth", "深度"), "loss": _("final loss", "最终损失"),
                   "acc": _("val accuracy", "验证准确率")},
                  [{"variant": v, "depth": d, "loss": round(finals[f"{v} d{d}"], 4), "acc": round(accs[f"{v} d{d}"], 4)}
                   for v, d in jobs])
    return Result(metrics, verdict(cfg, finals, accs, grad_norms), {n: r.history for n, r in runs.items()}, charts,
                  [table])


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
)
