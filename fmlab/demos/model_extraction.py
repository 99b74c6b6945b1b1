"""Model extraction: stealing a digit classifier through its prediction API, then attacking it with the copy.

The owner trains a victim MLP on its own digits and serves it behind `api(X, mode)`, which returns
the full probability vector or only the top-1 label. The attacker holds other, unlabelled digits
and a query budget: it trains a surrogate on the API's answers and measures how often the copy
agrees with the victim. FGSM examples crafted on the copy, whose gradients the attacker has, are
then sent to the victim: a transfer attack with no access to the victim's weights.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .. import data, plots
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..extraction import MODES, Api, accuracy, agreement, fgsm, prediction_api, sign_noise, steal_loss
from ..fit import fit
from ..nets import MLP, init_weights
from ..params import DemoConfig, param, seed_param
from ..text import T, _, sentences

BUDGETS = (25, 50, 100, 200, 400)
NUM_OWNER = 758  # training digits the owner keeps; the other 500 are the attacker's unlabelled pool
MODE_NAMES = {"probs": _("API returns probabilities", "API 返回概率"),
              "labels": _("API returns the label only", "API 只返回标签")}
ATTACKS = {"clean": _("clean test digits", "干净测试数字"), "noise": _("random ±ε noise", "随机 ±ε 噪声"),
           "transfer": _("FGSM on the stolen copy", "在窃取副本上做 FGSM"),
           "whitebox": _("FGSM on the victim itself", "直接对受害模型做 FGSM")}


@dataclass(frozen=True)
class Config(DemoConfig):
    budgets: tuple = param(BUDGETS, choices=BUDGETS, label=_("Query budgets", "查询配额"),
                           help=_("Numbers of inputs the attacker may send to the API; one surrogate per budget "
                                  "and API mode", "攻击者可以发给 API 的输入数量；每个配额、每种 API 模式各训练一个替代模型"))
    steps: int = param(150, low=20, high=1000, label=_("Surrogate steps", "替代模型训练步数"),
                       help=_("Adam steps for every surrogate, whatever its budget (batches of up to 64 queries)",
                              "每个替代模型的 Adam 步数，与配额无关（每批最多 64 个查询）"))
    eps: float = param(0.15, low=0.01, high=0.5, label=_("FGSM ε", "FGSM 的 ε"),
                       help=_("Per-pixel size of the adversarial step (pixels lie in [0, 1])",
                              "对抗扰动在每个像素上的幅度（像素取值在 [0, 1]）"))
    seed: int = seed_param()


def mlp(width: int, seed: int) -> MLP:
    """64 -> width -> 10 with a ReLU: the victim is 128 wide, the attacker's surrogate 64."""
    return init_weights(MLP(64, 10, width=width, depth=0), seed)


def train_victim(cfg: Config, split: data.Split, report: Report) -> MLP:
    """The owner's model: 20 epochs of Adam on the owner's labelled digits."""
    victim = mlp(128, cfg.seed)
    fit(victim, torch.optim.Adam(victim.parameters(), lr=3e-3), (split.X_train[:NUM_OWNER], split.y_train[:NUM_OWNER]),
        epochs=20, batch_size=64, seed=cfg.seed, report=report)
    return victim.eval()


def steal(cfg: Config, api: Api, pool: Tensor, n: int, mode: str, report: Report) -> MLP:
    """A surrogate trained for `cfg.steps` steps on the first n pool inputs and the API's answers to them."""
    queries = pool[:n]  # (n, 64)
    answers = api(queries, mode)  # (n, 10) probabilities or (n,) labels
    batch = min(64, n)
    surrogate = mlp(64, cfg.seed + 1)
    fit(surrogate, torch.optim.Adam(surrogate.parameters(), lr=1e-2), (queries, answers),
        epochs=math.ceil(cfg.steps / math.ceil(n / batch)), batch_size=batch, loss_fn=steal_loss, seed=cfg.seed,
        report=report)
    return surrogate.eval()


def transfer_attack(surrogate: MLP, X: Tensor, eps: float) -> Tensor:
    """FGSM on the attacker's copy, against the copy's own predictions (the attacker knows no true labels): (N, 64)."""
    with torch.no_grad():
        guess = surrogate(X).argmax(dim=1)  # (N,)
    return fgsm(surrogate, X, guess, eps)


def key(mode: str, n: int) -> str:
    return f"agreement_{mode}_{n}"


def lesson(m: Metrics) -> bool | None:
    """At the largest budget (200+ queries) both modes agree with the victim on 90%+ of test digits, labels
    within 5 points of probabilities; FGSM from the label-only copy costs the victim 25+ points more than noise."""
    n = int(m["largest_budget"])
    if n < 200:
        return None  # too few queries to test "a few hundred"
    p, lab = m[key("probs", n)], m[key("labels", n)]
    return (p >= 0.9 and lab >= 0.9 and p - lab < 0.05
            and m["victim_acc_noise"] - m["victim_acc_transfer"] > 0.25)


