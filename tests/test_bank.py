"""The question bank: schema of every entry, runnable code samples, and a loader that skips bad files."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fmlab import bank, samples
from fmlab.params import make
from fmlab.text import LANGS, T

BANK = bank.load()
QUESTIONS = BANK.questions
SYLLABUS = Path(__file__).resolve().parents[2] / "shared" / "syllabus.yaml"
ROOT_IDS = Path(__file__).resolve().parent / "data" / "syllabus_ids.txt"


def texts(q: bank.Question) -> list[tuple[str, T]]:
    """Every bilingual string of a question, labelled with where it lives."""
    out = [("title", q.title), ("question", q.question), ("answer", q.answer)]
    out += [(f"key_points[{i}]", t) for i, t in enumerate(q.key_points)]
    out += [(f"mistakes[{i}]", t) for i, t in enumerate(q.mistakes)]
    for i, item in enumerate(q.quiz):
        out += [(f"quiz[{i}].prompt", item.prompt), (f"quiz[{i}].explain", item.explain)]
        out += [(f"quiz[{i}].options[{j}]", o) for j, o in enumerate(item.options)]
    return out


def test_real_bank_loads_without_skips():
    assert QUESTIONS, "no questions found in questions/"
    assert BANK.skipped == [], "\n".join(str(s.message) for s in BANK.skipped)


def syllabus_ids() -> dict[str, str]:
    """id -> category, from the copy kept in tests/data (a clean clone has no ../shared)."""
    lines = ROOT_IDS.read_text(encoding="utf-8").splitlines()
    return dict(line.split() for line in lines if line and not line.startswith("#"))


def test_every_syllabus_id_has_exactly_one_entry():
    ids = [q.id for q in QUESTIONS]
    assert len(ids) == len(set(ids))
    known = syllabus_ids()
    assert sorted(set(known) - set(ids)) == [], "syllabus questions with no entry"
    assert sorted(set(ids) - set(known)) == [], "entries with no syllabus id"
    assert all(q.category == known[q.id] for q in QUESTIONS)


def test_the_kept_copy_of_the_syllabus_ids_is_current():
    if not SYLLABUS.exists():
        pytest.skip(f"syllabus not found at {SYLLABUS}")
    syllabus = yaml.safe_load(SYLLABUS.read_text(encoding="utf-8"))
    assert syllabus_ids() == {entry["id"]: entry["category"] for entry in syllabus["questions"]}


def test_occurrences_match_the_syllabus():
    if not SYLLABUS.exists():
        pytest.skip(f"syllabus not found at {SYLLABUS}")
    syllabus = yaml.safe_load(SYLLABUS.read_text(encoding="utf-8"))
    known = {entry["id"]: entry for entry in syllabus["questions"]}
    for q in QUESTIONS:
        assert set(q.occurrences) == set(known[q.id]["occurrences"]), q.id


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_schema(q: bank.Question):
    assert q.category in bank.CATEGORIES and q.difficulty in bank.DIFFICULTIES
    for where, text in texts(q):
        for lang in LANGS:
            assert text.get(lang).strip(), f"{q.id}: {where}.{lang} is empty"
    for where, text in (("title", q.title), ("question", q.question), ("answer", q.answer)):
        assert text.en != text.zh, f"{q.id}: {where} is not translated"
    assert len(q.quiz) >= bank.MIN_QUIZ_ITEMS
    for item in q.quiz:
        assert item.kind in bank.QUIZ_KINDS
        assert len(item.options) >= 2 and 0 <= item.answer < len(item.options)
        assert len({o.en for o in item.options}) == len(item.options), "options must differ, so one is right"
    if q.demo is not None:
        assert any(item.kind == "predict" for item in q.quiz), f"{q.id}: no quiz item predicts its demo"
    assert isinstance(q.preset, dict)
    hash(q)  # frozen and hashable: usable as a cache key


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_chinese_markdown_renders(q: bank.Question):
    """CommonMark pitfalls in Chinese: `**标题。**正文` never closes the bold, and a wrapped line adds a stray space."""
    for where, text in texts(q):
        for line in text.zh.splitlines():
            parts = line.split("**")  # odd parts are bold
            for bold, after in zip(parts[1::2], parts[2::2]):
                assert not (bold[-1:] and bold[-1] in "。：，；！？" and after[:1].strip()), \
                    f"{q.id}: {where}: **{bold}**{after[:1]} does not render; write **标题**：正文"
        assert not re.search(r"[\u4e00-\u9fff，。；：]\n[\u4e00-\u9fff]", text.zh), f"{q.id}: {where}: join the lines"


@pytest.fixture(scope="module")
def sample_host():
    with samples.SampleHost() as host:
        yield host


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_code_sample_runs(q: bank.Question, sample_host: samples.SampleHost):
    done = sample_host.run(q.code, timeout=60)  # a hard cap for a loaded machine; `bank --samples` checks 5 s
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip(), f"{q.id}: the code sample printed nothing"


def test_linked_demos_take_their_presets():
    registered = bank.registered_demos()
    for q in QUESTIONS:
        if q.demo in registered:
            config = make(registered[q.demo].config, q.preset)
            assert {k: getattr(config, k) for k in q.preset} == q.preset, q.id


# ---- the loader on hand-made folders ----------------------------------------------------


def entry(qid: str, **changes) -> dict:
    """A minimal valid question as YAML data, with `changes` applied."""
    text = {"en": "Some text", "zh": "一些文字"}
    item = {"kind": "choice", "prompt": text, "explain": text, "answer": 1,
            "options": [{"en": "A", "zh": "甲"}, {"en": "B", "zh": "乙"}, {"en": "C", "zh": "丙"}]}
    data = {"id": qid, "category": "optimization", "difficulty": "easy", "occurrences": ["000:2"],
            "tags": ["sgd"], "title": {"en": f"Title of {qid}", "zh": f"{qid} 的标题"}, "question": text,
            "answer": {"en": "An **answer** about momentum", "zh": "关于动量的**答案**"},
            "key_points": [text], "mistakes": [text], "code": "print('hi')\n",
            "demo": {"id": "no-such-demo", "preset": {}}, "quiz": [item, item, item]}
    data.update(changes)
    return data


def write(folder: Path, data: dict, name: str | None = None) -> None:
    (folder / f"{name or data['id']}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_malformed_files_are_skipped_and_the_rest_still_load(tmp_path: Path):
    write(tmp_path, entry("good-one"))
    write(tmp_path, entry("good-two", demo=None))
    (tmp_path / "bad-yaml.yaml").write_text("id: bad-yaml\ntitle: {en: [unclosed\n", encoding="utf-8")
    write(tmp_path, entry("missing-zh", title={"en": "Only English"}))
    bad_item = dict(entry("x")["quiz"][0], answer=3)
    write(tmp_path, entry("bad-answer", quiz=[bad_item] * 3))
    write(tmp_path, entry("wrong-name"), name="other-name")
    write(tmp_path, entry("few-quiz", quiz=entry("x")["quiz"][:2]))
    write(tmp_path, entry("bad-category", category="astrology"))
    no_tags = entry("no-tags")
    del no_tags["tags"]
    write(tmp_path, no_tags)

    loaded = bank.load(tmp_path)

    assert [q.id for q in loaded.questions] == ["good-one", "good-two"]
    skipped = {s.file: s for s in loaded.skipped}
    assert set(skipped) == {"bad-yaml.yaml", "missing-zh.yaml", "bad-answer.yaml", "other-name.yaml",
                            "few-quiz.yaml", "bad-category.yaml", "no-tags.yaml"}
    for s in loaded.skipped:
        for lang in LANGS:
            assert s.file in s.message.get(lang)
    assert skipped["bad-yaml.yaml"].id is None and "bad-yaml" in skipped["bad-yaml.yaml"].message.en
    assert skipped["missing-zh.yaml"].id == "missing-zh" and "title.zh" in skipped["missing-zh.yaml"].message.en
    assert "quiz[0].answer" in skipped["bad-answer.yaml"].message.en
    assert "bad-answer" in skipped["bad-answer.yaml"].message.zh
    assert "other-name" in skipped["other-name.yaml"].message.en
    assert "tags" in skipped["no-tags.yaml"].message.en


def test_bad_preset_for_a_registered_demo_is_skipped(tmp_path: Path):
    demo_id = next(iter(bank.registered_demos()), None)
    if demo_id is None:
        pytest.skip("no demo registered yet")
    write(tmp_path, entry("bad-preset", demo={"id": demo_id, "preset": {"no_such_setting": 1}}))
    loaded = bank.load(tmp_path)
    assert loaded.questions == []
    assert "no_such_setting" in loaded.skipped[0].message.en


def test_demo_status_and_report(tmp_path: Path):
    registered = bank.registered_demos()
    write(tmp_path, entry("waits-for-demo"))
    write(tmp_path, entry("no-demo", demo=None))
    if registered:
        write(tmp_path, entry("has-demo", demo={"id": next(iter(registered)), "preset": {}}))
    (tmp_path / "broken.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    loaded = bank.load(tmp_path)

    status = bank.demo_status(loaded)
    assert status["pending"] == ["waits-for-demo"]
    assert status["ready"] == (["has-demo"] if registered else [])
    lines = "\n".join(bank.status_lines(loaded))
    assert "waits-for-demo -> no-such-demo" in lines and "broken.yaml" in lines
    assert "已跳过" in "\n".join(bank.status_lines(loaded, "zh"))


def test_real_demo_status_covers_every_linked_question():
    status = bank.demo_status(BANK)
    linked = {q.id for q in QUESTIONS if q.demo}
    assert set(status["ready"]) | set(status["pending"]) == linked
    registered = bank.registered_demos()
    assert status["ready"] == [q.id for q in QUESTIONS if q.demo in registered]


def test_search_and_lookup():
    q = BANK.get("optimization-optimizer-selection")
    assert q.matches("ADAMW") and q.matches("动量") and q.matches("adam batch")
    assert not q.matches("adam transformer-free-zebra")
    assert q in BANK.search("adamw", category="optimization")
    assert BANK.search("adamw", category="explainability") == []
    assert BANK.search() == QUESTIONS
    assert all(x.category == "structure" for x in BANK.in_category("structure"))
    with pytest.raises(KeyError, match="no-such-question"):
        BANK.get("no-such-question")
    with pytest.raises(KeyError, match="known"):
        BANK.in_category("astrology")


def test_bank_module_does_not_import_streamlit():
    code = "import sys, fmlab.bank; assert 'streamlit' not in sys.modules; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
