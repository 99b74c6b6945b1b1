"""Adversarial training vs Gaussian-noise training on digits, attacked with FGSM and PGD.

Three identical MLPs (64-128-10, pixels in [0, 1]) learn from ½ clean + ½ perturbed batches that
differ only in where the perturbation comes from: nowhere (standard), Gaussian noise (what careless
write-ups call "adversarial training"), or an attack on the current weights at every step (adversarial
training). Then each model is attacked with FGSM and PGD over a range of ε, and hit with random ±ε
signs of the same size. `fgsm`, `pgd` and `half_perturbed` (the per-step batch for `fit`) are in `fmlab.attacks`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .. import data, plots
from ..attacks import fgsm, fgsm_attack, gaussian_noise, half_perturbed, input_gradient, pgd, random_sign
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..explain import normalise
from ..fit import accuracy, fit
from ..nets import MLP, init_weights
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, same, sentences

MODELS = ("standard", "noise", "adversarial")
NAMES = {"standard": _("standard", "普通训练"), "noise": _("Gaussian noise", "高斯噪声"),
         "adversarial": _("adversarial", "对抗训练")}
TRAIN_ATTACKS = {"fgsm": _("FGSM (1 step)", "FGSM（1 步）"), "pgd": _("PGD (5 steps, random start)", "PGD（5 步，随机起点）")}
EPS_GRID = (0.0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3)
EPS_AXIS = _("ε (L∞ budget per pixel)", "ε（每个像素的 L∞ 预算）")
INK = 0.25  # a pixel brighter than this is part of the stroke
NUM_SHOWN = 6


@dataclass(frozen=True)
class Config(DemoConfig):
    eps: float = param(0.1, low=0.02, high=0.3, label=same("ε"),
                       help=_("L∞ budget of the training attack and of the headline FGSM / PGD numbers",
                              "训练时攻击以及主要 FGSM / PGD 结果使用的 L∞ 预算"))
    sigma: float = param(0.1, low=0.0, high=0.5, label=_("Noise σ", "噪声 σ"),
                         help=_("Standard deviation of the Gaussian noise the noise model trains on",
                                "噪声模型训练时所加高斯噪声的标准差"))
    train_attack: str = param("fgsm", choices=tuple(TRAIN_ATTACKS), choice_labels=TRAIN_ATTACKS,
                              label=_("Training attack", "训练用攻击"),
                              help=_("How adversarial training makes each batch's examples (PGD costs 3× more)",
                                     "对抗训练如何为每个批次生成样本（PGD 的开销约为 3 倍）"))
    pgd_steps: int = param(10, low=1, high=50, label=_("PGD steps (evaluation)", "PGD 步数（评估）"),
                           help=_("Steps of the evaluation attack, each of size ε/4, from a random start",
                                  "评估攻击的步数，每步大小为 ε/4，从随机起点出发"))
    epochs: int = epochs_param(20, high=100, help=_("Passes over the training digits (batches of 128)",
                                                    "遍历训练样本的次数（批大小 128）"))
    lr: float = lr_param(3e-3, low=1e-4, high=3e-2, help=_("Adam's step size, the same for all three models",
                                                           "Adam 的步长，三个模型相同"))
    seed: int = seed_param()


def mlp(seed: int) -> MLP:
    """64 -> 128 -> 10 with a ReLU: the same weights at the start for all three models."""
    return init_weights(MLP(64, 10, width=128, depth=0), seed)


def train(cfg: Config, X: Tensor, y: Tensor, report: Report) -> dict[str, tuple[MLP, list[float]]]:
    """The three models, each with its training-loss curve; only the perturbation differs."""
    g, eps = torch.Generator().manual_seed(cfg.seed), cfg.eps
    perturbs = {"noise": gaussian_noise(cfg.sigma, g), "adversarial": fgsm_attack(eps) if cfg.train_attack == "fgsm"
                else lambda m, X_, y_: pgd(m, X_, y_, eps, eps / 2, 5, random_start=True, generator=g)}
    out = {}
    for i, name in enumerate(MODELS):
        model = mlp(cfg.seed)
        opt, progress = torch.optim.Adam(model.parameters(), lr=cfg.lr), part(report, NAMES[name], i, len(MODELS) + 1)
        kw = dict(epochs=cfg.epochs, batch_size=128, seed=cfg.seed, report=progress)
        transform = None if name == "standard" else half_perturbed(perturbs[name])  # perturbed afresh every step
        done = fit(model, opt, (X, y), batch_transform=transform, **kw)
        out[name] = (model.eval(), [] if done.diverged else done.history["loss"])
    return out


def attack_curves(cfg: Config, models: dict[str, MLP], X: Tensor, y: Tensor, report: Report) -> dict[str, list[float]]:
    """Accuracy (len(grid),) per model and attack ("fgsm", "pgd", "random"), keys like "pgd_adversarial"."""
    grid, g, curves = eps_grid(cfg), torch.Generator().manual_seed(cfg.seed + 1), {}
    for i, name in enumerate(MODELS):
        m = models[name]
        for e in grid:
            attacked = {"fgsm": fgsm(m, X, y, e), "random": random_sign(X, e, g),
                        "pgd": pgd(m, X, y, e, e / 4, cfg.pgd_steps, random_start=True, generator=g)}
            with torch.no_grad():
                for attack, X_adv in attacked.items():
                    curves.setdefault(f"{attack}_{name}", []).append(accuracy(m(X_adv), y))
        report(Event("stage", (len(MODELS) + (i + 1) / len(MODELS)) / (len(MODELS) + 1),
                     note=_("Attacking the {model} model", "正在攻击{model}模型").format(model=NAMES[name])))
    return curves


def eps_grid(cfg: Config) -> list[float]:
    """The ε values the curves visit: a fixed grid plus the chosen ε and 2ε."""
    return sorted({*EPS_GRID, cfg.eps, 2 * cfg.eps})


def ink_share(model: MLP, X: Tensor, y: Tensor) -> float:
    """Mean share of |∇ₓL| that falls on stroke pixels (X > INK): where the attack's direction points."""
    grad = input_gradient(model, X, y).abs()  # (N, 64)
    return ((grad * (X > INK)).sum(1) / grad.sum(1).clamp_min(1e-12)).mean().item()


