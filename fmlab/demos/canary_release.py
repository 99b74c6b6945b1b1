"""Concept drift, retraining and a canary release that promotes a good model and rolls back a broken one.

Requests arrive from a stream whose labelling rule (a linear boundary) rotates a little every
time step. v1 is trained at t = 0 and slowly goes stale; a retrained v2 and a broken v3 (trained
on shuffled labels) are each released to a 10% canary. A bootstrap gate compares the canary's
accuracy with the incumbent's on the same window and decides, with no human in the loop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from .. import plots
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, silent
from ..params import DemoConfig, param, seed_param
from ..release import simulate
from ..text import T, _, same, sentences

NUM_FEATURES = 5
STEPS = 30
V2_AT, V3_AT = 10, 18  # when each candidate reaches the canary
TIME = _("time step", "时间步")
SERVED = _("accuracy served to users", "用户得到的准确率")
SERVED_LOSS = _("0-1 loss served to users", "用户得到的 0-1 损失")
V1_ALONE = _("v1 in shadow mode (had it kept serving)", "影子模式下的 v1（若一直由它服务）")
OUTCOME = {"promoted": _("promoted", "晋升"), "rolled back": _("rolled back", "回滚")}


@dataclass(frozen=True)
class Config(DemoConfig):
    drift_degrees: float = param(3.0, low=0.0, high=10.0, label=_("Drift per step (degrees)", "每步漂移（度）"),
                                 help=_("How far the true boundary rotates each time step",
                                        "真实决策边界每个时间步旋转的角度"))
    requests: int = param(500, low=100, high=5000, label=_("Requests per step", "每步请求数"),
                          help=_("Mean of the Poisson number of requests per time step", "每个时间步请求数（泊松分布）的均值"))
    canary_share: float = param(0.1, low=0.01, high=0.5, label=_("Canary share", "金丝雀流量比例"),
                                help=_("Share of requests the candidate answers while on trial", "候选模型试运行期间回答的请求比例"))
    window: int = param(3, low=1, high=8, label=_("Canary window (steps)", "金丝雀窗口（步）"),
                        help=_("Time steps of evidence before the gate decides", "关卡做决定前收集证据的时间步数"))
    tolerance: float = param(0.02, low=0.0, high=0.1, label=_("Allowed accuracy loss", "允许的准确率损失"),
                             help=_("Promote unless the canary may be worse than the incumbent by more than this",
                                    "除非金丝雀可能比线上版本差超过这个值，否则晋升"))
    seed: int = seed_param()


def boundary(t: int, cfg: Config) -> np.ndarray:
    """The true weight vector at time t: the first two axes rotated by t * drift_degrees: (NUM_FEATURES,)."""
    angle = math.radians(cfg.drift_degrees * t)
    w = np.zeros(NUM_FEATURES)
    w[:2] = [math.cos(angle), math.sin(angle)]
    w[2:] = 0.3  # the other features matter a little, and never change
    return w


def make_stream(cfg: Config):
    """(t, n) -> n requests X (n, d) and their labels y (n,) under the boundary of time t (5% label noise)."""
    rng = np.random.default_rng(cfg.seed)

    def stream(t: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        X = rng.normal(size=(n, NUM_FEATURES))
        y = (X @ boundary(t, cfg) > 0).astype(int)
        flip = rng.random(n) < 0.05
        return X, np.where(flip, 1 - y, y)

    return stream


def train(X: np.ndarray, y: np.ndarray) -> LogisticRegression:
    return LogisticRegression().fit(X, y)


def models(cfg: Config, stream) -> dict[str, LogisticRegression]:
    """v1 on t = 0's data; v2 on the data just before its release; v3 on the same data with shuffled labels."""
    rng = np.random.default_rng(cfg.seed + 1)
    X0, y0 = stream(0, 2000)
    X2, y2 = (np.concatenate(p) for p in zip(*[stream(t, 700) for t in (V2_AT - 2, V2_AT - 1)]))
    return {"v1": train(X0, y0), "v2": train(X2, y2), "v3": train(X2, rng.permutation(y2))}


