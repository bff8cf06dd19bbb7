"""The explorer page, one implementation for 1-D and 2-D (``explorer_page(ndim)``).

Data flows one way: settings (URL, widgets) → model (the core's results, cached) → scene (pure
data) → view (the browser component).  The browser steps, hovers and plays by itself; when the
user stops it reports the step, and this page's panels (arithmetic, shape, code, export) and the
URL follow it.
"""

from __future__ import annotations

import functools
import time
from dataclasses import replace

import numpy as np
import streamlit as st

import convcore as cc
from app.live import page as live_page
from app.shared import codegen, controls, export, layer, model, url, view
from app.shared import sources as src
from app.shared.controls import Notices, k
from app.shared.navigation import sync_query_params
from app.shared.settings import SPEEDS, TRANSPOSED_VIEWS, Settings

# Presenter mode: the view starts right under Streamlit's header and uses the whole width.
PRESENTER_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding: 3.6rem 1rem 1rem 1rem; max-width: none; }
[data-testid="stMainBlockContainer"] h1 { padding-top: 0; padding-bottom: 0.2rem; }
[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] { gap: 0.5rem; }
</style>"""


# ------------------------------------------------------------------------------ settings

def page_settings(ndim: int, page: str = "e") -> tuple[Settings, list[str]]:
    """The page's settings: kept from earlier in the session, else from the URL, else the
    defaults.  Widgets with no value yet are seeded from them.  ``page`` prefixes the session
    keys (``e`` explorer, ``t`` transposed)."""
    key = controls.canonical_key(ndim, page)
    problems: list[str] = []
    apply_layer_report(ndim, page)
    if key not in st.session_state:
        s, problems = url.from_query(st.query_params, ndim)
        st.session_state[key] = s
        controls.seed_widgets(s, overwrite=True, page=page)
    s = st.session_state[key]
    controls.seed_widgets(s, page=page)
    return s, problems


# ------------------------------------------------------------------------------ the view

def show_view(ndim: int, s: Settings, comp, upload, page: str = "e") -> tuple[Settings, str]:
    """Draw the browser view and take its report; returns the settings at the reported step
    and the component's payload (for the HTML export).  ``page`` ``t``: the transposed view.

    The scene travels with the payload unless the view reported holding it already (it
    fetched it from the scene API when its own controls changed the layer)."""
    transposed = page == "t"
    sid = view.scene_id(s, upload, transposed)
    text = view.scene_text(sid, comp, s.item, s.omap, transposed)
    akey, ckey = k(ndim, "anchor", page), k(ndim, "consumed", page)
    anchor = st.session_state.get(akey)
    init = view.init_of(s, transposed)
    if anchor is None or anchor["scene_id"] != sid:
        anchor = {"scene_id": sid, "init": init}
        st.session_state[akey] = anchor
    draw = view.transposed if transposed else view.explorer
    held = st.session_state.get(k(ndim, "held", page)) == sid
    # ack: the last report the page has taken in (a view ahead of it keeps its own layer)
    state = {**view.view_state(s, transposed), "ack": st.session_state.get(k(ndim, "layer_seq",
                                                                             page)) or 0}
    # the live class travels to the view, never into an export (it may hold a teacher token)
    report = draw(None if held else text, sid, anchor["init"], s.presenter,
                  key=k(ndim, "view", page), extra={**state, **live_page.view_data()})
    if report and report.get("scene") == sid and report.get("seq") != st.session_state.get(ckey):
        st.session_state[ckey] = report.get("seq")
        mode = report.get("mode", s.tview)
        s = replace(s, tview=mode if mode in TRANSPOSED_VIEWS else s.tview)
        step = _as_int(report.get("step"), s.step)
        speed = report.get("speed", s.speed)
        s = replace(s, step=min(max(step, 0), model.view_steps(s, comp) - 1),
                    speed=speed if speed in SPEEDS else s.speed,
                    reveal=bool(report.get("reveal", s.reveal)),
                    predict=bool(report.get("predict", s.predict)))
    return s, view.payload(text, sid, {**init, "step": s.step, "speed": s.speed,
                                       "reveal": s.reveal}, False, state)


def apply_layer_report(ndim: int, page: str) -> None:
    """Before anything is drawn: when the view's own controls changed the layer, its report
    carries the layer's query (as the scene API answered it); the page takes it over —
    canonical settings and widgets — so the sidebar, panels and URL follow.  The report also
    names the scene the view now holds, which the page then does not send again."""
    state = st.session_state.get(k(ndim, "view", page))
    report = state.get("view") if isinstance(state, dict) else None
    if not isinstance(report, dict) or not isinstance(report.get("query"), dict):
        return
    seen = k(ndim, "layer_seq", page)
    if report.get("seq") == st.session_state.get(seen):
        return
    st.session_state[seen] = report.get("seq")
    query = {str(key): str(v) for key, v in report["query"].items()
             if key not in view.VIEW_ONLY and isinstance(v, (str, int, float))}
    key = controls.canonical_key(ndim, page)
    current = st.session_state.get(key)
    if current is None:
        return
    # unreadable values keep the defaults, and the page's bounds apply as to any value
    asked, _ = url.from_query(query, ndim)
    keep = {f: getattr(current, f) for f in ("step", "speed", "reveal", "predict", "tview",
                                            "presenter")}
    new = replace(asked, **keep)
    if current.data_source and new.source == current.source:
        new = replace(new, batch=current.batch, inmaps=current.inmaps, shape=current.shape)
    if new != current:
        st.session_state[key] = new
        controls.seed_widgets(new, overwrite=True, page=page)
    if isinstance(report.get("scene"), str):
        st.session_state[k(ndim, "held", page)] = report["scene"]


def _as_int(value, fallback: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return fallback


# ------------------------------------------------------------------------------ panels

def arithmetic_panel(step: cc.Step, predict: bool = False) -> None:
    st.markdown("**What this step adds up** — every tap's input × weight, plus the bias "
                "(computed on the server by `convcore.trace_step`):")
    box = st.container()
    if predict:  # the quiz would be spoiled: keep the answer folded away
        st.caption("Predict mode: check your answer in the view first.")
        box = st.expander("Show the arithmetic of this step")
    # plain markdown with a code span: raw HTML would pull an extra parser into the first
    # paint, and st.code a 1.5 MB highlighter
    box.markdown(equation_markdown(cc.equation(step)))
    pads = sum(t.is_padding for t in step.taps)
    box.caption(f"{len(step.taps)} products ({pads} from padding) + bias "
                f"{cc.format_number(step.bias)} = {cc.format_number(step.value)}")


def equation_markdown(text: str) -> str:
    """An equation as a markdown code span (monospace, wraps, nothing interpreted)."""
    return "`" + text.replace("`", "'") + "`"


def _short(idx, most: int = 10) -> str:
    idx = list(idx)
    text = ", ".join(str(i) for i in idx[:most])
    return text + (f", … ({len(idx) - most} more)" if len(idx) > most else "")


def shape_panel(comp: model.Computation) -> None:
    st.markdown("**Why the output has this shape**")
    for axis in comp.shape.axes:
        st.latex(axis.latex)
        if axis.remainder:
            st.caption(f"{axis.axis}: the floor discards a remainder of {axis.remainder}.")
    for warning in comp.shape.warnings:
        st.info(warning, icon=":material/info:")
    lines = []
    for name, a in zip(controls.AXES[len(comp.axes)], comp.axes):
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


def code_panel(s: Settings, comp: model.Computation) -> None:
    args = (s, comp.x, comp.weight, comp.bias)
    programs = {"PyTorch": codegen.code_pytorch}
    if s.pad_form in ("same", "tfsame"):  # both frameworks' spelling of "same"
        programs["TensorFlow / JAX"] = codegen.code_tensorflow_jax
    programs.update({"Module API (documents)": codegen.code_module_api,
                     "convcore": codegen.code_convcore})
    for tab, program in zip(st.tabs(list(programs)), programs.values()):
        tab.code(program(*args), language="python")


def export_panel(s: Settings, comp: model.Computation, payload_text: str) -> None:
    name = f"conv{s.ndim}d"
    shown = comp.out[s.item, s.omap]
    c1, c2 = st.columns(2)
    c1.download_button(f"Output map out[{s.item},{s.omap}] as CSV",
                       functools.partial(export.csv_text, shown),
                       f"{name}_out_{s.item}_{s.omap}.csv", "text/csv",
                       key=k(s.ndim, "dl.csv"), on_click="ignore")
    c1.download_button(f"Whole output {comp.out.shape} as .npy",
                       functools.partial(export.npy_bytes, comp.out), f"{name}_out.npy",
                       "application/octet-stream", key=k(s.ndim, "dl.npy"),
                       on_click="ignore")
    c1.download_button(f"Input {comp.x.shape} as .npy",
                       functools.partial(export.npy_bytes, comp.x), "input.npy",
                       "application/octet-stream", key=k(s.ndim, "dl.x"), on_click="ignore")
    c1.download_button(f"Weights {comp.weight.shape} as .npy",
                       functools.partial(export.npy_bytes, comp.weight), "weight.npy",
                       "application/octet-stream", key=k(s.ndim, "dl.w"), on_click="ignore")
    title = f"{s.ndim}-D convolution explorer — out[{s.item},{s.omap}]"
    c2.download_button("This explorer as one HTML file (works offline)",
                       functools.partial(export.html_bytes, payload_text, title),
                       f"{name}_explorer.html", "text/html", key=k(s.ndim, "dl.html"),
                       on_click="ignore")
    c2.caption("The sliding window as a GIF or a video: the view's own **GIF** and "
               "**Video** buttons record Play as the view draws it (every input map, the "
               "kernels, the outputs and the numbers).")


def footer(comp: model.Computation | None, started: float) -> None:
    with st.sidebar:
        st.divider()
        parts = [f"Backend: **{cc.backend_name()}**"]
        if comp is not None:
            name, why = comp.algorithm
            parts.append(f"last computation: convolution {comp.conv_ms:.1f} ms"
                         + (f" with **{name}**" if name else "")
                         + f", trace {comp.trace_ms:.1f} ms")
            if why:
                parts.append(f"why {name}: {why.split(': ', 1)[-1]}")
        parts.append(f"this rerun: {(time.perf_counter() - started) * 1e3:.0f} ms")
        st.caption(" · ".join(parts))


def show_notices(items) -> None:
    for text in items:
        st.caption(f":material/info: {text}")


def non_finite_notice(comp: model.Computation) -> str | None:
    """Explain inf and nan in the input, weights, bias or output, if any."""
    parts = []
    for name, a in (("input", comp.x), ("weights", comp.weight), ("bias", comp.bias),
                    ("output", comp.out)):
        if a is None:
            continue
        n_inf, n_nan = int(np.isinf(a).sum()), int(np.isnan(a).sum())
        if n_inf or n_nan:
            parts.append(f"{name}: {n_inf} inf, {n_nan} nan")
    if not parts:
        return None
    return ("Non-finite values (" + "; ".join(parts) + "). float32 holds magnitudes up to "
            "3.4e38: a larger value, or a sum that overflows, becomes ±inf; inf − inf and "
            "0 · inf give nan, and nan spreads to every output that reads it. They are drawn "
            "at the ends of the colour scale (nan: blank) and written inf, −inf, nan.")


# ------------------------------------------------------------------------------ the page

def explorer_page(ndim: int) -> None:
    """The 1-D or 2-D explorer: controls in the sidebar, the browser view and panels."""
    started = time.perf_counter()
    s, problems = page_settings(ndim)
    if not s.presenter:  # on a projector the view needs the height; the tab says the name
        st.title(f"{ndim}-D convolution explorer")
    page_frame(s, problems, started, "Cross-correlation, as in PyTorch and the documents: "
               "the window slides over the padded input; each output cell is the sum of input "
               "× weight plus bias. Hover any cell; ← → step; space plays. Change the layer "
               "with the sliders above the view or in the sidebar.",
               lambda: _explorer_body(ndim, s))


def page_frame(s: Settings, problems, started: float, caption: str, body) -> None:
    """A view page around its ``body``: the caption (or presenter mode's compact layout),
    what the URL held that could not be used, and the footer, whatever ``body`` does."""
    if s.presenter:
        st.html(PRESENTER_CSS)
    else:
        st.caption(caption)
    live_page.frame()  # the live class: the sidebar's Class section, the view's class data
    for p in problems:
        st.warning(f"URL: {p}")
    comp = None
    try:
        comp = body()
    finally:
        footer(comp, started)


def input_section(ndim: int, s: Settings, notices: Notices, page: str = "e"):
    """The sidebar's input controls and the input they make: returns the settings (their
    shape taken from data sources), the upload, and the input's error and notices."""
    with st.sidebar:
        s, upload = controls.input_controls(ndim, s, notices, page=page)
    try:
        x, input_notices = model.load_input(s, upload)
    except src.SourceError as e:
        return s, upload, e, ()
    if s.data_source:
        s = model.with_input_shape(s, x)
        with st.sidebar:
            st.caption(f"Input from data: N={x.shape[0]}, C_in={x.shape[1]}, "
                       f"{'×'.join(str(n) for n in x.shape[2:])}")
    return s, upload, None, input_notices


