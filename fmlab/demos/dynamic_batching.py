"""Real-time inference: a real dynamic batcher (`fmlab.batcher`) serving a digit MLP under Poisson traffic.

A call's cost is mostly fixed (a dozen layers' dispatch), so a batch of 32 costs little more than one request:
past the one-at-a-time rate the unbatched queue grows without bound while the batcher keeps up. Loads are
multiples of that rate, measured here just before the streams, so the lesson holds on a fast or a busy machine.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .. import data, plots
from ..batcher import Served, cold_start, in_thread, poisson_arrivals, saturated_throughput, serve_stream, warm_shapes
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..fit import evaluate, fit
from ..latency import Latency, measure
from ..nets import MLP, init_weights
from ..params import DemoConfig, epochs_param, param, seed_param
from ..text import T, _, sentences

LOADS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128)
MODES = ("unbatched", "batched")
MODE_NAMES = {"unbatched": _("no batching", "不做批处理"), "batched": _("dynamic batching", "动态批处理")}
COLD_CALLS = 10  # first calls of a freshly loaded model, timed one by one
QPS = _("offered load (requests / s)", "请求负载（请求数 / 秒）")
MAX_BATCH = _("max batch", "最大批量")
MS = _("latency (ms, log)", "延迟（毫秒，对数）")
PER_S = _("requests / s (log)", "请求数 / 秒（对数）")
US = _("µs per request (log)", "每个请求的微秒数（对数）")


@dataclass(frozen=True)
class Config(DemoConfig):
    max_batch: int = param(32, choices=(2, 4, 8, 16, 32, 64, 128), label=MAX_BATCH,
                           help=_("Most requests one forward pass of the dynamic batcher serves",
                                  "动态批处理一次前向最多服务的请求数"))
    max_wait_ms: float = param(2.0, low=0.1, high=20.0, log=True, label=_("Max wait (ms)", "最长等待（毫秒）"),
                               help=_("How long the oldest waiting request may wait for others to join its batch",
                                      "队首请求最多等待多久，让其他请求加入同一批"))
    loads: tuple = param((0.5, 1.0, 2.0), choices=LOADS, label=_("Offered loads", "请求负载"),
                         help=_("Poisson request rates, as multiples of the most requests/s answered one at a time",
                                "泊松请求速率，以逐个处理时每秒最多能回答的请求数为单位"))
    stream_s: float = param(0.4, low=0.2, high=3.0, label=_("Stream length (s)", "请求流时长（秒）"),
                            help=_("Seconds of arrivals replayed per load and server", "每种负载、每种服务方式重放的到达时长（秒）"))
    depth: int = param(8, low=1, high=16, label=_("Blocks", "网络块数"),
                       help=_("Residual blocks of width 128 in the served MLP: each adds a fixed cost per call",
                              "被服务的 MLP 中宽度为 128 的残差块数：每块都给每次调用增加固定开销"))
    epochs: int = epochs_param(2, high=20, help=_("Passes over the training digits", "遍历训练数字的次数"))
    seed: int = seed_param(_("Same seed, same model and arrival times (latencies still vary with machine load)",
                             "相同种子，相同模型与到达时刻（延迟仍随机器负载变化）"))


def mlp(depth: int, seed: int) -> MLP:
    """64 -> 128 -> `depth` residual blocks with BatchNorm -> 10."""
    return init_weights(MLP(64, 10, width=128, depth=depth, batchnorm=True, residual=True), seed)


def key(mode: str, load: float) -> str:
    """The metric-name suffix of one stream: "batched_2x"."""
    return f"{mode}_{load:g}x"


def streams(cfg: Config, model: MLP, X: Tensor, rate: float, report: Report) -> dict[str, Served]:
    """Each load replayed against the unbatched (max batch 1) and the dynamic batcher; same arrivals for both."""
    jobs = [(load, mode) for load in sorted(cfg.loads) for mode in MODES]
    out = {}
    for i, (load, mode) in enumerate(jobs):
        arrivals = poisson_arrivals(load * rate, cfg.stream_s, seed=cfg.seed + i // 2)  # (N,) seconds
        note = _("Serving {qps:,.0f} requests/s, {mode}", "以每秒 {qps:,.0f} 个请求服务，{mode}").format(
            qps=load * rate, mode=MODE_NAMES[mode])
        out[key(mode, load)] = serve_stream(
            model, X, arrivals, 1 if mode == "unbatched" else cfg.max_batch, cfg.max_wait_ms,
            lambda share, i=i, note=note: report(Event("stage", 0.3 + 0.7 * (i + share) / len(jobs), note=note)))
    return out


def measure_all(cfg: Config, model: MLP, split: data.Split, served: dict[str, Served], rate: float) -> Metrics:
    """Per stream: offered and served rates, p50 / p99 latency, mean batch; answers checked against the model."""
    top = max(cfg.loads)
    m: Metrics = {"accuracy": evaluate(model, split.X_val, split.y_val)["acc"], "rate_per_s": rate,
                  "top_load": top, "max_batch": cfg.max_batch, "max_wait_ms": cfg.max_wait_ms}
    for k, s in served.items():
        lat = Latency.of(s.latencies_ms)
        m |= {f"offered_per_s_{k}": s.offered_qps, f"served_per_s_{k}": s.served_qps, f"p50_ms_{k}": lat.p50,
              f"p99_ms_{k}": lat.p99, f"mean_batch_{k}": float(np.mean(s.batch_sizes))}
    checked = served[key("batched", top)].requests[:200]  # request i asked about X_val[i]
    rows = torch.stack([r.future.result() for r in checked])  # (200, 10) answers the batcher gave
    with torch.inference_mode():
        alone = torch.cat([model(r.x[None]) for r in checked])  # (200, 10): each input on its own
    labels = split.y_val[torch.arange(len(checked)) % len(split.y_val)]
    m |= {"answer_max_diff": (rows - alone).abs().max().item(),
          "served_accuracy": (rows.argmax(1) == labels).float().mean().item(),
          "max_batch_seen": float(max(served[key("batched", top)].batch_sizes)),
          "p99_ratio": m[f"p99_ms_{key('unbatched', top)}"] / m[f"p99_ms_{key('batched', top)}"]}
    return m


STREAM_METRICS = ("offered_per_s", "served_per_s", "p50_ms", "p99_ms", "mean_batch")
TIMED = frozenset({f"{name}_{key(mode, load)}" for name in STREAM_METRICS for mode in MODES for load in LOADS}
                  | {f"{name}_{b}" for name in ("service_ms", "capacity_per_s") for b in BATCH_SIZES}
                  | {"rate_per_s", "max_batch_seen", "p99_ratio", "first_call_ms", "warm_p50_ms", "cold_ratio"})


def lesson(m: Metrics) -> bool | None:
    """At ≥ 1.5× the one-at-a-time rate: unbatched p99 ≥ 5× batched, batching kept up, answers exact."""
    top = m["top_load"]
    if top < 1.5:
        return None  # no load above what one-at-a-time serving can take: nothing to rescue
    batched = key("batched", top)
    return (m["p99_ratio"] >= 5 and m[f"served_per_s_{batched}"] >= 0.8 * m[f"offered_per_s_{batched}"]
            and m["answer_max_diff"] < 1e-4 and m["max_batch_seen"] <= m["max_batch"])


CLAIM = Claim(
    _("above the one-request-at-a-time rate the unbatched queue grows and its p99 latency explodes, while dynamic "
      "batching keeps up with a p99 several times lower, and every request still gets exactly its own answer",
      "负载超过逐个处理的速率后，不做批处理的队列不断变长、p99 延迟爆炸；动态批处理则跟得上负载，p99 低好几倍，"
      "而且每个请求拿到的仍然恰好是它自己的答案"),
    lesson,
    fragile=_("The latencies are wall-clock times on a shared machine: a burst of other work during the batched "
              "stream can stall the batcher too.",
              "延迟是共享机器上的墙钟时间：如果动态批处理那一段恰好遇上其他任务抢占 CPU，批处理服务也会被拖慢。"),
)


def run(cfg: Config, report: Report = silent) -> Result:
    """Train the MLP, time it per batch size and cold, then serve Poisson streams with and without batching."""
    report(Event("stage", 0.0, note=_("Training the served MLP", "训练被服务的 MLP")))
    split = data.digits(seed=cfg.seed)
    model = mlp(cfg.depth, cfg.seed)
    fit(model, torch.optim.Adam(model.parameters(), lr=3e-3), (split.X_train, split.y_train), epochs=cfg.epochs,
        batch_size=64, seed=cfg.seed, report=part(report, _("Training the served MLP", "训练被服务的 MLP"), 0, 5))
    model.eval()
    report(Event("stage", 0.2, note=_("Timing the model per batch size, cold and warm", "按批量计时，冷启动与预热后")))
    X = split.X_val  # (N, 64): the requests' inputs
    service = in_thread(lambda: {b: measure(model, X[:b], repeats=10, warmup=2).p50 for b in BATCH_SIZES})  # ms
    cold, warm = in_thread(lambda: cold_start(model, lambda: mlp(cfg.depth, cfg.seed), X[:1], COLD_CALLS))
    report(Event("stage", 0.25, note=_("Saturating the batcher at each max batch", "在每种最大批量下压满批处理器")))
    capacity = {b: saturated_throughput(model, X, b, num=128) for b in BATCH_SIZES}
    capacity[1] = max(capacity[1], saturated_throughput(model, X, 1, num=128))  # best of two: a quiet moment's
    rate = capacity[1]  # requests/s answered one at a time with all waiting: the unit of load
    warm_shapes(model, X, cfg.max_batch)  # every batch size the batcher may form, before live traffic
    served = streams(cfg, model, X, rate, report)
    m = measure_all(cfg, model, split, served, rate)
    m |= {f"service_ms_{b}": v for b, v in service.items()} | {f"capacity_per_s_{b}": v for b, v in capacity.items()}
    m |= {"first_call_ms": float(cold[0]), "warm_p50_ms": warm.p50, "cold_ratio": float(cold[0]) / warm.p50}
    report(Event("stage", 1.0, note=_("Done", "完成")))
    return Result(m, verdict(cfg, m), charts(cfg, m, served, cold), tables(cfg, m))


def verdict(cfg: Config, m: Metrics) -> T:
    """The rate, what each server did at the top load, batching's effect on cost per item, warm-up."""
    top = m["top_load"]
    un, dyn = key("unbatched", top), key("batched", top)
    return sentences(
        _("The served MLP reached {acc:.1%} on held-out digits. One request at a time the server answered at most "
          "{rate:,.0f} requests/s; a forward pass takes {ms:.3f} ms for one request and {ms32:.3f} ms for a batch of "
          "32 ({us32:.0f} µs per request).",
          "被服务的 MLP 在留出数字上的准确率为 {acc:.1%}。逐个处理时，服务每秒最多回答 {rate:,.0f} 个请求；"
          "一次前向传播处理 1 个请求需 {ms:.3f} 毫秒，处理一批 32 个请求需 {ms32:.3f} 毫秒（每个请求 {us32:.0f} 微秒）。")
        .format(acc=m["accuracy"], rate=m["rate_per_s"], ms=m["service_ms_1"], ms32=m["service_ms_32"],
                us32=1e3 * m["service_ms_32"] / 32),
        _("At {top:g}× that rate ({qps:,.0f} requests/s offered), no batching answered {un_s:,.0f}/s with p50 "
          "{un50:.1f} ms and p99 {un99:.1f} ms; dynamic batching (max {b}, wait ≤ {w:g} ms) answered {dyn_s:,.0f}/s "
          "with p50 {dyn50:.1f} ms and p99 {dyn99:.1f} ms, {ratio:.0f}× lower, in batches of {mean:.1f} on average.",
          "在该速率的 {top:g} 倍（每秒 {qps:,.0f} 个请求）下，不做批处理每秒回答 {un_s:,.0f} 个，p50 为 {un50:.1f} 毫秒、"
          "p99 为 {un99:.1f} 毫秒；动态批处理（最大批量 {b}，等待 ≤ {w:g} 毫秒）每秒回答 {dyn_s:,.0f} 个，p50 为 "
          "{dyn50:.1f} 毫秒、p99 为 {dyn99:.1f} 毫秒，低 {ratio:.0f} 倍，平均每批 {mean:.1f} 个请求。")
        .format(top=top, qps=m[f"offered_per_s_{dyn}"], un_s=m[f"served_per_s_{un}"], un50=m[f"p50_ms_{un}"],
                un99=m[f"p99_ms_{un}"], b=cfg.max_batch, w=cfg.max_wait_ms, dyn_s=m[f"served_per_s_{dyn}"],
                dyn50=m[f"p50_ms_{dyn}"], dyn99=m[f"p99_ms_{dyn}"], ratio=m["p99_ratio"], mean=m[f"mean_batch_{dyn}"]),
        _("Each batched answer equals the model's output on that input alone to {diff:.0e}.",
          "每个批处理得到的答案与模型单独处理该输入的输出相差不超过 {diff:.0e}。").format(diff=m["answer_max_diff"]),
        _("Warm-up: the first call of a freshly loaded copy took {cold:.2f} ms, {ratio:.1f}× its warm median of "
          "{warm:.2f} ms, so send a few calls before taking traffic.",
          "预热：刚加载的模型副本第一次调用耗时 {cold:.2f} 毫秒，是预热后中位数 {warm:.2f} 毫秒的 {ratio:.1f} 倍，"
          "所以接入流量之前先调用几次。")
        .format(cold=m["first_call_ms"], ratio=m["cold_ratio"], warm=m["warm_p50_ms"]),
        CLAIM.verdict(m),
    )


