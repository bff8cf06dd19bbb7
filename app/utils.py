"""Shared page helpers: the explorer page (1-D and 2-D), its controls, panels, exports, the
shareable URL, presenter mode and the sidebar footer.

Widgets keep their values in ``st.session_state`` under ``e{ndim}.{name}`` keys; the page's
canonical :class:`~app.state.Settings` lives under ``e{ndim}.settings`` and is written to the
URL after every run, so any view can be shared and reopened exactly.
"""

from __future__ import annotations

import functools
import html
import io
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

import convcore as cc
from app import figures, state
from app import sources as src
from app.state import Settings

PAGES = {1: "pages/explorer_1d.py", 2: "pages/explorer_2d.py"}
AXES = {1: ("L",), 2: ("H", "W")}
PRESENTER_CSS = """<style>
html, body, [class*="st-"] { font-size: 1.2rem; }
h1 { font-size: 2.6rem !important; } h2, h3 { font-size: 1.8rem !important; }
code, pre { font-size: 1.05rem !important; }
</style>"""


def navigation_pages() -> list:
    """The app's pages (the entry point passes them to ``st.navigation``)."""
    pages = Path(__file__).resolve().parent / "pages"
    return [
        st.Page(pages / "explorer_1d.py", title="1-D convolution",
                icon=":material/show_chart:", url_path="explorer_1d", default=True),
        st.Page(pages / "explorer_2d.py", title="2-D convolution", icon=":material/grid_on:",
                url_path="explorer_2d"),
        st.Page(pages / "groups.py", title="Groups & depthwise",
                icon=":material/account_tree:", url_path="groups"),
        st.Page(pages / "examples.py", title="Documented examples",
                icon=":material/menu_book:", url_path="examples"),
        st.Page(pages / "about.py", title="About", icon=":material/info:", url_path="about"),
    ]


def page_config() -> None:
    presenter = st.query_params.get("presenter", "") in ("1", "true")
    st.set_page_config(page_title="Convolution Explorer", page_icon=":material/blur_on:",
                       layout="wide",
                       initial_sidebar_state="collapsed" if presenter else "auto")


NAVIGATED = "_navigated"  # session-state flag: this session has been through st.navigation


def use_entry_navigation(page: str) -> None:
    """Make a page that Streamlit ran on its own behave as if the entry point had run it.

    Streamlit treats a ``pages/`` folder next to the entry script as an old-style multipage
    app until some session has called ``st.navigation`` (a process-wide flag).  A link to a
    page opened first after a server start runs the page alone: widgets drawn then get an
    identity the next (proper) run does not recognize, and would fall back to defaults.  So
    the first run of such a session registers the real navigation and switches to this same
    page with the same query parameters before drawing anything.  (AppTest runs every script
    this way; its sessions start at the entry point, which sets the flag, so they just
    register the navigation and go on.)

    ``page`` is this page's path as ``st.switch_page`` takes it, e.g. ``"pages/groups.py"``.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        page_config()
        st.navigation(navigation_pages())
        if not st.session_state.get(NAVIGATED):
            st.session_state[NAVIGATED] = True
            st.switch_page(page, query_params=st.query_params.to_dict())


def k(ndim: int, name: str) -> str:
    """The session-state key of one explorer widget."""
    return f"e{ndim}.{name}"


def canonical_key(ndim: int) -> str:
    return k(ndim, "settings")


# ------------------------------------------------------------------- settings <-> widgets

def widget_values(s: Settings) -> dict:
    """Every explorer widget's value for the settings ``s``."""
    n = s.ndim
    v = {
        "source": s.source, "seed": s.seed, "sample": s.sample, "typed": s.typed,
        "batch": s.batch, "inmaps": s.inmaps, "outmaps": s.outmaps, "groups": s.groups,
        "kernel": s.kernel, "preset": s.preset, "scheme": s.scheme, "kseed": s.kseed,
        "mode": s.mode, "pad_form": s.pad_form, "bias_on": s.bias is not None,
        "bias": "0" if s.bias is None else ", ".join(f"{b:g}" for b in s.bias),
        "item": s.item, "omap": s.omap, "imap": s.imap, "step": s.step, "speed": s.speed,
        "presenter": s.presenter,
    }
    for a in range(n):
        v[f"shape.{a}"] = s.shape[a]
        v[f"size.{a}"] = s.size[a]
        v[f"stride.{a}"] = s.stride[a]
        v[f"dilation.{a}"] = s.dilation[a]
        v[f"pad.{a}"] = s.pad[a][0]
        v[f"padlo.{a}"], v[f"padhi.{a}"] = s.pad[a]
    return {k(n, name): value for name, value in v.items()}


