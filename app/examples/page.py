"""Documented examples: every worked example of the source documents (from
``convcore.examples``), the output each document prints next to the output convcore computes,
a match badge, and a plain explanation of every erratum."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import streamlit as st

from app.shared import figures, settings
from app.shared.controls import open_in_explorer
from app.shared.navigation import open_in_groups
from convcore import examples as ex_reg

BADGES = {
    "match": ("matches the document", "green", ":material/check_circle:"),
    "erratum": ("erratum: the document's output is wrong", "orange", ":material/error:"),
    "mismatch": ("MISMATCH: convcore disagrees", "red", ":material/cancel:"),
}
ERRATUM_KINDS = {"output": "printed output", "formula": "formula", "code": "code",
                 "prose": "text"}


@st.cache_data(show_spinner="Running every documented example…")
def checks() -> dict:
    """id -> ExampleCheck for every registry entry (computed once per process)."""
    return {ex.id: ex_reg.check_example(ex) for ex in ex_reg.EXAMPLES}


def _tuple(v, n: int) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v),) * n


def explorer_settings(ex: ex_reg.Example) -> tuple[settings.Settings, list[str]]:
    """The explorer view of a documented example, and notes on what had to change."""
    notes: list[str] = []
    p = ex.params
    if ex.module in ("Conv1D", "Conv2D"):
        nd = 1 if ex.module == "Conv1D" else 2
        s = replace(settings.defaults(nd), inmaps=p["inmaps"], outmaps=p["outmaps"],
                    size=_tuple(p["size"], nd), stride=_tuple(p.get("stride", 1), nd),
                    dilation=_tuple(p.get("dilation", 1), nd), groups=p.get("groups", 1),
                    pad=tuple((v, v) for v in _tuple(p.get("pad", 0), nd)))
    else:  # the functional conv1d examples (MegEngine, R torch, the blog)
        w = ex_reg.example_weights(ex)  # None when the document's weights are random
        s = replace(settings.defaults(1), inmaps=p.get("in_channels", 1),
                    outmaps=p.get("out_channels", 1 if w is None else w.shape[0]),
                    size=(p["kernel_size"] if w is None else w.shape[-1],),
                    stride=(p.get("stride", 1),), pad=((p.get("padding", 0),) * 2,))
    batch, shape = 1, ()
    if ex.input_shape:
        batch, shape = ex.input_shape[0], tuple(ex.input_shape[2:])
    if batch > settings.MAX_BATCH:
        notes.append(f"the batch of {batch} is cut to {settings.MAX_BATCH} items in the explorer")
        batch = settings.MAX_BATCH
    s = replace(s, batch=batch, shape=shape or s.shape)
    if ex.input == "randn":
        s = replace(s, source="random", seed=0)
    elif ex.input == "literal":
        s = replace(s, source="typed", typed=", ".join(f"{v:g}" for v in ex.input_values))
    if ex.weights == "random":
        scheme = p.get("initscheme") or "xavier_uniform"
        s = replace(s, kernel="random", scheme=scheme)
        notes.append("the document's weights are random: the explorer draws its own")
    elif ex.weights != "customW":
        w = np.asarray(ex.weights, dtype=np.float64)
        s = replace(s, kernel="table", size=tuple(w.shape[2:]),
                    weights=tuple(float(v) for v in w.ravel()))
    if ex.bias is not None:
        s = replace(s, bias=tuple(float(b) for b in ex.bias))
    return s, notes


def groups_params(ex: ex_reg.Example) -> dict[str, int]:
    """The groups page's settings for a depthwise-separable example: the depthwise layer's
    wiring (groups = C_in) and the block itself."""
    p = ex.params
    return dict(ndim=1 if ex.module == "Sequential1D" else 2, inmaps=p["inmaps"],
                outmaps=p["inmaps"], groups=p["inmaps"], size=p["size"], hl=0,
                dw_inmaps=p["inmaps"], dw_outmaps=p["outmaps"], dw_size=p["size"],
                dw_extent=ex.input_shape[-1])


def show_output(value, kind: str) -> str:
    if value is None:
        return "(the document prints nothing)"
    if kind == "values":
        return np.array2string(np.asarray(value), separator=" ", max_line_width=88)
    return "\n".join(str(tuple(v)) for v in value)


def printed_text(ex: ex_reg.Example) -> str:
    if ex.seed == "004":  # the blog prints formulas; we fixed its random weights
        formulas = "\n".join(" | ".join(row) for row in np.asarray(ex.printed)[0])
        return (formulas + "\n\nwith w = " + str(ex.weights) + f", b = {ex.bias}:\n"
                + show_output(ex_reg.printed_values(ex), "values"))
    return show_output(ex.printed, "values" if ex.kind == "values" else "shapes")


def show_example(ex: ex_reg.Example, check) -> None:
    label, color, icon = BADGES[check.status]
    with st.container(border=True, key=f"ex.{ex.id}"):
        st.subheader(f"{ex.document} — {ex.section}")
        st.badge(label, color=color, icon=icon)
        st.caption(f"registry id `{ex.id}` · document {ex.seed}")
        left, right = st.columns(2)
        with left:
            st.markdown("**The document's code**")
            st.code(ex.code, language="python")
        with right:
            st.markdown("**The document prints**")
            st.code(printed_text(ex), language=None)
            st.markdown("**convcore computes**")
            st.code(show_output(check.computed, "values" if ex.kind == "values"
                                else "shapes"), language=None)
        for e in ex.errata:
            body = (f"**Erratum ({ERRATUM_KINDS.get(e.kind, e.kind)})** — the document says: "
                    f"{e.document_says}\n\n**Right:** {e.right}\n\n{e.why}")
            if e.kind == "output" and check.reproduced:
                body += (f"\n\nconvcore reproduces the printed output with "
                         f"{', '.join(f'{k}={v}' for k, v in ex.reproduced_by.items())}.")
            (st.warning if e.kind == "output" else st.info)(body)
        if ex.note:
            st.caption(ex.note)
        open_button(ex)


def open_button(ex: ex_reg.Example) -> None:
    if ex.module.startswith("Sequential"):
        if st.button("Open in the groups page", key=f"open.{ex.id}",
                     icon=":material/open_in_new:"):
            open_in_groups(groups_params(ex))
        return
    s, notes = explorer_settings(ex)
    if notes:
        st.caption("In the explorer: " + "; ".join(notes) + ".")
    if st.button(f"Open in the {s.ndim}-D explorer", key=f"open.{ex.id}",
                 icon=":material/open_in_new:"):
        open_in_explorer(s)


def examples_page() -> None:
    st.title("Documented examples")
    st.markdown("Every worked example of the source documents, transcribed once in "
                "`convcore.examples`: the document's code, what it prints, what convcore "
                "computes, and where the document is wrong, why.")
    results = checks()
    counts = Counter(c.status for c in results.values())
    st.markdown(" · ".join(f"**{counts.get(k, 0)}** {BADGES[k][0]}" for k in BADGES))
    st.plotly_chart(figures.examples_figure(
        [(ex.document, ex.section, results[ex.id].status) for ex in ex_reg.EXAMPLES]),
        key="examples.chart", config={"displaylogo": False})
    docs = sorted({ex.seed for ex in ex_reg.EXAMPLES})
    for tab, seed in zip(st.tabs([ex_reg.DOCUMENTS[d] for d in docs]), docs):
        with tab:
            for ex in ex_reg.EXAMPLES:
                if ex.seed == seed:
                    show_example(ex, results[ex.id])

