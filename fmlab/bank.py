"""The question bank: one YAML file per interview question, checked on load.

Each file `questions/<id>.yaml` holds a model answer in English and Chinese, key points,
common mistakes, a runnable code sample, a link to the demo that answers it, and a quiz.
A malformed file never stops the bank from loading: it is listed in `Bank.skipped` with
a bilingual message naming the file and the id, and every other file still loads.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import registry
from .demo import Demo
from .params import ConfigError, make
from .text import LANGS, T, _

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

ID_PATTERN = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")  # ids appear in URLs and file names
OCCURRENCE_PATTERN = re.compile(r"\d{3}:\d+")  # FILE:NUMBER, e.g. "000:1" = seed file 000, question 1
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 70 files in 0.3 s, not 5 s
QUOTE_HINT = _(' (write it quoted, e.g. "000:1")', '（请加引号，例如 "000:1"）')
FIELDS = ("id", "category", "difficulty", "occurrences", "tags", "title", "question", "answer",
          "key_points", "mistakes", "code", "demo", "quiz")
QUIZ_FIELDS = ("kind", "prompt", "options", "answer", "explain")


@dataclass(frozen=True)
class QuizItem:
    """One multiple-choice item; `answer` is the index of the one right option."""

    kind: str
    prompt: T
    options: tuple[T, ...]
    answer: int
    explain: T


@dataclass(frozen=True)
class Question:
    """One interview question with its model answer, demo link and quiz."""

    id: str
    category: str
    difficulty: str
    occurrences: tuple[str, ...]
    tags: tuple[str, ...]
    title: T
    question: T
    answer: T  # markdown
    key_points: tuple[T, ...]
    mistakes: tuple[T, ...]
    code: str
    demo: str | None
    preset: dict[str, Any] = field(hash=False)  # demo settings for this question; {} = the demo's defaults
    quiz: tuple[QuizItem, ...]

    def matches(self, text: str) -> bool:
        """True when every word of `text` occurs (any case) in the id, tags, title, question, answer or key points."""
        haystack = self._search_text()
        return all(word in haystack for word in text.casefold().split())

    def _search_text(self) -> str:
        texts = [self.title, self.question, self.answer, *self.key_points]
        parts = [self.id, *self.tags, *(t.get(lang) for t in texts for lang in LANGS)]
        return "\n".join(parts).casefold()


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


class _Invalid(Exception):
    """A question file breaks the schema; `.text` says where and how, in both languages."""

    def __init__(self, text: T):
        super().__init__(str(text))
        self.text = text


# ---- reading one file -------------------------------------------------------------------


def _text(value: Any, where: str) -> T:
    """A bilingual mapping {en: ..., zh: ...} with both strings non-empty."""
    if not isinstance(value, dict):
        raise _Invalid(_(f"{where}: expected a mapping {{en: ..., zh: ...}}, got {type(value).__name__}",
                         f"{where}：应为 {{en: ..., zh: ...}} 形式的映射，实际是 {type(value).__name__}"))
    extra = sorted(set(value) - set(LANGS), key=str)
    if extra:
        raise _Invalid(_(f"{where}: unexpected key(s) {', '.join(map(str, extra))}; only en and zh are allowed",
                         f"{where}：多余的键 {', '.join(map(str, extra))}；只允许 en 和 zh"))
    for lang in LANGS:
        text = value.get(lang)
        if not isinstance(text, str) or not text.strip():
            raise _Invalid(_(f"{where}.{lang}: missing or empty", f"{where}.{lang}：缺失或为空"))
    return T(value["en"].strip(), value["zh"].strip())


def _list(value: Any, where: str, min_len: int = 0) -> list:
    """A YAML list with at least `min_len` items."""
    if not isinstance(value, list):
        raise _Invalid(_(f"{where}: expected a list, got {type(value).__name__}",
                         f"{where}：应为列表，实际是 {type(value).__name__}"))
    if len(value) < min_len:
        raise _Invalid(_(f"{where}: needs at least {min_len} item(s), has {len(value)}",
                         f"{where}：至少需要 {min_len} 项，实际只有 {len(value)} 项"))
    return value


def _texts(value: Any, where: str, min_len: int = 1) -> tuple[T, ...]:
    """A list of bilingual mappings."""
    return tuple(_text(v, f"{where}[{i}]") for i, v in enumerate(_list(value, where, min_len)))


def _string(value: Any, where: str, pattern: re.Pattern | None = None, hint: T = _("", "")) -> str:
    """A non-empty string, optionally matching `pattern` in full."""
    if not isinstance(value, str) or not value.strip():
        raise _Invalid(_(f"{where}: expected a non-empty string, got {value!r}{hint.en}",
                         f"{where}：应为非空字符串，实际是 {value!r}{hint.zh}"))
    if pattern is not None and not pattern.fullmatch(value):
        raise _Invalid(_(f"{where}: {value!r} does not match the pattern {pattern.pattern}",
                         f"{where}：{value!r} 不符合格式 {pattern.pattern}"))
    return value


def _choice(value: Any, known: dict[str, T], where: str) -> str:
    """One of the keys of `known`."""
    if not isinstance(value, str) or value not in known:
        raise _Invalid(_(f"{where}: {value!r} is not one of {', '.join(known)}",
                         f"{where}：{value!r} 不在 {', '.join(known)} 之中"))
    return value


def _quiz_item(value: Any, where: str) -> QuizItem:
    """One quiz item: a kind, a prompt, ≥2 distinct options, the right option's index and why."""
    _fields(value, QUIZ_FIELDS, where)
    kind = value["kind"]
    if kind not in QUIZ_KINDS:
        raise _Invalid(_(f"{where}.kind: {kind!r} is not one of {', '.join(QUIZ_KINDS)}",
                         f"{where}.kind：{kind!r} 不在 {', '.join(QUIZ_KINDS)} 之中"))
    options = _texts(value["options"], f"{where}.options", min_len=2)
    if len({o.en for o in options}) < len(options) or len({o.zh for o in options}) < len(options):
        raise _Invalid(_(f"{where}.options: two options are identical",
                         f"{where}.options：有两个选项完全相同"))
    answer = value["answer"]
    if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer < len(options):
        raise _Invalid(_(f"{where}.answer: {answer!r} is not a valid option index (0 to {len(options) - 1})",
                         f"{where}.answer：{answer!r} 不是有效的选项下标（0 到 {len(options) - 1}）"))
    return QuizItem(kind, _text(value["prompt"], f"{where}.prompt"), options, answer,
                    _text(value["explain"], f"{where}.explain"))


