"""The direct algorithm: sum over kernel taps without a column buffer.

When each group has one input channel (depthwise layers), all taps are multiplied at once: the
padded input is viewed (no copy) with one axis per kernel axis, multiplied by the weights into a
products buffer of one chunk, and summed over the kernel axes — two NumPy calls per chunk,
instead of im2col's gather and a GEMM with one row per group.  With several input channels per
group (grouped layers), each tap is a small batched ``matmul`` over the group's channels, added
into the output: the input is read ``taps`` times instead of writing and reading a ``taps``-times
larger column buffer.

At stride 1 the spatial axes are flattened: the output is computed over whole padded rows (the
few cells past each row's end are discarded), so every view runs contiguously along a row.  On
the CPU the work goes in cache-sized chunks.  (A thread pool over the chunks was measured and
dropped: on this 2-core machine it gained at most 1.3x when the other core was idle and lost
whenever it was not; BLAS already threads the GEMMs.)
"""

from __future__ import annotations

import math

import numpy as np

from .backend import as_strided
from .blas import THIN_ROWS, one_thread_if
from .geometry import tap_position, window_view
from .im2col import matmul_into
from .params import ConvSpec

CHUNK_BYTES = 512 * 2**10  # CPU, several channels per group: output per chunk (cache-sized)
STACK_BYTES = 2 * 2**20  # CPU, one channel per group: products (taps x output) per chunk
def flat_length(spec: ConvSpec) -> tuple[int, tuple[int, ...]]:
    """Stride-1 flat layout: (positions computed per item, element strides of the padded axes).

    Output ``(o_0, ..., o_k)`` sits at flat index ``sum(o_a * S_a)`` of a buffer laid out like
    the padded input; computing ``sum((O_a - 1) * S_a) + 1`` positions covers every output.
    """
    padded = spec.padded_spatial
    strides = tuple(math.prod(padded[a + 1:]) for a in range(len(padded)))
    return sum((o - 1) * s for o, s in zip(spec.out_spatial, strides)) + 1, strides


