"""The receptive-field page (``receptive_page()``): build a stack of up to eight convolutions,
see the shape of every level, the per-layer size / jump / start of the receptive field, and — in
the browser view — the field of any cell with its path counts.

Data flows as on the explorer: settings (URL, widgets; :mod:`app.stack`) → the core
(:func:`convcore.receptive_field`, microseconds: nothing to cache) → scene
(:func:`app.scene.build_stack_scene`, geometry only) → view (the ``convcore_receptive``
component).  The browser computes each cell's field itself; it reports only the output cell the
user pins, and the URL follows.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pandas as pd
import streamlit as st

import convcore as cc
from app.receptive import stack
from app.receptive.stack import LIMITS, MAX_IN, MAX_LAYERS, PRESETS, Layer, StackSettings
from app.shared import scene as scenes
from app.shared import view
from app.shared.controls import Notices, choice, clamp, int_input
from app.shared.frame import page_intro
from app.shared.navigation import sync_query_params

COMPONENT = "convcore_receptive"
MODULES = ("format.js", "contrast.js", "a11y.js", "component.js", "geometry.js", "grid.js",
           "stack.js", "receptive.js")
SETTINGS_KEY = "rf.settings"
AXES = {1: ("L",), 2: ("H", "W")}
PRESENTER_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding-top: 3.6rem; padding-bottom: 1rem; }
[data-testid="stMainBlockContainer"] h1 { padding-top: 0; padding-bottom: 0.2rem; }
</style>"""


def k(name: str) -> str:
    """The session-state key of one of this page's widgets."""
    return f"rf.{name}"


# ------------------------------------------------------------------------------ settings

def widget_values(s: StackSettings) -> dict:
    """Every widget's value for the settings ``s`` (rows past the stack keep a 3-kernel)."""
    v = {k("ndim"): s.ndim, k("count"): len(s.layers), k("presenter"): s.presenter}
    for a, n in enumerate(s.in_shape):
        v[k(f"in.{a}")] = n
    for i in range(MAX_LAYERS):
        layer = s.layers[i] if i < len(s.layers) else Layer(3)
        for name in LIMITS:
            v[k(f"L{i}.{name}")] = getattr(layer, name)
    return v


def seed_widgets(s: StackSettings, overwrite: bool = False) -> None:
    for key, value in widget_values(s).items():
        if overwrite or key not in st.session_state:
            st.session_state[key] = value


def apply_preset(name: str) -> None:
    """Button callback: the preset's stack replaces the page's, widgets included."""
    s = PRESETS[name]
    st.session_state[SETTINGS_KEY] = s
    seed_widgets(s, overwrite=True)


def page_settings() -> tuple[StackSettings, list[str]]:
    """Kept from earlier in the session, else from the URL, else the defaults."""
    problems: list[str] = []
    if SETTINGS_KEY not in st.session_state:
        s, problems = stack.from_query(st.query_params)
        st.session_state[SETTINGS_KEY] = s
        seed_widgets(s, overwrite=True)
    s = st.session_state[SETTINGS_KEY]
    seed_widgets(s)
    return s, problems


# ------------------------------------------------------------------------------ controls

def sidebar_controls(s: StackSettings, notices: Notices) -> StackSettings:
    st.subheader("Presets")
    for i, name in enumerate(PRESETS):
        st.button(name, key=k(f"preset.{i}"), on_click=apply_preset, args=(name,),
                  width="stretch")
    st.subheader("Stack")
    ndim = choice("Dimensions", k("ndim"), (1, 2), lambda n: f"{n}-D", radio=True,
                  notices=notices)
    if k("in.1") not in st.session_state:
        st.session_state[k("in.1")] = st.session_state.get(k("in.0"), 16)
    cols = st.columns(ndim) if ndim > 1 else [st.container()]
    in_shape = []
    for a, col in enumerate(cols):
        label = "Input length" if ndim == 1 else f"Input {AXES[2][a]}"
        with col:
            in_shape.append(int_input(label, k(f"in.{a}"), 1, MAX_IN[ndim], notices,
                                      "the page's limit"))
    count = int_input("Layers", k("count"), 1, MAX_LAYERS, notices, "the page's limit")
    presenter = st.toggle("Presenter mode", key=k("presenter"),
                          help="larger type and figures that fit a 1280×720 projector")
    return replace(s, ndim=ndim, in_shape=tuple(in_shape), presenter=presenter,
                   layers=s.layers[:count] + (Layer(3),) * max(0, count - len(s.layers)))


