"""The demo panel: any demo's settings form, live progress, verdict, charts and tables.

Training never runs in the server process: the run goes to the process-wide `fmlab.jobs.Runner`,
whose runs go to worker processes, and a fragment polls it, so clicking other widgets mid-run
does not stop it.
"""
from __future__ import annotations

import hashlib
import math
import os
import re
from typing import Any

import streamlit as st

from fmlab import plots, registry
from fmlab.demo import Chart, Demo, Result
from fmlab.jobs import Job, Progress, State
from fmlab.live import live_svg
from fmlab.params import ConfigError, Param, make, params
from fmlab.text import _

from .shell import demo_source, lang, runner, session_jobs

SMOKE = os.environ.get("FMLAB_SMOKE") == "1"  # prefill every form with the demo's fast smoke settings
FIRST_POINT_WAIT = 0.8  # s a submit waits for the run's first step, so the live view opens with its point

DEMO = _("Demo: {title}", "演示：{title}")
COMING_SOON = _("Live demo `{demo}`: coming soon.", "在线演示 `{demo}`：即将推出。")
RUN = _("Run", "运行")
STOP = _("Stop", "停止")
SETTINGS = _("Settings", "设置")
BAD_PRESET = _("This question's preset is not valid for the demo, so the defaults are shown: {error}",
               "这道题的预设对该演示无效，已改用默认设置：{error}")
QUEUED = _("Waiting for a free slot: position {position} in the queue.", "正在等待空闲资源：排队第 {position} 位。")
STARTING = _("Starting…", "正在启动…")
PROGRESS = _("{percent}% · {where}", "{percent}% · {where}")
AT_STEP = _("{run} step {step}", "{run} 第 {step} 步")
LIVE_LOSS = _("Training loss so far", "当前训练损失")
STOPPED = _("Stopped. Press Run to start again.", "已停止。点击运行可重新开始。")
CACHED = _("Shown from the shared cache: someone ran these exact settings already.",
           "来自共享缓存：已有人用完全相同的设置运行过。")
ALL_METRICS = _("All metrics (names as in the CLI's JSON)", "全部指标（名称与命令行 JSON 中一致）")
METRIC = _("metric", "指标")
VALUE = _("value", "数值")
SOURCE = _("Source code of this demo", "本演示的源代码")


def demo_panel(demo_id: str, preset: dict[str, Any] | None = None) -> None:
    """Settings form, live progress and results for any demo, started from `preset`."""
    current = lang()
    if demo_id not in registry.demos():
        st.info(COMING_SOON.format(demo=demo_id).get(current), icon=":material/construction:")
        return
    demo = registry.get(demo_id)
    slot = panel_slot(demo_id, preset or {})
    st.subheader(DEMO.format(title=demo.title).get(current))
    st.caption(demo.summary.get(current))
    chosen = settings_form(demo, initial_values(demo, preset or {}, current), slot, current)
    if chosen is not None:
        submit(demo, chosen, slot, current)
    job = session_jobs().get(slot)
    if job is not None and job.active:
        live_job(slot)
    elif job is not None:
        finished_job(job, slot, current)
    # a toggle, not an expander: an expander sends (and the browser highlights) the whole source on every load
    if st.toggle(SOURCE.get(current), key=f"source:{slot}"):
        st.code(demo_source(demo.module), language="python", line_numbers=True)


def panel_slot(demo_id: str, preset: dict[str, Any]) -> str:
    """A stable name for one demo panel: the demo id, plus a digest of the preset when there is one."""
    if not preset:
        return demo_id
    return f"{demo_id}@{hashlib.sha1(repr(sorted(preset.items())).encode()).hexdigest()[:8]}"


