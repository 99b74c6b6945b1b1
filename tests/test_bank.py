"""The question bank: schema of every entry, runnable code samples, and a loader that skips bad files."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fmlab import bank, cli, samples
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


def edit(qid: str, path: str, value, *, delete: bool = False) -> dict:
    """`entry(qid)` with the value at `path` ("quiz.1.answer") set to `value`, or deleted."""
    data = json.loads(json.dumps(entry(qid)))  # no shared parts: one quiz item changes alone
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    target = data
    for p in parents:
        target = target[p]
    if delete:
        del target[last]
    else:
        target[last] = value
    return data


def skipped_alone(folder: Path, data) -> bank.Skipped:
    """Load a folder holding only this file (named after `data["id"]`, or bad.yaml) and return its Skipped entry."""
    name = data["id"] if isinstance(data, dict) else "bad"
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    loaded = bank.load(folder)
    assert loaded.questions == [], "the broken file loaded"
    (skipped,) = loaded.skipped
    return skipped


def assert_names(skipped: bank.Skipped, qid: str, where: str) -> None:
    """The message names the file, the id and the field, in both languages."""
    en, zh = skipped.message.en, skipped.message.zh
    assert skipped.file == f"{qid}.yaml" and skipped.id == qid
    assert f"{qid}.yaml (question {qid})" in en and f"{where}: " in en, en
    assert f"{qid}.yaml（题目 {qid}）" in zh and f"{where}：" in zh, zh


BROKEN = [  # (name, path in the file, value, field named in the message, words in the en / zh message)
    # wrong types
    ("title-text", "title", "just a string", "title", "expected a mapping, got str", "应为映射"),
    ("answer-str", "quiz.1.answer", "1", "quiz[1].answer", "expected a whole number, got '1'", "应为整数"),
    ("answer-bool", "quiz.0.answer", True, "quiz[0].answer", "expected a whole number, got True", "应为整数"),
    ("answer-range", "quiz.2.answer", 3, "quiz[2].answer", "3 is not a valid option index (0 to 2)", "不是有效的"),
    ("tags-str", "tags", "sgd", "tags", "expected a list, got str", "应为列表"),
    ("point-str", "key_points.0", "a plain string", "key_points[0]", "expected a mapping, got str", "应为映射"),
    ("code-int", "code", 5, "code", "expected a string, got 5", "应为字符串"),
    ("code-empty", "code", "", "code", "missing or empty", "缺失或为空"),
    ("occurrence-int", "occurrences.0", 61, "occurrences[0]", 'write it quoted, e.g. "000:1"', "请加引号"),
    ("occurrence-form", "occurrences.0", "0:1", "occurrences[0]", "does not match the pattern", "不符合格式"),
    ("occurrences-none", "occurrences", [], "occurrences", "needs at least 1 item(s), has 0", "至少需要 1 项"),
    ("preset-list", "demo.preset", [1], "demo.preset", "expected a mapping, got list", "应为映射"),
    ("few-quiz", "quiz", [entry("x")["quiz"][0]] * 2, "quiz", "needs at least 3 item(s), has 2", "至少需要 3 项"),
    ("one-option", "quiz.0.options", [{"en": "A", "zh": "甲"}], "quiz[0].options", "at least 2", "至少需要 2 项"),
    ("same-options", "quiz.0.options.1", {"en": "A", "zh": "甲"}, "quiz[0].options", "two options are identical",
     "有两个选项完全相同"),
    # a missing or empty bilingual half
    ("no-zh", "title", {"en": "Only English"}, "title.zh", "missing", "缺失"),
    ("no-en", "quiz.2.explain", {"zh": "只有中文"}, "quiz[2].explain.en", "missing", "缺失"),
    ("blank-zh", "question.zh", "   ", "question.zh", "missing or empty", "缺失或为空"),
    ("option-zh-none", "quiz.0.options.2.zh", None, "quiz[0].options[2].zh", "expected a string, got None",
     "应为字符串"),
    # unknown fields
    ("top-extra", "hint", "x", "hint", "unknown field", "未知字段"),
    ("link-key", "link", None, "link", "unknown field", "未知字段"),  # the attribute behind `demo` is no key
    ("quiz-extra", "quiz.0.hint", "x", "quiz[0].hint", "unknown field", "未知字段"),
    ("text-extra", "title.fr", "Titre", "title.fr", "unknown field", "未知字段"),
    ("demo-extra", "demo.seed", 0, "demo.seed", "unknown field", "未知字段"),
    # bad choices
    ("category", "category", "astrology", "category", "'astrology' is not one of 'structure', 'optimization'",
     "不在"),
    ("difficulty", "difficulty", "trivial", "difficulty", "'trivial' is not one of 'easy', 'medium', 'hard'", "不在"),
    ("kind", "quiz.1.kind", "essay", "quiz[1].kind", "'essay' is not one of 'choice', 'predict'", "不在"),
    ("demo-id", "demo.id", "No Such", "demo.id", "'No Such' does not match the pattern", "不符合格式"),
]


@pytest.mark.parametrize("name, path, value, where, en, zh", BROKEN, ids=[case[0] for case in BROKEN])
def test_each_broken_field_is_named_in_both_languages(tmp_path: Path, name, path, value, where, en, zh):
    qid = f"broken-{name}"
    skipped = skipped_alone(tmp_path, edit(qid, path, value))
    assert_names(skipped, qid, where)
    assert en in skipped.message.en and zh in skipped.message.zh, skipped.message


@pytest.mark.parametrize("field", ["tags", "demo", "quiz", "title"])
def test_a_missing_field_is_named(tmp_path: Path, field):
    skipped = skipped_alone(tmp_path, edit("has-a-gap", field, None, delete=True))
    assert_names(skipped, "has-a-gap", field)
    assert skipped.message.en.endswith(f"{field}: missing") and skipped.message.zh.endswith(f"{field}：缺失")


def test_an_id_must_be_a_slug_and_name_its_file(tmp_path: Path):
    assert_names(skipped_alone(tmp_path, edit("Bad_Id", "id", "Bad_Id")), "Bad_Id", "id")
    (tmp_path / "Bad_Id.yaml").unlink()
    write(tmp_path, entry("some-id"), name="other-name")
    skipped = [s for s in bank.load(tmp_path).skipped if s.file == "other-name.yaml"][0]
    assert skipped.id == "some-id" and "id: 'some-id' differs from the file name other-name.yaml" in skipped.message.en
    assert "与文件名 other-name.yaml 不一致" in skipped.message.zh


@pytest.mark.parametrize("data", [None, ["a", "list"], "text"], ids=["empty", "list", "text"])
def test_a_file_that_is_not_a_mapping_is_skipped(tmp_path: Path, data):
    skipped = skipped_alone(tmp_path, data)
    assert skipped.file == "bad.yaml" and skipped.id is None
    assert skipped.message.en.startswith("bad.yaml (question bad): expected a mapping, got ")
    assert skipped.message.zh.startswith("bad.yaml（题目 bad）：应为映射")


def test_every_problem_of_a_file_is_listed(tmp_path: Path):
    data = edit("many-faults", "category", "astrology")
    data["quiz"][2]["answer"] = 7
    data["title"] = {"en": "English only", "extra": 1}
    skipped = skipped_alone(tmp_path, data)
    en, zh = skipped.message.en, skipped.message.zh
    assert en.startswith("many-faults.yaml (question many-faults): 4 problems:\n  - "), en
    assert zh.startswith("many-faults.yaml（题目 many-faults）：4 处问题：\n  - "), zh
    for where in ("category", "title.zh", "title.extra", "quiz[2].answer"):
        assert f"\n  - {where}: " in en and f"\n  - {where}：" in zh, where


def test_the_json_schema_file_is_current():
    assert bank.SCHEMA_FILE.read_text(encoding="utf-8") == bank.schema_text(), \
        "questions/schema.json is out of date: run `python -m fmlab bank --schema`"


def test_the_schema_flag_rewrites_the_file(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setattr(bank, "SCHEMA_FILE", tmp_path / "schema.json")
    assert cli.main(["bank", "--schema"]) == 0
    assert (tmp_path / "schema.json").read_text(encoding="utf-8") == bank.schema_text()
    assert "schema.json" in capsys.readouterr().out


def test_the_json_schema_agrees_with_the_loader():
    """What an editor checks: every real file passes, and broken ones fail where the loader says."""
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json.loads(bank.SCHEMA_FILE.read_text(encoding="utf-8")))
    for path in sorted(bank.DEFAULT_ROOT.glob("*.yaml")):
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8")))]
        assert errors == [], f"{path.name}: {errors}"
    for _name, path, value, *_rest in BROKEN:
        if path not in ("quiz.2.answer", "quiz.0.options.1"):  # index range and distinctness: the loader only
            assert list(validator.iter_errors(edit("x", path, value))), path


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