def outcomes(router, decisions: list[dict], cfg: Config) -> Metrics:
    """Did the gate get both calls right, and what did users get before, after and during the broken canary.

    v1 stays on as a shadow (it answers every request, never served): what users would have got without releases.
    """
    served = np.array([row["served"] for row in router.log])  # (STEPS,)
    v1_alone = np.array([row["shadow"] for row in router.log])
    by_version = {d["version"]: d for d in decisions}
    after = slice(V2_AT + cfg.window, V3_AT)  # v2 serving alone
    v3 = by_version["v3"]
    return {
        "drift_degrees": cfg.drift_degrees,
        "v2_promoted": float(by_version["v2"]["promoted"]),
        "v3_rolled_back": float(not v3["promoted"]),
        "v1_before_release": float(served[V2_AT - 1]),
        "served_after_promotion": float(served[after].mean()),
        "v1_alone_same_steps": float(v1_alone[after].mean()),
        "v3_full_rollout_loss": float(v3["incumbent_acc"] - v3["canary_acc"]),  # what everyone would have lost
        "v3_trial_loss": float((v3["incumbent_acc"] - v3["canary_acc"]) * served_share(router, V3_AT, cfg.window)),
        "served_final": float(served[-1]),
    }


def served_share(router, start: int, window: int) -> float:
    """The share of requests the canary answered during its trial."""
    return float(np.mean([row["canary_share"] for row in router.log[start:start + window]]))


def lesson(m: Metrics) -> bool | None:
    """v2 promoted and 5+ points better than the stale v1; v3 rolled back, its trial costing < 1/4 of a full rollout."""
    if m["drift_degrees"] == 0:  # no drift: nothing to fix, the release tests nothing
        return None
    return (m["v2_promoted"] == 1 and m["v3_rolled_back"] == 1
            and m["served_after_promotion"] >= m["v1_alone_same_steps"] + 0.05
            and m["v3_trial_loss"] < 0.25 * m["v3_full_rollout_loss"])


CLAIM = Claim(
    _("the gate promotes the retrained model, which restores the accuracy drift took away, and rolls the broken one "
      "back after only its canary slice saw it",
      "关卡让重训的模型晋升，挽回了漂移造成的准确率损失；又把坏模型回滚，只有金丝雀那部分流量受到了它的影响"),
    lesson,
    fragile=_("With a tiny canary share or a one-step window the interval is wide, so the gate may hesitate.",
              "金丝雀比例太小或窗口只有一步时，置信区间很宽，关卡可能判断失误。"),
)


