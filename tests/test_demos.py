"""Every registered demo, with no per-demo test code: smoke run, progress, metrics, charts, determinism."""
import math
from pathlib import Path

import plotly.graph_objects as go
import pytest

from fmlab import registry
from fmlab.demo import Result
from fmlab.params import params

DEMOS = list(registry.demos().values())
LESSONS = Path(__file__).parent / "lessons"


@pytest.fixture(scope="module", params=DEMOS, ids=[d.id for d in DEMOS])
def smoke(request):
    demo = request.param
    events = []
    result = demo.run(registry.smoke_config(demo), events.append)
    return demo, result, events


def test_declaration(smoke):
    demo, _, _ = smoke
    assert demo.id == demo.id.lower() and " " not in demo.id and "_" not in demo.id
    assert demo.title.en and demo.title.zh and demo.summary.en and demo.summary.zh
    assert demo.key_label.en and demo.key_label.zh
    for p in params(demo.config):
        assert p.help.en and p.help.zh and p.label.en and p.label.zh
        if p.choice_labels is not None:  # declared labels cover every choice, in both languages
            assert set(p.choice_labels) == set(p.choices)
            assert all(t.en and t.zh for t in p.choice_labels.values())
    demo.config()  # the defaults are valid


@pytest.mark.parametrize("demo", DEMOS, ids=[d.id for d in DEMOS])
def test_every_demo_states_its_claim_and_has_a_lesson_file(demo):
    assert demo.claim is not None, f"{demo.id} declares no claim"
    assert demo.claim.text.en and demo.claim.text.zh
    lesson = LESSONS / f"test_{demo.module.rsplit('.', 1)[-1]}.py"
    assert lesson.exists(), f"{demo.id} has no lesson tests in {lesson}"


def test_smoke_run_reports_ordered_progress(smoke):
    _, _, events = smoke
    fractions = [e.fraction for e in events]
    assert any(e.kind == "step" for e in events)
    assert fractions == sorted(fractions) and 0 <= fractions[0] and fractions[-1] <= 1 + 1e-9
    assert all(math.isfinite(v) for e in events for v in e.metrics.values())


def test_smoke_result(smoke):
    demo, result, _ = smoke
    assert isinstance(result, Result) and result.metrics and result.finite()
    assert demo.key_metric in result.metrics
    assert result.verdict.en and result.verdict.zh and result.verdict.en != result.verdict.zh
    # the verdict says, in both languages, whether this run showed the claim
    said = demo.claim.verdict(result.metrics)  # shown / not shown / not tested, from these metrics
    assert said.en in result.verdict.en and said.zh in result.verdict.zh
    assert result.charts
    for chart in result.charts:
        for lang in ("en", "zh"):
            assert isinstance(chart.plot(lang), go.Figure)
    for table in result.tables:
        assert table.rows and all(set(row) == set(table.columns) for row in table.rows)
        assert [list(r) for r in table.frame("zh")][0] == [t.zh for t in table.columns.values()]


def test_same_seed_same_metrics(smoke):
    """Everything but the declared wall-clock measurements repeats exactly."""
    demo, result, _ = smoke
    again = demo.run(registry.smoke_config(demo))
    assert ({k: v for k, v in again.metrics.items() if k not in demo.timed}
            == {k: v for k, v in result.metrics.items() if k not in demo.timed})


def test_unknown_demo_is_a_bilingual_error():
    with pytest.raises(ValueError) as err:
        registry.get("no-such-demo")
    assert "optimizers" in err.value.text.en and "未知" in err.value.text.zh