def workspace_bytes(spec: ConvSpec, n_batch: int, itemsize: int, on_cpu: bool = True) -> int:
    """Bytes the direct algorithm allocates besides its output (an upper bound of the peak).

    At stride 1 the accumulator over whole padded rows; per running chunk, the products (one
    channel per group) or a temporary and each tap's gathered strided input (several); and the
    weights regrouped per tap.
    """
    stride1 = all(s == 1 for s in spec.stride)
    og, cg = spec.out_per_group, spec.in_per_group
    taps = math.prod(spec.kernel)
    full = 0
    if stride1:
        length, strides = flat_length(spec)
        full = n_batch * spec.out_channels * spec.out_spatial[0] * strides[0] * itemsize
    else:
        length = math.prod(spec.out_spatial)
    whole = n_batch * spec.out_channels * length * itemsize  # all chunks together
    if cg == 1:
        chunk = taps * whole if not on_cpu else min(taps * whole,
                                                    max(STACK_BYTES, og * taps * itemsize))
    else:
        out_chunk = whole if not on_cpu else min(whole, max(CHUNK_BYTES, og * itemsize))
        chunk = out_chunk * (1 + (0 if stride1 else -(-cg // og)))
    weights = spec.out_channels * cg * taps * itemsize
    return full + weights + chunk + chunk // 8  # scratch rows are padded (see scratch)


def correlate_direct(xp, xpad, weight, spec: ConvSpec):
    """Cross-correlate an already padded, batched input; returns ``(N, C_out, *out_spatial)``."""
    n_batch = xpad.shape[0]
    stride1 = all(s == 1 for s in spec.stride)
    if spec.in_per_group == 1:
        return (_products_flat if stride1 else _products_strided)(xp, xpad, weight, spec,
                                                                  n_batch)
    g, cg, og = spec.groups, spec.in_per_group, spec.out_per_group
    taps = list(np.ndindex(*spec.kernel))
    # (taps, g, og, cg): one small weight matrix per tap and group
    wt = xp.ascontiguousarray(xp.moveaxis(weight.reshape(g, og, cg, len(taps)), 3, 0))
    macs = n_batch * spec.out_channels * cg * len(taps) * math.prod(spec.out_spatial)
    with one_thread_if(xp is np and min(og, cg) < THIN_ROWS, macs):
        return (_taps_flat if stride1 else _taps_strided)(xp, xpad, wt, taps, spec, n_batch)


def scratch(xp, shape, dtype):
    """An uninitialised array of ``shape`` whose long rows are not a power-of-two bytes apart.

    Rows 4096 or 8192 bytes apart map to the same cache sets, which made elementwise passes
    over such temporaries up to 3x slower here.  Rows of 256 elements or more are padded to a
    multiple of 16 elements plus 16 (at most 1/8 more memory).
    """
    if shape[-1] < 256:
        return xp.empty(shape, dtype=dtype)
    row = shape[-1] + 16 - shape[-1] % 16 + 16
    return xp.empty((*shape[:-1], row), dtype=dtype)[..., :shape[-1]]


def _chunks(n_batch, groups, length, per_position, budget):
    """(items, groups, positions) per chunk: about ``budget`` bytes.

    Whole items while they fit, then whole groups of one item, and only then runs of positions:
    views then span whole rows of the padded input.  Rows read with gaps of a few KiB between
    them (runs of positions) were measured 3x slower per element than whole rows: the hardware
    prefetcher restarts at every row.
    """
    per_group = length * per_position
    if per_group * groups * n_batch <= budget:
        return n_batch, groups, length
    if per_group * groups <= budget:
        return budget // (per_group * groups), groups, length
    if per_group <= budget:
        return 1, budget // per_group, length
    return 1, 1, max(1, budget // per_position)


def _run(xp, run, n_batch, groups, length, per_position, budget):
    """Call ``run(n0, n1, g0, g1, q0, q1)`` over chunks of about ``budget`` bytes (one on CuPy).

    ``per_position``: bytes of one group's chunk buffers per position.
    """
    if xp is not np:
        run(0, n_batch, 0, groups, 0, length)
        return
    items, gb, span = _chunks(n_batch, groups, length, per_position, budget)
    for n0 in range(0, n_batch, items):
        for g0 in range(0, groups, gb):
            for q0 in range(0, length, span):
                run(n0, min(n_batch, n0 + items), g0, min(groups, g0 + gb), q0,
                    min(length, q0 + span))


def _flat_result(xp, full, spec, strides):
    """The outputs of a whole-padded-rows buffer ``(N, g, og, rows)`` as a contiguous array."""
    item = full.dtype.itemsize
    n_batch, g, og, rows = full.shape
    view = as_strided(xp, full, (n_batch, g * og, *spec.out_spatial),
                      (full.strides[0], rows * item) + tuple(s * item for s in strides))
    return xp.ascontiguousarray(view)


def _stride_view(xp, a, shape, strides):
    """A strided view starting at the first element of the (possibly sliced) array ``a``."""
    return xp.lib.stride_tricks.as_strided(a, shape, strides)


def _products_flat(xp, xpad, weight, spec, n_batch):
    """One input channel per group, stride 1: products of all taps, summed over the taps."""
    g, og, nd = spec.groups, spec.out_per_group, spec.ndim
    length, strides = flat_length(spec)
    item = xpad.dtype.itemsize
    xf = xpad.reshape(n_batch, g, -1)
    tap_strides = tuple(tap_position(0, 1, 1, d) * s * item
                        for d, s in zip(spec.dilation, strides))
    w = weight.reshape(g, og, *spec.kernel, 1)
    full = xp.empty((n_batch, g, og, spec.out_spatial[0] * strides[0]), dtype=xpad.dtype)
    kernel_axes = tuple(range(3, 3 + nd))

    def run(n0, n1, g0, g1, q0, q1):
        base = xf[n0:n1, g0:g1, q0:]
        v = _stride_view(xp, base, (n1 - n0, g1 - g0, 1, *spec.kernel, q1 - q0),
                         (base.strides[0], base.strides[1], 0, *tap_strides, item))
        products = scratch(xp, (n1 - n0, g1 - g0, og, *spec.kernel, q1 - q0), xpad.dtype)
        xp.multiply(v, w[g0:g1], out=products)  # (n, g, 1, *k, L) * (g, og, *k, 1)
        xp.sum(products, axis=kernel_axes, out=full[n0:n1, g0:g1, :, q0:q1])

    _run(xp, run, n_batch, g, length, og * math.prod(spec.kernel) * item, STACK_BYTES)
    return _flat_result(xp, full, spec, strides)


def _products_strided(xp, xpad, weight, spec, n_batch):
    """One input channel per group, any stride: the window view's products, summed."""
    g, og, nd = spec.groups, spec.out_per_group, spec.ndim
    out_sp = spec.out_spatial
    win = window_view(xp, xpad, spec)  # (N, g, 1, *kernel, *out_spatial)
    w = weight.reshape(g, og, *spec.kernel, *(1,) * nd)
    out = xp.empty((n_batch, g, og, *out_sp), dtype=xpad.dtype)
    kernel_axes = tuple(range(3, 3 + nd))
    rest = math.prod(out_sp[1:])

    def run(n0, n1, g0, g1, r0, r1):  # rows r0..r1 of the first output axis
        v = win[(slice(n0, n1), slice(g0, g1), slice(None), *(slice(None),) * nd, slice(r0, r1))]
        products = scratch(xp, (n1 - n0, g1 - g0, og, *spec.kernel, r1 - r0, *out_sp[1:]),
                           xpad.dtype)
        xp.multiply(v, w[g0:g1], out=products)
        xp.sum(products, axis=kernel_axes, out=out[n0:n1, g0:g1, :, r0:r1])

    per_row = og * math.prod(spec.kernel) * rest * xpad.dtype.itemsize
    _run(xp, run, n_batch, g, out_sp[0], per_row, STACK_BYTES)
    return out.reshape((n_batch, g * og) + out_sp)


def _accumulate(xp, acc, views, wt):
    """``acc = sum_t wt[t] @ views(t)``: ``views(t)`` is ``(n, g, cg, L)``, ``wt[t]``
    ``(g, og, cg)`` and ``acc`` ``(n, g, og, L)``."""
    tmp = scratch(xp, acc.shape, acc.dtype)
    for t in range(wt.shape[0]):
        matmul_into(xp, wt[t], views(t), acc if t == 0 else tmp)
        if t:
            acc += tmp


def _taps_flat(xp, xpad, wt, taps, spec, n_batch):
    """Several input channels per group, stride 1: one GEMM per tap, added up."""
    g, cg, og = spec.groups, spec.in_per_group, spec.out_per_group
    length, strides = flat_length(spec)
    xf = xpad.reshape(n_batch, g, cg, -1)
    offsets = [sum(tap_position(0, t, 1, d) * s for t, d, s in zip(tap, spec.dilation, strides))
               for tap in taps]
    rows = spec.out_spatial[0] * strides[0]  # whole padded rows, so the result is a plain view
    full = xp.empty((n_batch, g, og, rows), dtype=xpad.dtype)

    def run(n0, n1, g0, g1, q0, q1):
        _accumulate(xp, full[n0:n1, g0:g1, :, q0:q1],
                    lambda t: xf[n0:n1, g0:g1, :, offsets[t] + q0:offsets[t] + q1],
                    wt[:, g0:g1])

    _run(xp, run, n_batch, g, length, og * xpad.dtype.itemsize, CHUNK_BYTES)
    return _flat_result(xp, full, spec, strides)


def _taps_strided(xp, xpad, wt, taps, spec, n_batch):
    """Several input channels per group, any stride: one GEMM per gathered tap, added up."""
    g, cg, og = spec.groups, spec.in_per_group, spec.out_per_group
    out_sp = spec.out_spatial
    win = window_view(xp, xpad, spec)  # (N, g, cg, *kernel, *out_spatial)
    rest = math.prod(out_sp[1:])
    out = xp.empty((n_batch, g, og, out_sp[0] * rest), dtype=xpad.dtype)

    def run(n0, n1, g0, g1, r0, r1):  # rows r0..r1 of the first output axis
        def views(t):
            v = win[(slice(n0, n1), slice(g0, g1), slice(None), *taps[t], slice(r0, r1))]
            return v.reshape(n1 - n0, g1 - g0, cg, (r1 - r0) * rest)  # a copy unless mergeable

        _accumulate(xp, out[n0:n1, g0:g1, :, r0 * rest:r1 * rest], views, wt[:, g0:g1])

    _run(xp, run, n_batch, g, out_sp[0], og * rest * xpad.dtype.itemsize, CHUNK_BYTES)
    return out.reshape((n_batch, g * og) + out_sp)
