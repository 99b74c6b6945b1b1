"""Self-attention routes by content: a pointer task that attention solves and mean pooling cannot.

Each sequence holds ten tokens (0-9) and one MARK at a random place; the label is the token
right after MARK. No fixed position holds the answer, so a model has to *look it up*:
the token after MARK attends to MARK (query·key match), and a learned pooling query then
picks that token out. The baseline sees the same embeddings but can only average them.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .. import data, plots
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit
from ..nets import SelfAttention, init_weights, num_params
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, sentences

VOCAB = data.MARK + 1  # tokens 0..9 and MARK
POOLS = ("attention", "mean")
POOL_NAMES = {"attention": _("self-attention", "自注意力"), "mean": _("mean pooling", "平均池化")}


@dataclass(frozen=True)
class Config(DemoConfig):
    dim: int = param(32, low=8, high=64, label=_("Model width", "模型宽度"),
                     help=_("Size of token and position embeddings", "词元与位置嵌入的维度"))
    heads: int = param(1, choices=(1, 2, 4), label=_("Attention heads", "注意力头数"),
                       help=_("Heads of the self-attention layer", "自注意力层的头数"))
    length: int = param(10, low=4, high=16, label=_("Sequence length", "序列长度"),
                        help=_("Tokens per sequence, MARK included", "每条序列的词元数（含 MARK）"))
    epochs: int = epochs_param(20, high=60, help=_("Passes over 4,000 training sequences", "遍历 4000 条训练序列的次数"))
    lr: float = lr_param(3e-3, low=1e-4, high=3e-2, help=_("Adam's step size for both models", "两个模型共用的 Adam 步长"))
    seed: int = seed_param()


class PointerNet(nn.Module):
    """Embeddings -> (self-attention) -> pooling -> linear classifier.

    pool="attention": one self-attention layer, then attention pooling with a learned query.
    pool="mean": no attention at all, the embeddings are averaged (the baseline).
    """

    def __init__(self, length: int, dim: int, heads: int, pool: str):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, dim)
        self.position = nn.Embedding(length, dim)
        self.pool = pool
        if pool == "attention":
            self.attn = SelfAttention(dim, heads)
            self.query = nn.Parameter(torch.zeros(dim))  # what the pooling step looks for
        self.head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, data.MARK))

    def forward(self, tokens: Tensor, return_attention: bool = False):
        """tokens (B, T) -> logits (B, 10); with `return_attention` also (B, H, T, T) and (B, T) weights."""
        x = self.embed(tokens) + self.position(torch.arange(tokens.shape[1], device=tokens.device))  # (B, T, C)
        if self.pool == "mean":
            logits = self.head(x.mean(dim=1))
            return (logits, None, None) if return_attention else logits
        a, self_weights = self.attn(x)
        x = x + a  # residual: each token keeps its own identity and adds what it looked up
        pool_weights = (x @ self.query / x.shape[-1] ** 0.5).softmax(dim=1)  # (B, T)
        logits = self.head((pool_weights.unsqueeze(-1) * x).sum(dim=1))  # (B, C) -> (B, 10)
        return (logits, self_weights, pool_weights) if return_attention else logits


def train(pool: str, cfg: Config, split: data.Split, report: Report) -> tuple[PointerNet, Fit]:
    """One PointerNet with pooling `pool`, trained with Adam on the pointer sequences."""
    model = init_weights(PointerNet(cfg.length, cfg.dim, cfg.heads, pool), cfg.seed)
    if pool == "attention":
        nn.init.normal_(model.query, std=0.02, generator=torch.Generator().manual_seed(cfg.seed))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    result = fit(model, opt, (split.X_train, split.y_train), epochs=cfg.epochs, batch_size=128,
                 val=(split.X_val, split.y_val), seed=cfg.seed, report=report)
    return model, result


@torch.no_grad()
def attention_stats(model: PointerNet, X: Tensor, mark: Tensor) -> dict[str, float]:
    """Where the trained attention looks, on validation sequences.

    pool_on_target: share of sequences whose pooling weight peaks on the token after MARK.
    pool_on_mark: share whose pooling weight peaks on MARK itself (MARK can look ahead and carry the answer).
    target_to_mark: mean self-attention weight (averaged over heads) from that token to MARK.
    """
    model.eval()
    _logits, self_weights, pool_weights = model(X, return_attention=True)
    rows = torch.arange(len(X))
    target = mark + 1
    peak = pool_weights.argmax(dim=1)  # (B,)
    return {
        "pool_on_target": (peak == target).float().mean().item(),
        "pool_on_mark": (peak == mark).float().mean().item(),
        "target_to_mark": self_weights.mean(dim=1)[rows, target, mark].mean().item(),
    }


def lesson(m: Metrics) -> bool | None:
    """Self-attention beats mean pooling by over 30 points of accuracy on unseen sequences."""
    return m["acc_attention"] - m["acc_mean"] > 0.3


CLAIM = Claim(
    _("self-attention looks the answer up by content and beats mean pooling by over 30 points of accuracy",
      "自注意力按内容查到答案，准确率比平均池化高 30 个百分点以上"),
    lesson,
    fragile=_("With too few epochs or a small width attention has not learned the lookup yet; "
              "on short sequences mean pooling can partly decode the answer.",
              "轮数太少或宽度太小时，注意力还没学会查找；序列很短时，平均池化也能部分解出答案。"),
)


def verdict(cfg: Config, m: Metrics) -> T:
    """Both accuracies against chance, and where the trained attention looked."""
    return sentences(
        _("Accuracy on unseen sequences: self-attention {att:.1%}, mean pooling {mean:.1%} (chance 10%).",
          "未见过的序列上的准确率：自注意力 {att:.1%}，平均池化 {mean:.1%}（随机猜测 10%）。")
        .format(att=m["acc_attention"], mean=m["acc_mean"]),
        _("The pooling attention peaked on the token after MARK in {pool:.1%} of sequences (on MARK itself in "
          "{on_mark:.1%}), and that token gave MARK {to_mark:.2f} of its self-attention (uniform would be "
          "{uniform:.2f}).",
          "在 {pool:.1%} 的序列中，池化注意力的峰值落在 MARK 之后的词元上（落在 MARK 本身的占 {on_mark:.1%}）；"
          "该词元把 {to_mark:.2f} 的自注意力分给了 MARK（均匀分配时为 {uniform:.2f}）。")
        .format(pool=m["pool_on_target"], on_mark=m["pool_on_mark"], to_mark=m["target_to_mark"],
                uniform=1 / cfg.length),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Train self-attention and mean pooling on the pointer task; measure accuracy and where attention looks."""
    split = data.pointer(num=5000, length=cfg.length, seed=cfg.seed)
    trained = {pool: train(pool, cfg, split, part(report, POOL_NAMES[pool], i, len(POOLS)))
               for i, pool in enumerate(POOLS)}
    metrics = {f"acc_{pool}": evaluate(model, split.X_val, split.y_val)["acc"] for pool, (model, _f) in
               trained.items()}
    metrics |= attention_stats(trained["attention"][0], split.X_val, split.extras["mark"])
    told = sentences(verdict(cfg, metrics), CLAIM.verdict(metrics))
    return Result(metrics, told, charts(trained, split), [summary(trained, metrics)])


