"""The question bank: one YAML file per interview question, checked on load.

Each file `questions/<id>.yaml` holds a model answer in English and Chinese, key points,
common mistakes, a runnable code sample, a link to the demo that answers it, and a quiz.
`Question` below is its schema (pydantic); `questions/schema.json` is the same schema as
JSON Schema for editors (`python -m fmlab bank --schema` rewrites it). A malformed file never
stops the bank from loading: it is listed in `Bank.skipped` with a bilingual message naming
the file, the id and every broken field, and every other file still loads.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StringConstraints,
                      ValidationError, ValidationInfo, field_validator)
from pydantic_core import PydanticCustomError

from . import registry
from .demo import Demo
from .params import make
from .text import LANGS, T, _, same

CATEGORIES: dict[str, T] = {
    "structure": _("Network structure", "网络结构"),
    "optimization": _("Optimization", "优化方法"),
    "losses": _("Loss functions", "损失函数"),
    "regularization": _("Regularization", "正则化"),
    "compression": _("Compression and acceleration", "模型压缩与加速"),
    "adversarial": _("Adversarial robustness and security", "对抗鲁棒性与安全"),
    "explainability": _("Explainability", "可解释性"),
    "multimodal": _("Multimodal learning", "多模态学习"),
    "pretrained": _("Pretrained models", "预训练模型"),
    "data": _("Data", "数据处理"),
    "evaluation": _("Evaluation and ensembles", "评估与集成"),
    "deployment": _("Deployment and systems", "部署与系统"),
}

DIFFICULTIES: dict[str, T] = {
    "easy": _("Easy", "简单"),
    "medium": _("Medium", "中等"),
    "hard": _("Hard", "困难"),
}

QUIZ_KINDS = ("choice", "predict")  # predict: guess what the linked demo will show, then run it
MIN_QUIZ_ITEMS = 3
DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "questions"
SCHEMA_FILE = DEFAULT_ROOT / "schema.json"

ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"  # ids appear in URLs and file names
OCCURRENCE_PATTERN = r"^\d{3}:\d+$"  # FILE:NUMBER, e.g. "000:1" = seed file 000, question 1
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 70 files in 0.3 s, not 5 s
QUOTE_HINT = _(' (write it quoted, e.g. "000:1")', '（请加引号，例如 "000:1"）')


# ---- the file schema --------------------------------------------------------------------

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, pattern=r"\S")]  # \S tells editors too


def _items(item: Any, at_least: int = 0) -> Any:
    """A YAML list of `item`s, kept as a tuple so that a Question is hashable."""
    return Annotated[list[item], Field(min_length=at_least), AfterValidator(tuple)]


def _error(en: str, zh: str) -> PydanticCustomError:
    """A validation error with our own message in both languages (see `_problem`)."""
    return PydanticCustomError("bilingual", "{en}", {"en": en, "zh": zh})


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Bilingual(_Schema):
    """A text in English and Chinese; neither may be empty."""

    en: Line
    zh: Line


Text = Annotated[Bilingual, AfterValidator(lambda b: T(b.en, b.zh))]  # written {en, zh}, kept as a T


def _distinct(options: list[T]) -> tuple[T, ...]:
    if any(len({o.get(lang) for o in options}) < len(options) for lang in LANGS):
        raise _error("two options are identical", "有两个选项完全相同")
    return tuple(options)


class QuizItem(_Schema):
    """One multiple-choice item: a prompt, two or more distinct options, the right one and why."""

    kind: Literal[QUIZ_KINDS]
    """choice: pick the right option; predict: guess what the linked demo will show, then run it."""
    prompt: Text
    options: Annotated[list[Text], Field(min_length=2), AfterValidator(_distinct)]
    answer: StrictInt
    """The index of the one right option, counting from 0."""
    explain: Text

    @field_validator("answer")
    @classmethod
    def _an_option(cls, answer: int, info: ValidationInfo) -> int:
        count = len(info.data.get("options", ()))  # 0: the options are broken themselves
        if count and not 0 <= answer < count:
            raise _error(f"{answer} is not a valid option index (0 to {count - 1})",
                         f"{answer} 不是有效的选项下标（0 到 {count - 1}）")
        return answer


class DemoLink(_Schema):
    """The demo that answers the question, and the settings it opens with."""

    id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    preset: dict[str, Any] | None
    """Demo settings for this question; {} = the demo's defaults."""

    def __hash__(self) -> int:  # the preset is a dict; a Question stays usable as a cache key
        return hash(self.id)

    @field_validator("preset")
    @classmethod
    def _builds_the_config(cls, preset: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any]:
        preset = {k: tuple(v) if isinstance(v, list) else v for k, v in (preset or {}).items()}
        demo = (info.context or {}).get("demos", {}).get(info.data.get("id"))
        if demo is not None:  # a demo that is not registered yet cannot be checked
            try:
                make(demo.config, preset)
            except (TypeError, ValueError) as e:  # ConfigError, or e.g. a number where a tuple is expected
                text = getattr(e, "text", same(str(e)))
                raise _error(f"for {demo.id!r}: {text.en}", f"演示 {demo.id!r}：{text.zh}") from None
        return preset


