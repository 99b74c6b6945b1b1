"""Exploding gradients in a recurrent net, and what gradient clipping does about them.

A vanilla RNN multiplies its hidden state by the same recurrent matrix at every one of
60 time steps. With that matrix's gain above 1 (here orthogonal × 1.3), gradients through
time can grow like 1.3^60: most steps are ordinary, a few are enormous, and one such step
with momentum SGD throws the weights into a region the model never recovers from.
`clip_grad_norm_` rescales any gradient whose global L2 norm exceeds a threshold, keeping
its direction. At the default threshold of 1 most steps are clipped, so no step is larger than
an ordinary one; a threshold that caps only the rare spikes (5, say) does not rescue this net.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .. import data, plots
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, sentences

RUNS = ("unclipped", "clipped")
CHANCE = 1 / 4  # four sine classes


@dataclass(frozen=True)
class Config(DemoConfig):
    max_norm: float = param(1.0, low=0.01, high=100.0, log=True, label=_("Clip at norm", "裁剪阈值（范数）"),
                            help=_("Global gradient norm above which the clipped run rescales the gradient",
                                   "裁剪组在全局梯度范数超过该值时按比例缩小梯度"))
    gain: float = param(1.3, low=0.5, high=2.0, label=_("Recurrent gain", "循环权重增益"),
                        help=_("Scale of the orthogonal recurrent matrix; above 1 gradients can explode",
                               "正交循环矩阵的缩放倍数；大于 1 时梯度可能爆炸"))
    lr: float = lr_param(0.02, low=1e-3, high=0.2, optimizer="SGD",
                         help=_("SGD with momentum 0.9, the same for both runs", "两组共用的动量 SGD（动量 0.9）学习率"))
    epochs: int = epochs_param(8, high=30, help=_("Passes over 1,500 training sequences", "遍历 1500 条训练序列的次数"))
    length: int = param(60, low=10, high=120, label=_("Sequence length", "序列长度"),
                        help=_("Time steps the gradient must travel back through", "梯度需要反向穿过的时间步数"))
    seed: int = seed_param()


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


def run_names(cfg: Config) -> dict[str, T]:
    """The two runs' bilingual names."""
    return {"unclipped": _("no clipping", "不裁剪"),
            "clipped": _("clip at {max_norm:g}", "裁剪至 {max_norm:g}").format(max_norm=cfg.max_norm)}


def train(clip: float | None, cfg: Config, split: data.Split, report: Report) -> tuple[SequenceClassifier, Fit]:
    """One SGD-with-momentum run, clipping the global gradient norm at `clip` (None: never)."""
    model = SequenceClassifier(64, split.num_classes, cfg.gain, cfg.seed)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    result = fit(model, opt, (split.X_train, split.y_train), epochs=cfg.epochs, batch_size=32,
                 val=(split.X_val, split.y_val), seed=cfg.seed, report=report, clip=clip, track_grad_norm=True)
    return model, result


def spike_ratio(norms: list[float]) -> float:
    """Largest gradient norm over the median: how rare and how big the spikes are."""
    return float(np.max(norms) / np.median(norms)) if norms else float("nan")


def run_metrics(key: str, model: SequenceClassifier, result: Fit, split: data.Split, max_norm: float) -> Metrics:
    """Val accuracy, final loss (last 20 steps), spike ratio and, for the clipped run, the share of steps clipped."""
    norms = result.history["grad_norm"]
    m = {f"acc_{key}": evaluate(model, split.X_val, split.y_val)["acc"], f"loss_{key}": result.mean_loss(last=20),
         f"spike_{key}": spike_ratio(norms)}
    if key == "clipped":
        m["clipped_share"] = float(np.mean(np.array(norms) > max_norm))
    return m


def lesson(m: Metrics) -> bool | None:
    """Clipping lifts val accuracy by over 20 points; untested when the threshold never bit."""
    if m["clipped_share"] == 0:
        return None  # the clipped run never clipped: it is the unclipped run again
    return m["acc_clipped"] - m["acc_unclipped"] > 0.2