def charts(cfg: Config, m: Metrics, served: dict[str, Served], cold: np.ndarray) -> list[Chart]:
    """p50/p99 against load; latency of each request at the top load; throughput and cost per item; cold calls."""
    loads, top = sorted(cfg.loads), max(cfg.loads)

    def against_load(lang: str):
        return plots.lines_xy({f"{MODE_NAMES[mode].get(lang)} {p}": ([m[f"offered_per_s_{key(mode, x)}"] for x in loads],
                                                                     [m[f"{p}_ms_{key(mode, x)}"] for x in loads])
                               for mode in MODES for p in ("p50", "p99")}, QPS, MS, lang, log_y=True,
                              dashes={f"{MODE_NAMES[mode].get(lang)} p50": "dot" for mode in MODES})

    def by_batch(values: dict[int, float], y: T, lang: str):
        return plots.lines_xy({y.get(lang): (list(values), list(values.values()))}, MAX_BATCH, y, lang,
                              log_y=True, log_x=True)

    def over_time(lang: str):
        def points(s: Served) -> tuple[np.ndarray, np.ndarray]:
            every = max(1, len(s.requests) // 300)  # at most ~300 points per line
            start = s.requests[0].arrived
            return (np.array([r.arrived - start for r in s.requests[::every]]), s.latencies_ms[::every])
        return plots.lines_xy({MODE_NAMES[mode].get(lang): points(served[key(mode, top)]) for mode in MODES},
                              _("arrival time (s)", "到达时刻（秒）"), MS, lang, log_y=True)

    return [
        Chart(_("Latency against offered load", "延迟与请求负载"), against_load,
              caption=_("Dotted: p50; solid: p99. Without batching the tail explodes once the load passes the "
                        "one-at-a-time rate.", "虚线：p50；实线：p99。不做批处理时，负载一超过逐个处理的速率，尾延迟就爆炸。")),
        Chart(_("Each request's latency at {top:g}× the one-at-a-time rate", "{top:g} 倍负载下每个请求的延迟")
              .format(top=top), over_time,
              caption=_("The unbatched queue grows through the stream; the batched one stays flat.",
                        "不做批处理时队列在整个请求流中不断变长；动态批处理的延迟保持平稳。")),
        Chart(_("Throughput against max batch (all requests waiting)", "吞吐与最大批量（所有请求都在排队时）"),
              lambda lang: by_batch({b: m[f"capacity_per_s_{b}"] for b in BATCH_SIZES}, PER_S, lang)),
        Chart(_("Cost per request against batch size", "每个请求的成本与批量"),
              lambda lang: by_batch({b: 1e3 * m[f"service_ms_{b}"] / b for b in BATCH_SIZES}, US, lang),
              caption=_("Median of timed forward passes under torch.inference_mode().",
                        "在 torch.inference_mode() 下计时的前向传播中位数。")),
        Chart(_("Warm-up: the first calls of a freshly loaded model", "预热：刚加载的模型最初几次调用"),
              lambda lang: plots.curves({_("call", "调用").get(lang): cold,
                                         _("warm median", "预热后中位数").get(lang): [m["warm_p50_ms"]] * len(cold)},
                                        _("call number", "调用序号"), _("ms", "毫秒"), lang)),
    ]


def tables(cfg: Config, m: Metrics) -> list[Table]:
    """One row per stream (the cost per batch size is in the charts)."""
    rows = [{"mode": MODE_NAMES[mode], "load": load, "offered": round(m[f"offered_per_s_{key(mode, load)}"]),
             "served": round(m[f"served_per_s_{key(mode, load)}"]), "p50": round(m[f"p50_ms_{key(mode, load)}"], 2),
             "p99": round(m[f"p99_ms_{key(mode, load)}"], 2), "batch": round(m[f"mean_batch_{key(mode, load)}"], 1)}
            for load in sorted(cfg.loads) for mode in MODES]
    return [Table(_("Streams", "请求流"),
                  {"mode": _("server", "服务方式"), "load": _("load (× one-at-a-time rate)", "负载（逐个处理速率的倍数）"),
                   "offered": _("offered / s", "每秒请求"), "served": _("answered / s", "每秒回答"),
                   "p50": _("p50 (ms)", "p50（毫秒）"), "p99": _("p99 (ms)", "p99（毫秒）"),
                   "batch": _("mean batch", "平均批量")}, rows)]


DEMO = Demo(
    id="dynamic-batching",
    title=_("Real-time inference: dynamic batching and warm-up", "实时推理：动态批处理与预热"),
    summary=_("A real batcher thread serves a digit MLP under Poisson traffic: p50/p99 latency against load with and "
              "without batching, throughput against max batch, and the first calls of a cold model.",
              "真实的批处理线程在泊松流量下服务一个数字分类 MLP：有无批处理时 p50/p99 延迟随负载的变化、"
              "吞吐随最大批量的变化，以及冷模型最初几次调用的耗时。"),
    category="deployment",
    config=Config,
    run=run,
    smoke=dict(loads=(2.0,), stream_s=0.2, epochs=1, depth=4),
    key_metric="p99_ratio",
    key_label=_("p99 latency, no batching ÷ dynamic batching, at the top load", "最高负载下 p99 延迟：不做批处理 ÷ 动态批处理"),
    claim=CLAIM,
    timed=TIMED,
)
