"""Fixed replicas vs an HPA-like autoscaler under a traffic ramp, simulated with SimPy.

Each replica is one worker serving the digits MLP, with exponential service times of the mean we
measure. Traffic ramps from 20% to 300% of one replica's capacity and back. A small fixed fleet
drowns at the peak, a fleet sized for the peak idles most of the day, and an HPA-like rule (target
utilisation, evaluation period, start-up delay, min/max) follows the load a little late.
Time is counted in mean service times (τ), so the whole day plays out in well under a second of
simulated time; what matters is how the start-up delay and period compare with the ramp.
The fleet simulator and the HPA formula are in `fmlab.queueing`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import plots
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..params import DemoConfig, param, seed_param
from ..queueing import Autoscaler, Calibration, Fleet, calibrate, fleet, p99_by_window, thinned_arrivals
from ..text import T, _, sentences

POLICIES = ("small", "large", "auto")
MLP = _("digits MLP", "数字 MLP")
BASE = 0.2  # quiet traffic, as a share of one replica's capacity
NUM_WINDOWS = 100  # p99 is judged per window of horizon / 100
TIME = _("time (ms, simulated)", "时间（毫秒，模拟）")


@dataclass(frozen=True)
class Config(DemoConfig):
    peak: float = param(3.0, low=1.5, high=6.0, label=_("Peak traffic", "峰值流量"),
                        help=_("Traffic at the peak, in replicas' worth of capacity (it starts at 0.2)",
                               "峰值流量，以单副本容量的倍数计（起点为 0.2）"))
    fixed_small: int = param(2, low=1, high=10, label=_("Small fixed fleet", "小规模固定副本数"),
                             help=_("Replicas of the fleet sized for ordinary traffic", "按日常流量配置的副本数"))
    fixed_large: int = param(5, low=1, high=20, label=_("Large fixed fleet", "大规模固定副本数"),
                             help=_("Replicas of the fleet sized for the peak", "按峰值配置的副本数"))
    target: float = param(0.6, low=0.3, high=0.95, label=_("Target utilisation", "目标利用率"),
                          help=_("The autoscaler adds replicas when utilisation is above this",
                                 "利用率高于该值时自动扩缩容器增加副本"))
    period: int = param(100, low=10, high=1000, label=_("Evaluation period (service times)", "评估周期（服务时间）"),
                        help=_("How often the autoscaler decides, in mean service times", "自动扩缩容器多久决策一次，以平均服务时间计"))
    startup: int = param(130, low=0, high=2000, label=_("Start-up delay (service times)", "启动延迟（服务时间）"),
                         help=_("Time a new replica needs before it serves (image pull, model load)",
                                "新副本开始服务前所需的时间（拉取镜像、加载模型）"))
    min_replicas: int = param(1, low=1, high=10, label=_("Min replicas", "最小副本数"),
                              help=_("The autoscaler never goes below this", "自动扩缩容器的下限"))
    max_replicas: int = param(10, low=1, high=30, label=_("Max replicas", "最大副本数"),
                              help=_("The autoscaler never goes above this", "自动扩缩容器的上限"))
    slo: float = param(10.0, low=3.0, high=100.0, label=_("SLO: p99 (service times)", "SLO：p99（服务时间）"),
                       help=_("A window violates the SLO when its p99 latency is above this many service times",
                              "某个时间窗口的 p99 延迟超过这么多个服务时间即违反 SLO"))
    duration: int = param(6000, low=2000, high=30000, label=_("Duration (service times)", "时长（服务时间）"),
                          help=_("Length of the simulated day, in mean service times", "模拟的一天的长度，以平均服务时间计"))
    seed: int = seed_param()


def names(cfg: Config) -> dict[str, T]:
    """The three fleets' names, with their sizes."""
    return {"small": _("fixed {n} replicas", "固定 {n} 个副本").format(n=cfg.fixed_small),
            "large": _("fixed {n} replicas", "固定 {n} 个副本").format(n=cfg.fixed_large),
            "auto": _("autoscaler {lo}–{hi}", "自动扩缩容 {lo}–{hi}").format(lo=cfg.min_replicas, hi=cfg.max_replicas)}


