"""The scene: everything the browser view draws for one configuration, as JSON-ready data.

A pure function of the settings' view fields (batch item, output map) and the model's
:class:`~app.model.Computation`; no Streamlit, no Plotly.  The browser steps, hovers and plays
from this alone, with no round trip to the server.

What travels, per configuration (the step is not part of it, so stepping never resends it):

- the geometry: unpadded, padded and output shapes, kernel, stride, dilation, ``(low, high)``
  pads, padding mode, groups;
- ``inputs``: every input map of the output map's group, padded by the core
  (:func:`convcore.padded_input`), for the shown batch item, and ``source``: per axis, the
  unpadded index each padded position copies (-1 for zero padding);
- ``weights``: the output map's kernels, one per input map of its group; ``bias``;
- ``outputs``: the core's output maps of the shown item (up to :data:`MAX_SHOWN_OUTPUTS` of
  them, from ``outputs_first``; the shown map ``omap`` among them), drawn side by side on one
  colour scale; ``never_read``: per axis, the input indices no window reads
  (:func:`convcore.coverage`);
- ``partials``: per input map of the group, its share of every cell of the output map: the
  core's convolution of that one map with its kernel (``convcore.convnd``, depthwise, float64),
  so that bias + the partial sums = the output; None with one input map (its share is the
  output less the bias) or when it would not fit the budget.

Arrays travel as ``{"dtype", "shape", "bdata"}`` (little-endian, base64, the form plotly.js reads
too), which carries ``inf`` and ``nan`` where JSON cannot.  The browser derives tap positions from
the geometry (``padded = out * stride + tap * dilation``, affine); tests hold that rule to
:func:`convcore.window_map`.  Maps with more than :data:`MAX_EXACT_VALUES` values in all travel
subsampled (every ``scale``-th cell, ``exact`` False) with a notice.
"""

from __future__ import annotations

import base64
import math

import numpy as np

import convcore as cc
from app.shared.ranks import rank
from convcore.trace import source_map

SCENE_VERSION = 1
MAX_EXACT_VALUES = 400_000  # input maps of the group + output map, sent cell for cell
MAX_SHOWN_MAPS = 8  # input maps drawn as small multiples (the equation sums all of them)
MAX_TERMS = 24  # taps written out in an equation before the rest is summarized
MAX_SHOWN_OUTPUTS = 16  # output maps drawn side by side (the current one among them)


def typed_array(a: np.ndarray, dtype: str = "float32") -> dict:
    """``a`` as ``{"dtype", "shape", "bdata"}``: little-endian bytes, base64."""
    a = np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<"))
    return {"dtype": dtype, "shape": list(a.shape),
            "bdata": base64.b64encode(a.tobytes()).decode("ascii")}


def read_typed_array(spec: dict) -> np.ndarray:
    """The inverse of :func:`typed_array` (also reads plotly's own typed arrays, whose shape
    may be missing or a string)."""
    raw = base64.b64decode(spec["bdata"])
    a = np.frombuffer(raw, dtype=np.dtype(spec["dtype"]).newbyteorder("<"))
    shape = spec.get("shape")
    if isinstance(shape, str):
        shape = [int(v) for v in shape.split(",")]
    return a.reshape(shape) if shape else a


def _zmax(a: np.ndarray) -> float:
    """Half-width of a colour scale centred on zero: the largest finite magnitude (1 if none)."""
    finite = np.abs(a[np.isfinite(a)])
    top = float(finite.max()) if finite.size else 0.0
    return top if top > 0 else 1.0


def display_scale(ndim: int, values: int) -> int:
    """The subsampling factor per axis that brings ``values`` cells under the budget."""
    if values <= MAX_EXACT_VALUES:
        return 1
    ratio = values / MAX_EXACT_VALUES
    return math.ceil(ratio ** (1 / ndim))


