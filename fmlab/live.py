"""The live loss curve as a small SVG: built in microseconds, shown without a chart library.

While a run trains, every open panel redraws its curve twice a second. A Plotly figure costs the
server ~15 ms to build and serialise per redraw, and the browser a 3 MB library before the first
point shows; with a class of thirty on a 2-core box that is where the time goes. A polyline costs
neither. Finished runs are drawn with Plotly (fmlab.plots) as everywhere else.
"""
from __future__ import annotations

import math
from html import escape

from .plots import PALETTE

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 30, 30  # margins: room for the y labels, the legend and the x labels
MAX_POINTS = 400  # per curve; more only makes the SVG longer


def scale(values: list[float]) -> tuple[bool, float, float]:
    """(log, low, high) for the y axis: log10 when every value is positive and they span over a decade."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return False, 0.0, 1.0
    low, high = min(finite), max(finite)
    log = low > 0 and high / low > 10
    if log:
        low, high = math.log10(low), math.log10(high)
    return log, low, high if high > low else low + 1.0


def points(values: list[float], num_steps: int, log: bool, low: float, high: float) -> str:
    """The polyline's "x,y x,y …" for `values` at steps 1, 2, …, thinned to MAX_POINTS."""
    stride = max(1, math.ceil(len(values) / MAX_POINTS))
    width, height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    out = []
    for i in range(0, len(values), stride):
        v = values[i]
        if not math.isfinite(v) or (log and v <= 0):
            continue
        y = (math.log10(v) if log else v) - low
        out.append(f"{LEFT + width * i / max(1, num_steps - 1):.1f},{TOP + height * (1 - y / (high - low)):.1f}")
    return " ".join(out)


def number(v: float, log: bool) -> str:
    """An axis end label."""
    return f"{10 ** v:.3g}" if log else f"{v:.3g}"


def live_svg(curves: dict[str, list[float]], title: str, x_label: str, y_label: str, y_log_label: str) -> str:
    """One line per named curve against the step, in an SVG of WIDTH x HEIGHT (log y, and its label, when it helps)."""
    log, low, high = scale([v for values in curves.values() for v in values])
    num_steps = max((len(v) for v in curves.values()), default=1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
             f'height="{HEIGHT}" role="img" aria-label="{escape(title)}" style="font:13px sans-serif">',
             f'<text x="{LEFT}" y="11" font-weight="bold">{escape(title)}</text>',
             f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
             'fill="none" stroke="#ccc"/>']
    for i, (name, values) in enumerate(curves.items()):
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" '
                     f'points="{points(values, num_steps, log, low, high)}"/>')
        parts.append(f'<text x="{LEFT + (WIDTH - LEFT - RIGHT) * i / len(curves):.0f}" y="{TOP - 6}" '
                     f'fill="{colour}">{escape(name[:16])}</text>')
    y_name = y_log_label if log else y_label
    parts += [f'<text x="{LEFT - 4}" y="{TOP + 10}" text-anchor="end">{number(high, log)}</text>',
              f'<text x="{LEFT - 4}" y="{HEIGHT - BOTTOM}" text-anchor="end">{number(low, log)}</text>',
              f'<text x="12" y="{(TOP + HEIGHT - BOTTOM) / 2}" transform="rotate(-90 12 {(TOP + HEIGHT - BOTTOM) / 2})" '
              f'text-anchor="middle">{escape(y_name)}</text>',
              f'<text x="{LEFT}" y="{HEIGHT - 10}">1</text>',
              f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 10}" text-anchor="end">{num_steps}</text>',
              f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 10}" text-anchor="middle">{escape(x_label)}</text>',
              "</svg>"]
    return "".join(parts)
