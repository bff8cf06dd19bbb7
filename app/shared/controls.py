"""The explorer's sidebar: widgets in, :class:`~app.settings.Settings` out.

Widgets keep their values in ``st.session_state`` under ``e{ndim}.{name}`` keys; the page's
canonical settings live under ``e{ndim}.settings``.  Each section reads what its widgets hold,
puts it within bounds with :mod:`app.layer` (the rules the scene API and the browser view's
controls use too), writes the values used back and only then draws the widgets.  A value
outside its bounds — typed, or from a shared URL — is changed to the nearest allowed one, and a
notice says which parameter, the value asked, the value used and the rule; nothing is changed
silently.
"""

from __future__ import annotations

import math
from dataclasses import replace
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import DeletedFile

from app.shared import layer, model, settings
from app.shared import sources as src
from app.shared.layer import AXES, Notices, label  # noqa: F401 (AXES: the pages read it here)
from app.shared.settings import Settings
from app.state_guard import new_refusal


def k(ndim: int, name: str, page: str = "e") -> str:
    """The session-state key of one widget: ``e{ndim}.name`` on the explorer pages."""
    return f"{page}{ndim}.{name}"


def canonical_key(ndim: int, page: str = "e") -> str:
    return k(ndim, "settings", page)


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
    from app.shared import url
    from app.shared.navigation import EXPLORER_PAGES, TRANSPOSED_PAGE

    forget_widgets(s.ndim, page)  # the page's widgets, its view's anchor and its settings
    st.session_state[canonical_key(s.ndim, page)] = s
    seed_widgets(s, overwrite=True, page=page)
    if page == "t":
        st.session_state["t.ndim"] = s.ndim  # the transposed page's own rank control
    st.switch_page(EXPLORER_PAGES[s.ndim] if page == "e" else TRANSPOSED_PAGE,
                   query_params=url.page_query(s, page))


# ------------------------------------------------------------------------------ widgets

def clamp(key: str, lo: int, hi: int, notices: Notices | None = None, name: str = "",
          rule: str = "") -> int:
    """Put the widget value under ``key`` into [lo, hi], with a notice when it moves."""
    value = layer.clamp_int(st.session_state.get(key, lo), lo, hi, notices,
                            name or key.split(".", 1)[-1], rule)
    st.session_state[key] = value
    return value


def int_input(label: str, key: str, lo: int, hi: int, notices: Notices | None = None,
              rule: str = "", help: str | None = None, disabled: bool = False) -> int:
    """A number input whose value is put into [lo, hi] (with a notice) before it is drawn.

    The widget itself has no min/max, so a typed value out of range reaches the page, which
    says what it used instead, rather than being refused in the browser without a word.
    """
    clamp(key, lo, hi, notices, label, rule)
    return number(label, key, help, disabled)


def number(label: str, key: str, help: str | None = None, disabled: bool = False) -> int:
    """A number input drawn as it is (its value already within bounds)."""
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


def axis_numbers(ndim: int, text: str, name: str, page: str, help: str | None = None,
                 disabled: bool = False) -> tuple:
    """One number input per axis (``Stride H``, ``Stride W``), side by side."""
    cols = st.columns(ndim) if ndim > 1 else [st.container()]
    values = []
    for a, col in enumerate(cols):
        with col:
            values.append(number(label(text, ndim, a), k(ndim, f"{name}.{a}", page), help,
                                 disabled))
    return tuple(values)


def asked(s: Settings, page: str, names) -> Settings:
    """``s`` with the fields ``names`` (widget names, as in :data:`LAYER_WIDGETS`) as their
    widgets hold them now, typed, before any bound is applied."""
    n = s.ndim

    def get(name, default):
        return st.session_state.get(k(n, name, page), default)

    def axes(name, current):
        return tuple(get(f"{name}.{a}", current[a]) for a in range(n))

    fields = {"shape": "shape", "size": "size", "dilation": "dilation", "stride": "stride",
              "opad": "output_padding"}
    changes = {}
    for name in names:
        if name in fields:
            changes[fields[name]] = axes(name, getattr(s, fields[name]))
        elif name not in ("pad", "padlo", "padhi"):
            changes[name] = get(name, getattr(s, name))
    if "pad" in names:
        lows, highs = [lo for lo, _ in s.pad], [hi for _, hi in s.pad]
        if changes.get("pad_form", s.pad_form) == "side":
            changes["pad"] = tuple(zip(axes("padlo", lows), axes("padhi", highs)))
        else:
            changes["pad"] = tuple((v, v) for v in axes("pad", lows))
    return replace(s, **changes)


