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
from ..demo import Chart, Demo, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit
from ..nets import SelfAttention, init_weights, num_params
from ..params import DemoConfig, param
from ..text import T, _

VOCAB = data.MARK + 1  # tokens 0..9 and MARK


@dataclass(frozen=True)
class Config(DemoConfig):
    dim: int = param(32, low=8, high=64, label=_("Model width", "模型宽度"),
                     help=_("Size of token and position embeddings", "词元与位置嵌入的维度"))
    heads: int = param(1, choices=(1, 2, 4), label=_("Attention heads", "注意力头数"),
                       help=_("Heads of the self-attention layer", "自注意力层的头数"))
    length: int = param(10, low=4, high=16, label=_("Sequence length", "序列长度"),
                        help=_("Tokens per sequence, MARK included", "每条序列的词元数（含 MARK）"))
    epochs: int = param(20, low=1, high=60, label=_("Epochs", "训练轮数"),
                        help=_("Passes over 4,000 training sequences", "遍历 4000 条训练序列的次数"))
    lr: float = param(3e-3, low=1e-4, high=3e-2, log=True, label=_("Learning rate (Adam)", "学习率（Adam）"),
                      help=_("Adam's step size for both models", "两个模型共用的 Adam 步长"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run", "相同种子，相同结果"))


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
    target_to_mark: mean self-attention weight (averaged over heads) from that token to MARK.
    """
    model.eval()
    _logits, self_weights, pool_weights = model(X, return_attention=True)
    rows = torch.arange(len(X))
    target = mark + 1
    return {
        "pool_on_target": (pool_weights.argmax(dim=1) == target).float().mean().item(),
        "target_to_mark": self_weights.mean(dim=1)[rows, target, mark].mean().item(),
    }


def verdict(cfg: Config, m: dict[str, float]) -> T:
    solved = m["acc_attention"] - m["acc_mean"] > 0.3
    uniform = 1 / cfg.length
    en_end = ("Attention solved a lookup that averaging cannot express." if solved else
              "The gap is small in this run: try more epochs or a larger width.")
    zh_end = "注意力解决了平均池化无法表达的查找任务。" if solved else "本次差距不大：可尝试更多轮次或更大的宽度。"
    return _(f"Accuracy on unseen sequences: self-attention {m['acc_attention']:.1%}, mean pooling "
             f"{m['acc_mean']:.1%} (chance 10%). The pooling attention peaked on the token after MARK in "
             f"{m['pool_on_target']:.1%} of sequences, and that token gave MARK {m['target_to_mark']:.2f} of its "
             f"self-attention (uniform would be {uniform:.2f}). {en_end}",
             f"未见过的序列上的准确率：自注意力 {m['acc_attention']:.1%}，平均池化 {m['acc_mean']:.1%}（随机猜测 10%）。"
             f"在 {m['pool_on_target']:.1%} 的序列中，池化注意力的峰值落在 MARK 之后的词元上；该词元把 "
             f"{m['target_to_mark']:.2f} 的自注意力分给了 MARK（均匀分配时为 {uniform:.2f}）。{zh_end}")


def run(cfg: Config, report: Report = silent) -> Result:
    split = data.pointer(num=5000, length=cfg.length, seed=cfg.seed)
    names = {"attention": _("self-attention", "自注意力"), "mean": _("mean pooling", "平均池化")}
    trained = {pool: train(pool, cfg, split, part(report, names[pool].en, i, 2))
               for i, pool in enumerate(("attention", "mean"))}
    model = trained["attention"][0]
    mark = split.extras["mark"]
    metrics = {f"acc_{pool}": evaluate(m, split.X_val, split.y_val)["acc"] for pool, (m, _f) in trained.items()}
    metrics |= attention_stats(model, split.X_val, mark)

    example = 0
    tokens = split.X_val[example]
    with torch.no_grad():
        _l, self_weights, pool_weights = model(tokens[None], return_attention=True)
    labels = [f"{i}:{'M' if int(t) == data.MARK else int(t)}" for i, t in enumerate(tokens)]
    heads = self_weights[0].numpy()  # (H, T, T)
    pooled = pool_weights[0].numpy()  # (T,)
    charts = [
        Chart(_("Validation accuracy per epoch", "每轮验证准确率"),
              lambda lang: plots.curves({names[p].get(lang): f.history["val_acc"] for p, (_m, f) in trained.items()},
                                        _("epoch", "轮次"), _("accuracy", "准确率"), lang)),
        *[Chart(_(f"Self-attention of head {h + 1} on one sequence (row: query, column: key)",
                  f"第 {h + 1} 个头在一条序列上的自注意力（行：查询，列：键）"),
                lambda lang, h=h: plots.heatmap(heads[h], labels, labels, _("key (position:token)", "键（位置:词元）"),
                                                _("query", "查询"), lang, zmax=1.0),
                caption=_(f"M marks MARK at position {int(mark[example])}; the answer is the token after it.",
                          f"M 表示位于第 {int(mark[example])} 位的 MARK；答案是它后面的词元。"))
          for h in range(len(heads))],
        Chart(_("Pooling attention over positions (same sequence)", "同一序列上各位置的池化注意力"),
              lambda lang: plots.bars(dict(zip(labels, pooled.tolist())), _("position:token", "位置:词元"),
                                      _("weight", "权重"), lang)),
    ]
    table = Table(_("Models", "模型"),
                  {"model": _("model", "模型"), "params": _("parameters", "参数量"),
                   "acc": _("val accuracy", "验证准确率")},
                  [{"model": names[p].en, "params": num_params(m), "acc": round(metrics[f"acc_{p}"], 4)}
                   for p, (m, _f) in trained.items()])
    history = {names[p].en: f.history for p, (_m, f) in trained.items()}
    return Result(metrics, verdict(cfg, metrics), history, charts, [table])


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
)
