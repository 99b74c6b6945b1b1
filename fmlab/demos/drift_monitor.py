"""A drift dashboard for a digits MLP in production: which signal notices first, and what abstaining buys.

A stream of batches reaches the model; after `drift_start` the images grow brighter and noisier,
a little more each batch. Labels, and so accuracy, arrive `label_delay` batches late. The
label-free signals (the PSI of the inputs' mean intensity, the model's mean confidence) are
known at once. A risk-coverage curve shows what rejecting the least confident predictions buys.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import data, plots
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..fit import fit
from ..monitoring import drifted, psi, risk_at, risk_coverage
from ..nets import MLP, init_weights
from ..params import ConfigError, DemoConfig, epochs_param, param, seed_param
from ..text import T, _, sentences

ACCURACY_DROP = 0.05  # the delayed-accuracy alert: this far below the clean accuracy
COVERAGE = 0.85  # the risk-coverage point the verdict reports
BATCH = _("batch", "批次")
PSI_NAME = _("PSI of mean intensity", "平均亮度的 PSI")
CONFIDENCE = _("mean confidence", "平均置信度")
DELAYED_ACCURACY = _("accuracy (labels arrive late)", "准确率（标签延迟到达）")


@dataclass(frozen=True)
class Config(DemoConfig):
    epochs: int = epochs_param(15, high=60, help=_("Passes over the digits training set", "遍历手写数字训练集的次数"))
    num_batches: int = param(30, low=15, high=60, label=_("Batches in the stream", "数据流的批次数"),
                             help=_("Production batches the monitor sees", "监控看到的生产批次数"))
    batch_size: int = param(200, low=50, high=1000, label=_("Batch size", "批大小"),
                            help=_("Requests per batch (drawn from the held-out digits)", "每批请求数（从留出的手写数字中抽取）"))
    drift_start: int = param(10, low=2, high=40, label=_("Drift starts at batch", "漂移开始的批次"),
                             help=_("The first batch whose images are shifted", "第一个被施加偏移的批次"))
    shift: float = param(0.3, low=0.0, high=1.0, label=_("Final brightness shift", "最终亮度偏移"),
                         help=_("Added to every pixel by the last batch (pixels are in [0, 1])",
                                "到最后一批时加到每个像素上的值（像素范围 [0, 1]）"))
    noise: float = param(0.4, low=0.0, high=1.0, label=_("Final noise std", "最终噪声标准差"),
                         help=_("Gaussian pixel noise by the last batch", "到最后一批时的高斯像素噪声"))
    label_delay: int = param(5, low=0, high=20, label=_("Label delay (batches)", "标签延迟（批次）"),
                             help=_("How many batches later the true labels arrive", "真实标签晚多少个批次到达"))
    psi_alert: float = param(0.25, low=0.05, high=1.0, label=_("PSI alert threshold", "PSI 告警阈值"),
                             help=_("0.25 is the usual 'major shift' line", "0.25 是常用的“显著偏移”界线"))
    seed: int = seed_param()

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.drift_start >= self.num_batches:
            raise ConfigError(_("Drift must start before the stream ends (batch {start} of {n}).",
                                "漂移必须在数据流结束前开始（第 {start} 批，共 {n} 批）。")
                              .format(start=self.drift_start, n=self.num_batches))


def severity(cfg: Config, t: int) -> float:
    """0 before the drift starts, then rising linearly to 1 at the last batch."""
    return max(0.0, (t - cfg.drift_start + 1) / (cfg.num_batches - cfg.drift_start))


def stream(cfg: Config, model: MLP, split: data.Split, report: Report) -> dict[str, np.ndarray]:
    """Serve every batch and record the monitors: per batch PSI, mean confidence, accuracy; per request confidence."""
    g = torch.Generator().manual_seed(cfg.seed + 1)
    reference = split.X_train.mean(1).numpy()  # (N_train,) mean intensity of each training image
    out: dict[str, list] = {"psi": [], "confidence": [], "accuracy": [], "request_conf": [], "request_ok": []}
    for t in range(cfg.num_batches):
        idx = torch.randint(len(split.X_val), (cfg.batch_size,), generator=g)
        X = drifted(split.X_val[idx], severity(cfg, t), cfg.shift, cfg.noise, g)  # (B, 64)
        with torch.no_grad():
            conf, pred = torch.softmax(model(X), 1).max(1)  # (B,), (B,)
        ok = (pred == split.y_val[idx]).numpy()
        out["psi"].append(psi(reference, X.mean(1).numpy()))
        out["confidence"].append(conf.mean().item())
        out["accuracy"].append(ok.mean())
        out["request_conf"].append(conf.numpy())
        out["request_ok"].append(ok)
        report(Event("stage", 0.5 + 0.5 * (t + 1) / cfg.num_batches,
                     note=_("Serving batch {t} of {n}", "正在服务第 {t} 批（共 {n} 批）").format(t=t + 1, n=cfg.num_batches)))
    return {k: np.concatenate(v) if k.startswith("request") else np.array(v) for k, v in out.items()}


def first(flags: np.ndarray, default: int) -> int:
    """Index of the first True, or `default` when there is none."""
    hits = np.flatnonzero(flags)
    return int(hits[0]) if len(hits) else default


def alerts(cfg: Config, s: dict[str, np.ndarray], clean_accuracy: float) -> Metrics:
    """When each signal raised its alert, counted in batches; accuracy is known only label_delay batches later."""
    batches = np.arange(cfg.num_batches)
    psi_alert = first((s["psi"] > cfg.psi_alert) & (batches >= cfg.drift_start), cfg.num_batches)
    dropped = first(s["accuracy"] < clean_accuracy - ACCURACY_DROP, cfg.num_batches)
    coverage, risk = risk_coverage(s["request_conf"], s["request_ok"].astype(bool))
    return {
        "drift_strength": cfg.shift + cfg.noise,
        "psi_fired": float(psi_alert < cfg.num_batches),
        "clean_accuracy": clean_accuracy,
        "false_alarms": float(np.sum(s["psi"][:cfg.drift_start] > cfg.psi_alert)),
        "psi_alert_batch": float(psi_alert),
        "accuracy_known_batch": float(dropped + cfg.label_delay),
        "lead_batches": float(dropped + cfg.label_delay - psi_alert),
        "final_accuracy": float(s["accuracy"][-1]),
        "confidence_clean": float(s["confidence"][:cfg.drift_start].mean()),
        "confidence_final": float(s["confidence"][-1]),
        "error_full_coverage": float(risk[-1]),
        "error_at_coverage": risk_at(coverage, risk, COVERAGE),
        "errors_in_rejected": 1 - risk_at(coverage, risk, COVERAGE) * COVERAGE / max(float(risk[-1]), 1e-9),
    }


def lesson(m: Metrics) -> bool | None:
    """PSI alerts without false alarms and 2+ batches before late labels could; the 15% declined hold 1/3+ of the errors.

    A stream without drift does not test it.
    """
    if m["drift_strength"] == 0:
        return None
    return (m["psi_fired"] == 1 and m["false_alarms"] == 0 and m["lead_batches"] >= 2
            and m["errors_in_rejected"] >= 1 / 3)


CLAIM = Claim(
    _("the label-free drift score raises its alert batches before the late labels can show the accuracy drop, "
      "and the least confident 15% of predictions hold far more than 15% of the errors",
      "无需标签的漂移分数比延迟到达的标签早好几个批次发出告警，而置信度最低的 15% 预测包含的错误远多于 15%"),
    lesson,
    fragile=_("A very small shift moves accuracy before the input statistics, and small batches make PSI noisy "
              "enough to raise false alarms.",
              "偏移很小时准确率可能先于输入统计量变化；批次太小时 PSI 噪声大，会误报。"),
)


def verdict(cfg: Config, m: Metrics) -> T:
    """When each signal fired, and what abstaining bought."""
    return sentences(
        _("Drift began at batch {start}.", "漂移从第 {start} 批开始。").format(start=cfg.drift_start),
        _("The PSI alert fired at batch {psi:.0f}, after {false:.0f} false alarms on the clean batches.",
          "PSI 告警在第 {psi:.0f} 批触发，此前在干净批次上误报 {false:.0f} 次。")
        .format(psi=m["psi_alert_batch"], false=m["false_alarms"]) if m["psi_fired"] else
        _("The PSI alert never fired ({false:.0f} false alarms on the clean batches).",
          "PSI 告警始终没有触发（干净批次上误报 {false:.0f} 次）。").format(false=m["false_alarms"]),
        _("Labelled accuracy, arriving {delay} batches late, revealed the drop at batch {known:.0f}.",
          "晚 {delay} 批到达的带标签准确率在第 {known:.0f} 批才暴露下降。")
        .format(delay=cfg.label_delay, known=m["accuracy_known_batch"])
        if m["accuracy_known_batch"] < cfg.num_batches + cfg.label_delay else
        _("Accuracy never fell {drop:.0%} below its clean value.", "准确率始终没有比干净时低 {drop:.0%}。")
        .format(drop=ACCURACY_DROP),
        (_("Accuracy went from {clean:.1%} to {final:.1%} but mean confidence only from {c0:.2f} to {c1:.2f}: "
           "under drift the model stays sure of itself, so confidence is no stand-in for accuracy.",
           "准确率从 {clean:.1%} 降到 {final:.1%}，平均置信度却只从 {c0:.2f} 降到 {c1:.2f}：漂移下模型依旧自信，"
           "置信度不能代替准确率。") if m["final_accuracy"] < m["clean_accuracy"] - 2 * ACCURACY_DROP else
         _("Accuracy went from {clean:.1%} to {final:.1%}, mean confidence from {c0:.2f} to {c1:.2f}.",
           "准确率从 {clean:.1%} 变为 {final:.1%}，平均置信度从 {c0:.2f} 变为 {c1:.2f}。"))
        .format(clean=m["clean_accuracy"], final=m["final_accuracy"], c0=m["confidence_clean"],
                c1=m["confidence_final"]),
        _("Answering only the most confident {cov:.0%} cut the error rate from {full:.1%} to {kept:.1%}: "
          "the {rest:.0%} declined held {share:.0%} of the errors.",
          "只回答置信度最高的 {cov:.0%} 时，错误率从 {full:.1%} 降到 {kept:.1%}：被拒绝的 {rest:.0%} 包含了 {share:.0%} 的错误。")
        .format(cov=COVERAGE, full=m["error_full_coverage"], kept=m["error_at_coverage"], rest=1 - COVERAGE,
                share=m["errors_in_rejected"]),
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Train the MLP, serve the drifting stream with the monitors on, then score the alerts."""
    split = data.digits(seed=cfg.seed)
    model = init_weights(MLP(64, 10, width=128, depth=1), cfg.seed)
    trained = fit(model, torch.optim.Adam(model.parameters(), lr=3e-3), (split.X_train, split.y_train),
                  epochs=cfg.epochs, val=(split.X_val, split.y_val), seed=cfg.seed,
                  report=part(report, _("MLP", "MLP"), 0, 2))
    model.eval().cpu()
    signals = stream(cfg, model, split, report)
    metrics = alerts(cfg, signals, trained.final("val_acc"))
    return Result(metrics, verdict(cfg, metrics), charts(cfg, signals), [table(metrics)])