CLAIM = Claim(
    _("with its gradient norm clipped the RNN learns, while the same RNN without clipping stays near chance",
      "裁剪梯度范数后 RNN 能学会任务，而不裁剪的同一个 RNN 停留在随机猜测水平附近"),
    lesson,
    fragile=_("The threshold must cap ordinary steps too: clipping at 5, which touches only about 3% of steps, "
              "left this net near chance as well.",
              "阈值必须连普通的更新步也一并限制：按 5 裁剪时只有约 3% 的步被裁剪，这个网络同样停留在随机猜测水平附近。"),
)


def verdict(cfg: Config, m: Metrics) -> T:
    """Both runs' accuracy and loss, the spike size, and how often the threshold bit."""
    return sentences(
        _("Without clipping: val accuracy {acc:.1%}, final loss {loss:.2f}; the largest gradient norm was "
          "{spike:.0f}× the median.", "不裁剪：验证准确率 {acc:.1%}，最终损失 {loss:.2f}；最大梯度范数是中位数的 {spike:.0f} 倍。")
        .format(acc=m["acc_unclipped"], loss=m["loss_unclipped"], spike=m["spike_unclipped"]),
        _("With clipping at {max_norm:g} (applied on {share:.0%} of steps): accuracy {acc:.1%}, loss {loss:.2f} "
          "(chance is {chance:.0%}).", "按 {max_norm:g} 裁剪（{share:.0%} 的步被裁剪）：准确率 {acc:.1%}，损失 {loss:.2f}"
          "（随机猜测为 {chance:.0%}）。")
        .format(max_norm=cfg.max_norm, share=m["clipped_share"], acc=m["acc_clipped"], loss=m["loss_clipped"],
                chance=CHANCE),
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Train the same RNN with and without clipping; compare accuracy, loss and gradient-norm spikes."""
    split = data.sines(num=2000, length=cfg.length, seed=cfg.seed)
    names = run_names(cfg)
    clips = {"unclipped": None, "clipped": cfg.max_norm}
    runs = {k: train(clips[k], cfg, split, part(report, names[k], i, len(RUNS))) for i, k in enumerate(RUNS)}
    metrics: Metrics = {}
    for key, (model, result) in runs.items():
        metrics |= run_metrics(key, model, result, split, cfg.max_norm)
    fits = {k: r for k, (_model, r) in runs.items()}
    return Result(metrics, verdict(cfg, metrics), charts(fits, names), [summary(metrics, names)])


def charts(fits: dict[str, Fit], names: dict[str, T]) -> list[Chart]:
    """Gradient norm per step, training loss, val accuracy per epoch: one line per run."""
    def per_run(key: str, lang: str) -> dict[str, list[float]]:
        return {names[k].get(lang): r.history[key] for k, r in fits.items()}

    return [
        Chart(_("Global gradient norm per step (before clipping)", "每步的全局梯度范数（裁剪前）"),
              lambda lang: plots.curves(per_run("grad_norm", lang), plots.STEP, _("‖g‖ (log)", "‖g‖（对数）"), lang,
                                        log_y=True),
              caption=_("Most steps are ordinary; a few spike to many times the median.",
                        "大多数步的梯度很普通，少数几步会达到中位数的许多倍。")),
        Chart(_("Training loss", "训练损失"),
              lambda lang: plots.curves(per_run("loss", lang), plots.STEP, plots.LOSS, lang)),
        Chart(_("Validation accuracy per epoch", "每轮验证准确率"),
              lambda lang: plots.curves(per_run("val_acc", lang), plots.EPOCH, plots.ACCURACY, lang)),
    ]


def summary(m: Metrics, names: dict[str, T]) -> Table:
    """One row per run: val accuracy, final loss, spike ratio."""
    return Table(_("Runs", "两组训练"),
                 {"run": plots.RUN, "acc": plots.VAL_ACCURACY, "loss": plots.FINAL_LOSS,
                  "spike": _("max / median gradient norm", "最大/中位梯度范数")},
                 [{"run": names[k], "acc": round(m[f"acc_{k}"], 4), "loss": round(m[f"loss_{k}"], 4),
                   "spike": round(m[f"spike_{k}"], 1)} for k in RUNS])


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
    claim=CLAIM,
)
