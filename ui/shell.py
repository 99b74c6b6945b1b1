"""The frame every page shares: the declared page list, resources, language, sidebar and title.

`PAGES` is the one list of pages: the sidebar, the home page's topic grid and the tests read it.
Adding a page is one file in `pages/` that makes one call, and one entry here.
"""
from __future__ import annotations

import importlib
import inspect
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas  # noqa: F401  whole before any page thread draws a chart: plotly takes sys.modules["pandas"]
#               without waiting for an import another thread has begun ("partially initialized module")
import streamlit as st

from fmlab import __version__, bank
from fmlab.bank import CATEGORIES, Bank
from fmlab.cluster import Cluster, ClusterUnreachable
from fmlab.fit import pick_device
from fmlab.jobs import JobSet, Runner, run_log
from fmlab.text import LANGS, T, _
from fmlab.workers import Pool
from fmlab.zygote import Zygote

ROOT = Path(__file__).resolve().parent.parent
LANG_NAMES = {"en": "English", "zh": "中文"}

HOME = _("fmlab — deep-learning interview lab", "fmlab — 深度学习面试实验室")
HOME_LINK = _("Home", "首页")
BROWSER = _("All questions", "全部题目")
LANGUAGE = _("Language", "语言")
DEVICE = _("Device: `{device}` · at most {cap} runs at once", "设备：`{device}` · 最多同时运行 {cap} 个任务")
CLUSTER = "Ray @ {address}"  # where runs train when FMLAB_RAY_ADDRESS is set (a name: one text for both languages)
LOAD = _("Now: {running} running, {queued} queued", "当前：{running} 个运行中，{queued} 个排队中")


@dataclass(frozen=True)
class Page:
    """One page of the app: its file, its title and sidebar label, and the topic it shows (if any)."""

    file: str  # relative to the repo root; Streamlit serves `pages/2_optimization.py` at /optimization
    title: T
    link: T
    icon: str
    category: str | None = None

    @property
    def url_path(self) -> str:
        """The path Streamlit gives the file: "" for the entry point, else the name after the number."""
        return "" if self.file == HOME_PAGE else Path(self.file).stem.split("_", 1)[-1]


def topic(number: int, category: str) -> Page:
    """The page of one topic: `pages/<number>_<category>.py`, titled by the category."""
    return Page(f"pages/{number}_{category}.py", CATEGORIES[category], CATEGORIES[category], ":material/science:",
                category)


HOME_PAGE = "app.py"
QUESTIONS_PAGE = "pages/13_questions.py"
PAGES = (
    Page(HOME_PAGE, HOME, HOME_LINK, ":material/home:"),
    topic(1, "structure"),
    topic(2, "optimization"),
    topic(3, "losses"),
    topic(4, "regularization"),
    topic(5, "compression"),
    topic(6, "adversarial"),
    topic(7, "explainability"),
    topic(12, "deployment"),
    Page(QUESTIONS_PAGE, BROWSER, BROWSER, ":material/search:"),
)
TOPIC_PAGES = {p.category: p for p in PAGES if p.category is not None}


# ---- resources --------------------------------------------------------------------------


def cluster_address() -> str | None:
    """The Ray cluster this server sends its runs to (FMLAB_RAY_ADDRESS), or None for the local worker pool."""
    return os.environ.get("FMLAB_RAY_ADDRESS") or None


@st.cache_resource
def runner() -> Runner:
    """The one job runner of this server process: shared queue, cap, result cache, and where runs train."""
    log_path = os.environ.get("FMLAB_RUN_LOG")  # set by the classroom load test, which counts computed runs
    watch = run_log(log_path) if log_path else None
    if address := cluster_address():  # a class bigger than one box (fmlab.cluster); raises ClusterUnreachable
        cluster = Cluster.connect(address)
        return Runner(max_concurrent=cluster.cpus, execute=cluster.execute, watch=watch)
    cores = os.cpu_count() or 1
    pool = Pool(cores, zygote=Zygote.adopt())  # the launcher's (ui.serve), else one of its own
    pool.warm(background=True)  # the first page does not wait for the workers
    return Runner(max_concurrent=cores, execute=pool.execute, watch=watch)


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
    """Where demos train: the Ray cluster, else this machine's cuda, mps or cpu."""
    address = cluster_address()
    return CLUSTER.format(address=address) if address else str(pick_device())


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


def page_link(page: str, label: T, icon: str, **query: str) -> None:
    """A link to another page that keeps the language."""
    st.page_link(page, label=label.get(lang()), icon=icon, query_params={"lang": lang(), **query})


def navigation() -> None:
    """Bilingual links to every declared page."""
    for page in PAGES:
        page_link(page.file, page.link, page.icon)


def server_status(current: str) -> None:
    """The device in use and how busy the shared runner is."""
    try:
        jobs = runner()
    except ClusterUnreachable as error:
        st.error(error.text.get(current))
        st.stop()
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
