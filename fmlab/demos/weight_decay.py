"""L2 regularisation and weight decay: a λ sweep, and why Adam's `weight_decay` is not AdamW.

An L2 penalty (λ/2)·‖W‖² adds λW to the gradient, so plain SGD multiplies the weights by
(1 − ηλ) each step: for SGD, `weight_decay=λ` and the penalty are the same update. Adam
divides every gradient by its running RMS √v̂, the λW term included, so `Adam(weight_decay=λ)`
is coupled L2: a weight the data never push (a pixel that is blank in every training digit)
gets the gradient λw alone, Adam normalises it to a step of about η, and the weight is driven
to zero whatever λ is. AdamW applies the decay outside the adaptive step, w ← w − ηλw − η·adam,
so every weight shrinks by the same fraction ηλ per step. Both are swept over λ on 300 digits
with 30% wrong labels: ‖W‖ shrinks, validation accuracy first holds or improves, then collapses.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import data, plots
from ..demo import Chart, Demo, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit
from ..nets import init_weights
from ..params import DemoConfig, param
from ..text import T, _

LAMBDAS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
OPTIMIZERS = ("adam", "adamw")
NAMES = {"adam": _("Adam(weight_decay): coupled L2", "Adam(weight_decay)：耦合的 L2"),
         "adamw": _("AdamW: decoupled decay", "AdamW：解耦的权重衰减")}
SHORT = {"adam": "Adam + L2", "adamw": "AdamW"}
CHECK_LAMBDA, CHECK_STEPS = 0.01, 30  # the exactness checks: PyTorch's AdamW default λ, a short full-batch run
CHECKS = {"sgd_penalty_vs_weight_decay": "SGD + (λ/2)‖W‖² vs SGD(weight_decay=λ)",
          "adam_penalty_vs_weight_decay": "Adam + (λ/2)‖W‖² vs Adam(weight_decay=λ)",
          "adam_weight_decay_vs_adamw": "Adam(weight_decay=λ) vs AdamW(weight_decay=λ)",
          "adamw_vs_formula": "AdamW vs w − ηλw − η·m̂/(√v̂ + ε) by hand",
          "adam_weight_decay_vs_formula": "Adam(weight_decay=λ) vs an Adam step on g + λw by hand"}


@dataclass(frozen=True)
class Config(DemoConfig):
    lambdas: tuple = param((0.0, 1e-2, 1e-1, 1.0, 10.0), choices=LAMBDAS, label=_("λ values", "λ 取值"),
                           help=_("weight_decay values swept for both Adam and AdamW (0 = no decay)",
                                  "Adam 与 AdamW 都扫描的 weight_decay 取值（0 表示不衰减）"))
    lr: float = param(1e-2, low=1e-4, high=3e-2, log=True, label=_("Learning rate η", "学习率 η"),
                      help=_("Shared by Adam and AdamW; AdamW shrinks weights by η·λ per step",
                             "Adam 与 AdamW 共用；AdamW 每步把权重收缩 η·λ"))
    epochs: int = param(25, low=2, high=200, label=_("Epochs", "训练轮数"),
                        help=_("Passes over the training digits (batches of 50)", "遍历训练样本的次数（批大小 50）"))
    label_noise: float = param(0.3, low=0.0, high=0.8, label=_("Wrong training labels", "错误训练标签比例"),
                               help=_("Share of training labels replaced by a random digit: something to overfit",
                                      "训练标签中被随机数字替换的比例：制造过拟合的空间"))
    num_train: int = param(300, low=50, high=1200, label=_("Training digits", "训练样本数"),
                           help=_("Few examples, so regularisation matters", "样本少，正则化的作用才明显"))
    width: int = param(64, choices=(32, 64, 128, 256), label=_("Hidden width", "隐藏层宽度"),
                       help=_("Units in each of the two hidden layers", "两个隐藏层各自的单元数"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run", "相同种子，相同结果"))


def l2_penalty(model: nn.Module) -> Tensor:
    """½·Σ‖W‖² over the weight matrices (biases excluded): its gradient is W itself."""
    return sum(0.5 * p.pow(2).sum() for p in model.parameters() if p.ndim > 1)


def decay_groups(model: nn.Module, lam: float) -> list[dict]:
    """Parameter groups: weight matrices decay by `lam`, biases do not."""
    params = list(model.parameters())
    return [{"params": [p for p in params if p.ndim > 1], "weight_decay": lam},
            {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]


def make_optimizer(name: str, model: nn.Module, lam: float, lr: float) -> torch.optim.Optimizer:
    """'adam': Adam(weight_decay=λ), 'adamw': AdamW(weight_decay=λ), 'sgd': SGD + momentum(weight_decay=λ)."""
    if name == "adam":
        return torch.optim.Adam(decay_groups(model, lam), lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(decay_groups(model, lam), lr=lr)
    if name == "sgd":
        return torch.optim.SGD(decay_groups(model, lam), lr=lr, momentum=0.9)
    raise ValueError(f"unknown optimizer {name!r}")


def adam_step(w: Tensor, g: Tensor, m: Tensor, v: Tensor, t: int, lr: float, wd: float, decoupled: bool,
              betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> tuple[Tensor, Tensor, Tensor]:
    """One Adam step by hand, returning (w, m, v). decoupled=False is Adam(weight_decay), True is AdamW."""
    if decoupled:
        w = w - lr * wd * w  # AdamW: every weight shrinks by the same fraction lr·wd
    else:
        g = g + wd * w  # Adam: the L2 gradient joins g and is rescaled by 1/√v̂ below
    m = betas[0] * m + (1 - betas[0]) * g
    v = betas[1] * v + (1 - betas[1]) * g * g
    m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
    return w - lr * m_hat / (v_hat.sqrt() + eps), m, v


def mlp(width: int, seed: int) -> nn.Sequential:
    """64 -> width -> width -> 10 with ReLUs."""
    model = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10))
    return init_weights(model, seed)


def weight_norm(model: nn.Module) -> float:
    """‖W‖ over all weight matrices together."""
    return torch.sqrt(sum(p.detach().pow(2).sum() for p in model.parameters() if p.ndim > 1)).item()


def weights(model: nn.Module) -> np.ndarray:
    """Every weight-matrix entry, flattened."""
    return torch.cat([p.detach().flatten().cpu() for p in model.parameters() if p.ndim > 1]).numpy()


def train(name: str, lam: float, cfg: Config, X: Tensor, y: Tensor, report: Report) -> tuple[nn.Module, Fit]:
    model = mlp(cfg.width, cfg.seed)
    opt = make_optimizer(name, model, lam, cfg.lr)
    return model, fit(model, opt, (X, y), epochs=cfg.epochs, batch_size=50, seed=cfg.seed, report=report)


Stepper = Callable[[nn.Module], Callable[[int], None]]  # model -> step(t), called after backward()


def torch_stepper(name: str, lam: float, lr: float) -> Stepper:
    """PyTorch's optimizer `name` with weight_decay=lam on the weight matrices."""
    def make(model: nn.Module) -> Callable[[int], None]:
        opt = make_optimizer(name, model, lam, lr)
        return lambda t: opt.step()
    return make


