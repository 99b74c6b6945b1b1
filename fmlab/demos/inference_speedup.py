"""What really speeds up a dense model on CPU: zeros, smaller matrices, or fewer bits?

One MLP trained live on digits, five ways to make it cheaper, each timed on the same batch in interleaved
rounds (median after warm-up): 90% unstructured magnitude pruning (the zeros stay in dense matrices),
structured pruning (keep the strongest hidden neurons and build a smaller dense net), with and without
fine-tuning, and int8 dynamic quantization with ONNX Runtime beside its fp32 export. Helpers: `fmlab.compress`.
"""
from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import data, plots
from ..compress import (OnnxModel, accuracy, export_onnx, global_prune, interleaved_timings, make_permanent, nonzeros,
                        onnx_int8, paired_ratio, shrink)
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..fit import fit
from ..latency import Latency, checkpoint_bytes
from ..nets import MLP, init_weights
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, sentences

NAMES = {"dense": _("fp32 dense", "fp32 稠密"),
         "unstructured": _("unstructured pruning (zeros kept dense)", "非结构化剪枝（零值仍为稠密）"),
         "structured": _("structured pruning, no fine-tune", "结构化剪枝，未微调"),
         "structured_ft": _("structured pruning + fine-tune", "结构化剪枝 + 微调"),
         "onnx_fp32": _("fp32 (ONNX Runtime)", "fp32（ONNX Runtime）"),
         "onnx_int8": _("int8 dynamic (ONNX Runtime)", "int8 动态量化（ONNX Runtime）")}
MIN_ROUNDS = 10  # fewer timing rounds are too few to compare latencies on a shared machine
MS = _("median latency (ms)", "中位延迟（ms）")


@dataclass(frozen=True)
class Config(DemoConfig):
    width: int = param(512, choices=(256, 512, 1024), label=_("Hidden width", "隐藏层宽度"),
                       help=_("Units in each of the two hidden layers of the dense model", "稠密模型两个隐藏层各自的单元数"))
    sparsity: int = param(90, choices=(50, 70, 90, 95), label=_("Unstructured sparsity (%)", "非结构化稀疏度（%）"),
                          help=_("Share of all Linear weights zeroed by global magnitude pruning",
                                 "全局幅值剪枝置零的 Linear 权重占比"))
    keep: int = param(10, choices=(5, 10, 20, 50), label=_("Neurons kept, structured (%)", "结构化剪枝保留的神经元（%）"),
                      help=_("Share of each hidden layer's neurons kept, strongest incoming weights first",
                             "每个隐藏层保留的神经元比例，按输入权重范数从大到小"))
    epochs: int = epochs_param(6, high=30, help=_("Passes over the training digits for the dense model",
                                                  "稠密模型遍历训练样本的次数"))
    finetune_epochs: int = param(10, low=0, high=30, label=_("Fine-tune epochs", "微调轮数"),
                                 help=_("Training of the smaller net after structured pruning", "结构化剪枝后小网络的训练轮数"))
    lr: float = lr_param(2e-3, low=1e-4, high=3e-2, help=_("Adam's step size, for training and fine-tuning",
                                                           "Adam 的步长，训练与微调共用"))
    batch: int = param(256, choices=(1, 32, 256), label=_("Timed batch size", "计时批大小"),
                       help=_("Rows per timed forward pass", "每次计时前向传播的样本数"))
    rounds: int = param(20, low=3, high=100, label=_("Timing rounds", "计时轮数"),
                        help=_("Rounds over all variants in shuffled order, 3 timed calls each",
                               "按随机顺序轮流计时所有版本的轮数，每轮每个版本计时 3 次"))
    seed: int = seed_param(_("Same seed, same run (timings still vary with machine load)",
                             "相同种子，相同结果（计时仍随机器负载变化）"))


def mlp(width: int, seed: int) -> MLP:
    """64 -> width -> width -> 10 with ReLUs."""
    return init_weights(MLP(64, 10, width=width, depth=1), seed)


