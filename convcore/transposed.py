"""Transposed convolution, and the two gradients of a convolution.

A transposed convolution runs a convolution's wiring backwards: every input cell *stamps* its
value times the kernel onto the output, stamps ``stride`` cells apart, kernel taps ``dilation``
cells apart; overlapping stamps add up; ``padding`` crops that many cells off both ends of the
stamped result and ``output_padding`` adds cells at the high end.  That is the gradient of a
convolution with respect to its input, and the shape inverse of the forward layer with the same
weight: ``convnd(conv_transposend(y, w, ...), w, ...)`` has ``y``'s shape.

These are clients of the forward core: arrays are read by :func:`convcore.core.as_arrays` (one
backend, one dtype, float64 stays float64), groups are checked by
:func:`convcore.params.check_groups`, the gradients pad and fold by the padding-mode table
(:mod:`convcore.padding_modes`) and resolve their convolution with
:func:`convcore.params.make_spec`, and every call is weighed as a
:class:`~convcore.budget.MemoryEstimate` against the same budget, copies of strided (broadcast)
arrays included, before anything is allocated.

The one algorithm of their own is the scatter: one matmul gives every (input cell, tap, output
channel) product, then one strided add per kernel tap places them (:func:`scatter_add`; the
gather form — zeros inserted between input cells, then a forward convolution — multiplies the
inserted zeros too and was measured 1.4–5× slower, see ``benchmarks/RESULTS.md``).  Products
are chunked (:data:`SCATTER_CHUNK_BYTES`); input cells whose stamps all fall outside the output
(cropped by ``padding``) are never read.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .budget import MemoryEstimate, check, memory_budget
from .core import as_arrays, pad_input
from .errors import ConvError, shown
from .geometry import dilated_extent, tap_position
from .padding_modes import fold, mode_of
from .params import (
    LayerSpec,
    _axis_args,
    _plain,
    as_shape,
    check_groups,
    is_int,
    make_spec,
    ntuple,
    positive_tuple,
)

SCATTER_CHUNK_BYTES = 8 * 2**20  # bounds the products one matmul makes (the temporary)
MAX_LISTED = 2**16  # colliding_input_sizes returns a tuple: keep it a readable size
MAX_EXTENT = 2**62  # coordinates stay int64 (index maps, slices)


# --------------------------------------------------------------------------- shapes

@dataclass(frozen=True)
class TransposeSpec(LayerSpec):
    """A fully checked transposed convolution: shapes and per-axis parameters as tuples."""

    padding: tuple
    output_padding: tuple
    dilation: tuple
    out_spatial: tuple

    @property
    def full_spatial(self) -> tuple:
        """Extent of all stamps before cropping: ``(L_in − 1)·s + d·(k − 1) + 1`` per axis."""
        return tuple(_min_size(n, k, s, 0, d) for n, s, d, k in
                     zip(self.in_spatial, self.stride, self.dilation, self.kernel))

    @property
    def gather_spatial(self) -> tuple:
        """Extent of the gather form's input per axis: the zero-inserted input,
        ``(L_in − 1)·s + 1``, with :attr:`gather_pads` (``= L_out + d·(k − 1)``)."""
        return tuple(tap_position(n - 1, 0, s, 1) + 1 + lo + hi for n, s, (lo, hi) in
                     zip(self.in_spatial, self.stride, self.gather_pads))

    @property
    def gather_pads(self) -> tuple:
        """Padding of the gather form, ``(d·(k−1) − p, d·(k−1) − p + output_padding)``;
        negative means cropping."""
        return tuple((dilated_extent(k, d) - 1 - p, dilated_extent(k, d) - 1 - p + op)
                     for k, d, p, op in
                     zip(self.kernel, self.dilation, self.padding, self.output_padding))


def _min_size(n, k, s, p, d):
    """The shortest output: from the last tap of the last stamp, ``2p`` cells cropped."""
    return tap_position(n - 1, k - 1, s, d) + 1 - 2 * p


def transpose_output_size(in_size, kernel_size, stride=1, padding=0, output_padding=0,
                          dilation=1) -> int:
    r"""Length of one output axis of a transposed convolution.

    .. math::
        L_{out} = (L_{in} - 1)\,s - 2p + d\,(k - 1) + \text{output\_padding} + 1

    Args:
        in_size: ``L_in`` (>= 1).
        kernel_size: ``k`` (>= 1).
        stride: ``s`` (>= 1).
        padding: ``p`` (>= 0), cropped from both ends.
        output_padding: cells added at the high end; must be smaller than stride or dilation.
        dilation: ``d`` (>= 1).

    Raises ConvError when an argument breaks its rule or the output would be empty.

    Examples:
        >>> transpose_output_size(7, 2, stride=2, padding=2)
        10
        >>> transpose_output_size(24, 3, stride=2, output_padding=1)
        50
    """
    op = "transpose_output_size"
    in_size, _, _, k = _axis_args(op, in_size, 0, kernel_size=kernel_size)
    spec = transpose_spec(op, (1, 1, in_size), (1, 1, k), None, stride, padding,
                          output_padding, 1, dilation, None, 1)
    return spec.out_spatial[0]


def max_transpose_padding(in_size, kernel_size, stride=1, dilation=1) -> int:
    """Largest ``padding`` for which a transposed convolution still outputs a cell (padding
    crops both ends of the stamped result): ``((L_in - 1) s + d (k - 1)) // 2``.

    Examples:
        >>> max_transpose_padding(5, 3, stride=2)
        5
        >>> transpose_output_size(5, 3, stride=2, padding=5)
        1
    """
    op = "max_transpose_padding"
    in_size, _, _, k, s, d = _axis_args(op, in_size, 0, kernel_size=kernel_size, stride=stride,
                                        dilation=dilation)
    return (_min_size(in_size, k, s, 0, d) - 1) // 2


def transpose_output_shape(x_shape, weight_shape, stride=1, padding=0, output_padding=0,
                           groups=1, dilation=1, output_size=None) -> tuple:
    """Shape of ``conv_transposend(x, weight, ...)`` from shapes alone.

    Examples:
        >>> transpose_output_shape((1, 2, 7), (2, 1, 2), stride=2, padding=2)
        (1, 1, 10)
    """
    op = "transpose_output_shape"
    return transpose_spec(op, as_shape(x_shape, "x_shape", op),
                          as_shape(weight_shape, "weight_shape", op), None, stride, padding,
                          output_padding, groups, dilation, output_size, None).out_shape


def _padding_tuple(padding, n, op):
    if isinstance(padding, str):
        raise ConvError(f"{op}: padding must be an int or a tuple of {n} ints (cropped from both "
                        f"ends of each axis); a transposed convolution has no {shown(padding)} "
                        f"padding")
    p = ntuple(padding, n, "padding", op)
    if any(v < 0 for v in p):
        raise ConvError(f"{op}: padding must be >= 0 on every axis, got {shown(padding)}")
    return p


def _output_size_tuple(output_size, n, batched, op):
    lead = 2 if batched else 1
    if not isinstance(output_size, (tuple, list)) or not all(is_int(v) for v in output_size):
        raise ConvError(f"{op}: output_size must be a tuple of {n} or {n + lead} ints, got "
                        f"{shown(output_size, 80)}")
    sizes = tuple(int(v) for v in output_size)
    if len(sizes) == n + lead:
        sizes = sizes[lead:]
    if len(sizes) != n:
        raise ConvError(f"{op}: for a {n + lead}-D input, output_size must have {n} or "
                        f"{n + lead} elements, got {len(output_size)}: {shown(output_size)}")
    return sizes


def transpose_spec(op, x_shape, w_shape, bias_shape=None, stride=1, padding=0, output_padding=0,
                   groups=1, dilation=1, output_size=None, spatial_dims=None) -> TransposeSpec:
    """Check every argument of a transposed convolution and return its :class:`TransposeSpec`.

    PyTorch's rules: weight ``(C_in, C_out/groups, *kernel)``; stride, dilation >= 1; padding
    and output_padding >= 0, one int or one per axis; ``output_padding < stride`` or
    ``< dilation`` on every axis; ``output_size`` (with or without the leading N, C) within
    ``[L_min, L_min + stride − 1]`` per axis, and then it sets ``output_padding``.
    ``spatial_dims`` fixes the number of spatial axes; None takes ``len(w_shape) − 2``.
    Results are cached for plain arguments (ints, strings, tuples): checking costs more than a
    small transposed convolution.
    """
    args = (op, tuple(x_shape), tuple(w_shape),
            None if bias_shape is None else tuple(bias_shape), stride, padding, output_padding,
            groups, dilation, output_size, spatial_dims)
    if all(_plain(a) for a in args):
        return _transpose_spec_cached(*args)
    return _transpose_spec(*args)


def _transpose_spec(op, x_shape, w_shape, bias_shape, stride, padding, output_padding, groups,
                    dilation, output_size, spatial_dims) -> TransposeSpec:
    n = len(w_shape) - 2 if spatial_dims is None else spatial_dims
    if n < 1 or len(w_shape) != n + 2:
        rank = f"{n + 2}-D " if n >= 1 else ""
        raise ConvError(f"{op}: weight must be {rank}(C_in, C_out/groups, *kernel) with at least "
                        f"one kernel axis, got weight of shape {w_shape}")
    if len(x_shape) not in (n + 1, n + 2):
        raise ConvError(f"{op}: input must be {n + 2}-D (N, C_in, {n} spatial axes) or "
                        f"{n + 1}-D unbatched (C_in, {n} spatial axes), got input of shape "
                        f"{x_shape}")
    if any(v < 1 for v in w_shape):
        raise ConvError(f"{op}: every weight dimension must be >= 1, got weight of shape "
                        f"{w_shape}")
    batched = len(x_shape) == n + 2
    stride_t = positive_tuple(stride, n, "stride", op)
    dilation_t = positive_tuple(dilation, n, "dilation", op)
    pad_t = _padding_tuple(padding, n, op)
    opad_t = ntuple(output_padding, n, "output_padding", op)
    if any(v < 0 for v in opad_t):
        raise ConvError(f"{op}: output_padding must be >= 0 on every axis, got "
                        f"{shown(output_padding)}")
    c_in, og = w_shape[0], w_shape[1]
    # C_out = (C_out/groups)·groups always divides: only C_in (weight.shape[0]) may not
    check_groups(groups, c_in, og * int(groups) if is_int(groups) else og, op)
    if x_shape[-n - 1] != c_in:
        raise ConvError(f"{op}: weight of shape {w_shape} expects {c_in} input channels "
                        f"(weight.shape[0]), but the input has {x_shape[-n - 1]} channels "
                        f"(shape {x_shape})")
    groups = int(groups)
    c_out = og * groups
    if bias_shape is not None and tuple(bias_shape) != (c_out,):
        raise ConvError(f"{op}: bias must have shape ({c_out},) (one value per output channel: "
                        f"weight.shape[1]*groups = {og}*{groups}), got bias of shape "
                        f"{tuple(bias_shape)}")
    in_spatial = x_shape[-n:]
    if any(v < 1 for v in in_spatial):
        raise ConvError(f"{op}: every spatial extent of the input must be >= 1, got {x_shape}")
    kernel = w_shape[2:]
    mins = tuple(_min_size(*a) for a in zip(in_spatial, kernel, stride_t, pad_t, dilation_t))
    if output_size is not None:
        sizes = _output_size_tuple(output_size, n, batched, op)
        if any(not m <= v <= m + s - 1 for v, m, s in zip(sizes, mins, stride_t)):
            raise ConvError(
                f"{op}: output_size must lie between (L_in − 1)·stride − 2·padding + "
                f"dilation·(k − 1) + 1 and that plus stride − 1 on every axis: valid sizes "
                f"range from {list(mins)} to {[m + s - 1 for m, s in zip(mins, stride_t)]} "
                f"(for an input of {list(in_spatial)}), got output_size={list(sizes)}")
        implied = tuple(v - m for v, m in zip(sizes, mins))
        if any(opad_t) and implied != opad_t:
            raise ConvError(f"{op}: give output_padding or output_size, not both: "
                            f"output_size={list(sizes)} means output_padding={implied}, but "
                            f"output_padding={shown(output_padding)} was given")
        opad_t = implied
    for axis, (o, s, d) in enumerate(zip(opad_t, stride_t, dilation_t)):
        if o >= s and o >= d:
            raise ConvError(f"{op}: output_padding must be smaller than either stride or "
                            f"dilation on every axis, but spatial axis {axis} has "
                            f"output_padding={o}, stride={s}, dilation={d}")
    out = tuple(m + o for m, o in zip(mins, opad_t))
    for axis, (n, k, s, d, p) in enumerate(zip(in_spatial, kernel, stride_t, dilation_t, pad_t)):
        span = _min_size(n, k, s, 0, d) + p
        if span > MAX_EXTENT:
            raise ConvError(f"{op}: on spatial axis {axis} the stamps would span (L_in − 1)·"
                            f"stride + dilation·(k − 1) + 1 + padding = {span} cells, more than "
                            f"2**62; stride={s}, dilation={d}, padding={p}")
    for axis, (v, m, k, s, d, p) in enumerate(zip(out, mins, kernel, stride_t, dilation_t,
                                                  pad_t)):
        if v < 1:
            raise ConvError(
                f"{op}: on spatial axis {axis} the output would be empty: (L_in − 1)·stride − "
                f"2·padding + dilation·(k − 1) + output_padding + 1 = ({in_spatial[axis]} − 1)·"
                f"{s} − 2·{p} + {d}·({k} − 1) + {v - m} + 1 = {v}; padding={p} crops more "
                f"than the stamps cover")
    return TransposeSpec(op, batched, x_shape[0] if batched else 1, c_in, c_out, groups,
                         tuple(in_spatial), tuple(kernel), stride_t, pad_t, opad_t, dilation_t,
                         out)


_transpose_spec_cached = functools.lru_cache(maxsize=512)(_transpose_spec)


def colliding_input_sizes(out_size, kernel_size, stride=1, padding=0, dilation=1) -> tuple:
    """The input lengths a forward convolution maps to the same ``out_size``: at most ``stride``.

    The floor in ``L_out = floor((L_in + lo + hi − d·(k−1) − 1)/s) + 1`` sends ``stride``
    consecutive input lengths to one output length, so the transposed convolution cannot know
    which of them to give back: ``output_padding`` picks one.  With symmetric ``padding`` p,
    ``conv_transposend(..., output_padding=L − L_min)`` returns length ``L``, where ``L_min`` is
    the first of these (``(out_size − 1)·s + d·(k−1) + 1 − 2p``).

    Args:
        out_size: the forward convolution's output length (>= 1).
        kernel_size, stride, dilation: as for the forward convolution.
        padding: an int (both sides) or a ``(low, high)`` pair.

    Returns the lengths in increasing order (those >= 1).

    Examples:
        >>> colliding_input_sizes(7, 2, stride=2, padding=2)
        (10, 11)
        >>> colliding_input_sizes(24, 3, stride=2)
        (49, 50)
    """
    op = "colliding_input_sizes"
    out_size, lo, hi, k, s, d = _axis_args(op, out_size, padding, "out_size",
                                           kernel_size=kernel_size, stride=stride,
                                           dilation=dilation)
    first = tap_position(out_size - 1, k - 1, s, d) + 1 - lo - hi
    low = max(first, 1)
    if first + s - low > MAX_LISTED:
        raise ConvError(f"{op}: stride={s} makes {first + s - low} input lengths collide, more "
                        f"than the {MAX_LISTED} this function lists")
    sizes = tuple(range(low, first + s))
    if not sizes:
        raise ConvError(
            f"{op}: no input length gives out_size={out_size}: with padding ({lo}, {hi}) even "
            f"a 1-cell input gives {(lo + hi + 1 - dilated_extent(k, d)) // s + 1} outputs")
    return sizes


# --------------------------------------------------------------------------- the scatter

def _ceil_div(a, b):
    return -(-a // b)


def tap_slices(tap, stride, dilation, crop, in_spatial, out_spatial):
    """Where one kernel tap's stamps land: ``(source, target)`` slices, or None when none do.

    Input cell ``i`` stamps tap ``t`` onto output ``i·s + t·d − crop``; stamps outside the
    output are dropped.
    """
    src, dst = [], []
    for t, s, d, c, n_in, n_out in zip(tap, stride, dilation, crop, in_spatial, out_spatial):
        off = tap_position(0, t, s, d) - c  # where input cell 0 stamps this tap
        i0 = max(0, _ceil_div(-off, s))
        i1 = min(n_in - 1, (n_out - 1 - off) // s)
        if i1 < i0:
            return None
        src.append(slice(i0, i1 + 1))
        dst.append(slice(tap_position(i0, t, s, d) - c, tap_position(i1, t, s, d) - c + 1, s))
    return tuple(src), tuple(dst)


@functools.lru_cache(maxsize=512)
def scatter_plan(kernel, stride, dilation, crop, in_spatial, out_spatial) -> tuple:
    """``(tap number, source, target)`` for every kernel tap whose stamps land (cached: pure
    arithmetic that runs on every call)."""
    plan = []
    for j, tap in enumerate(np.ndindex(*kernel)):
        where = tap_slices(tap, stride, dilation, crop, in_spatial, out_spatial)
        if where is not None:
            plan.append((j, *where))
    return tuple(plan)


@functools.lru_cache(maxsize=512)
def stamped_region(kernel, stride, dilation, crop, in_spatial, out_spatial) -> tuple:
    """Per axis, the ``slice`` of input cells some of whose stamps land in the output, and the
    crop that remains once the input starts at that slice's first cell.

    Cell ``i`` stamps ``i·s + t·d − crop`` for ``0 <= t < k``: it lands when that reaches
    ``0..L_out−1`` for some tap.  A cell whose stamps are all cropped is never read — nor
    copied, however large (a broadcast) the input is.
    """
    region, crops = [], []
    for k, s, d, c, n_in, n_out in zip(kernel, stride, dilation, crop, in_spatial, out_spatial):
        i0 = max(0, _ceil_div(c - tap_position(0, k - 1, s, d), s))  # last tap reaches 0
        i1 = max(i0, min(n_in, (n_out - 1 + c) // s + 1))  # first tap within the output
        region.append(slice(i0, i1))
        crops.append(c - tap_position(i0, 0, s, d))
    return tuple(region), tuple(crops)


def chunking(n_batch, groups, out_per_group, positions, n_taps, itemsize,
             chunk_bytes) -> tuple[int, int]:
    """(taps, batch items) per matmul of :func:`scatter_add`: products of about
    ``chunk_bytes``, at least one tap of one item."""
    tap_bytes = groups * out_per_group * positions * itemsize  # one tap of one batch item
    per_chunk = max(1, chunk_bytes // max(tap_bytes, 1))
    tap_step = min(n_taps, per_chunk)
    item_step = max(1, per_chunk // n_taps) if tap_step == n_taps else 1
    return tap_step, min(item_step, max(n_batch, 1))


def scatter_bytes(n_batch, in_channels, groups, out_per_group, in_spatial, kernel, itemsize,
                  chunk_bytes=None) -> int:
    """Bytes :func:`scatter_add` allocates: one chunk of products and its items' inputs laid
    out as matrix columns."""
    chunk_bytes = SCATTER_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    if n_batch == 0:
        return 0
    positions = math.prod(in_spatial)
    taps, items = chunking(n_batch, groups, out_per_group, positions, math.prod(kernel),
                           itemsize, chunk_bytes)
    return (groups * taps * out_per_group + in_channels) * items * positions * itemsize


def scatter_add(xp, out, y, weight, groups, stride, dilation, crop, chunk_bytes=None):
    """Add the stamps of every cell of ``y`` into ``out`` (in place).

    ``y`` is ``(N, C_in, *in_spatial)``, ``weight`` ``(C_in, C_out/groups, *kernel)`` and
    ``out`` ``(N, C_out, *out_spatial)``: input cell ``i`` adds ``y[i]·weight[..., t]`` at
    ``i·stride + t·dilation − crop`` for every tap ``t``.  Products are made in chunks of
    taps and batch items of at most ``chunk_bytes`` (default :data:`SCATTER_CHUNK_BYTES`);
    :func:`scatter_bytes` is what that allocates.
    """
    chunk_bytes = SCATTER_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
    n_batch, c_in = y.shape[:2]
    in_sp, kernel, out_sp = tuple(y.shape[2:]), weight.shape[2:], tuple(out.shape[2:])
    g, cg, og = groups, c_in // groups, weight.shape[1]
    n_taps = math.prod(kernel)
    plan = scatter_plan(tuple(kernel), tuple(stride), tuple(dilation), tuple(crop), in_sp, out_sp)
    positions = math.prod(in_sp)
    spatial_axes = tuple(range(3, 3 + len(in_sp)))
    # wmat[g, tap*og + o, ci]: one matmul per chunk gives all (tap, out channel) products, with
    # the batch items side by side in the columns (one large GEMM per group, not one per item).
    wmat = weight.reshape(g, cg, og, n_taps).transpose(0, 3, 2, 1).reshape(g, -1, cg)
    outg = out.reshape((n_batch, g, og) + out_sp)
    tap_step, item_step = chunking(n_batch, g, og, positions, n_taps, y.dtype.itemsize,
                                   chunk_bytes)
    for n0 in range(0, n_batch, item_step):
        n1 = min(n_batch, n0 + item_step)
        ymat = y[n0:n1].reshape(n1 - n0, g, cg, positions).transpose(1, 2, 0, 3)
        ymat = ymat.reshape(g, cg, (n1 - n0) * positions)
        target = outg[n0:n1].transpose((1, 2, 0) + spatial_axes)  # (g, og, items, *out)
        for k0 in range(0, n_taps, tap_step):
            k1 = min(n_taps, k0 + tap_step)
            w_chunk = wmat[:, k0 * og:k1 * og]
            # one input channel per group: an outer product, which matmul does 3x slower
            cols = xp.matmul(w_chunk, ymat) if cg > 1 else w_chunk * ymat
            cols = cols.reshape((g, k1 - k0, og, n1 - n0) + in_sp)
            for j, src, dst in plan:
                if k0 <= j < k1:
                    target[(slice(None),) * 3 + dst] += cols[(slice(None), j - k0)
                                                             + (slice(None),) * 2 + src]


def work_dtype(dtype):
    """The dtype a call computes in: float16 accumulates in float32, as in the forward core."""
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def copied_bytes(a, work) -> int:
    """Bytes of a C-contiguous ``work``-dtype copy of ``a``, 0 when ``a`` already is one."""
    if a is None or (a.dtype == work and a.flags.c_contiguous):
        return 0
    return a.size * work.itemsize


# --------------------------------------------------------------------------- transposed conv

@functools.lru_cache(maxsize=512)
def _plan(spec: TransposeSpec, itemsize: int, chunk_bytes: int) -> tuple:
    """(region of the input read or None for all of it, crop from there, cells read, scatter
    workspace bytes, output elements) of a transposed convolution: arithmetic on shapes, cached.
    """
    region, crop = stamped_region(spec.kernel, spec.stride, spec.dilation, spec.padding,
                                  spec.in_spatial, spec.out_spatial)
    in_sp = tuple(r.stop - r.start for r in region)
    workspace = scatter_bytes(spec.batch, spec.in_channels, spec.groups, spec.out_per_group,
                              in_sp, spec.kernel, itemsize, chunk_bytes)
    whole = in_sp == spec.in_spatial
    return (None if whole else (slice(None), slice(None)) + region, crop,
            spec.batch * spec.in_channels * math.prod(in_sp), workspace,
            spec.batch * spec.out_channels * math.prod(spec.out_spatial))


def _transpose(op, x, weight, bias, stride, padding, output_padding, groups, dilation,
               output_size, spatial_dims, max_bytes):
    xp, x, weight, bias = as_arrays(op, input=x, weight=weight, bias=bias)
    spec = transpose_spec(op, x.shape, weight.shape, None if bias is None else bias.shape,
                          stride, padding, output_padding, groups, dilation, output_size,
                          spatial_dims)
    budget = memory_budget(max_bytes, op)
    work = work_dtype(x.dtype)
    region, crop, cells, workspace, outputs = _plan(spec, work.itemsize, SCATTER_CHUNK_BYTES)
    xb = x if spec.batched else x[None]
    if region is not None:
        xb = xb[region]  # only the cells whose stamps land
    output = outputs * (work.itemsize + (x.dtype.itemsize if work != x.dtype else 0))
    copies = copied_bytes(xb, work) + copied_bytes(weight, work) + copied_bytes(bias, work)
    if copies + workspace + output > budget:
        check(op, MemoryEstimate("scatter", copies, 0, workspace, output), budget)
    out = xp.zeros((spec.batch, spec.out_channels) + spec.out_spatial, dtype=work)
    if cells:
        scatter_add(xp, out, xp.ascontiguousarray(xb.astype(work, copy=False)),
                    weight.astype(work, copy=False), spec.groups, spec.stride, spec.dilation,
                    crop, SCATTER_CHUNK_BYTES)
    if bias is not None:
        out += bias.astype(work, copy=False).reshape((1, -1) + (1,) * spec.ndim)
    if not spec.batched:
        out = out[0]
    return out.astype(x.dtype, copy=False)


_DOC = """{n}-D transposed convolution of ``x`` with ``weight``, as PyTorch's
    ``conv_transpose{torch}``: the gradient of ``conv{torch}`` with respect to its input.

    Every input cell stamps its value times the kernel onto the output, ``stride`` cells apart;
    overlapping stamps add up.  ``padding`` crops that many cells off both ends of every axis,
    ``output_padding`` adds cells at the high end (it picks one of the ``stride`` input sizes
    the forward convolution maps to the same output size, see :func:`colliding_input_sizes`).

    Args:
        x: input {xshape}, or unbatched (the batch axis left out; the result is unbatched too).
        weight: {wshape}.
        bias: ``(C_out,)`` or None.
        stride: int or one int per spatial axis (>= 1).
        padding: int or one int per spatial axis (>= 0).
        output_padding: int or one int per axis, smaller than stride or dilation on each axis.
        groups: split input and output channels into this many independent convolutions.
        dilation: int or one int per spatial axis (>= 1).
        output_size: the spatial output size wanted (with or without the leading N, C);
            sets ``output_padding``; must lie in ``[L_min, L_min + stride − 1]`` per axis.
        max_bytes: memory budget of the call (default :func:`memory_budget`).

    Shape:
        per spatial axis ``L_out = (L_in − 1)·stride − 2·padding + dilation·(k − 1)
        + output_padding + 1``.

    Returns an array on the input's device with the input's dtype (float16 accumulates in
    float32).  Raises ConvError on any invalid argument, naming the parameter.
{example}"""


def conv_transposend(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, output_size=None, *, max_bytes=None):
    return _transpose("conv_transposend", x, weight, bias, stride, padding, output_padding,
                      groups, dilation, output_size, None, max_bytes)


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, output_size=None, *, max_bytes=None):
    return _transpose("conv_transpose1d", x, weight, bias, stride, padding, output_padding,
                      groups, dilation, output_size, 1, max_bytes)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, output_size=None, *, max_bytes=None):
    return _transpose("conv_transpose2d", x, weight, bias, stride, padding, output_padding,
                      groups, dilation, output_size, 2, max_bytes)


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, output_size=None, *, max_bytes=None):
    return _transpose("conv_transpose3d", x, weight, bias, stride, padding, output_padding,
                      groups, dilation, output_size, 3, max_bytes)


conv_transposend.__doc__ = _DOC.format(
    n="N", torch="{1,2,3}d", xshape="``(N, C_in, *spatial)``",
    wshape="``(C_in, C_out/groups, *kernel)``; the number of spatial axes is "
    "``weight.ndim - 2``", example="")
conv_transpose1d.__doc__ = _DOC.format(
    n="1", torch="1d", xshape="``(N, C_in, L)``", wshape="``(C_in, C_out/groups, k)``",
    example="""
    Examples:
        >>> import numpy as np, convcore as cc
        >>> y = np.array([[[1., 10., 100.]]])
        >>> cc.conv_transpose1d(y, np.array([[[1., 2., 3.]]]), stride=2)
        array([[[  1.,   2.,  13.,  20., 130., 200., 300.]]])
        >>> cc.conv_transpose1d(y, np.array([[[1., 2., 3.]]]), stride=2, padding=1,
        ...                     output_padding=1)
        array([[[  2.,  13.,  20., 130., 200., 300.]]])
