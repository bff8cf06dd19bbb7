"""Figures of the pages other than the explorer (groups wiring, documented examples, the About
page's correlation example): pure builders ``(data, options) -> plotly.graph_objects.Figure``.

The explorer draws in the browser (``app/static/view``); these stay plain ``st.plotly_chart``
figures.  One diverging, colorblind-safe scale centred on zero for every value in the app:
ColorBrewer's RdBu (negative red, positive blue), written out stop by stop (Streamlit's chart
theme replaces an unset scale, and plotly.js's own "RdBu" is a different palette).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import colorbrewer

import convcore as cc

COLORSCALE = [[i / (len(colorbrewer.RdBu) - 1), c] for i, c in enumerate(colorbrewer.RdBu)]


# ------------------------------------------------------------------------------ groups

def groups_figure(gmap, highlight_out: int | None = None, presenter: bool = False) -> go.Figure:
    """Wiring of a grouped convolution from :func:`convcore.group_map`: input maps on the left,
    output maps on the right, one line per (input, output) pair that shares a kernel slice,
    coloured by group."""
    font = 18 if presenter else 12
    cin, cout, g = gmap.in_channels, gmap.out_channels, gmap.groups
    palette = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
               "#666666"]
    yin = np.linspace(0, 1, cin) if cin > 1 else np.array([0.5])
    yout = np.linspace(0, 1, cout) if cout > 1 else np.array([0.5])
    traces = []
    edges = np.asarray(gmap.edges, dtype=np.int64).reshape(-1, 2)
    for grp in range(g):
        sel = edges[[gmap.group_of_out(int(o)) == grp for o in edges[:, 1]]]
        xs = np.tile([0.0, 1.0, np.nan], len(sel))
        ys = np.column_stack([yin[sel[:, 0]], yout[sel[:, 1]], np.full(len(sel), np.nan)])
        traces.append(go.Scatter(x=xs, y=ys.ravel(), mode="lines", hoverinfo="skip",
                                 line=dict(color=palette[grp % len(palette)],
                                           width=1 if len(edges) > 300 else 2),
                                 opacity=0.35 if highlight_out is not None else 0.8,
                                 name=f"group {grp}"))
    if highlight_out is not None and 0 <= highlight_out < cout:
        ins = np.asarray(gmap.inputs_of(highlight_out))
        xs = np.tile([0.0, 1.0, np.nan], len(ins))
        ys = np.column_stack([yin[ins], np.full(len(ins), yout[highlight_out]),
                              np.full(len(ins), np.nan)]).ravel()
        traces.append(go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip", name="highlight",
                                 line=dict(color="#111", width=3)))
    gin = [gmap.group_of_in(c) for c in range(cin)]
    gout = [gmap.group_of_out(c) for c in range(cout)]
    traces.append(go.Scatter(
        x=np.zeros(cin), y=yin, mode="markers+text" if cin <= 32 else "markers",
        text=[f"x{c}" for c in range(cin)], textposition="middle left", name="input maps",
        marker=dict(size=14 if cin <= 32 else 6, color=[palette[i % 8] for i in gin],
                    line=dict(color="#111", width=1)),
        textfont=dict(size=font),
        hovertemplate=[f"input map {c} (group {gin[c]}) feeds outputs "
                       f"{_range_text(gmap.outputs_of(c))}<extra></extra>" for c in range(cin)]))
    traces.append(go.Scatter(
        x=np.ones(cout), y=yout, mode="markers+text" if cout <= 32 else "markers",
        text=[f"out{c}" for c in range(cout)], textposition="middle right",
        name="output maps", textfont=dict(size=font),
        marker=dict(size=14 if cout <= 32 else 6, symbol="square",
                    color=[palette[i % 8] for i in gout], line=dict(color="#111", width=1)),
        hovertemplate=[f"output map {c} (group {gout[c]}) reads inputs "
                       f"{_range_text(gmap.inputs_of(c))}<extra></extra>"
                       for c in range(cout)]))
    height = int(min(900, max(320, 18 * max(cin, cout)))) * (1.3 if presenter else 1)
    layout = dict(height=int(height), showlegend=False, font=dict(size=font),
                  margin=dict(l=60, r=60, t=40, b=10), plot_bgcolor="white",
                  title=dict(text=f"{cin} input maps → {cout} output maps, groups={g}: "
                                  f"each output reads {gmap.in_per_group} input map"
                                  f"{'s' if gmap.in_per_group > 1 else ''}"),
                  xaxis=dict(visible=False, range=[-0.25, 1.25]),
                  yaxis=dict(visible=False, autorange="reversed"))
    return go.Figure(data=traces, layout=layout)


def _range_text(idx) -> str:
    idx = list(idx)
    return str(idx[0]) if len(idx) == 1 else f"{idx[0]}–{idx[-1]}"


# ------------------------------------------------------------------------------ examples, about

STATUS_COLORS = {"match": "#1b9e77", "erratum": "#e6ab02", "mismatch": "#d7191c"}


def examples_figure(rows, presenter: bool = False) -> go.Figure:
    """One marker per documented example, by document, coloured by its check's status.

    ``rows``: ``(document, section, status)`` in registry order."""
    font = 18 if presenter else 12
    docs = list(dict.fromkeys(r[0] for r in rows))
    position: dict = {}
    xs, ys, colors, text = [], [], [], []
    for doc, section, status in rows:
        position[doc] = position.get(doc, -1) + 1
        xs.append(position[doc])
        ys.append(doc)
        colors.append(STATUS_COLORS.get(status, "#999"))
        text.append(f"{section}: {status}")
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="markers", text=text,
                               marker=dict(size=22 if presenter else 16, color=colors,
                                           symbol="square", line=dict(color="#333", width=1)),
                               hovertemplate="%{y}<br>%{text}<extra></extra>",
                               name="examples"))
    fig.update_layout(height=80 + 46 * len(docs), margin=dict(l=10, r=10, t=30, b=10),
                      font=dict(size=font), plot_bgcolor="white", showlegend=False,
                      title=dict(text="green: matches · yellow: erratum in the document · "
                                      "red: mismatch", font=dict(size=font)),
                      xaxis=dict(visible=False), yaxis=dict(autorange="reversed"))
    return fig


def number_list(values) -> str:
    """Numbers as a learner writes them: ``[0.5, −2]`` (not ``[np.float32(0.5), ...]``)."""
    return "[" + ", ".join(cc.format_number(v) for v in np.asarray(values).ravel()) + "]"


def correlation_figure(x, w, corr, conv, presenter: bool = False) -> go.Figure:
    """The input, and cross-correlation vs convolution (flipped kernel) of the About page."""
    font = 18 if presenter else 12
    fig = go.Figure([
        go.Bar(x=np.arange(len(x)), y=x, name="input x", marker_color="#bbbbbb"),
        go.Scatter(x=np.arange(len(corr)), y=corr, mode="lines+markers",
                   name=f"cross-correlation with w = {number_list(w)}",
                   line=dict(color="#2166ac", width=3)),
        go.Scatter(x=np.arange(len(conv)), y=conv, mode="lines+markers",
                   name="convolution (w flipped)", line=dict(color="#b2182b", width=3,
                                                             dash="dash")),
    ])
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), font=dict(size=font),
                      plot_bgcolor="white", legend=dict(orientation="h", y=1.12),
                      xaxis=dict(title="index", dtick=1), yaxis=dict(zeroline=True))
    return fig
