"""The teaching model of a transposed convolution: its two equivalent views, as plain host data.

*Scatter* — each input cell stamps ``value × kernel`` onto the output, stamps ``stride`` cells
apart; where stamps overlap they add up (:func:`trace_scatter`, :func:`scatter_map`,
:func:`overlap_counts`), and every output value is the sum of the stamps that land on it
(:func:`trace_transposed`).

*Gather* — the same numbers as a plain convolution (:func:`gather_form`): insert ``stride − 1``
zeros between input cells, pad ``dilation·(k − 1) − padding`` cells on each side (plus
``output_padding`` at the high end; negative means crop), flip the kernel and swap its input and
output channels in every group, then slide it with stride 1 and the same dilation.

Parameters go through the same checks as the core (:func:`convcore.transposed.transpose_spec`),
arrays are read as the core reads them (:func:`convcore.core.as_arrays`, without copying: only
the cells a trace shows are read), every position is a :func:`~convcore.geometry.tap_position`,
numbers and equations are written by :mod:`convcore.text`, and every function weighs what it
builds against the memory budget (``max_bytes=``) first.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from .backend import to_numpy
from .budget import require, require_parts
from .core import as_arrays
from .errors import ConvError, shown
from .geometry import int64_steps, read_counts, readers, tap_position, used_step
from .params import MAX_SPATIAL_DIMS, as_shape, is_int, positive_tuple
from .text import format_equation, format_index, format_number
from .trace.steps import OutputCell
from .transposed import TransposeSpec, transpose_spec

STAMP_BYTES = 1024  # one Stamp in Python: the object, its tuples and floats (as a Tap)


def _spatial_spec(op, in_spatial, kernel_size, stride, padding, output_padding, dilation,
                  output_size=None) -> TransposeSpec:
    """A TransposeSpec for one channel: the spatial rules alone, checked like the core's."""
    in_spatial = as_shape(in_spatial, "in_spatial", op)
    if len(in_spatial) > MAX_SPATIAL_DIMS:
        raise ConvError(f"{op}: in_spatial may have at most {MAX_SPATIAL_DIMS} axes, got "
                        f"{len(in_spatial)}")
    kernel = positive_tuple(kernel_size, len(in_spatial), "kernel_size", op)
    return transpose_spec(op, (1, 1, *in_spatial), (1, 1, *kernel), None, stride, padding,
                          output_padding, 1, dilation, output_size)


def _check_index(op, name, index, limits, batched, what):
    if (not isinstance(index, (tuple, list)) or len(index) != len(limits)
            or not all(is_int(i) and 0 <= i < m for i, m in zip(index, limits))):
        names = f"(n, {what}, *spatial)" if batched else f"({what}, *spatial)"
        raise ConvError(f"{op}: {name} must be {names} within the shape {tuple(limits)}, got "
                        f"{shown(index, 80)}")
    return tuple(int(i) for i in index)


def _prepare(op, x, weight, bias, stride, padding, output_padding, groups, dilation,
             output_size):
    """(spec, batched x, weight, bias): arrays as the caller gave them (nothing is copied)."""
    _, x, weight, bias = as_arrays(op, input=x, weight=weight, bias=bias)
    spec = transpose_spec(op, x.shape, weight.shape, None if bias is None else bias.shape,
                          stride, padding, output_padding, groups, dilation, output_size)
    return spec, (x if spec.batched else x[None]), weight, bias


def _host(a) -> np.ndarray:
    """A few cells gathered from an array, on the host as float64."""
    return to_numpy(a).astype(np.float64)


# --------------------------------------------------------------------------- scatter

