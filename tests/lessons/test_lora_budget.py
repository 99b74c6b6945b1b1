"""LoRA under a parameter budget: the layer starts as the frozen one, costs r·(in + out) parameters,
merges back into one matrix, and beats head-only training at the default config."""
import copy

import pytest
import torch
from torch import nn

from fmlab import data
from fmlab.demos import lora_budget as lb
from fmlab.fit import fit
from fmlab.nets import MLP, init_weights, num_params


def layer(r=4, alpha=8.0, seed=0):
    base = nn.Linear(64, 256)
    return base, lb.LoRALinear(copy.deepcopy(base), r, alpha, torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def default():
    cfg = lb.Config()
    return cfg, lb.run(cfg)


def test_lora_layer_equals_the_frozen_layer_at_init():
    base, lora = layer()
    X = torch.rand(32, 64)
    assert torch.equal(lora(X), base(X))  # B = 0: exactly the pretrained function
    assert not lora.base.weight.requires_grad and not lora.base.bias.requires_grad
    assert lora.A.requires_grad and lora.B.requires_grad and lora.scale == 8.0 / 4


@pytest.mark.parametrize("r", lb.RANKS)
def test_trainable_parameters_match_r_times_in_plus_out(r):
    _base, lora = layer(r)
    assert sum(p.numel() for p in lb.trainable(lora)) == r * (64 + 256)
    model = lb.prepare(init_weights(MLP(64, 10, width=lb.WIDTH, depth=1), 0), "lora", r, 8.0, seed=0)
    head = 256 * 10 + 10
    assert sum(p.numel() for p in lb.trainable(model)) == r * (64 + 256) + r * (256 + 256) + head


def test_merged_weight_gives_the_same_outputs():
    _base, lora = layer()
    with torch.no_grad():
        lora.B.normal_(generator=torch.Generator().manual_seed(1))
    X = torch.rand(32, 64)
    merged = lora.merged()
    assert isinstance(merged, nn.Linear)
    expected = X @ (lora.base.weight + lora.scale * lora.B @ lora.A).T + lora.base.bias  # by hand
    assert torch.allclose(merged(X), lora(X), atol=1e-5) and torch.allclose(lora(X), expected, atol=1e-5)


def test_training_moves_only_the_adapter_and_the_head():
    split = data.digits(seed=0)
    base = init_weights(MLP(64, 10, width=lb.WIDTH, depth=1), 0)
    model = lb.prepare(base, "lora", 4, 8.0, seed=0)
    opt = torch.optim.Adam(lb.trainable(model), lr=3e-3)
    fit(model, opt, (split.X_train[:128], split.y_train[:128]), epochs=1, batch_size=64, device=torch.device("cpu"))
    assert torch.equal(model.stem.base.weight, base.stem.weight)
    assert torch.equal(model.blocks[0].linear.base.weight, base.blocks[0].linear.weight)
    assert model.stem.B.abs().sum() > 0 and not torch.equal(model.head.weight, base.head.weight)
    # Adam keeps two fp32 moments per trainable parameter, measured from the optimizer itself
    assert lb.state_bytes(opt) == 2 * 4 * sum(p.numel() for p in lb.trainable(model))


def test_the_claim_holds_at_the_defaults(default, shows_claim):
    _cfg, r = default
    shows_claim(lb.CLAIM, r)


def test_default_run_lora_beats_head_only_and_full_is_best(default):
    cfg, r = default
    m = r.metrics
    loras = [m[f"acc_lora{k}"] for k in cfg.ranks]
    assert m["source_acc"] > 0.9 and m["acc_none"] < 0.55  # the domain shift breaks the pretrained model
    assert m["acc_head"] > m["acc_none"] + 0.2
    assert max(loras) > m["acc_head"] + 0.03  # adapting the features beats retraining only the head
    assert max(loras) - m["acc_head"] > 0.5 * (m["acc_full"] - m["acc_head"])  # closing most of the gap to full
    assert m[f"acc_lora{max(cfg.ranks)}"] > m[f"acc_lora{min(cfg.ranks)}"]  # more rank, more accuracy here
    assert m["acc_full"] >= max(loras) - 0.01  # full fine-tuning is still (at least about) the best...
    assert m["trainable_full"] > 5 * m[f"trainable_lora{max(cfg.ranks)}"]  # ...at several times the parameters
    assert m["state_bytes_full"] == 12 * m["trainable_full"]  # 4-byte gradient + two 4-byte Adam moments
    assert m["trainable_full"] == num_params(MLP(64, 10, width=lb.WIDTH, depth=1))


def test_the_verdict_names_the_best_method_within_the_budget(default):
    cfg, r = default
    m = r.metrics
    keys = ["head", "full", *(f"lora{k}" for k in cfg.ranks)]  # "none" trains nothing, so it is no method
    within = {k: m[f"acc_{k}"] for k in keys if m[f"trainable_{k}"] <= cfg.budget}
    best = max(within, key=within.get)
    assert best.startswith("lora") and m["best_acc_within_budget"] == within[best]
    for lang, stop, paren in (("en", ". ", " ("), ("zh", "。", "（")):
        sentence = next(s for s in r.verdict.get(lang).split(stop) if f"{cfg.budget:,}" in s)  # the budget's
        named = [k for k in keys if f"{lb.method_name(k).get(lang)}{paren}" in sentence]
        assert named == [best], (lang, sentence)
        assert f"{within[best]:.1%}" in sentence


def test_the_claim_on_hand_made_metrics():
    m = {"budget": 10_000.0, "acc_head": 0.80, "trainable_head": 2570.0, "acc_lora4": 0.83, "trainable_lora4": 5898.0,
         "acc_lora16": 0.90, "trainable_lora16": 15882.0}
    assert lb.CLAIM.check(m) is True  # r=4 fits the budget and beats head-only by 3 points
    assert lb.CLAIM.check({**m, "acc_lora4": 0.81}) is False  # r=16 is better, but over the budget
    assert lb.CLAIM.check({**m, "budget": 5000.0}) is None  # no LoRA rank fits: not tested
