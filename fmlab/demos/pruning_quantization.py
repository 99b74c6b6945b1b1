"""Pruning and quantization of an MLP trained live on digits: accuracy vs sparsity, and what really shrinks the file.

Global magnitude pruning (`prune.global_unstructured`, L1) swept with and without a fine-tune that keeps the mask
fixed, then `prune.remove`; int8 of the same model with ONNX Runtime's `quantize_dynamic` and torch.ao's.
"""
from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import data, plots
from ..compress import (OnnxModel, accuracy, export_onnx, global_prune, make_permanent, nonzeros, onnx_int8, torch_int8)
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..fit import evaluate, fit
from ..latency import checkpoint_bytes, measure
from ..nets import MLP, init_weights, num_params
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, sentences

SPARSITIES = (30, 50, 70, 80, 90, 95, 98, 99)
VARIANTS = {"dense": _("fp32 dense (PyTorch)", "fp32 稠密（PyTorch）"),
            "pruned": _("pruned + fine-tuned, zeros kept dense", "剪枝 + 微调，零值仍以稠密存储"),
            "torch_int8": _("int8 dynamic (torch.ao)", "int8 动态量化（torch.ao）"),
            "onnx_fp32": _("fp32 (ONNX Runtime)", "fp32（ONNX Runtime）"),
            "onnx_int8": _("int8 dynamic (ONNX Runtime)", "int8 动态量化（ONNX Runtime）")}
SPARSITY_AXIS = _("sparsity (% of weights removed)", "稀疏度（被剪掉的权重占比，%）")
FLAT, COLLAPSED = 0.03, 0.10  # "flat": within 3 points of dense; "collapsed": more than 10 points below


@dataclass(frozen=True)
class Config(DemoConfig):
    sparsities: tuple = param((50, 70, 80, 90, 95, 98), choices=SPARSITIES, label=_("Sparsities (%)", "稀疏度（%）"),
                              help=_("Shares of all Linear weights removed, smallest magnitudes first",
                                     "在所有 Linear 权重中按绝对值从小到大剪掉的比例"))
    finetune_epochs: int = param(3, low=0, high=10, label=_("Fine-tune epochs", "微调轮数"),
                                 help=_("Training after pruning, with the mask fixed (0 = none)",
                                        "剪枝后在掩码固定的情况下继续训练的轮数（0 表示不微调）"))
    shown: int = param(90, choices=SPARSITIES, label=_("Pruned model in the table (%)", "表中剪枝模型的稀疏度（%）"),
                       help=_("Sparsity of the pruned model whose size and latency the table shows",
                              "表格中展示其大小与延迟的剪枝模型所用的稀疏度"))
    width: int = param(256, choices=(128, 256, 512), label=_("Hidden width", "隐藏层宽度"),
                       help=_("Units in each of the two hidden layers", "两个隐藏层各自的单元数"))
    epochs: int = epochs_param(15, high=60, help=_("Passes over the training digits for the dense model",
                                                   "稠密模型遍历训练样本的次数"))
    lr: float = lr_param(3e-3, low=1e-4, high=3e-2, help=_("Adam's step size, for training and fine-tuning",
                                                           "Adam 的步长，训练与微调共用"))
    seed: int = seed_param()


def levels(cfg: Config) -> list[int]:
    """The swept sparsities, with the table's one among them."""
    return sorted(set(cfg.sparsities) | {cfg.shown})


def collapse_point(m: Metrics, kind: str) -> float:
    """The first swept sparsity whose accuracy is more than 10 points below dense (100 if none)."""
    return next((s for s in swept(m) if m[f"acc_{kind}_{s}"] < m["acc_dense"] - COLLAPSED), 100)


def swept(m: Metrics) -> list[int]:
    """The sparsities a run swept, read back from its metric names."""
    return sorted(int(k.rsplit("_", 1)[1]) for k in m if k.startswith("acc_pruned_"))


def lesson(m: Metrics) -> bool | None:
    """Fine-tuned accuracy flat to 90%, pruned-only collapses, fine-tuning moves the collapse right; pruned file
    ≥ 95% of dense; int8 file ≥ 3x smaller within 2 points of accuracy."""
    levels_ = swept(m)
    if levels_[-1] < 95 or levels_[0] > 90:
        return None  # the sweep does not reach both the flat part and the collapse
    flat = all(m[f"acc_finetuned_{s}"] >= m["acc_dense"] - FLAT for s in levels_ if s <= 90)
    collapse = m[f"acc_pruned_{levels_[-1]}"] < m["acc_dense"] - 0.3
    moved = collapse_point(m, "finetuned") > collapse_point(m, "pruned")
    zeros = m["bytes_pruned"] >= 0.95 * m["bytes_dense"]
    int8 = m["bytes_onnx_fp32"] >= 3 * m["bytes_onnx_int8"] and m["acc_onnx_int8"] >= m["acc_onnx_fp32"] - 0.02
    return flat and collapse and moved and zeros and int8


