"""An automated deployment-readiness report for a digits MLP with a fine test score.

Each check is measured, not assumed, and compared with a budget: size on disk, weights plus
activations in memory, p99 latency at batch 1 and throughput at batch 32 (after warm-up),
accuracy on the test set and on shifted "recent production" data, and what happens to malformed
requests with and without input validation in front of the model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import data, plots
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..fit import evaluate, fit
from ..latency import Latency, checkpoint_bytes, timings_ms
from ..monitoring import drifted
from ..nets import MLP, init_weights
from ..params import DemoConfig, epochs_param, param, seed_param
from ..readiness import MALFORMED, MALFORMED_NAMES, OUTCOMES, Check, activation_bytes, outcome, validate
from ..text import T, _, join, sentences

MB, MS, PER_S, SHARE = _("MB", "MB"), _("ms", "毫秒"), _("requests/s", "请求/秒"), _("share", "比例")
PASS, FAIL = _("✓ pass", "✓ 通过"), _("✗ fail", "✗ 未通过")


@dataclass(frozen=True)
class Config(DemoConfig):
    epochs: int = epochs_param(15, high=60, help=_("Passes over the digits training set", "遍历手写数字训练集的次数"))
    width: int = param(256, low=16, high=2048, log=True, label=_("Hidden width", "隐藏层宽度"),
                       help=_("Wider: more accurate, bigger and slower", "越宽越准，也越大越慢"))
    shift: float = param(0.3, low=0.0, high=1.0, label=_("Shift of recent data", "近期数据的偏移"),
                         help=_("Noise std (and half as much brightening) on the 'recent production' copy of the test set",
                                "给“近期生产数据”（测试集副本）加的噪声标准差（亮度再加一半）"))
    p99_budget_ms: float = param(5.0, low=0.1, high=100.0, log=True, label=_("p99 budget, batch 1 (ms)", "p99 预算，批大小 1（毫秒）"),
                                 help=_("The latency SLO a single request must meet", "单个请求必须满足的延迟 SLO"))
    accuracy_budget: float = param(0.9, low=0.5, high=0.99, label=_("Accuracy budget", "准确率预算"),
                                   help=_("Minimum accuracy, on the test set and on recent data", "测试集和近期数据上的最低准确率"))
    seed: int = seed_param()


def measure(cfg: Config, model: MLP, split: data.Split, report: Report) -> tuple[list[Check], np.ndarray, dict]:
    """Every check of the report, the batch-1 latencies, and what the service did with each malformed request."""
    X, y = split.X_val, split.y_val
    recent = drifted(X, 1.0, cfg.shift / 2, cfg.shift, torch.Generator().manual_seed(cfg.seed))  # (N, 64)
    report(Event("stage", 0.6, note=_("Timing batch 1 and batch 32", "正在计时批大小 1 和 32")))
    with torch.inference_mode():
        one = timings_ms(lambda: model(X[:1]), repeats=300, warmup=20)  # (300,) ms per request
        thirty_two = Latency.of(timings_ms(lambda: model(X[:32]), repeats=100, warmup=10))
    report(Event("stage", 0.85, note=_("Sending malformed requests", "正在发送格式错误的请求")))
    checks = [
        Check(_("test accuracy", "测试集准确率"), evaluate(model, X, y)["acc"], cfg.accuracy_budget, True, SHARE),
        Check(_("accuracy on recent (shifted) data", "近期（偏移）数据上的准确率"), evaluate(model, recent, y)["acc"],
              cfg.accuracy_budget, True, SHARE),
        Check(_("checkpoint size", "检查点大小"), checkpoint_bytes(model) / 1e6, 1.0, False, MB),
        Check(_("weights + activations at batch 32", "批大小 32 时的权重 + 激活"),
              (checkpoint_bytes(model) + activation_bytes(model, X[:32])) / 1e6, 2.0, False, MB),
        Check(_("p99 latency at batch 1", "批大小 1 时的 p99 延迟"), float(np.percentile(one, 99)), cfg.p99_budget_ms, False, MS),
        Check(_("throughput at batch 32", "批大小 32 时的吞吐量"), 32e3 / thirty_two.p50, 5000.0, True, PER_S),
    ]
    raw, guarded = (lambda x: model(x)), (lambda x: model(validate(x, X.shape[1])))
    malformed = {name: {"raw": outcome(raw, bad(X.shape[1])), "validated": outcome(guarded, bad(X.shape[1]))}
                 for name, bad in MALFORMED.items()}
    return checks, one, malformed


def summarise(checks: list[Check], malformed: dict) -> Metrics:
    """Each check's value and pass flag, and how many malformed requests were refused with and without validation."""
    keys = ["test_accuracy", "shifted_accuracy", "size_mb", "memory_mb", "p99_ms", "throughput"]
    m: Metrics = {}
    for key, check in zip(keys, checks):
        m[key], m[f"{key}_passed"] = check.measured, float(check.passed)
    for way in ("raw", "validated"):
        m[f"malformed_refused_{way}"] = float(sum(o[way] == "refused" for o in malformed.values()))
    m["malformed_total"] = float(len(malformed))
    m["checks_failed"] = float(sum(not c.passed for c in checks) + (m["malformed_refused_raw"] < m["malformed_total"]))
    return m


