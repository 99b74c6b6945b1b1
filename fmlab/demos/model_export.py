"""Model export: a digits MLP trained live, exported with torch.export and to ONNX, reloaded and checked.

Each export is written to a file, read back and run on the test digits: torch.export's .pt2 through
`torch.export.load`, the .onnx file through ONNX Runtime, once more in a fresh Python process that
never imports torch. Parity is max |Δ| of the logits against the eager model. Each format is also
exported once without a dynamic batch dimension, and every export is fed other batch sizes.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from .. import data, plots
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..export import (Runner, export_program, file_bytes, max_abs_diff, one_line, onnx_file, onnx_runner, refusal,
                      save_and_load, standalone_outputs, torch_runner)
from ..fit import evaluate, fit
from ..latency import Latency, checkpoint_bytes, timings_ms
from ..nets import MLP, init_weights
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, names, same, sentences

Runners = dict[tuple[str, bool], Runner]  # (format, dynamic batch?) -> runner
Refusals = dict[tuple[str, bool, int], Exception | None]  # (format, dynamic, batch size) -> the error, or None

FORMATS = ("torch_export", "onnx")
NAMES = {"eager": _("eager PyTorch", "eager PyTorch"), "torch_export": _("torch.export (.pt2)", "torch.export（.pt2）"),
         "onnx": _("ONNX Runtime (.onnx)", "ONNX Runtime（.onnx）"),
         "standalone": _("ONNX Runtime, fresh process without torch", "ONNX Runtime，不含 torch 的新进程")}
DIMS = {True: _("dynamic", "动态"), False: _("static", "静态")}
SUFFIX = {"torch_export": "pt2", "onnx": "onnx"}
STAGE = {"trace": _("torch.export with a {tag} batch", "以{tag}批量运行 torch.export"),
         "torch_export": _("Saving and reloading the .pt2 ({tag} batch)", "保存并重新加载 .pt2（{tag}批量）"),
         "onnx": _("Translating to ONNX and opening a session ({tag} batch)",
                   "转换为 ONNX 并创建推理会话（{tag}批量）")}
TIMED_BATCHES = (1, 32)
TOLERANCE = 1e-4  # fp32 parity: float rounding is ~1e-6; a real bug (train mode, preprocessing) is far above


@dataclass(frozen=True)
class Config(DemoConfig):
    epochs: int = epochs_param(10, high=40, help=_("Passes over the training digits", "遍历训练数字的次数"))
    lr: float = lr_param(3e-3, low=1e-4, high=3e-2, help=_("Adam's step size", "Adam 的步长"))
    width: int = param(128, choices=(32, 64, 128, 256), label=_("Hidden width", "隐藏层宽度"),
                       help=_("Units of the MLP's hidden layers (64 → width → width → 10)",
                              "MLP 隐藏层的单元数（64 → 宽度 → 宽度 → 10）"))
    example_batch: int = param(8, choices=(2, 4, 8, 16, 64), label=_("Example batch", "示例批量"),
                               help=_("Batch size of the example input traced by every export",
                                      "每次导出时用来追踪计算图的示例输入的批量大小"))
    formats: tuple = param(FORMATS, choices=FORMATS, choice_labels={f: NAMES[f] for f in FORMATS},
                           label=_("Formats", "导出格式"),
                           help=_("Files to export, each with a static and a dynamic batch (ONNX takes a few seconds)",
                                  "要导出的文件格式，每种都分别用静态和动态批量导出（ONNX 需要几秒）"))
    standalone: bool = param(True, label=_("Check in a fresh process", "在新进程中检验"),
                             help=_("Also run the .onnx file in a new Python that imports only onnxruntime, not torch",
                                    "另外在一个只导入 onnxruntime、不导入 torch 的新 Python 进程里运行 .onnx 文件"))
    seed: int = seed_param()


def mlp(width: int, seed: int) -> MLP:
    """64 -> width -> width -> 10 with ReLUs."""
    return init_weights(MLP(64, 10, width=width, depth=1), seed)


def export_all(cfg: Config, model: nn.Module, example: Tensor, folder: Path, report: Report) -> Runners:
    """torch.export with a dynamic, then a static batch; each program saved in every chosen format and reloaded.

    Returns (format, dynamic) -> runner; ("eager", True) is the model itself."""
    runners = {("eager", True): torch_runner(model)}
    steps = [(dynamic, step) for dynamic in (True, False) for step in ("trace", *cfg.formats)]
    for i, (dynamic, step) in enumerate(steps):
        report(Event("stage", 0.1 + 0.75 * i / len(steps), note=STAGE[step].format(tag=DIMS[dynamic])))
        path = folder / f"model_{'dynamic' if dynamic else 'static'}.{SUFFIX.get(step)}"
        if step == "trace":
            program = export_program(model, example, dynamic)  # the one graph both files are written from
        elif step == "torch_export":
            runners[step, dynamic] = torch_runner(save_and_load(program, path))
        else:  # the first ONNX translation also imports onnxscript: the slowest step of the demo
            runners[step, dynamic] = onnx_runner(onnx_file(program, path))
    return runners


def parity(cfg: Config, model: nn.Module, runners: Runners, folder: Path, X: Tensor, y: Tensor) -> Metrics:
    """Max |Δ| against eager on the test set (and in a fresh process if asked), accuracy, file sizes."""
    eager = runners["eager", True](X)  # (N, 10)
    m = {"accuracy": evaluate(model, X, y)["acc"], "size_kb_eager": checkpoint_bytes(model) / 1024}
    for f in cfg.formats:
        m[f"size_kb_{f}"] = file_bytes(folder / f"model_dynamic.{SUFFIX[f]}") / 1024
        m[f"max_diff_{f}"] = max_abs_diff(runners[f, True](X), eager)
    if cfg.standalone and "onnx" in cfg.formats:
        alone, loaded = standalone_outputs(folder / "model_dynamic.onnx", X)
        m |= {"max_diff_standalone": max_abs_diff(alone, eager), "standalone_imported_torch": float(loaded["torch"])}
    m["max_diff"] = max(m[f"max_diff_{f}"] for f in compared(m))
    return m


def compared(m: Metrics) -> list[str]:
    """The exports whose parity this run measured."""
    return [f for f in (*FORMATS, "standalone") if f"max_diff_{f}" in m]


def latencies(cfg: Config, runners: Runners, X: Tensor) -> dict[str, float]:
    """p50 ms of one call at batch 1 and 32 per format: not metrics, since they vary with the machine's load."""
    return {f"latency_ms_b{b}_{f}": Latency.of(timings_ms(lambda: runners[f, True](X[:b]), 100, 10)).p50
            for f in ("eager", *cfg.formats) for b in TIMED_BATCHES}


