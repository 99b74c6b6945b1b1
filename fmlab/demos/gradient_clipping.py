"""Exploding gradients in a recurrent net, and what gradient clipping does about them.

A vanilla RNN multiplies its hidden state by the same recurrent matrix at every one of
60 time steps. With that matrix's gain above 1 (here orthogonal × 1.3), gradients through
time can grow like 1.3^60: most steps are ordinary, a few are enormous, and one such step
with momentum SGD throws the weights into a region the model never recovers from.
`clip_grad_norm_` rescales any gradient whose global L2 norm exceeds a threshold, keeping
its direction: the rare spikes become ordinary-sized steps.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .. import data, plots
from ..demo import Chart, Demo, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit
from ..params import DemoConfig, param
from ..text import T, _


@dataclass(frozen=True)
class Config(DemoConfig):
    max_norm: float = param(1.0, low=0.01, high=100.0, log=True, label=_("Clip at norm", "裁剪阈值（范数）"),
                            help=_("Global gradient norm above which the clipped run rescales the gradient",
                                   "裁剪组在全局梯度范数超过该值时按比例缩小梯度"))
    gain: float = param(1.3, low=0.5, high=2.0, label=_("Recurrent gain", "循环权重增益"),
                        help=_("Scale of the orthogonal recurrent matrix; above 1 gradients can explode",
                               "正交循环矩阵的缩放倍数；大于 1 时梯度可能爆炸"))
    lr: float = param(0.02, low=1e-3, high=0.2, log=True, label=_("Learning rate (SGD)", "学习率（SGD）"),
                      help=_("SGD with momentum 0.9, the same for both runs", "两组共用的动量 SGD（动量 0.9）学习率"))
    epochs: int = param(8, low=1, high=30, label=_("Epochs", "训练轮数"),
                        help=_("Passes over 1,500 training sequences", "遍历 1500 条训练序列的次数"))
    length: int = param(60, low=10, high=120, label=_("Sequence length", "序列长度"),
                        help=_("Time steps the gradient must travel back through", "梯度需要反向穿过的时间步数"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run", "相同种子，相同结果"))


class SequenceClassifier(nn.Module):
    """nn.RNN (tanh) over the sequence, then a linear head on the last hidden state."""

    def __init__(self, hidden: int, classes: int, gain: float, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.rnn = nn.RNN(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)
        for p in self.parameters():  # PyTorch's default ranges, drawn from our generator
            bound = 1 / hidden ** 0.5
            nn.init.uniform_(p, -bound, bound, generator=g)
        nn.init.orthogonal_(self.rnn.weight_hh_l0, gain=gain, generator=g)

    def forward(self, x: Tensor) -> Tensor:  # (B, T, 1) -> (B, classes)
        states, _last = self.rnn(x)  # (B, T, hidden)
        return self.head(states[:, -1])


def train(clip: float | None, cfg: Config, split: data.Split, report: Report) -> tuple[SequenceClassifier, Fit]:
    model = SequenceClassifier(64, split.num_classes, cfg.gain, cfg.seed)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    result = fit(model, opt, (split.X_train, split.y_train), epochs=cfg.epochs, batch_size=32,
                 val=(split.X_val, split.y_val), seed=cfg.seed, report=report, clip=clip, track_grad_norm=True)
    return model, result


def spike_ratio(norms: list[float]) -> float:
    """Largest gradient norm over the median: how rare and how big the spikes are."""
    return float(np.max(norms) / np.median(norms)) if norms else float("nan")


def verdict(cfg: Config, m: dict[str, float]) -> T:
    helped = m["acc_clipped"] - m["acc_unclipped"] > 0.2
    en_end = ("Clipping turned the rare huge steps into ordinary ones, and the same model learned." if helped else
              "In this run both behaved alike: try a larger recurrent gain or learning rate to see the spikes bite.")
    zh_end = ("裁剪把少数巨大的更新步缩成了普通大小，同一个模型因此学会了任务。" if helped else
              "本次两组表现相近：调大循环增益或学习率，就能看到梯度尖峰的破坏。")
    return _(f"Without clipping: val accuracy {m['acc_unclipped']:.1%}, final loss {m['loss_unclipped']:.2f}; the "
             f"largest gradient norm was {m['spike_unclipped']:.0f}× the median. With clipping at "
             f"{cfg.max_norm:g}: accuracy {m['acc_clipped']:.1%}, loss {m['loss_clipped']:.2f} "
             f"(chance is {1 / 4:.0%}). {en_end}",
             f"不裁剪：验证准确率 {m['acc_unclipped']:.1%}，最终损失 {m['loss_unclipped']:.2f}；最大梯度范数是中位数的 "
             f"{m['spike_unclipped']:.0f} 倍。按 {cfg.max_norm:g} 裁剪：准确率 {m['acc_clipped']:.1%}，损失 "
             f"{m['loss_clipped']:.2f}（随机猜测为 {1 / 4:.0%}）。{zh_end}")


def run(cfg: Config, report: Report = silent) -> Result:
    split = data.sines(num=2000, length=cfg.length, seed=cfg.seed)
    names = {"unclipped": _("no clipping", "不裁剪"), "clipped": _(f"clip at {cfg.max_norm:g}", f"裁剪至 {cfg.max_norm:g}")}
    runs = {key: train(clip, cfg, split, part(report, names[key].en, i, 2))
            for i, (key, clip) in enumerate((("unclipped", None), ("clipped", cfg.max_norm)))}
    metrics: dict[str, float] = {}
    for key, (model, result) in runs.items():
        scores = evaluate(model, split.X_val, split.y_val)
        metrics[f"acc_{key}"] = scores["acc"]
        metrics[f"loss_{key}"] = result.mean_loss(last=20)
        metrics[f"spike_{key}"] = spike_ratio(result.history["grad_norm"])
    charts = [
        Chart(_("Global gradient norm per step (before clipping)", "每步的全局梯度范数（裁剪前）"),
              lambda lang: plots.curves({names[k].get(lang): r.history["grad_norm"] for k, (_m, r) in runs.items()},
                                        _("step", "步数"), _("‖g‖ (log)", "‖g‖（对数）"), lang, log_y=True),
              caption=_("Most steps are ordinary; a few spike by orders of magnitude.",
                        "大多数步的梯度很普通，少数几步会高出几个数量级。")),
        Chart(_("Training loss", "训练损失"),
              lambda lang: plots.curves({names[k].get(lang): r.history["loss"] for k, (_m, r) in runs.items()},
                                        _("step", "步数"), _("loss", "损失"), lang)),
        Chart(_("Validation accuracy per epoch", "每轮验证准确率"),
              lambda lang: plots.curves({names[k].get(lang): r.history["val_acc"] for k, (_m, r) in runs.items()},
                                        _("epoch", "轮次"), _("accuracy", "准确率"), lang)),
    ]
    table = Table(_("Runs", "两组训练"),
                  {"run": _("run", "训练组"), "acc": _("val accuracy", "验证准确率"),
                   "loss": _("final loss", "最终损失"), "spike": _("max / median gradient norm", "最大/中位梯度范数")},
                  [{"run": names[k].en, "acc": round(metrics[f"acc_{k}"], 4), "loss": round(metrics[f"loss_{k}"], 4),
                    "spike": round(metrics[f"spike_{k}"], 1)} for k in runs])
    history = {names[k].en: r.history for k, (_m, r) in runs.items()}
    return Result(metrics, verdict(cfg, metrics), history, charts, [table])


DEMO = Demo(
    id="gradient-clipping",
    title=_("Exploding gradients and clipping", "梯度爆炸与梯度裁剪"),
    summary=_("A vanilla RNN on 60-step sequences with and without clip_grad_norm_: gradient-norm spikes and "
              "what they do to training.",
              "在 60 步序列上训练普通 RNN，对比使用与不使用 clip_grad_norm_：梯度范数尖峰及其对训练的影响。"),
    category="optimization",
    config=Config,
    run=run,
    smoke=dict(epochs=1, length=10),
    key_metric="acc_clipped",
    key_label=_("val accuracy with clipping", "裁剪后的验证准确率"),
)