def charts(trained: dict[str, tuple[PointerNet, Fit]], split: data.Split, example: int = 0) -> list[Chart]:
    """Val accuracy per epoch; each head's attention and the pooling weights on one validation sequence."""
    tokens, mark = split.X_val[example], int(split.extras["mark"][example])  # (T,)
    with torch.no_grad():
        _logits, self_weights, pool_weights = trained["attention"][0](tokens[None], return_attention=True)
    heads, pooled = self_weights[0].numpy(), pool_weights[0].numpy()  # (H, T, T), (T,)
    labels = [f"{i}:{'M' if int(t) == data.MARK else int(t)}" for i, t in enumerate(tokens)]
    where = _("M marks MARK at position {mark}; the answer is the token after it.",
              "M 表示位于第 {mark} 位的 MARK；答案是它后面的词元。").format(mark=mark)
    return [
        Chart(_("Validation accuracy per epoch", "每轮验证准确率"),
              lambda lang: plots.curves({POOL_NAMES[p].get(lang): f.history["val_acc"] for p, (_m, f) in trained.items()},
                                        plots.EPOCH, plots.VAL_ACCURACY, lang)),
        *[Chart(_("Self-attention of head {head} on one sequence (row: query, column: key)",
                  "第 {head} 个头在一条序列上的自注意力（行：查询，列：键）").format(head=h + 1),
                lambda lang, h=h: plots.heatmap(heads[h], labels, labels, _("key (position:token)", "键（位置:词元）"),
                                                _("query", "查询"), lang, zmax=1.0),
                caption=where)
          for h in range(len(heads))],
        Chart(_("Pooling attention over positions (same sequence)", "同一序列上各位置的池化注意力"),
              lambda lang: plots.bars(dict(zip(labels, pooled.tolist())), _("position:token", "位置:词元"),
                                      _("weight", "权重"), lang)),
    ]


def summary(trained: dict[str, tuple[PointerNet, Fit]], m: Metrics) -> Table:
    """One row per model: parameter count and val accuracy."""
    return Table(_("Models", "模型"), {"model": plots.MODEL, "params": plots.PARAMETERS, "acc": plots.VAL_ACCURACY},
                 [{"model": POOL_NAMES[p], "params": num_params(model), "acc": round(m[f"acc_{p}"], 4)}
                  for p, (model, _f) in trained.items()])


DEMO = Demo(
    id="self-attention",
    title=_("Self-attention: look-up by content", "自注意力：按内容查找"),
    summary=_("A pointer task (return the token after MARK) that self-attention solves and mean pooling cannot; "
              "live attention heatmaps per head.",
              "指针任务（输出 MARK 之后的词元）：自注意力能解决而平均池化不能；逐头展示注意力热力图。"),
    category="structure",
    config=Config,
    run=run,
    smoke=dict(epochs=1, dim=16),
    key_metric="acc_attention",
    key_label=_("self-attention val accuracy", "自注意力验证准确率"),
    claim=CLAIM,
)
