"""What a demo is: a Config, a `run(cfg, report) -> Result`, and smoke settings.

Progress flows out of `run` as `Event`s through a `report` callback with a harmless
default, so the same code runs in a terminal, a test and the app.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from .text import T


@dataclass(frozen=True)
class Event:
    """One progress report.

    kind: "step" (a training step), "epoch" (end of an epoch, with val metrics),
    or "stage" (a new phase starts; `note` says which).
    fraction: share of the whole demo done, in [0, 1].
    """

    kind: str
    fraction: float
    run: str = ""
    step: int = 0
    epoch: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    note: T | None = None


Report = Callable[[Event], None]


def silent(event: Event) -> None:
    """The default report: ignore progress."""


class Cancelled(Exception):
    """Raised from a report callback to stop a run early (Stop button, closed tab)."""


def part(report: Report, run: str, index: int, count: int) -> Report:
    """A report for sub-run `index` of `count`: tags events with `run` and rescales fraction."""

    def scoped(event: Event) -> None:
        report(dataclasses.replace(event, run=run, fraction=(index + event.fraction) / count))

    return scoped


@dataclass(frozen=True)
class Chart:
    """A figure with a bilingual title; `plot(lang)` builds it (Plotly, or matplotlib for images)."""

    title: T
    plot: Callable[[str], Any]
    caption: T | None = None


@dataclass(frozen=True)
class Table:
    """Rows of numbers with bilingual column headers; `columns` maps each row key to its header."""

    title: T
    columns: dict[str, T]
    rows: list[dict[str, Any]]

    def frame(self, lang: str) -> list[dict[str, Any]]:
        """The rows with headers in `lang`, ready for st.dataframe or pandas."""
        return [{label.get(lang): row[key] for key, label in self.columns.items()} for row in self.rows]


@dataclass
class Result:
    """What a run showed.

    metrics: headline numbers (finite floats unless a run diverged).
    history: run name -> series name -> values per step or epoch.
    verdict: what this run showed, in numbers, computed from the run.
    tables: per-run summaries with bilingual headers.
    """

    metrics: dict[str, float]
    verdict: T
    history: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    def finite(self) -> bool:
        return all(math.isfinite(v) for v in self.metrics.values())


@dataclass(frozen=True)
class Demo:
    """A runnable lesson, declared once and read by the UI, CLI, tests and benchmark."""

    id: str
    title: T
    summary: T
    category: str
    config: type
    run: Callable[..., Result]
    smoke: dict[str, Any]
    key_metric: str
    key_label: T
    module: str = ""

    def __post_init__(self) -> None:
        if not self.module:
            object.__setattr__(self, "module", self.run.__module__)
