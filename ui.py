"""The Streamlit glue: page setup, navigation, question cards and the generic demo panel.

Every page is a thin file that imports this module and makes one call. Training never
runs in the server process: `demo_panel` hands the run to a process-wide `fmlab.jobs.Runner`
whose runs go to worker processes (`fmlab.workers.Pool`, one per core), and polls it from
a fragment, so clicking other widgets mid-run does not stop it.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import math
import os
from functools import cache
from pathlib import Path
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from fmlab import __version__, bank, registry
from fmlab.bank import CATEGORIES, DIFFICULTIES, Bank, Question
from fmlab.demo import Chart, Demo, Result
from fmlab.fit import pick_device
from fmlab.jobs import Job, JobSet, Runner, State, latest_note, loss_curves
from fmlab.params import ConfigError, Param, make, params
from fmlab.text import LANGS, T, _
from fmlab.workers import Pool

ROOT = Path(__file__).resolve().parent
HOME_PAGE = "app.py"
QUESTIONS_PAGE = "pages/13_questions.py"
SMOKE = os.environ.get("FMLAB_SMOKE") == "1"  # prefill every form with the demo's fast smoke settings
LANG_NAMES = {"en": "English", "zh": "中文"}
MAX_LIVE_POINTS = 400  # per run on the live curve; more only slows the browser

HOME = _("fmlab — deep-learning interview lab", "fmlab — 深度学习面试实验室")
HOME_LINK = _("Home", "首页")
BROWSER = _("All questions", "全部题目")
INTRO = _(
    "Each interview question here comes with a **model answer** and a **small PyTorch experiment that "
    "trains live** on this server, so you can check the answer against what a network really does.",
    "这里的每道面试题都配有**参考答案**和一个在服务器上**现场训练的小型 PyTorch 实验**，"
    "让你用网络的真实表现来验证答案。")
HOW_TO = _("How to use it", "使用方法")
HOW_TO_STEPS = _(
    "1. Pick a topic in the sidebar, then a question.\n"
    "2. Answer it aloud first, then open **Show answer** to compare.\n"
    "3. Change the settings of the demo and press **Run**: it trains live; watch the loss curve.\n"
    "4. Read the verdict: it is computed from your run. Try to break the lesson with other settings.\n"
    "5. Use **All questions** to search the whole bank by topic, difficulty or words (English or 中文).",
    "1. 在侧边栏选择主题，再选择一道题。\n"
    "2. 先自己口头作答，再打开**显示答案**对照。\n"
    "3. 调整演示的设置并点击**运行**：模型现场训练，可以实时看到损失曲线。\n"
    "4. 阅读结论：它由你这次运行的数据计算得出。试试用别的设置能否推翻结论。\n"
    "5. 在**全部题目**中按主题、难度或关键词（中英文均可）搜索整个题库。")
TOPICS = _("Topics", "主题")
COUNTS = _("Questions: {questions} · demos: {demos}", "题目：{questions} · 演示：{demos}")
OPEN_TOPIC = _("Open the topic", "进入主题")
BROWSE_TOPIC = _("Browse its questions", "浏览本主题的题目")
LANGUAGE = _("Language", "语言")
DEVICE = _("Device: `{device}` · at most {cap} runs at once", "设备：`{device}` · 最多同时运行 {cap} 个任务")
LOAD = _("Now: {running} running, {queued} queued", "当前：{running} 个运行中，{queued} 个排队中")

QUESTION = _("Question", "题目")
SHOW_ANSWER = _("Show answer", "显示答案")
KEY_POINTS = _("Key points", "要点")
MISTAKES = _("Common mistakes", "常见错误")
CODE = _("Code", "代码")
SEEN = _("{difficulty} · asked {count}× · {tags}", "{difficulty} · 出现 {count} 次 · {tags}")
NO_QUESTIONS = _("No questions in this topic yet; here are its demos.", "本主题暂无题目；以下是它的演示。")
DEMO = _("Demo: {title}", "演示：{title}")
NO_DEMO = _("This question has no demo.", "这道题没有配套演示。")
OPEN_DEMO = _("Open it with its demo", "打开题目及其演示")
COMING_SOON = _("Live demo `{demo}`: coming soon.", "在线演示 `{demo}`：即将推出。")
ALL = _("All", "全部")
ANY = "all"  # the filter option meaning "no filter"; never a category or difficulty key
CATEGORY = _("Topic", "主题")
DIFFICULTY = _("Difficulty", "难度")
SEARCH = _("Search (English or 中文)", "搜索（中文或英文）")
FOUND = _("{count} of {total} questions match.", "共 {total} 道题，匹配 {count} 道。")
NOTHING_FOUND = _("No question matches these filters.", "没有符合条件的题目。")

RUN = _("Run", "运行")
STOP = _("Stop", "停止")
SETTINGS = _("Settings", "设置")
BAD_PRESET = _("This question's preset is not valid for the demo, so the defaults are shown: {error}",
               "这道题的预设对该演示无效，已改用默认设置：{error}")
QUEUED = _("Waiting for a free slot: position {position} in the queue.", "正在等待空闲资源：排队第 {position} 位。")
STARTING = _("Starting…", "正在启动…")
PROGRESS = _("{percent}% · {where}", "{percent}% · {where}")
AT_STEP = _("{run} step {step}", "{run} 第 {step} 步")
LIVE_LOSS = _("Training loss so far", "当前训练损失")
STEP = _("step", "步数")
LOSS = _("loss", "损失")
STOPPED = _("Stopped. Press Run to start again.", "已停止。点击运行可重新开始。")
CACHED = _("Shown from the shared cache: someone ran these exact settings already.",
           "来自共享缓存：已有人用完全相同的设置运行过。")
ALL_METRICS = _("All metrics (names as in the CLI's JSON)", "全部指标（名称与命令行 JSON 中一致）")
METRIC = _("metric", "指标")
VALUE = _("value", "数值")
SOURCE = _("Source code of this demo", "本演示的源代码")


# ---- resources --------------------------------------------------------------------------


@st.cache_resource
def runner() -> Runner:
    """The one job runner of this server process: shared queue, cap, result cache, and worker processes."""
    cores = os.cpu_count() or 1
    pool = Pool(cores)
    pool.warm()
    return Runner(max_concurrent=cores, execute=pool.execute)


@st.cache_resource(scope="session", on_release=JobSet.cancel_all)
def session_jobs() -> JobSet:
    """The jobs this browser session started; cancelled when the session ends (tab closed)."""
    return JobSet()


@st.cache_resource
def question_bank() -> Bank:
    """The question bank, loaded once per process (read-only, so safe to share)."""
    return bank.load()


@cache
def demo_source(module: str) -> str:
    """The source of a demo's module, as shown in its panel."""
    return inspect.getsource(importlib.import_module(module))


