"""The transposed convolution & gradients page, for every rank whose entry in
:data:`app.shared.ranks.RANKS` says ``transposed`` (1-D, 2-D and 3-D; ``?ndim=3`` in the URL).

The same flow as the explorer (settings → model → scene → view), with the transposed layer of
convcore: the browser view steps through it in two ways (scatter: each input cell stamps the
kernel onto the output; gather: the equivalent plain convolution over the zero-inserted input
with the flipped kernel), and the panels show that it is the backward pass of the forward layer
whose shape it inverts, and which input sizes ``output_padding`` chooses between.
"""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

import convcore as cc
from app.shared import codegen, controls, frame, layer, model, url
from app.shared import sources as src
from app.shared.controls import Notices, k
from app.shared.navigation import sync_query_params
from app.shared.ranks import transposed_ranks
from app.shared.settings import Settings

PAGE = "t"


def arithmetic_panel(comp: model.TransposedComputation, s: Settings) -> None:
    if s.tview == "gather":
        step = model.transposed_step(comp, s, s.step)
        st.markdown("**What lands on this output cell** — every input × weight whose stamp "
                    "covers it, plus the bias (`convcore.trace_transposed`):")
        st.markdown(frame.equation_markdown(cc.transposed_equation(step)))
        return
    groups = comp.out.shape[1] // comp.weight.shape[1]
    cg = comp.x.shape[1] // groups
    group = s.omap // comp.weight.shape[1]
    m, *cell = np.unravel_index(s.step, (cg, *comp.x.shape[2:]))
    c = group * cg + int(m)
    scatter = cc.trace_scatter(comp.x, comp.weight, comp.bias,
                               in_index=(s.item, c, *(int(i) for i in cell)),
                               **model.transposed_kwargs(s))
    stamps = [t for t in scatter.stamps if t.out_channel == s.omap]
    st.markdown(f"**Input cell x[{s.item},{c},{','.join(map(str, cell))}] = "
                f"{cc.format_number(scatter.value)} stamps** value × kernel onto output map "
                f"{s.omap} (`convcore.trace_scatter`):")
    # three columns (a fourth, mostly empty, did not fit a phone): a cropped stamp says so
    # where it would have landed
    st.table({"output cell": [",".join(map(str, t.output_index))
                              + (" (cropped by padding)" if t.cropped else "") for t in stamps],
              "weight": [",".join(map(str, t.weight_index)) for t in stamps],
              "adds": [f"{cc.format_number(t.x)}·{cc.format_number(t.w)} = "
                       f"{cc.format_number(t.product)}" for t in stamps]})


def backward_panel(comp: model.TransposedComputation, s: Settings) -> None:
    nd = s.ndim
    fwd_in = comp.out.shape[2:]
    fwd_out = comp.x.shape[2:]
    kw = model.transposed_kwargs(s)
    left, right = st.columns(2)
    with left:
        st.markdown("**The forward convolution**")
        st.markdown(f"`conv{nd}d` with C_in = {s.outmaps}, C_out = {comp.x.shape[1]}, kernel "
                    f"{'×'.join(map(str, comp.weight.shape[2:]))}, stride "
                    f"{tuple(kw['stride'])}, padding {tuple(kw['padding'])}, dilation "
                    f"{tuple(kw['dilation'])}, groups {s.groups} maps "
                    f"**{'×'.join(map(str, fwd_in))} → {'×'.join(map(str, fwd_out))}**.")
        expl = cc.explain_shape(fwd_in, comp.weight.shape[2:], kw["stride"], kw["padding"],
                                kw["dilation"])
        st.code(expl.text, language=None)
    with right:
        st.markdown("**This transposed convolution**")
        st.markdown(f"uses the same weight {tuple(comp.weight.shape)} and maps "
                    f"**{'×'.join(map(str, fwd_out))} → {'×'.join(map(str, fwd_in))}**: the "
                    "shape of the forward layer's input, from the shape of its output.")
        st.markdown("It is that layer's **backward pass**: given x as the gradient of the "
                    "forward output, `cc.conv_grad_input` gives the gradient of its input — "
                    "the same numbers, computed here by convcore: largest difference "
                    f"**{comp.grad_input_diff:g}**.")
    st.caption("Where the kernel is not a multiple of the stride, output cells receive "
               "different numbers of stamps (the view's 'stamps per output cell'): the "
               "checkerboard of upsampling by transposed convolution "
               "(distill.pub/2016/deconv-checkerboard)." if any(comp.overlap.uneven) else
               "Every interior output cell receives the same number of stamps here (kernel "
               "size a multiple of the stride, or stride 1): no checkerboard.")


