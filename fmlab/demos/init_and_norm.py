"""Weight initialisation and normalisation, seen through per-layer activation and gradient statistics.

Each hidden layer multiplies the activation std by √(fan_in · Var(w) · ½) under ReLU (see `initialisation`):
He keeps it at 1, a fixed small std shrinks the signal until it vanishes, std 1 blows it up. A BatchNorm or
LayerNorm after every linear layer re-scales each layer's output to unit variance, so the forward signal no
longer depends on the weight scale (which still sets each SGD step's relative size).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .. import data, plots
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..fit import Fit, fit
from ..initialisation import (INITS, DeepMLP, activation_stds, gradient_norms, initialise, layer_gain, predicted_gain,
                              weight_std)
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, join, same, sentences

INIT_NAMES = {"small": _("N(0, 0.01²), too small", "N(0, 0.01²)，过小"), "xavier": _("Xavier-uniform", "Xavier 均匀分布"),
              "he": _("Kaiming/He-normal", "Kaiming/He 正态分布"), "large": _("N(0, 1), too large", "N(0, 1)，过大"),
              "pytorch": _("PyTorch's nn.Linear default", "PyTorch nn.Linear 默认初始化")}
SHORT_NAMES = {"small": same("N(0, 0.01²)"), "xavier": same("Xavier"), "he": same("He"), "large": same("N(0, 1)"),
               "pytorch": _("PyTorch default", "PyTorch 默认")}
NORMS = ("none", "batchnorm", "layernorm")
NORM_NAMES = {"none": _("no normalisation", "无归一化"), "batchnorm": _("BatchNorm", "BatchNorm"),
              "layernorm": _("LayerNorm", "LayerNorm")}
ACTIVATIONS = ("relu", "tanh")
CHANCE_LOSS = math.log(10)  # cross-entropy of a uniform guess over 10 digits


@dataclass(frozen=True)
class Config(DemoConfig):
    inits: tuple = param(("small", "xavier", "he", "large"), choices=INITS, choice_labels=INIT_NAMES,
                         label=_("Initialisations", "初始化方式"),
                         help=_("Weight initialisations to compare (biases start at 0)", "要比较的权重初始化方式（偏置均为 0）"))
    norms: tuple = param(("none", "batchnorm"), choices=NORMS, choice_labels=NORM_NAMES,
                         label=_("Normalisation", "归一化"),
                         help=_("Train every initialisation with each of these after every linear layer",
                                "每种初始化分别搭配这些归一化层（放在每个线性层之后）训练"))
    activation: str = param("relu", choices=ACTIVATIONS, label=_("Activation", "激活函数"),
                            help=_("ReLU (He's case) or tanh (Xavier's case)", "ReLU（He 初始化的情形）或 tanh（Xavier 的情形）"))
    depth: int = param(10, low=2, high=30, label=_("Hidden layers", "隐藏层数"),
                       help=_("Linear + activation layers before the output layer", "输出层之前的“线性层 + 激活”层数"))
    width: int = param(128, low=16, high=512, label=_("Width", "宽度"),
                       help=_("Units per hidden layer", "每个隐藏层的神经元数"))
    epochs: int = epochs_param(3, high=30, help=_("Passes over the digits training set", "遍历手写数字训练集的次数"))
    lr: float = lr_param(0.05, low=1e-4, high=0.5, optimizer="SGD",
                         help=_("SGD with momentum 0.9, the same for every run", "所有训练组共用的动量 SGD（动量 0.9）学习率"))
    seed: int = seed_param()


def build(init: str, norm: str, cfg: Config, in_dim: int) -> DeepMLP:
    """The (init, norm) network: every linear layer initialised in turn from one generator seeded by cfg.seed."""
    model = DeepMLP(in_dim, 10, cfg.depth, cfg.width, norm, cfg.activation)
    g = torch.Generator().manual_seed(cfg.seed)
    for layer in model.weight_layers():
        initialise(layer, init, g)
    return model


def standardise(split: data.Split) -> tuple[Tensor, Tensor]:
    """Inputs scaled to zero mean and unit std per pixel, with training-set statistics."""
    mean, std = split.X_train.mean(0), split.X_train.std(0) + 1e-6
    return (split.X_train - mean) / std, (split.X_val - mean) / std


def final_loss(run: Fit) -> float:
    """Mean training loss over the last epoch (NaN if the run diverged)."""
    return run.mean_loss(max(1, len(run.history["loss"]) // max(1, len(run.history["val_acc"]))))


def run_name(init: str, norm: str) -> T:
    """A short label such as "He + BatchNorm"."""
    if norm == "none":
        return SHORT_NAMES[init]
    return same("{init} + {norm}").format(init=SHORT_NAMES[init], norm=NORM_NAMES[norm])


def lesson(m: Metrics) -> bool:
    """Small and large inits fail while He trains; with BatchNorm both bad ones reach under half the chance loss."""
    failed = m["loss_small_none"] > 0.8 * CHANCE_LOSS and not m["loss_large_none"] < 0.8 * CHANCE_LOSS  # NaN: failed
    return (failed and m["loss_he_none"] < 0.5 * CHANCE_LOSS
            and max(m["loss_small_batchnorm"], m["loss_large_batchnorm"]) < 0.5 * CHANCE_LOSS)


CLAIM = Claim(
    _("without normalisation the too-small and too-large initialisations fail to train while He trains, "
      "and BatchNorm after every linear layer lets both bad ones train",
      "没有归一化时，过小和过大的初始化都训练不起来而 He 初始化可以；在每个线性层后加 BatchNorm，两种坏的初始化也都能训练"),
    lesson,
    fragile=_("The failures need depth: with a few hidden layers even a bad initialisation trains.",
              "失败需要足够的深度：隐藏层少时，坏的初始化也能训练。"),
)


def verdict(cfg: Config, m: Metrics) -> T:
    """Each init's measured per-layer gain against its formula and the std it reached, then the final losses."""
    gains = join(_("{name} ×{gain:.3g} (predicted {predicted:.3g}; std {std:.2g} after layer {depth})",
                   "{name} ×{gain:.3g}（理论值 {predicted:.3g}；第 {depth} 层之后标准差 {std:.2g}）")
                 .format(name=SHORT_NAMES[i], gain=m[f"layer_gain_{i}"], std=m[f"act_std_last_{i}"], depth=cfg.depth,
                         predicted=predicted_gain(i, cfg.width, cfg.activation)) for i in cfg.inits)
    losses = join(same("{name} {loss:.3g}").format(name=SHORT_NAMES[i], loss=m[f"loss_{i}_none"])
                  for i in cfg.inits if "none" in cfg.norms)
    worst = {n: max(m[f"loss_{i}_{n}"] if np.isfinite(m[f"loss_{i}_{n}"]) else np.inf for i in cfg.inits)
             for n in cfg.norms if n != "none"}
    return sentences(
        _("At initialisation ({base}, input std {input:.2f}), each hidden layer multiplied the activation std by: "
          "{gains}; the prediction is {formula}.",
          "初始化时（{base}，输入标准差 {input:.2f}），每个隐藏层把激活标准差乘以：{gains}；理论值为 {formula}。").format(
            base=NORM_NAMES[cfg.norms[0]], input=m["input_std"], gains=gains,
            formula=same("√(fan_in·Var(w)/2)" if cfg.activation == "relu" else "√(fan_in·Var(w))")),
        _("Final training loss without normalisation: {losses} (chance is {chance:.2f}; nan = diverged).",
          "无归一化时的最终训练损失：{losses}（随机猜测为 {chance:.2f}；nan 表示发散）。")
        .format(losses=losses, chance=CHANCE_LOSS) if "none" in cfg.norms else None,
        *(_("With {norm} after every linear layer the worst of them ended at {worst:.3g}.",
            "在每个线性层后加上 {norm}，其中最差的一组最终损失为 {worst:.3g}。").format(norm=NORM_NAMES[n], worst=w)
          for n, w in worst.items()),
        CLAIM.verdict(m),
    )