CLAIM = Claim(
    _("accuracy stays flat up to high sparsity and then collapses, and fine-tuning with the mask fixed moves the "
      "collapse to higher sparsity; the zeros do not shrink the checkpoint, while int8 cuts it about 4x at almost "
      "no accuracy cost",
      "精度在较高稀疏度之前基本持平、随后骤降，而在掩码固定的情况下微调能把骤降点推向更高的稀疏度；零值不会让检查点变小，"
      "int8 则能把它缩小约 4 倍且几乎不损失精度"),
    lesson,
    fragile=_("Where pruning without fine-tuning collapses depends on the seed (90% on some, 95% on others); "
              "fewer fine-tune epochs narrow the gap.",
              "不微调时的骤降点随种子而变（有的在 90%，有的在 95%）；微调轮数越少，差距越小。"),
)


def prune_sweep(cfg: Config, dense: MLP, split: data.Split, report: Report) -> tuple[Metrics, MLP]:
    """Accuracy after global pruning at each sparsity, before and after fine-tuning; the table's model."""
    metrics, shown, todo = {}, dense, levels(cfg)
    train, val = (split.X_train, split.y_train), (split.X_val, split.y_val)
    for i, s in enumerate(todo):
        model = global_prune(copy.deepcopy(dense), s / 100)  # weight = weight_orig * weight_mask
        metrics[f"acc_pruned_{s}"] = evaluate(model, *val)["acc"]
        name = _("fine-tune at {s}%", "{s}% 稀疏度下微调").format(s=s)
        if cfg.finetune_epochs:
            fit(model, torch.optim.Adam(model.parameters(), lr=cfg.lr), train, epochs=cfg.finetune_epochs,
                batch_size=64, seed=cfg.seed + s, report=part(report, name, 1 + i, len(todo) + 2))
            metrics[f"acc_finetuned_{s}"] = evaluate(model, *val)["acc"]
        else:
            report(Event("stage", (2 + i) / (len(todo) + 2), note=name))
        if s == cfg.shown:
            shown = make_permanent(model)  # the mask folded in: a plain dense weight full of zeros
    return metrics, shown


def variants(dense: MLP, pruned: MLP, directory: Path) -> tuple[dict[str, object], dict[str, int]]:
    """The five models of the table, and each one's size on disk in bytes."""
    fp32 = export_onnx(dense, directory / "fp32.onnx", 64)
    int8 = onnx_int8(fp32, directory / "int8.onnx")
    models = {"dense": dense.eval(), "pruned": pruned.eval(), "torch_int8": torch_int8(dense),
              "onnx_fp32": OnnxModel(fp32), "onnx_int8": OnnxModel(int8)}
    sizes = {"dense": checkpoint_bytes(dense), "pruned": checkpoint_bytes(pruned),
             "torch_int8": checkpoint_bytes(models["torch_int8"]), "onnx_fp32": fp32.stat().st_size,
             "onnx_int8": int8.stat().st_size}
    return models, sizes


def run(cfg: Config, report: Report = silent) -> Result:
    """Train, sweep global pruning, quantize to int8, then measure accuracy, size and latency side by side."""
    split = data.digits(seed=cfg.seed)
    dense = init_weights(MLP(64, 10, width=cfg.width, depth=1), cfg.seed)  # 64 -> width -> width -> 10
    steps = len(levels(cfg)) + 2
    trained = fit(dense, torch.optim.Adam(dense.parameters(), lr=cfg.lr), (split.X_train, split.y_train),
                  epochs=cfg.epochs, batch_size=64, seed=cfg.seed, report=part(report, _("dense", "稠密"), 0, steps))
    metrics = {"acc_dense": evaluate(dense, split.X_val, split.y_val)["acc"], "params": float(num_params(dense))}
    swept_metrics, pruned = prune_sweep(cfg, dense, split, report)
    metrics |= swept_metrics | {"nonzeros_dense": float(nonzeros(dense)), "nonzeros_pruned": float(nonzeros(pruned))}
    report(Event("stage", (steps - 1) / steps, note=_("Loading ONNX Runtime, quantizing to int8, timing",
                                                     "加载 ONNX Runtime，量化为 int8，计时")))
    with tempfile.TemporaryDirectory() as tmp:
        models, sizes = variants(dense, pruned, Path(tmp))
        metrics |= {f"bytes_{k}": float(v) for k, v in sizes.items()}
        acc = {k: accuracy(model, split.X_val, split.y_val) for k, model in models.items()}
        metrics |= {f"acc_{k}": a for k, a in acc.items() if k.endswith("int8") or k == "onnx_fp32"}
        rows = table_rows(models, acc, metrics, split.X_val)
    report(Event("stage", 1.0, note=_("Done", "完成")))
    return Result(metrics, sentences(verdict(cfg, metrics, rows), CLAIM.verdict(metrics)),
                  charts(cfg, metrics, rows, trained.history["loss"]), [table(rows)])


