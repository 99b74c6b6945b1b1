"""DP-SGD with opacus: what each ε costs in accuracy, and why noise on a model's outputs does not protect its data.

A small MLP memorises 500 tabular records; a membership attack (a threshold on the true label's probability)
tells them from new ones. Noise on the released probabilities costs accuracy, but each query draws fresh noise,
so 100 averaged queries undo it: the memorised records are in the weights. DP-SGD adds its noise in training
(each example's gradient clipped to C, N(0, σ²C²) on the sum), opacus's RDP accountant gives ε, and our
hand-written step (`fmlab.privacy.private_gradient`) is checked against opacus's gradient on one batch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import make_classification
from torch import Tensor

from .. import plots
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..fit import evaluate, fit
from ..nets import MLP, init_weights
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..privacy import (DELTA, gaussian_epsilon, membership_auc, noisy_outputs, opacus_gradient, per_example_grads,
                       private_gradient, released, train_private)
from ..text import T, _, join, same, sentences

SIGMAS, FEATURES, CLASSES = (0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0), 20, 4
BATCH = 100  # expected batch size: each record joins a batch with probability 100 / num_members
NON_PRIVATE = _("non-private", "非隐私")
DELTA_TEXT = f"{DELTA:.0e}".replace("e-0", "e-")  # "1e-5"


@dataclass(frozen=True)
class Config(DemoConfig):
    noise_multipliers: tuple = param((1.0, 3.0, 8.0), choices=SIGMAS, label=_("Noise multipliers σ", "噪声乘数 σ"),
                                     help=_("One DP-SGD run per σ: noise std σ·C on each batch's summed gradient",
                                            "每个 σ 做一次 DP-SGD 训练：每批梯度之和加上标准差为 σ·C 的噪声"))
    max_grad_norm: float = param(1.0, low=0.1, high=10.0, log=True, label=_("Clipping norm C", "裁剪范数 C"),
                                 help=_("Each example's gradient is scaled down to at most this L2 norm",
                                        "每个样本的梯度被缩放到 L2 范数不超过该值"))
    output_noise: float = param(0.5, low=0.0, high=2.0, label=_("Output noise std", "输出噪声标准差"),
                                help=_("Gaussian noise added to every probability the non-private model releases",
                                       "给非隐私模型发布的每个概率加上的高斯噪声"))
    queries: int = param(100, low=1, high=1000, log=True, label=_("Attacker's queries", "攻击者查询次数"),
                         help=_("How often the attacker asks about each record and averages the answers",
                                "攻击者对每条记录查询并取平均的次数"))
    num_members: int = param(500, low=200, high=1000, label=_("Training records", "训练记录数"),
                             help=_("Records the models train on: the members the attack looks for",
                                    "模型训练所用的记录，也就是攻击要找出的成员"))
    epochs: int = epochs_param(30, low=5, high=100, help=_("Passes over the training records, for every model",
                                                          "遍历训练记录的次数，所有模型相同"))
    lr: float = lr_param(1e-2, low=1e-4, high=3e-2, help=_("Adam's step size, for every model", "Adam 的步长，所有模型相同"))
    seed: int = seed_param()


def records(num_members: int, seed: int) -> dict[str, tuple[Tensor, Tensor]]:
    """A 4-class tabular task (20 features, 5% wrong labels): members to train on, as many outsiders, a test set."""
    X, y = make_classification(n_samples=2 * num_members + 1000, n_features=FEATURES, n_informative=8,
                               n_redundant=4, n_classes=CLASSES, flip_y=0.05, class_sep=1.5, random_state=seed)
    X = torch.from_numpy(((X - X.mean(0)) / X.std(0)).astype(np.float32))  # (N, 20)
    y, n = torch.from_numpy(y), num_members  # y: (N,)
    return {"members": (X[:n], y[:n]), "outsiders": (X[n:2 * n], y[n:2 * n]), "test": (X[2 * n:], y[2 * n:])}


def mlp(seed: int) -> MLP:
    """20 -> 64 -> 4: small enough for fast per-example gradients, big enough to memorise."""
    return init_weights(MLP(FEATURES, CLASSES, width=64, depth=0), seed)


def scores(name: str, model: MLP, data: dict) -> Metrics:
    """Train and test accuracy and the noiseless attack AUC of one model."""
    return {f"train_acc_{name}": evaluate(model, *data["members"])["acc"],
            f"test_acc_{name}": evaluate(model, *data["test"])["acc"],
            f"auc_{name}": membership_auc(model, data["members"], data["outsiders"])}


def output_noise_scores(cfg: Config, model: MLP, data: dict) -> Metrics:
    """The non-private model behind a noisy API: test accuracy, attack AUC from one query and from many."""
    (Xt, yt), g = data["test"], torch.Generator().manual_seed(cfg.seed)
    noisy = noisy_outputs(released(model, Xt), cfg.output_noise, 1, g)  # (N, 4): one answer per test record
    return {"test_acc_output_noise": (noisy.argmax(1) == yt).float().mean().item(),
            **{key: membership_auc(model, data["members"], data["outsiders"], cfg.output_noise, q, g)
               for key, q in (("auc_output_noise_1", 1), ("auc_output_noise_avg", cfg.queries))}}


def step_check(cfg: Config, data: dict) -> Metrics:
    """Our DP-SGD step against opacus's on one batch of members: max |Δ| of the private gradients."""
    model, X, y = mlp(cfg.seed), data["members"][0][:BATCH], data["members"][1][:BATCH]
    ours = private_gradient(per_example_grads(model, X, y), cfg.max_grad_norm, cfg.noise_multipliers[0],
                            torch.Generator().manual_seed(cfg.seed))
    theirs = opacus_gradient(model, X, y, max_norm=cfg.max_grad_norm, noise_multiplier=cfg.noise_multipliers[0],
                             seed=cfg.seed)
    return {"max_diff_ours_vs_opacus": max((ours[k] - theirs[k]).abs().max().item() for k in ours)}