def measure(cfg: Config, models: dict[str, MLP], curves: dict[str, list[float]], X: Tensor, y: Tensor) -> Metrics:
    """Per model: clean, random ±ε, random ±2ε, FGSM and PGD accuracy at ε, and the gradient's ink share."""
    grid = eps_grid(cfg)
    at, twice, zero = grid.index(cfg.eps), grid.index(2 * cfg.eps), grid.index(0.0)
    m: Metrics = {"eps": cfg.eps, "max_eps": grid[-1]}
    for name in MODELS:
        m |= {f"clean_acc_{name}": curves[f"pgd_{name}"][zero], f"random_acc_{name}": curves[f"random_{name}"][at],
              f"random_2eps_acc_{name}": curves[f"random_{name}"][twice], f"fgsm_acc_{name}": curves[f"fgsm_{name}"][at],
              f"pgd_acc_{name}": curves[f"pgd_{name}"][at], f"pgd_acc_max_eps_{name}": curves[f"pgd_{name}"][-1],
              f"ink_share_{name}": ink_share(models[name], X, y)}
    grad = input_gradient(models["standard"], X, y)  # (N, 64): ‖g‖₁/‖g‖₂ is how far the sign beats a random sign
    return m | {"l1_over_l2": (grad.norm(p=1, dim=1) / grad.norm(dim=1).clamp_min(1e-12)).mean().item(),
                "ink_pixels": (X > INK).float().mean().item()}


def lesson(m: Metrics) -> bool | None:
    """Under PGD at ε, adversarial training beats both others by 10+ points; clean accuracy within 3 points."""
    if m["pgd_acc_standard"] > m["clean_acc_standard"] - 0.1:
        return None  # ε too small: the attack barely hurts even the standard model
    robust = m["pgd_acc_adversarial"]
    return (robust > m["pgd_acc_standard"] + 0.1 and robust > m["pgd_acc_noise"] + 0.1
            and m["clean_acc_adversarial"] > m["clean_acc_standard"] - 0.03)


CLAIM = Claim(
    _("adversarial training keeps far more accuracy under PGD than standard or Gaussian-noise training, at almost "
      "no cost in clean accuracy: noise of the same size is not an attack, so training on it is not adversarial "
      "training",
      "对抗训练在 PGD 攻击下保住的准确率远高于普通训练和高斯噪声训练，而干净准确率几乎不受影响：同样大小的噪声不是攻击，"
      "所以用噪声训练并不是对抗训练"),
    lesson,
    fragile=_("Gaussian noise far larger than ε (σ near 0.5) buys the noise model some robustness on these 64-pixel "
              "digits and can close the gap to under 10 points.",
              "远大于 ε 的高斯噪声（σ 接近 0.5）在这些 64 像素的数字图像上也能给噪声模型带来一些鲁棒性，可能把差距缩小到 10 个百分点以内。"),
)


