"""lr-schedules: the drawn curves are PyTorch's schedules, the training runs used them, and warm-up
rescues a post-LN Transformer at a high peak learning rate."""
import math

import pytest
import torch

from fmlab.demos import lr_schedules as demo


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    assert cfg.block == "post-ln"
    return cfg, demo.run(cfg)


def last_lrs(make, steps: int, peak: float) -> list[float]:
    """get_last_lr() before each of `steps` steps of a fresh scheduler built by make(opt)."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak)
    sched = make(opt)
    out = []
    for _step in range(steps):
        out.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return out


def test_drawn_curves_equal_get_last_lr_and_the_formulas():
    peak, steps, warm = 0.03, 240, 60
    curves = {s: demo.lr_curve(s, peak, steps, warm) for s in demo.SHAPES}
    for name, curve in curves.items():
        assert curve == pytest.approx(last_lrs(lambda opt: demo.schedule(name, opt, steps, warm), steps, peak))
    t = range(steps)
    assert curves["constant"] == pytest.approx([peak] * steps)
    assert curves["step"] == pytest.approx([peak * 0.1 ** (i // 80) for i in t])
    assert curves["cosine"] == pytest.approx([peak / 2 * (1 + math.cos(math.pi * i / steps)) for i in t], abs=1e-9)
    ramp = [peak * (0.01 + 0.99 * i / warm) for i in range(warm)]
    cosine = [peak / 2 * (1 + math.cos(math.pi * i / (steps - warm))) for i in range(steps - warm)]
    assert curves["warmup_cosine"] == pytest.approx(ramp + cosine, abs=1e-9)
    one_cycle = curves["one_cycle"]
    assert one_cycle[0] == pytest.approx(peak / 25)  # OneCycleLR's default div_factor
    assert max(one_cycle) == pytest.approx(peak) and abs(one_cycle.index(max(one_cycle)) - 0.3 * steps) <= 1
    assert one_cycle[-1] < peak / 1e4


def test_training_used_the_drawn_schedules(result):
    cfg, r = result
    runs = list(r.history.values())  # no warm-up, then warm-up
    assert runs[0]["lr"] == pytest.approx(demo.lr_curve("cosine", cfg.peak_lr, cfg.steps, cfg.warmup))
    assert runs[1]["lr"] == pytest.approx(demo.lr_curve("warmup_cosine", cfg.peak_lr, cfg.steps, cfg.warmup))
    assert len(runs[1]["lr"]) == cfg.steps == len(runs[1]["loss"])


def test_warm_up_rescues_the_high_peak(result):
    _cfg, r = result
    m = r.metrics
    assert m["acc_warmup"] > 0.9
    assert m["acc_no_warmup"] < 0.5  # stalled far below the task (chance is 0.1)
    assert m["loss_no_warmup"] > 1.0 > 3 * m["loss_warmup"]


def test_palindromes_hide_one_token_the_mirror_reveals():
    X, y = demo.palindromes(50, seed=3)
    assert ((X == demo.MASK).sum(dim=1) == 1).all()
    where = (X == demo.MASK).float().argmax(dim=1)
    mirror = X[torch.arange(50), demo.LENGTH - 1 - where]
    assert torch.equal(mirror, y)


def test_warmup_longer_than_training_is_a_readable_error():
    with pytest.raises(ValueError, match="Warm-up"):
        demo.Config(epochs=1, train_size=640, warmup=10)
