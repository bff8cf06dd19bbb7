"""Transposed convolution, and the two gradients of a convolution.

A transposed convolution runs a convolution's wiring backwards: every input cell *stamps* its
value times the kernel onto the output, stamps ``stride`` cells apart, kernel taps ``dilation``
cells apart; overlapping stamps add up; ``padding`` crops that many cells off both ends of the
stamped result and ``output_padding`` adds cells at the high end.  That is the gradient of a
convolution with respect to its input, and the shape inverse of the forward layer with the same
weight: ``convnd(conv_transposend(y, w, ...), w, ...)`` has ``y``'s shape.

The stamps are computed as the scatter form reads: one matmul gives every (input cell, tap,
output channel) product, then one strided add per kernel tap places them.  The products are
chunked (:data:`SCATTER_CHUNK_BYTES`), and every allocation is checked against a memory budget
(:func:`memory_budget`) from shapes alone, before anything is allocated.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .backend import array_module
from .budget import memory_budget
from .errors import ConvError
from .params import PADDING_MODES, check_dtype, is_int, make_spec, ntuple, positive_tuple

SCATTER_CHUNK_BYTES = 8 * 2**20  # bounds the products one matmul makes (the temporary)
MAX_LISTED = 2**16  # colliding_input_sizes returns a tuple: keep it a readable size
MAX_EXTENT = 2**62  # coordinates stay int64 (index maps, slices)


# --------------------------------------------------------------------------- budgets, arrays

def check_budget(op: str, what: str, shape, itemsize: int, budget: int) -> None:
    """Raise ConvError when an array of ``shape`` would take more than ``budget`` bytes."""
    need = math.prod(shape) * itemsize
    if need > budget:
        raise ConvError(
            f"{op}: the {what} would have shape {tuple(shape)}, {need / 2**30:.3g} GiB, more "
            f"than the memory budget of {budget / 2**30:.3g} GiB (max_bytes={budget}); use "
            f"smaller inputs, strides or kernels, or raise max_bytes / CONVCORE_MAX_BYTES"
        )


def float_arrays(op: str, **arrays):
    """``(xp, arrays...)``: each argument as a floating array, all on one backend and dtype.

    Nested lists and other array-likes become float32 (the default dtype), as in the forward
    core; ``bias`` may be None.
    """
    xp = array_module(*arrays.values())
    out = []
    for name, a in arrays.items():
        if a is None and name != "bias":
            raise ConvError(f"{op}: {name} must be an array of numbers, got None")
        if a is not None and not isinstance(a, xp.ndarray):
            try:
                a = xp.asarray(a, dtype=np.float32)
            except Exception as exc:  # any failure to read numbers means: not an array
                raise ConvError(f"{op}: {name} must be an array of numbers, "
                                f"got {a!r:.80}") from exc
        if a is not None:
            check_dtype(name, a.dtype, op)
        out.append(a)
    first, first_name = next((a, n) for a, n in zip(out, arrays) if a is not None)
    for name, a in zip(arrays, out):
        if a is not None and a.dtype != first.dtype:
            raise ConvError(f"{op}: {first_name} and {name} must have the same dtype, got "
                            f"{first_name} {first.dtype} and {name} {a.dtype}")
    return (xp, *out)


def shape_tuple(op: str, name: str, shape) -> tuple:
    """A user-given shape as a tuple of ints >= 0."""
    if isinstance(shape, (tuple, list)) and all(is_int(v) and v >= 0 for v in shape):
        return tuple(int(v) for v in shape)
    raise ConvError(f"{op}: {name} must be a tuple of ints >= 0 (a shape), got {shape!r:.80}")


# --------------------------------------------------------------------------- shapes

@dataclass(frozen=True)
class TransposeSpec:
    """A fully checked transposed convolution: shapes and per-axis parameters as tuples."""

    op: str
    batched: bool
    batch: int
    in_channels: int
    out_channels: int
    groups: int
    in_spatial: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    output_padding: tuple
    dilation: tuple
    out_spatial: tuple

    @property
    def ndim(self) -> int:
        return len(self.kernel)

    @property
    def in_per_group(self) -> int:
        return self.in_channels // self.groups

    @property
    def out_per_group(self) -> int:
        return self.out_channels // self.groups

    @property
    def out_shape(self) -> tuple:
        lead = (self.batch, self.out_channels) if self.batched else (self.out_channels,)
        return lead + self.out_spatial

    @property
    def full_spatial(self) -> tuple:
        """Extent of all stamps before cropping: ``(L_in − 1)·s + d·(k − 1) + 1`` per axis."""
        return tuple((n - 1) * s + d * (k - 1) + 1 for n, s, d, k in
                     zip(self.in_spatial, self.stride, self.dilation, self.kernel))

    @property
    def gather_pads(self) -> tuple:
        """Padding of the gather form, ``(d·(k−1) − p, d·(k−1) − p + output_padding)``;
        negative means cropping."""
        return tuple((d * (k - 1) - p, d * (k - 1) - p + op) for k, d, p, op in
                     zip(self.kernel, self.dilation, self.padding, self.output_padding))


def _min_size(n, k, s, p, d):
    return (n - 1) * s - 2 * p + d * (k - 1) + 1


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
    if not is_int(in_size) or in_size < 1:
        raise ConvError(f"{op}: in_size must be an int >= 1, got {in_size!r}")
    (k,) = positive_tuple(kernel_size, 1, "kernel_size", op)
    spec = transpose_spec(op, (1, 1, in_size), (1, 1, k), None, stride, padding, output_padding,
                          1, dilation, None, 1)
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
    if not is_int(in_size) or in_size < 1:
        raise ConvError(f"{op}: in_size must be an int >= 1, got {in_size!r}")
    (k,) = positive_tuple(kernel_size, 1, "kernel_size", op)
    (s,) = positive_tuple(stride, 1, "stride", op)
    (d,) = positive_tuple(dilation, 1, "dilation", op)
    return (_min_size(in_size, k, s, 0, d) - 1) // 2


def transpose_output_shape(x_shape, weight_shape, stride=1, padding=0, output_padding=0,
                           groups=1, dilation=1, output_size=None) -> tuple:
    """Shape of ``conv_transposend(x, weight, ...)`` from shapes alone.

    Examples:
        >>> transpose_output_shape((1, 2, 7), (2, 1, 2), stride=2, padding=2)
        (1, 1, 10)
    """
    op = "transpose_output_shape"
    return transpose_spec(op, shape_tuple(op, "x_shape", x_shape),
                          shape_tuple(op, "weight_shape", weight_shape), None, stride, padding,
                          output_padding, groups, dilation, output_size, None).out_shape


def _padding_tuple(padding, n, op):
    if isinstance(padding, str):
        raise ConvError(f"{op}: padding must be an int or a tuple of {n} ints (cropped from both "
                        f"ends of each axis); a transposed convolution has no {padding!r} "
                        f"padding")
    p = ntuple(padding, n, "padding", op)
    if any(v < 0 for v in p):
        raise ConvError(f"{op}: padding must be >= 0 on every axis, got {padding!r}")
    return p


def _output_size_tuple(output_size, n, batched, op):
    lead = 2 if batched else 1
    if not isinstance(output_size, (tuple, list)) or not all(is_int(v) for v in output_size):
        raise ConvError(f"{op}: output_size must be a tuple of {n} or {n + lead} ints, got "
                        f"{output_size!r:.80}")
    sizes = tuple(int(v) for v in output_size)
    if len(sizes) == n + lead:
        sizes = sizes[lead:]
    if len(sizes) != n:
        raise ConvError(f"{op}: for a {n + lead}-D input, output_size must have {n} or "
                        f"{n + lead} elements, got {len(output_size)}: {output_size!r}")
    return sizes


def _plain(v) -> bool:
    """True for values made only of exact ints, strings, None and tuples of those."""
    t = type(v)
    if t is int or t is str or v is None:
        return True
    return t is tuple and all(_plain(e) for e in v)


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
                        f"{output_padding!r}")
    if not is_int(groups) or groups < 1:
        raise ConvError(f"{op}: groups must be a positive integer, got {groups!r}")
    c_in, og = w_shape[0], w_shape[1]
    if c_in % groups:
        raise ConvError(f"{op}: in_channels must be divisible by groups, but weight.shape[0] = "
                        f"{c_in} input channels do not divide into groups={groups}")
    if x_shape[-n - 1] != c_in:
        raise ConvError(f"{op}: weight of shape {w_shape} expects {c_in} input channels "
                        f"(weight.shape[0]), but the input has {x_shape[-n - 1]} channels "
                        f"(shape {x_shape})")
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
                            f"output_padding={output_padding!r} was given")
        opad_t = implied
    for axis, (o, s, d) in enumerate(zip(opad_t, stride_t, dilation_t)):
        if o >= s and o >= d:
            raise ConvError(f"{op}: output_padding must be smaller than either stride or "
                            f"dilation on every axis, but spatial axis {axis} has "
                            f"output_padding={o}, stride={s}, dilation={d}")
    out = tuple(m + o for m, o in zip(mins, opad_t))
    for axis, (n, k, s, d, p) in enumerate(zip(in_spatial, kernel, stride_t, dilation_t, pad_t)):
        span = (n - 1) * s + d * (k - 1) + 1 + p
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
    if not is_int(out_size) or out_size < 1:
        raise ConvError(f"{op}: out_size must be an int >= 1, got {out_size!r}")
    (k,) = positive_tuple(kernel_size, 1, "kernel_size", op)
    (s,) = positive_tuple(stride, 1, "stride", op)
    (d,) = positive_tuple(dilation, 1, "dilation", op)
    if is_int(padding):
        lo = hi = int(padding)
    elif (isinstance(padding, (tuple, list)) and len(padding) == 2
          and all(is_int(v) for v in padding)):
        lo, hi = (int(v) for v in padding)
    else:
        raise ConvError(f"{op}: padding must be an int or a (low, high) pair, got {padding!r}")
    if lo < 0 or hi < 0:
        raise ConvError(f"{op}: padding must be >= 0 on every side, got {padding!r}")
    first = (out_size - 1) * s + d * (k - 1) + 1 - lo - hi
    low = max(first, 1)
    if first + s - low > MAX_LISTED:
        raise ConvError(f"{op}: stride={s} makes {first + s - low} input lengths collide, more "
                        f"than the {MAX_LISTED} this function lists")
    sizes = tuple(range(low, first + s))
    if not sizes:
        raise ConvError(
            f"{op}: no input length gives out_size={out_size}: with padding ({lo}, {hi}) even "
            f"a 1-cell input gives {(1 + lo + hi - d * (k - 1) - 1) // s + 1} outputs")
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
        off = t * d - c
        i0 = max(0, _ceil_div(-off, s))
        i1 = min(n_in - 1, (n_out - 1 - off) // s)
        if i1 < i0:
            return None
        src.append(slice(i0, i1 + 1))
        dst.append(slice(i0 * s + off, i1 * s + off + 1, s))
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


def scatter_add(xp, out, y, weight, groups, stride, dilation, crop, chunk_bytes=None):
    """Add the stamps of every cell of ``y`` into ``out`` (in place).

    ``y`` is ``(N, C_in, *in_spatial)``, ``weight`` ``(C_in, C_out/groups, *kernel)`` and
    ``out`` ``(N, C_out, *out_spatial)``: input cell ``i`` adds ``y[i]·weight[..., t]`` at
    ``i·stride + t·dilation − crop`` for every tap ``t``.  Products are made in chunks of
    taps and batch items of at most ``chunk_bytes`` (default :data:`SCATTER_CHUNK_BYTES`).
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
    tap_bytes = g * og * positions * y.dtype.itemsize  # one tap of one batch item
    per_chunk = max(1, chunk_bytes // max(tap_bytes, 1))
    tap_step = min(n_taps, per_chunk)
    item_step = max(1, per_chunk // n_taps) if tap_step == n_taps else 1
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


# --------------------------------------------------------------------------- transposed conv

def _transpose(op, x, weight, bias, stride, padding, output_padding, groups, dilation,
               output_size, spatial_dims, max_bytes):
    xp, x, weight, bias = float_arrays(op, input=x, weight=weight, bias=bias)
    spec = transpose_spec(op, x.shape, weight.shape, None if bias is None else bias.shape,
                          stride, padding, output_padding, groups, dilation, output_size,
                          spatial_dims)
    budget = memory_budget(max_bytes, op)
    out_dtype = x.dtype
    work = np.dtype(np.float32) if out_dtype == np.float16 else out_dtype
    out_b = (spec.batch, spec.out_channels) + spec.out_spatial
    check_budget(op, "output", out_b, work.itemsize, budget)
    xb = (x if spec.batched else x[None]).astype(work, copy=False)
    out = xp.zeros(out_b, dtype=work)
    if spec.batch:
        scatter_add(xp, out, xp.ascontiguousarray(xb), weight.astype(work, copy=False),
                    spec.groups, spec.stride, spec.dilation, spec.padding)
    if bias is not None:
        out += bias.astype(work).reshape((1, -1) + (1,) * spec.ndim)
    if not spec.batched:
        out = out[0]
    return out.astype(out_dtype, copy=False)


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

def pad_spatial(xp, x, pads, mode):
    """Pad the spatial axes of ``(N, C, *spatial)`` by ``(low, high)`` pairs in ``mode``."""
    if not any(lo or hi for lo, hi in pads):
        return xp.ascontiguousarray(x)
    if mode == "zeros":
        shape = x.shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads))
        out = xp.zeros(shape, dtype=x.dtype)
        out[(slice(None),) * 2 + tuple(slice(lo, lo + n) for n, (lo, _) in
                                       zip(x.shape[2:], pads))] = x
        return out
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[mode]
    return xp.ascontiguousarray(xp.pad(x, ((0, 0), (0, 0)) + tuple(pads), mode=np_mode))


