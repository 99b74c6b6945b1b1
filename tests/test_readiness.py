"""readiness: validation refuses each malformed request and passes good ones, outcomes are told apart,
activation bytes by hand, a check against its budget."""
import pytest
import torch
from torch import nn

from fmlab import readiness
from fmlab.text import _


@pytest.mark.parametrize("name", list(readiness.MALFORMED))
def test_validation_refuses_each_malformed_request_in_both_languages(name):
    with pytest.raises(readiness.Rejected) as error:
        readiness.validate(readiness.MALFORMED[name](64), 64)
    assert error.value.text.en and error.value.text.zh != error.value.text.en


def test_validation_passes_a_good_batch_unchanged():
    X = torch.rand(5, 64)
    assert readiness.validate(X, 64) is X


def test_outcomes_are_told_apart():
    model = nn.Linear(4, 2)
    bad = torch.full((1, 4), float("nan"))
    assert readiness.outcome(model, bad) == "answered"  # NaN in, NaN out, no error: the worst kind
    assert readiness.outcome(model, torch.zeros(1, 5)) == "crashed"
    assert readiness.outcome(lambda x: model(readiness.validate(x, 4)), bad) == "refused"


def test_activation_bytes_by_hand():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    # batch 2, fp32: Linear out 2×3, ReLU out 2×3, Linear out 2×2 -> (6 + 6 + 4) × 4 bytes
    assert readiness.activation_bytes(model, torch.zeros(2, 4)) == 64
    assert not model[0]._forward_hooks  # the hooks are gone afterwards


def test_a_check_knows_which_way_is_better():
    unit = _("ms", "毫秒")
    assert readiness.Check(unit, 4.0, 5.0, False, unit).passed  # latency under budget
    assert not readiness.Check(unit, 0.8, 0.9, True, unit).passed  # accuracy under budget