""")
conv_transpose2d.__doc__ = _DOC.format(
    n="2", torch="2d", xshape="``(N, C_in, H, W)``", wshape="``(C_in, C_out/groups, kH, kW)``",
    example="""
    Examples:
        >>> import numpy as np, convcore as cc
        >>> cc.conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), stride=2)[0, 0]
        array([[1., 1., 2., 1., 1.],
               [1., 1., 2., 1., 1.],
               [2., 2., 4., 2., 2.],
               [1., 1., 2., 1., 1.],
               [1., 1., 2., 1., 1.]])
""")
conv_transpose3d.__doc__ = _DOC.format(
    n="3", torch="3d", xshape="``(N, C_in, D, H, W)``",
    wshape="``(C_in, C_out/groups, kD, kH, kW)``", example="")


# --------------------------------------------------------------------------- gradients

def _grad_spec(op, x_shape, weight_shape, grad_output, stride, padding, dilation, groups,
               padding_mode):
    """The forward convolution's spec (checked by :func:`convcore.params.make_spec`), and
    ``grad_output`` must have its output shape."""
    mode_of(padding_mode, op)
    if len(weight_shape) < 3:
        raise ConvError(f"{op}: weight must have shape (C_out, C_in/groups, *kernel) with at "
                        f"least one kernel axis, got weight of shape {weight_shape}")
    spec = make_spec(op, x_shape, weight_shape, None, stride, padding, dilation, groups,
                     padding_mode, len(weight_shape) - 2)
    if tuple(grad_output.shape) != spec.out_shape:
        raise ConvError(f"{op}: grad_output must have the convolution's output shape "
                        f"{spec.out_shape}, got grad_output of shape {tuple(grad_output.shape)}")
    return spec


def _padded(spec) -> bool:
    return any(lo or hi for lo, hi in spec.pads)


def conv_grad_input(input_shape, weight, grad_output, stride=1, padding=0, dilation=1, groups=1,
                    padding_mode="zeros", *, max_bytes=None):
    """Gradient of ``convnd(x, weight, ...)`` with respect to ``x``, as
    ``torch.nn.grad.conv{1,2,3}d_input`` (and autograd, for every padding mode).

    It is the transposed convolution of ``grad_output`` into the padded input, then the padded
    border folded back: a padding cell's gradient goes to the input cell it copies (reflect,
    replicate, circular) or nowhere (zeros).

    Args:
        input_shape: shape of ``x``, ``(N, C_in, *spatial)`` or unbatched ``(C_in, *spatial)``.
        weight: ``(C_out, C_in/groups, *kernel)``.
        grad_output: the gradient of the output, shaped like ``convnd(x, weight, ...)``.
        stride, padding, dilation, groups, padding_mode: as for :func:`convcore.convnd`
            (every padding form).
        max_bytes: memory budget of the call (default :func:`memory_budget`).

    Returns an array of ``input_shape`` with ``grad_output``'s dtype.

    Examples:
        >>> import numpy as np, convcore as cc
        >>> cc.conv_grad_input((1, 1, 5), np.array([[[1., 2., 3.]]]), np.ones((1, 1, 2)),
        ...                    stride=2)
        array([[[1., 2., 4., 2., 3.]]])
    """
    op = "conv_grad_input"
    xp, weight, grad_output = as_arrays(op, weight=weight, grad_output=grad_output)
    input_shape = as_shape(input_shape, "input_shape", op)
    spec = _grad_spec(op, input_shape, tuple(weight.shape), grad_output, stride, padding,
                      dilation, groups, padding_mode)
    work = work_dtype(grad_output.dtype)
    channels = spec.batch * spec.in_channels
    padded = channels * math.prod(spec.padded_spatial) * work.itemsize
    inputs = channels * math.prod(spec.in_spatial)
    folded_axes = sum(1 for lo, hi in spec.pads if lo or hi)  # each fold copies what is left
    check(op, MemoryEstimate(
        "scatter", copied_bytes(grad_output, work) + copied_bytes(weight, work),
        padded if folded_axes else 0,
        scatter_bytes(spec.batch, spec.out_channels, spec.groups, spec.in_per_group,
                      spec.out_spatial, spec.kernel, work.itemsize, SCATTER_CHUNK_BYTES)
        + (padded if folded_axes > 1 else 0),
        inputs * (work.itemsize + (grad_output.itemsize if work != grad_output.dtype else 0)),
        padded_name="padded input gradient"), memory_budget(max_bytes, op))
    gpad = xp.zeros((spec.batch, spec.in_channels) + spec.padded_spatial, dtype=work)
    if spec.batch:
        gb = grad_output if spec.batched else grad_output[None]
        scatter_add(xp, gpad, xp.ascontiguousarray(gb.astype(work, copy=False)),
                    weight.astype(work, copy=False), spec.groups, spec.stride, spec.dilation,
                    (0,) * spec.ndim, SCATTER_CHUNK_BYTES)
    gx = fold(xp, gpad, spec.in_spatial, spec.pads, spec.padding_mode)
    if not spec.batched:
        gx = gx[0]
    return gx.astype(grad_output.dtype, copy=False)


def conv_grad_weight(x, weight_shape, grad_output, stride=1, padding=0, dilation=1, groups=1,
                     padding_mode="zeros", *, max_bytes=None):
    """Gradient of ``convnd(x, weight, ...)`` with respect to ``weight``, as
    ``torch.nn.grad.conv{1,2,3}d_weight`` (and autograd, for every padding mode).

    ``grad_w[o, c, t] = Σ_{n, pos} grad_output[n, o, pos] · x_padded[n, c, pos·stride +
    t·dilation]``: for each kernel tap, one matrix product of ``grad_output`` with the input
    cells that tap read (a forward correlation of the padded input with ``grad_output`` as the
    kernel, one per group).

    Args:
        x: the convolution's input, ``(N, C_in, *spatial)`` or unbatched.
        weight_shape: ``(C_out, C_in/groups, *kernel)``.
        grad_output: the gradient of the output, shaped like ``convnd(x, weight, ...)``.
        stride, padding, dilation, groups, padding_mode: as for :func:`convcore.convnd`.
        max_bytes: memory budget of the call (default :func:`memory_budget`).

    Returns an array of ``weight_shape`` with ``x``'s dtype.

    Examples:
        >>> import numpy as np, convcore as cc
        >>> x = np.array([[[1., 2., 3., 4., 5.]]])
        >>> cc.conv_grad_weight(x, (1, 1, 2), np.ones((1, 1, 2)), stride=2)
        array([[[4., 6.]]])
    """
    op = "conv_grad_weight"
    xp, x, grad_output = as_arrays(op, input=x, grad_output=grad_output)
    weight_shape = as_shape(weight_shape, "weight_shape", op)
    spec = _grad_spec(op, tuple(x.shape), weight_shape, grad_output, stride, padding, dilation,
                      groups, padding_mode)
    work = work_dtype(x.dtype)
    half = work != x.dtype
    n, g, cg, og = spec.batch, spec.groups, spec.in_per_group, spec.out_per_group
    positions = math.prod(spec.out_spatial)
    weights = math.prod(weight_shape)
    # float32 copies of float16 arrays; grad_output as (g, og, N·positions) matrices
    copies = (x.size * work.itemsize if half else 0) + grad_output.size * work.itemsize * (
        2 if half else 1)
    check(op, MemoryEstimate(
        "per-tap", copies if n else 0,
        n * spec.in_channels * math.prod(spec.padded_spatial) * work.itemsize
        if _padded(spec) else 0,
        2 * n * spec.in_channels * positions * work.itemsize,  # one tap's cells, as columns
        weights * (work.itemsize + (x.itemsize if half else 0))), memory_budget(max_bytes, op))
    if n == 0:
        return xp.zeros(weight_shape, dtype=x.dtype)
    xb = (x if spec.batched else x[None]).astype(work, copy=False)
    gb = (grad_output if spec.batched else grad_output[None]).astype(work, copy=False)
    xpad = pad_input(xp, xb, spec.pads, spec.padding_mode)  # xb itself when unpadded
    # (N, C_out, *out) -> (g, og, N·positions): every output cell's gradient, items side by side
    gmat = gb.reshape(n, g, og, positions).transpose(1, 2, 0, 3).reshape(g, og, n * positions)
    taps = list(np.ndindex(*spec.kernel))
    gw = xp.empty((g, og, cg, len(taps)), dtype=work)
    for j, tap in enumerate(taps):
        window = tuple(slice(tap_position(0, t, s, d), tap_position(m - 1, t, s, d) + 1, s)
                       for t, d, s, m in zip(tap, spec.dilation, spec.stride, spec.out_spatial))
        cells = xpad[(slice(None), slice(None)) + window]  # the cells tap t read: (N, C_in, *out)
        cells = cells.reshape(n, g, cg, positions).transpose(1, 2, 0, 3)
        cells = cells.reshape(g, cg, n * positions)
        gw[..., j] = xp.matmul(gmat, cells.swapaxes(1, 2))
    return gw.reshape(weight_shape).astype(x.dtype, copy=False)


__all__ = [
    "SCATTER_CHUNK_BYTES", "TransposeSpec", "colliding_input_sizes", "conv_grad_input",
    "conv_grad_weight", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "conv_transposend", "max_transpose_padding", "memory_budget", "transpose_output_shape",
    "transpose_output_size", "transpose_spec",
]