def _seed_widgets(s: Settings, overwrite: bool = False) -> None:
    for key, value in widget_values(s).items():
        if overwrite or key not in st.session_state:
            st.session_state[key] = value


def forget_widgets(ndim: int) -> None:
    """Drop the page's widget values so that they are seeded again from its settings."""
    prefix = f"e{ndim}."
    for key in [key for key in st.session_state if str(key).startswith(prefix)]:
        del st.session_state[key]


def page_settings(ndim: int) -> tuple[Settings, list[str]]:
    """The page's settings: kept from earlier in the session, else from the URL, else the
    defaults.  Widgets with no value yet are seeded from them."""
    key = canonical_key(ndim)
    problems: list[str] = []
    if key not in st.session_state:
        s, problems = state.from_query(st.query_params, ndim)
        st.session_state[key] = s
        _seed_widgets(s, overwrite=True)
    s = st.session_state[key]
    _seed_widgets(s)
    return s, problems


def open_in_explorer(s: Settings) -> None:
    """Show ``s`` on its explorer page (used by the documented examples)."""
    forget_widgets(s.ndim)
    st.session_state[canonical_key(s.ndim)] = s
    _seed_widgets(s, overwrite=True)
    st.switch_page(PAGES[s.ndim], query_params=state.to_query(s))


def open_in_groups(params: dict[str, int]) -> None:
    """Show the groups page with ``params`` (its URL names: ndim, inmaps, ..., dw_size)."""
    for key in [key for key in st.session_state if str(key).startswith("g.")]:
        del st.session_state[key]
    for name, value in params.items():
        st.session_state["g." + name.replace("dw_", "dw.")] = int(value)
    st.session_state["g.dw.ndim"] = int(params["ndim"])
    st.switch_page("pages/groups.py", query_params={n: str(v) for n, v in params.items()})


def sync_query_params(query: dict[str, str]) -> None:
    """Make the URL hold exactly ``query`` (written only when it changed)."""
    current = {key: st.query_params[key] for key in st.query_params}
    if current != query:
        st.query_params.from_dict(query)


# ------------------------------------------------------------------------------ controls

def _clamp(key: str, lo: int, hi: int) -> None:
    value = st.session_state.get(key, lo)
    try:
        value = int(value)
    except (TypeError, ValueError):
        value = lo
    st.session_state[key] = min(max(value, lo), hi)


def int_input(label: str, key: str, lo: int, hi: int, help: str | None = None,
              disabled: bool = False) -> int:
    """A number input whose current value is clamped into [lo, hi] before it is drawn."""
    _clamp(key, lo, hi)
    return int(st.number_input(label, min_value=lo, max_value=hi, step=1, key=key, help=help,
                               disabled=disabled))


def _choice(label: str, key: str, options, format_func=str, help: str | None = None,
            radio: bool = False):
    options = list(options)
    if st.session_state.get(key) not in options:
        st.session_state[key] = options[0]
    widget = st.radio if radio else st.selectbox
    kw = dict(horizontal=True) if radio else {}
    return widget(label, options, key=key, format_func=format_func, help=help, **kw)


def _per_axis(ndim: int, label: str, name: str, limits, help: str | None = None,
              disabled: bool = False) -> tuple:
    cols = st.columns(ndim) if ndim > 1 else [st.container()]
    values = []
    for a, col in enumerate(cols):
        lo, hi = limits[a]
        text = f"{label} {AXES[ndim][a]}" if ndim > 1 else label
        with col:
            values.append(int_input(text, k(ndim, f"{name}.{a}"), lo, hi, help=help,
                                    disabled=disabled))
    return tuple(values)