class Question(_Schema):
    """One interview question: questions/<id>.yaml, with its model answer, demo link and quiz."""

    id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    """Also the file name: questions/<id>.yaml."""
    category: Literal[tuple(CATEGORIES)]
    difficulty: Literal[tuple(DIFFICULTIES)]
    occurrences: _items(Annotated[str, StringConstraints(pattern=OCCURRENCE_PATTERN)], at_least=1)
    """Where the question was asked, as quoted "FILE:NUMBER" strings, e.g. "000:1"."""
    tags: _items(Line)
    title: Text
    question: Text
    answer: Text
    """Markdown."""
    key_points: _items(Text, at_least=1)
    mistakes: _items(Text, at_least=1)
    code: Annotated[str, StringConstraints(min_length=1)]
    """A runnable Python sample that prints its result, as a literal block (code: |)."""
    link: DemoLink | None = Field(alias="demo")
    quiz: _items(QuizItem, at_least=MIN_QUIZ_ITEMS)

    @field_validator("id")
    @classmethod
    def _names_the_file(cls, qid: str, info: ValidationInfo) -> str:
        stem = (info.context or {}).get("stem", qid)
        if qid != stem:
            raise _error(f"{qid!r} differs from the file name {stem}.yaml",
                         f"{qid!r} 与文件名 {stem}.yaml 不一致")
        return qid

    @property
    def demo(self) -> str | None:
        """The linked demo's id; None when no demo answers this question."""
        return self.link.id if self.link else None

    @property
    def preset(self) -> dict[str, Any]:
        """Demo settings for this question; {} = the demo's defaults."""
        return self.link.preset if self.link else {}

    def matches(self, text: str) -> bool:
        """True when every word of `text` occurs (any case) in the id, tags, title, question, answer or key points."""
        haystack = self._search_text()
        return all(word in haystack for word in text.casefold().split())

    def _search_text(self) -> str:
        texts = [self.title, self.question, self.answer, *self.key_points]
        parts = [self.id, *self.tags, *(t.get(lang) for t in texts for lang in LANGS)]
        return "\n".join(parts).casefold()


