"""Bilingual text: every user-facing string carries English and Chinese."""
from __future__ import annotations

from dataclasses import dataclass

LANGS = ("en", "zh")


@dataclass(frozen=True)
class T:
    """A string in English and 中文; `t.get(lang)` picks one."""

    en: str
    zh: str

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def format(self, **values) -> "T":
        """Fill `{name}` placeholders in both languages."""
        return T(self.en.format(**values), self.zh.format(**values))

    def __str__(self) -> str:
        return f"{self.en} / {self.zh}"

    def as_dict(self) -> dict[str, str]:
        return {"en": self.en, "zh": self.zh}


def _(en: str, zh: str) -> T:
    """Shorthand used in declarations: `_("Learning rate", "学习率")`."""
    return T(en, zh)