def _parse_bias(text: str) -> tuple | None:
    try:
        vals = tuple(float(v) for v in text.replace(";", ",").split(",") if v.strip())
    except ValueError:
        return None
    return vals or None


def input_controls(ndim: int, s: Settings) -> tuple[Settings, state.Upload | None]:
    """Input source and (for generated inputs) the input's shape."""
    st.subheader("Input")
    source = _choice("Input source", k(ndim, "source"), state.INPUT_SOURCES,
                     state.INPUT_SOURCES.get,
                     help="arange reproduces the documents' examples")
    changes: dict = dict(source=source)
    upload = None
    if source == "random":
        changes["seed"] = int_input("Seed", k(ndim, "seed"), 0, 2**31 - 1)
    elif source == "sample":
        names = src.SAMPLE_SIGNALS if ndim == 1 else src.SAMPLE_IMAGES
        changes["sample"] = _choice("Sample", k(ndim, "sample"), names)
    elif source == "typed":
        changes["typed"] = st.text_area(
            "Values", key=k(ndim, "typed"),
            help="numbers separated by commas or spaces; rows by newlines or ';'"
                 + ("; every row is one input map" if ndim == 1
                    else "; a blank line starts the next input map"))
    elif source == "upload":
        types = [t.lstrip(".") for t in (src.UPLOAD_TYPES_1D if ndim == 1
                                         else src.UPLOAD_TYPES_2D)]
        f = st.file_uploader("File", type=types, key=k(ndim, "upload"),
                             help="never unpickled; images become gray or RGB maps and are "
                                  "downscaled to 1024 px. Uploads are not part of the URL.")
        if f is not None:
            upload = state.Upload.of(f.name, f.getvalue())
    if source in ("arange", "random"):
        changes["batch"] = int_input("Batch size N", k(ndim, "batch"), 1, state.MAX_BATCH)
        changes["inmaps"] = int_input("Input maps C_in", k(ndim, "inmaps"), 1, state.MAX_MAPS)
        extent = state.max_extent(ndim)
        changes["shape"] = _per_axis(ndim, "Length" if ndim == 1 else "Size", "shape",
                                     [(1, extent)] * ndim)
    return replace(s, **changes), upload