@dataclass
class Probe:
    """One (init, norm) network: its per-layer activation stds and gradient norms at step 0, and its training run."""
    stds: list[float]
    grads: list[float]
    fit: Fit


def run(cfg: Config, report: Report = silent) -> Result:
    """Measure step-0 statistics for every (init, norm), then train each with momentum SGD."""
    split = data.digits(seed=cfg.seed)
    X_train, X_val = standardise(split)
    X_probe, y_probe = X_train[:256], split.y_train[:256]  # (256, 64), (256,): the step-0 batch
    jobs = [(i, n) for n in cfg.norms for i in cfg.inits]
    probes: dict[tuple[str, str], Probe] = {}
    for k, (init, norm) in enumerate(jobs):
        model = build(init, norm, cfg, X_train.shape[1])
        stds, grads = activation_stds(model, X_probe), gradient_norms(model, X_probe, y_probe)
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
        trained = fit(model, opt, (X_train, split.y_train), epochs=cfg.epochs, batch_size=64, val=(X_val, split.y_val),
                      seed=cfg.seed, report=part(report, run_name(init, norm), k, len(jobs)))
        probes[init, norm] = Probe(stds, grads, trained)

    metrics = {"input_std": X_probe.std().item()}
    for init in cfg.inits:  # step-0 statistics under the first normalisation chosen
        p = probes[init, cfg.norms[0]]
        metrics |= {f"act_std_last_{init}": p.stds[-1], f"grad_first_{init}": p.grads[0],
                    f"layer_gain_{init}": layer_gain(p.stds)}
    for (init, norm), p in probes.items():
        metrics |= {f"loss_{init}_{norm}": final_loss(p.fit),
                    f"acc_{init}_{norm}": math.nan if p.fit.diverged else p.fit.final("val_acc")}
    accs = [v for k, v in metrics.items() if k.startswith("acc_") and math.isfinite(v)]
    metrics["best_acc"] = max(accs, default=math.nan)
    return Result(metrics, verdict(cfg, metrics), charts(probes), [summary(cfg, probes, metrics)])