def along(ndim: int, axis: int, start, stop) -> tuple:
    """An index selecting ``start:stop`` on ``axis`` of an ``ndim``-D array, everything else."""
    return (slice(None),) * axis + (slice(start, stop),) + (slice(None),) * (ndim - axis - 1)


def fold_padding(xp, g, in_spatial, pads, mode):
    """The gradient of :func:`pad_spatial`: crop the border, adding each padding cell's
    gradient onto the input cell it copied (nothing for zero padding)."""
    for axis, (n, (lo, hi)) in enumerate(zip(in_spatial, pads)):
        ax, nd = 2 + axis, g.ndim
        low, high = g[along(nd, ax, 0, lo)], g[along(nd, ax, lo + n, lo + n + hi)]
        inner = g[along(nd, ax, lo, lo + n)].copy()
        if mode == "replicate":
            inner[along(nd, ax, 0, 1)] += low.sum(axis=ax, keepdims=True)
            inner[along(nd, ax, n - 1, n)] += high.sum(axis=ax, keepdims=True)
        elif mode == "circular":  # pads <= n: the border wraps at most once
            inner[along(nd, ax, n - lo, n)] += low
            inner[along(nd, ax, 0, hi)] += high
        elif mode == "reflect":  # pads < n: padding cell -j copies j, n-1+j copies n-1-j
            inner[along(nd, ax, 1, lo + 1)] += xp.flip(low, axis=ax)
            inner[along(nd, ax, n - 1 - hi, n - 1)] += xp.flip(high, axis=ax)
        g = inner
    return g