def layer_editor(s: StackSettings, notices: Notices) -> StackSettings:
    """One row of number inputs per layer: kernel, stride, dilation, padding."""
    widths = [0.7, 1, 1, 1, 1]
    header = st.columns(widths)
    for col, text in zip(header, ("layer", "kernel", "stride", "dilation", "padding")):
        col.markdown(f"**{text}**")
    layers = []
    for i in range(len(s.layers)):
        row = st.columns(widths, vertical_alignment="center")
        row[0].markdown(f"{i + 1}")
        values = {}
        for col, name in zip(row[1:], LIMITS):
            key = k(f"L{i}.{name}")
            lo, hi = LIMITS[name]
            clamp(key, lo, hi, notices, f"layer {i + 1} {name}", "the page's limit")
            with col:
                values[name] = int(st.number_input(f"layer {i + 1} {name}", step=1, key=key,
                                                   label_visibility="collapsed"))
        layers.append(Layer(**values))
    return replace(s, layers=tuple(layers))


# ------------------------------------------------------------------------------ panels

def partial_shapes(s: StackSettings) -> list:
    """Every level's output shape as far as the stack goes (None past an empty one)."""
    shapes: list = []
    for i in range(len(s.layers)):
        try:
            shapes.append(cc.stack_shapes(s.in_shape, s.core_layers()[:i + 1])[-1])
        except cc.ConvError:
            shapes.extend([None] * (len(s.layers) - i))
            break
    return shapes


def shape_text(shape) -> str:
    return "empty" if shape is None else "×".join(str(v) for v in shape)


def one(values: tuple) -> str:
    """A per-axis value as one number when the axes agree."""
    return str(values[0]) if len(set(values)) == 1 else str(values)


def layer_table(s: StackSettings, rf: cc.ReceptiveField, shapes: list) -> None:
    rows = [{"layer": "input", "kernel": "", "stride": "", "dilation": "", "padding": "",
             "output shape": shape_text(s.in_shape), "size r": "1", "jump j": "1",
             "start u": "0"}]
    for f, shape in zip(rf.layers, shapes):
        rows.append({"layer": str(f.index + 1), "kernel": one(f.kernel),
                     "stride": one(f.stride), "dilation": one(f.dilation),
                     "padding": one(tuple(lo for lo, _ in f.pads)),
                     "output shape": shape_text(shape), "size r": one(f.size),
                     "jump j": one(f.jump), "start u": one(f.start)})
    st.table(pd.DataFrame(rows).set_index("layer"))
    st.latex(r"r_l = r_{l-1} + d_l\,(k_l - 1)\,j_{l-1} \qquad j_l = j_{l-1}\,s_l \qquad "
             r"u_l = u_{l-1} - p_l\,j_{l-1} \qquad (r_0 = j_0 = 1,\ u_0 = 0)")
    st.caption("Size r: the input cells one output of the layer spans; jump j: the input cells "
               "between neighbouring outputs; start u: the first input cell output 0 sees "
               "(negative: padding). Output o spans u + o·j to u + o·j + r − 1 "
               "(Araujo, Norris & Sim, Distill 2019).")


def pinned_caption(s: StackSettings, cell: tuple) -> None:
    cf = cc.cell_receptive_field(s.core_layers(), s.in_shape, cell)
    spans = " × ".join(f"{a}–{b}" for a, b in zip(cf.first, cf.last))
    reached = int(cf.reached.sum())
    st.caption(f"Pinned output cell ({', '.join(map(str, cell))}): convcore.cell_receptive_field "
               f"gives input {spans}; {reached} input cells reach it through "
               f"{int(cf.paths.sum()):,} paths.")


