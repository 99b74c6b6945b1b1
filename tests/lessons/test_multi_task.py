"""multi-task: the scarce-label task gains from a shared trunk; a huge loss weight wrecks the other task."""
import plotly.graph_objects as go
import pytest

from fmlab import plots
from fmlab.demos import multi_task
from fmlab.text import T


@pytest.fixture(scope="module")
def result():
    cfg = multi_task.Config()
    assert cfg.weight_b == 1.0 and max(cfg.sweep) >= 100 and cfg.labels_b <= 50
    return multi_task.run(cfg)


@pytest.fixture(scope="module")
def metrics(result):
    return result.metrics


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    shows_claim(multi_task.CLAIM, result)


def test_the_claim_needs_scarce_labels_a_small_shared_weight_and_a_huge_one_in_the_sweep():
    m = {"labels_b": 20.0, "weight_shared": 1.0, "weight_max": 100.0, "gain_b": 0.07, "drop_a_max_weight": 0.7}
    assert multi_task.CLAIM.check(m) is True
    assert multi_task.CLAIM.check({**m, "gain_b": 0.01}) is False  # B did not gain
    assert multi_task.CLAIM.check({**m, "drop_a_max_weight": 0.05}) is False  # A survived the huge weight
    assert multi_task.CLAIM.check({**m, "labels_b": 500.0}) is None  # B is not scarce
    assert multi_task.CLAIM.check({**m, "weight_shared": 10.0}) is None  # the comparison itself uses a big λ
    assert multi_task.CLAIM.check({**m, "weight_max": 10.0}) is None  # no huge λ in the sweep


def test_the_scarce_label_task_gains_from_sharing(metrics):
    assert metrics["gain_b"] > 0.03
    assert metrics["acc_b_shared"] > metrics["acc_b_alone"] + 0.03
    assert metrics["acc_a_shared"] > metrics["acc_a_alone"] - 0.03  # A barely pays for it
    assert metrics["acc_a_alone"] > 0.9


def test_a_huge_weight_on_L_B_wrecks_task_A(metrics):
    assert metrics["drop_a_max_weight"] > 0.3
    assert metrics["acc_a_lambda_100"] < metrics["acc_a_lambda_1"] - 0.3
    assert metrics["acc_b_lambda_100"] < metrics["acc_b_shared"] - 0.02  # and B does not even gain from it


def test_parameter_counts_by_hand(metrics):
    trunk = (64 * 128 + 128) + (128 * 128 + 128) + (128 * 64 + 64)
    heads = (64 * 10 + 10) + (64 + 1)
    assert metrics["params_shared"] == trunk + heads
    assert metrics["params_separate"] == 2 * trunk + heads


def test_lines_xy_log_x_and_dashes():
    fig = plots.lines_xy({"a": ([1, 10, 100], [0.1, 0.2, 0.3]), "b": ([1, 100], [0.5, 0.5])}, T("x", "x"),
                         T("y", "y"), "en", log_x=True, dashes={"b": "dash"})
    assert isinstance(fig, go.Figure) and fig.layout.xaxis.type == "log"
    assert fig.data[0].line.dash == "solid" and fig.data[1].line.dash == "dash"
    plain = plots.lines_xy({"a": ([1, 2], [3, 4])}, T("x", "x"), T("y", "y"), "en")
    assert plain.layout.xaxis.type is None and plain.data[0].line.dash == "solid"  # defaults unchanged