def hand_stepper(lam: float, lr: float, decoupled: bool) -> Stepper:
    """Our `adam_step` on every parameter: weight matrices decay by lam, biases do not."""
    def make(model: nn.Module) -> Callable[[int], None]:
        state = {p: (torch.zeros_like(p), torch.zeros_like(p)) for p in model.parameters()}

        @torch.no_grad()
        def step(t: int) -> None:
            for p in model.parameters():
                w, m, v = adam_step(p, p.grad, *state[p], t, lr, lam if p.ndim > 1 else 0.0, decoupled)
                p.copy_(w)
                state[p] = (m, v)
        return step
    return make


def train_copy(model: nn.Module, X: Tensor, y: Tensor, steps: int, stepper: Stepper, penalty: float = 0.0) -> Tensor:
    """Full-batch training of a copy of `model`; `penalty` adds penalty·½‖W‖² to the loss. All parameters, flat."""
    model = copy.deepcopy(model)  # identical starting weights for every rule
    step = stepper(model)
    for t in range(1, steps + 1):
        loss = F.cross_entropy(model(X), y) + penalty * l2_penalty(model)
        model.zero_grad(set_to_none=True)
        loss.backward()
        step(t)
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def exactness_checks(X: Tensor, y: Tensor, width: int, seed: int, lr: float) -> dict[str, float]:
    """Largest |weight difference| between update rules that should, or should not, be the same."""
    model, lam, n = mlp(width, seed), CHECK_LAMBDA, CHECK_STEPS
    w = {"sgd+penalty": train_copy(model, X, y, n, torch_stepper("sgd", 0.0, 0.1), penalty=lam),
         "sgd(wd)": train_copy(model, X, y, n, torch_stepper("sgd", lam, 0.1)),
         "adam+penalty": train_copy(model, X, y, n, torch_stepper("adam", 0.0, lr), penalty=lam),
         "adam(wd)": train_copy(model, X, y, n, torch_stepper("adam", lam, lr)),
         "adamw": train_copy(model, X, y, n, torch_stepper("adamw", lam, lr)),
         "adam by hand": train_copy(model, X, y, n, hand_stepper(lam, lr, decoupled=False)),
         "adamw by hand": train_copy(model, X, y, n, hand_stepper(lam, lr, decoupled=True))}

    def diff(a: str, b: str) -> float:
        return (w[a] - w[b]).abs().max().item()

    return {"sgd_penalty_vs_weight_decay": diff("sgd+penalty", "sgd(wd)"),
            "adam_penalty_vs_weight_decay": diff("adam+penalty", "adam(wd)"),
            "adam_weight_decay_vs_adamw": diff("adam(wd)", "adamw"),
            "adamw_vs_formula": diff("adamw", "adamw by hand"),
            "adam_weight_decay_vs_formula": diff("adam(wd)", "adam by hand")}