@cache
def device_name() -> str:
    """Where demos train in this process: cuda, mps or cpu."""
    return str(pick_device())


# ---- language and navigation -------------------------------------------------------------


def browser_lang() -> str:
    """zh when the browser asks for Chinese, else en."""
    locale = st.context.locale or st.context.headers.get("Accept-Language") or ""
    return "zh" if locale.lower().startswith("zh") else "en"


def lang() -> str:
    """The language of this session."""
    return st.session_state.get("lang", "en")


def resolve_lang() -> str:
    """The language from the URL, else this session, else the browser; kept in both URL and session."""
    chosen = st.query_params.get("lang")
    if chosen not in LANGS:
        chosen = st.session_state.get("lang") or browser_lang()
    st.session_state["lang"] = chosen
    if st.query_params.get("lang") != chosen:
        st.query_params["lang"] = chosen
    return chosen


def switch_lang() -> None:
    """Callback of the language switch."""
    chosen = st.session_state["lang_switch"]
    st.session_state["lang"] = chosen
    st.query_params["lang"] = chosen


def language_switch(current: str) -> None:
    """English / 中文 radio in the sidebar, showing the language of this session."""
    st.session_state["lang_switch"] = current
    st.radio(f"{LANGUAGE.en} / {LANGUAGE.zh}", LANGS, format_func=LANG_NAMES.get, key="lang_switch",
             horizontal=True, on_change=switch_lang)


