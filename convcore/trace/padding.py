"""Padding and dilation made visible: where each padding cell takes its value, and the kernel
with the zeros dilation inserts."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..backend import to_numpy
from ..budget import require
from ..errors import ConvError
from ..geometry import dilated_extent
from ..padding_modes import check_pads, pad, source_of
from ..params import is_int, positive_tuple, resolve_padding, shown

__all__ = ["PaddedInput", "dilated_kernel", "padded_input", "padded_input_of", "source_map",
           "source_of"]


def source_map(n: int, lo: int, hi: int, mode: str, *, max_bytes=None) -> np.ndarray:
    """For each padded position along one axis, the unpadded index it copies (-1: zero pad).

    Examples:
        >>> source_map(3, 2, 1, "reflect").tolist()
        [2, 1, 0, 1, 2, 1]
    """
    op = "source_map"
    n, lo, hi = (_count(v, name, op, least) for v, name, least in
                 ((n, "n", 1), (lo, "lo", 0), (hi, "hi", 0)))
    check_pads(mode, (n,), ((lo, hi),), op)
    require(op, f"a map of {n + lo + hi} padded positions", (n + lo + hi) * 8 * 4, max_bytes)
    i = np.arange(-lo, n + hi, dtype=np.int64)
    return source_of(i, n, mode)


def _count(v, name: str, op: str, least: int) -> int:
    if not is_int(v) or v < least:
        raise ConvError(f"{op}: {name} must be an int >= {least}, got {shown(v)}")
    return int(v)


def dilated_kernel(weight, dilation, *, max_bytes=None):
    """The kernel with the zeros dilation inserts between taps (on its trailing spatial axes).

    ``weight`` is ``(C_out, C_in/groups, *kernel)``, or a bare kernel when ``dilation`` is a
    tuple with one entry per axis of it.

    Examples:
        >>> dilated_kernel(np.array([[[1., 2., 3.]]]), 2).tolist()
        [[[1.0, 0.0, 2.0, 0.0, 3.0]]]
    """
    op = "dilated_kernel"
    w = numeric_host_array(weight, "weight", op)
    nd = len(dilation) if isinstance(dilation, (tuple, list)) else max(w.ndim - 2, 1)
    if not 1 <= nd <= w.ndim:
        raise ConvError(f"{op}: weight of shape {w.shape} has no {nd} kernel axes to dilate "
                        f"(dilation={shown(dilation)})")
    d = positive_tuple(dilation, nd, "dilation", op)
    k = w.shape[w.ndim - nd:]
    if 0 in k:
        raise ConvError(f"{op}: every kernel axis must have at least one tap, got weight of "
                        f"shape {w.shape}")
    require(op, "the dilated kernel", math.prod(w.shape[:w.ndim - nd]) * w.itemsize * math.prod(
        dilated_extent(a, b) for a, b in zip(k, d)), max_bytes)
    out = np.zeros(w.shape[:w.ndim - nd] + tuple(dilated_extent(a, b) for a, b in zip(k, d)),
                   dtype=w.dtype)
    out[(Ellipsis,) + tuple(slice(None, None, b) for b in d)] = w
    return out


@dataclass(frozen=True)
class PaddedInput:
    """The padded input, which cells are padding, and where each padding cell's value came from."""

    values: np.ndarray = field(repr=False)  # padded array, leading axes as x
    is_padding: np.ndarray = field(repr=False)  # bool, padded spatial shape
    source: np.ndarray = field(repr=False)  # (ndim, *padded_spatial); -1 for zero padding
    pads: tuple = ()
    padding_mode: str = "zeros"


def padded_input(x, padding, padding_mode="zeros", kernel_size=None, dilation=1, stride=1,
                 spatial_dims=None, *, max_bytes=None) -> PaddedInput:
    """Pad ``x`` exactly as the core does, with a padding mask and each cell's source.

    ``x`` is ``(N, C, *spatial)``; ``spatial_dims`` (default ``x.ndim - 2``) allows an
    unbatched ``(C, *spatial)``.  ``kernel_size`` and ``dilation`` are needed for ``"same"``.
    """
    op = "padded_input"
    x = numeric_host_array(x, "x", op)
    if spatial_dims is not None and (not is_int(spatial_dims) or spatial_dims < 1):
        raise ConvError(f"{op}: spatial_dims must be None or an int >= 1, got "
                        f"{shown(spatial_dims)}")
    nd = x.ndim - 2 if spatial_dims is None else int(spatial_dims)
    if nd < 1 or x.ndim not in (nd + 1, nd + 2) or 0 in x.shape[-nd:]:
        raise ConvError(f"{op}: x must be (N, C, *spatial) or (C, *spatial) with every spatial "
                        f"extent >= 1, got shape {x.shape}")
    in_sp = x.shape[-nd:]
    kernel = positive_tuple(1 if kernel_size is None else kernel_size, nd, "kernel_size", op)
    dils = positive_tuple(dilation, nd, "dilation", op)
    strides = positive_tuple(stride, nd, "stride", op)
    pads = resolve_padding(padding, nd, kernel, dils, strides, op)
    check_pads(padding_mode, in_sp, pads, op)
    cells = math.prod(n + lo + hi for n, (lo, hi) in zip(in_sp, pads))
    lead = math.prod(x.shape[:-nd])
    require(op, f"the padded input and its maps ({cells} padded cells)",
            cells * (lead * x.itemsize + 1 + 3 * nd * 8), max_bytes)
    return padded_input_of(x, nd, pads, padding_mode)


def numeric_host_array(a, name: str, op: str) -> np.ndarray:
    """``a`` on the host as a NumPy array of numbers (bool, int, float), else ConvError."""
    a = to_numpy(a)
    if a.dtype.kind not in "biuf":
        raise ConvError(f"{op}: {name} must be an array of real numbers, got dtype {a.dtype}")
    return a


def padded_input_of(x: np.ndarray, nd: int, pads, padding_mode: str) -> PaddedInput:
    """:func:`padded_input` for a host array and resolved ``(low, high)`` pairs (no checks)."""
    in_sp = x.shape[-nd:]
    xb = x.reshape((-1, x.shape[-nd - 1]) + in_sp)
    values = pad(np, xb, pads, padding_mode).reshape(
        x.shape[:-nd] + tuple(n + lo + hi for n, (lo, hi) in zip(in_sp, pads)))
    maps = [source_map(n, lo, hi, padding_mode) for n, (lo, hi) in zip(in_sp, pads)]
    inside = [np.arange(-lo, n + hi) for n, (lo, hi) in zip(in_sp, pads)]
    grids = np.meshgrid(*inside, indexing="ij")
    is_pad = np.zeros(grids[0].shape, dtype=bool)
    for g, n in zip(grids, in_sp):
        is_pad |= (g < 0) | (g >= n)
    source = np.stack(np.meshgrid(*maps, indexing="ij"))
    if padding_mode == "zeros":
        source[:, is_pad] = -1
    return PaddedInput(values, is_pad, source, tuple(pads), padding_mode)