def _fields(value: Any, names: tuple[str, ...], where: str) -> None:
    """`value` is a mapping with exactly the keys `names`."""
    if not isinstance(value, dict):
        raise _Invalid(_(f"{where}: expected a mapping, got {type(value).__name__}",
                         f"{where}：应为映射，实际是 {type(value).__name__}"))
    missing = [n for n in names if n not in value]
    if missing:
        raise _Invalid(_(f"{where}: missing field(s) {', '.join(missing)}",
                         f"{where}：缺少字段 {', '.join(missing)}"))
    extra = sorted(set(value) - set(names), key=str)
    if extra:
        raise _Invalid(_(f"{where}: unknown field(s) {', '.join(map(str, extra))}",
                         f"{where}：未知字段 {', '.join(map(str, extra))}"))


def _demo_link(value: Any, demos: dict[str, Demo]) -> tuple[str | None, dict[str, Any]]:
    """The demo id and preset; the preset must build the demo's Config when that demo is registered."""
    if value is None:
        return None, {}
    _fields(value, ("id", "preset"), "demo")
    demo_id = _string(value["id"], "demo.id", ID_PATTERN)
    preset = value["preset"]
    if preset is None:
        preset = {}
    if not isinstance(preset, dict):
        raise _Invalid(_(f"demo.preset: expected a mapping of setting -> value, got {type(preset).__name__}",
                         f"demo.preset：应为“设置 -> 取值”的映射，实际是 {type(preset).__name__}"))
    bad_keys = [k for k in preset if not isinstance(k, str)]
    if bad_keys:
        raise _Invalid(_(f"demo.preset: setting names must be strings, got {bad_keys!r}",
                         f"demo.preset：设置名必须是字符串，实际是 {bad_keys!r}"))
    preset = {k: tuple(v) if isinstance(v, list) else v for k, v in preset.items()}
    if demo_id in demos:
        try:
            make(demos[demo_id].config, preset)
        except ConfigError as e:
            raise _Invalid(_(f"demo.preset for {demo_id!r}: {e.text.en}",
                             f"demo.preset（演示 {demo_id!r}）：{e.text.zh}")) from None
        except (TypeError, ValueError) as e:  # e.g. a single number where the demo expects a tuple
            raise _Invalid(_(f"demo.preset for {demo_id!r}: {e}",
                             f"demo.preset（演示 {demo_id!r}）：{e}")) from None
    return demo_id, preset