CLAIM = Claim(
    _("a surrogate trained on a few hundred queries copies the victim's decisions on 90%+ of test digits even when "
      "the API returns only labels, and FGSM examples crafted on the copy hurt the victim far more than random "
      "noise of the same size",
      "用几百次查询训练的替代模型，即使 API 只返回标签，也能在 90% 以上的测试数字上复现受害模型的决策；"
      "在副本上生成的 FGSM 样本对受害模型的伤害远大于同样幅度的随机噪声"),
    lesson,
    fragile=_("A small ε makes every attack weak, and too few surrogate steps leave the copy undertrained.",
              "ε 太小时所有攻击都很弱；替代模型训练步数太少时，副本训练不足。"),
)


def verdict(cfg: Config, m: Metrics) -> T:
    """Victim accuracy, agreement at the smallest and largest budget, the transfer attack."""
    lo, hi = min(cfg.budgets), max(cfg.budgets)
    at = _("With {n} queries the copy agreed with the victim on {p:.1%} of the test digits when the API returned "
           "probabilities and on {lab:.1%} when it returned only labels.",
           "查询 {n} 次时，API 返回概率的情况下副本与受害模型在 {p:.1%} 的测试数字上一致，只返回标签时为 {lab:.1%}。")
    gap_lo, gap_hi = m[key("probs", lo)] - m[key("labels", lo)], m[key("probs", hi)] - m[key("labels", hi)]
    return sentences(
        _("The victim labels {acc:.1%} of the test digits correctly.", "受害模型正确识别了 {acc:.1%} 的测试数字。")
        .format(acc=m["victim_acc_clean"]),
        at.format(n=lo, p=m[key("probs", lo)], lab=m[key("labels", lo)]) if lo < hi else None,
        at.format(n=hi, p=m[key("probs", hi)], lab=m[key("labels", hi)]),
        _("Probabilities help most when queries are scarce: they added {lo:.1f} points of agreement at {n_lo} "
          "queries and {hi:.1f} at {n_hi}.",
          "查询越少，返回概率的帮助越大：{n_lo} 次查询时一致率高出 {lo:.1f} 个百分点，{n_hi} 次时只高出 {hi:.1f} 个百分点。")
        .format(lo=100 * gap_lo, n_lo=lo, hi=100 * gap_hi, n_hi=hi) if lo < hi and gap_lo > gap_hi + 0.01 else None,
        _("Hiding the probabilities did not stop the theft: a query budget, rate limits and watching for "
          "extraction-like query patterns are what bound it.",
          "隐藏概率并没有阻止模型被窃取：真正起限制作用的是查询配额、限流，以及对窃取式查询模式的监控。")
        if m[key("labels", hi)] >= 0.9 and gap_hi < 0.05 else None,
        _("Victim accuracy under FGSM with ε = {eps:g} crafted on the label-only copy: {transfer:.1%}; under random "
          "±ε noise: {noise:.1%}; under FGSM on the victim itself: {whitebox:.1%}.",
          "在只用标签窃取的副本上生成 FGSM（ε = {eps:g}）时，受害模型的准确率为 {transfer:.1%}；随机 ±ε 噪声下为 "
          "{noise:.1%}；直接对受害模型做 FGSM 时为 {whitebox:.1%}。")
        .format(eps=cfg.eps, transfer=m["victim_acc_transfer"], noise=m["victim_acc_noise"],
                whitebox=m["victim_acc_whitebox"]),
        _("The stolen copy is a white-box stand-in: its adversarial examples transfer to the victim, whose weights "
          "the attacker never touched.", "偷来的副本就是一个白盒替身：在它上面生成的对抗样本能迁移到受害模型，而攻击者从未接触过受害模型的权重。")
        if m["victim_acc_noise"] - m["victim_acc_transfer"] > 0.25 else None,
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Train the victim, steal it at every budget through both API modes, attack it with the largest copy."""
    report(Event("stage", 0.0, note=_("Loading the digits", "正在加载手写数字")))
    split, budgets = data.digits(seed=cfg.seed), sorted(cfg.budgets)
    pool, count = split.X_train[NUM_OWNER:], 1 + len(budgets) * len(MODES)  # (500, 64) unlabelled to the attacker
    victim = train_victim(cfg, split, part(report, _("victim", "受害模型"), 0, count))
    api = prediction_api(victim)  # all the attacker may touch
    surrogates, metrics = {}, {}
    for i, (n, mode) in enumerate((n, mode) for n in budgets for mode in MODES):
        name = _("{n} queries, {mode}", "{n} 次查询，{mode}").format(n=n, mode=MODE_NAMES[mode])
        surrogates[(mode, n)] = steal(cfg, api, pool, n, mode, part(report, name, 1 + i, count))
        metrics[key(mode, n)] = agreement(surrogates[(mode, n)], victim, split.X_val)
    report(Event("stage", 1.0, note=_("Transfer attack", "迁移攻击")))
    X_adv = transfer_attack(surrogates[("labels", budgets[-1])], split.X_val, cfg.eps)
    metrics |= {"largest_budget": float(budgets[-1]), "final_agreement_labels": metrics[key("labels", budgets[-1])],
                "victim_acc_clean": accuracy(victim, split.X_val, split.y_val),
                "victim_acc_noise": accuracy(victim, sign_noise(split.X_val, cfg.eps, cfg.seed), split.y_val),
                "victim_acc_transfer": accuracy(victim, X_adv, split.y_val),
                "victim_acc_whitebox": accuracy(victim, fgsm(victim, split.X_val, split.y_val, cfg.eps), split.y_val)}
    return Result(metrics, verdict(cfg, metrics), charts(cfg, metrics, split, victim, X_adv), tables(cfg, metrics))


def charts(cfg: Config, m: Metrics, split: data.Split, victim: MLP, X_adv: Tensor) -> list[Chart]:
    """Agreement vs queries per API mode, the victim's accuracy under each attack, and a few stolen-copy FGSM digits."""
    budgets = sorted(cfg.budgets)
    shown = 8
    with torch.no_grad():
        clean, fooled = victim(split.X_val[:shown]).argmax(1), victim(X_adv[:shown]).argmax(1)  # (8,) each
    images = np.stack([split.X_val[:shown], X_adv[:shown]]).reshape(2, shown, 8, 8, 1).repeat(3, axis=4)
    titles = [f"{int(a)} → {int(b)}" for a, b in zip(clean, fooled)]
    return [
        Chart(_("Surrogate–victim agreement vs queries", "替代模型与受害模型的一致率与查询次数"),
              lambda lang: plots.lines_xy({MODE_NAMES[mode].get(lang): (budgets, [m[key(mode, n)] for n in budgets])
                                           for mode in MODES}, _("queries to the API (log)", "API 查询次数（对数）"),
                                          _("agreement on test digits", "测试数字上的一致率"), lang, log_x=True),
              caption=_("Agreement: the share of test digits on which the copy predicts the victim's class.",
                        "一致率：副本与受害模型预测相同类别的测试数字所占比例。")),
        Chart(_("Victim accuracy under attack (ε = {eps:g})", "攻击下受害模型的准确率（ε = {eps:g}）").format(eps=cfg.eps),
              lambda lang: plots.bars({ATTACKS[a].get(lang): m[f"victim_acc_{a}"] for a in ATTACKS}, plots.METHOD,
                                      _("victim test accuracy", "受害模型测试准确率"), lang),
              caption=_("The transfer attack used only the copy's gradients, never the victim's.",
                        "迁移攻击只用了副本的梯度，从未用到受害模型的梯度。")),
        Chart(_("Test digits and their FGSM versions from the stolen copy", "测试数字及其由窃取副本生成的 FGSM 版本"),
              lambda lang: plots.image_grid(images, [_("clean", "原图"), _("FGSM on the copy", "副本上的 FGSM")],
                                            titles, lang),
              caption=_("Titles: the victim's answer on the clean digit → on the perturbed one.",
                        "标题：受害模型对原图的回答 → 对扰动后图像的回答。")),
    ]


def tables(cfg: Config, m: Metrics) -> list[Table]:
    """Agreement per budget and API mode."""
    rows = [{"queries": n, **{mode: round(m[key(mode, n)], 3) for mode in MODES}} for n in sorted(cfg.budgets)]
    return [Table(_("Extraction by query budget", "不同查询配额下的窃取效果"),
                  {"queries": _("queries", "查询次数"), **MODE_NAMES}, rows)]


DEMO = Demo(
    id="model-extraction",
    title=_("Model extraction through a prediction API", "通过预测 API 窃取模型"),
    summary=_("Steal a digit classifier by querying its API with 25 to 400 unlabelled digits, with probabilities or "
              "labels only; then attack the victim with FGSM crafted on the stolen copy.",
              "用 25 到 400 个无标签数字查询手写数字分类器的 API（返回概率或只返回标签）来窃取模型；"
              "再用在窃取副本上生成的 FGSM 样本攻击受害模型。"),
    category="adversarial",
    config=Config,
    run=run,
    smoke=dict(budgets=(25, 100), steps=20),
    key_metric="final_agreement_labels",
    key_label=_("agreement with the victim, labels-only API, largest budget",
                "只返回标签时、最大配额下与受害模型的一致率"),
    claim=CLAIM,
)
