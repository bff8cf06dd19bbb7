"""Groups & depthwise: how ``groups`` wires input maps to output maps, the weight shape in each
framework's layout, and the documents' depthwise-separable block against a standard layer."""

from __future__ import annotations

import numpy as np
import streamlit as st

import convcore as cc
from app.shared import figures, settings
from app.shared.controls import Notices, int_input
from app.shared.navigation import sync_query_params

# The documents' depthwise-separable blocks: seed 000 (1-D) and seed 002 (2-D).
SEED_BLOCKS = {1: dict(inmaps=16, outmaps=32, size=2, extent=10),
               2: dict(inmaps=3, outmaps=32, size=4, extent=5)}
WIRING_DEFAULTS = dict(ndim=1, inmaps=16, outmaps=32, groups=4, size=2, hl=0)


def _seed_from_url() -> None:
    """First visit in this session: widgets start from the URL (else the defaults)."""
    if "g.ndim" in st.session_state:
        return
    q = st.query_params
    for name, default in WIRING_DEFAULTS.items():
        try:
            st.session_state[f"g.{name}"] = int(q.get(name, default))
        except ValueError:
            st.session_state[f"g.{name}"] = default
    nd = st.session_state["g.ndim"] if st.session_state["g.ndim"] in (1, 2) else 1
    st.session_state["g.ndim"] = st.session_state["g.dw.ndim"] = nd
    for name, default in SEED_BLOCKS[nd].items():
        try:
            st.session_state[f"g.dw.{name}"] = int(q.get(f"dw_{name}", default))
        except ValueError:
            st.session_state[f"g.dw.{name}"] = default


def wiring_section(ndim: int, notices: Notices) -> dict:
    st.header("Wiring")
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        cin = int_input("Input maps C_in", "g.inmaps", 1, settings.MAX_MAPS, notices,
                        "the explorer's limit")
    with c2:
        cout = int_input("Output maps C_out", "g.outmaps", 1, settings.MAX_MAPS, notices,
                         "the explorer's limit")
    options = cc.valid_groups(cin, cout)
    asked = st.session_state.get("g.groups")
    if asked not in options:
        try:
            current = int(asked or 1)
        except (TypeError, ValueError):
            current = 1
        used = max(g for g in options if g <= max(current, 1))
        notices.changed("Groups", asked, used, f"groups must divide both C_in = {cin} and "
                        f"C_out = {cout}")
        st.session_state["g.groups"] = used
    with c3:
        groups = st.selectbox("Groups", options, key="g.groups",
                              help="only values that divide both C_in and C_out are offered")
    with c4:
        size = int_input("Kernel size", "g.size", 1, settings.MAX_KERNEL, notices,
                         "the explorer's limit")
    gmap = cc.group_map(cin, cout, groups, (size,) * ndim)
    with st.columns(4)[0]:
        hl = int_input("Highlight output map", "g.hl", 0, cout - 1, notices,
                       f"there are {cout} output maps",
                       help="draws the input maps this output map reads in black")
    st.plotly_chart(figures.groups_figure(gmap, hl), key="g.chart",
                    config={"displaylogo": False})
    st.markdown(
        f"Each of the **{groups}** group{'s' if groups > 1 else ''} convolves "
        f"**{gmap.in_per_group}** input map{'s' if gmap.in_per_group > 1 else ''} into "
        f"**{gmap.out_per_group}** output map{'s' if gmap.out_per_group > 1 else ''}. Output map "
        f"{hl} reads input maps {_span(gmap.inputs_of(hl))}; "
        + ("this is a **depthwise** convolution (groups = C_in)." if groups == cin else
           "groups = 1 is an ordinary convolution: every output reads every input."
           if groups == 1 else "")
    )
    weight_layouts(gmap)
    return dict(ndim=ndim, inmaps=cin, outmaps=cout, groups=groups, size=size, hl=hl)


def _span(idx) -> str:
    idx = list(idx)
    return str(idx[0]) if len(idx) == 1 else f"{idx[0]}–{idx[-1]}"