def schema_text() -> str:
    """The JSON Schema of a question file, as kept in `questions/schema.json` (`python -m fmlab bank --schema`)."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **Question.model_json_schema()}
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class Skipped:
    """A question file that did not load, and why."""

    file: str
    id: str | None
    message: T


@dataclass
class Bank:
    """The questions that loaded (ordered by category, difficulty, id) and the files that did not."""

    questions: list[Question]
    skipped: list[Skipped] = field(default_factory=list)

    def get(self, qid: str) -> Question:
        """The question with this id; KeyError naming the known ids otherwise."""
        for q in self.questions:
            if q.id == qid:
                return q
        known = ", ".join(q.id for q in self.questions) or "none"
        raise KeyError(f"no question {qid!r} in the bank; known ids: {known}")

    def in_category(self, category: str) -> list[Question]:
        """The questions of one category, in bank order."""
        _check_key(category, CATEGORIES, "category")
        return [q for q in self.questions if q.category == category]

    def search(self, text: str = "", category: str | None = None, difficulty: str | None = None) -> list[Question]:
        """Questions matching `text` (see `Question.matches`), optionally limited to a category and difficulty."""
        if category is not None:
            _check_key(category, CATEGORIES, "category")
        if difficulty is not None:
            _check_key(difficulty, DIFFICULTIES, "difficulty")
        return [q for q in self.questions
                if (category is None or q.category == category)
                and (difficulty is None or q.difficulty == difficulty)
                and q.matches(text)]


def _check_key(key: str, known: dict[str, T], what: str) -> None:
    if key not in known:
        raise KeyError(f"unknown {what} {key!r}; known: {', '.join(known)}")


# ---- reading one file -------------------------------------------------------------------

MESSAGES = {  # pydantic's error types in both languages; any other type keeps pydantic's English
    "missing": _("missing", "缺失"),
    "extra_forbidden": _("unknown field", "未知字段"),
    "model_type": _("expected a mapping, got {type}", "应为映射，实际是 {type}"),
    "dict_type": _("expected a mapping, got {type}", "应为映射，实际是 {type}"),
    "list_type": _("expected a list, got {type}", "应为列表，实际是 {type}"),
    "string_type": _("expected a string, got {input}", "应为字符串，实际是 {input}"),
    "string_too_short": _("missing or empty", "缺失或为空"),
    "string_pattern_mismatch": _("{input} does not match the pattern {pattern}", "{input} 不符合格式 {pattern}"),
    "too_short": _("needs at least {min_length} item(s), has {actual_length}",
                   "至少需要 {min_length} 项，实际只有 {actual_length} 项"),
    "literal_error": _("{input} is not one of {expected}", "{input} 不在 {expected} 之中"),
    "int_type": _("expected a whole number, got {input}", "应为整数，实际是 {input}"),
}


def _problem(error: dict) -> T:
    """One pydantic error as "where: what" in both languages, e.g. "quiz[2].answer: 5 is not …"."""
    ctx, kind, got = error.get("ctx", {}), error["type"], error["input"]
    if kind == "bilingual":
        what = T(ctx["en"], ctx["zh"])
    elif kind in MESSAGES:
        expected = str(ctx.get("expected")).replace(" or ", ", ")  # "'a', 'b' or 'c'" -> "'a', 'b', 'c'"
        values = {**ctx, "expected": expected, "input": repr(got)[:80], "type": type(got).__name__}
        what = MESSAGES[kind].format(**values)
    else:
        what = same(error["msg"])
    if error["loc"][:1] == ("occurrences",) and kind == "string_type":  # YAML reads 000:1 as a number
        what = T(what.en + QUOTE_HINT.en, what.zh + QUOTE_HINT.zh)
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"]).removeprefix(".")
    return T(f"{where}: {what.en}", f"{where}：{what.zh}") if where else what


def _skipped(path: Path, qid: str | None, problems: list[T]) -> Skipped:
    """A Skipped entry whose message names the file and the id, then every problem (one per line if several)."""
    name, n = qid or path.stem, len(problems)
    en = f": {problems[0].en}" if n == 1 else f": {n} problems:" + "".join(f"\n  - {p.en}" for p in problems)
    zh = f"：{problems[0].zh}" if n == 1 else f"：{n} 处问题：" + "".join(f"\n  - {p.zh}" for p in problems)
    return Skipped(path.name, qid, _(f"{path.name} (question {name}){en}", f"{path.name}（题目 {name}）{zh}"))


def _read(path: Path, demos: dict[str, Demo]) -> Question | Skipped:
    """One file as a Question, or as a Skipped entry naming the file, the id and the problems."""
    qid = None
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            qid = data["id"]
        return Question.model_validate(data, context={"stem": path.stem, "demos": demos})
    except ValidationError as e:
        problems = [_problem(error) for error in e.errors(include_url=False)]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        where_zh = f"（第 {mark.line + 1} 行）" if mark else ""
        reason = getattr(e, "problem", None) or type(e).__name__
        problems = [_(f"not valid YAML{where}: {reason}", f"不是合法的 YAML{where_zh}：{reason}")]
    except (OSError, UnicodeDecodeError) as e:
        problems = [_(f"cannot read the file: {e}", f"无法读取文件：{e}")]
    return _skipped(path, qid, problems)


def load(root: Path | None = None) -> Bank:
    """Read every `*.yaml` under `root` (default: the repo's questions/ folder), one question per file."""
    root = Path(root) if root is not None else DEFAULT_ROOT
    if not root.is_dir():
        raise FileNotFoundError(f"question folder not found: {root}")
    demos = registered_demos()
    items = [_read(path, demos) for path in sorted(root.glob("*.yaml"))]  # ids are unique: each names its file
    questions = [item for item in items if isinstance(item, Question)]
    skipped = [item for item in items if isinstance(item, Skipped)]
    order = {key: i for i, key in enumerate([*CATEGORIES, *DIFFICULTIES])}
    questions.sort(key=lambda q: (order[q.category], order[q.difficulty], q.id))
    return Bank(questions, skipped)


# ---- demos ------------------------------------------------------------------------------


def registered_demos() -> dict[str, Demo]:
    """Registered demos by id."""
    return registry.demos()


def demo_status(bank: Bank) -> dict[str, list[str]]:
    """Ids of questions whose demo is registered ("ready") or not yet ("pending"); demo-less ones are in neither."""
    demos = registered_demos()
    linked = [q for q in bank.questions if q.demo is not None]
    return {"ready": [q.id for q in linked if q.demo in demos],
            "pending": [q.id for q in linked if q.demo not in demos]}


def status_lines(bank: Bank, lang: str = "en") -> list[str]:
    """A readable report for `python -m fmlab bank --status`: counts, demo readiness and skipped files."""
    status = demo_status(bank)
    demo_of = {q.id: q.demo for q in bank.questions}
    without = [q.id for q in bank.questions if q.demo is None]
    lines = [_(f"{len(bank.questions)} question(s) loaded, {len(bank.skipped)} file(s) skipped",
               f"已加载 {len(bank.questions)} 道题，跳过 {len(bank.skipped)} 个文件").get(lang)]
    for key, label in CATEGORIES.items():
        count = sum(q.category == key for q in bank.questions)
        if count:
            lines.append(f"  {label.get(lang)}: {count}")
    headings = {"ready": _("Demo ready", "演示已就绪"), "pending": _("Demo pending", "演示待完成")}
    for state, label in headings.items():
        lines.append(f"{label.get(lang)} ({len(status[state])}):")
        lines += [f"  {qid} -> {demo_of[qid]}" for qid in status[state]]
    if without:
        lines.append(f"{_('No demo', '无演示').get(lang)} ({len(without)}):")
        lines += [f"  {qid}" for qid in without]
    if bank.skipped:
        lines.append(f"{_('Skipped', '已跳过').get(lang)} ({len(bank.skipped)}):")
        lines += [f"  {s.message.get(lang)}" for s in bank.skipped]
    return lines