def lesson(m: Metrics) -> bool | None:
    """Structured ≥ 3x faster and, fine-tuned, within 3 points; unstructured within ±35% of dense latency and
    the same size; int8 ≥ 1.3x faster and ≥ 3x smaller than ONNX fp32 within 2 points."""
    if m["sparsity"] < 90 or m["keep"] > 20:
        return None  # too little removed for the speed-ups to be told from noise
    structured = m["structured_3x_faster"] == 1 and m["acc_structured_ft"] >= m["acc_dense"] - 0.03
    unstructured = m["unstructured_within_35pct"] == 1 and m["bytes_unstructured"] >= 0.95 * m["bytes_dense"]
    int8 = (m["int8_1_3x_faster"] == 1 and m["bytes_onnx_fp32"] >= 3 * m["bytes_onnx_int8"]
            and m["acc_onnx_int8"] >= m["acc_onnx_fp32"] - 0.02)
    return structured and unstructured and int8


CLAIM = Claim(
    _("only changes that cut the dense work speed the model up: structured pruning builds a smaller dense net that "
      "is several times faster and, fine-tuned, nearly as accurate, and int8 runs faster and 4x smaller than fp32 in "
      "the same runtime, while unstructured zeros leave size and latency unchanged",
      "只有真正减少稠密计算量的改动才能提速：结构化剪枝得到更小的稠密网络，快好几倍，微调后精度也接近原模型；"
      "在同一运行时中 int8 比 fp32 更快、小 4 倍；而非结构化剪枝留下的零既不减小体积，也不降低延迟"),
    lesson,
    fragile=_("Latencies are measured on a shared machine; a burst of load during one variant's rounds can move "
              "its median. Fewer fine-tune epochs leave the structured net less accurate.",
              "延迟是在共享机器上测的；某个版本计时期间的负载突增会让它的中位数偏移。微调轮数越少，结构化小网络的精度越低。"),
)


