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
        if self.kind is tuple:
            if not isinstance(value, tuple) or not value or any(v not in self.choices for v in value):
                self.reject(_("choose one or more of {choices} (got {value})",
                              "请从 {choices} 中选择至少一项（收到 {value}）"), value)
            return
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.kind) or (self.kind is int and isinstance(value, bool)):
            self.reject(_("expected {kind}, got {value}", "应为 {kind} 类型，收到 {value}"), value)
        if self.choices is not None and value not in self.choices:
            self.reject(_("must be one of {choices} (got {value})", "必须是 {choices} 之一（收到 {value}）"), value)
        if self.kind in (int, float):
            if isinstance(value, float) and not math.isfinite(value):
                self.reject(_("must be a finite number (got {value})", "必须是有限数值（收到 {value}）"), value)
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                self.reject(_("{value} is outside the allowed range [{low}, {high}]",
                              "{value} 超出允许范围 [{low}, {high}]"), value)

    def reject(self, problem: T, value: Any) -> None:
        """Raise a ConfigError: "<label>: <problem>", the problem's fields filled from this setting."""
        problem = problem.format(value=repr(value), kind=self.kind.__name__, low=self.low, high=self.high,
                                 choices=", ".join(map(str, self.choices or ())))
        raise ConfigError(_("{label}: {problem}", "{label}：{problem}").format(label=self.label, problem=problem))


def param(default: Any, *, help: T, label: T | None = None, low: float | None = None,
          high: float | None = None, choices: tuple | None = None, log: bool = False,
          choice_labels: dict | None = None) -> Any:
    """A dataclass field that carries its own declaration (see `Param`)."""
    if isinstance(default, list):
        raise TypeError("use a tuple, not a list, so the config stays hashable")
    meta = dict(help=help, label=label, low=low, high=high, choices=choices, log=log, choice_labels=choice_labels)
    return field(default=default, metadata={"fmlab": meta})


def seed_param(help: T = _("Same seed, same run", "相同种子，相同结果")) -> Any:
    """The `seed` every demo has: same seed, same data, initial weights and order."""
    return param(0, low=0, high=10_000, label=_("Seed", "随机种子"), help=help)


def epochs_param(default: int, *, high: int, help: T, low: int = 1, label: T = _("Epochs", "训练轮数")) -> Any:
    """How many passes over the training data."""
    return param(default, low=low, high=high, label=label, help=help)


def lr_param(default: float, *, low: float, high: float, help: T, optimizer: str | None = "Adam",
             label: T | None = None) -> Any:
    """A learning rate on a log slider, labelled with the optimizer it drives (or with `label`)."""
    if label is None:
        label = (_("Learning rate ({optimizer})", "学习率（{optimizer}）").format(optimizer=optimizer) if optimizer
                 else _("Learning rate", "学习率"))
    return param(default, low=low, high=high, log=True, label=label, help=help)


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
        raise ConfigError(_("{label}: cannot read {text} as {kind}", "{label}：无法将 {text} 解析为 {kind}")
                          .format(label=p.label, text=repr(text), kind=p.kind.__name__)) from None


def make(config_cls: type, values: dict[str, Any]) -> Any:
    """Build a Config from a dict, rejecting unknown names with a bilingual error."""
    known = {p.name: p for p in params(config_cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(_("unknown setting(s): {unknown}; known: {known}", "未知设置：{unknown}；可用设置：{known}")
                          .format(unknown=", ".join(unknown), known=", ".join(known)))
    clean = {k: parse(known[k], v) if isinstance(v, str) and known[k].kind is not str else v
             for k, v in values.items()}
    clean = {k: tuple(v) if isinstance(v, list) else v for k, v in clean.items()}
    return config_cls(**clean)
