"""Pure figure builders: ``(scene, options) -> plotly.graph_objects.Figure``.

No Streamlit here, and no convolution arithmetic: a :class:`Scene` carries what convcore's
trace computed (padded input with its padding mask and sources, the window's taps, the output)
and these functions only draw it.  Everything is in *input coordinates*: padding cells sit at
negative indices or past the end, exactly where ``Tap.input_index`` puts them.

The explorer figure animates in the browser: each Plotly frame moves the window outline (a
layout shape), the tap markers (one small scatter trace) and the "not yet computed" cover of the
output; no frame carries a full array.  The explorer is written as a plain Plotly spec (see
:class:`SpecFigure`): validating it property by property costs more than the rest of a rerun.
"""

from __future__ import annotations

import copy
import io
import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from _plotly_utils.utils import convert_to_base64
from plotly.colors import colorbrewer

# One diverging, colorblind-safe scale centred on zero for every value in the app: ColorBrewer's
# RdBu (negative red, positive blue), written out stop by stop on every trace.  Streamlit's
# chart theme replaces an unset scale, and plotly.js's own "RdBu" is a different palette.
COLORSCALE = [[i / (len(colorbrewer.RdBu) - 1), c] for i, c in enumerate(colorbrewer.RdBu)]
PAD_OPACITY = 0.45
WINDOW_COLOR = "#111111"
TAP_COLOR = "#f2a900"
OUT_HIGHLIGHT = "#111111"
NEVER_READ_COLOR = "#6a3d9a"
COVER = "rgba(245, 245, 245, 0.93)"
MAX_FRAMES = 200
MAX_SIDE_2D = 96  # displayed cells per side; bigger maps are shown subsampled (with a notice)
MAX_STRIP_1D = 400
MAX_LINE_1D = 2000
MAX_TEXT_2D = 16  # values are written in cells when a side has at most this many cells
MAX_TEXT_1D = 40


@dataclass(frozen=True)
class Scene:
    """What one explorer view shows, in input coordinates, taken from convcore's trace.

    ``padded``/``is_padding``/``source`` come from :func:`convcore.padded_input` (one map of
    it), ``taps`` and ``frame_taps`` from :func:`convcore.trace_step` /
    :func:`convcore.window_map` (shifted by the low pads into input coordinates), ``output``
    from the core's result and ``never_read`` from :func:`convcore.coverage`.
    """

    padded: np.ndarray  # (*padded_spatial) the shown input map, padding included
    is_padding: np.ndarray  # bool (*padded_spatial)
    source: np.ndarray | None  # (ndim, *padded_spatial) source cell of each pad; None: zeros
    lo: tuple  # low padding per axis: input index = padded index - lo
    in_shape: tuple  # the unpadded spatial shape
    mode: str
    kernel: np.ndarray  # (*dilated_kernel) the shown kernel slice with dilation's zeros
    kernel_taps: np.ndarray  # bool (*dilated_kernel): True on real taps, False on the gaps
    output: np.ndarray  # (*out_spatial) the shown output map
    step: int
    taps: np.ndarray  # (K, ndim) input coordinates of the current window's taps
    frame_steps: np.ndarray  # (F,) steps shown by the Play animation
    frame_taps: np.ndarray  # (F, K, ndim) their taps
    never_read: tuple  # per axis: input indices no window reads
    in_label: str = "x[0]"  # the shown input map, e.g. "x[0]" (channel 0)
    out_label: str = "out[0,0]"  # the shown output map, e.g. "out[0,1]" (item 0, map 1)
    k_label: str = "w[0,0]"

    @property
    def ndim(self) -> int:
        return self.padded.ndim

    @property
    def steps(self) -> int:
        return int(self.output.size)


@dataclass(frozen=True)
class FigureOptions:
    frame_ms: int = 500
    presenter: bool = False
    show_values: bool = True

    @property
    def font(self) -> int:
        return 18 if self.presenter else 12


class SpecFigure(go.Figure):
    """A ``go.Figure`` made from a finished Plotly spec of plain dicts.

    Building the explorer property by property through plotly's validators costs about 20 ms
    (far more with hundreds of frames), a fifth of a rerun's budget, so the builders write the
    spec directly.  Everything that serializes a figure (``st.plotly_chart``, ``to_json``,
    ``to_html``, ``show``) goes through :meth:`to_dict`, so the spec reaches the browser as
    written; :meth:`validated` is the same figure checked by plotly (the tests use it).
    """

    def __init__(self, data, layout, frames=()):
        super().__init__()
        spec = {"data": list(data), "layout": dict(layout)}
        if frames:
            spec["frames"] = list(frames)
        convert_to_base64(spec)  # NumPy arrays become typed arrays, as in go.Figure.to_dict
        self._spec = spec

    @property
    def spec(self) -> dict:
        return self._spec

    @property
    def raw_frames(self) -> list:
        return self._spec.get("frames", [])

    def to_dict(self):
        return {key: copy.copy(value) for key, value in self._spec.items()}

    def to_plotly_json(self):
        return self.to_dict()

    def validated(self) -> go.Figure:
        return go.Figure(self.to_dict())


