"""What a layer may be: the bounds of every explorer control, and the nearest layer within them.

Pure (no Streamlit).  The sidebar (:mod:`app.controls`) draws what these functions return, the
scene API (:mod:`app.api`) answers it, and the browser view's controls take their ``limits``
from it — so a shared URL, a typed value and a dragged slider end on the same layer with the
same notice.  Bounds come from the core (``cc.max_padding``, ``cc.max_kernel_size``,
``cc.max_dilation``, ``cc.valid_groups``, ``cc.max_transpose_padding``); the app only caps what
the core leaves unbounded.  A layer of the trained network (:mod:`app.network`, the explorer's
``network`` input and kernel source) fixes what it brings — its kernel size, output maps,
groups and learned bias — and those controls are bounded to that one value, with a notice.
A value outside its bounds becomes the nearest allowed one, and a notice names the parameter,
the value asked, the value used and the rule.

Each ``clamp_*`` takes settings as asked and a :class:`Notices` to add to, and returns the
settings used and their ``limits``: per control, ``[lo, hi]`` per axis (``groups``: the allowed
values), as the view's controls need them.
"""

from __future__ import annotations

from dataclasses import replace

import convcore as cc
from app.shared import settings
from app.shared.settings import Settings

AXES = {1: ("L",), 2: ("H", "W")}
MAX_SEED = 2**31 - 1
MAX_TRANSPOSED = 8  # stride and dilation of the transposed page
PAD_RULES = {"reflect": "reflect padding must be smaller than the input",
             "circular": "circular padding wraps at most once"}


class Notices(list):
    """What the controls changed or could not use, as sentences for the page."""

    def changed(self, name: str, asked, used, rule: str) -> None:
        self.append(f"{name}: asked {asked}, using {used} — {rule}")


