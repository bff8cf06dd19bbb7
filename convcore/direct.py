"""The direct algorithm: accumulate one kernel tap at a time, with no column buffer.

For each tap the padded input is viewed (no copy) at that tap's offset and added into the output,
weighted: by a broadcast multiply when each group has one input channel (depthwise), by a small
batched ``matmul`` over the group's input channels otherwise.  It reads the input ``taps`` times
instead of writing and reading a ``taps``-times larger column buffer, which wins when a group has
few input channels (depthwise, groups=8 with k=5, ...), where im2col's GEMM is too thin to pay
for its buffer.

At stride 1 the spatial axes are flattened: the output is computed over full padded rows (the
few cells past each row's end are discarded), so every tap's view is one contiguous run per
channel.  On the CPU, chunks of about :data:`CHUNK_BYTES` of output run on a small thread pool
(NumPy releases the GIL in ufuncs and matmul).
"""

from __future__ import annotations

import functools
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .backend import as_strided
from .geometry import tap_position, window_view
from .params import ConvSpec

CHUNK_BYTES = 512 * 2**10  # CPU: output accumulated per chunk (cache-sized)
# OpenBLAS computes a GEMM of fewer multiply-adds than this on one thread (64K x its default
# GEMM_MULTITHREAD_THRESHOLD of 4).
BLAS_THREADED_MACS = 2**18
_pool: list = []


def workers() -> int:
    """Threads the CPU path uses (the machine's cores, at most 8)."""
    return max(1, min(8, os.cpu_count() or 1))


def _map(jobs):
    """Run ``jobs`` (callables) on the thread pool, or inline when there is one job or core."""
    if len(jobs) == 1 or workers() == 1:
        for job in jobs:
            job()
        return
    if not _pool:
        _pool.append(ThreadPoolExecutor(workers(), thread_name_prefix="convcore"))
    for future in [_pool[0].submit(job) for job in jobs]:
        future.result()


def flat_length(spec: ConvSpec) -> tuple[int, tuple[int, ...]]:
    """Stride-1 flat layout: (positions computed per item, element strides of the padded axes).

    Output ``(o_0, ..., o_k)`` sits at flat index ``sum(o_a * S_a)`` of a buffer laid out like
    the padded input; computing ``sum((O_a - 1) * S_a) + 1`` positions covers every output.
    """
    padded = spec.padded_spatial
    strides = tuple(math.prod(padded[a + 1:]) for a in range(len(padded)))
    return sum((o - 1) * s for o, s in zip(spec.out_spatial, strides)) + 1, strides


def workspace_bytes(spec: ConvSpec, n_batch: int, itemsize: int, on_cpu: bool = True) -> int:
    """Bytes the direct algorithm allocates besides its output: accumulator and temporary."""
    positions = flat_length(spec)[0] if all(s == 1 for s in spec.stride) else math.prod(
        spec.out_spatial)
    full = n_batch * spec.out_channels * positions * itemsize
    if on_cpu:
        chunk = min(full, max(CHUNK_BYTES, spec.out_channels * itemsize))
        return full + 2 * chunk * workers()  # flat accumulator, plus matmul result and temp
    return 3 * full


def correlate_direct(xp, xpad, weight, spec: ConvSpec):
    """Cross-correlate an already padded, batched input; returns ``(N, C_out, *out_spatial)``."""
    n_batch = xpad.shape[0]
    g, cg, og = spec.groups, spec.in_per_group, spec.out_per_group
    taps = list(np.ndindex(*spec.kernel))
    # (taps, g, og, cg): one small weight matrix per tap and group
    wt = xp.ascontiguousarray(xp.moveaxis(weight.reshape(g, og, cg, len(taps)), 3, 0))
    if all(s == 1 for s in spec.stride):
        return _flat(xp, xpad, wt, taps, spec, n_batch)
    return _strided(xp, xpad, wt, taps, spec, n_batch)


def _accumulate(xp, acc, views, wt, cg):
    """``acc = sum_t wt[t] · views(t)``: broadcast multiplies for one channel, matmul for more.

    ``views(t)`` is ``(n, g, cg, L)``, ``wt[t]`` is ``(g, og, cg)`` and ``acc`` ``(n, g, og, L)``.
    """
    tmp = scratch(xp, acc.shape, acc.dtype)
    for t in range(wt.shape[0]):
        dst = acc if t == 0 else tmp
        if cg == 1:
            xp.multiply(views(t), wt[t], out=dst)  # (n, g, 1, L) * (g, og, 1)
        else:
            xp.matmul(wt[t], views(t), out=dst)  # (g, og, cg) @ (n, g, cg, L)
        if t:
            acc += tmp