def _scatter(**kw) -> dict:
    return dict(type="scatter", **kw)


# ------------------------------------------------------------------------------ helpers

def frame_steps(total: int, cap: int = MAX_FRAMES) -> np.ndarray:
    """The steps the Play animation shows: all of them, or ``cap`` evenly spread ones."""
    if total <= cap:
        return np.arange(total)
    return np.unique(np.linspace(0, total - 1, cap).round().astype(np.int64))


def subsample_factor(sides, max_side: int) -> int:
    """Show every k-th cell so that no displayed side exceeds ``max_side``."""
    return max(1, math.ceil(max(sides) / max_side))


def subsample_factors(shape, max_side: int) -> tuple:
    """One :func:`subsample_factor` per axis (a 20x1024 image keeps its 20 rows)."""
    return tuple(subsample_factor((n,), max_side) for n in shape)


def fmt(v) -> str:
    v = float(v)
    if v == int(v) and abs(v) < 1e9:
        return str(int(v))
    return f"{v:.4g}"


def _unravel(step: int, shape) -> tuple:
    return tuple(int(i) for i in np.unravel_index(int(step), shape))


def step_title(scene: Scene, step: int) -> str:
    cell = _unravel(step, scene.output.shape)
    where = ",".join(str(i) for i in cell)
    return (f"step {step} of 0–{scene.steps - 1}: {scene.out_label[:-1]},{where}] = "
            f"{fmt(scene.output[cell])}")


def _box(taps: np.ndarray) -> tuple:
    """(lo, hi) corners of the cells spanned by the taps, per axis, in cell-edge coordinates."""
    return taps.min(axis=0) - 0.5, taps.max(axis=0) + 0.5


def _value_font(opts: FigureOptions) -> dict:
    return dict(size=opts.font - 1)


def _pad_text(scene: Scene, ks: tuple) -> np.ndarray | None:
    """For copy modes: the source cell of each displayed padding cell, e.g. "←2"."""
    if scene.source is None:
        return None
    sub = tuple(slice(None, None, k) for k in ks)
    src = scene.source[(slice(None), *sub)]
    pad = scene.is_padding[sub]
    text = np.full(pad.shape, "", dtype=object)
    for idx in zip(*np.nonzero(pad)):
        text[idx] = "←" + ",".join(str(int(src[(a, *idx)])) for a in range(scene.ndim))
    return text


def _play_menu(opts: FigureOptions, layout: dict) -> list:
    """Play / Pause in the top margin (paper y above 1 by the margin's pixels)."""
    m = layout["margin"]
    y = 1 + (m["t"] - 10) / (layout["height"] - m["t"] - m["b"])
    play = dict(frame=dict(duration=opts.frame_ms, redraw=True), fromcurrent=True,
                transition=dict(duration=0), mode="immediate")
    pause = dict(frame=dict(duration=0, redraw=False), transition=dict(duration=0),
                 mode="immediate")
    return [dict(type="buttons", direction="left", showactive=False, x=0.0, y=y,
                 xanchor="left", yanchor="top", pad=dict(r=6, t=0, b=0),
                 font=dict(size=opts.font),
                 buttons=[dict(label="▶ Play", method="animate", args=[None, play]),
                          dict(label="❚❚ Pause", method="animate", args=[[None], pause])])]


def _title(scene: Scene, opts: FigureOptions, height: int) -> dict:
    return dict(text=step_title(scene, scene.step), xref="paper", x=0.2 if opts.presenter
                else 0.17, xanchor="left", yref="container", y=1 - 14 / height,
                yanchor="top", font=dict(size=opts.font + 1))


def _ticks(n: int, opts: FigureOptions) -> dict:
    """Integer ticks only (cells sit on integers), about ten of them."""
    step = max(1, math.ceil(n / 10))
    return dict(tickmode="linear", tick0=0, dtick=step, ticks="",
                tickfont=dict(size=opts.font - 2))


def _heat(z, x0, dx, y0, dy, axes, zmax, **kw) -> dict:
    xa, ya = axes
    return dict(type="heatmap", z=z, x0=x0, dx=dx, y0=y0, dy=dy, xaxis=xa, yaxis=ya,
                colorscale=COLORSCALE, zmid=0, zmin=-zmax, zmax=zmax, showscale=False, **kw)


def _zmax(*arrays) -> float:
    m = max((float(np.nanmax(np.abs(a))) if a.size else 0.0) for a in arrays)
    return m if m > 0 else 1.0


def _texttemplate(show: bool) -> str | None:
    return "%{z:.3~g}" if show else None


# ------------------------------------------------------------------------------ explorer 2-D

