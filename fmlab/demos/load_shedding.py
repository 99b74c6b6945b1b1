"""Queueing collapse and load shedding: a 2-worker model server simulated with SimPy, from 50% to 150% of capacity.

The server is calibrated with the real thing: a digits MLP is trained, its per-request latency is
measured, and the simulated workers take exponential service times with that mean. Three ways to
meet overload: an unbounded FIFO queue (hope it drains), a bounded queue that refuses requests
when it is full (load shedding, a fast 503), and a token bucket in front (rate limiting, a 429).
The simulators and the token bucket are in `fmlab.queueing`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import plots
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..params import DemoConfig, param, seed_param
from ..queueing import Calibration, Served, TokenBucket, calibrate, poisson_arrivals, serve
from ..text import T, _, sentences

POLICIES = ("fifo", "shed", "bucket")
NAMES = {"fifo": _("unbounded FIFO queue", "无界 FIFO 队列"),
         "shed": _("bounded queue, shed when full", "有界队列，满则拒绝"),
         "bucket": _("token bucket rate limit", "令牌桶限流")}
MLP = _("digits MLP", "数字 MLP")
NUM_LOADS = 11  # load points from 50% to the top load
LOAD = _("offered load (share of capacity)", "到达负载（占容量的比例）")
MS = _("p99 latency of served requests (ms, log)", "已服务请求的 p99 延迟（毫秒，对数）")


@dataclass(frozen=True)
class Config(DemoConfig):
    workers: int = param(2, low=1, high=8, label=_("Workers", "工作进程数"),
                         help=_("Requests served in parallel, each by one copy of the model",
                                "并行处理请求的数量，每个由一份模型副本处理"))
    top_load: float = param(1.5, low=1.1, high=2.5, label=_("Top load", "最高负载"),
                            help=_("The sweep's highest arrival rate, as a share of capacity (it starts at 50%)",
                                   "扫描的最高到达率，占容量的比例（从 50% 开始）"))
    queue_limit: int = param(20, low=1, high=200, label=_("Queue limit", "队列上限"),
                             help=_("Load shedding refuses a request when this many are already waiting",
                                    "已有这么多请求在等待时，负载削减会拒绝新请求"))
    bucket_rate: float = param(0.9, low=0.5, high=1.2, label=_("Token rate", "令牌速率"),
                               help=_("Token bucket refill rate, as a share of capacity",
                                      "令牌桶的补充速率，占容量的比例"))
    bucket_burst: int = param(20, low=1, high=200, label=_("Bucket size", "桶容量"),
                              help=_("Tokens the bucket holds: the burst it lets through at once",
                                     "桶内最多的令牌数：一次能放行的突发量"))
    requests: int = param(2000, low=300, high=20000, label=_("Requests per load", "每个负载点的请求数"),
                          help=_("Simulated requests at each load point (longer overload, longer queue)",
                                 "每个负载点模拟的请求数（过载越久，队列越长）"))
    seed: int = seed_param()


def loads(cfg: Config) -> np.ndarray:
    """The offered loads swept, as shares of capacity: (NUM_LOADS,) from 0.5 to `top_load`."""
    return np.round(np.linspace(0.5, cfg.top_load, NUM_LOADS), 4)


def admission(policy: str, cfg: Config):
    """The admit(now, server) rule of a policy; a fresh token bucket for every run."""
    if policy == "fifo":
        return lambda now, server: True
    if policy == "shed":
        return lambda now, server: len(server.queue) < cfg.queue_limit
    bucket = TokenBucket(rate=cfg.bucket_rate * cfg.workers, burst=cfg.bucket_burst)  # tokens per τ
    return lambda now, server: bucket.take(now)  # blind to the server: it limits the rate, not the queue


def sweep(cfg: Config, service_ms: float, report: Report) -> dict[str, list[Served]]:
    """Every policy at every load, on the same seeded arrivals and service times: the runs per policy."""
    rng = np.random.default_rng(cfg.seed)
    runs = {p: [] for p in POLICIES}
    for i, load in enumerate(loads(cfg)):
        arrivals = poisson_arrivals(load * cfg.workers, cfg.requests, rng)  # τ: one mean service time
        service = rng.exponential(1.0, cfg.requests)  # (N,) exponential with the measured mean
        for p in POLICIES:
            runs[p].append(serve(arrivals, service, cfg.workers, admission(p, cfg)))
            report(Event("step", 0.2 + 0.8 * (i + 1) / NUM_LOADS, run=NAMES[p], step=i,
                         metrics={"loss": runs[p][-1].p99() * service_ms}))
    return runs


def summary(cfg: Config, runs: dict[str, list[Served]]) -> Metrics:
    """p99 (in mean service times) and refused share at the top load; FIFO's p99 at 50%; the bucket below capacity."""
    below = int(np.flatnonzero(loads(cfg) < 1)[-1])
    return {"low_load": float(loads(cfg)[0]), "top_load": float(loads(cfg)[-1]),
            "p99_fifo_low": runs["fifo"][0].p99(), "bucket_rejected_below": runs["bucket"][below].rejected,
            **{f"p99_{p}": runs[p][-1].p99() for p in POLICIES},
            **{f"rejected_{p}": runs[p][-1].rejected for p in POLICIES}}