def put(s: Settings, page: str, names) -> None:
    """Write the widget values of ``s`` named in ``names`` (``stride`` covers ``stride.0``
    ...) where they differ from what the widgets hold: before those widgets are drawn."""
    for key, value in widget_values(s, page).items():
        name = key.split(".")[1]
        if name in names and st.session_state.get(key) != value:
            st.session_state[key] = value


def parse_bias(text: str) -> tuple | None:
    """Bias values typed as ``0.5, -1``; ``inf`` and ``nan`` are numbers too (and shown so)."""
    try:
        vals = tuple(float(v) for v in text.replace(";", ",").split(",") if v.strip())
    except ValueError:
        return None
    return vals or None


# ------------------------------------------------------------------------------ sections

INPUT_WIDGETS = ("seed", "batch", "inmaps", "shape")
NETWORK_WIDGETS = ("layer", "image", "netw", "net", "usedraw")
LAYER_WIDGETS = ("outmaps", "groups", "kernel", "preset", "scheme", "kseed", "mode", "pad_form",
                 "pad", "padlo", "padhi", "size", "dilation", "stride", "opad")
VIEW_WIDGETS = ("item", "omap")


def input_controls(ndim: int, s: Settings, notices: Notices, page: str = "e"
                   ) -> tuple[Settings, model.Upload | None]:
    """Input source and (for generated inputs) the input's shape."""
    st.subheader("Input")
    transposed = page == "t"
    source = choice("Input source", k(ndim, "source", page),
                    layer.offered(settings.INPUT_SOURCES, ndim, transposed),
                    settings.INPUT_SOURCES.get, help="arange reproduces the documents' examples",
                    notices=notices)
    kernel = st.session_state.get(k(ndim, "kernel", page), s.kernel)
    s = asked(replace(s, source=source, kernel=kernel), page, INPUT_WIDGETS)
    network = s.uses_network and "network" in layer.offered(settings.INPUT_SOURCES, ndim,
                                                            transposed)
    drawn = bool(s.draw) and st.session_state.get(k(ndim, "image", page), s.image) == s.image
    if network:
        s = asked_network(s, page)
    s, _ = layer.clamp_input(s, notices, transposed)
    put(s, page, INPUT_WIDGETS + (NETWORK_WIDGETS if network else ()))
    upload = None
    if network:
        network_controls(ndim, s, drawn, page)
    if source == "random":
        number("Seed", k(ndim, "seed", page))
    elif source == "sample":
        names = src.SAMPLE_SIGNALS if ndim == 1 else src.SAMPLE_IMAGES
        s = replace(s, sample=choice("Sample", k(ndim, "sample", page), names, notices=notices))
    elif source == "typed":
        s = replace(s, typed=st.text_area(
            "Values", key=k(ndim, "typed", page),
            help="numbers separated by commas or spaces; rows by newlines or ';'"
                 + ("; every row is one input map" if ndim == 1
                    else "; a blank line starts the next input map")))
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
        number("Batch size N", k(ndim, "batch", page))
        number("Input maps C_in", k(ndim, "inmaps", page))
        axis_numbers(ndim, "Length" if ndim == 1 else "Size", "shape", page)
    return s, upload


def maps_and_kernel(ndim: int, s: Settings, limits: dict, page: str) -> None:
    """Output maps, groups (only the values that divide both channel counts) and the kernel
    source with its own settings, as :mod:`app.layer` left them (a network's layer sets the
    maps and groups: shown, not editable)."""
    learned = s.kernel == "network"
    number("Output maps C_out", k(ndim, "outmaps", page), disabled=learned,
           help="set by the network's layer" if learned else None)
    st.selectbox("Groups", limits["groups"], key=k(ndim, "groups", page), disabled=learned,
                 help="set by the network's layer" if learned
                 else "only values that divide both C_in and C_out are offered")
    kernels = layer.offered(settings.KERNEL_SOURCES, ndim, transposed=page == "t")
    st.selectbox("Kernel source", list(kernels), key=k(ndim, "kernel", page),
                 format_func=settings.KERNEL_SOURCES.get)
    if s.kernel == "preset":
        st.selectbox("Preset", list(src.kernel_presets(ndim)), key=k(ndim, "preset", page))
    elif s.kernel == "random":
        st.selectbox("Init scheme", settings.INIT_SCHEMES, key=k(ndim, "scheme", page))
        number("Kernel seed", k(ndim, "kseed", page))


