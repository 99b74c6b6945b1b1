"""The Streamlit app under AppTest: every page renders in both languages, a demo runs from its form."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ui
from fmlab import bank, registry
from fmlab.bank import CATEGORIES

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGES = {page.file: page for page in ui.PAGES}  # the one declared page list
TIMEOUT = 60  # the first run imports torch and the demos

QUESTION = """\
id: {qid}
category: optimization
difficulty: medium
occurrences: ["000:1"]
tags: [adam, sgd]
title: {{en: "Why does Adam train faster than SGD?", zh: "为什么 Adam 比 SGD 训练得快？"}}
question: {{en: "Compare **Adam** with plain SGD.", zh: "比较 **Adam** 与普通 SGD。"}}
answer: {{en: "Adam scales each step by a running RMS of the gradient.", zh: "Adam 用梯度的滑动均方根缩放每一步。"}}
key_points:
  - {{en: "Per-parameter step sizes", zh: "逐参数的步长"}}
mistakes:
  - {{en: "Adam always generalises better", zh: "Adam 总是泛化更好"}}
code: |
  import torch
  print(torch.optim.Adam)
demo:
  id: optimizers
  preset: {{optimizers: [sgd, adam], epochs: 1, surface_steps: 20}}
quiz:
{quiz}
"""
QUIZ_ITEM = """\
  - kind: choice
    prompt: {en: "Pick one {n}", zh: "选一个 {n}"}
    options: [{en: "yes", zh: "是"}, {en: "no", zh: "否"}]
    answer: 0
    explain: {en: "because", zh: "因为"}
"""


def write_question(root: Path, qid: str, answer_zh: str = "Adam 用梯度的滑动均方根缩放每一步。") -> None:
    quiz = "".join(QUIZ_ITEM.replace("{n}", str(n)) for n in range(3))
    text = QUESTION.format(qid=qid, quiz=quiz).replace("Adam 用梯度的滑动均方根缩放每一步。", answer_zh)
    (root / f"{qid}.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def questions(tmp_path, monkeypatch) -> Path:
    """A small bank: two good optimization questions and one malformed file."""
    write_question(tmp_path, "adam-vs-sgd")
    write_question(tmp_path, "adam-again", answer_zh="Adam 还带有动量。")
    (tmp_path / "broken.yaml").write_text("id: broken\ncategory: nowhere\n", encoding="utf-8")
    monkeypatch.setattr(bank, "DEFAULT_ROOT", tmp_path)
    ui.question_bank.clear()
    yield tmp_path
    ui.question_bank.clear()


def open_page(page: str, **query: str) -> AppTest:
    """A fresh session that opens `page` first, as a deep link would."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(query)
    if page != "app.py":
        at.switch_page(page)
    return at.run()