def lesson(m: Metrics) -> bool | None:
    """Past capacity FIFO's p99 grows 10×+ and is 5×+ the others'; they refuse about the excess, FIFO nothing."""
    if m["top_load"] < 1.2:
        return None  # too close to capacity for a clear collapse in a short run
    excess = 1 - 1 / m["top_load"]  # the share the workers cannot finish; a finite run scatters ±0.03 around it
    return (m["p99_fifo"] > 10 * m["p99_fifo_low"] and m["p99_fifo"] > 5 * max(m["p99_shed"], m["p99_bucket"])
            and m["rejected_fifo"] == 0 and abs(m["rejected_shed"] - excess) < 0.1
            and m["rejected_bucket"] > excess - 0.1)


CLAIM = Claim(
    _("past capacity an unbounded queue makes p99 latency explode for everyone, while load shedding and a token "
      "bucket keep the served requests' p99 bounded by refusing about the excess traffic",
      "超过容量后，无界队列让所有人的 p99 延迟暴涨，而负载削减和令牌桶通过拒绝大约等于超额部分的流量，"
      "让被服务请求的 p99 保持有界"),
    lesson,
    fragile=_("In a short run with many workers the unbounded queue has little time to grow; a queue limit or "
              "bucket size large compared with the backlog, or a token rate above capacity, lets the queue grow "
              "almost as without a limit.",
              "运行时间短、工作进程多时，无界队列来不及变长；队列上限或桶容量相对积压过大，或令牌速率高于容量，"
              "队列几乎会像没有上限一样增长。"),
)


