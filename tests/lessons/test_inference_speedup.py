"""inference-speedup: structured pruning and int8 make the dense model faster; unstructured zeros do not."""
import pytest

from fmlab.demos import inference_speedup as demo


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_what_each_change_did(result):
    _cfg, r = result
    m = r.metrics
    assert m["acc_dense"] >= 0.95
    assert m["acc_unstructured"] < m["acc_dense"]  # 90% without fine-tuning costs accuracy...
    assert abs(m["bytes_unstructured"] - m["bytes_dense"]) < 0.01 * m["bytes_dense"]  # ...and saves no bytes
    assert m["nonzeros_unstructured"] < 0.15 * m["nonzeros_dense"]
    assert m["acc_structured"] < m["acc_dense"] - 0.1 < m["acc_structured_ft"]  # fine-tuning is what rescues it
    assert m["bytes_structured"] < 0.05 * m["bytes_dense"]  # ~1% of the weights in a smaller dense net
    assert m["bytes_onnx_fp32"] > 3.5 * m["bytes_onnx_int8"]
    assert m["acc_onnx_fp32"] == pytest.approx(m["acc_dense"], abs=1e-9)


def test_latencies_judged_with_wide_margins(result):
    _cfg, r = result
    m = r.metrics
    assert m["structured_3x_faster"] == 1 and m["unstructured_within_35pct"] == 1 and m["int8_1_3x_faster"] == 1
    speedup = {row["variant"].en: row["speedup"] for row in r.tables[0].rows}
    assert speedup[demo.NAMES["structured_ft"].en] >= 5
    assert 0.7 <= speedup[demo.NAMES["unstructured"].en] <= 1.4


def test_too_few_rounds_leave_the_latencies_unjudged():
    assert demo.speed_flags(demo.Config(rounds=3), {}) == {}


def good():
    return {"sparsity": 90.0, "keep": 10.0, "acc_dense": 0.97, "acc_structured": 0.5, "acc_structured_ft": 0.96,
            "acc_onnx_fp32": 0.97, "acc_onnx_int8": 0.968, "bytes_dense": 1.2e6, "bytes_unstructured": 1.2e6,
            "bytes_onnx_fp32": 1.2e6, "bytes_onnx_int8": 0.3e6, "structured_3x_faster": 1.0,
            "unstructured_within_35pct": 1.0, "int8_1_3x_faster": 1.0}


def test_the_predicate_on_hand_made_metrics():
    m = good()
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "unstructured_within_35pct": 0.0}) is False  # zeros changed the latency
    assert demo.CLAIM.check({**m, "structured_3x_faster": 0.0}) is False
    assert demo.CLAIM.check({**m, "acc_structured_ft": 0.8}) is False  # small and fast, but not accurate
    assert demo.CLAIM.check({**m, "bytes_onnx_int8": 1.0e6}) is False
    assert demo.CLAIM.check({k: v for k, v in m.items() if not k.endswith(("faster", "35pct"))}) is None  # untimed
    assert demo.CLAIM.check({**m, "sparsity": 50.0}) is None