@dataclass(frozen=True)
class Stamp:
    """One input cell times one kernel tap, added onto one output cell."""

    in_channel: int
    input_index: tuple  # spatial index of the input cell
    out_channel: int
    output_index: tuple  # spatial index in the output; outside it when padding crops the stamp
    full_index: tuple  # in the uncropped canvas of all stamps: input·stride + tap·dilation
    weight_index: tuple  # (c_in, c_out within the group, *tap) into the weight
    x: float
    w: float
    product: float
    cropped: bool  # True when the stamp lands outside the output (cut off by padding)

    def __repr__(self):
        where = f"out[{self.out_channel},{format_index(self.output_index)}]"
        if self.cropped:
            where += " (cropped)"
        return (f"Stamp(x[{self.in_channel},{format_index(self.input_index)}]="
                f"{format_number(self.x)} · w[{format_index(self.weight_index)}]="
                f"{format_number(self.w)} → {format_number(self.product)} onto {where})")


@dataclass(frozen=True)
class ScatterStep:
    """One input cell and every stamp it makes: on each output channel of its group, each tap."""

    in_index: tuple
    value: float
    stamps: tuple = field(repr=False)

    @property
    def kept(self) -> tuple:
        """The stamps that land inside the output."""
        return tuple(s for s in self.stamps if not s.cropped)


@dataclass(frozen=True, repr=False)
class TransposedStep(OutputCell):
    """One output cell: its value, its bias and every stamp that lands on it."""

    stamps: tuple = field(repr=False)
    terms_name = "stamps"


def trace_scatter(x, weight, bias=None, *, in_index, stride=1, padding=0, output_padding=0,
                  groups=1, dilation=1, output_size=None, max_bytes=None) -> ScatterStep:
    """Every stamp one input cell makes in ``conv_transposend(x, weight, ...)``.

    Args:
        x, weight, bias, stride, padding, output_padding, groups, dilation, output_size: as for
            :func:`convcore.conv_transposend` (checked by the same rules).
        in_index: ``(n, c_in, *spatial)`` for batched ``x``, ``(c_in, *spatial)`` unbatched.
        max_bytes: memory budget of the call (default :func:`convcore.memory_budget`).

    Returns a :class:`ScatterStep`: for each output channel of the cell's group (in order) and
    each kernel tap (raster order) one :class:`Stamp`, ``x · w`` added at
    ``input·stride + tap·dilation − padding``; stamps outside the output are ``cropped``.

    Examples:
        >>> import numpy as np, convcore as cc
        >>> s = cc.trace_scatter(np.array([[[1., 10.]]]), np.array([[[1., 2., 3.]]]),
        ...                      in_index=(0, 0, 1), stride=2, padding=1)
        >>> [(t.output_index, t.product, t.cropped) for t in s.stamps]
        [((1,), 10.0, False), ((2,), 20.0, False), ((3,), 30.0, True)]
    """
    op = "trace_scatter"
    spec, xb, weight, _ = _prepare(op, x, weight, bias, stride, padding, output_padding, groups,
                                   dilation, output_size)
    lead = (spec.batch, spec.in_channels) if spec.batched else (spec.in_channels,)
    in_index = _check_index(op, "in_index", in_index, lead + spec.in_spatial, spec.batched,
                            "c_in")
    og, taps = spec.out_per_group, math.prod(spec.kernel)
    require(op, f"a step of {og * taps} stamps", og * taps * STAMP_BYTES, max_bytes)
    n = in_index[0] if spec.batched else 0
    c_in = in_index[-spec.ndim - 1]
    pos = in_index[-spec.ndim:]
    value = float(_host(xb[(n, c_in) + pos]))
    w = _host(weight[c_in]).reshape(og, taps)  # (C_out/groups, taps), raster order
    group = c_in // spec.in_per_group
    stamps = []
    for o in range(og):
        for j, tap in enumerate(np.ndindex(*spec.kernel)):
            full = tuple(tap_position(i, t, s, d) for i, t, s, d in
                         zip(pos, tap, spec.stride, spec.dilation))
            out = tuple(f - p for f, p in zip(full, spec.padding))
            wv = float(w[o, j])
            stamps.append(Stamp(
                in_channel=c_in, input_index=pos, out_channel=group * og + o,
                output_index=out, full_index=full, weight_index=(c_in, o, *tap), x=value,
                w=wv, product=value * wv,
                cropped=not all(0 <= v < m for v, m in zip(out, spec.out_spatial))))
    return ScatterStep(in_index=in_index, value=value, stamps=tuple(stamps))


