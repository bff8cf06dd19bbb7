"""The im2col algorithm: gather every window into a column buffer, then one GEMM per chunk.

The padded input is viewed (no copy) as every window, the view is gathered into a column buffer
``(N, groups, C_in/groups * prod(kernel), positions)``, and a batched ``matmul`` contracts it
with the weights.  The buffer of one chunk is bounded by a byte budget (default
:data:`COLUMN_BUDGET_BYTES`): whole batch items while they fit, else runs of rows of the first
output axis that fits — down to one output position, so no output row is too big to chunk.
Cache-sized chunks are also faster than one big buffer streamed through memory twice.
"""

from __future__ import annotations

import math

import numpy as np

from .blas import THIN_ROWS, one_thread_if
from .geometry import window_view
from .params import ConvSpec

COLUMN_BUDGET_BYTES = 2 * 2**20  # CPU: cache-sized chunks (2 MiB measured best of 0.5-8 MiB)
GPU_COLUMN_BUDGET_BYTES = 256 * 2**20  # GPU: few, large kernel launches


def column_bytes(spec: ConvSpec, n_batch: int, itemsize: int) -> int:
    """Bytes of the whole column buffer (what one unchunked GEMM would read)."""
    return (n_batch * spec.groups * spec.in_per_group * math.prod(spec.kernel)
            * math.prod(spec.out_spatial) * itemsize)


def workspace_bytes(spec: ConvSpec, n_batch: int, itemsize: int, budget: int) -> int:
    """Bytes of the largest column chunk: the budget, but at least one output position."""
    one_position = spec.groups * spec.in_per_group * math.prod(spec.kernel) * itemsize
    return min(column_bytes(spec, n_batch, itemsize), max(budget, one_position))


def chunk_axis(spec: ConvSpec, itemsize: int, budget: int) -> tuple[int, int]:
    """(axis, rows): chunks are ``rows`` indices of output ``axis`` with the axes before it fixed.

    ``axis`` is the first output axis one index of which fits the budget (the last axis, one
    position at a time, when none does).
    """
    per_position = spec.groups * spec.in_per_group * math.prod(spec.kernel) * itemsize
    out_sp = spec.out_spatial
    for axis in range(len(out_sp)):
        slab = per_position * math.prod(out_sp[axis + 1:])
        if slab <= budget or axis == len(out_sp) - 1:
            return axis, max(1, min(out_sp[axis], budget // slab))
    raise AssertionError("unreachable")


def matmul_into(xp, a, b, out):
    """``out[...] = a @ b``: in place on NumPy; CuPy's matmul wants a contiguous ``out``."""
    if xp is np:
        xp.matmul(a, b, out=out)
    else:
        out[...] = xp.matmul(a, b)


def correlate_padded(xp, xpad, weight, spec: ConvSpec, budget=None):
    """Cross-correlate an already padded, batched input; returns ``(N, C_out, *out_spatial)``.

    ``budget``: bytes of one column chunk (default :data:`COLUMN_BUDGET_BYTES` on the CPU,
    :data:`GPU_COLUMN_BUDGET_BYTES` on CuPy).
    """
    if budget is None:
        budget = COLUMN_BUDGET_BYTES if xp is np else GPU_COLUMN_BUDGET_BYTES
    n_batch = xpad.shape[0]
    g, og = spec.groups, spec.out_per_group
    taps = spec.in_per_group * math.prod(spec.kernel)
    out_sp = spec.out_spatial
    positions = math.prod(out_sp)
    wmat = weight.reshape(g, og, taps)
    win = window_view(xp, xpad, spec)
    item_bytes = g * taps * positions * xpad.dtype.itemsize
    if item_bytes * n_batch <= budget:
        cols = win.reshape(n_batch, g, taps, positions)
        return xp.matmul(wmat, cols).reshape((n_batch, spec.out_channels) + out_sp)
    with one_thread_if(xp is np and og < THIN_ROWS, n_batch * og * item_bytes):
        return _chunked(xp, win, wmat, spec, budget)


def _chunked(xp, win, wmat, spec, budget):
    n_batch, g, og, taps = win.shape[0], spec.groups, spec.out_per_group, wmat.shape[-1]
    out_sp = spec.out_spatial
    positions = math.prod(out_sp)
    item_bytes = g * taps * positions * win.dtype.itemsize
    out = xp.empty((n_batch, g, og, positions), dtype=win.dtype)
    if item_bytes <= budget:  # whole batch items per chunk
        items = budget // item_bytes
        for n0 in range(0, n_batch, items):
            n1 = min(n_batch, n0 + items)
            cols = win[n0:n1].reshape(n1 - n0, g, taps, positions)
            matmul_into(xp, wmat, cols, out[n0:n1])
            del cols  # before the next chunk is gathered: one chunk alive at a time
        return out.reshape((n_batch, spec.out_channels) + out_sp)
    axis, rows = chunk_axis(spec, win.dtype.itemsize, budget)
    rest = math.prod(out_sp[axis + 1:])
    kernel_axes = (slice(None),) * (3 + spec.ndim)  # N, groups, C_in/groups, *kernel
    for n in range(n_batch):
        for lead_flat, lead in enumerate(np.ndindex(*out_sp[:axis])):
            for r0 in range(0, out_sp[axis], rows):
                r1 = min(out_sp[axis], r0 + rows)
                index = (slice(n, n + 1), *kernel_axes[1:], *lead, slice(r0, r1))
                cols = win[index].reshape(1, g, taps, (r1 - r0) * rest)
                first = (lead_flat * out_sp[axis] + r0) * rest
                matmul_into(xp, wmat, cols, out[n:n + 1, :, :, first:first + (r1 - r0) * rest])
                del cols
    return out.reshape((n_batch, spec.out_channels) + out_sp)
