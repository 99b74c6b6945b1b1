"""self-attention: the pointer task (return the token after MARK) is solved by looking up by content,
which mean pooling cannot express; the trained attention looks where the verdict says."""
import pytest

from fmlab.demos import self_attention as demo


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_self_attention_solves_the_pointer_task_that_mean_pooling_cannot(result):
    cfg, r = result
    m = r.metrics
    assert m["acc_attention"] >= 0.9
    assert m["acc_mean"] <= 0.5
    assert m["pool_on_target"] >= 0.7  # the pooling query finds the token after MARK
    assert m["target_to_mark"] > 3 / cfg.length  # that token looks back at MARK far above uniform


def test_the_verdict_states_the_measured_accuracies(result):
    cfg, r = result
    m = r.metrics
    assert f"self-attention {m['acc_attention']:.1%}, mean pooling {m['acc_mean']:.1%}" in r.verdict.en
    assert f"自注意力 {m['acc_attention']:.1%}，平均池化 {m['acc_mean']:.1%}" in r.verdict.zh
    assert f"(uniform would be {1 / cfg.length:.2f})" in r.verdict.en


def test_the_predicate_needs_a_30_point_gap():
    assert demo.CLAIM.check({"acc_attention": 0.95, "acc_mean": 0.3}) is True
    assert demo.CLAIM.check({"acc_attention": 0.55, "acc_mean": 0.3}) is False  # attention not trained enough
    assert demo.CLAIM.check({"acc_attention": 0.95}) is None