def stamp_sources(out_pos, spec: TransposeSpec) -> list:
    """Per axis, the ``(tap, input index)`` pairs whose stamp lands on output ``out_pos``,
    in increasing input index: ``input·stride + tap·dilation = out_pos + padding``."""
    per_axis = []
    for o, n, k, s, d, p in zip(out_pos, spec.in_spatial, spec.kernel, spec.stride,
                                spec.dilation, spec.padding):
        taps = readers(o + p, k, s, d, n)  # taps ascending: input indices descending
        per_axis.append([(t, (o + p - tap_position(0, t, s, d)) // s) for t in reversed(taps)])
    return per_axis


def trace_transposed(x, weight, bias=None, *, out_index, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1, output_size=None, max_bytes=None) -> TransposedStep:
    """Every stamp summed into one output cell of ``conv_transposend(x, weight, ...)``.

    Args:
        x, weight, bias, stride, padding, output_padding, groups, dilation, output_size: as for
            :func:`convcore.conv_transposend`.
        out_index: ``(n, c_out, *spatial)`` for batched ``x``, ``(c_out, *spatial)`` unbatched.
        max_bytes: memory budget of the call (default :func:`convcore.memory_budget`).

    Returns a :class:`TransposedStep` whose ``value`` — the sum of its stamps' products plus
    the bias — equals ``conv_transposend(...)`` at ``out_index`` up to rounding.  Stamps come
    in order of input channel, then input cell, then tap.  Only those cells are read.

    Examples:
        >>> import numpy as np, convcore as cc
        >>> s = cc.trace_transposed(np.array([[[1., 10.]]]), np.array([[[1., 2., 3.]]]),
        ...                         out_index=(0, 0, 2), stride=2)
        >>> [(t.input_index, t.weight_index, t.product) for t in s.stamps], s.value
        ([((0,), (0, 0, 2), 3.0), ((1,), (0, 0, 0), 10.0)], 13.0)
    """
    op = "trace_transposed"
    spec, xb, weight, bias = _prepare(op, x, weight, bias, stride, padding, output_padding,
                                      groups, dilation, output_size)
    lead = (spec.batch, spec.out_channels) if spec.batched else (spec.out_channels,)
    out_index = _check_index(op, "out_index", out_index, lead + spec.out_spatial, spec.batched,
                             "c_out")
    n = out_index[0] if spec.batched else 0
    c_out = out_index[-spec.ndim - 1]
    pos = out_index[-spec.ndim:]
    og, cg = spec.out_per_group, spec.in_per_group
    group, o = divmod(c_out, og)
    per_axis = stamp_sources(pos, spec)
    count = cg * math.prod(len(pairs) for pairs in per_axis)
    require(op, f"a step of {count} stamps", count * STAMP_BYTES, max_bytes)
    stamps = []
    full = tuple(v + p for v, p in zip(pos, spec.padding))
    for c_in in range(group * cg, (group + 1) * cg):
        for combo in itertools.product(*per_axis):  # raster order of the input cells
            cell = tuple(int(i) for _, i in combo)
            tap = tuple(int(t) for t, _ in combo)
            x_, w_ = float(xb[(n, c_in) + cell]), float(weight[(c_in, o) + tap])
            stamps.append(Stamp(
                in_channel=c_in, input_index=cell, out_channel=c_out, output_index=pos,
                full_index=full, weight_index=(c_in, o, *tap), x=x_, w=w_, product=x_ * w_,
                cropped=False))
    b = 0.0 if bias is None else float(bias[c_out])
    return TransposedStep(out_index=out_index, value=math.fsum(s.product for s in stamps) + b,
                          bias=b, stamps=tuple(stamps))


def transposed_equation(step: TransposedStep, max_terms: int = 24) -> str:
    """The step's arithmetic as one line: ``out[0,0,2] = b(0) + x[0,0]·w[0,0,2] (1·3) + … = 13``.

    Beyond ``max_terms`` stamps the rest is summarized with its count and sum
    (:func:`convcore.text.format_equation`, the writer of :func:`convcore.equation` too).
    """
    if not isinstance(step, TransposedStep):
        raise ConvError(f"transposed_equation: step must be a TransposedStep, got "
                        f"{type(step).__name__}")
    return format_equation(
        step.out_index, step.bias, step.stamps, step.value,
        lambda s: (f"x[{s.in_channel},{format_index(s.input_index)}]·"
                   f"w[{format_index(s.weight_index)}]"),
        max_terms, "transposed_equation")


@dataclass(frozen=True)
class ScatterMap:
    """Output coordinates of every stamp of every input cell, in raster order of the input."""

    in_spatial: tuple
    kernel: tuple
    stride: tuple
    dilation: tuple
    padding: tuple
    out_spatial: tuple
    full_spatial: tuple
    in_coords: np.ndarray = field(repr=False)  # (P, ndim) input cells
    coords: np.ndarray = field(repr=False)  # (P, K, ndim) output cells, in raster order of taps
    inside: np.ndarray = field(repr=False)  # (P, K) the stamp lands inside the output

    @property
    def steps(self) -> int:
        return int(self.in_coords.shape[0])


def scatter_map(in_spatial, kernel_size, stride=1, padding=0, output_padding=0, dilation=1,
                steps=None, *, max_bytes=None) -> ScatterMap:
    """The index map a scatter animation is built from: where each input cell's stamps land.

    Stamp of input cell ``i``, tap ``t``: output ``i·stride + t·dilation − padding`` (affine, so
    a browser can derive it; this is the core's answer to test that against).  ``steps``
    (optional): the raster-order input cells to map; by default every cell.

    Examples:
        >>> m = scatter_map(3, 3, stride=2, padding=1)
        >>> m.coords[:, :, 0].tolist(), m.out_spatial
        ([[-1, 0, 1], [1, 2, 3], [3, 4, 5]], (5,))
    """
    op = "scatter_map"
    spec = _spatial_spec(op, in_spatial, kernel_size, stride, padding, output_padding, dilation)
    nd, taps = spec.ndim, math.prod(spec.kernel)
    total = math.prod(spec.in_spatial)
    if steps is None:
        count = total
    else:
        ints = (steps.dtype.kind in "iu" if isinstance(steps, np.ndarray) else
                isinstance(steps, (tuple, list)) and all(is_int(s) for s in steps))
        if not ints:
            raise ConvError(f"{op}: steps must be a sequence of ints (raster-order input "
                            f"cells), got {shown(steps, 80)}")
        lowest, highest = (min(steps), max(steps)) if len(steps) else (0, 0)
        if lowest < 0 or highest >= total:
            raise ConvError(f"{op}: steps must lie in 0..{total - 1} (the input has {total} "
                            f"cells), got {lowest}..{highest}")
        count = len(steps)
    # coordinates, their bounds test (3 bool maps) and which land: per (cell, tap)
    require(op, f"the stamp map of {count} cells x {taps} taps",
            count * taps * (nd * (8 + 3) + 1) + taps * nd * 8, max_bytes)
    if steps is None:
        in_coords = np.indices(spec.in_spatial, dtype=np.int64).reshape(nd, -1).T
    else:
        steps = np.asarray(steps, dtype=np.int64).reshape(-1)
        in_coords = np.stack(np.unravel_index(steps, spec.in_spatial), axis=1).astype(np.int64)
    offsets = np.indices(spec.kernel, dtype=np.int64).reshape(nd, -1).T
    coords = tap_position(in_coords[:, None, :], offsets[None],  # |coords| <= 2**62: int64
                          int64_steps(spec.stride, spec.in_spatial),
                          int64_steps(spec.dilation, spec.kernel))
    coords -= np.asarray(spec.padding, dtype=np.int64)
    inside = np.all((coords >= 0) & (coords < np.asarray(spec.out_spatial)), axis=2)
    return ScatterMap(spec.in_spatial, spec.kernel, spec.stride, spec.dilation, spec.padding,
                      spec.out_spatial, spec.full_spatial, in_coords, coords, inside)


@dataclass(frozen=True)
class Overlap:
    """How many stamps land on each output cell (the checkerboard of uneven overlap)."""

    counts: np.ndarray = field(repr=False)  # int64, shape out_spatial
    axis_counts: tuple = field(repr=False)  # per axis, a 1-D int64 array
    # per axis, an int64 array of length stride: the stamps an interior output cell o receives,
    # indexed by (o + padding) mod stride
    residue_counts: tuple = field(default=(), repr=False)
    uneven: tuple = ()  # per axis: interior cells receive different numbers of stamps

    @property
    def checkerboard(self) -> bool:
        """True when some axis overlaps unevenly (kernel extent not a multiple of the stride)."""
        return any(self.uneven)


def overlap_counts(in_spatial, kernel_size, stride=1, padding=0, output_padding=0, dilation=1,
                   *, max_bytes=None) -> Overlap:
    """For every output cell, the number of (input cell, tap) stamps that land on it.

    Stamps form a product over axes, so the N-d count is the outer product of the per-axis
    counts.  Away from the ends, a cell ``o`` of an axis receives one stamp per tap ``t`` with
    ``t·dilation ≡ o + padding (mod stride)``: equal for all ``o`` only when those residues are
    balanced (with dilation 1: when the stride divides the kernel size).  Otherwise the
    counts alternate — the checkerboard of a transposed convolution (and of the gradient of a
    strided one).

    Examples:
        >>> ov = overlap_counts(4, 3, stride=2)
        >>> ov.axis_counts[0].tolist(), ov.residue_counts[0].tolist(), ov.checkerboard
        ([1, 1, 2, 1, 2, 1, 2, 1, 1], [2, 1], True)
    """
    op = "overlap_counts"
    spec = _spatial_spec(op, in_spatial, kernel_size, stride, padding, output_padding, dilation)
    require_parts(op, {"count map": math.prod(spec.out_spatial) * 8 * 2,  # and its last factor
                       "axis counts": sum(spec.out_spatial) * 8 * 8,  # read_counts' temporaries
                       "residue counts": sum(spec.stride) * 8 * 3}, max_bytes)
    axis_counts, residues, uneven = [], [], []
    for n, k, s, d, p, out in zip(spec.in_spatial, spec.kernel, spec.stride, spec.dilation,
                                  spec.padding, spec.out_spatial):
        # output o receives the stamps (i, t) with i·s + t·d = o + p: a read count
        axis_counts.append(read_counts(p, p + out, k, s, d, n))
        per_residue = tap_residues(k, s, d)
        residues.append(per_residue)
        uneven.append(bool(per_residue.min() != per_residue.max()))
    total = axis_counts[0]
    for counts in axis_counts[1:]:
        total = np.multiply.outer(total, counts)
    return Overlap(total, tuple(axis_counts), tuple(residues), tuple(uneven))


def tap_residues(kernel: int, stride: int, dilation: int) -> np.ndarray:
    """How many taps ``t < kernel`` have ``t·dilation ≡ r (mod stride)``, for each ``r``.

    ``t·d mod s`` runs through the multiples of ``g = gcd(s, d)`` with period ``s/g``: each gets
    ``kernel // (s/g)`` taps, and the first ``kernel mod (s/g)`` of the period one more — closed
    form, whatever the kernel size.
    """
    period = stride // math.gcd(stride, dilation)
    counts = np.zeros(stride, dtype=np.int64)
    counts[::stride // period] = kernel // period
    extra = np.arange(kernel % period, dtype=np.int64) * (dilation % stride) % stride
    counts[extra] += 1
    return counts


# --------------------------------------------------------------------------- gather

def gather_weight(weight, groups=1):
    """The forward-convolution kernel of a transposed one: flipped on every spatial axis, with
    input and output channels swapped inside each group.

    ``weight`` ``(C_in, C_out/groups, *kernel)`` → ``(C_out, C_in/groups, *kernel)``.
    """
    w = to_numpy(weight)
    if w.ndim < 3 or not is_int(groups) or groups < 1 or w.shape[0] % groups:
        raise ConvError(f"gather_weight: weight must be (C_in, C_out/groups, *kernel) with "
                        f"groups dividing C_in, got weight of shape {w.shape} and "
                        f"groups={shown(groups)}")
    g, cg, og = groups, w.shape[0] // groups, w.shape[1]
    k = w.shape[2:]
    swapped = w.reshape((g, cg, og) + k).swapaxes(1, 2).reshape((g * og, cg) + k)
    return np.flip(swapped, axis=tuple(range(2, w.ndim))).copy()


@dataclass(frozen=True)
class GatherForm:
    """A transposed convolution as a plain one: ``convnd(values, weight, bias,
    dilation=dilation, groups=groups)`` (stride 1) equals ``conv_transposend(x, ...)``."""

    values: np.ndarray = field(repr=False)  # zero-inserted, padded (or cropped) input
    is_inserted: np.ndarray = field(repr=False)  # bool, spatial: a zero inserted by the stride
    is_padding: np.ndarray = field(repr=False)  # bool, spatial: a zero of the padding
    source: np.ndarray = field(repr=False)  # (ndim, *spatial) input index held; -1 for zeros
    weight: np.ndarray = field(repr=False)  # (C_out, C_in/groups, *kernel), flipped
    pads: tuple = ()  # per axis (low, high) = (d·(k−1) − p, d·(k−1) − p + output_padding)
    # per axis, along that axis alone: the input index each position holds (-1 for a zero),
    # and what the position is (0 an input cell, 1 a zero inserted by the stride, 2 padding)
    axis_source: tuple = ()
    axis_kind: tuple = ()
    padding: tuple = ()  # of the transposed convolution
    output_padding: tuple = ()
    stride: tuple = ()  # of the transposed convolution: stride − 1 zeros between inputs
    dilation: tuple = ()
    groups: int = 1
    kernel: tuple = ()
    out_spatial: tuple = ()


def gather_form_shape(x_shape, weight_shape, stride=1, padding=0, output_padding=0, groups=1,
                      dilation=1, output_size=None) -> tuple:
    """Shape of ``gather_form(x, weight, ...).values`` (the zero-inserted, padded input) from
    shapes alone: the leading axes of ``x_shape``, then ``L_out + d·(k − 1)`` per axis.

    Examples:
        >>> gather_form_shape((1, 1, 2), (1, 1, 3), stride=2)
        (1, 1, 7)
    """
    op = "gather_form_shape"
    x_shape = as_shape(x_shape, "x_shape", op)
    spec = transpose_spec(op, x_shape, as_shape(weight_shape, "weight_shape", op), None, stride,
                          padding, output_padding, groups, dilation, output_size, None)
    return x_shape[:len(x_shape) - spec.ndim] + spec.gather_spatial


def gather_form(x, weight, *, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                output_size=None, max_bytes=None) -> GatherForm:
    """The direct convolution that computes ``conv_transposend(x, weight, ...)``.

    Along each axis the input gets ``stride − 1`` zeros between its cells, then
    ``d·(k−1) − padding`` cells on the low side and ``d·(k−1) − padding + output_padding`` on
    the high side: zeros where positive, cropped where negative.  The kernel is
    :func:`gather_weight` of ``weight``; the convolution has stride 1 and the same dilation.

    Examples:
        >>> import numpy as np, convcore as cc
        >>> gf = cc.gather_form(np.array([[[1., 10.]]]), np.array([[[1., 2., 3.]]]), stride=2)
        >>> gf.values.tolist(), gf.weight.tolist(), gf.pads
        ([[[0.0, 0.0, 1.0, 0.0, 10.0, 0.0, 0.0]]], [[[3.0, 2.0, 1.0]]], ((2, 2),))
        >>> cc.convnd(gf.values, gf.weight).tolist()
        [[[1.0, 2.0, 13.0, 20.0, 30.0]]]
    """
    op = "gather_form"
    _, x, weight = as_arrays(op, input=x, weight=weight)
    spec = transpose_spec(op, x.shape, weight.shape, None, stride, padding, output_padding,
                          groups, dilation, output_size)
    pads, nd, spatial = spec.gather_pads, spec.ndim, spec.gather_spatial
    dilated = tuple(tap_position(n - 1, 0, s, 1) + 1 for n, s in zip(spec.in_spatial, spec.stride))
    lead = tuple(x.shape[:-nd])
    cells = math.prod(spatial)
    require_parts(op, {"zero-inserted input": math.prod(lead) * cells * x.dtype.itemsize,
                       "source map": nd * cells * 8, "masks": 2 * cells,
                       "flipped kernel": 2 * weight.size * weight.dtype.itemsize}, max_bytes)
    values = np.zeros(lead + spatial, dtype=x.dtype)
    source = np.full((nd, *spatial), -1, dtype=np.int64)
    is_pad = np.zeros(spatial, dtype=bool)
    is_ins = np.zeros(spatial, dtype=bool)
    axes_src, axes_kind, src, dst = [], [], [], []
    for a, (n, m, s, (lo, _), size) in enumerate(zip(spec.in_spatial, dilated, spec.stride,
                                                     pads, spatial)):
        step = max(used_step(s, n), 1)  # one input cell: any stride, as 1
        # input cell i sits at lo + i·s of the canvas; cells cropped off it are never read
        i0, i1 = max(0, -(lo // step)), min(n - 1, (size - 1 - lo) // step)
        src.append(slice(i0, i1 + 1))
        dst.append(slice(lo + i0 * step, lo + i1 * step + 1, step))
        q = np.arange(size, dtype=np.int64) - lo  # position in the zero-inserted input
        inside = (q >= 0) & (q < m)
        is_cell = inside & (q % step == 0)
        shape = [1] * nd
        shape[a] = size
        is_pad |= (~inside).reshape(shape)
        is_ins |= (inside & ~is_cell).reshape(shape)
        axes_src.append(np.where(is_cell, q // step, -1))
        axes_kind.append(np.where(is_cell, 0, np.where(inside, 1, 2)))
    if all(r.start < r.stop for r in src):
        values[(Ellipsis, *dst)] = to_numpy(x[(Ellipsis, *src)])
        for a, r in enumerate(src):
            shape = [1] * nd
            shape[a] = r.stop - r.start
            source[(a, *dst)] = np.arange(r.start, r.stop).reshape(shape)
    return GatherForm(values=values, is_inserted=is_ins & ~is_pad, is_padding=is_pad,
                      source=source, weight=gather_weight(weight, spec.groups), pads=pads,
                      axis_source=tuple(a.tolist() for a in axes_src),
                      axis_kind=tuple(a.tolist() for a in axes_kind),
                      padding=spec.padding, output_padding=spec.output_padding,
                      stride=spec.stride, dilation=spec.dilation, groups=spec.groups,
                      kernel=spec.kernel, out_spatial=spec.out_spatial)


__all__ = [
    "GatherForm", "Overlap", "ScatterMap", "ScatterStep", "Stamp", "TransposedStep",
    "gather_form", "gather_weight", "overlap_counts", "scatter_map", "trace_scatter",
    "trace_transposed", "transposed_equation",
]