def layer_controls(ndim: int, s: Settings) -> Settings:
    """Output maps, groups, kernel source, padding, size, dilation, stride, bias."""
    st.subheader("Layer")
    outmaps = int_input("Output maps C_out", k(ndim, "outmaps"), 1, state.MAX_MAPS)
    options = cc.valid_groups(s.inmaps, outmaps)
    gkey = k(ndim, "groups")
    if st.session_state.get(gkey) not in options:
        current = int(st.session_state.get(gkey) or 1)
        st.session_state[gkey] = max(g for g in options if g <= max(current, 1))
    groups = st.selectbox("Groups", options, key=gkey,
                          help="only values that divide both C_in and C_out are offered")
    kernel = _choice("Kernel source", k(ndim, "kernel"), state.KERNEL_SOURCES,
                     state.KERNEL_SOURCES.get)
    changes: dict = dict(outmaps=outmaps, groups=groups, kernel=kernel)
    preset_shape = None
    if kernel == "preset":
        changes["preset"] = _choice("Preset", k(ndim, "preset"), src.kernel_presets(ndim))
        preset_shape = src.kernel_presets(ndim)[changes["preset"]].shape
    elif kernel == "random":
        changes["scheme"] = _choice("Init scheme", k(ndim, "scheme"), state.INIT_SCHEMES)
        changes["kseed"] = int_input("Kernel seed", k(ndim, "kseed"), 0, 2**31 - 1)
    mode = _choice("Padding mode", k(ndim, "mode"), state.PADDING_MODES)
    pad_form = _choice("Padding", k(ndim, "pad_form"), state.PAD_FORMS, state.PAD_FORMS.get,
                       radio=True, help="per axis: the same on both sides; per side: low and "
                                        "high separately; same: keep the length (stride 1)")
    shape = s.shape
    if pad_form == "axis":
        p = _per_axis(ndim, "Pad", "pad", [(0, state.pad_limit(mode, n)) for n in shape])
        pads = tuple((v, v) for v in p)
    elif pad_form == "side":
        lo = _per_axis(ndim, "Pad low", "padlo", [(0, state.pad_limit(mode, n)) for n in shape])
        hi = _per_axis(ndim, "Pad high", "padhi",
                       [(0, state.pad_limit(mode, n)) for n in shape])
        pads = tuple(zip(lo, hi))
    else:
        pads = ((0, 0),) * ndim
    totals = [lo + hi for lo, hi in pads]
    if preset_shape is not None:
        for a, v in enumerate(preset_shape):
            st.session_state[k(ndim, f"size.{a}")] = int(v)
        size = _per_axis(ndim, "Kernel size", "size", [(int(v), int(v)) for v in preset_shape],
                         help="set by the preset", disabled=True)
    else:
        size = _per_axis(ndim, "Kernel size", "size",
                         [(1, state.size_limit(n, t)) for n, t in zip(shape, totals)])
    padded = [n + t for n, t in zip(shape, totals)] if pad_form != "same" else list(shape)
    dilation = _per_axis(ndim, "Dilation", "dilation",
                         [(1, state.dilation_limit(kk, p)) for kk, p in zip(size, padded)])
    stride = _per_axis(ndim, "Stride", "stride", [(1, max(1, p)) for p in padded])
    bias = None
    if st.toggle("Bias", key=k(ndim, "bias_on")):
        text = st.text_input("Bias values", key=k(ndim, "bias"),
                             help="one per output map, repeated if fewer, e.g. 0.5, -1")
        bias = _parse_bias(text)
        if bias is None:
            st.error(f"bias: {text!r} is not a list of numbers; using 0")
            bias = (0.0,)
    return replace(s, pad_form=pad_form, pad=pads, mode=mode, size=size, dilation=dilation,
                   stride=stride, bias=bias, **changes)


def view_controls(ndim: int, s: Settings) -> Settings:
    st.subheader("View")
    item = int_input("Batch item", k(ndim, "item"), 0, s.batch - 1)
    omap = int_input("Output map", k(ndim, "omap"), 0, s.outmaps - 1)
    imap = int_input("Input map of its group", k(ndim, "imap"), 0, s.inmaps // s.groups - 1,
                     help="which of the output map's input maps the figure shows")
    skey = k(ndim, "speed")
    if st.session_state.get(skey) not in state.SPEEDS:
        st.session_state[skey] = 1.0
    speed = st.select_slider("Play speed", state.SPEEDS, key=skey,
                             format_func=lambda v: f"{v:g}×")
    presenter = st.toggle("Presenter mode", key=k(ndim, "presenter"),
                          help="larger fonts and figures for a projector")
    return replace(s, item=item, omap=omap, imap=imap, speed=speed, presenter=presenter)


def ensure_table(s: Settings) -> Settings:
    """Kernel "table" needs every weight: start from the last kernel shown when its shape
    fits, else from customW."""
    shape = state.weight_shape(s)
    if s.kernel != "table" or (s.weights is not None and len(s.weights) == np.prod(shape)):
        return s
    last = st.session_state.get(k(s.ndim, "last_w"))
    if last is None or last.shape != shape:
        last = state.custom_weights(s.ndim, s.size, s.outmaps, shape[1])
    return replace(s, weights=tuple(float(v) for v in np.asarray(last).ravel()))


def table_editor(s: Settings) -> Settings:
    """Edit the shown kernel slice w[omap, imap] as a table (kernel source "table")."""
    shape = state.weight_shape(s)
    w = np.asarray(s.weights, dtype=np.float64).reshape(shape)
    sl = w[s.omap, s.imap]
    grid = sl[None] if s.ndim == 1 else sl
    df = pd.DataFrame(grid, columns=[str(c) for c in range(grid.shape[1])])
    with st.expander(f"Edit kernel w[{s.omap},{s.imap}] (shape {sl.shape})", expanded=True):
        st.caption("Type new weights; other output/input maps: pick them under View.")
        edited = st.data_editor(df, key=k(s.ndim, f"table.{s.omap}.{s.imap}.{shape}"),
                                num_rows="fixed", width="content")
    values = np.asarray(edited, dtype=np.float64).reshape(sl.shape)
    if not np.isfinite(values).all():
        st.warning("empty or non-numeric table cells count as 0")
        values = np.nan_to_num(values)
    w = w.copy()
    w[s.omap, s.imap] = values
    return replace(s, weights=tuple(float(v) for v in w.ravel()))


