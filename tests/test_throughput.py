"""fmlab.throughput: accumulated micro-batches equal one big batch, autocast computes in low precision,
channels-last changes only the layout, learning-rate scaling rules, and generous timing checks."""
import copy

import pytest
import torch
import torch.nn.functional as F

from fmlab import data, throughput
from fmlab.nets import CNN, init_weights


def build(seed: int, batchnorm: bool = True) -> CNN:
    """The small digits CNN the training-throughput demo times."""
    return init_weights(CNN(in_channels=1, num_classes=10, width=16, depth=2, batchnorm=batchnorm), seed)


@pytest.fixture(scope="module")
def batch():
    split = data.digits(seed=0, image_size=8)
    return split.X_train[:256], split.y_train[:256]  # (256, 1, 8, 8), (256,)


def test_accumulated_gradient_equals_autograd_on_the_whole_batch(batch):
    X, y = batch
    model = build(seed=0, batchnorm=False)
    reference = torch.autograd.grad(F.cross_entropy(model(X), y), list(model.parameters()))
    for k in (1, 4, 16):
        ours = throughput.accumulated_grads(copy.deepcopy(model), X, y, micro_batches=k)
        assert max((a - b).abs().max().item() for a, b in zip(ours, reference)) < 1e-5, k


def test_accumulated_step_makes_the_same_update_as_one_big_step(batch):
    X, y = batch
    models = [build(seed=0, batchnorm=False) for _ in range(2)]
    for model, k in zip(models, (1, 16)):
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        throughput.train_step(model, opt, X, y, micro_batches=k)
    for a, b in zip(*(m.parameters() for m in models)):
        assert torch.allclose(a, b, atol=1e-6)


def test_bf16_autocast_runs_convolutions_and_matmuls_in_bf16(batch):
    X, _y = batch
    model = build(seed=0)
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
    model = build(seed=0).eval()
    fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
    assert fast.blocks[1].conv.weight.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        assert torch.allclose(fast(X.contiguous(memory_format=torch.channels_last)), model(X), atol=1e-5)


def test_larger_batches_process_more_samples_per_second(batch):
    """Timing: best of three short measurements each, with a generous margin."""
    X, y = batch

    def best(setting):
        return max(throughput.samples_per_second(setting, build(0), X, y, steps=8, budget=0.4) for _ in range(3))

    small, large = best(throughput.Setting(16)), best(throughput.Setting(256))
    accumulated = best(throughput.Setting(256, micro_batches=16))
    assert large > 1.3 * small
    assert accumulated < 0.8 * large  # the same gradient, computed 16 pieces at a time: no faster


def test_scaled_lr_by_rule():
    assert throughput.scaled_lr(0.05, 16, "sqrt") == pytest.approx(0.2)
    assert throughput.scaled_lr(0.05, 16, "linear") == pytest.approx(0.8)
    assert throughput.scaled_lr(0.1, 1, "sqrt") == throughput.scaled_lr(0.1, 1, "linear") == 0.1  # same batch: same rate
    with pytest.raises(KeyError):
        throughput.scaled_lr(0.1, 4, "cubic")


def test_names_of_recipes_settings_and_machines():
    assert throughput.Recipe(256, 0.2).name.zh == "批量 256，lr 0.2"
    assert throughput.Setting(256, amp=True).name.en == "batch 256, autocast"
    assert throughput.Setting(256, micro_batches=4).name.en == "4 × 64 accumulated"
    assert throughput.machine(torch.device("cuda")).en == "cuda"
    assert throughput.machine(torch.device("cpu")).en == f"cpu, {torch.get_num_threads()} thread(s)"


def test_time_to_accuracy_stops_at_the_target_and_counts_examples(batch):
    X, y = batch
    model = build(0)
    curve = throughput.time_to_accuracy(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), (X, y),
                                        (X, y), batch_size=32, target=0.0, max_epochs=5)
    assert curve.reached and len(curve.val_acc) == 1  # any accuracy reaches 0: one epoch
    assert curve.samples == [256] and len(curve.seconds) == 1 and curve.seconds[0] > 0