@cache
def category_pages() -> dict[str, str]:
    """Category -> its page file, for every `pages/<n>_<category>.py`, in category order."""
    found = {path.stem.split("_", 1)[-1]: f"pages/{path.name}" for path in (ROOT / "pages").glob("*.py")}
    return {cat: found[cat] for cat in CATEGORIES if cat in found}


def page_link(page: str, label: T, icon: str, **query: str) -> None:
    """A link to another page that keeps the language."""
    st.page_link(page, label=label.get(lang()), icon=icon, query_params={"lang": lang(), **query})


def navigation() -> None:
    """Bilingual links: home, every topic that has a page, then the questions browser."""
    page_link(HOME_PAGE, HOME_LINK, ":material/home:")
    for category, page in category_pages().items():
        page_link(page, CATEGORIES[category], ":material/science:")
    page_link(QUESTIONS_PAGE, BROWSER, ":material/search:")


def server_status(current: str) -> None:
    """The device in use and how busy the shared runner is."""
    jobs = runner()
    st.caption(DEVICE.format(device=device_name(), cap=jobs.max_concurrent).get(current))
    st.caption(LOAD.format(running=jobs.running, queued=jobs.queued).get(current))


def setup(title: T) -> str:
    """Start a page: config, sidebar (language, navigation, device) and title; returns the language."""
    current = resolve_lang()
    st.set_page_config(page_title=f"{title.get(current)} · fmlab", page_icon="🧪", layout="wide")
    with st.sidebar:
        st.markdown(f"### 🧪 fmlab {__version__}")
        language_switch(current)
        navigation()
        st.divider()
        server_status(current)
    st.title(title.get(current))
    return current


# ---- pages -------------------------------------------------------------------------------


def home() -> None:
    """The home page: what fmlab is, its topics and how to use it."""
    current = setup(HOME)
    st.markdown(INTRO.get(current))
    st.subheader(TOPICS.get(current))
    topic_grid(current)
    st.subheader(HOW_TO.get(current))
    st.markdown(HOW_TO_STEPS.get(current))


def topic_grid(current: str, per_row: int = 3) -> None:
    """One card per category with its counts, linking to its page when it has one."""
    questions = question_bank().questions
    demos = list(registry.demos().values())
    items = list(CATEGORIES.items())
    for start in range(0, len(items), per_row):
        for column, (category, label) in zip(st.columns(per_row), items[start:start + per_row], strict=False):
            with column.container(border=True):
                st.markdown(f"**{label.get(current)}**")
                counts = COUNTS.format(questions=sum(q.category == category for q in questions),
                                       demos=sum(d.category == category for d in demos))
                st.caption(counts.get(current))
                topic_link(category)


def topic_link(category: str) -> None:
    """To the topic's own page, or else to the questions browser filtered to the topic."""
    if category in category_pages():
        page_link(category_pages()[category], OPEN_TOPIC, ":material/arrow_forward:")
    else:
        page_link(QUESTIONS_PAGE, BROWSE_TOPIC, ":material/search:", category=category)


def category_page(category: str) -> None:
    """A topic page: pick one of its questions and see its card and demo."""
    current = setup(CATEGORIES[category])
    questions = question_bank().in_category(category)
    if not questions:
        st.info(NO_QUESTIONS.get(current))
        for demo in registry.demos().values():
            if demo.category == category:
                demo_panel(demo.id)
        return
    question = pick_question(questions, current)
    question_card(question, current)
    if question.demo:
        demo_panel(question.demo, question.preset)


def questions_browser() -> None:
    """Every question, filtered by topic, difficulty and words; malformed files are reported."""
    current = setup(BROWSER)
    everything = question_bank()
    for skipped in everything.skipped:
        st.warning(skipped.message.get(current), icon=":material/warning:")
    category, difficulty, text = question_filters(current)
    found = everything.search(text, category=category, difficulty=difficulty)
    st.caption(FOUND.format(count=len(found), total=len(everything.questions)).get(current))
    if not found:
        st.info(NOTHING_FOUND.get(current))
        return
    question = pick_question(found, current)
    question_card(question, current)
    if question.demo in registry.demos() and question.category in category_pages():
        page_link(category_pages()[question.category], OPEN_DEMO, ":material/science:", q=question.id)
    elif question.demo:
        st.caption(COMING_SOON.format(demo=question.demo).get(current))


