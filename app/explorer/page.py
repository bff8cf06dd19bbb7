"""The explorer page, one implementation for every rank of app/shared/ranks.py
(``explorer_page(ndim)``); the page frame it shares with the transposed page is
:mod:`app.shared.frame`.

Data flows one way: settings (URL, widgets) → model (the core's results, cached) → scene (pure
data) → view (the browser component).  The browser steps, hovers and plays by itself; when the
user stops it reports the step, and this page's panels (arithmetic, shape, code, export) and the
URL follow it.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import streamlit as st

import convcore as cc
from app.shared import codegen, controls, export, layer, model, url
from app.shared import sources as src
from app.shared.controls import Notices, k
from app.shared.frame import (  # noqa: F401 (the frame's names, as before the move)
    PRESENTER_CSS,
    apply_layer_report,
    equation_markdown,
    footer,
    input_problem,
    input_section,
    page_frame,
    page_settings,
    show_notices,
    show_view,
)
from app.shared.navigation import sync_query_params
from app.shared.settings import Settings

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
                       functools.partial(export.html_bytes, payload_text, title, s.ndim),
                       f"{name}_explorer.html", "text/html", key=k(s.ndim, "dl.html"),
                       on_click="ignore")
    c2.caption("The sliding window as a GIF or a video: the view's own **GIF** and "
               "**Video** buttons record Play as the view draws it (every input map, the "
               "kernels, the outputs and the numbers).")






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