# ------------------------------------------------------------------------------ stepping

def _set_step(key: str, value: int) -> None:
    st.session_state[key] = value


def _on_chart_select(ndim: int, out_shape: tuple) -> None:
    selection = st.session_state.get(k(ndim, "chart"))
    step = figures.step_from_selection(
        selection.get("selection") if hasattr(selection, "get") else None, out_shape)
    if step is not None:
        st.session_state[k(ndim, "step")] = step


def step_controls(ndim: int, steps: int) -> int:
    """Previous / next buttons and a slider over every step (raster order of the output)."""
    key = k(ndim, "step")
    _clamp(key, 0, steps - 1)
    current = st.session_state[key]
    c1, c2, c3 = st.columns([1.2, 1.2, 7.6], vertical_alignment="bottom")
    c1.button("◀ Prev", key=k(ndim, "prev"), disabled=current <= 0,
              on_click=_set_step, args=(key, current - 1), width="stretch")
    c2.button("Next ▶", key=k(ndim, "next"), disabled=current >= steps - 1,
              on_click=_set_step, args=(key, current + 1), width="stretch")
    with c3:
        if steps > 1:
            return int(st.slider("Step (output cell, raster order)", 0, steps - 1, key=key))
        st.caption("The output has a single cell: one step.")
        return 0


# ------------------------------------------------------------------------------ panels

def arithmetic_panel(step: cc.Step) -> None:
    st.markdown("**What this step adds up** — every tap's input × weight, plus the bias:")
    # Monospace markdown rather than st.code: st.code makes the browser fetch a 1.5 MB syntax
    # highlighter on the default view, slowing the first chart down.
    st.markdown(f'<div style="font-family: monospace; font-size: 0.9em; padding: 0.75em 1em; '
                f'background: rgba(128, 128, 128, 0.08); border-radius: 0.5em; '
                f'overflow-wrap: anywhere">{html.escape(cc.equation(step))}</div>',
                unsafe_allow_html=True)
    pads = sum(t.is_padding for t in step.taps)
    st.caption(f"{len(step.taps)} products ({pads} from padding) + bias {step.bias:g} = "
               f"{figures.fmt(step.value)}")


def shape_panel(comp: state.Computation) -> None:
    st.markdown("**Why the output has this shape**")
    for axis in comp.shape.axes:
        st.latex(axis.latex)
        if axis.remainder:
            st.caption(f"{axis.axis}: the floor discards a remainder of {axis.remainder}.")
    for warning in comp.shape.warnings:
        st.info(warning, icon=":material/info:")
    lines = []
    for name, a in zip(AXES[len(comp.axes)], comp.axes):
        if a.never_read:
            lines.append(f"{name}: indices {_short(a.never_read)} are never read"
                         + (f" (dropped tail: {_short(a.dropped_tail)})" if a.dropped_tail
                            else "")
                         + (f" (skipped by the stride: {_short(a.skipped)})" if a.skipped
                            else ""))
    if lines:
        st.markdown("Cells no window reads are marked ✕ on the input:\n\n- "
                    + "\n- ".join(lines))
    else:
        st.caption("Every input cell is read by at least one window.")


def _short(idx, most: int = 10) -> str:
    idx = list(idx)
    text = ", ".join(str(i) for i in idx[:most])
    return text + (f", … ({len(idx) - most} more)" if len(idx) > most else "")


# ------------------------------------------------------------------------------ code

def _literal(a: np.ndarray) -> str:
    return np.array2string(np.asarray(a, dtype=np.float32), separator=", ", threshold=10**7,
                           floatmode="unique", max_line_width=96).replace("\n", "\n    ")