def phases(cfg: Config) -> tuple[float, float, float, float]:
    """When the ramp starts and ends, and when the way down starts and ends (τ): the question's 900 s day, scaled."""
    d = cfg.duration
    return 0.15 * d, 0.22 * d, 0.6 * d, 0.8 * d


def traffic(cfg: Config, t: np.ndarray) -> np.ndarray:
    """Offered load at times t (τ), in replicas' worth: BASE, a ramp to `peak`, a plateau, a slower way down."""
    up0, up1, down0, down1 = phases(cfg)
    rise = np.minimum((t - up0) / (up1 - up0), (down1 - t) / (down1 - down0))
    return BASE + (cfg.peak - BASE) * np.clip(rise, 0, 1)


def simulate(cfg: Config, report: Report) -> tuple[np.ndarray, dict[str, Fleet]]:
    """The same seeded arrivals and service times through the three fleets."""
    rng = np.random.default_rng(cfg.seed)
    arrivals = thinned_arrivals(lambda t: traffic(cfg, t), cfg.peak, cfg.duration, rng)  # (N,) in τ
    service = rng.exponential(1.0, len(arrivals))  # (N,) exponential with the measured mean
    scaler = Autoscaler(cfg.target, cfg.period, cfg.startup, cfg.min_replicas, max(cfg.min_replicas, cfg.max_replicas))
    settings = {"small": dict(fixed=cfg.fixed_small), "large": dict(fixed=cfg.fixed_large), "auto": dict(scaler=scaler)}
    fleets = {}
    for i, (key, kw) in enumerate(settings.items()):
        note = _("Simulating: {name}", "正在模拟：{name}").format(name=names(cfg)[key])

        def progress(share: float, i: int = i, note: T = note) -> None:  # called 20 times per simulated day
            report(Event("stage", 0.2 + 0.8 * (i + share) / 3, note=note))

        fleets[key] = fleet(arrivals, service, cfg.duration, progress=progress, **kw)
    return arrivals, fleets


def summary(cfg: Config, arrivals: np.ndarray, fleets: dict[str, Fleet]) -> Metrics:
    """Per fleet: average replicas (cost), share of windows over the SLO, worst window p99 (τ);
    and the share of the autoscaler's breaches in the first quarter of the busy phase (1 if none)."""
    width = cfg.duration / NUM_WINDOWS
    p99 = {k: p99_by_window(f.latency, arrivals, width, cfg.duration) for k, f in fleets.items()}  # (windows,)
    up0, _up1, down0, _down1 = phases(cfg)
    starts = np.arange(NUM_WINDOWS) * width
    breach = p99["auto"] > cfg.slo
    early = (starts >= up0) & (starts < up0 + (down0 - up0) / 4)
    return {"peak": cfg.peak, "fixed_small": float(cfg.fixed_small), "fixed_large": float(cfg.fixed_large),
            **{f"cost_{k}": f.cost / cfg.duration for k, f in fleets.items()},
            **{f"violations_{k}": float((p > cfg.slo).mean()) for k, p in p99.items()},
            **{f"worst_p99_{k}": float(p.max()) for k, p in p99.items()},
            "breaches_after_ramp": float(breach[early].sum() / breach.sum()) if breach.any() else 1.0,
            "max_replicas_auto": float(fleets["auto"].replicas.max())}


def lesson(m: Metrics) -> bool | None:
    """Small fleet breaches 25%+ of windows, large ≤ 2%; the autoscaler ≤ 20% (and half the small one's),
    mostly right after the ramp starts, for ≤ 85% of the large fleet's cost."""
    if not m["fixed_small"] < m["peak"] < m["fixed_large"] or m["violations_auto"] == 0:
        return None  # the fixed fleets must straddle the peak, and an autoscaler that never lags shows no lag
    return (m["violations_small"] >= 0.25 and m["violations_large"] <= 0.02 and m["violations_auto"] <= 0.2
            and m["violations_auto"] <= m["violations_small"] / 2 and m["breaches_after_ramp"] >= 0.75
            and m["cost_auto"] <= 0.85 * m["cost_large"])