def input_problem(ndim: int, s: Settings, upload, error: Exception) -> None:
    """The input's error inline, or a prompt when an upload has no file yet."""
    if s.source == "upload" and upload is None:
        st.info("Choose a file in the sidebar (CSV or .npy"
                + (", or a PNG/JPEG image)" if ndim == 2 else ")") + ".",
                icon=":material/upload_file:")
    else:
        st.error(str(error), icon=":material/error:")


def _explorer_body(ndim: int, s: Settings) -> model.Computation | None:
    notices = Notices()
    s, upload, input_error, input_notices = input_section(ndim, s, notices)
    with st.sidebar:  # drawn even when the input is invalid, so every control stays editable
        s = controls.layer_controls(ndim, s, notices)
        s = controls.view_controls(ndim, s, notices)
    s = controls.ensure_table(s)
    if s.kernel == "table":
        s = controls.table_editor(s, notices)
    if input_error is not None:
        input_problem(ndim, s, upload, input_error)
        show_notices(notices)
        return _finish(s, None)
    try:
        comp = model.compute(s, upload)
    except (cc.ConvError, src.SourceError) as e:
        st.error(str(e), icon=":material/error:")
        show_notices(notices)
        return _finish(s, None)
    st.session_state[k(ndim, "last_w")] = comp.weight
    s = layer.clamp_step(s, model.view_steps(s, comp), notices)
    show_notices([*notices, *input_notices, *filter(None, [non_finite_notice(comp)])])
    s, payload_text = show_view(ndim, s, comp, upload)
    panels = {
        "Arithmetic": lambda: arithmetic_panel(model.step_trace(comp, s, s.step), s.predict),
        "Shape": lambda: shape_panel(comp),
        "Code": lambda: code_panel(s, comp),
        "Export": lambda: export_panel(s, comp, payload_text),
    }
    # Only the open tab runs and is sent: the page's first paint skips KaTeX, code blocks and
    # downloads nobody has asked for yet.
    for tab, render in zip(st.tabs(list(panels), key=k(ndim, "panel"), on_change="rerun"),
                           panels.values()):
        if tab.open:
            with tab:
                render()
    return _finish(s, comp)


def _finish(s: Settings, comp: model.Computation | None) -> model.Computation | None:
    st.session_state[controls.canonical_key(s.ndim)] = s
    sync_query_params(url.to_query(s))
    return comp