def _explorer_2d(scene: Scene, opts: FigureOptions) -> SpecFigure:
    padded, pad = scene.padded, scene.is_padding
    hp, wp = padded.shape
    lo_h, lo_w = scene.lo
    kh, kw = subsample_factors(padded.shape, MAX_SIDE_2D)
    out = scene.output
    ho, wo = out.shape
    koh, kow = subsample_factors(out.shape, MAX_SIDE_2D)
    zmax_in = _zmax(padded)
    zmax_k = _zmax(scene.kernel)
    zmax_out = _zmax(out)
    text_in = opts.show_values and max(hp, wp) <= MAX_TEXT_2D
    text_out = opts.show_values and max(ho, wo) <= MAX_TEXT_2D
    sub = (slice(None, None, kh), slice(None, None, kw))
    disp, disp_pad = padded[sub], pad[sub]
    real = np.where(disp_pad, np.nan, disp)
    traces: list = [_heat(real, -lo_w, kw, -lo_h, kh, ("x", "y"), zmax_in,
                          texttemplate=_texttemplate(text_in), textfont=_value_font(opts),
                          name="input",
                          hovertemplate=f"{scene.in_label[:-1]},%{{y}},%{{x}}] = %{{z:.4g}}"
                                        "<extra>input</extra>")]
    if pad.any():
        pad_vals = np.where(disp_pad, disp, np.nan)
        ptext = _pad_text(scene, (kh, kw))
        tmpl = None
        if text_in:
            tmpl = "%{z:.3~g}<br>%{text}" if ptext is not None else "%{z:.3~g}"
        traces.append(_heat(pad_vals, -lo_w, kw, -lo_h, kh, ("x", "y"), zmax_in,
                            opacity=PAD_OPACITY, text=None if ptext is None else ptext.tolist(),
                            texttemplate=tmpl,
                            textfont=dict(size=opts.font - 3, color="#555"), name="padding",
                            hovertemplate=f"padding ({scene.mode}) at [%{{y}},%{{x}}] = "
                                          "%{z:.4g}" + (" copies x%{text}"
                                                        if ptext is not None else "")
                                          + "<extra>padding</extra>"))
        h_in, w_in = scene.in_shape
        traces.append(_scatter(x=[-0.5, w_in - 0.5, w_in - 0.5, -0.5, -0.5],
                                 y=[-0.5, -0.5, h_in - 0.5, h_in - 0.5, -0.5], mode="lines",
                                 line=dict(color="#444", width=1.5, dash="dot"),
                                 hoverinfo="skip", showlegend=False, xaxis="x", yaxis="y",
                                 name="input boundary"))
    traces.extend(_never_read_2d(scene, (kh, kw)))
    tap_trace = len(traces)
    traces.append(_taps_trace(scene.taps[:, 1], scene.taps[:, 0], ("x", "y"), opts,
                              size=max(6, min(34, 300 // max(1, hp // kh, wp // kw)))))
    # kernel (with dilation's zeros greyed)
    ker = np.where(scene.kernel_taps, scene.kernel, np.nan)
    kh, kw = ker.shape
    text_k = opts.show_values and max(kh, kw) <= MAX_TEXT_2D
    traces.append(_heat(ker, 0, 1, 0, 1, ("x2", "y2"), zmax_k,
                        texttemplate=_texttemplate(text_k), textfont=_value_font(opts),
                        name="kernel", hovertemplate=f"{scene.k_label[:-1]},%{{y}},%{{x}}] "
                                                     "(dilated position) = %{z:.4g}"
                                                     "<extra>kernel</extra>"))
    if not scene.kernel_taps.all():
        gap = np.where(scene.kernel_taps, np.nan, 0.0)
        traces.append(dict(type="heatmap", z=gap, colorscale=[[0, "#d9d9d9"], [1, "#d9d9d9"]],
                                 showscale=False, xaxis="x2", yaxis="y2", hoverinfo="skip",
                                 texttemplate="0" if text_k else None, name="dilation gap",
                                 textfont=dict(size=opts.font - 2, color="#888")))
    # output (hover comes from the click overlay)
    sub_o = (slice(None, None, koh), slice(None, None, kow))
    traces.append(_heat(out[sub_o], 0, kow, 0, koh, ("x3", "y3"), zmax_out,
                        texttemplate=_texttemplate(text_out), textfont=_value_font(opts),
                        hoverinfo="skip", name="output"))
    rows, cols = np.meshgrid(np.arange(0, ho, koh), np.arange(0, wo, kow), indexing="ij")
    traces.append(_click_overlay(cols.ravel(), rows.ravel(),
                                 np.ravel_multi_index((rows.ravel(), cols.ravel()), out.shape),
                                 out[rows, cols].ravel(), ("x3", "y3"), scene,
                                 max(ho // koh, wo // kow)))

    widths = _column_fractions([wp, kw, wo])
    layout = _base_layout(opts, height=(680 if opts.presenter else 480))
    x0 = 0.0
    for i, (frac, (xa, ya), (nrows, ncols), (oy, ox), title) in enumerate(zip(
            widths, [("x", "y"), ("x2", "y2"), ("x3", "y3")],
            [(hp, wp), (kh, kw), (ho, wo)], [(lo_h, lo_w), (0, 0), (0, 0)],
            [f"input {scene.in_label} (padded)", f"kernel {scene.k_label}",
             f"output {scene.out_label}"])):
        sfx = "" if i == 0 else str(i + 1)
        layout[f"xaxis{sfx}"] = dict(domain=[x0, min(1.0, x0 + frac)], anchor=ya, range=[
            -ox - 0.5, ncols - ox - 0.5], constrain="domain", showgrid=False, zeroline=False,
            title=dict(text=title, font=dict(size=opts.font)), side="top",
            **_ticks(ncols, opts))
        square = max(nrows, ncols) <= 6 * min(nrows, ncols)  # else cells stretch to be seen
        layout[f"yaxis{sfx}"] = dict(domain=[0.0, 1.0], anchor=xa,
                                     **(dict(scaleanchor=xa, scaleratio=1) if square else {}),
                                     range=[nrows - oy - 0.5, -oy - 0.5],
                                     constrain="domain", showgrid=False, zeroline=False,
                                     **_ticks(nrows, opts))
        x0 += frac + 0.05
    layout["updatemenus"] = _play_menu(opts, layout)
    layout["shapes"] = _shapes_2d(scene, scene.taps, scene.step)
    layout["title"] = _title(scene, opts, layout["height"])
    fig = SpecFigure(traces, layout, [
        dict(name=str(int(s)), traces=[tap_trace],
             data=[dict(type="scatter", x=taps[:, 1].tolist(), y=taps[:, 0].tolist())],
             layout=dict(shapes=_shapes_2d(scene, taps, int(s)),
                         title=dict(text=step_title(scene, int(s)))))
        for s, taps in zip(scene.frame_steps, scene.frame_taps)])
    return fig


def _column_fractions(widths) -> list:
    w = np.maximum(np.asarray(widths, dtype=float), 1.0)
    frac = np.maximum(w / w.sum(), [0.25, 0.14, 0.2])
    return list(frac / frac.sum() * 0.9)


def _base_layout(opts: FigureOptions, height: int) -> dict:
    return dict(height=height, margin=dict(l=10, r=10, t=150 if opts.presenter else 120, b=30),
                font=dict(size=opts.font), showlegend=False, clickmode="event+select",
                hovermode="closest", dragmode=False, plot_bgcolor="white",
                paper_bgcolor="white", uirevision="explorer")


def _shapes_2d(scene: Scene, taps: np.ndarray, step: int) -> list:
    (y0, x0), (y1, x1) = _box(taps)
    shapes = [dict(type="rect", xref="x", yref="y", x0=float(x0), x1=float(x1), y0=float(y0),
                   y1=float(y1), line=dict(color=WINDOW_COLOR, width=3), name="window")]
    r, c = _unravel(step, scene.output.shape)
    ho, wo = scene.output.shape
    shapes.append(dict(type="rect", xref="x3", yref="y3", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5,
                       y1=r + 0.5, line=dict(color=OUT_HIGHLIGHT, width=3), name="current"))
    if c + 1 < wo:
        shapes.append(dict(type="rect", xref="x3", yref="y3", x0=c + 0.5, x1=wo - 0.5,
                           y0=r - 0.5, y1=r + 0.5, fillcolor=COVER, line=dict(width=0),
                           layer="above", name="not yet computed"))
    if r + 1 < ho:
        shapes.append(dict(type="rect", xref="x3", yref="y3", x0=-0.5, x1=wo - 0.5,
                           y0=r + 0.5, y1=ho - 0.5, fillcolor=COVER, line=dict(width=0),
                           layer="above", name="not yet computed"))
    return shapes


def _never_read_2d(scene: Scene, ks: tuple) -> list:
    rows, cols = (np.asarray(a, dtype=np.int64) for a in scene.never_read)
    if rows.size == 0 and cols.size == 0:
        return []
    h, w = scene.in_shape
    ys = np.arange(-scene.lo[0], scene.padded.shape[0] - scene.lo[0], ks[0])
    xs = np.arange(-scene.lo[1], scene.padded.shape[1] - scene.lo[1], ks[1])
    ys, xs = ys[(ys >= 0) & (ys < h)], xs[(xs >= 0) & (xs < w)]
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    mask = np.isin(yy, rows) | np.isin(xx, cols)
    return [_scatter(x=xx[mask], y=yy[mask], mode="markers", xaxis="x", yaxis="y",
                       marker=dict(symbol="x-thin-open", size=9, color=NEVER_READ_COLOR,
                                   line=dict(width=2, color=NEVER_READ_COLOR)),
                       name="never read", hovertemplate="[%{y},%{x}] is never read by any "
                                                        "window<extra></extra>")]


def _taps_trace(x, y, axes, opts: FigureOptions, size: int) -> dict:
    return _scatter(x=np.asarray(x).tolist(), y=np.asarray(y).tolist(), mode="markers",
                      xaxis=axes[0], yaxis=axes[1], name="taps", hoverinfo="skip",
                      marker=dict(symbol="circle-open", size=size + (6 if opts.presenter else 0),
                                  color=TAP_COLOR, line=dict(color=TAP_COLOR, width=3)))


def _click_overlay(x, y, steps, values, axes, scene: Scene, cells: int) -> dict:
    """Transparent square markers over the output (``cells``: displayed cells along the longer
    side): a click selects one and reaches ``st.plotly_chart(on_select=...)``, which heatmap
    clicks do not."""
    size = max(6, min(40, 320 // max(1, cells)))
    where = "%{y},%{x}" if scene.ndim == 2 else "%{x}"
    return _scatter(x=np.asarray(x), y=np.asarray(y), customdata=np.asarray(steps),
                      text=[fmt(v) for v in values] if len(values) <= 4096 else None,
                      mode="markers", xaxis=axes[0], yaxis=axes[1], name="output cells",
                      marker=dict(symbol="square", size=size, color="rgba(0,0,0,0)"),
                      selected=dict(marker=dict(opacity=1)),
                      unselected=dict(marker=dict(opacity=1)),
                      hovertemplate=f"{scene.out_label[:-1]},{where}] = "
                                    + ("%{text}" if len(values) <= 4096 else "")
                                    + " — click: step %{customdata}<extra></extra>")


# ------------------------------------------------------------------------------ explorer 1-D

_ROWS_1D = {  # y domains, top to bottom
    "in_strip": (0.89, 0.98), "in_line": (0.64, 0.87), "kernel": (0.47, 0.54),
    "out_strip": (0.31, 0.39), "out_line": (0.02, 0.29),
}


def _label(text, xref, x, y, opts: FigureOptions, yanchor="bottom") -> dict:
    return dict(text=text, xref=xref, yref="paper", x=x, y=y, xanchor="left",
                yanchor=yanchor, showarrow=False, font=dict(size=opts.font))


def _explorer_1d(scene: Scene, opts: FigureOptions) -> SpecFigure:
    padded, pad = scene.padded, scene.is_padding
    (lp,), (lo,) = padded.shape, scene.lo
    k_in = subsample_factor(padded.shape, MAX_STRIP_1D)
    k_line = subsample_factor(padded.shape, MAX_LINE_1D)
    out = scene.output
    (lo_n,) = out.shape
    k_out = subsample_factor(out.shape, MAX_STRIP_1D)
    k_oline = subsample_factor(out.shape, MAX_LINE_1D)
    zmax_in, zmax_k, zmax_out = _zmax(padded), _zmax(scene.kernel), _zmax(out)
    text_in = opts.show_values and k_in == 1 and lp <= MAX_TEXT_1D
    text_out = opts.show_values and k_out == 1 and lo_n <= MAX_TEXT_1D
    disp, disp_pad = padded[::k_in], pad[::k_in]
    traces: list = [_heat(np.where(disp_pad, np.nan, disp)[None], -lo, k_in, 0, 1, ("x", "y"),
                          zmax_in, texttemplate=_texttemplate(text_in),
                          textfont=_value_font(opts), name="input",
                          hovertemplate=f"{scene.in_label[:-1]},%{{x}}] = %{{z:.4g}}"
                                        "<extra>input</extra>")]
    if pad.any():
        ptext = _pad_text(scene, (k_in,))
        tmpl = None
        if text_in:
            tmpl = "%{z:.3~g}<br>%{text}" if ptext is not None else "%{z:.3~g}"
        traces.append(_heat(np.where(disp_pad, disp, np.nan)[None], -lo, k_in, 0, 1,
                            ("x", "y"), zmax_in, opacity=PAD_OPACITY,
                            text=None if ptext is None else [ptext.tolist()],
                            texttemplate=tmpl,
                            textfont=dict(size=opts.font - 3, color="#555"), name="padding",
                            hovertemplate=f"padding ({scene.mode}) at [%{{x}}] = %{{z:.4g}}"
                                          + (" copies x%{text}" if ptext is not None else "")
                                          + "<extra>padding</extra>"))
    xs = np.arange(-lo, lp - lo)
    line_x, line_y, line_pad = xs[::k_line], padded[::k_line], pad[::k_line]
    traces.append(_scatter(x=line_x[~line_pad], y=line_y[~line_pad], xaxis="x2",
                             yaxis="y2", mode="lines+markers" if lp <= 200 else "lines",
                             line=dict(color="#2166ac", width=1.5), marker=dict(size=5),
                             name="input signal",
                             hovertemplate="x[%{x}] = %{y:.4g}<extra></extra>"))
    if pad.any():
        traces.append(_scatter(x=line_x[line_pad], y=line_y[line_pad], xaxis="x2",
                                 yaxis="y2", mode="markers", name="padding",
                                 marker=dict(size=6, color="#999", symbol="circle-open"),
                                 hovertemplate=f"padding ({scene.mode}) [%{{x}}] = %{{y:.4g}}"
                                               "<extra></extra>"))
    (never,) = scene.never_read
    if len(never):
        nv = np.asarray(never)[:: max(1, len(never) // MAX_LINE_1D)]
        traces.append(_scatter(x=nv, y=np.zeros(len(nv)), xaxis="x", yaxis="y",
                                 mode="markers", name="never read",
                                 marker=dict(symbol="x-thin-open", size=10,
                                             color=NEVER_READ_COLOR,
                                             line=dict(width=2, color=NEVER_READ_COLOR)),
                                 hovertemplate="x[%{x}] is never read<extra></extra>"))
    tap_strip = len(traces)
    size = max(6, min(30, 700 // max(1, lp // k_in)))
    traces.append(_taps_trace(scene.taps[:, 0], np.zeros(len(scene.taps)), ("x", "y"), opts,
                              size))
    tap_line = len(traces)
    traces.append(_taps_trace(scene.taps[:, 0], _values_at(scene, scene.taps), ("x2", "y2"),
                              opts, 9))
    ker = np.where(scene.kernel_taps, scene.kernel, np.nan)
    (kn,) = ker.shape
    traces.append(_heat(ker[None], 0, 1, 0, 1, ("x3", "y3"), zmax_k,
                        texttemplate=_texttemplate(opts.show_values and kn <= MAX_TEXT_1D),
                        textfont=_value_font(opts), name="kernel",
                        hovertemplate=f"{scene.k_label[:-1]},%{{x}}] (dilated position) = "
                                      "%{z:.4g}<extra>kernel</extra>"))
    if not scene.kernel_taps.all():
        traces.append(dict(type="heatmap", z=np.where(scene.kernel_taps, np.nan, 0.0)[None],
                                 colorscale=[[0, "#d9d9d9"], [1, "#d9d9d9"]], showscale=False,
                                 xaxis="x3", yaxis="y3", hoverinfo="skip",
                                 texttemplate="0" if kn <= MAX_TEXT_1D else None,
                                 textfont=dict(size=opts.font - 2, color="#888"),
                                 name="dilation gap"))
    traces.append(_heat(out[::k_out][None], 0, k_out, 0, 1, ("x4", "y4"), zmax_out,
                        texttemplate=_texttemplate(text_out), textfont=_value_font(opts),
                        hoverinfo="skip", name="output"))
    idx = np.arange(0, lo_n, k_out)
    traces.append(_click_overlay(idx, np.zeros(len(idx)), idx, out[idx], ("x4", "y4"), scene,
                                 len(idx)))
    oidx = np.arange(0, lo_n, k_oline)
    traces.append(_scatter(x=oidx, y=out[oidx], xaxis="x5", yaxis="y5",
                             mode="lines+markers" if lo_n <= 200 else "lines",
                             line=dict(color="#b2182b", width=1.5), marker=dict(size=5),
                             name="output signal",
                             hovertemplate=f"{scene.out_label[:-1]},%{{x}}] = %{{y:.4g}}"
                                           "<extra></extra>"))
    layout = _base_layout(opts, height=860 if opts.presenter else 640)
    strip = dict(showgrid=False, zeroline=False, showticklabels=False, ticks="", fixedrange=True)
    plain = dict(showgrid=False, zeroline=False)
    tick = dict(size=opts.font - 2)
    rows = _ROWS_1D
    layout.update(
        xaxis=dict(domain=[0, 1], anchor="y", range=[-lo - 0.5, lp - lo - 0.5],
                   showticklabels=False, **plain),
        yaxis=dict(domain=list(rows["in_strip"]), anchor="x", range=[-0.5, 0.5], **strip),
        xaxis2=dict(domain=[0, 1], anchor="y2", matches="x", **plain, **_ticks(lp, opts)),
        yaxis2=dict(domain=list(rows["in_line"]), anchor="x2", zeroline=True, tickfont=tick),
        xaxis3=dict(domain=[0, min(0.9, max(0.06, kn / max(lp / k_in, 1)))], anchor="y3",
                    range=[-0.5, kn - 0.5], showticklabels=False, **plain),
        yaxis3=dict(domain=list(rows["kernel"]), anchor="x3", range=[-0.5, 0.5], **strip),
        xaxis4=dict(domain=[0, 1], anchor="y4", range=[-0.5, lo_n - 0.5],
                    showticklabels=False, **plain),
        yaxis4=dict(domain=list(rows["out_strip"]), anchor="x4", range=[-0.5, 0.5], **strip),
        xaxis5=dict(domain=[0, 1], anchor="y5", matches="x4", **plain, **_ticks(lo_n, opts)),
        yaxis5=dict(domain=list(rows["out_line"]), anchor="x5", zeroline=True, tickfont=tick),
        annotations=[
            _label(f"input {scene.in_label}, padded", "paper", 0, rows["in_strip"][1], opts),
            _label(f"kernel {scene.k_label}" + (" (dilated: grey = inserted 0)"
                                                 if not scene.kernel_taps.all() else ""),
                   "x3 domain", 1.01, sum(rows["kernel"]) / 2, opts, yanchor="middle"),
            _label(f"output {scene.out_label}", "paper", 0, rows["out_strip"][1], opts),
        ],
        updatemenus=_play_menu(opts, layout),
        shapes=_shapes_1d(scene, scene.taps, scene.step),
        title=_title(scene, opts, layout["height"]),
    )
    frames = [dict(name=str(int(s)), traces=[tap_strip, tap_line],
                   data=[dict(type="scatter", x=taps[:, 0].tolist(), y=[0] * len(taps)),
                         dict(type="scatter", x=taps[:, 0].tolist(),
                              y=_values_at(scene, taps).tolist())],
                   layout=dict(shapes=_shapes_1d(scene, taps, int(s)),
                               title=dict(text=step_title(scene, int(s)))))
              for s, taps in zip(scene.frame_steps, scene.frame_taps)]
    return SpecFigure(traces, layout, frames)


def _values_at(scene: Scene, taps: np.ndarray) -> np.ndarray:
    """Padded-input values at tap coordinates (input coordinates shifted into the array)."""
    idx = tuple((taps[:, a] + scene.lo[a]).astype(np.int64) for a in range(scene.ndim))
    return scene.padded[idx]


def _shapes_1d(scene: Scene, taps: np.ndarray, step: int) -> list:
    (x0,), (x1,) = _box(taps)
    top, bottom = _ROWS_1D["in_strip"][1], _ROWS_1D["in_line"][0]
    o_top, o_bottom = _ROWS_1D["out_strip"][1], _ROWS_1D["out_line"][0]
    (n_out,) = scene.output.shape
    shapes = [dict(type="rect", xref="x", yref="paper", x0=float(x0), x1=float(x1), y0=bottom,
                   y1=top, line=dict(color=WINDOW_COLOR, width=3), name="window"),
              dict(type="rect", xref="x4", yref="paper", x0=step - 0.5, x1=step + 0.5,
                   y0=o_bottom, y1=o_top, line=dict(color=OUT_HIGHLIGHT, width=3),
                   name="current")]
    if step + 1 < n_out:
        shapes.append(dict(type="rect", xref="x4", yref="paper", x0=step + 0.5,
                           x1=n_out - 0.5, y0=o_bottom, y1=o_top, fillcolor=COVER,
                           line=dict(width=0), layer="above", name="not yet computed"))
    return shapes


def explorer_figure(scene: Scene, opts: FigureOptions | None = None) -> SpecFigure:
    """The explorer's one animated figure: padded input with the window, kernel, output.

    2-D: three panels side by side.  1-D: the input as a strip and a line plot, the kernel,
    the output as a strip and a line plot.  A "Play" button runs the frames in the browser.
    """
    opts = opts or FigureOptions()
    if scene.ndim == 2:
        return _explorer_2d(scene, opts)
    if scene.ndim == 1:
        return _explorer_1d(scene, opts)
    raise ValueError(f"explorer_figure draws 1-D and 2-D scenes, got {scene.ndim}-D")


def displayed_subsampling(scene: Scene) -> tuple[int, int]:
    """(input, output) subsampling factors of the heatmaps, for the page's notice."""
    side = MAX_SIDE_2D if scene.ndim == 2 else MAX_STRIP_1D
    return (subsample_factor(scene.padded.shape, side),
            subsample_factor(scene.output.shape, side))


def step_from_selection(selection, out_shape) -> int | None:
    """The step of the output cell a click selected (``st.plotly_chart`` on_select state).

    Only the output overlay carries ``customdata`` (the step), so a click on another scatter
    trace (tap markers, never-read marks) is ignored rather than read as an output cell.
    """
    points = selection.get("points") if hasattr(selection, "get") else None
    for p in points or ():
        custom = p.get("customdata")
        if isinstance(custom, (list, tuple)):
            custom = custom[0] if custom else None
        if custom is None:
            continue
        step = int(custom)
        return step if 0 <= step < math.prod(out_shape) else None
    return None


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


# ------------------------------------------------------------------------------ GIF

def _lut() -> np.ndarray:
    from plotly.colors import sample_colorscale

    cols = sample_colorscale(COLORSCALE, list(np.linspace(0, 1, 256)))
    return np.array([[int(float(v)) for v in c[4:-1].split(",")] for c in cols], np.uint8)


def _colorize(z: np.ndarray, zmax: float, lut: np.ndarray) -> np.ndarray:
    t = np.clip((np.nan_to_num(z) / zmax + 1) / 2, 0, 1)
    return lut[(t * 255).round().astype(np.int64)]


def sliding_window_gif(scene: Scene, frame_ms: int = 500, cell: int | None = None) -> bytes:
    """An animated GIF of the window sliding over the padded input and the output filling in
    (the Play animation's frames, drawn with Pillow: no browser needed)."""
    from PIL import Image, ImageDraw

    lut = _lut()
    padded = scene.padded if scene.ndim == 2 else scene.padded[None]
    pad = scene.is_padding if scene.ndim == 2 else scene.is_padding[None]
    out = scene.output if scene.ndim == 2 else scene.output[None]
    k_in = subsample_factor(padded.shape, 64)
    k_out = subsample_factor(out.shape, 64)
    pin, ppad, pout = padded[::k_in, ::k_in], pad[::k_in, ::k_in], out[::k_out, ::k_out]
    cell = cell or max(4, min(32, 480 // max(pin.shape[1] + pout.shape[1], 1)))
    rgb_in = _colorize(pin, _zmax(padded), lut)
    rgb_in[ppad] = (rgb_in[ppad] * PAD_OPACITY + 255 * (1 - PAD_OPACITY)).astype(np.uint8)
    rgb_out = _colorize(pout, _zmax(out), lut)
    img_in = Image.fromarray(rgb_in).resize((pin.shape[1] * cell, pin.shape[0] * cell),
                                            Image.NEAREST)
    img_out = Image.fromarray(rgb_out).resize((pout.shape[1] * cell, pout.shape[0] * cell),
                                              Image.NEAREST)
    gap = 2 * cell
    width = img_in.width + gap + img_out.width
    height = max(img_in.height, img_out.height)
    lo = np.asarray(scene.lo if scene.ndim == 2 else (0, scene.lo[0]))
    frames = []
    for s, taps in zip(scene.frame_steps, scene.frame_taps):
        t2 = taps if scene.ndim == 2 else np.column_stack([np.zeros(len(taps)), taps[:, 0]])
        frame = Image.new("RGB", (width, height), "white")
        frame.paste(img_in, (0, 0))
        frame.paste(img_out, (img_in.width + gap, 0))
        draw = ImageDraw.Draw(frame)
        pos = (t2 + lo) / k_in  # displayed cell coordinates (row, col)
        (r0, c0), (r1, c1) = pos.min(axis=0), pos.max(axis=0)
        draw.rectangle([c0 * cell, r0 * cell, (c1 + 1) * cell - 1, (r1 + 1) * cell - 1],
                       outline=(17, 17, 17), width=max(2, cell // 8))
        for r, c in pos:
            cx, cy = (c + 0.5) * cell, (r + 0.5) * cell
            rad = max(2, cell // 5)
            draw.ellipse([cx - rad, cy - rad, cx + rad, cy + rad], fill=(242, 169, 0))
        cur = np.unravel_index(int(s), out.shape)
        orow, ocol = cur[0] // k_out, cur[1] // k_out
        ox = img_in.width + gap
        cover = (245, 245, 245)
        ocols, orows = pout.shape[1], pout.shape[0]
        if ocol + 1 < ocols:
            draw.rectangle([ox + (ocol + 1) * cell, orow * cell, ox + ocols * cell - 1,
                            (orow + 1) * cell - 1], fill=cover)
        if orow + 1 < orows:
            draw.rectangle([ox, (orow + 1) * cell, ox + ocols * cell - 1, orows * cell - 1],
                           fill=cover)
        draw.rectangle([ox + ocol * cell, orow * cell, ox + (ocol + 1) * cell - 1,
                        (orow + 1) * cell - 1], outline=(17, 17, 17), width=max(2, cell // 8))
        frames.append(frame.convert("P", palette=Image.ADAPTIVE))
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:],
                   duration=int(frame_ms), loop=0)
    return buf.getvalue()


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


def correlation_figure(x, w, corr, conv, presenter: bool = False) -> go.Figure:
    """The input, and cross-correlation vs convolution (flipped kernel) of the About page."""
    font = 18 if presenter else 12
    fig = go.Figure([
        go.Bar(x=np.arange(len(x)), y=x, name="input x", marker_color="#bbbbbb"),
        go.Scatter(x=np.arange(len(corr)), y=corr, mode="lines+markers",
                   name=f"cross-correlation with w = {list(np.round(w, 3))}",
                   line=dict(color="#2166ac", width=3)),
        go.Scatter(x=np.arange(len(conv)), y=conv, mode="lines+markers",
                   name="convolution (w flipped)", line=dict(color="#b2182b", width=3,
                                                             dash="dash")),
    ])
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), font=dict(size=font),
                      plot_bgcolor="white", legend=dict(orientation="h", y=1.12),
                      xaxis=dict(title="index", dtick=1), yaxis=dict(zeroline=True))
    return fig