def charts(probes: dict[tuple[str, str], Probe]) -> list[Chart]:
    """Per-layer activation std and gradient norm at step 0, and the training loss, one line per run."""
    along = _("{layer} (input → output)", "{layer}（输入 → 输出）")
    dashes = {run_name(i, n).get(lang): "solid" if n == "none" else "dot" for i, n in probes for lang in ("en", "zh")}

    def per_run(values, x: T, y: T, lang: str):
        return plots.curves({run_name(i, n).get(lang): values(p) for (i, n), p in probes.items()}, x, y, lang,
                            log_y=True, dashes=dashes)

    return [
        Chart(_("Activation std per layer at initialisation", "初始化时各层激活值的标准差"),
              lambda lang: per_run(lambda p: p.stds, along.format(layer=_("hidden layer", "隐藏层")),
                                   _("std (log)", "标准差（对数）"), lang),
              caption=_("Solid: no normalisation; dotted: with it. He stays flat under ReLU; the fixed-std inits "
                        "shrink or grow by the same factor at every layer.",
                        "实线：无归一化；点线：有归一化。ReLU 下 He 初始化保持水平；固定标准差的初始化每层按相同倍数缩小或放大。")),
        Chart(_("Gradient norm per weight matrix at step 0", "第 0 步各权重矩阵的梯度范数"),
              lambda lang: per_run(lambda p: p.grads, along.format(layer=_("weight matrix", "权重矩阵")),
                                   _("‖∂loss/∂W‖ (log)", "‖∂loss/∂W‖（对数）"), lang)),
        Chart(_("Training loss", "训练损失"),
              lambda lang: per_run(lambda p: p.fit.history["loss"], plots.STEP, plots.LOSS_LOG, lang),
              caption=_("Chance is ln 10 ≈ {chance:.2f}; a curve that stops early diverged (NaN).",
                        "随机猜测为 ln 10 ≈ {chance:.2f}；提前中断的曲线表示发散（NaN）。").format(chance=CHANCE_LOSS)),
    ]


def summary(cfg: Config, probes: dict[tuple[str, str], Probe], m: Metrics) -> Table:
    """One row per run: the weight std and per-layer gain, formula against measurement, and how it trained."""
    g3 = lambda x: float(f"{x:.3g}")  # three significant digits, however small
    layer_std = _("activation std, layer {k}", "第 {k} 层激活标准差")
    return Table(_("Runs", "各训练组"),
                 {"init": _("initialisation", "初始化"), "norm": _("normalisation", "归一化"),
                  "w_std": _("weight std (formula)", "权重标准差（公式）"),
                  "gain": _("std × per layer, measured", "每层标准差倍数（实测）"),
                  "predicted": _("× per layer, predicted", "每层倍数（理论）"),
                  "first": layer_std.format(k=1), "last": layer_std.format(k=cfg.depth),
                  "loss": plots.FINAL_LOSS, "acc": plots.VAL_ACCURACY},
                 [{"init": INIT_NAMES[i], "norm": NORM_NAMES[n], "w_std": g3(weight_std(i, cfg.width, cfg.width)),
                   "gain": g3(layer_gain(p.stds)), "first": g3(p.stds[0]), "last": g3(p.stds[-1]),
                   "predicted": g3(predicted_gain(i, cfg.width, cfg.activation)) if n == "none" else None,
                   "loss": round(m[f"loss_{i}_{n}"], 4), "acc": round(m[f"acc_{i}_{n}"], 4)}
                  for (i, n), p in probes.items()])


DEMO = Demo(
    id="init-and-norm",
    title=_("Initialisation and normalisation", "权重初始化与归一化"),
    summary=_("A 10-layer ReLU MLP with too-small, Xavier, He and too-large initialisations, with and without "
              "BatchNorm: per-layer activation std and gradient norms at step 0, and training curves.",
              "10 层 ReLU MLP 分别使用过小、Xavier、He 和过大的初始化，并对比有无 BatchNorm："
              "第 0 步各层激活标准差与梯度范数，以及训练曲线。"),
    category="optimization",
    config=Config,
    run=run,
    smoke=dict(depth=3, width=32, epochs=1),
    key_metric="best_acc",
    key_label=_("best validation accuracy", "最佳验证准确率"),
    claim=CLAIM,
)