def batch_checks(cfg: Config, runners: Runners, X: Tensor, sizes: list[int]) -> tuple[Refusals, Metrics]:
    """Feed every export, static and dynamic, each batch size other than the example's; count what each ran."""
    refused = {(f, d, b): refusal(runners[f, d], X[:b]) for f in cfg.formats for d in (True, False) for b in sizes}
    return refused, {f"accepted_{'dynamic' if d else 'static'}_{f}": float(sum(refused[f, d, b] is None for b in sizes))
                     for f in cfg.formats for d in (True, False)} | {"num_sizes": float(len(sizes))}


def lesson(m: Metrics) -> bool:
    """Every export matches eager to ≤ 1e-4 (the fresh process without torch too), every dynamic export runs
    every new batch size and no static one does."""
    exported = [f for f in FORMATS if f"accepted_dynamic_{f}" in m]
    return (all(m[f"max_diff_{f}"] <= TOLERANCE for f in compared(m)) and not m.get("standalone_imported_torch")
            and all(m[f"accepted_dynamic_{f}"] == m["num_sizes"] and m[f"accepted_static_{f}"] == 0 for f in exported))


CLAIM = Claim(
    _("every exported file reproduces the eager model's outputs to within 1e-4, and only the exports with a "
      "dynamic batch dimension accept a batch size other than the example's",
      "每个导出文件都在 1e-4 以内复现了 eager 模型的输出，并且只有声明了动态批量维度的导出才接受与示例不同的批量大小"),
    lesson,
    fragile=_("A max |Δ| above 1e-4 in fp32 means the exported graph computes something else (train mode, a "
              "different preprocessing, an unsupported operator), not rounding.",
              "fp32 下最大 |Δ| 超过 1e-4，说明导出的计算图算的是别的东西（训练模式、预处理不同、不支持的算子），而不是舍入误差。"),
)