LITERAL_LIMIT = 256


def _array_code(name: str, a: np.ndarray | None, s: Settings, what: str) -> str:
    if a is None:
        return f"{name} = None"
    if what == "input" and s.source == "arange":
        dims = ", ".join(str(d) for d in a.shape)
        return (f"{name} = np.arange({' * '.join(str(d) for d in a.shape)}, "
                f"dtype=np.float32).reshape({dims})")
    if what == "input" and s.source == "random":
        return (f"{name} = np.random.default_rng({s.seed}).standard_normal({a.shape})"
                ".astype(np.float32)")
    if a.size <= LITERAL_LIMIT:
        return f"{name} = np.array({_literal(a)}, dtype=np.float32)"
    return f'{name} = np.load("{what}.npy")  # {a.shape}: the Export tab saves it'


def _tuple_arg(t) -> str:
    t = tuple(int(v) for v in t)
    return str(t[0]) if len(t) == 1 else str(t)


def code_convcore(s: Settings, x, w, b) -> str:
    fn = "conv1d" if s.ndim == 1 else "conv2d"
    pad = '"same"' if s.pad_form == "same" else (
        _tuple_arg([p[0] for p in s.pad]) if s.pad_form == "axis" else str(tuple(s.pad)))
    return "\n".join([
        "import numpy as np", "import convcore as cc", "",
        _array_code("x", x, s, "input"), _array_code("w", w, s, "weight"),
        _array_code("b", b, s, "bias"), "",
        f"out = cc.{fn}(x, w, b, stride={_tuple_arg(s.stride)}, padding={pad}, "
        f"dilation={_tuple_arg(s.dilation)}, groups={s.groups}, padding_mode={s.mode!r})",
        "print(out)",
    ])


_TORCH_PAD_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate",
                    "circular": "circular"}


def code_pytorch(s: Settings, x, w, b) -> str:
    cls = "Conv1d" if s.ndim == 1 else "Conv2d"
    lines = ["import numpy as np", "import torch", "import torch.nn.functional as F", "",
             _array_code("x", x, s, "input"), _array_code("w", w, s, "weight"),
             _array_code("b", b, s, "bias"), "", "inp = torch.from_numpy(x)"]
    if s.pad_form == "side":
        # nn.ConvNd pads both sides alike: pad first (F.pad lists the last axis first).
        order = [v for lo, hi in reversed(s.pad) for v in (lo, hi)]
        lines.append(f"inp = F.pad(inp, {tuple(order)}, mode={_TORCH_PAD_MODES[s.mode]!r})")
        padding, mode = "0", "zeros"
    else:
        padding = '"same"' if s.pad_form == "same" else _tuple_arg([p[0] for p in s.pad])
        mode = s.mode
    lines += [
        f"conv = torch.nn.{cls}(in_channels={x.shape[1]}, out_channels={s.outmaps}, "
        f"kernel_size={_tuple_arg(w.shape[2:])}, stride={_tuple_arg(s.stride)}, "
        f"padding={padding}, dilation={_tuple_arg(s.dilation)}, groups={s.groups}, "
        f"bias={b is not None}, padding_mode={mode!r})",
        "with torch.no_grad():",
        "    conv.weight.copy_(torch.from_numpy(w))",
    ]
    if b is not None:
        lines.append("    conv.bias.copy_(torch.from_numpy(b))")
    lines += ["    out = conv(inp)", "print(out)"]
    return "\n".join(lines)


