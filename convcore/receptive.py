"""Receptive fields of a stack of convolutions, in the conventions of Araujo, Norris & Sim,
"Computing Receptive Fields of Convolutional Neural Networks" (Distill, 2019).

Per layer ``l`` (kernel ``k``, stride ``s``, dilation ``d``, low padding ``p``; the dilated kernel
spans ``k' = d·(k − 1) + 1`` cells), counted in input cells of the stack:

* ``jump``  ``j_l = j_{l−1}·s_l`` — the distance between neighbouring outputs of layer ``l``;
* ``size``  ``r_l = r_{l−1} + (k'_l − 1)·j_{l−1}`` — the input cells one output spans;
* ``start`` ``u_l = u_{l−1} − p_l·j_{l−1}`` — the first input cell output 0 sees (negative:
  padding), so output ``o`` spans ``u_l + o·j_l`` to ``u_l + o·j_l + r_l − 1``,

with ``j_0 = r_0 = 1`` and ``u_0 = 0``.  Inside that range an input cell can still be unseen
(stride and dilation leave holes); :func:`cell_receptive_field` counts, for each input cell, the
paths through the stack that connect it to one output cell — the effective receptive field with
all weights one.  Padding is zeros: a padding cell carries no input.

Limits, checked before any work: at most :data:`MAX_LAYERS` layers; parameters below
:data:`MAX_VALUE`; the size, jump and start numbers (which grow with the product of strides)
and the layer records are weighed against the memory budget as the recurrence runs (linear:
10,000 layers in a few hundredths of a second); path counting weighs every layer's arrays and
does at most :data:`MAX_PATH_CELLS` cells of work (each layer costs its padded input's length,
whatever its kernel size).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .budget import memory_budget, over_budget, require_parts
from .errors import ConvError, shown
from .geometry import dilated_extent, output_length, tap_position
from .params import is_int, positive_tuple, resolve_padding

LAYER_KEYS = ("kernel_size", "stride", "padding", "dilation")
MAX_VALUE = 2**16  # far beyond any stack one draws; keeps path counting quick
MAX_LAYERS = 10_000  # ResNet-1202 has 1,202 convolutions; a drawn stack a handful
MAX_PATH_CELLS = 2**26  # cell_receptive_field's work: the padded lengths of all layers, summed
LAYER_BYTES = 600  # one LayerField, its tuples and small ints, per spatial axis


@dataclass(frozen=True)
class StackLayer:
    """One convolution of a stack, by its geometry alone (channels do not matter here).

    ``padding``: an int, one int per axis, one ``(low, high)`` pair per axis, ``"valid"`` or
    ``"same"`` (stride 1), as for :func:`convcore.convnd`.
    """

    kernel_size: int | tuple
    stride: int | tuple = 1
    padding: int | str | tuple = 0
    dilation: int | tuple = 1


@dataclass(frozen=True)
class LayerField:
    """A layer's resolved geometry and the receptive field of its outputs, per axis."""

    index: int  # position in the stack, from 0
    kernel: tuple
    stride: tuple
    dilation: tuple
    pads: tuple  # (low, high) per axis
    size: tuple  # r_l: input cells spanned by one output of this layer
    jump: tuple  # j_l: input cells between neighbouring outputs of this layer
    start: tuple  # u_l: first input cell seen by output 0 (negative: padding)
    out_spatial: tuple | None = None  # this layer's output shape, when in_spatial was given

    @property
    def center(self) -> tuple:
        """Centre of output 0's field, ``start + (size − 1)/2`` (a half for even sizes)."""
        return tuple(u + (r - 1) / 2 for u, r in zip(self.start, self.size))


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive-field size, jump and start after every layer of a stack."""

    layers: tuple  # LayerField per layer
    in_spatial: tuple | None = None

    @property
    def size(self) -> tuple:
        return self.layers[-1].size

    @property
    def jump(self) -> tuple:
        return self.layers[-1].jump

    @property
    def start(self) -> tuple:
        return self.layers[-1].start

    @property
    def out_spatial(self) -> tuple | None:
        return self.layers[-1].out_spatial


def _layer_fields(layer, i, op):
    if isinstance(layer, StackLayer):
        return {k: getattr(layer, k) for k in LAYER_KEYS}
    if isinstance(layer, Mapping):
        unknown = sorted(set(layer) - set(LAYER_KEYS) - {"kernel"}, key=str)
        if unknown:
            raise ConvError(f"{op}: layer {i} has unknown key(s) {unknown}; a layer has "
                            f"{', '.join(LAYER_KEYS)}")
        if "kernel_size" not in layer and "kernel" not in layer:
            raise ConvError(f"{op}: layer {i} needs a kernel_size, got {shown(dict(layer), 120)}")
        fields = {"kernel_size": layer.get("kernel_size", layer.get("kernel")),
                  "stride": layer.get("stride", 1), "padding": layer.get("padding", 0),
                  "dilation": layer.get("dilation", 1)}
        return fields
    raise ConvError(f"{op}: layer {i} must be a StackLayer or a mapping with "
                    f"{', '.join(LAYER_KEYS)}, got {shown(layer, 80)}")


def _axes_of(value) -> int:
    if isinstance(value, (tuple, list)):
        return len(value)
    return 0


def resolve_stack(layers, ndim=None, op="receptive_field"):
    """Every layer as ``(kernel, stride, dilation, pads)`` tuples of ``ndim`` axes.

    ``ndim`` None: the length of the per-axis values given (1 when every value is an int).
    """
    if isinstance(layers, (StackLayer, Mapping)) or not isinstance(layers, (tuple, list)):
        raise ConvError(f"{op}: layers must be a list of layers (StackLayer or mapping), got "
                        f"{shown(layers, 80)}")
    if not layers:
        raise ConvError(f"{op}: layers must contain at least one layer, got an empty list")
    if len(layers) > MAX_LAYERS:
        raise ConvError(f"{op}: a stack may have at most {MAX_LAYERS} layers, got "
                        f"{len(layers)}")
    raw = [_layer_fields(layer, i, op) for i, layer in enumerate(layers)]
    if ndim is None:
        lengths = {_axes_of(v) for f in raw for k, v in f.items()
                   if k != "padding" or not isinstance(v, str)} - {0}
        if len(lengths) > 1:
            raise ConvError(f"{op}: the layers mix per-axis values of {sorted(lengths)} axes; "
                            f"give every per-axis value for the same number of axes")
        ndim = lengths.pop() if lengths else 1
    elif not is_int(ndim) or ndim < 1:
        raise ConvError(f"{op}: ndim must be an int >= 1, got {shown(ndim)}")
    resolved = []
    for i, f in enumerate(raw):
        where = f"{op}: layer {i}"
        kernel = positive_tuple(f["kernel_size"], ndim, "kernel_size", where)
        stride = positive_tuple(f["stride"], ndim, "stride", where)
        dilation = positive_tuple(f["dilation"], ndim, "dilation", where)
        pads = resolve_padding(f["padding"], ndim, kernel, dilation, stride, where)
        values = (*kernel, *stride, *dilation, *(v for pair in pads for v in pair))
        if max(values) >= MAX_VALUE:
            raise ConvError(f"{where}: kernel_size, stride, dilation and padding must be "
                            f"< 2**16, got {max(values)}")
        resolved.append((kernel, stride, dilation, pads))
    return resolved


def _in_spatial(in_spatial, op):
    in_spatial = (in_spatial,) if is_int(in_spatial) else in_spatial
    if not isinstance(in_spatial, (tuple, list)) or not in_spatial or \
            not all(is_int(n) and n >= 1 for n in in_spatial):
        raise ConvError(f"{op}: in_spatial must be an int or a tuple of ints >= 1, got "
                        f"{shown(in_spatial, 80)}")
    return tuple(int(n) for n in in_spatial)


def stack_shapes(in_spatial, layers) -> tuple:
    """The output shape of every layer of the stack, for an input of ``in_spatial``.

    Raises ConvError naming the layer and axis where an output would be empty.

    Examples:
        >>> stack_shapes(32, [dict(kernel_size=3, stride=2), dict(kernel_size=3, stride=2)])
        ((15,), (7,))
        >>> stack_shapes((7, 9), [StackLayer(3, padding=1), StackLayer((3, 5), stride=2)])
        ((7, 9), (3, 3))
    """
    return _stack_shapes(in_spatial, layers, "stack_shapes")


def _stack_shapes(in_spatial, layers, op):
    size = _in_spatial(in_spatial, op)
    return _shapes_of(size, resolve_stack(layers, len(size), op), op)


def _shapes_of(size, stack, op):
    """The output shape of every layer of a resolved stack, from the input shape ``size``."""
    shapes = []
    for i, (kernel, stride, dilation, pads) in enumerate(stack):
        out = []
        for axis, (n, k, s, d, (lo, hi)) in enumerate(zip(size, kernel, stride, dilation, pads)):
            span = dilated_extent(k, d)
            if span > n + lo + hi:
                raise ConvError(
                    f"{op}: layer {i} would give an empty output on spatial axis {axis}: its "
                    f"dilated kernel spans dilation·(kernel_size−1)+1 = {d}·({k}−1)+1 = {span} "
                    f"cells but its padded input has {n}+{lo}+{hi} = {n + lo + hi}")
            out.append(output_length(n, k, s, d, lo, hi))
        size = tuple(out)
        shapes.append(size)
    return tuple(shapes)


def receptive_field(layers, in_spatial=None, ndim=None, *, max_bytes=None) -> ReceptiveField:
    """Receptive-field size, jump and start of every layer of a stack.

    Args:
        layers: a list of :class:`StackLayer` or mappings with ``kernel_size`` (or
            ``kernel``), ``stride``, ``padding``, ``dilation`` (each an int or one per axis).
        in_spatial: the input shape (optional); adds each layer's ``out_spatial`` and raises
            ConvError when a layer's output would be empty.
        ndim: number of spatial axes (default: from ``in_spatial`` or the per-axis values).
        max_bytes: memory budget for the layer records and their numbers (default
            :func:`convcore.memory_budget`).

    Examples:
        >>> rf = receptive_field([dict(kernel_size=3, padding=1)] * 3)
        >>> [(f.size, f.jump, f.start) for f in rf.layers]
        [((3,), (1,), (-1,)), ((5,), (1,), (-2,)), ((7,), (1,), (-3,))]
        >>> wavenet = [dict(kernel_size=2, dilation=2 ** i) for i in range(4)]
        >>> receptive_field(wavenet).size
        (16,)
    """
    op = "receptive_field"
    if ndim is not None and (not is_int(ndim) or ndim < 1):
        raise ConvError(f"{op}: ndim must be an int >= 1, got {shown(ndim, 80)}")
    if in_spatial is not None:
        in_spatial = _in_spatial(in_spatial, op)
        if ndim is not None and ndim != len(in_spatial):
            raise ConvError(f"{op}: ndim={ndim!r} but in_spatial {in_spatial} has "
                            f"{len(in_spatial)} axes")
        ndim = len(in_spatial)
    return _receptive_field(layers, in_spatial, ndim, op, max_bytes)


def _receptive_field(layers, in_spatial, ndim, op, max_bytes):
    stack = resolve_stack(layers, ndim, op)
    shapes = _shapes_of(in_spatial, stack, op) if in_spatial is not None else None
    nd = len(stack[0][0])
    budget = memory_budget(max_bytes, op)
    size, jump, start = (1,) * nd, (1,) * nd, (0,) * nd
    fields, held = [], 0
    for i, (kernel, stride, dilation, pads) in enumerate(stack):
        size = tuple(r + (dilated_extent(k, d) - 1) * j
                     for r, k, d, j in zip(size, kernel, dilation, jump))
        start = tuple(u - lo * j for u, (lo, _), j in zip(start, pads, jump))
        jump = tuple(j * s for j, s in zip(jump, stride))
        # the numbers grow with the product of strides: weigh what this layer keeps
        held += nd * (LAYER_BYTES + 3 * (max(map(int.bit_length, size + jump + start)) // 8))
        if held > budget:
            raise ConvError(f"{op}: the receptive fields of the first {i + 1} layers would "
                            f"take {held} bytes (their sizes and jumps grow with the product "
                            f"of the strides), {over_budget(budget)}")
        fields.append(LayerField(i, kernel, stride, dilation, pads, size, jump, start,
                                 None if shapes is None else shapes[i]))
    return ReceptiveField(tuple(fields), in_spatial)


@dataclass(frozen=True)
class CellField:
    """The input cells that one output cell of a stack sees, and through how many paths."""

    out_index: tuple  # spatial index in the last layer's output
    first: tuple  # per axis: first input index of the field (may be < 0: padding)
    last: tuple  # per axis: last input index of the field (may be past the input: padding)
    paths: np.ndarray = field(repr=False)  # float64, in_spatial: paths to the output cell

    @property
    def inside(self) -> tuple:
        """Per axis ``(first, last)`` clipped to the input; None where only padding is seen."""
        shape = self.paths.shape
        return tuple((max(a, 0), min(b, n - 1)) if max(a, 0) <= min(b, n - 1) else None
                     for a, b, n in zip(self.first, self.last, shape))

    @property
    def reached(self) -> np.ndarray:
        """Bool mask of the input cells with at least one path (the cells that matter)."""
        return self.paths > 0


def _back_project(counts, n_prev, k, s, d, lo):
    """Paths to each of ``n_prev`` input cells of one layer, from the paths to its outputs.

    Output ``o`` reads padded positions ``o·s + t·d`` for taps ``t < k``: it adds its count to
    an arithmetic run of step ``d``.  Each run is two entries of a difference array, summed
    along the residue classes mod ``d`` — O(padded length) whatever ``k``.
    """
    d = d if k > 1 else 1  # one tap: any dilation, the same single position
    last = tap_position(counts.size - 1, 0, s, d)  # where the last window starts
    length = -(-(last + k * d + 1) // d) * d  # room for every run's end, in whole rows of d
    diff = np.zeros(length, dtype=np.float64)
    diff[0:last + 1:s] = counts  # windows start s apart: plain slices, no index arrays
    diff[k * d:last + k * d + 1:s] -= counts
    rows = diff.reshape(-1, d)
    np.cumsum(rows, axis=0, out=rows)  # down each residue class mod d, in place
    back = np.zeros(n_prev, dtype=np.float64)
    inside = diff[lo:lo + n_prev]  # padding cells carry no input
    back[:inside.size] = inside
    return back


def _path_cells(n_prev, k, d, lo, hi) -> int:
    """The length :func:`_back_project` works on for one layer and axis (cells)."""
    return n_prev + lo + hi + 2 * (d if k > 1 else 1)


def _axis_paths(n_in, stack_axis, shapes_axis, o):
    """Paths from each input cell of one axis to output ``o`` (all-ones kernels)."""
    counts = np.zeros(shapes_axis[-1], dtype=np.float64)
    counts[o] = 1.0
    sizes = (n_in, *shapes_axis)
    for (k, s, d, lo), n_prev in zip(reversed(stack_axis), reversed(sizes[:-1])):
        counts = _back_project(counts, n_prev, k, s, d, lo)
    return counts


def cell_receptive_field(layers, in_spatial, out_index, *, max_bytes=None) -> CellField:
    """The receptive field of one output cell of a stack, and its path counts.

    Args:
        layers: as for :func:`receptive_field`.
        in_spatial: the stack's input shape (an int for 1-D).
        out_index: the output cell, an int (1-D) or one index per axis of the last output.

    Returns a :class:`CellField`: the index range ``first..last`` per axis (from size, jump and
    start), and ``paths``: for each input cell, the number of paths through the stack that join
    it to the output cell (each path picks one tap per layer) — the effective receptive field
    of a stack whose weights are all one.  Exact while the counts stay below 2**53.

    Examples:
        >>> cf = cell_receptive_field([dict(kernel_size=3), dict(kernel_size=3)], 7, 1)
        >>> cf.first, cf.last, cf.paths.tolist()
        ((1,), (5,), [0.0, 1.0, 2.0, 3.0, 2.0, 1.0, 0.0])
    """
    op = "cell_receptive_field"
    in_spatial = _in_spatial(in_spatial, op)
    rf = _receptive_field(layers, in_spatial, len(in_spatial), op, max_bytes)
    per_layer = [_path_cells(n_prev, f.kernel[a], f.dilation[a], *f.pads[a])
                 for a, n in enumerate(in_spatial)
                 for f, n_prev in zip(rf.layers, (n, *(g.out_spatial[a] for g in rf.layers)))]
    require_parts(op, {"path-count map": 2 * math.prod(in_spatial) * 8,  # and its last factor
                       "one layer's path counts": 5 * max(per_layer) * 8}, max_bytes)
    work = sum(per_layer)
    if work > MAX_PATH_CELLS:
        raise ConvError(f"{op}: counting paths through these {len(rf.layers)} layers would "
                        f"work on {work} cells (their padded lengths, summed), more than "
                        f"{MAX_PATH_CELLS}; use fewer layers, less padding or a smaller input")
    out_sp = rf.out_spatial
    index = (out_index,) if is_int(out_index) else out_index
    if (not isinstance(index, (tuple, list)) or len(index) != len(out_sp)
            or not all(is_int(i) and 0 <= i < m for i, m in zip(index, out_sp))):
        raise ConvError(f"{op}: out_index must be one index per axis within the stack's output "
                        f"shape {out_sp}, got {shown(out_index, 80)}")
    index = tuple(int(i) for i in index)
    first = tuple(u + o * j for u, o, j in zip(rf.start, index, rf.jump))
    last = tuple(a + r - 1 for a, r in zip(first, rf.size))
    per_axis = []
    for axis, (n, o) in enumerate(zip(in_spatial, index)):
        stack_axis = [(f.kernel[axis], f.stride[axis], f.dilation[axis], f.pads[axis][0])
                      for f in rf.layers]
        shapes_axis = [f.out_spatial[axis] for f in rf.layers]
        per_axis.append(_axis_paths(n, stack_axis, shapes_axis, o))
    # Paths factor over axes (each picks its taps independently): an outer product.
    paths = per_axis[0]
    for counts in per_axis[1:]:
        paths = np.multiply.outer(paths, counts)
    return CellField(index, first, last, paths)


__all__ = [
    "CellField", "LayerField", "ReceptiveField", "StackLayer", "cell_receptive_field",
    "receptive_field", "resolve_stack", "stack_shapes",
]