def charts(cfg: Config, s: dict[str, np.ndarray]) -> list[Chart]:
    """The dashboard (three signals per batch, the alert line) and the risk-coverage curve."""
    batches = np.arange(cfg.num_batches)
    coverage, risk = risk_coverage(s["request_conf"], s["request_ok"].astype(bool))
    known = batches[:max(0, cfg.num_batches - cfg.label_delay)]  # labels of the last batches have not arrived
    alert_line = _("PSI alert threshold", "PSI 告警阈值")

    def dashboard(lang: str):
        series = {PSI_NAME.get(lang): (batches, s["psi"]), CONFIDENCE.get(lang): (batches, s["confidence"]),
                  DELAYED_ACCURACY.get(lang): (known + cfg.label_delay, s["accuracy"][known]),
                  alert_line.get(lang): ([0, cfg.num_batches - 1], [cfg.psi_alert] * 2)}
        fig = plots.lines_xy(series, BATCH, _("value", "数值"), lang, dashes={alert_line.get(lang): "dash"})
        fig.add_vline(x=cfg.drift_start, line_dash="dot", annotation_text=_("drift starts", "漂移开始").get(lang))
        return fig

    step = max(1, len(coverage) // 200)  # 200 points are plenty for the curve
    return [
        Chart(_("Monitoring dashboard (accuracy plotted when its labels arrive)", "监控面板（准确率在其标签到达时才画出）"),
              dashboard),
        Chart(_("Risk-coverage: error rate of the predictions the model keeps", "风险—覆盖率：模型保留的预测的错误率"),
              lambda lang: plots.lines_xy({plots.ACCURACY.get(lang): (coverage[::step], risk[::step])},
                                          _("coverage (share answered)", "覆盖率（回答的比例）"),
                                          _("error rate of the answered", "已回答预测的错误率"), lang)),
    ]


def table(m: Metrics) -> Table:
    """The batch at which each signal told the team."""
    rows = [{"signal": PSI_NAME, "batch": m["psi_alert_batch"]},
            {"signal": DELAYED_ACCURACY, "batch": m["accuracy_known_batch"]}]
    return Table(_("When each signal raised the alarm", "各信号在哪一批发出告警"),
                 {"signal": _("signal", "信号"), "batch": _("alert at batch", "告警批次")}, rows)


DEMO = Demo(
    id="drift-monitor",
    title=_("Drift dashboard and risk-coverage", "漂移监控面板与风险—覆盖率"),
    summary=_("A digits MLP serves a stream that drifts; PSI, confidence and late-arriving accuracy race to the alarm.",
              "手写数字 MLP 服务一个逐渐漂移的数据流；PSI、置信度与延迟到达的准确率比谁先报警。"),
    category="deployment",
    config=Config,
    run=run,
    smoke=dict(epochs=2, num_batches=15, batch_size=100, drift_start=5),
    key_metric="lead_batches",
    key_label=_("batches the PSI alert came before the labels", "PSI 告警比标签早的批次数"),
    claim=CLAIM,
)
