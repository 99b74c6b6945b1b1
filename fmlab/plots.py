"""Pure figure builders: data in, a new figure out. No global pyplot state.

Plotly throughout, image grids included (hover, zoom, and CJK text renders in the
browser's fonts). Labels are bilingual `T`s resolved with `lang`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .text import T, _

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")

# Axis labels many demos share: say them once, the same way everywhere.
STEP = _("step", "步数")
EPOCH = _("epoch", "轮次")
LOSS = _("loss", "损失")
LOSS_LOG = _("loss (log)", "损失（对数）")
TRAIN_LOSS = _("training loss", "训练损失")
VAL_LOSS = _("validation loss", "验证损失")
FINAL_LOSS = _("final loss", "最终损失")
ACCURACY = _("accuracy", "准确率")
VAL_ACCURACY = _("val accuracy", "验证准确率")
LEARNING_RATE = _("learning rate", "学习率")
TRAIN_ACCURACY = _("train accuracy", "训练准确率")
HELD_OUT_ACCURACY = _("held-out accuracy", "留出集准确率")
CROSS_ENTROPY = _("cross-entropy", "交叉熵")
PARAMETERS = _("parameters", "参数量")
PARAMETERS_LOG = _("parameters (log)", "参数量（对数）")
# Table headers and legend names that recur.
TRAIN = _("train", "训练")
VALIDATION = _("validation", "验证")
MODEL = _("model", "模型")
METHOD = _("method", "方法")
RUN = _("run", "训练组")
SUMMARY = _("Summary", "汇总")


def _layout(fig: go.Figure, x: T, y: T, lang: str, log_y: bool = False) -> go.Figure:
    fig.update_layout(xaxis_title=x.get(lang), yaxis_title=y.get(lang), margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.02), height=380)
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def curves(series: dict[str, Sequence[float]], x: T, y: T, lang: str, log_y: bool = False,
           dashes: dict[str, str] | None = None) -> go.Figure:
    """One line per named series against its index (step or epoch), starting at 1."""
    fig = go.Figure()
    for i, (name, values) in enumerate(series.items()):
        fig.add_scatter(x=np.arange(1, len(values) + 1), y=list(values), mode="lines", name=name,
                        line=dict(color=PALETTE[i % len(PALETTE)], dash=(dashes or {}).get(name, "solid")))
    return _layout(fig, x, y, lang, log_y)


def bars(values: dict[str, float], x: T, y: T, lang: str, log_y: bool = False) -> go.Figure:
    """One bar per name."""
    fig = go.Figure(go.Bar(x=list(values), y=list(values.values()),
                           marker_color=[PALETTE[i % len(PALETTE)] for i in range(len(values))]))
    return _layout(fig, x, y, lang, log_y)


def grouped_bars(groups: dict[str, dict[str, float]], x: T, y: T, lang: str) -> go.Figure:
    """Side-by-side bars: one colour per group (a legend entry), one bar per category inside it."""
    fig = go.Figure([go.Bar(name=name, x=list(values), y=list(values.values()), marker_color=PALETTE[i % len(PALETTE)])
                     for i, (name, values) in enumerate(groups.items())])
    fig.update_layout(barmode="group")
    return _layout(fig, x, y, lang)


def contour_paths(xs: np.ndarray, ys: np.ndarray, zs: np.ndarray, paths: dict[str, np.ndarray],
                  minimum: tuple[float, float], lang: str, axes: tuple[T, T] | None = None) -> go.Figure:
    """Contours of a 2-D function (log-spaced levels) with one (steps, 2) trajectory per name.

    `axes` names the two coordinates (default "x", "y")."""
    fig = go.Figure(go.Contour(x=xs, y=ys, z=np.log10(zs + 1e-3), showscale=False, colorscale="Greys",
                               contours=dict(coloring="lines"), hoverinfo="skip"))
    for i, (name, path) in enumerate(paths.items()):
        fig.add_scatter(x=path[:, 0], y=path[:, 1], mode="lines+markers", name=name, marker=dict(size=3),
                        line=dict(color=PALETTE[i % len(PALETTE)]))
    fig.add_scatter(x=[minimum[0]], y=[minimum[1]], mode="markers", name="min",
                    marker=dict(symbol="star", size=14, color="black"))
    fig.update_xaxes(range=[xs.min(), xs.max()])
    fig.update_yaxes(range=[ys.min(), ys.max()], scaleanchor="x")
    return _layout(fig, *(axes or (T("x", "x"), T("y", "y"))), lang)


def image_grid(images: np.ndarray, rows: list[T], titles: list[str], lang: str,
               overlays: dict[int, np.ndarray] | None = None, boxes: np.ndarray | None = None) -> go.Figure:
    """A grid of RGB images (R, N, H, W, 3) in [0, 1]; overlays: row -> heat maps (N, H, W) in [0, 1];
    boxes (N, 4) as inclusive (x0, y0, x1, y1) drawn on every row."""
    num_rows, num_cols = images.shape[:2]
    fig = make_subplots(num_rows, num_cols, subplot_titles=titles + [""] * (num_rows - 1) * num_cols,
                        horizontal_spacing=0.01, vertical_spacing=0.03)
    for r in range(num_rows):
        for c in range(num_cols):
            fig.add_trace(go.Image(z=(images[r, c] * 255).astype(np.uint8), hoverinfo="skip"), r + 1, c + 1)
            if overlays and r in overlays:
                fig.add_trace(go.Heatmap(z=overlays[r][c], zmin=0, zmax=1, colorscale="Jet", opacity=0.45,
                                         showscale=False, hoverinfo="skip"), r + 1, c + 1)
            if boxes is not None:
                x0, y0, x1, y1 = boxes[c]
                fig.add_shape(type="rect", x0=x0 - 0.5, y0=y0 - 0.5, x1=x1 + 0.5, y1=y1 + 0.5, row=r + 1, col=c + 1,
                              line=dict(color="white", dash="dash", width=1))
        fig.update_yaxes(title_text=rows[r].get(lang), row=r + 1, col=1)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(height=150 * num_rows + 40, margin=dict(l=10, r=10, t=30, b=10))
    return fig


def lines_xy(series: dict[str, tuple[Sequence[float], Sequence[float]]], x: T, y: T, lang: str,
             log_y: bool = False, log_x: bool = False, dashes: dict[str, str] | None = None) -> go.Figure:
    """One line with markers per name, through explicit (xs, ys) points; `dashes` maps a name to a dash style."""
    fig = go.Figure()
    for i, (name, (xs, ys)) in enumerate(series.items()):
        fig.add_scatter(x=list(xs), y=list(ys), mode="lines+markers", name=name,
                        line=dict(color=PALETTE[i % len(PALETTE)], dash=(dashes or {}).get(name, "solid")))
    if log_x:
        fig.update_xaxes(type="log")
    return _layout(fig, x, y, lang, log_y)


def heatmap(z: np.ndarray, x_labels: Sequence[str], y_labels: Sequence[str], x: T, y: T, lang: str,
            zmax: float | None = None) -> go.Figure:
    """A matrix (rows = y_labels, columns = x_labels) as a heatmap, first row at the top."""
    fig = go.Figure(go.Heatmap(z=z, x=[str(v) for v in x_labels], y=[str(v) for v in y_labels], zmin=0, zmax=zmax,
                               colorscale="Blues", hovertemplate="%{y} → %{x}: %{z:.2f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, x, y, lang)


def scatter_lines(x: np.ndarray, y: np.ndarray, highlight: np.ndarray, lines: dict[str, tuple], lang: str) -> go.Figure:
    """Points (highlighted ones in red) with one straight line per name through its (xs, ys)."""
    fig = go.Figure()
    fig.add_scatter(x=x[~highlight], y=y[~highlight], mode="markers", marker=dict(size=5, color="#888"),
                    name=T("data", "数据").get(lang))
    fig.add_scatter(x=x[highlight], y=y[highlight], mode="markers", marker=dict(size=6, color="#d62728"),
                    name=T("outliers", "离群点").get(lang))
    for i, (name, (xs, ys)) in enumerate(lines.items()):
        fig.add_scatter(x=list(xs), y=list(ys), mode="lines", name=name, line=dict(color=PALETTE[i % len(PALETTE)]))
    return _layout(fig, T("x", "x"), T("y", "y"), lang)


def histogram_counts(series: dict[str, Sequence[float]], bins: int = 60) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Shared bin edges (bins + 1,) over all series, and each series' counts (bins,)."""
    values = {name: np.asarray(v, dtype=float).ravel() for name, v in series.items()}
    everything = np.concatenate(list(values.values()))
    edges = np.histogram_bin_edges(everything, bins=bins)
    return edges, {name: np.histogram(v, bins=edges)[0] for name, v in values.items()}


