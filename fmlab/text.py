"""Bilingual text: every user-facing string carries English and Chinese.

A sentence is one template pair with its values passed once:

    _("Adam reached {acc:.1%}.", "Adam 达到 {acc:.1%}。").format(acc=0.93)

and sentences are joined by `sentences` (English with spaces, Chinese without).
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any, Iterable

LANGS = ("en", "zh")


def fields(template: str) -> set[str]:
    """The names a format template uses: "{acc:.1%} at {run}" -> {"acc", "run"}."""
    names = set()
    for _text, name, _spec, _conv in string.Formatter().parse(template):
        if name is not None:
            names.add(name.split(".")[0].split("[")[0])
    return names


@dataclass(frozen=True)
class T:
    """A string in English and 中文; `t.get(lang)` picks one."""

    en: str
    zh: str

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def format(self, **values: Any) -> "T":
        """Fill `{name}` placeholders in both languages; a value that is a `T` fills each in its language.

        Raises ValueError when the two templates do not use the same fields: a number said in
        one language and missing from the other is a bug.
        """
        if fields(self.en) != fields(self.zh):
            raise ValueError(f"templates use different fields: {sorted(fields(self.en))} vs "
                             f"{sorted(fields(self.zh))} in {self.en!r} / {self.zh!r}")
        return T(self.en.format(**in_lang(values, "en")), self.zh.format(**in_lang(values, "zh")))

    def __str__(self) -> str:
        return f"{self.en} / {self.zh}"

    def as_dict(self) -> dict[str, str]:
        return {"en": self.en, "zh": self.zh}


def _(en: str, zh: str) -> T:
    """Shorthand used in declarations: `_("Learning rate", "学习率")`."""
    return T(en, zh)


def local(value: Any, lang: str) -> Any:
    """`value` in `lang` if it is a `T`, else unchanged."""
    return value.get(lang) if isinstance(value, T) else value


def in_lang(values: dict[str, Any], lang: str) -> dict[str, Any]:
    return {k: local(v, lang) for k, v in values.items()}


def same(text: str) -> T:
    """A string that reads the same in both languages (a number, a name like "Adam")."""
    return T(text, text)


def join(items: Iterable[T | str], sep: T = T(", ", "，")) -> T:
    """A list in running text: "a, b, c" / "a，b，c"."""
    items = [same(i) if isinstance(i, str) else i for i in items]
    return T(sep.en.join(i.en for i in items), sep.zh.join(i.zh for i in items))


def names(items: Iterable[T | str]) -> T:
    """Names in a row: "plain, residual" / "普通、残差"."""
    return join(items, T(", ", "、"))


def sentences(*parts: T | None) -> T:
    """Sentences in a row: English joined with spaces, Chinese without; `None`s are skipped."""
    return join([p for p in parts if p is not None], T(" ", ""))
