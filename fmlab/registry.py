"""The list of demos: every module in fmlab/demos/. Add a file there and the UI, CLI, tests and benchmark pick it up."""
from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from .demo import Demo
from .params import ConfigError, make
from .text import _

def module_names() -> list[str]:
    """The demo modules, in name order (each defines `Config`, `run` and `DEMO`)."""
    package = importlib.import_module("fmlab.demos")
    return sorted(f"fmlab.demos.{m.name}" for m in pkgutil.iter_modules(package.__path__))


@cache
def demos() -> dict[str, Demo]:
    """Every demo by id, imported on first use."""
    found = [importlib.import_module(m).DEMO for m in module_names()]
    return {d.id: d for d in found}


def get(demo_id: str) -> Demo:
    """The demo with this id, or a bilingual error listing the ids that exist."""
    try:
        return demos()[demo_id]
    except KeyError:
        known = ", ".join(demos())
        raise ConfigError(_("unknown demo {demo}; available: {known}", "未知演示 {demo}；可用演示：{known}")
                          .format(demo=repr(demo_id), known=known)) from None


def smoke_config(demo: Demo):
    """The demo's Config with its smoke settings (fast enough for tests)."""
    return make(demo.config, demo.smoke)