def verdict(cfg: Config, m: Metrics, cal: Calibration, runs: dict[str, list[Served]]) -> T:
    """The measured service time, then what each policy did at the top load, in milliseconds."""
    ms = cal.latency.mean
    return sentences(
        _("The digits MLP ({acc:.1%} test accuracy) answered one request in {mean:.3f} ms on average here "
          "(p50 {p50:.3f} ms, p99 {p99:.3f} ms), so {w} workers finish about {cap:,.0f} requests/s; the simulated "
          "workers draw exponential service times with that mean.",
          "数字 MLP（测试准确率 {acc:.1%}）在本机处理一个请求平均需要 {mean:.3f} 毫秒（p50 {p50:.3f} 毫秒，"
          "p99 {p99:.3f} 毫秒），因此 {w} 个工作进程每秒约能完成 {cap:,.0f} 个请求；模拟中的工作进程按这个均值"
          "抽取指数分布的服务时间。")
        .format(acc=cal.accuracy, mean=ms, p50=cal.latency.p50, p99=cal.latency.p99, w=cfg.workers,
                cap=cfg.workers * 1e3 / ms),
        _("With the unbounded queue, p99 went from {low:.2f} ms at {lo:.0%} load to {high:.1f} ms at {hi:.0%} "
          "({x:.0f}×), and it keeps growing for as long as the overload lasts: nobody was refused, everybody waited.",
          "使用无界队列时，p99 从 {lo:.0%} 负载下的 {low:.2f} 毫秒涨到 {hi:.0%} 负载下的 {high:.1f} 毫秒"
          "（{x:.0f} 倍），而且过载持续多久就涨多久：没有人被拒绝，所有人都在等。")
        .format(low=m["p99_fifo_low"] * ms, lo=m["low_load"], high=m["p99_fifo"] * ms, hi=m["top_load"],
                x=m["p99_fifo"] / m["p99_fifo_low"]),
        _("Shedding at {limit} waiting requests kept the served p99 at {shed:.2f} ms and refused {rs:.0%} of "
          "requests, close to the {excess:.0%} above capacity; the token bucket ({rate:.0%} of capacity, {burst} "
          "tokens) kept it at {bucket:.2f} ms and refused {rb:.0%}, and {below:.1%} already below capacity, "
          "because it limits the rate whether or not the workers are busy.",
          "在 {limit} 个请求排队时开始削减，被服务请求的 p99 保持在 {shed:.2f} 毫秒，拒绝了 {rs:.0%} 的请求，"
          "接近超出容量的 {excess:.0%}；令牌桶（容量的 {rate:.0%}，{burst} 个令牌）把 p99 保持在 {bucket:.2f} 毫秒，"
          "拒绝了 {rb:.0%}，而且在低于容量时就已拒绝 {below:.1%}，因为它不管工作进程忙不忙都限制速率。")
        .format(limit=cfg.queue_limit, shed=m["p99_shed"] * ms, rs=m["rejected_shed"],
                excess=max(0.0, 1 - 1 / m["top_load"]), rate=cfg.bucket_rate, burst=cfg.bucket_burst,
                bucket=m["p99_bucket"] * ms, rb=m["rejected_bucket"], below=m["bucket_rejected_below"]),
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Measure the model's service time, sweep load for each policy, and compare p99 and refusals."""
    report(Event("stage", 0.0, note=_("Training the digits MLP", "正在训练数字 MLP")))
    cal = calibrate(cfg.seed, part(report, MLP, 0, 5))  # training and timing: the first 20% of progress
    report(Event("stage", 0.2, note=_("Simulating the server with SimPy", "正在用 SimPy 模拟服务")))
    runs = sweep(cfg, cal.latency.mean, report)
    metrics = summary(cfg, runs)
    return Result(metrics, verdict(cfg, metrics, cal, runs), charts(cfg, cal, runs), [table(cfg, cal, runs)])


def charts(cfg: Config, cal: Calibration, runs: dict[str, list[Served]]) -> list[Chart]:
    """p99 vs load (log), refused share vs load, queue length over time near 120% load, the measured latencies."""
    ms, xs = cal.latency.mean, list(loads(cfg))
    near = int(np.argmin(np.abs(loads(cfg) - 1.2)))
    excess = _("excess above capacity", "超出容量的部分")

    def series(value, lang: str) -> dict:
        return {NAMES[p].get(lang): (xs, [value(r) for r in runs[p]]) for p in POLICIES}

    def queue(lang: str) -> dict:
        step = max(1, cfg.requests // 400)  # every few arrivals is enough to draw the line
        return {NAMES[p].get(lang): (runs[p][near].arrivals[::step] * ms, runs[p][near].waiting[::step])
                for p in POLICIES}

    def refused(lang: str):
        lines = series(lambda r: r.rejected, lang) | {excess.get(lang): (xs, [max(0.0, 1 - 1 / x) for x in xs])}
        return plots.lines_xy(lines, LOAD, _("share of requests refused", "被拒绝请求的比例"), lang,
                              dashes={excess.get(lang): "dot"}).update_xaxes(tickformat=".0%").update_yaxes(
                                  tickformat=".0%")

    return [
        Chart(_("p99 latency against offered load", "p99 延迟随到达负载的变化"),
              lambda lang: plots.lines_xy(series(lambda r: r.p99() * ms, lang), LOAD, MS, lang, log_y=True)
              .update_xaxes(tickformat=".0%")),
        Chart(_("Requests refused against offered load", "被拒绝的请求随到达负载的变化"), refused),
        Chart(_("Requests waiting over time at {load:.0%} load", "{load:.0%} 负载下排队请求数随时间的变化")
              .format(load=loads(cfg)[near]),
              lambda lang: plots.lines_xy(queue(lang), _("time (ms)", "时间（毫秒）"),
                                          _("requests waiting", "排队中的请求数"), lang)),
        Chart(_("Measured latency of one request to the digits MLP", "数字 MLP 单个请求的实测延迟"),
              lambda lang: plots.histograms({_("batch-1 forward", "批量 1 前向").get(lang): cal.samples_ms},
                                            _("ms", "毫秒"), _("calls", "调用次数"), lang, log_y=True)),
    ]


def table(cfg: Config, cal: Calibration, runs: dict[str, list[Served]]) -> Table:
    """Per load: each policy's p99 (ms) and share refused."""
    ms = cal.latency.mean
    columns = {"load": LOAD} | {f"p99_{p}": _("p99 (ms): {name}", "p99（毫秒）：{name}").format(name=NAMES[p])
                                for p in POLICIES}
    columns |= {f"refused_{p}": _("refused: {name}", "拒绝比例：{name}").format(name=NAMES[p]) for p in POLICIES[1:]}
    rows = [{"load": f"{x:.0%}", **{f"p99_{p}": round(runs[p][i].p99() * ms, 3) for p in POLICIES},
             **{f"refused_{p}": f"{runs[p][i].rejected:.1%}" for p in POLICIES[1:]}}
            for i, x in enumerate(loads(cfg))]
    return Table(_("p99 and refusals per load", "各负载下的 p99 与拒绝比例"), columns, rows)


DEMO = Demo(
    id="load-shedding",
    title=_("Queueing collapse vs load shedding", "排队崩溃与负载削减"),
    summary=_("A 2-worker server calibrated with a real model's latency, simulated with SimPy past capacity: "
              "unbounded queue, load shedding and a token bucket.",
              "用真实模型的延迟校准的 2 工作进程服务，用 SimPy 模拟超过容量的情形：无界队列、负载削减与令牌桶。"),
    category="deployment",
    config=Config,
    run=run,
    smoke=dict(requests=300),
    key_metric="p99_fifo",
    key_label=_("p99 at the top load, unbounded queue (service times)", "最高负载下无界队列的 p99（以服务时间计）"),
    claim=CLAIM,
)