def asked_network(s: Settings, page: str) -> Settings:
    """``s`` with the network's layer, weights, test image and drawing as the sidebar's
    widgets hold them (a drawing from a link stays while its test image does and its toggle
    is on)."""
    def get(name, default):
        return st.session_state.get(k(s.ndim, name, page), default)

    image = get("image", s.image)
    shipped = get("netw", "shipped" if s.net is None else "seed") == "shipped"
    keep = bool(s.draw) and image == s.image and get("usedraw", True)
    return replace(s, layer=get("layer", s.layer), image=image,
                   net=None if shipped else get("net", s.net or 0), draw=s.draw if keep else "")


def network_controls(ndim: int, s: Settings, drawn: bool, page: str) -> None:
    """Which layer of which network (shipped or trained from a seed) and, when the input is
    the network's, on which test image or drawn digit (``drawn``: a link brought a drawing)."""
    from app.network.settings import NetworkSettings, to_query

    page_query = NetworkSettings(s.net, s.image, s.draw)
    st.markdown(f"**Network** — [its page](network?{urlencode(to_query(page_query))})")
    number("Layer", k(ndim, "layer", page),
           help="1: conv1 (1 → 8 maps on the 16×16 image); 2: conv2 (8 → 16 maps on layer 1's "
                "pooled maps)")
    if s.source == "network":
        number("Test image", k(ndim, "image", page))
        if drawn:
            st.toggle("The drawn digit (from the link)", key=k(ndim, "usedraw", page))
    st.radio("Weights", ("shipped", "seed"), key=k(ndim, "netw", page), horizontal=True,
             format_func={"shipped": "shipped", "seed": "trained here from a seed"}.get)
    if s.net is not None:
        number("Training seed", k(ndim, "net", page),
               help="a seed not trained yet on this server trains first (about 2 s)")


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


def kernel_size_control(ndim: int, s: Settings, page: str) -> None:
    """Kernel size per axis: shown disabled when a preset or the network's layer brings its
    own."""
    fixed = layer.fixed_shape(s) is not None
    axis_numbers(ndim, "Kernel size", "size", page, disabled=fixed,
                 help=f"set by the {'preset' if s.kernel == 'preset' else 'network'}"
                 if fixed else None)


def layer_controls(ndim: int, s: Settings, notices: Notices, page: str = "e") -> Settings:
    """Output maps, groups, kernel source, padding, size, dilation, stride, bias."""
    st.subheader("Layer")
    s, limits = layer.clamp_layer(asked(s, page, LAYER_WIDGETS), notices)
    put(s, page, LAYER_WIDGETS)
    maps_and_kernel(ndim, s, limits, page)
    st.selectbox("Padding mode", settings.PADDING_MODES, key=k(ndim, "mode", page))
    st.radio("Padding", list(settings.PAD_FORMS), key=k(ndim, "pad_form", page),
             format_func=settings.PAD_FORMS.get, horizontal=True,
             help="per axis: the same on both sides; per side: low and high separately; "
                  "same: keep the length (PyTorch: stride 1 only); SAME (TF/JAX): "
                  "out = ceil(n / stride), the odd pad on the high side")
    if s.pad_form == "axis":
        axis_numbers(ndim, "Pad", "pad", page)
    elif s.pad_form == "side":
        axis_numbers(ndim, "Pad low", "padlo", page)
        axis_numbers(ndim, "Pad high", "padhi", page)
    kernel_size_control(ndim, s, page)
    axis_numbers(ndim, "Dilation", "dilation", page)
    axis_numbers(ndim, "Stride", "stride", page)
    return replace(s, bias=bias_control(ndim, notices, page))


def view_controls(ndim: int, s: Settings, notices: Notices, page: str = "e") -> Settings:
    st.subheader("View")
    s, _ = layer.clamp_view(asked(s, page, VIEW_WIDGETS), notices)
    put(s, page, VIEW_WIDGETS)
    number("Batch item", k(ndim, "item", page))
    number("Output map", k(ndim, "omap", page))
    presenter = st.toggle("Presenter mode", key=k(ndim, "presenter", page),
                          help="larger type and figures that fit a 1280×720 projector")
    return replace(s, presenter=presenter)


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
    s, limits = layer.clamp_transposed_layer(asked(s, page, LAYER_WIDGETS), notices)
    put(s, page, LAYER_WIDGETS)
    maps_and_kernel(ndim, s, limits, page)
    kernel_size_control(ndim, s, page)
    axis_numbers(ndim, "Stride", "stride", page)
    axis_numbers(ndim, "Dilation", "dilation", page)
    axis_numbers(ndim, "Padding", "pad", page)
    axis_numbers(ndim, "Output padding", "opad", page,
                 help="picks which of the `stride` forward input sizes to give back")
    return replace(s, bias=bias_control(ndim, notices, page))