def question_filters(current: str) -> tuple[str | None, str | None, str]:
    """Topic, difficulty and search text; all kept in the URL so a filtered list can be shared."""
    left, middle, right = st.columns([2, 1, 2])
    with left:
        category = url_select(CATEGORY.get(current), [ANY, *CATEGORIES], "category",
                              lambda c: (CATEGORIES.get(c) or ALL).get(current))
    with middle:
        difficulty = url_select(DIFFICULTY.get(current), [ANY, *DIFFICULTIES], "difficulty",
                                lambda d: (DIFFICULTIES.get(d) or ALL).get(current))
    text = right.text_input(SEARCH.get(current), key="search", bind="query-params")
    return None if category == ANY else category, None if difficulty == ANY else difficulty, text


def url_select(label: str, options: list[str], key: str, format_func: Callable[[str], str]) -> str:
    """A selectbox whose choice lives in the URL as `?key=<option>` (absent for the first option)."""
    wanted = st.query_params.get(key)
    if wanted in options:
        st.session_state[key] = wanted
    elif st.session_state.get(key) not in options:
        st.session_state.pop(key, None)
    choice = st.selectbox(label, options, key=key, format_func=format_func, on_change=copy_to_url,
                          args=(key, options[0]))
    keep_in_url(key, choice, options[0])
    return choice


def copy_to_url(key: str, default: str) -> None:
    """Callback: a new choice goes to the URL before the page reruns."""
    keep_in_url(key, st.session_state[key], default)


def keep_in_url(key: str, value: str, default: str) -> None:
    """Put `key=value` in the URL, or drop it when `value` is the default."""
    if value == default:
        st.query_params.pop(key, None)
    elif st.query_params.get(key) != value:
        st.query_params[key] = value


# ---- question card -----------------------------------------------------------------------


def pick_question(questions: list[Question], current: str) -> Question:
    """A question chooser whose choice lives in the URL (`?q=<id>`), so a question can be linked."""
    by_id = {q.id: q for q in questions}
    qid = url_select(QUESTION.get(current), list(by_id), "q", lambda i: question_label(by_id[i], current))
    return by_id[qid]


def question_label(question: Question, current: str) -> str:
    """Title and difficulty, marked 🧪 when the question's demo can be run."""
    marker = " 🧪" if question.demo in registry.demos() else ""
    return f"{question.title.get(current)} · {DIFFICULTIES[question.difficulty].get(current)}{marker}"


def question_card(question: Question, current: str) -> None:
    """The question, with its answer, key points, mistakes and code behind a reveal."""
    with st.container(border=True):
        st.subheader(question.title.get(current))
        seen = SEEN.format(difficulty=DIFFICULTIES[question.difficulty].get(current),
                           count=len(question.occurrences), tags=", ".join(question.tags))
        st.caption(seen.get(current))
        st.markdown(question.question.get(current))
        with st.expander(SHOW_ANSWER.get(current), icon=":material/visibility:"):
            st.markdown(question.answer.get(current))
            bullets(KEY_POINTS, question.key_points, current)
            bullets(MISTAKES, question.mistakes, current)
            st.markdown(f"**{CODE.get(current)}**")
            st.code(question.code, language="python")


def bullets(heading: T, items: tuple[T, ...], current: str) -> None:
    """A bold heading over a bullet list; nothing when there are no items."""
    if items:
        st.markdown(f"**{heading.get(current)}**\n\n" + "\n".join(f"- {item.get(current)}" for item in items))


# ---- demo panel --------------------------------------------------------------------------