def weight_layouts(gmap: cc.GroupMap) -> None:
    st.subheader("The weight in each framework's layout")
    w = np.arange(int(np.prod(gmap.weight_shape_pytorch)),
                  dtype=np.float32).reshape(gmap.weight_shape_pytorch)
    mge = cc.to_megengine(w, gmap.groups)
    rows = [
        ("PyTorch / R torch / convcore", gmap.weight_shape_pytorch,
         "(C_out, C_in/groups, *kernel)"),
        ("PuzzleLib (documents 000, 002)", gmap.weight_shape_puzzlelib,
         "(C_out, C_in/groups, 1, size) in 1-D, (C_out, C_in/groups, kh, kw) in 2-D"),
        ("MegEngine (document 001)", gmap.weight_shape_megengine,
         "(groups, C_out/groups, C_in/groups, *kernel) when groups > 1"),
    ]
    st.table({"framework": [r[0] for r in rows], "weight shape": [str(r[1]) for r in rows],
              "layout": [r[2] for r in rows]})
    same = np.array_equal(cc.from_megengine(mge), w)
    st.caption(f"Weights: {gmap.params_count:,} (+ {gmap.out_channels} bias values). "
               f"cc.to_megengine / cc.from_megengine round-trip: {'✓' if same else '✗'}; the "
               "layouts hold the same numbers in the same order, only the shape differs.")


def depthwise_section(ndim: int, notices: Notices) -> dict:
    st.header("Depthwise-separable block")
    st.markdown("The documents' block: a **depthwise** convolution (groups = C_in, one kernel "
                "per input map) followed by a **pointwise** one (kernel size 1) that mixes the "
                "maps — against one standard convolution with the same input and output.")
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        cin = int_input("C_in", "g.dw.inmaps", 1, settings.MAX_MAPS, notices,
                        "the explorer's limit")
    with c2:
        cout = int_input("C_out", "g.dw.outmaps", 1, 256, notices, "the explorer's limit")
    with c3:
        extent = int_input("Length" if ndim == 1 else "Height = width", "g.dw.extent", 1, 1024,
                           notices, "the explorer's limit")
    with c4:
        size = int_input("Kernel size", "g.dw.size", 1, min(settings.MAX_KERNEL, extent),
                         notices, "the kernel must fit the input")
    kernel = (size,) * ndim
    x_shape = (1, cin) + (extent,) * ndim
    std = cc.group_map(cin, cout, 1, kernel)
    dw = cc.group_map(cin, cin, cin, kernel)
    pw = cc.group_map(cin, cout, 1, (1,) * ndim)
    mid_shape = cc.output_shape(x_shape, dw.weight_shape_pytorch, groups=cin)
    out_std = cc.output_shape(x_shape, std.weight_shape_pytorch)
    out_blk = cc.output_shape(mid_shape, pw.weight_shape_pytorch)
    macs = {
        "standard": cc.multiply_adds(x_shape, std.weight_shape_pytorch),
        "depthwise": cc.multiply_adds(x_shape, dw.weight_shape_pytorch, groups=cin),
        "pointwise": cc.multiply_adds(mid_shape, pw.weight_shape_pytorch),
    }
    params = {"standard": std.params_count, "depthwise": dw.params_count,
              "pointwise": pw.params_count}
    block_params = params["depthwise"] + params["pointwise"]
    block_macs = macs["depthwise"] + macs["pointwise"]
    names = ["standard", "depthwise", "pointwise"]
    maps = {"standard": std, "depthwise": dw, "pointwise": pw}
    st.table({
        "layer": ["standard convolution", "depthwise (groups = C_in)", "pointwise (size 1)",
                  "depthwise + pointwise"],
        "weight (PyTorch)": [str(maps[n].weight_shape_pytorch) for n in names] + ["—"],
        "weight (PuzzleLib)": [str(maps[n].weight_shape_puzzlelib) for n in names] + ["—"],
        "weights": [f"{params[n]:,}" for n in names] + [f"{block_params:,}"],
        "multiply-adds": [f"{macs[n]:,}" for n in names] + [f"{block_macs:,}"],
    })
    st.markdown(
        f"Output shape: standard {out_std}, block {out_blk}. The block needs "
        f"**{block_params / params['standard']:.1%}** of the weights and "
        f"**{block_macs / macs['standard']:.1%}** of the multiply-adds of the standard layer "
        f"(bias adds {cout} values to the standard layer and {cin} + {cout} to the block).")
    return dict(dw_inmaps=cin, dw_outmaps=cout, dw_size=size, dw_extent=extent)


def groups_page() -> None:
    _seed_from_url()
    st.title("Groups & depthwise convolution")
    ndim = st.radio("Dimensions", (1, 2), key="g.ndim", horizontal=True,
                    format_func=lambda n: f"{n}-D")
    if st.session_state.get("g.dw.ndim") != ndim:  # switched rank: the documents' block
        for name, default in SEED_BLOCKS[ndim].items():
            st.session_state[f"g.dw.{name}"] = default
        st.session_state["g.dw.ndim"] = ndim
    notices = Notices()
    params = wiring_section(ndim, notices)
    params.update(depthwise_section(ndim, notices))
    for text in notices:
        st.caption(f":material/info: {text}")
    sync_query_params({name: str(v) for name, v in params.items()})