def table_rows(models: dict[str, object], acc: dict[str, float], m: Metrics, X: torch.Tensor) -> list[dict]:
    """One row per variant: parameters, non-zeros, size, accuracy, median latency at batch 1 and 32 (ms)."""
    rows = []
    for k, model in models.items():
        rows.append({"variant": VARIANTS[k], "params": int(m["params"]),
                     "nonzeros": int(m["nonzeros_pruned" if k == "pruned" else "nonzeros_dense"]),
                     "kb": round(m[f"bytes_{k}"] / 1e3, 1), "acc": round(acc[k], 3),
                     "b1": round(measure(model, X[:1], repeats=100).p50, 4),
                     "b32": round(measure(model, X[:32], repeats=50).p50, 4)})
    return rows


def drop(point: float) -> T:
    """Where a curve collapsed, as a clause: "first fell more than 10 points below dense at 90% sparsity"."""
    if point >= 100:
        return _("stayed within 10 points of dense at every sparsity swept", "在所有扫描的稀疏度下都与稠密模型相差不到 10 个百分点")
    return _("first fell more than 10 points below dense at {c}% sparsity", "在 {c}% 稀疏度首次比稠密模型低 10 个百分点以上"
             ).format(c=point)


def verdict(cfg: Config, m: Metrics, rows: list[dict]) -> T:
    """Dense accuracy, where each curve collapses, what pruning and int8 did to the file, and the latencies."""
    top = swept(m)[-1]
    ms = {k: row["b32"] for k, row in zip(VARIANTS, rows)}
    return sentences(
        _("The dense MLP reached {acc:.1%} test accuracy with {params:,} parameters.",
          "稠密 MLP 以 {params:,} 个参数达到 {acc:.1%} 的测试准确率。").format(acc=m["acc_dense"], params=int(m["params"])),
        _("Pruned without fine-tuning, accuracy {drop}; at {top}% sparsity it was {a:.1%}.",
          "不微调时，精度{drop}；{top}% 稀疏度时为 {a:.1%}。")
        .format(drop=drop(collapse_point(m, "pruned")), top=top, a=m[f"acc_pruned_{top}"]),
        _("Fine-tuned for {ft} epochs with the mask fixed, accuracy {drop}; at {top}% it was {a:.1%}.",
          "在掩码固定的情况下微调 {ft} 轮后，精度{drop}；{top}% 时为 {a:.1%}。")
        .format(ft=cfg.finetune_epochs, drop=drop(collapse_point(m, "finetuned")), top=top,
                a=m[f"acc_finetuned_{top}"]) if cfg.finetune_epochs else None,
        _("At {s}% sparsity only {nz:,} weights are non-zero, yet the checkpoint is {pk:.0f} KB against {dk:.0f} KB "
          "dense: after prune.remove the zeros are still stored in dense tensors.",
          "{s}% 稀疏度下只有 {nz:,} 个非零权重，检查点却有 {pk:.0f} KB，稠密模型为 {dk:.0f} KB：prune.remove 之后，"
          "零值仍存放在稠密张量里。")
        .format(s=cfg.shown, nz=int(m["nonzeros_pruned"]), pk=m["bytes_pruned"] / 1e3, dk=m["bytes_dense"] / 1e3),
        _("int8 with ONNX Runtime: {fk:.0f} KB → {ik:.0f} KB ({r:.1f}x smaller), accuracy {fa:.1%} → {ia:.1%}; "
          "torch.ao's int8 checkpoint is {tk:.0f} KB.",
          "用 ONNX Runtime 做 int8：{fk:.0f} KB → {ik:.0f} KB（缩小 {r:.1f} 倍），精度 {fa:.1%} → {ia:.1%}；"
          "torch.ao 的 int8 检查点为 {tk:.0f} KB。")
        .format(fk=m["bytes_onnx_fp32"] / 1e3, ik=m["bytes_onnx_int8"] / 1e3, tk=m["bytes_torch_int8"] / 1e3,
                r=m["bytes_onnx_fp32"] / m["bytes_onnx_int8"], fa=m["acc_onnx_fp32"], ia=m["acc_onnx_int8"]),
        _("Median batch-32 latency on this machine, now: dense {d:.3f} ms, pruned {p:.3f} ms (the zeros are still "
          "multiplied), ONNX Runtime fp32 {f:.3f} ms, int8 {i:.3f} ms.",
          "本机当前的批大小 32 中位延迟：稠密 {d:.3f} ms，剪枝后 {p:.3f} ms（零照样参与乘法），ONNX Runtime fp32 {f:.3f} ms，"
          "int8 {i:.3f} ms。")
        .format(d=ms["dense"], p=ms["pruned"], f=ms["onnx_fp32"], i=ms["onnx_int8"]),
    )