def css_key(slot: str) -> str:
    """The slot as a container key: Streamlit turns a key into a CSS class the browser tests look for."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", slot)


# ---- settings ------------------------------------------------------------------------------


def initial_values(demo: Demo, preset: dict[str, Any], current: str) -> dict[str, Any]:
    """The form's first values: defaults, then smoke settings (FMLAB_SMOKE=1), then the question's preset."""
    start = {**(demo.smoke if SMOKE else {}), **preset}
    try:
        return make(demo.config, start).as_dict()
    except ConfigError as error:
        st.warning(BAD_PRESET.format(error=error.text).get(current))
        return make(demo.config, demo.smoke if SMOKE else {}).as_dict()


def settings_form(demo: Demo, values: dict[str, Any], slot: str, current: str) -> dict[str, Any] | None:
    """The demo's settings as a form; the chosen values when Run was pressed, else None."""
    with st.form(f"form:{slot}"):
        st.markdown(f"**{SETTINGS.get(current)}**")
        columns = st.columns(2)
        chosen = {}
        for i, p in enumerate(params(demo.config)):
            with columns[i % 2]:
                chosen[p.name] = setting_widget(p, values[p.name], f"{slot}:{p.name}", current)
        pressed = st.form_submit_button(RUN.get(current), type="primary", icon=":material/play_arrow:")
    return chosen if pressed else None


def setting_widget(p: Param, value: Any, key: str, current: str) -> Any:
    """The widget that suits one declared setting, returning its value in the setting's type."""
    label, help = p.label.get(current), p.help.get(current)
    if p.kind is bool:
        return st.checkbox(label, value=value, help=help, key=key)
    if p.kind is tuple:
        picked = st.multiselect(label, p.choices, default=list(value), help=help, key=key,
                                format_func=lambda c: p.show(c, current))
        return tuple(c for c in p.choices if c in picked)  # choice order, so equal picks share a cache entry
    if p.choices is not None:
        return st.selectbox(label, p.choices, index=p.choices.index(value), help=help, key=key,
                            format_func=lambda c: p.show(c, current))
    if p.kind is float and p.log and p.low and p.high:
        return st.select_slider(label, log_grid(p.low, p.high, value), value=value, format_func="{:g}".format,
                                help=help, key=key)
    if p.kind in (int, float):
        return number_widget(p, value, label, help, key)
    return st.text_input(label, value=value, help=help, key=key)


def number_widget(p: Param, value: float, label: str, help: str, key: str) -> float:
    """A slider for a short bounded range, else a number box."""
    kind = p.kind
    low, high = (None if b is None else kind(b) for b in (p.low, p.high))
    if low is not None and high is not None and (kind is float or high - low <= 1000):
        step = 1 if kind is int else nice_step((high - low) / 100)
        return st.slider(label, low, high, value, step=step, help=help, key=key)
    return st.number_input(label, low, high, value, step=1 if kind is int else None,
                           format=None if kind is int else "%g", help=help, key=key)


def nice_step(rough: float) -> float:
    """The power of ten at or below `rough`."""
    return 10.0 ** math.floor(math.log10(rough))