# ------------------------------------------------------------------------------ the view

def show_view(s: StackSettings, rf: cc.ReceptiveField) -> StackSettings:
    """Draw the browser view and take its report (the output cell the user pinned)."""
    sid = stack.scene_id(s)
    anchor = st.session_state.get(k("anchor"))
    if anchor is None or anchor["scene_id"] != sid:
        anchor = {"scene_id": sid, "init": {"cell": None if s.cell is None else list(s.cell)}}
        st.session_state[k("anchor")] = anchor
    text = json.dumps(scenes.build_stack_scene(rf), separators=(",", ":"))
    data = view.payload(text, sid, anchor["init"], s.presenter)
    result = view.component(COMPONENT, MODULES)(key=k("view"), data=data,
                                                default={"cell": None}, on_cell_change=_ignore)
    report = getattr(result, "cell", None)
    if (isinstance(report, dict) and report.get("scene") == sid
            and report.get("seq") != st.session_state.get(k("consumed"))):
        st.session_state[k("consumed")] = report.get("seq")
        cell = valid_cell(report.get("cell"), rf.out_spatial)
        if cell is not None:
            s = replace(s, cell=cell)
    return s


def _ignore() -> None:
    """State changes need a callback to be declared; the page reads the values itself."""


def valid_cell(cell, out_spatial: tuple) -> tuple | None:
    """``cell`` as a tuple when it is one index per axis inside ``out_spatial``, else None."""
    if not isinstance(cell, (list, tuple)) or len(cell) != len(out_spatial):
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < n
               for v, n in zip(cell, out_spatial)):
        return None
    return tuple(cell)


# ------------------------------------------------------------------------------ the page

def receptive_page() -> None:
    """The receptive-field page: controls, the browser view, the per-layer table."""
    started = time.perf_counter()
    s, problems = page_settings()
    st.title("Receptive field of a stack")
    page_intro("Each output cell of a stack of convolutions sees a window of the input: its "
               "receptive field. Hover any cell to light the cells below it that reach it and "
               "the cells above it that it reaches, coloured and labelled by the number of "
               "paths (one tap per layer) — the effective receptive field; click an output "
               "cell to pin it.", problems, PRESENTER_CSS if s.presenter else None)
    notices = Notices()
    with st.sidebar:
        s = sidebar_controls(s, notices)
    view_slot = st.container()  # the view goes above the layer editor that feeds it
    with st.expander("Layers", expanded=not s.presenter):
        s = layer_editor(s, notices)
    try:
        rf = cc.receptive_field(s.core_layers(), in_spatial=s.in_shape)
    except cc.ConvError as e:
        shapes = partial_shapes(s)
        with view_slot:
            st.error(str(e), icon=":material/error:")
            if None in shapes:
                st.caption(f"convcore counts layers from 0: that is layer "
                           f"{shapes.index(None) + 1} in the editor and the table.")
            show_notices(notices)
        layer_table(s, cc.receptive_field(s.core_layers(), ndim=s.ndim), shapes)
        finish(s, started)
        return
    if s.cell is not None and valid_cell(list(s.cell), rf.out_spatial) is None:
        centre = tuple((n - 1) // 2 for n in rf.out_spatial)
        notices.changed("cell", ",".join(map(str, s.cell)), ",".join(map(str, centre)),
                        f"the last layer's output is {shape_text(rf.out_spatial)}")
        s = replace(s, cell=None)
    with view_slot:
        show_notices(notices)
        s = show_view(s, rf)
    cell = s.cell if s.cell is not None else tuple((n - 1) // 2 for n in rf.out_spatial)
    pinned_caption(s, cell)
    layer_table(s, rf, [f.out_spatial for f in rf.layers])
    finish(s, started)


def show_notices(items) -> None:
    for text in items:
        st.caption(f":material/info: {text}")


def finish(s: StackSettings, started: float) -> None:
    st.session_state[SETTINGS_KEY] = s
    sync_query_params(stack.to_query(s))
    with st.sidebar:
        st.divider()
        st.caption(f"this rerun: {(time.perf_counter() - started) * 1e3:.0f} ms")
