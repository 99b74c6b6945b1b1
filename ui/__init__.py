"""The Streamlit glue: every page file imports this package and makes one call.

    shell  the declared page list, resources, language, sidebar and title
    cards  question cards and the questions browser
    panel  any demo's settings form, live progress and result
"""
from __future__ import annotations

import streamlit as st

from fmlab import registry
from fmlab.bank import CATEGORIES
from fmlab.text import _

from .cards import pick_question, question_card, questions_browser
from .panel import demo_panel
from .shell import (BROWSER, HOME, HOME_PAGE, PAGES, QUESTIONS_PAGE, ROOT, TOPIC_PAGES, Page, page_link,
                    question_bank, setup)

__all__ = ["BROWSER", "HOME", "HOME_PAGE", "PAGES", "QUESTIONS_PAGE", "ROOT", "TOPIC_PAGES", "Page",
           "category_page", "home", "question_bank", "questions_browser"]

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
    "4. Read the verdict: it is computed from your run and says whether it showed the lesson. "
    "Try to break the lesson with other settings.\n"
    "5. Use **All questions** to search the whole bank by topic, difficulty or words (English or 中文).",
    "1. 在侧边栏选择主题，再选择一道题。\n"
    "2. 先自己口头作答，再打开**显示答案**对照。\n"
    "3. 调整演示的设置并点击**运行**：模型现场训练，可以实时看到损失曲线。\n"
    "4. 阅读结论：它由你这次运行的数据计算得出，并说明这次是否印证了结论。试试用别的设置能否推翻它。\n"
    "5. 在**全部题目**中按主题、难度或关键词（中英文均可）搜索整个题库。")
TOPICS = _("Topics", "主题")
COUNTS = _("Questions: {questions} · demos: {demos}", "题目：{questions} · 演示：{demos}")
OPEN_TOPIC = _("Open the topic", "进入主题")
BROWSE_TOPIC = _("Browse its questions", "浏览本主题的题目")
NO_QUESTIONS = _("No questions in this topic yet; here are its demos.", "本主题暂无题目；以下是它的演示。")


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
    if category in TOPIC_PAGES:
        page_link(TOPIC_PAGES[category].file, OPEN_TOPIC, ":material/arrow_forward:")
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