def assert_clean(at: AppTest) -> None:
    """No exception, and no error or warning box (a failed run, a bad preset): say what they said."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert not at.warning, [w.value for w in at.warning]


def verdict(at: AppTest, demo_id: str) -> str | None:
    """The verdict box of `demo_id` (green when the run showed the lesson, blue when not), once it shows."""
    claim = registry.get(demo_id).claim.text
    boxes = [*at.success, *at.info]
    return next((b.value for b in boxes if claim.en in b.value or claim.zh in b.value), None)


def run_until(at: AppTest, done, timeout: float = TIMEOUT) -> AppTest:
    """Rerun the script (AppTest never fires run_every) until `done(at)` or the timeout."""
    end = time.monotonic() + timeout
    while not done(at):
        assert time.monotonic() < end, "the demo did not finish in time"
        time.sleep(0.3)
        at.run()
    return at


def setting(at: AppTest, kind: str, name: str):
    """The demo-form widget of one setting, whatever panel (preset) it belongs to."""
    return next(w for w in getattr(at, kind) if w.key and w.key.endswith(f":{name}"))


def plotly_charts(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def test_the_page_list_matches_the_page_files():
    files = {"app.py", *(f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py"))}
    assert set(PAGES) == files, "every page file needs one entry in ui.PAGES, and every entry its file"
    topics = [p.category for p in ui.PAGES if p.category]
    assert topics == [c for c in CATEGORIES if c in topics]  # in the bank's category order
    assert all(p.url_path == p.category for p in ui.PAGES if p.category)  # /structure, /optimization, ...
    with_demos = {d.category for d in registry.demos().values()}
    assert with_demos <= set(topics), "every category with a demo needs its page"


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(page, lang):
    at = open_page(page, lang=lang)
    assert_clean(at)
    assert at.title[0].value == PAGES[page].title.get(lang)
    assert at.radio(key="lang_switch").value == lang
    assert at.query_params["lang"] == lang


def test_the_language_switch_translates_the_page_and_the_url():
    at = open_page("pages/2_optimization.py", q="optimization-optimizer-selection")
    assert at.title[0].value == "Optimization"
    at.radio(key="lang_switch").set_value("zh").run()
    assert at.title[0].value == "优化方法"
    assert at.query_params["lang"] == "zh"
    assert at.get("form_submit_button")[0].label == "运行"


def test_a_category_page_shows_the_card_and_the_preset(questions):
    at = open_page("pages/2_optimization.py")
    assert not at.exception
    assert at.selectbox(key="q").value == "adam-again"
    assert at.subheader[0].value == "Why does Adam train faster than SGD?"
    assert at.expander[0].label == "Show answer"
    assert "print(torch.optim.Adam)" in at.code[0].value
    assert setting(at, "slider", "epochs").value == 1
    assert setting(at, "multiselect", "optimizers").value == ["sgd", "adam"]


def test_a_question_can_be_deep_linked(questions):
    at = open_page("pages/2_optimization.py", q="adam-vs-sgd", lang="zh")
    assert at.selectbox(key="q").value == "adam-vs-sgd"
    assert at.subheader[0].value == "为什么 Adam 比 SGD 训练得快？"


@pytest.mark.parametrize("query", [{"q": "no-such-question"}, {"q": "<script>", "lang": "xx"},
                                   {"q": "adam-vs-sgd", "lang": "zh\u0000"}])
def test_a_malformed_link_renders_the_page_with_a_warning_not_a_traceback(questions, query):
    at = open_page("pages/2_optimization.py", **query)
    assert not at.exception
    assert at.subheader  # the page and a question card are drawn
    if query["q"] != "adam-vs-sgd":
        (warning,) = at.warning
        assert "is not here" in warning.value or "在此不存在" in warning.value


def test_a_demo_runs_from_its_form_and_shows_the_verdict(questions):
    at = open_page("pages/2_optimization.py")
    at.get("form_submit_button")[0].click().run()
    assert_clean(at)
    run_until(at, lambda at: verdict(at, "optimizers"))
    assert_clean(at)
    assert "trained fastest on digits" in verdict(at, "optimizers")
    assert len(plotly_charts(at)) >= 3
    at.radio(key="lang_switch").set_value("zh").run()
    assert "训练最快" in verdict(at, "optimizers")


def test_invalid_settings_show_a_bilingual_error_not_a_traceback(questions):
    at = open_page("pages/2_optimization.py", lang="zh")
    setting(at, "multiselect", "optimizers").set_value([])
    at.get("form_submit_button")[0].click().run()
    assert not at.exception
    assert "请从" in at.error[0].value


def test_stop_cancels_a_running_demo(questions):
    at = open_page("pages/1_structure.py")
    setting(at, "slider", "epochs").set_value(40)
    at.get("form_submit_button")[0].click().run()
    next(b for b in at.button if b.key and b.key.startswith("stop:")).click().run()
    run_until(at, lambda at: at.info and "Stopped" in at.info[-1].value, timeout=10)
    assert not verdict(at, "residual-depth")


def test_the_browser_filters_and_reports_skipped_files(questions):
    at = open_page(ui.QUESTIONS_PAGE)
    assert not at.exception
    assert "broken.yaml" in at.warning[0].value
    assert at.selectbox(key="q").options == [
        "Why does Adam train faster than SGD? · Medium 🧪", "Why does Adam train faster than SGD? · Medium 🧪"]
    at.text_input(key="search").set_value("滑动均方根").run()  # in one Chinese answer only
    assert len(at.selectbox(key="q").options) == 1
    at.text_input(key="search").set_value("ADAM train").run()  # English title, any case
    assert len(at.selectbox(key="q").options) == 2
    at.selectbox(key="difficulty").set_value("hard").run()
    assert at.info[0].value == "No question matches these filters."
    assert at.query_params["difficulty"] == "hard"


def test_the_browser_can_be_deep_linked_to_a_topic(questions):
    at = open_page(ui.QUESTIONS_PAGE, category="structure", lang="zh")
    assert at.selectbox(key="category").value == "structure"
    assert at.info[0].value == "没有符合条件的题目。"
    at.selectbox(key="category").set_value("all").run()
    assert "category" not in at.query_params
    assert len(at.selectbox(key="q").options) == 2