def verdict(m: Metrics, decisions: list[dict], window: int) -> T:
    """Each decision with its interval, then what users got."""
    said = [_("At t = {t}, {version} ({canary:.1%} on its canary vs {incumbent:.1%}; 95% interval of the gap "
              "[{low:+.1%}, {high:+.1%}]) was {outcome}.",
              "t = {t} 时，{version}（金丝雀上 {canary:.1%}，线上版本 {incumbent:.1%}；差值的 95% 区间 "
              "[{low:+.1%}, {high:+.1%}]）被{outcome}。")
            .format(t=d["t"], version=same(d["version"]), canary=d["canary_acc"], incumbent=d["incumbent_acc"],
                    low=d["low"], high=d["high"], outcome=OUTCOME["promoted" if d["promoted"] else "rolled back"])
            for d in decisions]
    return sentences(
        _("v1 served {before:.1%} just before v2 arrived; after the release users got {after:.1%}, where v1 alone "
          "would have given {alone:.1%}.",
          "v2 到来前 v1 的准确率为 {before:.1%}；发布后用户得到 {after:.1%}，而一直用 v1 只有 {alone:.1%}。")
        .format(before=m["v1_before_release"], after=m["served_after_promotion"], alone=m["v1_alone_same_steps"]),
        *said,
        _("Promoted, v3 would have cost every user {full:.1%} of accuracy; during its {window}-step trial the average "
          "user lost {trial:.1%}.",
          "若被晋升，v3 会让所有用户损失 {full:.1%} 的准确率；在它为期 {window} 步的试运行中，用户平均只损失 {trial:.1%}。")
        .format(full=m["v3_full_rollout_loss"], trial=m["v3_trial_loss"], window=window),
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Train the three versions, simulate 30 steps of traffic with two releases, and score the gate."""
    stream = make_stream(cfg)
    report(Event("stage", 0.05, note=_("Training v1, v2 and v3", "正在训练 v1、v2 和 v3")))
    versions = models(cfg, stream)

    def on_step(t: int, row: dict) -> None:  # the live curve: the 0-1 loss users got at each step
        report(Event("step", 0.1 + 0.9 * (t + 1) / STEPS, run=SERVED_LOSS, step=t + 1,
                     metrics={"loss": 1 - row["served"]}))

    router, decisions = simulate(stream, versions["v1"], [(V2_AT, versions["v2"], "v2"), (V3_AT, versions["v3"], "v3")],
                                 steps=STEPS, requests=cfg.requests, share=cfg.canary_share, window=cfg.window,
                                 tolerance=cfg.tolerance, seed=cfg.seed, shadow=versions["v1"], on_step=on_step)
    metrics = outcomes(router, decisions, cfg)
    return Result(metrics, verdict(metrics, decisions, cfg.window), charts(router), [table(decisions)])


def charts(router) -> list[Chart]:
    """Accuracy users got over time, the stale v1 in shadow mode, and a marker per decision."""
    t = [row["t"] for row in router.log]
    served, v1_alone = ([row[k] for row in router.log] for k in ("served", "shadow"))

    def timeline(lang: str):
        fig = plots.lines_xy({SERVED.get(lang): (t, served), V1_ALONE.get(lang): (t, v1_alone)}, TIME,
                             plots.ACCURACY, lang, dashes={V1_ALONE.get(lang): "dot"})
        for at, version, outcome in router.events:
            fig.add_vline(x=at - 0.5, line_dash="dash",
                          annotation_text=f"{version}: {OUTCOME[outcome].get(lang)}")
        return fig

    return [Chart(_("What users got, release by release", "每次发布后用户得到的准确率"), timeline)]


def table(decisions: list[dict]) -> Table:
    """The gate's evidence and decision for each candidate."""
    columns = {"version": _("version", "版本"), "t": _("decided at", "决定时刻"),
               "canary_acc": _("canary accuracy", "金丝雀准确率"), "incumbent_acc": _("incumbent accuracy", "线上准确率"),
               "low": _("gap, 95% low", "差值 95% 下界"), "high": _("gap, 95% high", "差值 95% 上界"),
               "outcome": _("outcome", "结果")}
    rows = [{**{k: d[k] for k in columns if k in d}, "outcome": OUTCOME["promoted" if d["promoted"] else "rolled back"]}
            for d in decisions]
    return Table(_("Canary gate decisions", "金丝雀关卡的决定"), columns, rows)


DEMO = Demo(
    id="canary-release",
    title=_("Drift, retraining and a canary release", "概念漂移、重训与金丝雀发布"),
    summary=_("A stream drifts; a retrained model wins its canary and is promoted, a broken one is rolled back "
              "automatically (SimPy).",
              "数据流在漂移；重训的模型通过金丝雀测试被晋升，坏模型被自动回滚（SimPy 模拟）。"),
    category="deployment",
    config=Config,
    run=run,
    smoke=dict(requests=200),
    key_metric="served_after_promotion",
    key_label=_("accuracy served after the release", "发布后用户得到的准确率"),
    claim=CLAIM,
)
