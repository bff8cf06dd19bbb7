"""The explorer's sidebar: widgets in, :class:`~app.settings.Settings` out.

Widgets keep their values in ``st.session_state`` under ``e{ndim}.{name}`` keys; the page's
canonical settings live under ``e{ndim}.settings``.  Bounds come from the core
(``cc.max_padding``, ``cc.max_kernel_size``, ``cc.max_dilation``, ``cc.valid_groups``); the app
only caps what the core leaves unbounded.  A value outside its bounds — typed, or from a
shared URL — is changed to the nearest allowed one, and a notice says which parameter, the
value asked, the value used and the rule; nothing is changed silently.
"""

from __future__ import annotations

import math
from dataclasses import replace
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import DeletedFile

import convcore as cc
from app import model, settings
from app import sources as src
from app.settings import Settings
from app.state_guard import new_refusal

AXES = {1: ("L",), 2: ("H", "W")}


def k(ndim: int, name: str, page: str = "e") -> str:
    """The session-state key of one widget: ``e{ndim}.name`` on the explorer pages."""
    return f"{page}{ndim}.{name}"


def canonical_key(ndim: int, page: str = "e") -> str:
    return k(ndim, "settings", page)


class Notices(list):
    """What the controls changed or could not use, as sentences for the page."""

    def changed(self, name: str, asked, used, rule: str) -> None:
        self.append(f"{name}: asked {asked}, using {used} — {rule}")


# ------------------------------------------------------------------- settings <-> widgets

def widget_values(s: Settings, page: str = "e") -> dict:
    """Every explorer widget's value for the settings ``s``."""
    n = s.ndim
    v = {
        "source": s.source, "seed": s.seed, "sample": s.sample, "typed": s.typed,
        "batch": s.batch, "inmaps": s.inmaps, "outmaps": s.outmaps, "groups": s.groups,
        "kernel": s.kernel, "preset": s.preset, "scheme": s.scheme, "kseed": s.kseed,
        "mode": s.mode, "pad_form": s.pad_form, "bias_on": s.bias is not None,
        "bias": "0" if s.bias is None else ", ".join(f"{b:g}" for b in s.bias),
        "item": s.item, "omap": s.omap, "presenter": s.presenter,
        "layer": s.layer, "image": s.image, "netw": "shipped" if s.net is None else "seed",
        "net": 0 if s.net is None else s.net, "usedraw": bool(s.draw),
    }
    for a in range(n):
        v[f"shape.{a}"] = s.shape[a]
        v[f"size.{a}"] = s.size[a]
        v[f"stride.{a}"] = s.stride[a]
        v[f"dilation.{a}"] = s.dilation[a]
        v[f"pad.{a}"] = s.pad[a][0]
        v[f"padlo.{a}"], v[f"padhi.{a}"] = s.pad[a]
        v[f"opad.{a}"] = s.output_padding[a] if a < len(s.output_padding) else 0
    return {k(n, name, page): value for name, value in v.items()}


def seed_widgets(s: Settings, overwrite: bool = False, page: str = "e") -> None:
    for key, value in widget_values(s, page).items():
        if overwrite or key not in st.session_state:
            st.session_state[key] = value


def forget_widgets(ndim: int, page: str = "e") -> None:
    """Drop the page's widget values so that they are seeded again from its settings."""
    prefix = f"{page}{ndim}."
    for key in [key for key in st.session_state if str(key).startswith(prefix)]:
        del st.session_state[key]


def open_in_explorer(s: Settings, page: str = "e") -> None:
    """Show ``s`` on its explorer page (``page`` "e") or on the transposed page ("t"), exactly
    as a link to it would, keeping the session (the documented examples, the gallery)."""
    from app import url
    from app.navigation import EXPLORER_PAGES, TRANSPOSED_PAGE

    forget_widgets(s.ndim, page)  # the page's widgets, its view's anchor and its settings
    st.session_state[canonical_key(s.ndim, page)] = s
    seed_widgets(s, overwrite=True, page=page)
    if page == "t":
        st.session_state["t.ndim"] = s.ndim  # the transposed page's own rank control
    st.switch_page(EXPLORER_PAGES[s.ndim] if page == "e" else TRANSPOSED_PAGE,
                   query_params=url.page_query(s, page))


