"""data-parallel-sim: DDP over two gloo processes reproduces single-process training to float error; tiny
matmuls run far below big ones' throughput."""
import pytest

from fmlab.demos import data_parallel_sim as demo


@pytest.fixture(scope="module")
def result():
    return demo.run(demo.Config())


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    shows_claim(demo.CLAIM, result)


def test_the_curves_overlap_and_the_model_trained(result):
    m = result.metrics
    assert m["max_loss_diff"] < 1e-5 and m["max_param_diff"] < 1e-6
    assert m["final_loss"] < 0.5


def test_tiny_matmuls_are_overhead_bound(result):
    m = result.metrics
    assert m["gflops_small"] < 0.2 * m["gflops_large"]


def test_the_predicate_on_hand_made_metrics():
    m = {"max_param_diff": 1e-8, "max_loss_diff": 1e-7, "final_loss": 0.2}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "max_param_diff": 1e-3}) is False  # replicas drifted apart
    assert demo.CLAIM.check({**m, "final_loss": 2.3}) is False  # equal, but nothing was learned