def charts(cfg: Config, m: Metrics, rows: list[dict], losses: list[float]) -> list[Chart]:
    """Accuracy vs sparsity with and without fine-tuning; size and batch-32 latency per variant; training loss."""
    xs = [0, *swept(m)]
    curves = {_("pruned only", "只剪枝"): [m["acc_dense"], *(m[f"acc_pruned_{s}"] for s in xs[1:])]}
    if cfg.finetune_epochs:
        curves[_("pruned + fine-tuned", "剪枝 + 微调")] = [m["acc_dense"], *(m[f"acc_finetuned_{s}"] for s in xs[1:])]
    return [
        Chart(_("Test accuracy vs sparsity", "测试准确率与稀疏度"),
              lambda lang: plots.lines_xy({k.get(lang): (xs, v) for k, v in curves.items()}, SPARSITY_AXIS,
                                          plots.ACCURACY, lang),
              caption=_("Global L1 pruning ranks all Linear weights together; fine-tuning keeps the mask fixed.",
                        "全局 L1 剪枝把所有 Linear 权重放在一起排序；微调时掩码保持不变。")),
        Chart(_("Size on disk per variant", "各版本的磁盘大小"),
              lambda lang: plots.bars({r["variant"].get(lang): r["kb"] for r in rows}, plots.MODEL,
                                      _("size (KB)", "大小（KB）"), lang)),
        Chart(_("Median latency at batch 32 (this machine, now)", "批大小 32 的中位延迟（本机，当前）"),
              lambda lang: plots.bars({r["variant"].get(lang): r["b32"] for r in rows}, plots.MODEL,
                                      _("latency (ms)", "延迟（ms）"), lang),
              caption=_("Shared machines make these numbers move; compare only large differences.",
                        "机器负载会让这些数字波动；只比较差距大的情况。")),
        Chart(_("Training the dense model", "训练稠密模型"),
              lambda lang: plots.curves({plots.TRAIN_LOSS.get(lang): losses}, plots.STEP, plots.LOSS, lang)),
    ]


def table(rows: list[dict]) -> Table:
    """The compression table."""
    return Table(_("Size, accuracy and latency per variant", "各版本的大小、精度与延迟"),
                 {"variant": plots.MODEL, "params": plots.PARAMETERS, "nonzeros": _("non-zeros", "非零参数"),
                  "kb": _("size on disk (KB)", "磁盘大小（KB）"), "acc": _("test accuracy", "测试准确率"),
                  "b1": _("batch 1 (ms)", "批大小 1（ms）"), "b32": _("batch 32 (ms)", "批大小 32（ms）")}, rows)


DEMO = Demo(
    id="pruning-quantization",
    title=_("Pruning and quantization: accuracy, size, latency", "剪枝与量化：精度、大小与延迟"),
    summary=_("An MLP trained live on digits, pruned globally by magnitude at rising sparsity with and without "
              "fine-tuning, and quantized to int8 with ONNX Runtime: accuracy, non-zeros, size on disk and latency.",
              "在手写数字上现场训练 MLP，按幅值全局剪枝到不同稀疏度（微调与不微调），再用 ONNX Runtime 量化为 int8："
              "比较精度、非零参数、磁盘大小与延迟。"),
    category="compression",
    config=Config,
    run=run,
    smoke=dict(sparsities=(90, 98), shown=90, width=128, epochs=2, finetune_epochs=1),
    key_metric="acc_finetuned_90",
    key_label=_("test accuracy at 90% sparsity, fine-tuned", "90% 稀疏度微调后的测试准确率"),
    claim=CLAIM,
)
