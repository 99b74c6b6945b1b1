"""The one training loop: learns, reports ordered progress, is seeded, survives divergence."""
import pytest
import torch

from fmlab import data
from fmlab.demo import Cancelled, Event
from fmlab.fit import evaluate, fit, pick_device
from fmlab.nets import MLP, init_weights


def train(seed=0, lr=1e-2, epochs=3, report=lambda e: None):
    split = data.toy2d("moons", num=400, seed=0)
    model = init_weights(MLP(2, 2, width=32, depth=2), seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    out = fit(model, opt, (split.X_train, split.y_train), epochs=epochs, batch_size=32,
              val=(split.X_val, split.y_val), seed=seed, report=report, device=torch.device("cpu"))
    return model, out, split


def test_fit_learns_and_reports_ordered_progress():
    events: list[Event] = []
    model, out, split = train(epochs=15, report=events.append)
    assert out.history["val_acc"][-1] > 0.85 and out.history["val_acc"][-1] > out.history["val_acc"][0]
    assert out.history["loss"][-1] < out.history["loss"][0] / 2
    steps = [e for e in events if e.kind == "step"]
    assert [e.step for e in steps] == list(range(1, out.steps + 1))
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    epochs = [e for e in events if e.kind == "epoch"]
    assert len(epochs) == 15 and set(epochs[0].metrics) == {"loss", "val_loss", "val_acc"}
    assert evaluate(model, split.X_val, split.y_val)["acc"] == pytest.approx(out.history["val_acc"][-1])


def test_same_seed_same_run_other_seed_other_run():
    _, a, _ = train(seed=1)
    _, b, _ = train(seed=1)
    _, c, _ = train(seed=2)
    assert a.history == b.history
    assert a.history["loss"] != c.history["loss"]


def test_divergence_is_an_outcome_not_a_crash():
    events = []
    split = data.toy2d("moons", num=200, seed=0)
    model = init_weights(MLP(2, 2), 0)
    opt = torch.optim.SGD(model.parameters(), lr=1e12)
    out = fit(model, opt, (split.X_train, split.y_train), epochs=5, batch_size=16, report=events.append,
              device=torch.device("cpu"))
    assert out.diverged and 1 <= out.diverged_at <= out.steps
    assert "diverged at step" in events[-1].note.en and "发散" in events[-1].note.zh


def test_a_report_callback_can_cancel():
    def stop_at_five(event):
        if event.step >= 5:
            raise Cancelled

    with pytest.raises(Cancelled):
        train(report=stop_at_five)


def test_pick_device_honours_override(monkeypatch):
    monkeypatch.setenv("FMLAB_DEVICE", "cpu")
    assert pick_device().type == "cpu"
    assert pick_device("meta").type == "meta"


def test_clipping_records_the_norm_before_clipping_and_caps_the_step():
    torch.manual_seed(0)
    X, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    model = torch.nn.Linear(4, 2)
    with torch.no_grad():
        model.weight.mul_(100)  # a huge first gradient
    start = [p.detach().clone() for p in model.parameters()]
    out = fit(model, torch.optim.SGD(model.parameters(), lr=1.0), (X, y), epochs=1, batch_size=32, clip=0.5,
              device=torch.device("cpu"))
    assert out.history["grad_norm"][0] > 0.5  # recorded before clipping
    step = torch.cat([(p.detach() - p0).flatten() for p, p0 in zip(model.parameters(), start)])
    assert step.norm() <= 0.5 + 1e-4  # lr 1 times a gradient clipped to norm 0.5


def test_penalty_is_added_to_the_loss_and_its_gradient_to_the_step():
    X, y = torch.zeros(8, 3), torch.zeros(8, dtype=torch.long)  # zero inputs: only the bias gets a data gradient
    model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.fill_(2.0)
        model.bias.zero_()  # equal logits: cross-entropy log 2
    out = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), (X, y), epochs=1, batch_size=8,
              penalty=lambda m: m.weight.abs().sum(), device=torch.device("cpu"))
    assert out.history["loss"][0] == pytest.approx(torch.log(torch.tensor(2.0)).item() + 12.0, abs=1e-5)
    assert torch.allclose(model.weight, torch.full((2, 3), 1.9))  # 2 - lr * sign(w): only the L1 gradient


def test_on_epoch_can_stop_training_early():
    seen = []

    def stop_after_two(epoch, out, model):
        seen.append((epoch, len(out.history["val_acc"])))
        return epoch == 2

    split = data.toy2d("moons", num=200, seed=0)
    out = fit(MLP(2, 2), torch.optim.Adam(MLP(2, 2).parameters()), (split.X_train, split.y_train), epochs=10,
              batch_size=50, val=(split.X_val, split.y_val), on_epoch=stop_after_two, device=torch.device("cpu"))
    assert seen == [(1, 1), (2, 2)] and len(out.history["val_acc"]) == 2