def swept(m: Metrics) -> list[float]:
    """The noise multipliers a run used, read back from its metric names, smallest first."""
    return sorted(float(k.removeprefix("eps_")) for k in m if k.startswith("eps_"))


def lesson(m: Metrics) -> bool | None:
    """Output noise leaks as before once averaged; the most private DP model is near chance; less ε, less accuracy."""
    sigmas = swept(m)
    if len(sigmas) < 2 or m["output_noise"] == 0 or m["queries"] < 10:
        return None
    lo, hi, base = f"dp_{sigmas[0]:g}", f"dp_{sigmas[-1]:g}", m["auc_non_private"]
    leaks = base >= 0.56 and m["auc_output_noise_avg"] >= base - 0.02
    costly = m["test_acc_output_noise"] <= m["test_acc_non_private"] - 0.05
    private = m[f"auc_{hi}"] <= min(0.57, base - 0.04)
    trade_off = m[f"test_acc_{lo}"] - m[f"test_acc_{hi}"] >= 0.04
    return leaks and costly and private and trade_off


CLAIM = Claim(
    _("noise on a non-private model's outputs costs accuracy yet is averaged away by repeated queries, so the "
      "membership attack works as well as without it; DP-SGD adds its noise during training, brings the attack "
      "near chance, and a smaller ε costs accuracy",
      "给非隐私模型的输出加噪声会损失准确率，却会被重复查询平均掉，成员推断攻击照样有效；DP-SGD 在训练中加噪声，"
      "让攻击接近随机猜测，而 ε 越小，准确率代价越大"),
    lesson,
    fragile=_("With a few hundred records the attack's AUC moves by about ±0.02 between data draws, and at large σ "
              "the accuracy of a DP run depends on the seed.",
              "只有几百条记录时，攻击的 AUC 会随数据抽样上下浮动约 0.02；σ 较大时，DP 训练的准确率也受种子影响。"),
)