def label(lam: float) -> str:
    return f"{lam:g}"


def verdict(cfg: Config, m: dict[str, float], lams: list[float], steps: int) -> T:
    decayed = [lam for lam in lams if lam > 0]
    if not decayed:
        return _("Add a λ above 0 to see weight decay at work.", "请加入大于 0 的 λ，才能看到权重衰减的作用。")

    def get(what: str, o: str, lam: float) -> float:
        return m[f"{what}_{o}_{label(lam)}"]

    lo, hi, first = lams[0], lams[-1], decayed[0]
    best = {o: max(lams, key=lambda lam: get("val_acc", o, lam)) for o in OPTIMIZERS}
    acc = {o: get("val_acc", o, best[o]) for o in OPTIMIZERS}
    norm_lo, norm_adam, norm_adamw = get("norm", "adamw", lo), get("norm", "adam", hi), get("norm", "adamw", hi)
    text_en = (f"‖W‖ fell from {norm_lo:.1f} at λ = {lo:g} to {norm_adam:.2f} with Adam + L2 and {norm_adamw:.2f} "
               f"with AdamW at λ = {hi:g}. Best validation accuracy: Adam + L2 {acc['adam']:.0%} at "
               f"λ = {best['adam']:g}, AdamW {acc['adamw']:.0%} at λ = {best['adamw']:g} (λ = {lo:g}: "
               f"{get('val_acc', 'adamw', lo):.0%}); too large a λ underfits. ")
    text_zh = (f"‖W‖ 从 λ = {lo:g} 时的 {norm_lo:.1f}，降到 λ = {hi:g} 时 Adam + L2 的 {norm_adam:.2f} 和 AdamW 的 "
               f"{norm_adamw:.2f}。最高验证准确率：Adam + L2 在 λ = {best['adam']:g} 时为 {acc['adam']:.0%}，AdamW 在 "
               f"λ = {best['adamw']:g} 时为 {acc['adamw']:.0%}（λ = {lo:g} 时为 {get('val_acc', 'adamw', lo):.0%}）；"
               f"λ 过大则欠拟合。")
    adam_q, adamw_q = get("quiet", "adam", first), get("quiet", "adamw", first)
    formula = (1 - cfg.lr * first) ** steps
    if adam_q < 0.1 and abs(adamw_q - formula) < 0.01:
        text_en += (f"Weights from always-blank pixels get no data gradient: at λ = {first:g}, AdamW kept "
                    f"{adamw_q:.1%} of their size, exactly (1 − ηλ)^{steps} = {formula:.1%}; Adam's coupled L2 kept "
                    f"{adam_q:.1%}, because it rescales λw to a step of about η whatever λ is. ")
        text_zh += (f"来自始终空白像素的权重得不到任何数据梯度：λ = {first:g} 时，AdamW 让它们保留了 {adamw_q:.1%} 的大小，"
                    f"恰好等于 (1 − ηλ)^{steps} = {formula:.1%}；Adam 的耦合 L2 只保留了 {adam_q:.1%}，"
                    f"因为它把 λw 归一化成约 η 大小的一步，与 λ 无关。")
    sgd, adam, apart = (m["sgd_penalty_vs_weight_decay"], m["adam_penalty_vs_weight_decay"],
                        m["adam_weight_decay_vs_adamw"])
    text_en += (f"Same update or not (max |Δw| after {CHECK_STEPS} steps): SGD + penalty vs SGD(weight_decay) "
                f"{sgd:.0e}, Adam + penalty vs Adam(weight_decay) {adam:.0e}, Adam(weight_decay) vs AdamW {apart:.2f}.")
    text_zh += (f"更新是否相同（{CHECK_STEPS} 步后的最大 |Δw|）：SGD + 惩罚项与 SGD(weight_decay) 相差 {sgd:.0e}，"
                f"Adam + 惩罚项与 Adam(weight_decay) 相差 {adam:.0e}，Adam(weight_decay) 与 AdamW 相差 {apart:.2f}。")
    return _(text_en, text_zh)