def verdict(cfg: Config, m: Metrics, ms: dict[str, float], refused: Refusals, sizes: list[int]) -> T:
    """Accuracy; per format its parity, size and what its static export said to other batch sizes; latency."""
    def told(f: str) -> T:
        error = next((e for (g, d, _b), e in refused.items() if g == f and not d and e is not None), None)
        return _("{fmt}: max |Δ| {diff:.1e} against eager on the {n} test digits, {kb:.0f} KiB on disk. Exported "
                 "from a batch of {eb} without a dynamic dimension, it ran {st} of the {k} other batch sizes "
                 "({sizes}){error}; with Dim(\"batch\") it ran {dy}.",
                 "{fmt}：在 {n} 个测试数字上与 eager 的最大 |Δ| 为 {diff:.1e}，文件 {kb:.0f} KiB。用批量 {eb} 导出且不声明"
                 "动态维度时，其余 {k} 种批量大小（{sizes}）中它能运行 {st} 种{error}；声明 Dim(\"batch\") 后能运行 {dy} 种。"
                 ).format(fmt=NAMES[f], diff=m[f"max_diff_{f}"], n=int(m["num_test"]), kb=m[f"size_kb_{f}"],
                          eb=cfg.example_batch, k=len(sizes), sizes=names([str(b) for b in sizes]),
                          st=int(m[f"accepted_static_{f}"]), dy=int(m[f"accepted_dynamic_{f}"]),
                          error=_(", failing with “{e}”", "，报错为“{e}”").format(e=one_line(error)) if error else same(""))

    latency = names(same("{fmt} {ms:.3f} ms").format(fmt=NAMES[f], ms=ms[f"latency_ms_b1_{f}"])
                    for f in ("eager", *cfg.formats))
    return sentences(
        _("The MLP reached {acc:.1%} test accuracy; its state dict takes {kb:.0f} KiB.",
          "MLP 的测试准确率为 {acc:.1%}，state dict 占 {kb:.0f} KiB。").format(acc=m["accuracy"], kb=m["size_kb_eager"]),
        *[told(f) for f in cfg.formats],
        _("A fresh Python process that never imported torch ran the .onnx file to max |Δ| {d:.1e}.",
          "一个从未导入 torch 的新 Python 进程运行该 .onnx 文件，最大 |Δ| 为 {d:.1e}。").format(d=m["max_diff_standalone"])
        if "max_diff_standalone" in m else None,
        _("The files hold the same fp32 weights plus a graph: export is not compression. Batch-1 latency: {lat}; for "
          "a net this small the per-call overhead decides, not the arithmetic.",
          "这些文件保存的是同样的 fp32 权重加上计算图：导出并不是压缩。批量 1 的延迟：{lat}；网络这么小时，决定快慢的是"
          "每次调用的开销，而不是计算量。").format(lat=latency),
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Train the MLP, export it (static and dynamic batch), reload each file, check parity, batch sizes, latency."""
    split = data.digits(seed=cfg.seed)
    X, y = split.X_val, split.y_val  # the test digits: (N, 64), (N,)
    model = mlp(cfg.width, cfg.seed)
    trained = fit(model, torch.optim.Adam(model.parameters(), lr=cfg.lr), (split.X_train, split.y_train),
                  epochs=cfg.epochs, batch_size=64, seed=cfg.seed, report=part(report, _("MLP", "MLP"), 0, 10))
    model.eval()
    sizes = [b for b in (1, 3, 32, len(X)) if b != cfg.example_batch]  # batch sizes other than the example's
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        example = X[:cfg.example_batch].clone()  # a slice would store the whole test set as the .pt2's sample input
        runners = export_all(cfg, model, example, folder, report)
        report(Event("stage", 0.85, note=_("Parity, batch sizes and latency", "一致性、批量大小与延迟")))
        metrics = parity(cfg, model, runners, folder, X, y)
        refused, accepted = batch_checks(cfg, runners, X, sizes)
        metrics |= accepted | {"num_test": float(len(X))}
        ms = latencies(cfg, runners, X)
    report(Event("stage", 1.0, note=_("Done", "完成")))
    return Result(metrics, verdict(cfg, metrics, ms, refused, sizes), charts(cfg, metrics, ms, trained.history["loss"]),
                  tables(cfg, metrics | ms, refused, sizes))


def charts(cfg: Config, m: Metrics, ms: dict[str, float], losses: list[float]) -> list[Chart]:
    """Training loss, max |Δ| per export (log), latency per format and batch size."""
    diffs = {NAMES[f]: max(m[f"max_diff_{f}"], 1e-12) for f in compared(m)}
    timed = {NAMES[f]: ([str(b) for b in TIMED_BATCHES], [ms[f"latency_ms_b{b}_{f}"] for b in TIMED_BATCHES])
             for f in ("eager", *cfg.formats)}
    return [
        Chart(_("Training", "训练过程"),
              lambda lang: plots.curves({plots.TRAIN_LOSS.get(lang): losses}, plots.STEP, plots.LOSS, lang)),
        Chart(_("Parity: max |Δ| of the logits against eager (log)", "一致性：logits 与 eager 的最大 |Δ|（对数）"),
              lambda lang: plots.bars({k.get(lang): v for k, v in diffs.items()}, plots.METHOD,
                                      _("max |Δ|", "最大 |Δ|"), lang, log_y=True),
              caption=_("Below 1e-4 is float rounding; an exact 0 is drawn at 1e-12.",
                        "低于 1e-4 属于浮点舍入；恰好为 0 时画在 1e-12 处。")),
        Chart(_("Latency of one call (p50)", "单次调用延迟（p50）"),
              lambda lang: plots.lines_xy({k.get(lang): v for k, v in timed.items()}, _("batch size", "批量大小"),
                                          _("ms", "毫秒"), lang)),
    ]


def tables(cfg: Config, m: Metrics, refused: Refusals, sizes: list[int]) -> list[Table]:
    """Per format: size, parity, latency (`m` holds the timings too); per export and batch size: ran, or the error."""
    def cell(key: str, digits: int):
        return round(m[key], digits) if key in m else None  # eager is the reference; the fresh process is not timed

    formats = [{"format": NAMES[f], "size": cell(f"size_kb_{f}", 1), "diff": cell(f"max_diff_{f}", 9),
                "b1": cell(f"latency_ms_b1_{f}", 4), "b32": cell(f"latency_ms_b32_{f}", 4)}
               for f in ("eager", *compared(m))]
    shapes = [{"export": _("{fmt}, {tag} batch", "{fmt}，{tag}批量").format(fmt=NAMES[f], tag=DIMS[d]),
               **{f"b{b}": _("runs", "可运行") if refused[f, d, b] is None else same(type(refused[f, d, b]).__name__)
                  for b in sizes}} for f in cfg.formats for d in (False, True)]
    return [
        Table(_("Formats side by side (parity on the {n} test digits)", "各格式对比（在 {n} 个测试数字上比较一致性）")
              .format(n=int(m["num_test"])),
              {"format": _("format", "格式"), "size": _("size (KiB)", "大小（KiB）"),
               "diff": _("max |Δ| vs eager", "与 eager 的最大 |Δ|"), "b1": _("batch 1 (ms)", "批量 1（毫秒）"),
               "b32": _("batch 32 (ms)", "批量 32（毫秒）")}, formats),
        Table(_("Exported from a batch of {eb}, fed other batch sizes", "用批量 {eb} 导出后，输入其他批量大小")
              .format(eb=cfg.example_batch),
              {"export": _("export", "导出方式"), **{f"b{b}": _("batch {b}", "批量 {b}").format(b=b) for b in sizes}},
              shapes),
    ]


DEMO = Demo(
    id="model-export",
    title=_("Model export: torch.export, ONNX Runtime, parity", "模型导出：torch.export、ONNX Runtime 与一致性"),
    summary=_("A digits MLP trained live, exported with torch.export and to ONNX, reloaded and run: max |Δ| against "
              "eager, file size, latency, and what a missing dynamic batch dimension does.",
              "现场训练一个手写数字 MLP，用 torch.export 和 ONNX 导出后重新加载运行：与 eager 的最大 |Δ|、文件大小、延迟，"
              "以及缺少动态批量维度会怎样。"),
    category="deployment",
    config=Config,
    run=run,
    smoke=dict(epochs=1, width=32, formats=("torch_export",)),
    key_metric="max_diff",
    key_label=_("max |Δ| of any export vs eager", "各导出与 eager 的最大 |Δ|"),
    claim=CLAIM,
)