def as_int(value, fallback: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return fallback


def label(text: str, ndim: int, axis: int) -> str:
    """A per-axis control's name: ``Stride W`` in 2-D, ``Stride`` in 1-D."""
    return f"{text} {AXES[ndim][axis]}" if ndim > 1 else text


def clamp_int(asked, lo: int, hi: int, notices: Notices | None, name: str,
              rule: str = "") -> int:
    """``asked`` within [lo, hi], with a notice when it moves."""
    value = min(max(as_int(asked, lo), lo), hi)
    if notices is not None and value != asked:
        bound = f"at least {lo}" if as_int(asked, lo) < lo else f"at most {hi}"
        notices.changed(name, asked, value, f"must be {bound}" + (f" ({rule})" if rule else ""))
    return value


def clamp_axes(ndim: int, text: str, asked: tuple, limits: list, notices: Notices,
               rule: str = "") -> tuple:
    return tuple(clamp_int(v, lo, hi, notices, label(text, ndim, a), rule)
                 for a, (v, (lo, hi)) in enumerate(zip(asked, limits)))


def clamp_choice(asked, options, notices: Notices, name: str):
    options = list(options)
    if asked in options:
        return asked
    notices.append(f"{name}: {asked!r} is not one of the choices; using {options[0]!r}")
    return options[0]


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


def groups_used(asked, inmaps: int, outmaps: int, notices: Notices) -> tuple[int, list]:
    """``groups`` if it divides both channel counts, else the largest allowed one below it."""
    options = cc.valid_groups(inmaps, outmaps)
    if asked in options:
        return asked, options
    used = max(g for g in options if g <= max(as_int(asked, 1), 1))
    notices.changed("Groups", asked, used, f"groups must divide both C_in = {inmaps} and "
                    f"C_out = {outmaps} (allowed: {', '.join(map(str, options))})")
    return used, options


def fixed_shape(s: Settings) -> tuple | None:
    """The kernel shape a preset or the network's layer brings (None for the other kernel
    sources, whose size is a control)."""
    if s.kernel not in ("preset", "network"):
        return None
    return s.kernel_size


# ------------------------------------------------------------------------------ the network

def offered(sources: dict, ndim: int, transposed: bool = False) -> dict:
    """The input or kernel sources of one page: the trained network's layers are 2-D and
    forward only (the explorers', not the transposed page's)."""
    network = ndim == 2 and not transposed
    return {name: text for name, text in sources.items() if name != "network" or network}


def network_layers() -> int:
    """How many convolutions the trained network has (the explorer's ``layer``: 1, 2, ...)."""
    from app.network import net

    return len(net.CONVS)


def network_maps(layer: int) -> tuple[int, int]:
    """``(C_in, C_out)`` of the network's layer ``layer`` (within the layers there are)."""
    from app.network import net

    _, c_in, c_out = net.CONVS[min(max(as_int(layer, 1), 1), network_layers()) - 1]
    return c_in, c_out


def clamp_network(s: Settings, notices: Notices) -> tuple[dict, dict]:
    """Which layer of which network (shipped, or trained from a seed) and, for the network's
    input, which test image: the changes and the limits."""
    from app.network.data import digits

    n = network_layers()
    changes = {"layer": clamp_int(s.layer, 1, n, notices, "Layer",
                                  f"the network has {n} convolutions")}
    limits = {"layer": [[1, n]]}
    if s.net is not None:
        changes["net"] = clamp_int(s.net, 0, MAX_SEED, notices, "Training seed")
    if s.source == "network":
        images = digits().test_size
        changes["image"] = clamp_int(s.image, 0, images - 1, notices, "Test image",
                                     f"the test split has {images} images")
        limits["image"] = [[0, images - 1]]
    return changes, limits


def network_fixes(s: Settings, notices: Notices) -> dict:
    """What the network's layer sets when it is the kernel source: its output maps and one
    group (a value asked otherwise is changed with a notice), and no bias of the settings'
    own (the layer brings its learned bias)."""
    c_out = network_maps(s.layer)[1]
    rule = f"set by the network's layer {s.layer}"
    for name, field, value in (("Output maps C_out", "outmaps", c_out), ("Groups", "groups", 1)):
        if getattr(s, field) != value:
            notices.changed(name, getattr(s, field), value, rule)
    if s.bias is not None:
        notices.append(f"Bias: the network's layer {s.layer} brings its learned bias; the bias "
                       f"values {', '.join(f'{b:g}' for b in s.bias[:4])} are not used")
    return {"outmaps": c_out, "groups": 1, "bias": None}


# ------------------------------------------------------------------------------ the clamps

def clamp_input(s: Settings, notices: Notices, transposed: bool = False
                ) -> tuple[Settings, dict]:
    """The input source offered on the page; the generated input's seed, batch, maps and
    shape (data sources bring their own); the network's layer, weights and test image."""
    n = s.ndim
    changes: dict = {}
    limits: dict = {}
    source = clamp_choice(s.source, offered(settings.INPUT_SOURCES, n, transposed), notices,
                          "Input source")
    if source != s.source:
        s = replace(s, source=source)
        changes["source"] = source
    if s.uses_network and n == 2 and not transposed:
        more, limits = clamp_network(s, notices)
        changes.update(more)
    if s.source == "random":
        changes["seed"] = clamp_int(s.seed, 0, MAX_SEED, notices, "Seed")
    if s.source in ("arange", "random"):
        rule = "the explorer's limit"
        limits.update(batch=[[1, settings.MAX_BATCH]], inmaps=[[1, settings.MAX_MAPS]],
                      shape=[[1, settings.max_extent(n)]] * n)
        changes["batch"] = clamp_int(s.batch, 1, settings.MAX_BATCH, notices, "Batch size N",
                                     rule)
        changes["inmaps"] = clamp_int(s.inmaps, 1, settings.MAX_MAPS, notices,
                                      "Input maps C_in", rule)
        changes["shape"] = clamp_axes(n, "Length" if n == 1 else "Size", s.shape,
                                      limits["shape"], notices, rule)
    return replace(s, **changes), limits


def _maps_and_kernel(s: Settings, notices: Notices, transposed: bool = False
                     ) -> tuple[dict, dict]:
    """The kernel source, output maps, groups and the kernel source's own numbers (both
    pages; the network's layer sets its maps and groups)."""
    kernels = offered(settings.KERNEL_SOURCES, s.ndim, transposed)
    if transposed and s.kernel == "network":
        notices.append("Kernel source: the trained network's layers are on the 2-D explorer; "
                       "using customW here")
        kernel = "customW"
    else:
        kernel = clamp_choice(s.kernel, kernels, notices, "Kernel source")
    if kernel == "network":
        changes = {"kernel": kernel, **network_fixes(s, notices)}
        return changes, {"outmaps": [[changes["outmaps"]] * 2], "groups": [1]}
    outmaps = clamp_int(s.outmaps, 1, settings.MAX_MAPS, notices, "Output maps C_out",
                        "the explorer's limit")
    # C_in: clamped already for generated inputs; from data it is the data's, or (when the
    # data could not be read) whatever the URL said, which only has to give valid choices
    inmaps = min(max(as_int(s.inmaps, 1), 1), settings.MAX_MAPS)
    groups, options = groups_used(s.groups, inmaps, outmaps, notices)
    changes = dict(outmaps=outmaps, groups=groups, kernel=kernel)
    if kernel == "random":
        changes["kseed"] = clamp_int(s.kseed, 0, MAX_SEED, notices, "Kernel seed")
    return changes, {"outmaps": [[1, settings.MAX_MAPS]], "groups": options}


def clamp_layer(s: Settings, notices: Notices) -> tuple[Settings, dict]:
    """Output maps, groups, kernel, padding, size, dilation and stride of the explorer, in the
    order the sidebar shows them (each bound depends on the ones before)."""
    n = s.ndim
    changes, limits = _maps_and_kernel(s, notices)
    mode = clamp_choice(s.mode, settings.PADDING_MODES, notices, "Padding mode")
    pad_form = clamp_choice(s.pad_form, settings.PAD_FORMS, notices, "Padding")
    rule = PAD_RULES.get(mode, "the explorer's limit: the input's extent")
    pad_limits = [[0, pad_limit(mode, e)] for e in s.shape]
    if pad_form == "axis":
        p = clamp_axes(n, "Pad", [lo for lo, _ in s.pad], pad_limits, notices, rule)
        pads = tuple((v, v) for v in p)
    elif pad_form == "side":
        lo = clamp_axes(n, "Pad low", [v for v, _ in s.pad], pad_limits, notices, rule)
        hi = clamp_axes(n, "Pad high", [v for _, v in s.pad], pad_limits, notices, rule)
        pads = tuple(zip(lo, hi))
    else:  # "same" and "tfsame": the pads follow from the layer (Settings.padding)
        pads = ((0, 0),) * n
    totals = [lo + hi for lo, hi in pads]
    fixed = fixed_shape(replace(s, kernel=changes["kernel"]))
    if fixed is None:
        limits["size"] = [[1, size_limit(e, t)] for e, t in zip(s.shape, totals)]
        size = clamp_axes(n, "Kernel size", s.size, limits["size"], notices,
                          "the window must fit in the padded input")
    else:
        size, limits["size"] = fixed, [[v, v] for v in fixed]
    padded = ([e + t for e, t in zip(s.shape, totals)] if pad_form in ("axis", "side")
              else list(s.shape))
    limits["dilation"] = [[1, dilation_limit(k, p)] for k, p in zip(size, padded)]
    dilation = clamp_axes(n, "Dilation", s.dilation, limits["dilation"], notices,
                          "the dilated kernel must fit in the padded input")
    limits["stride"] = [[1, max(1, p)] for p in padded]
    stride = clamp_axes(n, "Stride", s.stride, limits["stride"], notices,
                        "a stride past the padded input gives the same single window")
    limits["pad"] = pad_limits
    s = replace(s, pad_form=pad_form, pad=pads, mode=mode, size=size, dilation=dilation,
                stride=stride, **changes)
    if pad_form == "same" and any(v > 1 for v in stride):
        notices.append(same_notice(s))
    return s, limits


def same_notice(s: Settings) -> str:
    """What ``same`` with a stride > 1 becomes, and why."""
    pads = s.padding
    out = [-(-e // v) for e, v in zip(s.shape, s.stride)]
    return ("Padding same: PyTorch refuses padding='same' with a stride > 1 (stride "
            f"{'×'.join(map(str, s.stride))}). Shown instead: TensorFlow/JAX's SAME — "
            f"out = ceil(n / s) = {'×'.join(map(str, out))}, pads (low, high) "
            f"{', '.join(f'({lo}, {hi})' for lo, hi in pads)} given explicitly; the odd pad "
            "goes on the high side. Choose 'SAME (TF/JAX)' to keep it at stride 1 too.")


def clamp_view(s: Settings, notices: Notices) -> tuple[Settings, dict]:
    """The shown batch item and output map."""
    item = clamp_int(s.item, 0, s.batch - 1, notices, "Batch item",
                     f"the batch has {s.batch} item{'s' if s.batch > 1 else ''}")
    omap = clamp_int(s.omap, 0, s.outmaps - 1, notices, "Output map",
                     f"the layer has {s.outmaps} output map{'s' if s.outmaps > 1 else ''}")
    return replace(s, item=item, omap=omap), {"item": [[0, s.batch - 1]],
                                              "omap": [[0, s.outmaps - 1]]}


def clamp_step(s: Settings, steps: int, notices: Notices) -> Settings:
    """The step within the view's ``steps`` (output cells; input cells in the transposed
    scatter view)."""
    if 0 <= s.step < steps:
        return s
    used = min(max(s.step, 0), steps - 1)
    # counted from 1, as the view and the URL count them ("step 9 of 16" is step=9)
    notices.changed("step", s.step + 1, used + 1, f"the view has {steps} steps (1–{steps})")
    return replace(s, step=used)


def clamp_transposed_layer(s: Settings, notices: Notices) -> tuple[Settings, dict]:
    """The transposed layer: maps, groups, kernel, stride, dilation, padding (zeros, both
    sides alike, as PyTorch) and output_padding."""
    n = s.ndim
    changes, limits = _maps_and_kernel(s, notices, transposed=True)
    if changes["kernel"] == "table":
        notices.append("Kernel source: the table editor is on the explorer pages; using "
                       "customW here")
        changes["kernel"] = "customW"
    fixed = fixed_shape(replace(s, kernel=changes["kernel"]))
    if fixed is None:
        limits["size"] = [[1, settings.MAX_KERNEL]] * n
        size = clamp_axes(n, "Kernel size", s.size, limits["size"], notices,
                          "the explorer's limit")
    else:
        size, limits["size"] = fixed, [[v, v] for v in fixed]
    rule = "the explorer's limit for transposed layers"
    limits["stride"] = limits["dilation"] = [[1, MAX_TRANSPOSED]] * n
    stride = clamp_axes(n, "Stride", s.stride, limits["stride"], notices, rule)
    dilation = clamp_axes(n, "Dilation", s.dilation, limits["dilation"], notices, rule)
    limits["pad"] = [[0, cc.max_transpose_padding(max(1, e), k, st_, d)]
                     for e, st_, d, k in zip(s.shape, stride, dilation, size)]
    pad = clamp_axes(n, "Padding", [lo for lo, _ in s.pad], limits["pad"], notices,
                     "padding crops the output, which must keep a cell")
    limits["opad"] = [[0, max(st_, d) - 1] for st_, d in zip(stride, dilation)]
    opad = clamp_axes(n, "Output padding", s.output_padding, limits["opad"], notices,
                      "output_padding must be smaller than the stride or the dilation")
    return replace(s, size=size, stride=stride, dilation=dilation,
                   pad=tuple((p, p) for p in pad), output_padding=opad, pad_form="axis",
                   mode="zeros", **changes), limits