def verdict(cfg: Config, m: Metrics) -> T:
    """Accuracy per model under each attack, what random signs of twice the size did, and the ‖g‖₁/‖g‖₂ reason."""
    def trio(kind: str) -> T:  # standard / noise / adversarial
        return same("{s:.1%} / {n:.1%} / {a:.1%}").format(**{n[0]: m[f"{kind}_acc_{n}"] for n in MODELS})
    random_drop = max(m[f"clean_acc_{n}"] - m[f"random_2eps_acc_{n}"] for n in MODELS)
    return sentences(
        _("Accuracy of the standard / Gaussian-noise / adversarial model: {pgd} under PGD-{steps} at ε = {eps:g}, "
          "{fgsm} under FGSM, {clean} on clean digits.",
          "普通 / 高斯噪声 / 对抗训练模型的准确率：ε = {eps:g} 的 PGD-{steps} 下为 {pgd}，FGSM 下为 {fgsm}，干净样本上为 {clean}。")
        .format(pgd=trio("pgd"), steps=cfg.pgd_steps, eps=cfg.eps, fgsm=trio("fgsm"), clean=trio("clean")),
        _("Random ±{e2:g} signs, twice the budget, cost every model at most {drop:.1%}: for a loss gradient g, the "
          "attack's step raises the loss by about ε‖g‖₁, a random sign by only about ±ε‖g‖₂, and here ‖g‖₁/‖g‖₂ = "
          "{ratio:.1f}.",
          "两倍预算的随机 ±{e2:g} 符号噪声让任一模型的准确率至多下降 {drop:.1%}：设损失梯度为 g，攻击的一步让损失约增加 ε‖g‖₁，"
          "随机符号只带来约 ±ε‖g‖₂ 的变化，而这里 ‖g‖₁/‖g‖₂ = {ratio:.1f}。")
        .format(e2=2 * cfg.eps, drop=random_drop, ratio=m["l1_over_l2"]),
        (_("At ε = {top:g} PGD leaves the adversarial model {acc:.1%}: accuracy does fall towards zero, so its "
           "gradients are not masked.",
           "在 ε = {top:g} 时，PGD 让对抗训练模型只剩 {acc:.1%}：准确率确实趋近于零，说明梯度没有被掩蔽。")
         if m["pgd_acc_max_eps_adversarial"] < 0.3 else
         _("At ε = {top:g} PGD still leaves the adversarial model {acc:.1%}: an attack that cannot push accuracy "
           "towards zero at so large an ε suggests masked gradients; try more PGD steps.",
           "在 ε = {top:g} 时，PGD 仍让对抗训练模型保有 {acc:.1%}：这么大的 ε 都无法把准确率压向零，说明梯度可能被掩蔽了；"
           "请增加 PGD 步数。")).format(top=m["max_eps"], acc=m["pgd_acc_max_eps_adversarial"]),
        _("Of the loss gradient's size, {s:.0%} (standard), {n:.0%} (noise) and {a:.0%} (adversarial) falls on stroke "
          "pixels, which are {ink:.0%} of all pixels.",
          "损失梯度的大小中落在笔画像素上的比例为 {s:.0%}（普通）、{n:.0%}（噪声）和 {a:.0%}（对抗），而笔画像素占全部像素的 {ink:.0%}。")
        .format(ink=m["ink_pixels"], s=m["ink_share_standard"], n=m["ink_share_noise"], a=m["ink_share_adversarial"]),
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Train the three models, attack each over a range of ε, compare with random signs."""
    split = data.digits(seed=cfg.seed)
    trained = train(cfg, split.X_train, split.y_train, report)
    if any(not losses for _m, losses in trained.values()):
        return Result({"eps": cfg.eps}, _("A training run diverged: the loss became NaN/inf. Try a lower learning "
                                          "rate.", "有一个模型训练发散：损失变为 NaN/inf。请尝试更小的学习率。"))
    models = {name: model for name, (model, _l) in trained.items()}
    curves = attack_curves(cfg, models, split.X_val, split.y_val, report)
    metrics = measure(cfg, models, curves, split.X_val, split.y_val)
    losses = {name: losses for name, (_m, losses) in trained.items()}
    return Result(metrics, verdict(cfg, metrics), charts(cfg, models, curves, losses, split), tables(metrics))


def charts(cfg: Config, models: dict[str, MLP], curves: dict[str, list[float]], losses: dict[str, list[float]],
           split: data.Split) -> list[Chart]:
    """Accuracy vs ε (PGD against random signs; FGSM against PGD), gradient maps, training losses."""
    grid = eps_grid(cfg)
    X, y = split.X_val[:NUM_SHOWN], split.y_val[:NUM_SHOWN]

    def lines(solid: dict[T, str], dotted: dict[T, str], lang: str):
        named = {k.get(lang): (grid, curves[v]) for k, v in (solid | dotted).items()}
        return plots.lines_xy(named, EPS_AXIS, plots.ACCURACY, lang, dashes={k.get(lang): "dot" for k in dotted})

    pair = _("{model}, {attack}", "{model}，{attack}")
    pgd_, random_, fgsm_ = ({pair.format(model=NAMES[n], attack=attack): f"{key}_{n}" for n in MODELS}
                            for key, attack in (("pgd", same("PGD")), ("random", _("random ±ε", "随机 ±ε")),
                                                ("fgsm", same("FGSM"))))
    grads = {r: normalise(input_gradient(models[n], X, y).abs()).view(-1, 8, 8).numpy()  # row -> (N, 8, 8)
             for r, n in enumerate(MODELS, start=1)}
    images = np.repeat(X.view(1, -1, 8, 8, 1).numpy(), 3, axis=-1).repeat(4, axis=0)  # (4, N, 8, 8, 3)
    rows = [_("image", "图像"), *[_("|∇ₓL|, {model}", "|∇ₓL|，{model}").format(model=NAMES[n]) for n in MODELS]]
    return [
        Chart(_("Accuracy vs ε: PGD (solid) against random ±ε signs (dotted)", "准确率与 ε：PGD（实线）与随机 ±ε 符号（点线）"),
              lambda lang: lines(pgd_, random_, lang),
              caption=_("The same L∞ size: random signs barely matter, the attack's signs wreck the standard model.",
                        "同样的 L∞ 大小：随机符号几乎无影响，攻击选出的符号却能击垮普通模型。")),
        Chart(_("Accuracy vs ε: PGD (solid) against FGSM (dotted)", "准确率与 ε：PGD（实线）与 FGSM（点线）"),
              lambda lang: lines(pgd_, fgsm_, lang),
              caption=_("Multi-step PGD is usually the stronger attack: report robustness under the strongest one.",
                        "多步 PGD 通常是更强的攻击：鲁棒性应以最强的攻击来报告。")),
        Chart(_("Where the loss gradient points: the attack's direction per pixel", "损失梯度指向哪里：攻击在每个像素上的方向"),
              lambda lang: plots.image_grid(images, rows, [str(int(t)) for t in y], lang, grads),
              caption=_("Adversarial training moves the gradient onto the strokes; the standard model's is spread "
                        "over the background too.", "对抗训练让梯度集中到笔画上；普通模型的梯度还散布在背景上。")),
        Chart(_("Training", "训练过程"),
              lambda lang: plots.curves({NAMES[n].get(lang): v for n, v in losses.items()}, plots.STEP,
                                        _("½ clean + ½ perturbed loss", "½ 干净 + ½ 扰动损失"), lang)),
    ]


def tables(m: Metrics) -> list[Table]:
    """One row per model: accuracy clean, under random signs, FGSM and PGD; the gradient's ink share."""
    cols = {"clean_acc": _("clean", "干净"), "random_acc": _("random ±ε", "随机 ±ε"),  # metric name -> header
            "random_2eps_acc": _("random ±2ε", "随机 ±2ε"), "fgsm_acc": same("FGSM"), "pgd_acc": same("PGD"),
            "ink_share": _("gradient on strokes", "梯度落在笔画上的比例")}
    rows = [{"model": NAMES[n], **{k: round(m[f"{k}_{n}"], 3) for k in cols}} for n in MODELS]
    cols = {"model": plots.MODEL, **cols}
    return [Table(_("Accuracy at ε = {eps:g}", "ε = {eps:g} 时的准确率").format(eps=m["eps"]), cols, rows)]


DEMO = Demo(
    id="adversarial-training",
    title=_("Adversarial training vs noise augmentation", "对抗训练与噪声增强"),
    summary=_("Three MLPs on digits: standard, Gaussian-noise and FGSM-adversarial training; accuracy vs ε under "
              "FGSM, PGD and random signs of the same size.",
              "在手写数字上训练三个 MLP：普通训练、高斯噪声训练和 FGSM 对抗训练；比较它们在 FGSM、PGD 和同样大小的随机符号扰动下"
              "准确率随 ε 的变化。"),
    category="adversarial",
    config=Config,
    run=run,
    smoke=dict(epochs=2, pgd_steps=2),
    key_metric="pgd_acc_adversarial",
    key_label=_("PGD accuracy, adversarially trained", "对抗训练模型的 PGD 准确率"),
    claim=CLAIM,
)