CLAIM = Claim(
    _("the autoscaler meets the SLO most of the time at a lower cost than a fleet sized for the peak, breaching it "
      "briefly right after the ramp starts while new replicas boot; a small fixed fleet violates it at the peak",
      "自动扩缩容在大部分时间满足 SLO，成本低于按峰值配置的固定副本，只在流量上升初期新副本启动期间短暂违反；"
      "小规模固定副本在峰值时违反 SLO"),
    lesson,
    fragile=_("A start-up delay or evaluation period long compared with the ramp, or a high target utilisation, "
              "leaves the autoscaler behind the load for longer.",
              "启动延迟或评估周期相对流量上升过程太长，或目标利用率太高，自动扩缩容落后于负载的时间就会更长。"),
)


def verdict(cfg: Config, m: Metrics, cal: Calibration) -> T:
    """The measured service time and the compressed clock, then cost and SLO per fleet."""
    ms, n = cal.latency.mean, names(cfg)
    return sentences(
        _("The digits MLP ({acc:.1%} test accuracy) answered one request in {mean:.3f} ms on average here "
          "(p50 {p50:.3f} ms, p99 {p99:.3f} ms), so one replica serves about {cap:,.0f} requests/s and the simulated "
          "day lasts {day:.0f} ms; a new replica needs {boot:.1f} ms to start, {ratio:.0%} of the ramp's length, "
          "as a real model's tens of seconds of loading compare with a ramp of minutes. The SLO is p99 ≤ {slo:.2f} ms.",
          "数字 MLP（测试准确率 {acc:.1%}）在本机处理一个请求平均需要 {mean:.3f} 毫秒（p50 {p50:.3f} 毫秒，"
          "p99 {p99:.3f} 毫秒），因此一个副本每秒约能处理 {cap:,.0f} 个请求，模拟的一天持续 {day:.0f} 毫秒；"
          "新副本需要 {boot:.1f} 毫秒才能启动，为流量上升时长的 {ratio:.0%}，正如真实模型几十秒的加载时间之于几分钟的流量上升。"
          "SLO 为 p99 ≤ {slo:.2f} 毫秒。")
        .format(acc=cal.accuracy, mean=ms, p50=cal.latency.p50, p99=cal.latency.p99, cap=1e3 / ms,
                day=cfg.duration * ms, boot=cfg.startup * ms, ratio=cfg.startup / (phases(cfg)[1] - phases(cfg)[0]),
                slo=cfg.slo * ms),
        _("{small} used {cs:.1f} replicas on average and broke the SLO in {vs:.0%} of windows (worst p99 {ws:.1f} ms); "
          "{large} used {cl:.1f} and broke it in {vl:.0%}; the autoscaler used {ca:.2f} on average ({rel:.0%} of the "
          "large fleet's cost, at most {top:.0f} at once) and broke it in {va:.0%}, {early:.0%} of those right after "
          "the ramp started (worst p99 {wa:.1f} ms).",
          "{small}平均使用 {cs:.1f} 个副本，在 {vs:.0%} 的时间窗口违反 SLO（最差 p99 {ws:.1f} 毫秒）；"
          "{large}使用 {cl:.1f} 个，违反比例 {vl:.0%}；自动扩缩容平均使用 {ca:.2f} 个（为大规模固定副本成本的 {rel:.0%}，"
          "同时最多 {top:.0f} 个），违反比例 {va:.0%}，其中 {early:.0%} 出现在流量刚开始上升之后（最差 p99 {wa:.1f} 毫秒）。")
        .format(small=n["small"], cs=m["cost_small"], vs=m["violations_small"], ws=m["worst_p99_small"] * ms,
                large=n["large"], cl=m["cost_large"], vl=m["violations_large"], ca=m["cost_auto"],
                rel=m["cost_auto"] / m["cost_large"], top=m["max_replicas_auto"], va=m["violations_auto"],
                early=m["breaches_after_ramp"], wa=m["worst_p99_auto"] * ms),
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Measure the model's service time, then run the same day through two fixed fleets and the autoscaler."""
    report(Event("stage", 0.0, note=_("Training the digits MLP", "正在训练数字 MLP")))
    cal = calibrate(cfg.seed, part(report, MLP, 0, 5))  # training and timing: the first 20% of progress
    arrivals, fleets = simulate(cfg, report)
    metrics = summary(cfg, arrivals, fleets)
    return Result(metrics, verdict(cfg, metrics, cal), charts(cfg, cal, arrivals, fleets), [table(cfg, metrics)])


def charts(cfg: Config, cal: Calibration, arrivals: np.ndarray, fleets: dict[str, Fleet]) -> list[Chart]:
    """Offered load and replicas over time; p99 per window over time (log) with the SLO."""
    ms, n, width = cal.latency.mean, names(cfg), cfg.duration / NUM_WINDOWS
    grid = np.linspace(0, cfg.duration, 300)
    starts = (np.arange(NUM_WINDOWS) + 0.5) * width * ms
    load, slo = _("offered load", "到达负载"), _("SLO", "SLO")

    def replicas(lang: str):
        lines = {load.get(lang): (grid * ms, traffic(cfg, grid))}
        lines |= {n[k].get(lang): (f.times * ms, f.replicas) for k, f in fleets.items()}
        fig = plots.lines_xy(lines, TIME, _("replicas (load in replicas' worth)", "副本数（负载以副本容量计）"), lang,
                             dashes={load.get(lang): "dot"})
        for trace in fig.data[1:]:
            trace.line.shape = "hv"  # the replica count holds until the next decision
        return fig

    def latency(lang: str):
        lines = {n[k].get(lang): (starts, p99_by_window(f.latency, arrivals, width, cfg.duration) * ms)
                 for k, f in fleets.items()}
        lines[slo.get(lang)] = ([0, cfg.duration * ms], [cfg.slo * ms] * 2)
        return plots.lines_xy(lines, TIME, _("p99 latency per window (ms, log)", "每个窗口的 p99 延迟（毫秒，对数）"),
                              lang, log_y=True, dashes={slo.get(lang): "dash"})

    return [Chart(_("Offered load and replica count over time", "到达负载与副本数随时间的变化"), replicas),
            Chart(_("p99 latency over time", "p99 延迟随时间的变化"), latency)]


def table(cfg: Config, m: Metrics) -> Table:
    """Cost against SLO violations, per fleet."""
    columns = {"fleet": _("fleet", "副本配置"), "replicas": _("average replicas", "平均副本数"),
               "cost": _("cost vs fixed large", "成本（相对大规模固定副本）"),
               "violations": _("windows over the SLO", "违反 SLO 的窗口比例")}
    rows = [{"fleet": names(cfg)[k], "replicas": round(m[f"cost_{k}"], 2),
             "cost": f"{m[f'cost_{k}'] / m['cost_large']:.0%}", "violations": f"{m[f'violations_{k}']:.0%}"}
            for k in POLICIES]
    return Table(_("Cost (replica-time) vs SLO violations", "成本（副本·时间）与 SLO 违反"), columns, rows)


DEMO = Demo(
    id="autoscaling-sim",
    title=_("Fixed replicas vs autoscaling", "固定副本与自动扩缩容"),
    summary=_("A traffic ramp to 300% of one replica, simulated with SimPy: two fixed fleets against an HPA-like "
              "rule with a start-up delay, cost against SLO violations.",
              "流量升到单副本容量的 300%，用 SimPy 模拟：两种固定副本与带启动延迟的类 HPA 规则，比较成本与 SLO 违反。"),
    category="deployment",
    config=Config,
    run=run,
    smoke=dict(duration=2000),
    key_metric="violations_auto",
    key_label=_("windows over the SLO, autoscaler", "自动扩缩容违反 SLO 的窗口比例"),
    claim=CLAIM,
)
