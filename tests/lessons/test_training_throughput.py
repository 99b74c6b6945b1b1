"""training-throughput: what holds whatever the machine's load — accumulation equals a big batch, autocast
really computes in bf16, channels-last changes only the layout, a big batch needs more epochs at the small
batch's learning rate — plus generous timing checks."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F

from fmlab import data, throughput
from fmlab.demos import training_throughput as tt


@pytest.fixture(scope="module")
def result():
    cfg = tt.Config()
    return cfg, tt.run(cfg)


@pytest.fixture(scope="module")
def default(result):
    cfg, r = result
    return cfg, r.metrics


@pytest.fixture(scope="module")
def batch():
    split = data.digits(seed=0, image_size=8)
    return split.X_train[:256], split.y_train[:256]  # (256, 1, 8, 8), (256,)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(tt.CLAIM, r)


def test_the_claim_needs_a_reachable_target_and_fails_when_scaling_does_not_help():
    m = {"accum_max_grad_diff": 1e-8, "epochs_small": 3.0, "epochs_large": 9.0, "epochs_scaled": 6.0,
         "reached_small": 1.0, "reached_large": 1.0, "reached_scaled": 1.0}
    assert tt.CLAIM.check(m) is True
    assert tt.CLAIM.check({**m, "reached_small": 0.0}) is None  # nothing reached the target: not tested
    assert tt.CLAIM.check({**m, "epochs_scaled": 9.0}) is False  # the scaled rate won nothing back
    assert tt.CLAIM.check({**m, "epochs_scaled": 12.0, "reached_scaled": 0.0}) is False
    assert tt.CLAIM.check({**m, "reached_large": 0.0}) is True  # the big batch never got there: still slower
    assert tt.CLAIM.check({**m, "epochs_large": 4.0, "epochs_scaled": 3.0}) is False  # barely slower than small
    assert tt.CLAIM.check({**m, "accum_max_grad_diff": 1e-2}) is False


def test_recipes_scale_the_learning_rate_by_the_chosen_rule():
    cfg = tt.Config(small_batch=16, large_batch=256, lr=0.05)
    assert tt.recipes(cfg)["scaled"] == (256, pytest.approx(0.05 * math.sqrt(16)))
    assert tt.recipes(tt.Config(rule="linear", lr=0.05))["scaled"] == (256, pytest.approx(0.05 * 16))
    assert tt.recipe_names(cfg)["scaled"].en == "batch 256, lr 0.2"
    names = {k: s.name.en for k, s in tt.settings(cfg).items()}
    assert names["accumulate"] == "16 × 16 accumulated" and names["channels_last"] == "batch 256, channels-last"


def test_default_run_shows_the_lesson(default):
    cfg, m = default
    assert cfg.small_batch == 16 and cfg.large_batch == 256
    assert m["accum_max_grad_diff"] < 1e-5  # 16 micro-batches of 16 = one batch of 256
    assert m["accum_max_grad_diff_batchnorm"] > 1e-3  # ...but not with BatchNorm's per-batch statistics
    assert m["amp_matmul_share"] == 1.0 and m["amp_loss_fp32"] == 1.0 and m["amp_weights_fp32"] == 1.0
    for key in ("small", "large", "scaled"):
        assert m[f"reached_{key}"] == 1.0 and m[f"val_acc_{key}"] >= cfg.target
    # at the small batch's learning rate the big batch needs far more epochs; scaling the rate wins most back
    assert m["epochs_large"] >= m["epochs_small"] + 3
    assert m["epochs_large"] >= m["epochs_scaled"] + 2


def test_accumulated_gradient_equals_autograd_on_the_whole_batch(batch):
    X, y = batch
    model = tt.build(seed=0, batchnorm=False)
    reference = torch.autograd.grad(F.cross_entropy(model(X), y), list(model.parameters()))
    for k in (1, 4, 16):
        ours = throughput.accumulated_grads(copy.deepcopy(model), X, y, micro_batches=k)
        assert max((a - b).abs().max().item() for a, b in zip(ours, reference)) < 1e-5, k


def test_accumulated_step_makes_the_same_update_as_one_big_step(batch):
    X, y = batch
    models = [tt.build(seed=0, batchnorm=False) for _ in range(2)]
    for model, k in zip(models, (1, 16)):
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        throughput.train_step(model, opt, X, y, micro_batches=k)
    for a, b in zip(*(m.parameters() for m in models)):
        assert torch.allclose(a, b, atol=1e-6)


def test_bf16_autocast_runs_convolutions_and_matmuls_in_bf16(batch):
    X, _y = batch
    model = tt.build(seed=0)
    model.eval()  # BatchNorm with running statistics: a pure function of the input
    checks = throughput.autocast_dtypes(model, X, torch.bfloat16)
    assert checks == {"matmul_share": 1.0, "loss_fp32": 1.0, "weights_fp32": 1.0}
    with torch.no_grad():
        full = model(X)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            stem = model.stem(X)
            low = model(X)
    assert stem.dtype == torch.bfloat16
    gap = (low.float() - full).abs().max().item()
    assert 0 < gap < 0.1  # really rounded to bf16's 8-bit mantissa, and still close


def test_gradscaler_only_for_fp16_on_cuda():
    assert throughput.amp_dtype(torch.device("cpu")) == torch.bfloat16
    assert throughput.amp_dtype(torch.device("cuda")) == torch.float16


def test_channels_last_changes_layout_not_results(batch):
    X, _y = batch
    model = tt.build(seed=0).eval()
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
    assert fast.blocks[1].conv.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert torch.allclose(fast(X.contiguous(memory_format=torch.channels_last)), model(X), atol=1e-5)


def test_larger_batches_process_more_samples_per_second(batch):
    """Timing: best of three short measurements each, with a generous margin."""
    X, y = batch

    def best(setting):
        return max(throughput.samples_per_second(setting, tt.build(0), X, y, steps=8, budget=0.4) for _ in range(3))

    small, large = best(throughput.Setting(16)), best(throughput.Setting(256))
    accumulated = best(throughput.Setting(256, micro_batches=16))
    assert large > 1.3 * small
    assert accumulated < 0.8 * large  # the same gradient, computed 16 pieces at a time: no faster