def lesson(m: Metrics) -> bool | None:
    """The test-set check passes, yet the shifted-data and malformed-input checks fail until validation is added."""
    if not m["test_accuracy_passed"]:
        return None  # not a model with a fine test score: the report is about something else
    return (not m["shifted_accuracy_passed"] and m["malformed_refused_raw"] < m["malformed_total"]
            and m["malformed_refused_validated"] == m["malformed_total"])


CLAIM = Claim(
    _("a fine test score does not make a model ready: it still fails on shifted recent data and on malformed "
      "requests, and only input validation makes the service refuse those clearly",
      "测试分数好不代表模型可以上线：它在偏移的近期数据和格式错误的请求上仍然不合格，只有加上输入校验，服务才会明确拒绝这些请求"),
    lesson,
    fragile=_("A mild shift leaves accuracy above its budget; then that check passes too.",
              "偏移很小时准确率仍高于预算，这一项也会通过。"),
)


def verdict(checks: list[Check], m: Metrics, malformed: dict) -> T:
    """Which checks failed, the two accuracies, and what each malformed request got with and without validation."""
    failed = [c.name for c in checks if not c.passed]
    without = [_("{request}: {what}", "{request}：{what}").format(request=MALFORMED_NAMES[name], what=OUTCOMES[o["raw"]])
               for name, o in malformed.items()]
    return sentences(
        _("Test accuracy {test:.1%}, but {shifted:.1%} on recent shifted data.",
          "测试集准确率 {test:.1%}，而在偏移的近期数据上只有 {shifted:.1%}。")
        .format(test=m["test_accuracy"], shifted=m["shifted_accuracy"]),
        _("Failed: {failed}.", "未通过：{failed}。").format(failed=join(failed, _("; ", "；"))) if failed else None,
        _("Without validation: {without}.", "没有输入校验时——{without}。").format(without=join(without, _("; ", "；"))),
        _("With validation {ok:.0f} of {n:.0f} malformed requests were refused with a clear message.",
          "加上校验后，{n:.0f} 个格式错误的请求中有 {ok:.0f} 个被明确拒绝。")
        .format(ok=m["malformed_refused_validated"], n=m["malformed_total"]),
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Train the MLP, then measure every check of the report against its budget."""
    split = data.digits(seed=cfg.seed)
    model = init_weights(MLP(64, 10, width=cfg.width, depth=1), cfg.seed)
    fit(model, torch.optim.Adam(model.parameters(), lr=3e-3), (split.X_train, split.y_train), epochs=cfg.epochs,
        seed=cfg.seed, report=part(report, _("MLP", "MLP"), 0, 2))
    model.eval().cpu()
    checks, latencies, malformed = measure(cfg, model, split, report)
    metrics = summarise(checks, malformed)
    report(Event("stage", 1.0, note=_("Done", "完成")))
    return Result(metrics, verdict(checks, metrics, malformed), charts(cfg, latencies),
                  [table(checks), malformed_table(malformed)])


def charts(cfg: Config, latencies: np.ndarray) -> list[Chart]:
    """Batch-1 latencies against the SLO."""
    def histogram(lang: str):
        fig = plots.histograms({_("batch 1", "批大小 1").get(lang): latencies}, _("latency (ms)", "延迟（毫秒）"),
                               _("requests", "请求数"), lang)
        fig.add_vline(x=cfg.p99_budget_ms, line_dash="dash", annotation_text=_("p99 budget", "p99 预算").get(lang))
        return fig

    return [Chart(_("Latency of single requests after warm-up", "预热后单个请求的延迟"), histogram)]


def table(checks: list[Check]) -> Table:
    """The pass/fail report."""
    rows = [{"check": c.name, "measured": round(c.measured, 4), "budget": c.budget, "unit": c.unit,
             "status": PASS if c.passed else FAIL} for c in checks]
    return Table(_("Readiness report", "上线就绪报告"),
                 {"check": _("check", "检查项"), "measured": _("measured", "实测"), "budget": _("budget", "预算"),
                  "unit": _("unit", "单位"), "status": _("status", "结果")}, rows)


def malformed_table(malformed: dict) -> Table:
    """What each malformed request got, without and with validation."""
    rows = [{"request": MALFORMED_NAMES[name], "raw": OUTCOMES[o["raw"]], "validated": OUTCOMES[o["validated"]]}
            for name, o in malformed.items()]
    return Table(_("Malformed requests", "格式错误的请求"),
                 {"request": _("request", "请求"), "raw": _("model alone", "仅模型"),
                  "validated": _("validation in front", "前置输入校验")}, rows)


DEMO = Demo(
    id="readiness-report",
    title=_("Deployment-readiness report", "上线就绪报告"),
    summary=_("A digits MLP with a fine test score measured against budgets: size, memory, p99, throughput, shifted "
              "data, malformed requests.",
              "测试分数不错的手写数字 MLP 逐项对照预算：大小、内存、p99、吞吐、偏移数据、错误请求。"),
    category="deployment",
    config=Config,
    run=run,
    smoke=dict(epochs=2, width=32),
    key_metric="checks_failed",
    key_label=_("checks failed", "未通过的检查项"),
    claim=CLAIM,
    timed=frozenset({"p99_ms", "p99_ms_passed", "throughput", "throughput_passed", "checks_failed"}),
)