def variants(cfg: Config, split: data.Split, report: Report, directory: Path) -> dict[str, object]:
    """The dense model and its five cheaper versions, each callable on a batch X (B, 64)."""
    train = (split.X_train, split.y_train)
    dense = mlp(cfg.width, cfg.seed)
    fit(dense, torch.optim.Adam(dense.parameters(), lr=cfg.lr), train, epochs=cfg.epochs, batch_size=64,
        seed=cfg.seed, report=part(report, NAMES["dense"], 0, 3))
    unstructured = make_permanent(global_prune(copy.deepcopy(dense), cfg.sparsity / 100))
    structured = shrink(dense, max(1, cfg.width * cfg.keep // 100))  # (64 -> k -> k -> 10), copied weights
    tuned = copy.deepcopy(structured)
    if cfg.finetune_epochs:
        fit(tuned, torch.optim.Adam(tuned.parameters(), lr=cfg.lr), train, epochs=cfg.finetune_epochs,
            batch_size=64, seed=cfg.seed, report=part(report, NAMES["structured_ft"], 1, 3))
    report(Event("stage", 2 / 3, note=_("Exporting to ONNX and quantizing to int8", "导出 ONNX 并量化为 int8")))
    fp32 = export_onnx(dense, directory / "fp32.onnx", 64)
    int8 = onnx_int8(fp32, directory / "int8.onnx")
    return {"dense": dense.eval(), "unstructured": unstructured.eval(), "structured": structured.eval(),
            "structured_ft": tuned.eval(), "onnx_fp32": OnnxModel(fp32), "onnx_int8": OnnxModel(int8)}


def sizes(models: dict[str, object], directory: Path) -> Metrics:
    """Accuracy-independent facts per variant: bytes on disk and non-zero parameters."""
    out = {}
    for k, model in models.items():
        if isinstance(model, OnnxModel):
            out[f"bytes_{k}"] = float((directory / f"{k.removeprefix('onnx_')}.onnx").stat().st_size)
            out[f"nonzeros_{k}"] = float(nonzeros(models["dense"]))
        else:
            out[f"bytes_{k}"], out[f"nonzeros_{k}"] = float(checkpoint_bytes(model)), float(nonzeros(model))
    return out


def speed_flags(cfg: Config, t: dict[str, np.ndarray]) -> Metrics:
    """The latency comparisons the claim makes, with wide margins (1 = yes); none when too few rounds were timed.

    Raw milliseconds stay out of the metrics: they change from run to run on a shared machine.
    """
    if cfg.rounds < MIN_ROUNDS:
        return {}
    structured = min(paired_ratio(t["dense"], t["structured"]), paired_ratio(t["dense"], t["structured_ft"]))
    return {"structured_3x_faster": float(structured >= 3),
            "unstructured_within_35pct": float(1 / 1.35 <= paired_ratio(t["unstructured"], t["dense"]) <= 1.35),
            "int8_1_3x_faster": float(paired_ratio(t["onnx_fp32"], t["onnx_int8"]) >= 1.3)}


def run(cfg: Config, report: Report = silent) -> Result:
    """Train, build the variants, time them in interleaved rounds, and compare accuracy, size and latency."""
    split = data.digits(seed=cfg.seed)
    with tempfile.TemporaryDirectory() as tmp:
        models = variants(cfg, split, report, Path(tmp))
        metrics = {f"acc_{k}": accuracy(model, split.X_val, split.y_val) for k, model in models.items()}
        metrics |= sizes(models, Path(tmp)) | {"sparsity": float(cfg.sparsity), "keep": float(cfg.keep)}
        note = _("Timing {n} variants at batch {b}", "以批大小 {b} 为 {n} 个版本计时").format(n=len(models), b=cfg.batch)
        X = split.X_val[:cfg.batch].contiguous()  # (batch, 64)
        times = interleaved_timings(models, X, cfg.rounds, block=3, seed=cfg.seed,
                                    tick=lambda f: report(Event("stage", (2 + f) / 3, note=note)))
    metrics |= speed_flags(cfg, times)
    ms = {k: Latency.of(v.ravel()) for k, v in times.items()}
    speedup = {k: paired_ratio(times["dense"], v) for k, v in times.items()}  # dense time / this one's, per round
    told = sentences(verdict(cfg, metrics, ms, speedup), CLAIM.verdict(metrics))
    return Result(metrics, told, charts(metrics, ms), [table(metrics, ms, speedup)])


def verdict(cfg: Config, m: Metrics, ms: dict[str, Latency], speedup: dict[str, float]) -> T:
    """Latency and accuracy of each change against the dense model, in numbers."""
    d = ms["dense"].p50
    return sentences(
        _("At batch {b} the fp32 dense model took {d:.2f} ms (median) at {acc:.1%} accuracy.",
          "批大小 {b} 时，fp32 稠密模型的中位延迟为 {d:.2f} ms，准确率 {acc:.1%}。")
        .format(b=cfg.batch, d=d, acc=m["acc_dense"]),
        _("{s}% unstructured pruning: {u:.2f} ms ({ur:.2f}x the dense time, round by round) and a {ub:.0f} KB checkpoint against {db:.0f} KB: "
          "the zeros are stored and multiplied like any other number; accuracy {ua:.1%}.",
          "{s}% 非结构化剪枝：{u:.2f} ms（逐轮比较为稠密耗时的 {ur:.2f} 倍），检查点 {ub:.0f} KB，稠密为 {db:.0f} KB："
          "零值照样被存储、被相乘；准确率 {ua:.1%}。")
        .format(s=cfg.sparsity, u=ms["unstructured"].p50, ur=1 / speedup["unstructured"],
                ub=m["bytes_unstructured"] / 1e3, db=m["bytes_dense"] / 1e3, ua=m["acc_unstructured"]),
        _("Keeping {k}% of the hidden neurons: {t:.3f} ms ({x:.0f}x faster), {sb:.0f} KB; accuracy {a0:.1%} before "
          "and {a1:.1%} after {ft} fine-tune epochs.",
          "只保留 {k}% 的隐藏神经元：{t:.3f} ms（快 {x:.0f} 倍），{sb:.0f} KB；微调 {ft} 轮前准确率 {a0:.1%}，"
          "微调后 {a1:.1%}。")
        .format(k=cfg.keep, t=ms["structured_ft"].p50, x=speedup["structured_ft"], sb=m["bytes_structured"] / 1e3,
                a0=m["acc_structured"], a1=m["acc_structured_ft"], ft=cfg.finetune_epochs),
        _("ONNX Runtime: fp32 {f:.2f} ms, int8 {i:.2f} ms ({x:.1f}x faster), {fb:.0f} KB → {ib:.0f} KB, accuracy "
          "{fa:.1%} → {ia:.1%}.",
          "ONNX Runtime：fp32 {f:.2f} ms，int8 {i:.2f} ms（快 {x:.1f} 倍），{fb:.0f} KB → {ib:.0f} KB，准确率 "
          "{fa:.1%} → {ia:.1%}。")
        .format(f=ms["onnx_fp32"].p50, i=ms["onnx_int8"].p50, x=speedup["onnx_int8"] / speedup["onnx_fp32"],
                fb=m["bytes_onnx_fp32"] / 1e3, ib=m["bytes_onnx_int8"] / 1e3, fa=m["acc_onnx_fp32"],
                ia=m["acc_onnx_int8"]),
        None if cfg.rounds >= MIN_ROUNDS else
        _("With fewer than {n} timing rounds the latencies are not compared.", "计时轮数少于 {n} 轮时不比较延迟。")
        .format(n=MIN_ROUNDS),
    )


def charts(m: Metrics, ms: dict[str, Latency]) -> list[Chart]:
    """Bars of median latency (log), accuracy and size per variant."""
    def bars(values: dict[str, float], y: T, log_y: bool = False):
        return lambda lang: plots.bars({NAMES[k].get(lang): v for k, v in values.items()}, plots.MODEL, y, lang, log_y)

    return [
        Chart(_("Median latency per variant (this machine, now)", "各版本的中位延迟（本机，当前）"),
              bars({k: v.p50 for k, v in ms.items()}, _("median latency (ms, log)", "中位延迟（ms，对数）"), True),
              caption=_("Interleaved rounds in shuffled order, after warm-up; compare only large differences.",
                        "预热后按随机顺序轮流计时；只比较差距大的情况。")),
        Chart(_("Test accuracy per variant", "各版本的测试准确率"), bars({k: m[f"acc_{k}"] for k in ms}, plots.ACCURACY)),
        Chart(_("Size on disk per variant", "各版本的磁盘大小"),
              bars({k: m[f"bytes_{k}"] / 1e3 for k in ms}, _("size (KB)", "大小（KB）"))),
    ]


def table(m: Metrics, ms: dict[str, Latency], speedup: dict[str, float]) -> Table:
    """Accuracy, size, non-zeros and latency per variant."""
    rows = [{"variant": NAMES[k], "acc": round(m[f"acc_{k}"], 3), "kb": round(m[f"bytes_{k}"] / 1e3, 1),
             "nonzeros": int(m[f"nonzeros_{k}"]), "p50": round(v.p50, 3), "p99": round(v.p99, 3),
             "speedup": round(speedup[k], 1)} for k, v in ms.items()]
    return Table(_("What each change bought", "每种改动换来了什么"),
                 {"variant": plots.MODEL, "acc": _("test accuracy", "测试准确率"), "kb": _("size on disk (KB)", "磁盘大小（KB）"),
                  "nonzeros": _("non-zeros", "非零参数"), "p50": MS, "p99": _("p99 latency (ms)", "p99 延迟（ms）"),
                  "speedup": _("speed-up vs dense", "相对稠密的加速")}, rows)


DEMO = Demo(
    id="inference-speedup",
    title=_("What really speeds up inference", "什么才能真正加速推理"),
    summary=_("One MLP trained live on digits, made cheaper five ways and timed side by side on CPU: unstructured "
              "zeros, structured pruning with and without fine-tuning, int8 with ONNX Runtime.",
              "在手写数字上现场训练一个 MLP，用五种方式让它变“便宜”，并在 CPU 上并排计时：非结构化的零、"
              "结构化剪枝（微调与不微调）、ONNX Runtime 的 int8。"),
    category="compression",
    config=Config,
    run=run,
    smoke=dict(width=256, epochs=1, finetune_epochs=1, rounds=3),
    key_metric="acc_structured_ft",
    key_label=_("accuracy after structured pruning + fine-tune", "结构化剪枝并微调后的准确率"),
    claim=CLAIM,
)