def demo_panel(demo_id: str, preset: dict[str, Any] | None = None) -> None:
    """Settings form, live progress and results for any demo, started from `preset`."""
    current = lang()
    if demo_id not in registry.demos():
        st.info(COMING_SOON.format(demo=demo_id).get(current), icon=":material/construction:")
        return
    demo = registry.get(demo_id)
    slot = panel_slot(demo_id, preset or {})
    st.subheader(DEMO.format(title=demo.title.get(current)).get(current))
    st.caption(demo.summary.get(current))
    chosen = settings_form(demo, initial_values(demo, preset or {}, current), slot, current)
    if chosen is not None:
        submit(demo, chosen, slot, current)
    job = session_jobs().get(slot)
    if job is not None and job.active:
        live_job(slot)
    elif job is not None:
        finished_job(job, slot, current)
    with st.expander(SOURCE.get(current), icon=":material/code:"):
        st.code(demo_source(demo.module), language="python", line_numbers=True)


def panel_slot(demo_id: str, preset: dict[str, Any]) -> str:
    """A stable name for one demo panel: the demo id, plus a digest of the preset when there is one."""
    if not preset:
        return demo_id
    return f"{demo_id}@{hashlib.sha1(repr(sorted(preset.items())).encode()).hexdigest()[:8]}"


def initial_values(demo: Demo, preset: dict[str, Any], current: str) -> dict[str, Any]:
    """The form's first values: defaults, then smoke settings (FMLAB_SMOKE=1), then the question's preset."""
    start = {**(demo.smoke if SMOKE else {}), **preset}
    try:
        return make(demo.config, start).as_dict()
    except ConfigError as error:
        st.warning(BAD_PRESET.format(error=error.text.get(current)).get(current))
        return make(demo.config, demo.smoke if SMOKE else {}).as_dict()


def settings_form(demo: Demo, values: dict[str, Any], slot: str, current: str) -> dict[str, Any] | None:
    """The demo's settings as a form; the chosen values when Run was pressed, else None."""
    with st.form(f"form:{slot}"):
        st.markdown(f"**{SETTINGS.get(current)}**")
        columns = st.columns(2)
        chosen = {}
        for i, p in enumerate(params(demo.config)):
            with columns[i % 2]:
                chosen[p.name] = setting_widget(p, values[p.name], f"{slot}:{p.name}", current)
        pressed = st.form_submit_button(RUN.get(current), type="primary", icon=":material/play_arrow:")
    return chosen if pressed else None


def setting_widget(p: Param, value: Any, key: str, current: str) -> Any:
    """The widget that suits one declared setting, returning its value in the setting's type."""
    label, help = p.label.get(current), p.help.get(current)
    if p.kind is bool:
        return st.checkbox(label, value=value, help=help, key=key)
    if p.kind is tuple:
        picked = st.multiselect(label, p.choices, default=list(value), help=help, key=key,
                                format_func=lambda c: p.show(c, current))
        return tuple(c for c in p.choices if c in picked)  # choice order, so equal picks share a cache entry
    if p.choices is not None:
        return st.selectbox(label, p.choices, index=p.choices.index(value), help=help, key=key,
                            format_func=lambda c: p.show(c, current))
    if p.kind is float and p.log and p.low and p.high:
        return st.select_slider(label, log_grid(p.low, p.high, value), value=value, format_func="{:g}".format,
                                help=help, key=key)
    if p.kind in (int, float):
        return number_widget(p, value, label, help, key)
    return st.text_input(label, value=value, help=help, key=key)


def number_widget(p: Param, value: float, label: str, help: str, key: str) -> float:
    """A slider for a short bounded range, else a number box."""
    kind = p.kind
    low, high = (None if b is None else kind(b) for b in (p.low, p.high))
    if low is not None and high is not None and (kind is float or high - low <= 1000):
        step = 1 if kind is int else nice_step((high - low) / 100)
        return st.slider(label, low, high, value, step=step, help=help, key=key)
    return st.number_input(label, low, high, value, step=1 if kind is int else None,
                           format=None if kind is int else "%g", help=help, key=key)


def nice_step(rough: float) -> float:
    """The power of ten at or below `rough`."""
    return 10.0 ** math.floor(math.log10(rough))