def _grad_spec(op, x_shape, weight_shape, grad_output, stride, padding, dilation, groups,
               padding_mode):
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ConvError(f"{op}: padding_mode must be one of "
                        f"{', '.join(repr(m) for m in PADDING_MODES)}, got {padding_mode!r:.80}")
    if len(weight_shape) < 3:
        raise ConvError(f"{op}: weight must have shape (C_out, C_in/groups, *kernel) with at "
                        f"least one kernel axis, got weight of shape {weight_shape}")
    spec = make_spec(op, x_shape, weight_shape, None, stride, padding, dilation, groups,
                     padding_mode, len(weight_shape) - 2)
    if tuple(grad_output.shape) != spec.out_shape:
        raise ConvError(f"{op}: grad_output must have the convolution's output shape "
                        f"{spec.out_shape}, got grad_output of shape {tuple(grad_output.shape)}")
    return spec


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
    xp, weight, grad_output = float_arrays(op, weight=weight, grad_output=grad_output)
    input_shape = shape_tuple(op, "input_shape", input_shape)
    spec = _grad_spec(op, input_shape, tuple(weight.shape), grad_output, stride, padding,
                      dilation, groups, padding_mode)
    budget = memory_budget(max_bytes, op)
    dtype = grad_output.dtype
    work = np.dtype(np.float32) if dtype == np.float16 else dtype
    padded = (spec.batch, spec.in_channels) + spec.padded_spatial
    check_budget(op, "padded input gradient", padded, work.itemsize, budget)
    gpad = xp.zeros(padded, dtype=work)
    if spec.batch:
        gb = grad_output if spec.batched else grad_output[None]
        scatter_add(xp, gpad, xp.ascontiguousarray(gb.astype(work, copy=False)),
                    weight.astype(work, copy=False), spec.groups, spec.stride, spec.dilation,
                    (0,) * spec.ndim)
    gx = fold_padding(xp, gpad, spec.in_spatial, spec.pads, spec.padding_mode)
    if not spec.batched:
        gx = gx[0]
    return xp.ascontiguousarray(gx).astype(dtype, copy=False)


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
    xp, x, grad_output = float_arrays(op, input=x, grad_output=grad_output)
    weight_shape = shape_tuple(op, "weight_shape", weight_shape)
    spec = _grad_spec(op, tuple(x.shape), weight_shape, grad_output, stride, padding, dilation,
                      groups, padding_mode)
    budget = memory_budget(max_bytes, op)
    dtype = x.dtype
    work = np.dtype(np.float32) if dtype == np.float16 else dtype
    padded = (spec.batch, spec.in_channels) + spec.padded_spatial
    check_budget(op, "padded input", padded, work.itemsize, budget)
    if spec.batch == 0:
        return xp.zeros(weight_shape, dtype=dtype)
    xb = (x if spec.batched else x[None]).astype(work, copy=False)
    gb = (grad_output if spec.batched else grad_output[None]).astype(work, copy=False)
    n, g, cg, og = spec.batch, spec.groups, spec.in_per_group, spec.out_per_group
    positions = math.prod(spec.out_spatial)
    xpad = pad_spatial(xp, xb, spec.pads, spec.padding_mode)
    # (N, C_out, *out) -> (g, og, N·positions): every output cell's gradient, items side by side
    gmat = gb.reshape(n, g, og, positions).transpose(1, 2, 0, 3).reshape(g, og, n * positions)
    taps = list(np.ndindex(*spec.kernel))
    gw = xp.empty((g, og, cg, len(taps)), dtype=work)
    for j, tap in enumerate(taps):
        window = tuple(slice(t * d, t * d + s * (m - 1) + 1, s) for t, d, s, m in
                       zip(tap, spec.dilation, spec.stride, spec.out_spatial))
        cells = xpad[(slice(None), slice(None)) + window]  # the cells tap t read: (N, C_in, *out)
        cells = cells.reshape(n, g, cg, positions).transpose(1, 2, 0, 3)
        cells = cells.reshape(g, cg, n * positions)
        gw[..., j] = xp.matmul(gmat, cells.swapaxes(1, 2))
    return gw.reshape(weight_shape).astype(dtype, copy=False)


__all__ = [
    "TransposeSpec", "colliding_input_sizes", "conv_grad_input",
    "conv_grad_weight", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "conv_transposend", "max_transpose_padding", "memory_budget", "transpose_output_shape",
    "transpose_output_size", "transpose_spec",
]