# ------------------------------------------------------------------------------ widgets

def _as_int(value, fallback: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return fallback


def clamp(key: str, lo: int, hi: int, notices: Notices | None = None, name: str = "",
          rule: str = "") -> int:
    """Put the widget value under ``key`` into [lo, hi], with a notice when it moves."""
    asked = st.session_state.get(key, lo)
    value = min(max(_as_int(asked, lo), lo), hi)
    if notices is not None and value != asked:
        bound = f"at least {lo}" if _as_int(asked, lo) < lo else f"at most {hi}"
        notices.changed(name or key.split(".", 1)[-1], asked, value,
                        f"must be {bound}" + (f" ({rule})" if rule else ""))
    st.session_state[key] = value
    return value


def int_input(label: str, key: str, lo: int, hi: int, notices: Notices | None = None,
              rule: str = "", help: str | None = None, disabled: bool = False) -> int:
    """A number input whose value is put into [lo, hi] (with a notice) before it is drawn.

    The widget itself has no min/max, so a typed value out of range reaches the page, which
    says what it used instead, rather than being refused in the browser without a word.
    """
    clamp(key, lo, hi, notices, label, rule)
    return int(st.number_input(label, step=1, key=key, help=help, disabled=disabled))


def choice(label: str, key: str, options, format_func=str, help: str | None = None,
           radio: bool = False, notices: Notices | None = None):
    options = list(options)
    if st.session_state.get(key) not in options:
        if notices is not None and key in st.session_state:
            notices.append(f"{label}: {st.session_state[key]!r} is not one of the choices; "
                           f"using {options[0]!r}")
        st.session_state[key] = options[0]
    widget = st.radio if radio else st.selectbox
    kw = dict(horizontal=True) if radio else {}
    return widget(label, options, key=key, format_func=format_func, help=help, **kw)


def per_axis(ndim: int, label: str, name: str, limits, notices: Notices | None = None,
             rule: str = "", help: str | None = None, disabled: bool = False,
             page: str = "e") -> tuple:
    cols = st.columns(ndim) if ndim > 1 else [st.container()]
    values = []
    for a, col in enumerate(cols):
        lo, hi = limits[a]
        text = f"{label} {AXES[ndim][a]}" if ndim > 1 else label
        with col:
            values.append(int_input(text, k(ndim, f"{name}.{a}", page), lo, hi, notices, rule,
                                    help=help, disabled=disabled))
    return tuple(values)


# ------------------------------------------------------------------------------ bounds

def pad_limit(mode: str, extent: int) -> int:
    """Largest padding per side offered: the mode's limit, else the extent itself.

    (An extent below 1 only comes from a URL while an upload is still missing: it counts as 1.)
    """
    extent = max(1, extent)
    limit = cc.max_padding(extent, mode)
    return extent if limit is None else max(0, limit)


def size_limit(extent: int, pad_total: int) -> int:
    """Largest kernel size offered: the window must fit in the padded input."""
    return max(1, min(settings.MAX_KERNEL, cc.max_kernel_size(max(1, extent), (pad_total, 0))))


def dilation_limit(size: int, padded_extent: int) -> int:
    """Largest dilation whose dilated kernel still fits in the padded input."""
    d = cc.max_dilation(max(1, padded_extent), size)
    return settings.MAX_DILATION if d is None else max(1, min(settings.MAX_DILATION, d))


def parse_bias(text: str) -> tuple | None:
    """Bias values typed as ``0.5, -1``; ``inf`` and ``nan`` are numbers too (and shown so)."""
    try:
        vals = tuple(float(v) for v in text.replace(";", ",").split(",") if v.strip())
    except ValueError:
        return None
    return vals or None


# ------------------------------------------------------------------------------ sections

def input_controls(ndim: int, s: Settings, notices: Notices, page: str = "e"
                   ) -> tuple[Settings, model.Upload | None]:
    """Input source and (for generated inputs) the input's shape."""
    st.subheader("Input")
    source = choice("Input source", k(ndim, "source", page),
                    offered(settings.INPUT_SOURCES, ndim, page), settings.INPUT_SOURCES.get,
                    help="arange reproduces the documents' examples", notices=notices)
    changes: dict = dict(source=source)
    upload = None
    if source == "network" or st.session_state.get(k(ndim, "kernel", page)) == "network":
        changes.update(network_controls(ndim, s, source == "network", notices, page))
    if source == "random":
        changes["seed"] = int_input("Seed", k(ndim, "seed", page), 0, 2**31 - 1, notices)
    elif source == "sample":
        names = src.SAMPLE_SIGNALS if ndim == 1 else src.SAMPLE_IMAGES
        changes["sample"] = choice("Sample", k(ndim, "sample", page), names, notices=notices)
    elif source == "typed":
        changes["typed"] = st.text_area(
            "Values", key=k(ndim, "typed", page),
            help="numbers separated by commas or spaces; rows by newlines or ';'"
                 + ("; every row is one input map" if ndim == 1
                    else "; a blank line starts the next input map"))
    elif source == "upload":
        types = [t.lstrip(".") for t in (src.UPLOAD_TYPES_1D if ndim == 1
                                         else src.UPLOAD_TYPES_2D)]
        key = k(ndim, "upload", page)
        f = st.file_uploader("File", type=types, key=key,
                             help="never unpickled; images become gray or RGB maps and are "
                                  "downscaled to 1024 px. Uploads are not part of the URL.")
        if f is not None:
            upload = model.Upload.of(f.name, f.getvalue())
        elif isinstance(st.session_state.get(key), DeletedFile):
            # the browser names a file this server process does not hold: it restarted, or a
            # class server moved the session to another of its processes after a fault
            st.warning("The file you uploaded is no longer on the server (it restarted, or "
                       "moved this session to another of its processes): remove it above and "
                       "upload it again.", icon=":material/upload_file:")
    if source in ("arange", "random"):
        changes["batch"] = int_input("Batch size N", k(ndim, "batch", page), 1, settings.MAX_BATCH,
                                     notices, "the explorer's limit")
        changes["inmaps"] = int_input("Input maps C_in", k(ndim, "inmaps", page), 1,
                                      settings.MAX_MAPS, notices, "the explorer's limit")
        extent = settings.max_extent(ndim)
        changes["shape"] = per_axis(ndim, "Length" if ndim == 1 else "Size", "shape",
                                    [(1, extent)] * ndim, notices, "the explorer's limit",
                                    page=page)
    return replace(s, **changes), upload


def offered(sources: dict, ndim: int, page: str) -> dict:
    """The input or kernel sources of one page: the trained network's layers are 2-D and
    forward only (the explorer's, not the transposed page's)."""
    network = ndim == 2 and page == "e"
    return {name: text for name, text in sources.items() if name != "network" or network}


def layer_maps(layer: int) -> tuple[int, int]:
    """``(C_in, C_out)`` of the network's layer ``layer`` (clamped to the layers there are)."""
    from app.network import model as network

    return network.layer_maps(min(max(int(layer), 1), len(network.LAYERS)))


def network_controls(ndim: int, s: Settings, digit: bool, notices: Notices, page: str
                     ) -> dict:
    """Which layer of which network (shipped or trained from a seed) and, when the input is
    the network's (``digit``), on which test image or drawn digit."""
    from app.network import model as network
    from app.network.data import digits
    from app.network.settings import NetworkSettings, to_query

    page_query = NetworkSettings(s.net, s.image, s.draw)
    st.markdown(f"**Network** — [its page](network?{urlencode(to_query(page_query))})")
    n_layers = len(network.LAYERS)
    changes: dict = dict(layer=int_input(
        "Layer", k(ndim, "layer", page), 1, n_layers, notices,
        f"the network has {n_layers} convolutions",
        help="1: conv1 (1 → 8 maps on the 16×16 image); 2: conv2 (8 → 16 maps on layer 1's "
             "pooled maps)"))
    if digit:
        n = digits().test_size
        image = int_input("Test image", k(ndim, "image", page), 0, n - 1, notices,
                          f"the test split has {n} images")
        changes["image"] = image
        use = bool(s.draw) and image == s.image and st.toggle(
            "The drawn digit (from the link)", key=k(ndim, "usedraw", page))
        changes["draw"] = s.draw if use else ""
    netw = choice("Weights", k(ndim, "netw", page), ("shipped", "seed"),
                  {"shipped": "shipped", "seed": "trained here from a seed"}.get, radio=True,
                  notices=notices)
    changes["net"] = None if netw == "shipped" else int_input(
        "Training seed", k(ndim, "net", page), 0, network.MAX_SEED, notices,
        help="a seed not trained yet on this server trains first (about 2 s)")
    return changes


def maps_and_kernel(ndim: int, s: Settings, notices: Notices, page: str
                    ) -> tuple[dict, tuple | None]:
    """Output maps, groups (only the values that divide both channel counts) and the kernel
    source with its own settings; returns the changes and a preset's kernel shape (or None)."""
    kernels = offered(settings.KERNEL_SOURCES, ndim, page)
    learned = st.session_state.get(k(ndim, "kernel", page)) == "network" and "network" in kernels
    if learned:  # the layer's maps, and no groups
        for label, name, value in (("Output maps C_out", "outmaps", layer_maps(s.layer)[1]),
                                   ("Groups", "groups", 1)):
            asked = st.session_state.get(k(ndim, name, page))
            if asked is not None and asked != value:
                notices.changed(label, asked, value, f"set by the network's layer {s.layer}")
            st.session_state[k(ndim, name, page)] = value
    outmaps = int_input("Output maps C_out", k(ndim, "outmaps", page), 1, settings.MAX_MAPS,
                        notices, "the explorer's limit", disabled=learned,
                        help="set by the network's layer" if learned else None)
    options = [1] if learned else cc.valid_groups(s.inmaps, outmaps)
    gkey = k(ndim, "groups", page)
    asked = st.session_state.get(gkey)
    if asked not in options:
        used = max(g for g in options if g <= max(_as_int(asked, 1), 1))
        notices.changed("Groups", asked, used, f"groups must divide both C_in = {s.inmaps} and "
                        f"C_out = {outmaps} (allowed: {', '.join(map(str, options))})")
        st.session_state[gkey] = used
    groups = st.selectbox("Groups", options, key=gkey,
                          help="only values that divide both C_in and C_out are offered")
    kernel = choice("Kernel source", k(ndim, "kernel", page), kernels,
                    settings.KERNEL_SOURCES.get, notices=notices)
    changes: dict = dict(outmaps=outmaps, groups=groups, kernel=kernel)
    preset_shape = None
    if kernel == "network":
        preset_shape = (3, 3)
    elif kernel == "preset":
        changes["preset"] = choice("Preset", k(ndim, "preset", page), src.kernel_presets(ndim),
                                   notices=notices)
        preset_shape = src.kernel_presets(ndim)[changes["preset"]].shape
    elif kernel == "random":
        changes["scheme"] = choice("Init scheme", k(ndim, "scheme", page),
                                   settings.INIT_SCHEMES, notices=notices)
        changes["kseed"] = int_input("Kernel seed", k(ndim, "kseed", page), 0, 2**31 - 1,
                                     notices)
    return changes, preset_shape


def bias_control(ndim: int, notices: Notices, page: str) -> tuple | None:
    """The bias toggle and its values (None: no bias; a network's layer brings its own)."""
    if st.session_state.get(k(ndim, "kernel", page)) == "network":
        st.caption("Bias: the layer's learned bias")
        return None
    if not st.toggle("Bias", key=k(ndim, "bias_on", page)):
        return None
    text = st.text_input("Bias values", key=k(ndim, "bias", page),
                         help="one per output map, repeated if fewer, e.g. 0.5, -1")
    bias = parse_bias(text)
    if bias is None:
        notices.append(f"Bias values: {text[:60]!r} is not a list of numbers; using 0")
        bias = (0.0,)
    return bias


def kernel_size_control(ndim: int, preset_shape, notices: Notices, page: str, limits: list,
                        rule: str) -> tuple:
    """Kernel size per axis: fixed (and shown disabled) when a preset brings its own shape,
    else within ``limits`` (clamped with a notice that states ``rule``)."""
    if preset_shape is None:
        return per_axis(ndim, "Kernel size", "size", limits, notices, rule, page=page)
    for a, v in enumerate(preset_shape):
        st.session_state[k(ndim, f"size.{a}", page)] = int(v)
    return per_axis(ndim, "Kernel size", "size", [(int(v), int(v)) for v in preset_shape],
                    help="set by the preset or the network", disabled=True, page=page)


def layer_controls(ndim: int, s: Settings, notices: Notices, page: str = "e") -> Settings:
    """Output maps, groups, kernel source, padding, size, dilation, stride, bias."""
    st.subheader("Layer")
    changes, preset_shape = maps_and_kernel(ndim, s, notices, page)
    mode = choice("Padding mode", k(ndim, "mode", page), settings.PADDING_MODES,
                  notices=notices)
    pad_form = choice("Padding", k(ndim, "pad_form", page), settings.PAD_FORMS,
                      settings.PAD_FORMS.get, radio=True, notices=notices,
                      help="per axis: the same on both sides; per side: low and high "
                           "separately; same: keep the length (stride 1)")
    shape = s.shape
    pad_rule = {"reflect": "reflect padding must be smaller than the input",
                "circular": "circular padding wraps at most once"}.get(
                    mode, "the explorer's limit: the input's extent")
    limits = [(0, pad_limit(mode, n)) for n in shape]
    if pad_form == "axis":
        p = per_axis(ndim, "Pad", "pad", limits, notices, pad_rule,
                        page=page)
        pads = tuple((v, v) for v in p)
    elif pad_form == "side":
        lo = per_axis(ndim, "Pad low", "padlo", limits, notices, pad_rule,
                        page=page)
        hi = per_axis(ndim, "Pad high", "padhi", limits, notices, pad_rule,
                        page=page)
        pads = tuple(zip(lo, hi))
    else:
        pads = ((0, 0),) * ndim
    totals = [lo + hi for lo, hi in pads]
    size = kernel_size_control(ndim, preset_shape, notices, page,
                               [(1, size_limit(n, t)) for n, t in zip(shape, totals)],
                               "the window must fit in the padded input")
    padded = [n + t for n, t in zip(shape, totals)] if pad_form != "same" else list(shape)
    dilation = per_axis(ndim, "Dilation", "dilation",
                        [(1, dilation_limit(kk, p)) for kk, p in zip(size, padded)], notices,
                        "the dilated kernel must fit in the padded input",
                        page=page)
    stride = per_axis(ndim, "Stride", "stride", [(1, max(1, p)) for p in padded], notices,
                      "a stride past the padded input gives the same single window",
                        page=page)
    bias = bias_control(ndim, notices, page)
    return replace(s, pad_form=pad_form, pad=pads, mode=mode, size=size, dilation=dilation,
                   stride=stride, bias=bias, **changes)


def view_controls(ndim: int, s: Settings, notices: Notices, page: str = "e") -> Settings:
    st.subheader("View")
    item = int_input("Batch item", k(ndim, "item", page), 0, s.batch - 1, notices,
                     f"the batch has {s.batch} item{'s' if s.batch > 1 else ''}")
    omap = int_input("Output map", k(ndim, "omap", page), 0, s.outmaps - 1, notices,
                     f"the layer has {s.outmaps} output map{'s' if s.outmaps > 1 else ''}")
    presenter = st.toggle("Presenter mode", key=k(ndim, "presenter", page),
                          help="larger type and figures that fit a 1280×720 projector")
    return replace(s, item=item, omap=omap, presenter=presenter)


def ensure_table(s: Settings, page: str = "e") -> Settings:
    """Kernel "table" needs every weight: start from the last kernel shown when its shape
    fits, else from customW."""
    shape = s.weight_shape
    if s.kernel != "table" or (s.weights is not None and len(s.weights) == math.prod(shape)):
        return s
    last = st.session_state.get(k(s.ndim, "last_w", page))
    if last is None or last.shape != shape:
        last = model.custom_weights(s.ndim, s.size, s.outmaps, shape[1])
    return replace(s, weights=tuple(float(v) for v in np.asarray(last).ravel()))


def table_editor(s: Settings, notices: Notices, page: str = "e") -> Settings:
    """Edit the weights of the shown output map, one table per input map of its group."""
    shape = s.weight_shape
    w = np.asarray(s.weights, dtype=np.float64).reshape(shape).copy()
    with st.expander(f"Edit the kernels of output map {s.omap} ({shape[1]} input map"
                     f"{'s' if shape[1] > 1 else ''}, {'×'.join(map(str, s.size))} each)",
                     expanded=True):
        st.caption("Type new weights; other output maps: pick them under View.")
        for m in range(min(shape[1], 8)):
            sl = w[s.omap, m]
            grid = sl[None] if s.ndim == 1 else sl
            df = pd.DataFrame(grid, columns=[str(c) for c in range(grid.shape[1])])
            edited = edited_table(df, k(s.ndim, f"table.{s.omap}.{m}.{shape}", page))
            values = np.asarray(edited, dtype=np.float64).reshape(sl.shape)
            if np.isnan(values).any():
                notices.append(f"kernel table w[{s.omap},{m}]: empty or non-numeric cells "
                               "count as 0")
                values = np.nan_to_num(values, nan=0.0)
            w[s.omap, m] = values
        if shape[1] > 8:
            st.caption(f"The tables show the first 8 of {shape[1]} input maps.")
    return replace(s, weights=tuple(float(v) for v in w.ravel()))


def edited_table(df: pd.DataFrame, key: str) -> pd.DataFrame:
    """``st.data_editor`` of ``df``.  Edits the browser sent that the table cannot take are
    dropped with a notice: unreadable ones (refused by :mod:`app.state_guard`) and ones naming
    cells the table has not (Streamlit raises applying them, on every later run too)."""
    dropped = st.session_state.pop(f"{key}.dropped", None)
    try:
        edited = st.data_editor(df, key=key, num_rows="fixed", width="content")
    except Exception as e:  # the edits name a column or row the table has not
        del st.session_state[key]  # the table starts afresh on the run this asks for
        st.session_state[f"{key}.dropped"] = f"{type(e).__name__}: {str(e)[:120]}"
        st.rerun()
    why = dropped or new_refusal(key, st.session_state.get(key))
    if why:
        st.warning(f"The table's edits from the browser could not be read ({why}); they were "
                   "dropped.", icon=":material/report:")
    return edited


def transposed_layer_controls(ndim: int, s: Settings, notices: Notices, page: str = "t"
                              ) -> Settings:
    """The transposed layer: output maps, groups, kernel, padding and output_padding per axis
    (zeros padding only, as PyTorch), dilation, stride, bias.  Keys ``t{ndim}.*``."""
    st.subheader("Layer")
    changes, preset_shape = maps_and_kernel(ndim, s, notices, page)
    size = kernel_size_control(ndim, preset_shape, notices, page,
                               [(1, settings.MAX_KERNEL)] * ndim, "the explorer's limit")
    stride = per_axis(ndim, "Stride", "stride", [(1, 8)] * ndim, notices,
                      "the explorer's limit for transposed layers", page=page)
    dilation = per_axis(ndim, "Dilation", "dilation", [(1, 8)] * ndim, notices,
                        "the explorer's limit for transposed layers", page=page)
    limits = [(0, cc.max_transpose_padding(max(1, n), kk, st_, d))
              for n, st_, d, kk in zip(s.shape, stride, dilation, size)]
    pad = per_axis(ndim, "Padding", "pad", limits, notices,
                   "padding crops the output, which must keep a cell",
                        page=page)
    opad = per_axis(ndim, "Output padding", "opad",
                    [(0, max(st_, d) - 1) for st_, d in zip(stride, dilation)], notices,
                    "output_padding must be smaller than the stride or the dilation",
                    help="picks which of the `stride` forward input sizes to give back",
                        page=page)
    bias = bias_control(ndim, notices, page)
    return replace(s, size=size, stride=stride, dilation=dilation,
                   pad=tuple((p, p) for p in pad), output_padding=opad, pad_form="axis",
                   mode="zeros", bias=bias, **changes)