def code_module_api(s: Settings, x, w, b) -> str:
    """The documents' module API (PuzzleLib style), as convcore.modules runs it."""
    cls = "Conv1D" if s.ndim == 1 else "Conv2D"
    if s.pad_form != "axis" or s.mode != "zeros":
        return ("# The documented module API pads both sides alike with zeros only:\n"
                "# per-side padding, 'same' and padding modes are not expressible with\n"
                f"# {cls}(...). The functional call does it:\n\n" + code_convcore(s, x, w, b))
    w_doc = "w" if s.ndim == 2 else f"w.reshape({w.shape[0]}, {w.shape[1]}, 1, {w.shape[2]})"
    lines = [
        "import numpy as np", "from convcore import Variable, gpuarray",
        f"from convcore.modules import {cls}", "",
        _array_code("x", x, s, "input"), _array_code("w", w, s, "weight"),
        _array_code("b", b, s, "bias"), "",
        "data = gpuarray.to_gpu(x)",
        f"conv = {cls}(inmaps={x.shape[1]}, outmaps={s.outmaps}, "
        f"size={_tuple_arg(w.shape[2:])}, "
        f"stride={_tuple_arg(s.stride)}, pad={_tuple_arg([p[0] for p in s.pad])}, "
        f"dilation={_tuple_arg(s.dilation)}, groups={s.groups}, useBias={b is not None})",
        f'conv.setVar("W", Variable(gpuarray.to_gpu({w_doc})))'
        + ("  # PuzzleLib layout (C_out, C_in/g, 1, size)" if s.ndim == 1 else ""),
    ]
    if b is not None:
        lines.append('conv.setVar("b", Variable(gpuarray.to_gpu(b.reshape(1, -1, 1, 1))))')
    lines += ["conv(data)", "print(conv.data)"]
    return "\n".join(lines)


def code_panel(s: Settings, comp: state.Computation) -> None:
    args = (s, comp.x, comp.weight, comp.bias)
    t1, t2, t3 = st.tabs(["PyTorch", "Module API (documents)", "convcore"])
    t1.code(code_pytorch(*args), language="python")
    t2.code(code_module_api(*args), language="python")
    t3.code(code_convcore(*args), language="python")


# ------------------------------------------------------------------------------ exports

def csv_text(a: np.ndarray) -> str:
    buf = io.StringIO()
    np.savetxt(buf, np.atleast_2d(a), delimiter=",", fmt="%.9g")
    return buf.getvalue()


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def html_bytes(fig) -> bytes:
    """The animated figure as one HTML file with plotly.js inside: it plays offline."""
    return fig.to_html(include_plotlyjs=True, full_html=True, auto_play=False).encode()


def export_panel(s: Settings, comp: state.Computation, fig, scene: figures.Scene) -> None:
    name = f"conv{s.ndim}d"
    shown = comp.out[s.item, s.omap]
    c1, c2 = st.columns(2)
    c1.download_button(f"Output map out[{s.item},{s.omap}] as CSV",
                       functools.partial(csv_text, shown), f"{name}_out_{s.item}_{s.omap}.csv",
                       "text/csv", key=k(s.ndim, "dl.csv"), on_click="ignore")
    c1.download_button(f"Whole output {comp.out.shape} as .npy",
                       functools.partial(npy_bytes, comp.out), f"{name}_out.npy",
                       "application/octet-stream", key=k(s.ndim, "dl.npy"),
                       on_click="ignore")
    c1.download_button(f"Input {comp.x.shape} as .npy", functools.partial(npy_bytes, comp.x),
                       "input.npy", "application/octet-stream", key=k(s.ndim, "dl.x"),
                       on_click="ignore")
    c1.download_button(f"Weights {comp.weight.shape} as .npy",
                       functools.partial(npy_bytes, comp.weight), "weight.npy",
                       "application/octet-stream", key=k(s.ndim, "dl.w"), on_click="ignore")
    c2.download_button("Animated figure as HTML (plays offline)",
                       functools.partial(html_bytes, fig), f"{name}_explorer.html",
                       "text/html", key=k(s.ndim, "dl.html"), on_click="ignore")
    c2.download_button("Sliding window as GIF",
                       functools.partial(figures.sliding_window_gif, scene, s.frame_ms),
                       f"{name}_window.gif", "image/gif", key=k(s.ndim, "dl.gif"),
                       on_click="ignore")


# ------------------------------------------------------------------------------ page chrome

def presenter_style(on: bool) -> None:
    if on:
        st.html(PRESENTER_CSS)


def footer(comp: state.Computation | None, started: float) -> None:
    with st.sidebar:
        st.divider()
        parts = [f"Backend: **{cc.backend_name()}**"]
        if comp is not None:
            parts.append(f"last computation: convolution {comp.conv_ms:.1f} ms, trace "
                         f"{comp.trace_ms:.1f} ms")
        parts.append(f"this rerun: {(time.perf_counter() - started) * 1e3:.0f} ms")
        st.caption(" · ".join(parts))


