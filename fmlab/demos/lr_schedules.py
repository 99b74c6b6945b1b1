"""Learning-rate schedules, and why warm-up lets a Transformer use a high peak learning rate.

Every curve drawn here comes from a real `torch.optim.lr_scheduler` stepped once per optimizer step (see
`schedules`). The experiment: a small post-LN Transformer (LayerNorm after each residual sum, as in the 2017
original) learns to fill in a masked token of a palindrome, with Adam at a high peak rate and cosine decay,
once without warm-up and once with it. Adam's first updates move every weight by about the full learning rate,
whatever its gradient; at a high peak that first burst of full-size steps breaks the model before its
statistics settle. Ramping up reaches the same peak safely.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .. import plots
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..fit import Fit, fit
from ..nets import SelfAttention, init_weights
from ..params import ConfigError, DemoConfig, epochs_param, lr_param, param, seed_param
from ..schedules import SHAPES, logging_lr, lr_curve, schedule
from ..text import T, _, sentences

SHAPE_NAMES = {"constant": _("constant", "恒定"), "step": _("StepLR (×0.1 every third)", "StepLR（每三分之一 ×0.1）"),
               "cosine": _("cosine", "余弦"), "warmup_cosine": _("warm-up + cosine", "预热 + 余弦"),
               "one_cycle": _("one-cycle", "one-cycle")}
BLOCKS = ("post-ln", "pre-ln")
BLOCK_SHORT = {"post-ln": "post-LN", "pre-ln": "pre-LN"}
BLOCK_NAMES = {"post-ln": _("post-LN: LN(x + f(x))", "post-LN：LN(x + f(x))"),
               "pre-ln": _("pre-LN: x + f(LN(x))", "pre-LN：x + f(LN(x))")}
LENGTH, VOCAB, MASK = 8, 10, 10  # palindromes of 8 tokens in 0..9; token 10 marks the hidden position
BATCH = 64


@dataclass(frozen=True)
class Config(DemoConfig):
    peak_lr: float = lr_param(0.03, low=1e-4, high=0.2, label=_("Peak learning rate (Adam)", "峰值学习率（Adam）"),
                              help=_("The highest learning rate of both runs", "两组训练共同的最高学习率"))
    warmup: int = param(50, low=1, high=200, label=_("Warm-up steps", "预热步数"),
                        help=_("Steps of the linear ramp from 1% of the peak up to the peak",
                               "学习率从峰值的 1% 线性升到峰值所用的步数"))
    epochs: int = epochs_param(4, high=20, help=_("Passes over the training palindromes", "遍历训练回文序列的次数"))
    train_size: int = param(3200, low=320, high=20_000, label=_("Training sequences", "训练序列数"),
                            help=_("Palindromes per epoch, {batch} per step", "每轮的回文序列数，每步 {batch} 条")
                            .format(batch=BATCH))
    block: str = param("post-ln", choices=BLOCKS, choice_labels=BLOCK_NAMES, label=_("Block", "网络块"),
                       help=_("Where LayerNorm sits: after the residual sum (post-LN) or inside the branch (pre-LN)",
                              "LayerNorm 的位置：残差相加之后（post-LN），或残差分支内部（pre-LN）"))
    seed: int = seed_param(_("Same seed, same data, initial weights and order", "相同种子，相同的数据、初始权重和顺序"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.warmup >= self.steps:
            raise ConfigError(_("Warm-up ({warmup} steps) must be shorter than training ({steps} steps)",
                                "预热步数（{warmup}）必须少于总训练步数（{steps}）").format(warmup=self.warmup,
                                                                                  steps=self.steps))

    @property
    def steps(self) -> int:
        """Optimizer steps in one run: the length of every schedule."""
        return self.epochs * math.ceil(self.train_size / BATCH)


def palindromes(num: int, seed: int) -> tuple[Tensor, Tensor]:
    """Palindromes X (N, LENGTH) with one position replaced by MASK, and y (N,) the hidden token."""
    g = torch.Generator().manual_seed(seed)
    half = torch.randint(0, VOCAB, (num, LENGTH // 2), generator=g)
    X = torch.cat([half, half.flip(1)], dim=1)  # (N, LENGTH)
    where = torch.randint(0, LENGTH, (num,), generator=g)
    rows = torch.arange(num)
    y = X[rows, where].clone()
    X[rows, where] = MASK
    return X, y


class Block(nn.Module):
    """Self-attention and an MLP, each with a residual connection and a LayerNorm (after or before)."""

    def __init__(self, dim: int, heads: int, pre_norm: bool):
        super().__init__()
        self.attn = SelfAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.ReLU(), nn.Linear(4 * dim, dim))
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.pre_norm = pre_norm

    def forward(self, x: Tensor) -> Tensor:  # (B, T, C) -> (B, T, C)
        if self.pre_norm:
            x = x + self.attn(self.norm1(x))[0]
            return x + self.mlp(self.norm2(x))
        x = self.norm1(x + self.attn(x)[0])
        return self.norm2(x + self.mlp(x))


class MaskedTokenModel(nn.Module):
    """Embeddings + positions -> blocks -> logits over 0..9 read at the MASK position."""

    def __init__(self, pre_norm: bool, dim: int = 32, heads: int = 4, layers: int = 2):
        super().__init__()
        self.embed = nn.Embedding(VOCAB + 1, dim)
        self.position = nn.Parameter(torch.zeros(LENGTH, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, pre_norm) for _ in range(layers)])
        self.norm = nn.LayerNorm(dim) if pre_norm else nn.Identity()  # pre-LN needs a final norm
        self.head = nn.Linear(dim, VOCAB)

    def forward(self, tokens: Tensor) -> Tensor:  # (B, T) -> (B, VOCAB)
        h = self.norm(self.blocks(self.embed(tokens) + self.position))  # (B, T, C)
        at_mask = (tokens == MASK).float().unsqueeze(-1)  # (B, T, 1): one 1 per row
        return self.head((h * at_mask).sum(dim=1))  # (B, C) -> (B, VOCAB)


def build(cfg: Config) -> MaskedTokenModel:
    """The model for cfg.block, seeded; position embeddings drawn at std 0.5 from a generator of their own."""
    model = init_weights(MaskedTokenModel(pre_norm=cfg.block == "pre-ln"), cfg.seed)
    nn.init.normal_(model.position, std=0.5, generator=torch.Generator().manual_seed(cfg.seed + 1))
    return model


def train(warm: bool, cfg: Config, data: tuple, report: Report) -> tuple[Fit, list[float]]:
    """Adam at the peak rate with cosine decay, with or without warm-up; returns the fit and the rates used."""
    train_set, val = data
    model = build(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.peak_lr)
    sched = schedule("warmup_cosine" if warm else "cosine", opt, cfg.steps, cfg.warmup)
    lrs = [opt.param_groups[0]["lr"]]
    result = fit(model, opt, train_set, epochs=cfg.epochs, batch_size=BATCH, val=val, seed=cfg.seed,
                 report=logging_lr(report, opt, lrs), scheduler=sched)
    return result, lrs[:result.steps]


def outcome(m: Metrics) -> T:
    """Which schedule trained, read from the two runs' validation accuracies."""
    gain = m["acc_warmup"] - m["acc_no_warmup"]
    if gain > 0.3:
        return _("The same peak trained only when the rate was ramped up to it: warm-up widened the range of usable "
                 "peaks.", "只有把学习率逐步升到峰值，同样的峰值才训练得起来：预热放宽了可用峰值学习率的范围。")
    if gain < -0.3:
        return _("This time the run without warm-up did better: at this peak the outcome is fragile; try other seeds.",
                 "这次不预热的一组反而更好：在这个峰值下结果很不稳定，换几个种子试试。")
    if m["acc_no_warmup"] > 0.9 and m["acc_warmup"] > 0.9:
        return _("Both trained: this peak is low enough (or this block robust enough) to need no warm-up; raise the "
                 "peak.", "两组都训练成功：这个峰值足够低（或这种网络块足够稳健），不需要预热；试着调高峰值。")
    return _("Neither schedule clearly won in this run: the peak may be too high for both; try another seed or peak.",
             "本次两种调度没有明显胜负：峰值可能对两者都太高；换个种子或峰值再试。")