def log_grid(low: float, high: float, value: float) -> list[float]:
    """1-2-3-5 points per decade between low and high, plus the ends and the current value."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    points = {float(f"{m * 10.0 ** e:.3g}") for e in decades for m in (1, 2, 3, 5)}
    return sorted({v for v in points if low <= v <= high} | {low, high, value})


def submit(demo: Demo, chosen: dict[str, Any], slot: str, current: str) -> None:
    """Validate the form and queue the run, or show what is wrong with the settings."""
    try:
        cfg = make(demo.config, chosen)
    except ConfigError as error:
        st.error(error.text.get(current), icon=":material/error:")
        return
    jobs = runner()
    job = jobs.submit(demo, cfg)  # a cached result or a run already in flight comes back at once
    session_jobs().put(slot, job)
    st.session_state.pop(f"progress:{slot}", None)
    if job.state is State.RUNNING or jobs.running < jobs.max_concurrent:  # not queued: its first point is near
        job.wait_for_first_step(FIRST_POINT_WAIT)


# ---- while it runs -----------------------------------------------------------------------


@st.fragment(run_every=0.5)
def live_job(slot: str) -> None:
    """Queue position or progress, the live loss curve and a Stop button; reruns the page when done."""
    current = lang()
    job = session_jobs().get(slot)
    if job is None or not job.active:
        st.rerun()
    if job.state is State.QUEUED:
        with st.container(key=f"queued-{css_key(slot)}"):
            st.info(QUEUED.format(position=job.position or 1).get(current), icon=":material/hourglass_top:")
    else:
        running_view(job, progress_of(job, slot), slot, current)
    if st.button(STOP.get(current), key=f"stop:{slot}", icon=":material/stop:"):
        job.cancel()
        st.rerun()


def progress_of(job: Job, slot: str) -> Progress:
    """This panel's live progress, updated from the events the job reported since the last poll."""
    key = f"progress:{slot}"
    held = st.session_state.get(key)
    if held is None or held[0] is not job:
        held = (job, Progress())
        st.session_state[key] = held
    return held[1].update(job)


def running_view(job: Job, progress: Progress, slot: str, current: str) -> None:
    """Progress bar with the current stage or step, and the live loss curve."""
    if progress.note is not None:
        where = progress.note.get(current)
    elif progress.last is not None:
        where = AT_STEP.format(run=progress.last.run or job.demo.title, step=progress.last.step).get(current)
    else:
        where = STARTING.get(current)
    st.progress(job.fraction, text=PROGRESS.format(percent=round(100 * job.fraction), where=where).get(current))
    if progress.curves:
        with st.container(key=f"live-{css_key(slot)}"):
            curves = progress.named_curves(current, plots.LOSS.get(current))
            st.image(live_svg(curves, LIVE_LOSS.get(current), plots.STEP.get(current), plots.LOSS.get(current),
                             plots.LOSS_LOG.get(current)))


# ---- when it is done ---------------------------------------------------------------------


def finished_job(job: Job, slot: str, current: str) -> None:
    """The result, the failure message, or that the run was stopped."""
    if job.state is State.DONE:
        show_result(job, slot, current)
    elif job.state is State.FAILED:
        st.error(job.error.get(current), icon=":material/error:")
    else:
        st.info(STOPPED.get(current), icon=":material/stop_circle:")


def show_result(job: Job, slot: str, current: str) -> None:
    """The verdict, the key metric, every chart and table, and all metrics."""
    result, demo = job.result, job.demo
    shown = demo.claim.check(result.metrics) if demo.claim is not None else None
    with st.container(key=f"verdict-{css_key(slot)}"):  # green: the lesson showed
        (st.success if shown else st.info)(result.verdict.get(current), icon=":material/insights:")
    if job.cached:
        st.caption(CACHED.get(current))
    if demo.key_metric in result.metrics:
        st.metric(demo.key_label.get(current), f"{result.metrics[demo.key_metric]:.4g}")
    for i, chart in enumerate(result.charts):
        show_chart(chart, f"{slot}:chart:{i}", current)
    for table in result.tables:
        st.markdown(f"**{table.title.get(current)}**")
        st.dataframe(table.frame(current), hide_index=True)
    with st.expander(ALL_METRICS.get(current)):
        st.dataframe(metric_rows(result, current), hide_index=True)


def metric_rows(result: Result, current: str) -> list[dict[str, Any]]:
    """Every metric as a (name, value) row."""
    return [{METRIC.get(current): name, VALUE.get(current): value} for name, value in result.metrics.items()]


def show_chart(chart: Chart, key: str, current: str) -> None:
    """A chart's title, its Plotly figure and its caption."""
    st.markdown(f"**{chart.title.get(current)}**")
    st.plotly_chart(chart.plot(current), key=key)
    if chart.caption is not None:
        st.caption(chart.caption.get(current))
