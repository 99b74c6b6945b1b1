"""Schedules: the drawn curves are PyTorch's get_last_lr() and the closed-form formulas; training uses them."""
import math

import pytest
import torch
import torch.nn.functional as F

from fmlab.fit import fit
from fmlab.schedules import SHAPES, logging_lr, lr_curve, schedule


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
    curves = {s: lr_curve(s, peak, steps, warm) for s in SHAPES}
    for name, curve in curves.items():
        assert curve == pytest.approx(last_lrs(lambda opt: schedule(name, opt, steps, warm), steps, peak))
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


def test_unknown_schedule_is_an_error():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="unknown schedule"):
        schedule("linear", opt, 10, 2)


@pytest.mark.parametrize("name", SHAPES)
def test_logging_lr_records_the_rate_every_training_step_used(name):
    X, y = torch.randn(100, 4, generator=torch.Generator().manual_seed(0)), torch.arange(100) % 3
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    steps = 3 * math.ceil(100 / 16)
    sched, events = schedule(name, opt, steps, warmup=5), []
    lrs = [opt.param_groups[0]["lr"]]
    run = fit(model, opt, (X, y), epochs=3, batch_size=16, loss_fn=F.cross_entropy, scheduler=sched,
              report=logging_lr(events.append, opt, lrs), device=torch.device("cpu"))
    assert run.steps == steps and len(events) == steps  # every event still reaches the wrapped report
    assert lrs[:steps] == pytest.approx(lr_curve(name, 0.01, steps, warmup=5))
