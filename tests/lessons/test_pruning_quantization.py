"""pruning-quantization: accuracy is flat to high sparsity and then collapses, fine-tuning with the mask fixed
moves the collapse right, zeros do not shrink the checkpoint, int8 cuts it about 4x at no accuracy cost."""
import pytest

from fmlab.demos import pruning_quantization as demo


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_accuracy_is_flat_then_collapses_and_fine_tuning_moves_the_collapse(result):
    _cfg, r = result
    m = r.metrics
    assert m["acc_dense"] >= 0.95
    assert m["acc_pruned_50"] >= m["acc_dense"] - 0.02  # half the weights cost nothing
    assert m["acc_finetuned_90"] >= m["acc_dense"] - 0.03
    assert m["acc_pruned_98"] < 0.3  # about chance (10%)
    assert m["acc_finetuned_95"] > m["acc_pruned_95"] + 0.2
    assert demo.collapse_point(m, "finetuned") > demo.collapse_point(m, "pruned")


def test_zeros_keep_the_size_and_int8_cuts_it(result):
    _cfg, r = result
    m = r.metrics
    assert m["nonzeros_pruned"] < 0.15 * m["nonzeros_dense"]  # 90% of the weights are zero (biases stay)
    assert abs(m["bytes_pruned"] - m["bytes_dense"]) < 0.01 * m["bytes_dense"]
    assert 3.5 < m["bytes_onnx_fp32"] / m["bytes_onnx_int8"] < 4.5
    assert 3.5 < m["bytes_dense"] / m["bytes_torch_int8"] < 4.5
    assert m["acc_onnx_fp32"] == pytest.approx(m["acc_dense"], abs=1e-9)  # the export is the same function
    assert abs(m["acc_onnx_int8"] - m["acc_dense"]) <= 0.01 and abs(m["acc_torch_int8"] - m["acc_dense"]) <= 0.01


def test_the_table_has_one_row_per_variant(result):
    _cfg, r = result
    rows = r.tables[0].rows
    assert [row["variant"] for row in rows] == list(demo.VARIANTS.values())
    assert all(row["b1"] > 0 and row["b32"] > 0 for row in rows)


def good():
    m = {"acc_dense": 0.97, "bytes_dense": 340e3, "bytes_pruned": 340e3, "bytes_onnx_fp32": 340e3,
         "bytes_onnx_int8": 90e3, "acc_onnx_fp32": 0.97, "acc_onnx_int8": 0.97}
    for s, pruned, tuned in ((50, 0.97, 0.97), (90, 0.7, 0.96), (95, 0.3, 0.92), (98, 0.1, 0.3)):
        m |= {f"acc_pruned_{s}": pruned, f"acc_finetuned_{s}": tuned}
    return m


def test_the_predicate_on_hand_made_metrics():
    m = good()
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "acc_pruned_90": 0.9, "acc_finetuned_95": 0.5}) is False  # both collapse at 95%
    assert demo.CLAIM.check({**m, "acc_pruned_98": 0.8}) is False  # no collapse
    assert demo.CLAIM.check({**m, "bytes_pruned": 40e3}) is False  # a sparse format would shrink it; not this one
    assert demo.CLAIM.check({**m, "acc_onnx_int8": 0.9}) is False  # int8 cost accuracy
    short = {k: v for k, v in m.items() if "98" not in k and "95" not in k}
    assert demo.CLAIM.check(short) is None  # the sweep stops before the collapse
    no_finetune = {k: v for k, v in m.items() if "finetuned" not in k}
    assert demo.CLAIM.check(no_finetune) is None
