"""Where every window reads: the tap coordinates of an animation, how many windows read each
input cell, and which cells no window reads (and why)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from ..budget import require
from ..errors import ConvError
from ..geometry import MAX_COORD, int64_steps, last_read, read_counts, tap_position
from ..params import (
    MAX_SPATIAL_DIMS,
    ConvSpec,
    as_shape,
    is_int,
    make_spec,
    positive_tuple,
    shown,
)


def spatial_spec(op, in_spatial, kernel_size, stride, padding, dilation) -> ConvSpec:
    """A ConvSpec for one channel: the spatial rules alone, checked like the core's."""
    in_spatial = as_shape(in_spatial, "in_spatial", op, least=1)
    if len(in_spatial) > MAX_SPATIAL_DIMS:
        raise ConvError(f"{op}: in_spatial may have at most {MAX_SPATIAL_DIMS} axes, got "
                        f"{len(in_spatial)}")
    kernel = positive_tuple(kernel_size, len(in_spatial), "kernel_size", op)
    return make_spec(op, (1, 1, *in_spatial), (1, 1, *kernel), None, stride, padding, dilation)


@functools.lru_cache(maxsize=512)
def index_steps(spec: ConvSpec, op: str) -> tuple[np.ndarray, np.ndarray]:
    """(stride, dilation) per axis as int64 arrays for index maps — a step only one window or
    tap uses as 0 — once every padded coordinate the windows reach is known to fit int64.
    Cached per spec: the arrays are read-only."""
    for axis, (o, k, s, d, (lo, _)) in enumerate(zip(spec.out_spatial, spec.kernel, spec.stride,
                                                     spec.dilation, spec.pads)):
        reach = max(last_read(o, k, s, d), lo)
        if reach > MAX_COORD:
            raise ConvError(f"{op}: on spatial axis {axis} the windows reach padded coordinate "
                            f"{reach}, beyond 2**62 (index maps hold int64 coordinates); use "
                            f"less padding or a shorter input")
    steps = int64_steps(spec.stride, spec.out_spatial), int64_steps(spec.dilation, spec.kernel)
    for a in steps:
        a.setflags(write=False)
    return steps


def check_spec(spec, op: str) -> ConvSpec:
    """``spec`` if it is a :class:`ConvSpec` (from :func:`convcore.params.make_spec`)."""
    if not isinstance(spec, ConvSpec):
        raise ConvError(f"{op}: spec must be a ConvSpec (convcore.params.make_spec), got "
                        f"{shown(spec)}")
    return spec


@dataclass(frozen=True)
class WindowMap:
    """Padded-frame coordinates of every tap of every window, in raster order of the output."""

    out_spatial: tuple
    kernel: tuple
    pads: tuple
    padded_spatial: tuple
    out_coords: np.ndarray = field(repr=False)  # (P, ndim)
    starts: np.ndarray = field(repr=False)  # (P, ndim)
    coords: np.ndarray = field(repr=False)  # (P, K, ndim)

    @property
    def steps(self) -> int:
        return int(self.out_coords.shape[0])


def window_map(in_spatial, kernel_size, stride=1, padding=0, dilation=1, steps=None, *,
               max_bytes=None) -> WindowMap:
    """The index map an animation is built from (vectorized; memory ~ steps × taps).

    ``steps`` (optional): the raster-order step numbers to map, e.g. the frames of a capped
    animation; by default every step.

    Examples:
        >>> m = window_map(5, 2, stride=2, padding=1)
        >>> m.coords[:, :, 0].tolist()
        [[0, 1], [2, 3], [4, 5]]
    """
    spec = spatial_spec("window_map", in_spatial, kernel_size, stride, padding, dilation)
    return window_map_of(spec, steps, max_bytes=max_bytes)


def window_map_of(spec: ConvSpec, steps=None, *, max_bytes=None) -> WindowMap:
    """:func:`window_map` of a resolved spec (int64 coordinates)."""
    op = "window_map"
    check_spec(spec, op)
    stride, dilation = index_steps(spec, op)
    nd = spec.ndim
    total, taps = math.prod(spec.out_spatial), math.prod(spec.kernel)
    if steps is not None and total > MAX_COORD:
        raise ConvError(f"{op}: the output has {total} positions; step numbers beyond 2**62 "
                        f"do not fit the map's int64 coordinates")
    steps = None if steps is None else _steps(steps, total)
    count = total if steps is None else steps.size
    require(op, f"the map of {count} steps x {taps} taps",
            (count * (taps + 2) + taps) * nd * 8, max_bytes)
    if steps is None:
        out_coords = np.indices(spec.out_spatial, dtype=np.int64).reshape(nd, -1).T
    else:
        out_coords = np.stack(np.unravel_index(steps, spec.out_spatial), axis=1).astype(np.int64)
    offsets = np.indices(spec.kernel, dtype=np.int64).reshape(nd, -1).T
    starts = tap_position(out_coords, 0, stride, dilation)
    coords = tap_position(out_coords[:, None, :], offsets[None, :, :], stride, dilation)
    return WindowMap(spec.out_spatial, spec.kernel, spec.pads, spec.padded_spatial,
                     out_coords, starts, coords)