def verdict(cfg: Config, m: Metrics) -> T:
    """The leak, the noisy API, each DP run, and the check of our step against opacus."""
    sigmas = swept(m)
    runs = join([_("σ = {s:g}: ε = {eps:.1f}, accuracy {acc:.1%}, attack AUC {auc:.3f}",
                   "σ = {s:g}：ε = {eps:.1f}，准确率 {acc:.1%}，攻击 AUC {auc:.3f}")
                 .format(s=s, eps=m[f"eps_{s:g}"], acc=m[f"test_acc_dp_{s:g}"], auc=m[f"auc_dp_{s:g}"])
                 for s in sigmas],
                _("; ", "；"))
    weakest = f"{sigmas[0]:g}"
    return sentences(
        _("The non-private MLP fitted its {n} training records to {tr:.0%} accuracy and got {te:.1%} on new records; "
          "the membership attack (a threshold on the probability of the true label) reached AUC {auc:.3f}, where "
          "0.5 is a coin flip.",
          "非隐私 MLP 在它的 {n} 条训练记录上达到 {tr:.0%} 的准确率，在新记录上为 {te:.1%}；成员推断攻击"
          "（对真实标签概率设阈值）的 AUC 达到 {auc:.3f}，0.5 相当于抛硬币。")
        .format(n=cfg.num_members, tr=m["train_acc_non_private"], te=m["test_acc_non_private"],
                auc=m["auc_non_private"]),
        _("Adding N(0, {s:g}²) to every released probability cut test accuracy to {acc:.1%}, yet the attack still "
          "reached AUC {a1:.3f} from one query and {aq:.3f} from the average of {q} queries.",
          "给每个发布的概率加上 N(0, {s:g}²) 噪声后，测试准确率降到 {acc:.1%}，但攻击仍然达到：单次查询 AUC {a1:.3f}，"
          "{q} 次查询取平均后 AUC {aq:.3f}。")
        .format(s=cfg.output_noise, acc=m["test_acc_output_noise"], a1=m["auc_output_noise_1"], q=cfg.queries,
                aq=m["auc_output_noise_avg"]) if cfg.output_noise > 0 else None,
        _("DP-SGD with opacus (C = {c:g}, δ = {delta}): {runs}.", "用 opacus 做 DP-SGD（C = {c:g}，δ = {delta}）：{runs}。")
        .format(c=cfg.max_grad_norm, delta=DELTA_TEXT, runs=runs),
        _("Even ε = {eps:.0f}, a guarantee that promises little, kept this attack at AUC {auc:.3f}: clipping and noise "
          "stop the model memorising single records, but only a small ε guarantees that against every attack.",
          "即使 ε = {eps:.0f} 这样几乎不承诺什么的保证，也让这个攻击的 AUC 只有 {auc:.3f}：裁剪和噪声让模型无法记住单条记录，"
          "但只有较小的 ε 才能对所有攻击都保证这一点。")
        .format(eps=m[f"eps_{weakest}"], auc=m[f"auc_dp_{weakest}"]) if m[f"eps_{weakest}"] > 10 else None,
        _("Our hand-written DP-SGD step (clip, sum, add noise, divide) matched opacus's gradient on one batch to "
          "{d:.0e}, noise included (same seed).",
          "我们手写的 DP-SGD 单步（裁剪、求和、加噪声、相除）在一个批次上与 opacus 的梯度相差 {d:.0e}，"
          "噪声也一致（相同种子）。").format(d=m["max_diff_ours_vs_opacus"]),
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Train one non-private MLP and one DP-SGD MLP per σ, attack each, and check one step against opacus."""
    data = records(cfg.num_members, cfg.seed)
    sigmas, count = sorted(cfg.noise_multipliers), len(cfg.noise_multipliers) + 1
    report(Event("stage", 0.0, note=_("Training the non-private model", "正在训练非隐私模型")))
    base = mlp(cfg.seed)
    trained = fit(base, torch.optim.Adam(base.parameters(), lr=cfg.lr), data["members"], epochs=cfg.epochs,
                  batch_size=BATCH, seed=cfg.seed, report=part(report, NON_PRIVATE, 0, count))
    losses = {NON_PRIVATE: trained.history["loss"]}
    metrics = scores("non_private", base, data) | output_noise_scores(cfg, base, data)
    report(Event("stage", 1 / count, note=_("Loading opacus", "正在加载 opacus")))
    for i, s in enumerate(sigmas, start=1):
        model, name = mlp(cfg.seed), same("σ = {s:g}").format(s=s)
        metrics[f"eps_{s:g}"], losses[name] = train_private(
            model, *data["members"], noise_multiplier=s, max_grad_norm=cfg.max_grad_norm, batch_size=BATCH,
            epochs=cfg.epochs, lr=cfg.lr, seed=cfg.seed, report=part(report, name, i, count))
        metrics[f"full_batch_eps_{s:g}"] = gaussian_epsilon(s, len(losses[name]))  # same steps, no subsampling
        metrics |= scores(f"dp_{s:g}", model, data)
    metrics |= step_check(cfg, data) | {"output_noise": cfg.output_noise, "queries": cfg.queries}
    report(Event("stage", 1.0, note=_("Done", "完成")))
    return Result(metrics, verdict(cfg, metrics), charts(cfg, metrics, losses), tables(cfg, metrics))


def charts(cfg: Config, m: Metrics, losses: dict[T, list[float]]) -> list[Chart]:
    """Accuracy against ε, the attack's AUC per model, and every run's training loss."""
    sigmas = swept(m)
    eps = [m[f"eps_{s:g}"] for s in sigmas]
    dp = _("DP-SGD (opacus)", "DP-SGD（opacus）")
    curve = {dp: (eps, [m[f"test_acc_dp_{s:g}"] for s in sigmas]),
             NON_PRIVATE: ([min(eps), max(eps)], [m["test_acc_non_private"]] * 2)}
    bars = {NON_PRIVATE: m["auc_non_private"],
            _("output noise, 1 query", "输出噪声，1 次查询"): m["auc_output_noise_1"],
            _("output noise, {q} queries", "输出噪声，{q} 次查询").format(q=cfg.queries): m["auc_output_noise_avg"],
            **{_("DP, ε = {eps:.1f}", "DP，ε = {eps:.1f}").format(eps=m[f"eps_{s:g}"]): m[f"auc_dp_{s:g}"]
               for s in sigmas}}
    return [
        Chart(_("Test accuracy vs ε (smaller ε: stronger privacy)", "测试准确率与 ε（ε 越小，隐私越强）"),
              lambda lang: plots.lines_xy({k.get(lang): v for k, v in curve.items()}, _("ε (log)", "ε（对数）"),
                                          plots.ACCURACY, lang, log_x=True, dashes={NON_PRIVATE.get(lang): "dash"}),
              caption=_("ε from opacus's RDP accountant at δ = {delta}; the dashed line is the non-private model.",
                        "ε 由 opacus 的 RDP 隐私核算器在 δ = {delta} 下给出；虚线是非隐私模型。").format(delta=DELTA_TEXT)),
        Chart(_("Membership attack: AUC per model (0.5 = coin flip)", "成员推断攻击：各模型的 AUC（0.5 = 抛硬币）"),
              lambda lang: plots.bars({k.get(lang): v for k, v in bars.items()}, plots.MODEL,
                                      _("attack AUC", "攻击 AUC"), lang),
              caption=_("Output noise hides membership from one query, not from the average of many: the weights "
                        "still hold what they memorised.",
                        "输出噪声只能在单次查询时掩盖成员身份，多次查询取平均就失效了：权重里仍然存着记住的内容。")),
        Chart(_("Training", "训练过程"),
              lambda lang: plots.curves({k.get(lang): v for k, v in losses.items()}, plots.STEP, plots.TRAIN_LOSS,
                                        lang)),
    ]


def tables(cfg: Config, m: Metrics) -> list[Table]:
    """One row per model: its ε, accuracy and the attack's AUC."""
    none, inf = same("—"), same("∞")
    rows = [{"model": NON_PRIVATE, "eps": inf, "full": inf, "train": round(m["train_acc_non_private"], 3),
             "test": round(m["test_acc_non_private"], 3), "auc": round(m["auc_non_private"], 3)},
            {"model": _("non-private, noisy outputs", "非隐私，输出加噪"), "eps": none, "full": none, "train": none,
             "test": round(m["test_acc_output_noise"], 3), "auc": round(m["auc_output_noise_avg"], 3)}]
    rows += [{"model": same("DP-SGD, σ = {s:g}").format(s=s), "eps": round(m[f"eps_{s:g}"], 2),
              "full": round(m[f"full_batch_eps_{s:g}"], 1), "train": round(m[f"train_acc_dp_{s:g}"], 3),
              "test": round(m[f"test_acc_dp_{s:g}"], 3), "auc": round(m[f"auc_dp_{s:g}"], 3)} for s in swept(m)]
    return [Table(_("Privacy, accuracy and the attack", "隐私、准确率与攻击"),
                  {"model": plots.MODEL, "eps": _("ε (opacus, Poisson batches)", "ε（opacus，Poisson 抽样批次）"),
                   "full": _("ε if every step used all records", "若每步都用全部记录时的 ε"),
                   "train": plots.TRAIN_ACCURACY, "test": _("test accuracy", "测试准确率"),
                   "auc": _("attack AUC ({q} queries for noisy outputs)", "攻击 AUC（输出加噪时 {q} 次查询）")
                   .format(q=cfg.queries)}, rows)]


DEMO = Demo(
    id="dp-sgd",
    title=_("DP-SGD and membership inference", "DP-SGD 与成员推断攻击"),
    summary=_("DP-SGD with opacus at a few noise levels: ε against accuracy, a membership attack on each model, and "
              "why noise on a non-private model's outputs does not hide its training records.",
              "用 opacus 在几个噪声水平下做 DP-SGD：ε 与准确率的权衡、对每个模型的成员推断攻击，"
              "以及为什么给非隐私模型的输出加噪声藏不住它的训练记录。"),
    category="adversarial",
    config=Config,
    run=run,
    smoke=dict(noise_multipliers=(1.0, 8.0), num_members=200, epochs=5),
    key_metric="auc_output_noise_avg",
    key_label=_("attack AUC through the noisy API", "通过加噪 API 的攻击 AUC"),
    claim=CLAIM,
)