def verdict(cfg: Config, m: Metrics) -> T:
    """Both runs' accuracy and loss, which one trained, and whether the lesson showed."""
    return sentences(
        _("Peak learning rate {peak:g} with cosine decay ({block} blocks): without warm-up, validation accuracy "
          "{acc0:.1%} (final loss {loss0:.3g}); with {warmup} warm-up steps, {acc1:.1%} (loss {loss1:.3g}). "
          "Chance is 10%.", "峰值学习率 {peak:g}，余弦衰减（{block} 网络块）：不预热时验证准确率 {acc0:.1%}（最终损失 "
          "{loss0:.3g}）；预热 {warmup} 步时为 {acc1:.1%}（损失 {loss1:.3g}）。随机猜测为 10%。").format(
            peak=cfg.peak_lr, block=BLOCK_SHORT[cfg.block], acc0=m["acc_no_warmup"], loss0=m["loss_no_warmup"],
            warmup=cfg.warmup, acc1=m["acc_warmup"], loss1=m["loss_warmup"]),
        outcome(m),
        CLAIM.verdict(m),
    )


def lesson(m: Metrics) -> bool | None:
    """Post-LN only: over 90% with warm-up, under 50% without."""
    if not m["post_ln"]:
        return None  # pre-LN blocks tolerate a high peak without warm-up: another lesson
    return m["acc_warmup"] > 0.9 and m["acc_no_warmup"] < 0.5