def scratch(xp, shape, dtype):
    """An uninitialised array of ``shape`` whose rows are not a power-of-two bytes apart.

    Rows 4096 or 8192 bytes apart map to the same cache sets: a temporary of 1024 or 2048
    float32 columns made the direct algorithm's passes 3x slower than at 3246 columns.
    """
    row = shape[-1] + 16 - shape[-1] % 16 + 16  # a multiple of 64 bytes, plus 64 bytes
    return xp.empty((*shape[:-1], row), dtype=dtype)[..., :shape[-1]]


def _chunks(n_batch, groups, length, per_position):
    """(items, groups, positions) per chunk: about CHUNK_BYTES of output.

    Whole items while they fit, then whole groups of one item, and only then runs of positions:
    a tap's view then spans whole rows of the padded input.  Reading rows with gaps of a few KiB
    between them (runs of positions) was measured 3x slower per element than whole rows: the
    hardware prefetcher restarts at every row.
    """
    per_group = length * per_position
    if per_group * groups * n_batch <= CHUNK_BYTES:
        return n_batch, groups, length
    if per_group * groups <= CHUNK_BYTES:
        return CHUNK_BYTES // (per_group * groups), groups, length
    if per_group <= CHUNK_BYTES:
        return 1, CHUNK_BYTES // per_group, length
    return 1, 1, max(1, CHUNK_BYTES // per_position)


def _run(xp, run, n_batch, groups, length, per_position, gemm_macs=0):
    """Call ``run(n0, n1, g0, g1, q0, q1)`` over chunks; on the CPU, in parallel.

    ``per_position``: output bytes of one group at one position; ``gemm_macs``: multiply-adds
    of one BLAS call per position.  Chunks whose GEMMs are big enough for BLAS to use its own
    threads run one after the other: BLAS thread pools started from two threads at once would
    fight over the cores.
    """
    if xp is not np:
        run(0, n_batch, 0, groups, 0, length)
        return
    items, gb, span = _chunks(n_batch, groups, length, per_position)
    jobs = [functools.partial(run, n0, min(n_batch, n0 + items), g0, min(groups, g0 + gb), q0,
                              min(length, q0 + span))
            for n0 in range(0, n_batch, items) for g0 in range(0, groups, gb)
            for q0 in range(0, length, span)]
    if gemm_macs * span > BLAS_THREADED_MACS:
        for job in jobs:
            job()
    else:
        _map(jobs)


def _flat(xp, xpad, wt, taps, spec, n_batch):
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
                    wt[:, g0:g1], cg)

    _run(xp, run, n_batch, g, length, og * xpad.dtype.itemsize, og * cg if cg > 1 else 0)
    item = full.dtype.itemsize
    view = as_strided(xp, full, (n_batch, g * og, *spec.out_spatial),
                      (full.strides[0], rows * item) + tuple(s * item for s in strides))
    return xp.ascontiguousarray(view)


def _strided(xp, xpad, wt, taps, spec, n_batch):
    g, cg, og = spec.groups, spec.in_per_group, spec.out_per_group
    out_sp = spec.out_spatial
    win = window_view(xp, xpad, spec)  # (N, g, cg, *kernel, *out_spatial)
    rest = math.prod(out_sp[1:])
    out = xp.empty((n_batch, g, og, out_sp[0] * rest), dtype=xpad.dtype)

    def run(n0, n1, g0, g1, r0, r1):  # rows r0..r1 of the first output axis
        def views(t):
            v = win[(slice(n0, n1), slice(g0, g1), slice(None), *taps[t], slice(r0, r1))]
            return v.reshape(n1 - n0, g1 - g0, cg, (r1 - r0) * rest)  # a copy unless mergeable

        _accumulate(xp, out[n0:n1, g0:g1, :, r0 * rest:r1 * rest], views, wt[:, g0:g1], cg)

    _run(xp, run, n_batch, g, out_sp[0], og * rest * xpad.dtype.itemsize,
         og * cg * rest if cg > 1 else 0)
    return out.reshape((n_batch, g * og) + out_sp)