def output_padding_panel(comp: model.TransposedComputation, s: Settings) -> None:
    names = controls.AXES[s.ndim]
    n_in = comp.x.shape[2:]
    for a, (name, sizes) in enumerate(zip(names, comp.colliding)):
        chosen = comp.out.shape[2 + a]
        sizes_text = ", ".join(str(v) for v in sizes)
        st.markdown(
            f"**{name}:** a forward convolution with this kernel, stride {s.stride[a]} and "
            f"padding {s.pad[a][0]} maps inputs of length **{sizes_text}** all to length "
            f"{n_in[a]} (the floor in the shape formula), so the transposed convolution "
            f"cannot know which to give back: `output_padding` picks one. "
            f"output_padding = {s.output_padding[a]} gives **{chosen}**"
            + (" (the choices: " + ", ".join(f"{i} → {v}" for i, v in enumerate(sizes))
               + ")." if len(sizes) > 1 else ". With stride 1 there is only one."))


def code_panel(s: Settings, comp: model.TransposedComputation) -> None:
    args = (s, comp.x, comp.weight, comp.bias)
    t1, t2, t3 = st.tabs(["PyTorch", "Module API (documents)", "convcore"])
    t1.code(codegen.code_transposed_pytorch(*args), language="python")
    t2.code(codegen.code_transposed_module_api(*args), language="python")
    t3.code(codegen.code_transposed_convcore(*args), language="python")


def transposed_page() -> None:
    """The page: its rank by its own control (``?ndim=2`` in the URL; 1-D without one)."""
    started = time.perf_counter()
    ranks = transposed_ranks()
    if "t.ndim" not in st.session_state:
        asked = st.query_params.get("ndim")
        st.session_state["t.ndim"] = next((n for n in ranks if str(n) == asked), ranks[0])
    st.title("Transposed convolution & gradients")
    ndim = st.radio("Dimensions", ranks, horizontal=True, key="t.ndim",
                    format_func=lambda n: f"{n}-D")
    s, problems = frame.page_settings(ndim, PAGE)
    frame.page_frame(
        s, problems, started, "`conv_transpose`, as in PyTorch: every input cell stamps value × "
        "kernel onto the output at input·stride + tap·dilation − padding. Step through it as "
        "scatter (input cells) or gather (output cells); hover any cell.",
        lambda: _body(ndim, s))


def _body(ndim: int, s: Settings):
    notices = Notices()
    s, upload, input_error, input_notices = frame.input_section(ndim, s, notices, PAGE)
    with st.sidebar:
        s = controls.transposed_layer_controls(ndim, s, notices, page=PAGE)
        s = controls.view_controls(ndim, s, notices, page=PAGE)
    if input_error is not None:
        frame.input_problem(ndim, s, upload, input_error)
        frame.show_notices(notices)
        return _finish(s, None)
    try:
        comp = model.compute_transposed(s, upload)
    except (cc.ConvError, src.SourceError) as e:
        st.error(str(e), icon=":material/error:")
        frame.show_notices(notices)
        return _finish(s, None)
    s = layer.clamp_step(s, model.view_steps(s, comp), notices)
    frame.show_notices([*notices, *input_notices])
    s, _ = frame.show_view(ndim, s, comp, upload, page=PAGE)
    panels = {
        "Arithmetic": lambda: arithmetic_panel(comp, s),
        "Backward pass": lambda: backward_panel(comp, s),
        "output_padding": lambda: output_padding_panel(comp, s),
        "Code": lambda: code_panel(s, comp),
    }
    for tab, render in zip(st.tabs(list(panels), key=k(ndim, "panel", PAGE),
                                   on_change="rerun"), panels.values()):
        if tab.open:
            with tab:
                render()
    return _finish(s, comp)


def _finish(s: Settings, comp):
    st.session_state[controls.canonical_key(s.ndim, PAGE)] = s
    sync_query_params(url.page_query(s, PAGE))
    return comp
