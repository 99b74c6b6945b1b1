"""model-export: every exported file (.pt2, .onnx, the .onnx in a process without torch) matches eager to
float rounding, and only the exports with a dynamic batch dimension accept other batch sizes."""
import pytest

from fmlab.demos import model_export as demo


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_every_export_matches_eager_to_float_rounding(result):
    _cfg, r = result
    m = r.metrics
    assert m["accuracy"] >= 0.9
    assert m["max_diff_torch_export"] < 1e-6  # the same ATen kernels: typically exactly 0
    assert m["max_diff_onnx"] < 1e-4 and m["max_diff_standalone"] < 1e-4
    assert m["standalone_imported_torch"] == 0
    assert m["num_test"] >= 500


def test_a_static_batch_is_baked_in(result):
    cfg, r = result
    m = r.metrics
    assert m["num_sizes"] == 4  # 1, 3, 32 and the whole test set
    for f in demo.FORMATS:
        assert m[f"accepted_static_{f}"] == 0 and m[f"accepted_dynamic_{f}"] == 4
    rows = r.tables[1].frame("en")
    static = [row for row in rows if "static" in row["export"]]
    assert {row["batch 3"] for row in static} == {"AssertionError", "InvalidArgument"}
    assert "Guard failed" in r.verdict.en and f"== {cfg.example_batch}" in r.verdict.en


def test_export_is_not_compression(result):
    _cfg, r = result
    m = r.metrics
    # the same fp32 weights plus a graph: within 2x of the state dict, never smaller than 90% of it
    for f in demo.FORMATS:
        assert 0.9 * m["size_kb_eager"] < m[f"size_kb_{f}"] < 2 * m["size_kb_eager"]


def test_latencies_are_in_the_table_not_the_metrics(result):
    _cfg, r = result
    rows = r.tables[0].frame("en")
    assert [row["format"] for row in rows] == [demo.NAMES[f].en for f in ("eager", *demo.FORMATS, "standalone")]
    for row in rows[:3]:
        assert 0 < row["batch 1 (ms)"] < 100 and 0 < row["batch 32 (ms)"] < 100
    assert not any("latency" in k for k in r.metrics)  # wall-clock time is not the same for the same seed


def test_the_predicate_on_hand_made_metrics():
    m = {"max_diff_torch_export": 0.0, "max_diff_onnx": 8e-6, "max_diff_standalone": 8e-6,
         "standalone_imported_torch": 0.0, "num_sizes": 4.0,
         "accepted_dynamic_torch_export": 4.0, "accepted_static_torch_export": 0.0,
         "accepted_dynamic_onnx": 4.0, "accepted_static_onnx": 0.0}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "max_diff_onnx": 0.3}) is False  # exported in train mode, say
    assert demo.CLAIM.check({**m, "accepted_static_onnx": 1.0}) is False  # a static export took a new size
    assert demo.CLAIM.check({**m, "accepted_dynamic_torch_export": 3.0}) is False
    assert demo.CLAIM.check({**m, "standalone_imported_torch": 1.0}) is False  # the file did not stand alone
    assert demo.CLAIM.check({k: v for k, v in m.items() if k != "num_sizes"}) is None
