"""What a demo is: a Config, a `run(cfg, report) -> Result`, smoke settings and its claim.

Progress flows out of `run` as `Event`s through a `report` callback with a harmless
default, so the same code runs in a terminal, a test and the app.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from .text import T, _, local, sentences

Metrics = dict[str, float]


@dataclass(frozen=True)
class Event:
    """One progress report.

    kind: "step" (a training step), "epoch" (end of an epoch, with val metrics),
    or "stage" (a new phase starts; `note` says which).
    fraction: share of the whole demo done, in [0, 1].
    """

    kind: str
    fraction: float
    run: T | str = ""  # which sub-run (a bilingual name, or "" for the only one)
    step: int = 0
    epoch: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    note: T | None = None


Report = Callable[[Event], None]


def silent(event: Event) -> None:
    """The default report: ignore progress."""


class Cancelled(Exception):
    """Raised from a report callback to stop a run early (Stop button, closed tab)."""


def part(report: Report, run: T | str, index: int, count: int) -> Report:
    """A report for sub-run `index` of `count`: tags events with `run` and rescales fraction."""

    def scoped(event: Event) -> None:
        report(dataclasses.replace(event, run=run, fraction=(index + event.fraction) / count))

    return scoped


@dataclass(frozen=True)
class Chart:
    """A figure with a bilingual title; `plot(lang)` builds a Plotly figure (see `plots`)."""

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
        """The rows with headers and `T` cells in `lang`, ready for st.dataframe or pandas."""
        return [{label.get(lang): local(row[key], lang) for key, label in self.columns.items()} for row in self.rows]


@dataclass
class Result:
    """What a run showed.

    metrics: headline numbers (finite floats unless a run diverged); the claim is tested on them.
    verdict: what this run showed, in numbers, computed from the run.
    tables: per-run summaries with bilingual headers.
    """

    metrics: Metrics
    verdict: T
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    def finite(self) -> bool:
        return all(math.isfinite(v) for v in self.metrics.values())


@dataclass(frozen=True)
class Claim:
    """The lesson a demo teaches: a sentence, and a test of it over one run's metrics.

    `holds(metrics)` reads the metrics the run returned and answers True or False; None, or a
    KeyError (a metric these settings did not produce, e.g. the depth the claim is about was
    not chosen), means "these settings do not test it".
    `fragile` says what makes the lesson fail on some runs, shown when it did not hold.
    """

    text: T
    holds: Callable[[Metrics], bool | None]
    fragile: T | None = None

    def check(self, metrics: Metrics) -> bool | None:
        """True: this run showed the lesson; False: it did not; None: these settings do not test it."""
        try:
            shown = self.holds(metrics)
        except KeyError:
            return None
        return None if shown is None else bool(shown)

    def verdict(self, metrics: Metrics) -> T:
        """One sentence saying whether this run showed the lesson."""
        shown = self.check(metrics)
        if shown is None:
            return _("These settings do not test the lesson: {claim}.",
                     "当前设置检验不了这条结论：{claim}。").format(claim=self.text)
        if shown:
            return _("This run showed the lesson: {claim}.", "本次运行印证了：{claim}。").format(claim=self.text)
        return sentences(_("This run did NOT show the lesson: {claim}.", "本次运行没有印证：{claim}。")
                         .format(claim=self.text), self.fragile)


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
    claim: Claim | None = None
    gpu: bool = False  # a GPU speeds it up (CNNs, mixed precision): a cluster gives its run a share of one
    timed: frozenset[str] = frozenset()  # metrics measured on the wall clock: they vary run to run, seed or not
    module: str = ""

    def __post_init__(self) -> None:
        if not self.module:
            object.__setattr__(self, "module", self.run.__module__)