def build_scene(comp, item: int, omap: int) -> dict:
    """The scene of output map ``omap`` of batch item ``item`` (see the module docstring).

    ``comp`` is an :class:`app.model.Computation` (anything with its fields will do).
    """
    x, out, weight = comp.x, comp.out, comp.weight
    nd = x.ndim - 2
    n_in, n_out = x.shape[1], out.shape[1]
    groups = n_in // weight.shape[1]
    cg = weight.shape[1]
    group = omap // (n_out // groups)
    channels = list(range(group * cg, (group + 1) * cg))
    padded = comp.padded.values[item, group * cg:(group + 1) * cg]
    out_map = out[item, omap]
    first = min(max(0, omap - MAX_SHOWN_OUTPUTS // 2), max(0, n_out - MAX_SHOWN_OUTPUTS))
    outputs = out[item, first:first + MAX_SHOWN_OUTPUTS]
    scale = display_scale(nd, padded.size + outputs.size)
    sub = (slice(None, None, scale),) * nd
    kernel = tuple(weight.shape[2:])
    pads = [list(p) for p in comp.padded.pads]
    in_shape = list(x.shape[2:])
    sources = [source_map(n, lo, hi, comp.padded.padding_mode).tolist()
               for n, (lo, hi) in zip(in_shape, pads)]
    bias = 0.0 if comp.bias is None else comp.bias[omap]
    # one input map: its only term is the output less the bias, which the view has
    fits = scale == 1 and cg > 1 and cg * out_map.size + outputs.size <= MAX_EXACT_VALUES
    return {
        "version": SCENE_VERSION,
        "ndim": nd,
        "layout": rank(nd).layout,
        "axes": list(rank(nd).axes),
        "in_shape": in_shape,
        "padded_shape": list(padded.shape[1:]),
        "out_shape": list(out_map.shape),
        "kernel": list(kernel),
        "stride": list(_per_axis(comp, "stride", nd)),
        "dilation": list(_per_axis(comp, "dilation", nd)),
        "pads": pads,
        "mode": comp.padded.padding_mode,
        "groups": groups,
        "in_channels": n_in,
        "out_channels": n_out,
        "item": item,
        "omap": omap,
        "channels": channels,
        "shown_maps": min(cg, MAX_SHOWN_MAPS),
        "inputs": typed_array(padded[(slice(None), *sub)]),
        "source": sources,
        "weights": typed_array(weight[omap]),
        "bias": typed_array(np.array([bias])),
        "has_bias": comp.bias is not None,
        "outputs": typed_array(outputs[(slice(None), *sub)]),
        "outputs_first": first,
        "partials": typed_array(partial_sums(comp, item, omap)) if fits else None,
        "never_read": [list(a.never_read) for a in comp.axes],
        "scale": scale,
        "exact": scale == 1,
        "zmax": {"input": _zmax(padded), "weight": _zmax(weight[omap]),
                 "output": _zmax(outputs)},
        "max_terms": MAX_TERMS,
    }


def partial_sums(comp, item: int, omap: int) -> np.ndarray:
    """``(C_in/groups, *out)``: what each input map of the group adds to every cell of output
    map ``omap`` — the core's convolution of the one map with its one kernel (depthwise, in
    float64), with the layer's stride, padding and dilation.  Their sum plus the bias is the
    output map."""
    x, weight = comp.x, comp.weight
    cg = weight.shape[1]
    group = omap // (comp.out.shape[1] // (x.shape[1] // cg))
    maps = x[item:item + 1, group * cg:(group + 1) * cg].astype(np.float64)
    kernels = weight[omap][:, None].astype(np.float64)
    nd = x.ndim - 2
    out = cc.convnd(maps, kernels, stride=_per_axis(comp, "stride", nd),
                    padding=comp.padded.pads, dilation=_per_axis(comp, "dilation", nd),
                    groups=cg, padding_mode=comp.padded.padding_mode)
    return cc.to_numpy(out)[0]


def output_map(scene: dict) -> np.ndarray:
    """The shown output map of an explorer scene (from its ``outputs``)."""
    return read_typed_array(scene["outputs"])[scene["omap"] - scene["outputs_first"]]


def _per_axis(comp, name: str, nd: int) -> tuple:
    """Stride or dilation per axis, as the core's shape explanation records them."""
    return tuple(getattr(a, name) for a in comp.shape.axes)[:nd]


def build_transposed_scene(comp, item: int, omap: int) -> dict:
    """The scene of output map ``omap`` of batch item ``item`` of a transposed convolution.

    ``comp`` is an :class:`app.model.TransposedComputation`.  Besides the input maps of the
    output map's group, their kernels (``weight[c, omap in group]``), the output and the bias,
    it carries both views of the core: ``gather`` — the zero-inserted, padded input, the
    flipped kernel and the per-axis source of each canvas position (``cc.gather_form``) — and
    ``overlap`` — how many stamps land on each output cell (``cc.overlap_counts``) — plus, per
    axis, the forward input sizes that ``output_padding`` chooses between.
    """
    x, out, weight = comp.x, comp.out, comp.weight
    nd = x.ndim - 2
    gf = comp.gather
    og, groups = weight.shape[1], gf.groups
    cg = x.shape[1] // groups
    group, o = divmod(omap, og)
    channels = list(range(group * cg, (group + 1) * cg))
    gvalues = gf.values[item, group * cg:(group + 1) * cg]
    bias = 0.0 if comp.bias is None else comp.bias[omap]
    return {
        "version": SCENE_VERSION,
        "mode": "transposed",
        "ndim": nd,
        "layout": rank(nd).layout,
        "axes": list(rank(nd).axes),
        "in_shape": list(x.shape[2:]),
        "out_shape": list(out.shape[2:]),
        "kernel": list(weight.shape[2:]),
        "stride": list(gf.stride),
        "dilation": list(gf.dilation),
        "padding": list(gf.padding),
        "output_padding": list(gf.output_padding),
        "groups": groups,
        "in_channels": x.shape[1],
        "out_channels": out.shape[1],
        "item": item,
        "omap": omap,
        "channels": channels,
        "shown_maps": min(cg, MAX_SHOWN_MAPS),
        "inputs": typed_array(x[item, group * cg:(group + 1) * cg]),
        "weights": typed_array(weight[group * cg:(group + 1) * cg, o]),
        "bias": typed_array(np.array([bias])),
        "has_bias": comp.bias is not None,
        "output": typed_array(out[item, omap]),
        "gather": {
            "values": typed_array(gvalues),
            "weights": typed_array(gf.weight[omap]),
            "pads": [list(p) for p in gf.pads],
            "source": list(gf.axis_source),
            "kind": list(gf.axis_kind),
        },
        "overlap": typed_array(comp.overlap.counts, "int32"),
        "uneven": [bool(u) for u in comp.overlap.uneven],
        "colliding": [list(c) for c in comp.colliding],
        "scale": 1,
        "exact": True,
        "zmax": {"input": _zmax(x[item, group * cg:(group + 1) * cg]),
                 "weight": _zmax(weight[group * cg:(group + 1) * cg, o]),
                 "output": _zmax(out[item, omap])},
        "max_terms": MAX_TERMS,
    }


# ------------------------------------------------------------------------------ stacks

def build_stack_scene(rf) -> dict:
    """The receptive-field view's scene: a stack's geometry and the shape of every level.

    ``rf`` is a :class:`convcore.ReceptiveField` made with ``in_spatial``.  Per layer: kernel,
    stride, dilation and ``(low, high)`` pads per axis, and its ``size``, ``jump`` and
    ``start`` (for the view's captions); ``shapes``: the input's shape, then every layer's
    output shape.  No arrays travel: the browser derives each cell's receptive field and path
    counts from this geometry (the explorer's affine window rule, layer after layer), and the
    tests hold that to :func:`convcore.cell_receptive_field`.
    """
    return {
        "version": SCENE_VERSION,
        "kind": "stack",
        "ndim": len(rf.in_spatial),
        "shapes": [list(rf.in_spatial)] + [list(f.out_spatial) for f in rf.layers],
        "layers": [{"kernel": list(f.kernel), "stride": list(f.stride),
                    "dilation": list(f.dilation), "pads": [list(p) for p in f.pads],
                    "size": list(f.size), "jump": list(f.jump), "start": list(f.start)}
                   for f in rf.layers],
    }