def run(cfg: Config, report: Report = silent) -> Result:
    split = data.digits(seed=cfg.seed)
    X, y = split.X_train[:cfg.num_train], data.flip_labels(split.y_train[:cfg.num_train], cfg.label_noise, cfg.seed)
    val = (split.X_val, split.y_val)
    quiet = X.abs().sum(dim=0) == 0  # (64,) pixels blank in every training digit: no data gradient reaches them
    lams = sorted(cfg.lambdas)
    # at λ = 0 Adam and AdamW are the same algorithm: one shared run
    jobs = [(o, lam) for lam in lams for o in OPTIMIZERS if lam > 0 or o == "adamw"]
    w0 = mlp(cfg.width, cfg.seed)[0].weight.detach()[:, quiet].abs().mean().item()
    runs: dict[tuple[str, float], tuple[nn.Module, Fit]] = {}
    for i, (o, lam) in enumerate(jobs):
        runs[(o, lam)] = train(o, lam, cfg, X, y, part(report, f"{SHORT[o]} λ={lam:g}", i, len(jobs)))
    if 0.0 in lams:
        runs[("adam", 0.0)] = runs[("adamw", 0.0)]

    metrics: dict[str, float] = {}
    for (o, lam), (model, result) in runs.items():
        k = f"{o}_{label(lam)}"
        metrics[f"train_acc_{k}"] = evaluate(model, X, y)["acc"]
        metrics[f"val_acc_{k}"] = evaluate(model, *val)["acc"]
        metrics[f"norm_{k}"] = weight_norm(model)
        quiet_w = model[0].weight.detach().cpu()[:, quiet]
        metrics[f"quiet_{k}"] = quiet_w.abs().mean().item() / w0 if quiet.any() else float("nan")
    steps = next(iter(runs.values()))[1].steps
    metrics["steps"] = steps
    metrics["quiet_pixels"] = int(quiet.sum())
    metrics |= exactness_checks(X[:100], y[:100], cfg.width, cfg.seed, cfg.lr)

    xs = [label(lam) for lam in lams]  # categorical axis: λ = 0 has no place on a log scale

    def series(what: str, o: str) -> list[float]:
        return [metrics[f"{what}_{o}_{label(lam)}"] for lam in lams]

    charts = [
        Chart(_("Weight norm ‖W‖ vs λ", "权重范数 ‖W‖ 与 λ"),
              lambda lang: plots.lines_xy({NAMES[o].get(lang): (xs, series("norm", o)) for o in OPTIMIZERS},
                                          _("λ (weight_decay)", "λ（weight_decay）"), _("‖W‖ (log)", "‖W‖（对数）"),
                                          lang, log_y=True),
              caption=_("The same λ is a much stronger penalty in Adam: AdamW's shrink per step is only η·λ.",
                        "同样的 λ 在 Adam 中是强得多的惩罚：AdamW 每步的收缩量只有 η·λ。")),
        Chart(_("Accuracy vs λ", "准确率与 λ"),
              lambda lang: plots.lines_xy(
                  {**{f"{SHORT[o]} {_('val', '验证').get(lang)}": (xs, series("val_acc", o)) for o in OPTIMIZERS},
                   **{f"{SHORT[o]} {_('train', '训练').get(lang)}": (xs, series("train_acc", o)) for o in OPTIMIZERS}},
                  _("λ (weight_decay)", "λ（weight_decay）"), _("accuracy", "准确率"), lang),
              caption=_(f"Training accuracy is measured on the given labels ({cfg.label_noise:.0%} replaced by random "
                        "digits): far above the validation accuracy means memorised noise.",
                        f"训练准确率按所给标签计算（其中 {cfg.label_noise:.0%} 被换成了随机数字）：远高于验证准确率，"
                        "说明网络记住了噪声。")),
        Chart(_("Weights no data gradient reaches: share of their size kept", "数据梯度到达不了的权重：保留下来的比例"),
              lambda lang: plots.lines_xy(
                  {**{NAMES[o].get(lang): (xs, series("quiet", o)) for o in OPTIMIZERS},
                   _("(1 − ηλ)^steps", "(1 − ηλ)^步数").get(lang): (xs, [(1 - cfg.lr * lam) ** steps for lam in lams])},
                  _("λ (weight_decay)", "λ（weight_decay）"), _("mean |w| / mean |w₀|", "平均 |w| / 初始平均 |w₀|"), lang),
              caption=_("First-layer weights of pixels that are blank in every training digit. AdamW follows the "
                        "formula exactly; Adam's L2 zeroes them at every λ > 0.",
                        "第一层中对应“所有训练图像都空白的像素”的权重。AdamW 与公式完全吻合；Adam 的 L2 在任何 λ > 0 时都把它们压到 0。")),
        *[Chart(_(f"Weight histogram, {SHORT[o]}", f"权重直方图：{SHORT[o]}"),
                lambda lang, o=o: plots.histograms({f"λ = {label(lam)}": weights(runs[(o, lam)][0]) for lam in lams},
                                                   _("weight value", "权重值"), _("count (log)", "数量（对数）"),
                                                   lang, log_y=True))
          for o in OPTIMIZERS],
    ]
    sweep = Table(_("λ sweep", "λ 扫描"),
                  {"optimizer": _("optimizer", "优化器"), "lam": _("λ", "λ"), "norm": _("‖W‖", "‖W‖"),
                   "train": _("train accuracy", "训练准确率"), "val": _("val accuracy", "验证准确率"),
                   "quiet": _("blank-pixel weights kept", "空白像素权重保留比例")},
                  [{"optimizer": SHORT[o], "lam": lam, "norm": round(metrics[f"norm_{o}_{label(lam)}"], 3),
                    "train": round(metrics[f"train_acc_{o}_{label(lam)}"], 3),
                    "val": round(metrics[f"val_acc_{o}_{label(lam)}"], 3),
                    "quiet": round(metrics[f"quiet_{o}_{label(lam)}"], 4)} for o in OPTIMIZERS for lam in lams])
    checks = Table(_(f"Same update or not? Max |Δw| after {CHECK_STEPS} full-batch steps, λ = {CHECK_LAMBDA:g}",
                     f"更新是否相同？全批量 {CHECK_STEPS} 步后的最大 |Δw|，λ = {CHECK_LAMBDA:g}"),
                   {"pair": _("compared", "比较对象"), "diff": _("max |Δw|", "最大 |Δw|")},
                   [{"pair": pair, "diff": metrics[key]} for key, pair in CHECKS.items()])
    history = {f"{SHORT[o]} λ={lam:g}": r.history for (o, lam), (_m, r) in runs.items()}
    return Result(metrics, verdict(cfg, metrics, lams, steps), history, charts, [sweep, checks])


DEMO = Demo(
    id="weight-decay",
    title=_("Weight decay: λ sweep, Adam's L2 vs AdamW", "权重衰减：λ 扫描，Adam 的 L2 与 AdamW"),
    summary=_("Sweep weight_decay for Adam and AdamW on 300 noisy-label digits: weight norms, histograms and "
              "accuracy; exact checks that SGD's weight_decay equals an L2 penalty and that AdamW is decoupled.",
              "在 300 张含错误标签的数字图像上，为 Adam 和 AdamW 扫描 weight_decay：权重范数、直方图与准确率；"
              "并精确验证 SGD 的 weight_decay 等于 L2 惩罚项、AdamW 的衰减是解耦的。"),
    category="regularization",
    config=Config,
    run=run,
    smoke=dict(lambdas=(0.0, 0.1), num_train=100, width=32, epochs=2),
    key_metric="adam_weight_decay_vs_adamw",
    key_label=_("max |Δw|, Adam(weight_decay) vs AdamW", "Adam(weight_decay) 与 AdamW 的最大 |Δw|"),
)
