"""The live loss SVG: well-formed, one line per run, log scale only when it helps, bad values skipped."""
import math
import xml.etree.ElementTree as ET

from fmlab.live import HEIGHT, MAX_POINTS, TOP, BOTTOM, live_svg, scale

NS = "{http://www.w3.org/2000/svg}"


def lines(svg: str) -> list[list[tuple[float, float]]]:
    root = ET.fromstring(svg)  # raises on malformed XML
    return [[tuple(map(float, p.split(","))) for p in line.get("points").split()] for line in root.iter(NS + "polyline")]


def test_one_line_per_run_with_a_point_per_step_and_falling_loss_drawn_falling():
    svg = live_svg({"SGD": [2.0, 1.0, 0.5], "Adam <fast>": [1.5, 0.2]}, "live", "step", "loss", "loss (log)")
    sgd, adam = lines(svg)
    assert len(sgd) == 3 and len(adam) == 2
    assert sgd[0][1] < sgd[-1][1]  # SVG y grows downwards: a falling loss goes down the picture
    assert "Adam &lt;fast&gt;" in svg  # names are escaped


def test_log_scale_only_when_positive_values_span_over_a_decade():
    assert scale([2.0, 0.1])[0] is True
    assert scale([2.0, 0.5])[0] is False
    assert scale([2.0, -1.0, 30.0])[0] is False
    svg = live_svg({"a": [100.0, 1.0]}, "t", "step", "loss", "loss (log)")
    assert "loss (log)" in svg


def test_nan_and_inf_are_skipped_and_long_runs_thinned():
    (line,) = lines(live_svg({"a": [1.0, math.nan, math.inf, 0.5]}, "t", "s", "l", "ll"))
    assert len(line) == 2
    (long,) = lines(live_svg({"a": [1 / (i + 1) for i in range(5000)]}, "t", "s", "l", "ll"))
    assert len(long) <= MAX_POINTS
    assert all(TOP - 1e-6 <= y <= HEIGHT - BOTTOM + 1e-6 for _, y in long)
