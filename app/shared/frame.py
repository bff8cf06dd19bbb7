"""The page frame every view page shares (explorer pages of every rank, the transposed page):
settings from the session or the URL, the browser view and its reports, the sidebar's input
section, notices, presenter mode and the footer.  No page imports another: they all import
this."""

from __future__ import annotations

import time
from dataclasses import replace

import streamlit as st

import convcore as cc
from app.live import section as live_section
from app.shared import controls, model, url, view
from app.shared import sources as src
from app.shared.controls import Notices, k
from app.shared.ranks import rank
from app.shared.settings import SPEEDS, TRANSPOSED_VIEWS, Settings

# Presenter mode: the view starts right under Streamlit's header and uses the whole width.
PRESENTER_CSS = """<style>
[data-testid="stMainBlockContainer"] { padding: 3.6rem 1rem 1rem 1rem; max-width: none; }
[data-testid="stMainBlockContainer"] h1 { padding-top: 0; padding-bottom: 0.2rem; }
[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] { gap: 0.5rem; }
</style>"""

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
    draw = view.transposed_view(ndim) if transposed else view.explorer_view(ndim)
    held = st.session_state.get(k(ndim, "held", page)) == sid
    # ack: the last report the page has taken in (a view ahead of it keeps its own layer)
    state = {**view.view_state(s, transposed), "ack": st.session_state.get(k(ndim, "layer_seq",
                                                                             page)) or 0}
    # the live class travels to the view, never into an export (it may hold a teacher token)
    report = draw(None if held else text, sid, anchor["init"], s.presenter,
                  key=k(ndim, "view", page), extra={**state, **live_section.view_data()})
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

def page_intro(caption: str, problems, presenter_css: str | None = None) -> None:
    """The top of every page under its title: the caption, or in presenter mode (its CSS
    given) the compact layout instead, and what the URL held that could not be used."""
    if presenter_css:
        st.html(presenter_css)
    else:
        st.caption(caption)
    for p in problems:
        st.warning(f"URL: {p}")


def page_frame(s: Settings, problems, started: float, caption: str, body) -> None:
    """A view page around its ``body``: the intro (:func:`page_intro`), the live class's
    sidebar section, and the footer, whatever ``body`` does."""
    live_section.frame()  # the live class: the sidebar's Class section, the view's class data
    page_intro(caption, problems, PRESENTER_CSS if s.presenter else None)
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
        types = ", ".join(t.lstrip(".") for t in rank(ndim).upload_types)
        st.info(f"Choose a file in the sidebar ({types}).", icon=":material/upload_file:")
    else:
        st.error(str(error), icon=":material/error:")


def equation_markdown(text: str) -> str:
    """An equation as a markdown code span (monospace, wraps, nothing interpreted)."""
    return "`" + text.replace("`", "'") + "`"
