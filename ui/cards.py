"""Question cards and the questions browser: choices kept in the URL so any view can be linked."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from fmlab import registry
from fmlab.bank import CATEGORIES, DIFFICULTIES, Question
from fmlab.text import T, _

from .panel import COMING_SOON
from .shell import BROWSER, TOPIC_PAGES, lang, page_link, question_bank, setup

QUESTION = _("Question", "题目")
SHOW_ANSWER = _("Show answer", "显示答案")
KEY_POINTS = _("Key points", "要点")
MISTAKES = _("Common mistakes", "常见错误")
CODE = _("Code", "代码")
SEEN = _("{difficulty} · asked {count}× · {tags}", "{difficulty} · 出现 {count} 次 · {tags}")
OPEN_DEMO = _("Open it with its demo", "打开题目及其演示")
ALL = _("All", "全部")
ANY = "all"  # the filter option meaning "no filter"; never a category or difficulty key
CATEGORY = _("Topic", "主题")
DIFFICULTY = _("Difficulty", "难度")
SEARCH = _("Search (English or 中文)", "搜索（中文或英文）")
FOUND = _("{count} of {total} questions match.", "共 {total} 道题，匹配 {count} 道。")
NOTHING_FOUND = _("No question matches these filters.", "没有符合条件的题目。")


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
    if question.demo in registry.demos() and question.category in TOPIC_PAGES:
        page_link(TOPIC_PAGES[question.category].file, OPEN_DEMO, ":material/science:", q=question.id)
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


NOT_HERE = _("The link asks for `{key}={value}`, which is not here; showing the first choice instead.",
             "链接中的 `{key}={value}` 在此不存在，已改为显示第一项。")


def url_select(label: str, options: list[str], key: str, format_func: Callable[[str], str]) -> str:
    """A selectbox whose choice lives in the URL as `?key=<option>` (absent for the first option).

    A value in the URL that is not an option (a mistyped link) gets a bilingual warning, and the first option.
    """
    wanted = st.query_params.get(key)
    if wanted in options:
        st.session_state[key] = wanted
    elif wanted is not None:
        st.warning(NOT_HERE.format(key=key, value=wanted[:80]).get(lang()), icon=":material/link_off:")
        st.query_params.pop(key, None)
        st.session_state.pop(key, None)
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
        seen = SEEN.format(difficulty=DIFFICULTIES[question.difficulty],
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