def _parse(data: Any, stem: str, demos: dict[str, Demo]) -> Question:
    """Build a Question from one file's YAML, raising `_Invalid` at the first broken field."""
    _fields(data, FIELDS, "file")
    qid = _string(data["id"], "id", ID_PATTERN)
    if qid != stem:
        raise _Invalid(_(f"id {qid!r} differs from the file name {stem!r}.yaml",
                         f"id {qid!r} 与文件名 {stem!r}.yaml 不一致"))
    occurrences = tuple(_string(v, f"occurrences[{i}]", OCCURRENCE_PATTERN, QUOTE_HINT)
                        for i, v in enumerate(_list(data["occurrences"], "occurrences", min_len=1)))
    tags = tuple(_string(v, f"tags[{i}]") for i, v in enumerate(_list(data["tags"], "tags")))
    code = data["code"]
    if not isinstance(code, str) or not code.strip():
        raise _Invalid(_("code: expected a non-empty literal block (code: |)",
                         "code：应为非空的字面量块（code: |）"))
    demo, preset = _demo_link(data["demo"], demos)
    quiz = _list(data["quiz"], "quiz", min_len=MIN_QUIZ_ITEMS)
    return Question(
        id=qid,
        category=_choice(data["category"], CATEGORIES, "category"),
        difficulty=_choice(data["difficulty"], DIFFICULTIES, "difficulty"),
        occurrences=occurrences,
        tags=tags,
        title=_text(data["title"], "title"),
        question=_text(data["question"], "question"),
        answer=_text(data["answer"], "answer"),
        key_points=_texts(data["key_points"], "key_points"),
        mistakes=_texts(data["mistakes"], "mistakes"),
        code=code,
        demo=demo,
        preset=preset,
        quiz=tuple(_quiz_item(item, f"quiz[{i}]") for i, item in enumerate(quiz)),
    )


def _read(path: Path, demos: dict[str, Demo]) -> Question | Skipped:
    """One file as a Question, or as a Skipped entry naming the file, the id and the problem."""
    qid = None
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
        if isinstance(data, dict) and isinstance(data.get("id"), str):
            qid = data["id"]
        return _parse(data, path.stem, demos)
    except _Invalid as e:
        problem = e.text
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        where_zh = f"（第 {mark.line + 1} 行）" if mark else ""
        reason = getattr(e, "problem", None) or type(e).__name__
        problem = _(f"not valid YAML{where}: {reason}", f"不是合法的 YAML{where_zh}：{reason}")
    except (OSError, UnicodeDecodeError) as e:
        problem = _(f"cannot read the file: {e}", f"无法读取文件：{e}")
    name = qid or path.stem
    return Skipped(path.name, qid, _(f"{path.name} (question {name}): {problem.en}",
                                     f"{path.name}（题目 {name}）：{problem.zh}"))


def load(root: Path | None = None) -> Bank:
    """Read every `*.yaml` under `root` (default: the repo's questions/ folder), one question per file."""
    root = Path(root) if root is not None else DEFAULT_ROOT
    if not root.is_dir():
        raise FileNotFoundError(f"question folder not found: {root}")
    demos = registered_demos()
    questions: list[Question] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    for path in sorted(root.glob("*.yaml")):
        item = _read(path, demos)
        if isinstance(item, Question) and item.id in seen:
            item = Skipped(path.name, item.id, _(
                f"{path.name} (question {item.id}): id already used by {seen[item.id]}",
                f"{path.name}（题目 {item.id}）：id 已被 {seen[item.id]} 使用"))
        if isinstance(item, Skipped):
            skipped.append(item)
        else:
            seen[item.id] = path.name
            questions.append(item)
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
