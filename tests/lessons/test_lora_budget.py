"""LoRA under a parameter budget: the demo trains only the adapters and the head, counts r·(in + out) per
adapted layer, and beats head-only training at the default config. The layer itself: tests/test_lora.py."""
import pytest
import torch

from fmlab import data
from fmlab.demos import lora_budget as lb
from fmlab.fit import fit
from fmlab.lora import state_bytes, trainable
from fmlab.nets import MLP, init_weights, num_params


@pytest.fixture(scope="module")
def default():
    cfg = lb.Config()
    return cfg, lb.run(cfg)


@pytest.mark.parametrize("r", lb.RANKS)
def test_trainable_parameters_match_r_times_in_plus_out(r):
    model = lb.prepare(init_weights(MLP(64, 10, width=lb.WIDTH, depth=1), 0), "lora", r, 8.0, seed=0)
    head = 256 * 10 + 10
    assert sum(p.numel() for p in trainable(model)) == r * (64 + 256) + r * (256 + 256) + head


def test_training_moves_only_the_adapter_and_the_head():
    split = data.digits(seed=0)
    base = init_weights(MLP(64, 10, width=lb.WIDTH, depth=1), 0)
    model = lb.prepare(base, "lora", 4, 8.0, seed=0)
    opt = torch.optim.Adam(trainable(model), lr=3e-3)
    fit(model, opt, (split.X_train[:128], split.y_train[:128]), epochs=1, batch_size=64, device=torch.device("cpu"))
    assert torch.equal(model.stem.base.weight, base.stem.weight)
    assert torch.equal(model.blocks[0].linear.base.weight, base.blocks[0].linear.weight)
    assert model.stem.B.abs().sum() > 0 and not torch.equal(model.head.weight, base.head.weight)
    # Adam keeps two fp32 moments per trainable parameter, measured from the optimizer itself
    assert state_bytes(opt) == 2 * 4 * sum(p.numel() for p in trainable(model))


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