def notices(items) -> None:
    for text in items:
        st.caption(f":material/info: {text}")


# ------------------------------------------------------------------------------ the page

def explorer_page(ndim: int) -> None:
    """The 1-D or 2-D explorer: controls in the sidebar, the animated figure and panels."""
    started = time.perf_counter()
    use_entry_navigation(PAGES[ndim])
    s, problems = page_settings(ndim)
    st.title(f"{ndim}-D convolution explorer")
    st.caption("Cross-correlation, as in PyTorch and the documents: the window slides over "
               "the padded input; each output cell is the sum of input × weight plus bias.")
    for p in problems:
        st.warning(f"URL: {p}")
    comp = None
    try:
        comp = _explorer_body(ndim, s)
    finally:
        footer(comp, started)


def _explorer_body(ndim: int, s: Settings) -> state.Computation | None:
    with st.sidebar:
        s, upload = input_controls(ndim, s)
    try:
        x, input_notices = state.load_input(s, upload)
    except src.SourceError as e:
        st.error(str(e), icon=":material/error:")
        return _finish(s, None)
    if s.data_source:
        s = replace(s, batch=x.shape[0], inmaps=x.shape[1], shape=tuple(x.shape[2:]))
        with st.sidebar:
            st.caption(f"Input from data: N={x.shape[0]}, C_in={x.shape[1]}, "
                       f"{'×'.join(str(n) for n in x.shape[2:])}")
    with st.sidebar:
        s = layer_controls(ndim, s)
        s = view_controls(ndim, s)
    presenter_style(s.presenter)
    s = ensure_table(s)
    if s.kernel == "table":
        s = table_editor(s)
    try:
        comp = state.compute(s, upload)
    except (cc.ConvError, src.SourceError) as e:
        st.error(str(e), icon=":material/error:")
        return _finish(s, None)
    st.session_state[k(ndim, "last_w")] = comp.weight
    notices(input_notices)
    step_index = step_controls(ndim, comp.steps)
    s = replace(s, step=step_index)
    step = state.step_trace(comp, s, step_index)
    scene = state.make_scene(comp, s, step)
    opts = figures.FigureOptions(frame_ms=s.frame_ms, presenter=s.presenter)
    fig = figures.explorer_figure(scene, opts)
    st.plotly_chart(fig, key=k(ndim, "chart"), on_select=functools.partial(
        _on_chart_select, ndim, tuple(comp.out.shape[2:])), selection_mode="points",
        config={"displaylogo": False, "scrollZoom": False})
    _figure_notices(scene, comp)
    panels = {
        "Arithmetic": lambda: arithmetic_panel(step),
        "Shape": lambda: shape_panel(comp),
        "Code": lambda: code_panel(s, comp),
        "Export": lambda: export_panel(s, comp, fig, scene),
    }
    # Only the open tab runs and is sent: the page's first paint skips KaTeX, code blocks and
    # downloads nobody has asked for yet.
    for tab, render in zip(st.tabs(list(panels), key=k(ndim, "panel"), on_change="rerun"),
                           panels.values()):
        if tab.open:
            with tab:
                render()
    return _finish(s, comp)


def _figure_notices(scene: figures.Scene, comp: state.Computation) -> None:
    items = []
    if len(scene.frame_steps) < comp.steps:
        items.append(f"Play shows {len(scene.frame_steps)} of the {comp.steps:,} steps "
                     f"(evenly spread); the slider and buttons reach every step.")
    k_in, k_out = figures.displayed_subsampling(scene)
    if k_in > 1 or k_out > 1:
        items.append(f"Large maps are drawn subsampled (every {max(k_in, k_out)}th cell); "
                     "values, the window and the arithmetic are exact.")
    notices(items)


def _finish(s: Settings, comp: state.Computation | None) -> state.Computation | None:
    st.session_state[canonical_key(s.ndim)] = s
    sync_query_params(state.to_query(s))
    return comp
