"""Declaring a demo's settings once: range, choices, log scale and bilingual help.

A demo's `Config` is a frozen dataclass whose fields are made with `param(...)`.
The UI, the CLI, the tests and the benchmark all read this one declaration.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .text import T, _


class ConfigError(ValueError):
    """An invalid setting; `str()` gives English / 中文, `.text` the pair."""

    def __init__(self, text: T):
        super().__init__(str(text))
        self.text = text


@dataclass(frozen=True)
class Param:
    """One setting: its default, allowed values and help text."""

    name: str
    default: Any
    help: T
    label: T
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None
    log: bool = False
    choice_labels: dict | None = None  # choice -> T, where a choice's id is not a word a learner reads

    def show(self, choice: Any, lang: str) -> str:
        """How a choice is displayed: its bilingual label if declared, else the value itself."""
        label = (self.choice_labels or {}).get(choice)
        return label.get(lang) if label is not None else str(choice)

    @property
    def kind(self) -> type:
        """bool, int, float, str or tuple (a multi-choice)."""
        return type(self.default)

    def check(self, value: Any) -> None:
        """Raise ConfigError when `value` is not allowed for this setting."""
        label = self.label
        if self.kind is tuple:
            bad = [v for v in value if v not in self.choices]
            if not isinstance(value, tuple) or bad or not value:
                raise ConfigError(_(
                    f"{label.en}: choose one or more of {', '.join(map(str, self.choices))} (got {value!r})",
                    f"{label.zh}：请从 {', '.join(map(str, self.choices))} 中选择至少一项（收到 {value!r}）"))
            return
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.kind) or (self.kind is int and isinstance(value, bool)):
            raise ConfigError(_(
                f"{label.en}: expected {self.kind.__name__}, got {value!r}",
                f"{label.zh}：应为 {self.kind.__name__} 类型，收到 {value!r}"))
        if self.choices is not None and value not in self.choices:
            raise ConfigError(_(
                f"{label.en}: must be one of {', '.join(map(str, self.choices))} (got {value!r})",
                f"{label.zh}：必须是 {', '.join(map(str, self.choices))} 之一（收到 {value!r}）"))
        if self.kind in (int, float):
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(_(f"{label.en}: must be a finite number", f"{label.zh}：必须是有限数值"))
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                raise ConfigError(_(
                    f"{label.en}: {value} is outside the allowed range [{self.low}, {self.high}]",
                    f"{label.zh}：{value} 超出允许范围 [{self.low}, {self.high}]"))


def param(default: Any, *, help: T, label: T | None = None, low: float | None = None,
          high: float | None = None, choices: tuple | None = None, log: bool = False,
          choice_labels: dict | None = None) -> Any:
    """A dataclass field that carries its own declaration (see `Param`)."""
    if isinstance(default, list):
        raise TypeError("use a tuple, not a list, so the config stays hashable")
    meta = dict(help=help, label=label, low=low, high=high, choices=choices, log=log, choice_labels=choice_labels)
    return field(default=default, metadata={"fmlab": meta})


@dataclass(frozen=True)
class DemoConfig:
    """Base for every demo's Config: validates itself on construction."""

    def __post_init__(self) -> None:
        for p in params(type(self)):
            value = getattr(self, p.name)
            if p.kind is float and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, p.name, float(value))  # 1 -> 1.0, so equal configs hash alike
            p.check(getattr(self, p.name))

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def params(config_cls: type) -> list[Param]:
    """The declared settings of a Config class, in field order."""
    out = []
    for f in dataclasses.fields(config_cls):
        meta = f.metadata.get("fmlab")
        if meta is None:
            raise TypeError(f"{config_cls.__name__}.{f.name} must be declared with param(...)")
        label = meta["label"] or _(f.name.replace("_", " ").capitalize(), meta["help"].zh)
        out.append(Param(name=f.name, default=f.default, help=meta["help"], label=label,
                         low=meta["low"], high=meta["high"], choices=meta["choices"], log=meta["log"],
                         choice_labels=meta["choice_labels"]))
    return out


def parse(p: Param, text: str) -> Any:
    """Turn command-line text into a value of the setting's type."""
    try:
        if p.kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if p.kind is tuple:
            return tuple(type(p.choices[0])(v.strip()) for v in text.split(",") if v.strip())
        return p.kind(text)
    except ValueError:
        raise ConfigError(_(f"{p.label.en}: cannot read {text!r} as {p.kind.__name__}",
                            f"{p.label.zh}：无法将 {text!r} 解析为 {p.kind.__name__}")) from None


def make(config_cls: type, values: dict[str, Any]) -> Any:
    """Build a Config from a dict, rejecting unknown names with a bilingual error."""
    known = {p.name: p for p in params(config_cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(_(f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(known)}",
                            f"未知设置：{', '.join(unknown)}；可用设置：{', '.join(known)}"))
    clean = {k: parse(known[k], v) if isinstance(v, str) and known[k].kind is not str else v
             for k, v in values.items()}
    clean = {k: tuple(v) if isinstance(v, list) else v for k, v in clean.items()}
    return config_cls(**clean)