def _steps(steps, total: int) -> np.ndarray:
    """``steps`` as a flat int64 array of step numbers in ``0..total-1``, else ConvError."""
    bad = ConvError(f"window_map: steps must be integers in 0..{total - 1} (the output has "
                    f"{total} positions), got {shown(steps)}")
    if isinstance(steps, (str, bytes)):
        raise bad
    try:
        flat = np.asarray(steps).reshape(-1)
    except Exception as exc:  # any object may be passed in
        raise bad from exc
    if flat.size == 0:
        return np.zeros(0, dtype=np.int64)
    if flat.dtype.kind == "O":  # Python ints beyond int64, or anything else
        if not all(is_int(v) and 0 <= v < total for v in flat):
            raise bad
    elif flat.dtype.kind not in "iu":
        raise bad
    elif flat.min() < 0 or flat.max() >= total:
        raise ConvError(f"window_map: steps must lie in 0..{total - 1} (the output has "
                        f"{total} positions), got {flat.min()}..{flat.max()}")
    return flat.astype(np.int64)


@dataclass(frozen=True)
class AxisCoverage:
    """Which indices of one input axis no window reads, and why."""

    axis: int
    never_read: tuple  # unpadded indices
    dropped_tail: tuple  # past the last window: the floor in the shape formula drops them
    skipped: tuple  # between windows or dilation gaps: stride jumps over them


@dataclass(frozen=True)
class Coverage:
    """How many windows read each input cell."""

    counts: np.ndarray = field(repr=False)  # shape in_spatial
    axes: tuple = ()  # AxisCoverage per axis

    @property
    def never_read(self) -> tuple:
        """Index tuples of the cells no window reads (built on demand: it can be long)."""
        return tuple(tuple(int(i) for i in idx) for idx in np.argwhere(self.counts == 0))

    @property
    def dropped_tail(self):
        return tuple(a.dropped_tail for a in self.axes)

    @property
    def skipped(self):
        return tuple(a.skipped for a in self.axes)


def axis_coverage(axis: int, n: int, k: int, s: int, d: int, lo: int, out: int):
    """Read counts of one axis's unpadded indices, and its :class:`AxisCoverage`."""
    counts = read_counts(lo, lo + n, k, s, d, out)
    last = last_read(out, k, s, d) - lo  # the last unpadded index any window reaches
    unread = np.flatnonzero(counts == 0)
    return counts, AxisCoverage(axis, tuple(unread.tolist()),
                                tuple(unread[unread > last].tolist()),
                                tuple(unread[unread <= last].tolist()))


def coverage(in_spatial, kernel_size, stride=1, padding=0, dilation=1, *,
             max_bytes=None) -> Coverage:
    """For every input cell, how many windows read it; cells never read, with the reason."""
    return coverage_of(spatial_spec("coverage", in_spatial, kernel_size, stride, padding,
                                    dilation), max_bytes=max_bytes)


def coverage_of(spec: ConvSpec, *, max_bytes=None) -> Coverage:
    """:func:`coverage` of a resolved spec."""
    op = "coverage"
    check_spec(spec, op)
    for axis, (k, o) in enumerate(zip(spec.kernel, spec.out_spatial)):
        if min(k, o) > MAX_COORD:  # a cell is read at most once per tap and per window
            raise ConvError(f"{op}: on spatial axis {axis} a cell may be read by up to "
                            f"{min(k, o)} windows, beyond the int64 read counts")
    cells = math.prod(spec.in_spatial)
    require(op, f"read counts of {cells} input cells",
            cells * 8 + sum(spec.in_spatial) * 100, max_bytes)
    per_axis = [axis_coverage(a, spec.in_spatial[a], spec.kernel[a], spec.stride[a],
                              spec.dilation[a], spec.pads[a][0], spec.out_spatial[a])
                for a in range(spec.ndim)]
    # Windows form a product over axes, so the N-d count is the outer product of axis counts.
    total = per_axis[0][0]
    for counts, _ in per_axis[1:]:
        total = np.multiply.outer(total, counts)
    return Coverage(total, tuple(axis for _, axis in per_axis))


# Axes longer than this are not scanned cell by cell to find skipped cells (explain_shape).
SCAN_LIMIT = 2**20
_BLOCK = 2**16


@dataclass(frozen=True)
class UnreadCells:
    """The unread cells of one axis, summarized without one entry per cell.

    ``dropped_tail``: the range of indices past the last window's reach; ``skipped``: how many
    indices up to that reach no window reads (None: the axis was too long to scan), and
    ``first_skipped``: the first few of them.
    """

    dropped_tail: range
    skipped: int | None
    first_skipped: tuple


def unread_cells(n: int, k: int, s: int, d: int, lo: int, out: int, most: int = 8
                 ) -> UnreadCells:
    """Which of ``n`` unpadded indices no window reads, in O(block) memory.

    Cells past the last window's reach are a closed-form range; the others are found by
    scanning :func:`~convcore.geometry.read_counts` in blocks, up to :data:`SCAN_LIMIT` cells.
    """
    last = last_read(out, k, s, d) - lo
    dropped = range(max(last + 1, 0), n)
    reach = min(last, n - 1) + 1  # indices 0..reach-1 may be read
    gap_free = (d == 1 and s <= k) or (s == 1 and d <= out) or reach <= 0
    if gap_free:
        return UnreadCells(dropped, 0, ())
    huge = max(abs(lo), k, s, d, out, n) >= 2**31
    if reach > (2**16 if huge else SCAN_LIMIT):
        return UnreadCells(dropped, None, ())
    skipped, first = 0, []
    for start in range(0, reach, _BLOCK):
        stop = min(reach, start + _BLOCK)
        unread = np.flatnonzero(read_counts(lo + start, lo + stop, k, s, d, out) == 0)
        skipped += int(unread.size)
        if len(first) < most:
            first.extend((unread[:most - len(first)] + start).tolist())
    return UnreadCells(dropped, skipped, tuple(first))