def histograms(series: dict[str, Sequence[float]], x: T, y: T, lang: str, bins: int = 60,
               log_y: bool = False) -> go.Figure:
    """One step-line histogram per name on shared bins, so overlapping distributions stay readable."""
    edges, counts = histogram_counts(series, bins)
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure()
    for i, (name, c) in enumerate(counts.items()):
        shown = np.where(c > 0, c, np.nan) if log_y else c  # empty bins have no place on a log axis
        fig.add_scatter(x=centres, y=shown, mode="lines", name=name,
                        line=dict(shape="hvh", color=PALETTE[i % len(PALETTE)]))
    return _layout(fig, x, y, lang, log_y)


def decision_boundaries(panels: dict[str, np.ndarray], xs: np.ndarray, ys: np.ndarray, X: np.ndarray,
                        y: np.ndarray, lang: str, cols: int = 2) -> go.Figure:
    """One panel per name: P(class 1) on the grid (len(ys), len(xs)) as a heat map with its 0.5 contour,
    and the points X (N, 2) coloured by their label y (N,) in {0, 1}."""
    num_rows = -(-len(panels) // cols)
    fig = make_subplots(num_rows, cols, subplot_titles=list(panels), horizontal_spacing=0.04, vertical_spacing=0.08)
    for i, probs in enumerate(panels.values()):
        r, c = i // cols + 1, i % cols + 1
        fig.add_trace(go.Heatmap(x=xs, y=ys, z=probs, zmin=0, zmax=1, colorscale="RdBu_r", opacity=0.6,
                                 showscale=False, hoverinfo="skip"), r, c)
        fig.add_trace(go.Contour(x=xs, y=ys, z=probs, contours=dict(start=0.5, end=0.5, coloring="lines"),
                                 line=dict(color="black", width=2), showscale=False, hoverinfo="skip"), r, c)
        for label, colour in ((0, PALETTE[0]), (1, PALETTE[1])):
            keep = y == label
            fig.add_scatter(x=X[keep, 0], y=X[keep, 1], mode="markers", showlegend=False, hoverinfo="skip",
                            marker=dict(size=3, color=colour), row=r, col=c)
    fig.update_xaxes(showticklabels=False, range=[xs.min(), xs.max()])
    fig.update_yaxes(showticklabels=False, range=[ys.min(), ys.max()])
    fig.update_layout(height=320 * num_rows + 40, margin=dict(l=10, r=10, t=40, b=10))
    return fig