def log_grid(low: float, high: float, value: float) -> list[float]:
    """1-2-3-5 points per decade between low and high, plus the ends and the current value."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    points = {float(f"{m * 10.0 ** e:.3g}") for e in decades for m in (1, 2, 3, 5)}
    return sorted({v for v in points if low <= v <= high} | {low, high, value})


def submit(demo: Demo, chosen: dict[str, Any], slot: str, current: str) -> None:
    """Validate the form and queue the run, or show what is wrong with the settings."""
    try:
        cfg = make(demo.config, chosen)
    except ConfigError as error:
        st.error(error.text.get(current), icon=":material/error:")
        return
    session_jobs().put(slot, runner().submit(demo, cfg))


@st.fragment(run_every=0.5)
def live_job(slot: str) -> None:
    """Queue position or progress, the live loss curve and a Stop button; reruns the page when done."""
    current = lang()
    job = session_jobs().get(slot)
    if job is None or not job.active:
        st.rerun()
    if job.state is State.QUEUED:
        st.info(QUEUED.format(position=job.position or 1).get(current), icon=":material/hourglass_top:")
    else:
        running_view(job, slot, current)
    if st.button(STOP.get(current), key=f"stop:{slot}", icon=":material/stop:"):
        job.cancel()
        st.rerun()


def running_view(job: Job, slot: str, current: str) -> None:
    """Progress bar with the current stage or step, and the live loss curve."""
    events = job.events()
    note = latest_note(events)
    last = events[-1] if events else None
    if note is not None:
        where = note.get(current)
    elif last is not None:
        where = AT_STEP.format(run=last.run or job.demo.title.get(current), step=last.step).get(current)
    else:
        where = STARTING.get(current)
    st.progress(job.fraction, text=PROGRESS.format(percent=round(100 * job.fraction), where=where).get(current))
    curves = loss_curves(events)
    if curves:
        st.plotly_chart(live_figure(curves, current), key=f"live:{slot}")


def live_figure(curves: dict[str, list[float]], current: str) -> go.Figure:
    """One line per run, thinned to at most MAX_LIVE_POINTS points, against the step number."""
    fig = go.Figure()
    for name, values in curves.items():
        stride = max(1, math.ceil(len(values) / MAX_LIVE_POINTS))
        steps = list(range(1, len(values) + 1, stride))
        fig.add_scatter(x=steps, y=values[::stride], mode="lines", name=name)
    fig.update_layout(title=LIVE_LOSS.get(current), xaxis_title=STEP.get(current), yaxis_title=LOSS.get(current),
                      height=320, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def finished_job(job: Job, slot: str, current: str) -> None:
    """The result, the failure message, or that the run was stopped."""
    if job.state is State.DONE:
        show_result(job, slot, current)
    elif job.state is State.FAILED:
        st.error(job.error.get(current), icon=":material/error:")
    else:
        st.info(STOPPED.get(current), icon=":material/stop_circle:")


def show_result(job: Job, slot: str, current: str) -> None:
    """The verdict, the key metric, every chart and table, and all metrics."""
    result, demo = job.result, job.demo
    (st.success if result.finite() else st.info)(result.verdict.get(current), icon=":material/insights:")
    if job.cached:
        st.caption(CACHED.get(current))
    if demo.key_metric in result.metrics:
        st.metric(demo.key_label.get(current), f"{result.metrics[demo.key_metric]:.4g}")
    for i, chart in enumerate(result.charts):
        show_chart(chart, f"{slot}:chart:{i}", current)
    for table in result.tables:
        st.markdown(f"**{table.title.get(current)}**")
        st.dataframe(table.frame(current), hide_index=True)
    with st.expander(ALL_METRICS.get(current)):
        st.dataframe(metric_rows(result, current), hide_index=True)


def metric_rows(result: Result, current: str) -> list[dict[str, Any]]:
    """Every metric as a (name, value) row."""
    return [{METRIC.get(current): name, VALUE.get(current): value} for name, value in result.metrics.items()]


def show_chart(chart: Chart, key: str, current: str) -> None:
    """A Plotly chart with st.plotly_chart, a matplotlib Figure with st.pyplot."""
    st.markdown(f"**{chart.title.get(current)}**")
    fig = chart.plot(current)
    if type(fig).__module__.startswith("matplotlib"):
        st.pyplot(fig)
    else:
        st.plotly_chart(fig, key=key)
    if chart.caption is not None:
        st.caption(chart.caption.get(current))