CLAIM = Claim(
    _("at the same high peak learning rate the post-LN Transformer stalls without warm-up (under 50% validation "
      "accuracy) and solves the task with it (over 90%)",
      "在同样高的峰值学习率下，post-LN Transformer 不预热时停滞不前（验证准确率低于 50%），预热后能解决任务（高于 90%）"),
    lesson,
    fragile=_("Warm-up does not always rescue it: 200 steps are few, and on some seeds (6, 8 and 9 of 0–11) the "
              "warmed-up run also stalls or is still climbing at the end (34–82%); more epochs or a lower peak help.",
              "预热并不总能救回来：总共只有 200 步，在某些种子下（0–11 中的 6、8、9）预热的一组也会停滞，"
              "或到结束时仍在爬升（34%–82%）；增加训练轮数或降低峰值会有帮助。"),
)


def run_names(cfg: Config) -> dict[str, T]:
    """The two training runs' labels, by metric key."""
    return {"no_warmup": _("cosine, no warm-up", "余弦，不预热"),
            "warmup": _("{warmup} warm-up steps + cosine", "预热 {warmup} 步 + 余弦").format(warmup=cfg.warmup)}


def run(cfg: Config, report: Report = silent) -> Result:
    """Draw the schedule shapes, then train with and without warm-up at the same peak."""
    curves = {s: lr_curve(s, cfg.peak_lr, cfg.steps, cfg.warmup) for s in SHAPES}
    data = (palindromes(cfg.train_size, cfg.seed), palindromes(1000, cfg.seed + 10_000))
    names = run_names(cfg)
    runs = {key: train(key == "warmup", cfg, data, part(report, names[key], i, 2))[0] for i, key in enumerate(names)}
    metrics: Metrics = {}
    for key, r in runs.items():  # a run that diverged counts as 0% accurate
        metrics |= {f"acc_{key}": r.final("val_acc") if not r.diverged else 0.0, f"loss_{key}": r.mean_loss(last=20)}
    metrics["warmup_gain"] = metrics["acc_warmup"] - metrics["acc_no_warmup"]
    metrics["post_ln"] = float(cfg.block == "post-ln")
    return Result(metrics, verdict(cfg, metrics), charts(curves, runs, names), [lr_table(cfg, curves)])


def charts(curves: dict[str, list[float]], runs: dict[str, Fit], names: dict[str, T]) -> list[Chart]:
    """The drawn schedules, both runs' training loss per step and validation accuracy per epoch."""
    return [
        Chart(_("Schedule shapes (from torch.optim.lr_scheduler)", "调度曲线形状（来自 torch.optim.lr_scheduler）"),
              lambda lang: plots.curves({SHAPE_NAMES[s].get(lang): c for s, c in curves.items()}, plots.STEP,
                                        plots.LEARNING_RATE, lang),
              caption=_("All share the same peak; they differ in how they start and how fast they decay.",
                        "所有曲线峰值相同，区别在于如何开始、衰减多快。")),
        Chart(_("Training loss: the same peak with and without warm-up", "训练损失：同一峰值，预热与不预热"),
              lambda lang: plots.curves({names[k].get(lang): r.history["loss"] for k, r in runs.items()},
                                        plots.STEP, plots.LOSS_LOG, lang, log_y=True),
              caption=_("Chance is ln 10 ≈ 2.30.", "随机猜测的损失为 ln 10 ≈ 2.30。")),
        Chart(_("Validation accuracy per epoch", "每轮验证准确率"),
              lambda lang: plots.curves({names[k].get(lang): r.history["val_acc"] for k, r in runs.items()},
                                        plots.EPOCH, plots.VAL_ACCURACY, lang)),
    ]


def lr_table(cfg: Config, curves: dict[str, list[float]]) -> Table:
    """Each schedule's learning rate at a few telling steps."""
    steps = cfg.steps
    at = sorted({0, min(cfg.warmup, steps - 1), steps // 3, steps // 2, steps - 1})
    return Table(_("Learning rate at a few steps", "若干步的学习率"),
                 {"schedule": _("schedule", "调度"), **{f"s{t}": _("step {t}", "第 {t} 步").format(t=t) for t in at}},
                 [{"schedule": SHAPE_NAMES[s], **{f"s{t}": float(f"{c[t]:.3g}") for t in at}}
                  for s, c in curves.items()])


DEMO = Demo(
    id="lr-schedules",
    title=_("Learning-rate schedules and warm-up", "学习率调度与预热"),
    summary=_("Step, cosine, one-cycle and warm-up schedules drawn from PyTorch's schedulers; a post-LN Transformer "
              "at a high peak learning rate with and without warm-up.",
              "用 PyTorch 调度器画出阶梯、余弦、one-cycle 与预热调度；在较高峰值学习率下训练 post-LN Transformer，"
              "对比预热与不预热。"),
    category="optimization",
    config=Config,
    run=run,
    smoke=dict(epochs=1, train_size=640, warmup=5),
    key_metric="acc_warmup",
    key_label=_("val accuracy with warm-up", "预热后的验证准确率"),
    claim=CLAIM,
)
