"""Padding modes: one table of what each mode puts in the border, and everything derived from it.

=========  ========  =============================  =========  =========  ====================
mode       np.pad    border coordinate ``i`` reads  most pad   F.pad      its gradient goes to
=========  ========  =============================  =========  =========  ====================
zeros      constant  nothing: it holds 0            no limit   constant   nowhere
reflect    reflect   ``i`` mirrored at the end      ``n - 1``  reflect    the mirrored cell
                     cells (not repeated)
replicate  edge      ``clip(i, 0, n - 1)``          no limit   replicate  the nearest end cell
circular   wrap      ``i mod n``                    ``n``      circular   the wrapped cell
=========  ========  =============================  =========  =========  ====================

``i`` counts from the first cell of the unpadded axis of ``n`` cells (negative in the low
border).  The core pads with :func:`pad` (NumPy's or CuPy's ``pad``), the gradients fold the
border back with :func:`fold`, the teaching trace reads each border cell's source with
:func:`source_of`, and :func:`check_pads` / :func:`max_pad` hold the limits — all from
:data:`MODES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import ConvError, shown


def along(ndim: int, axis: int, start, stop) -> tuple:
    """An index selecting ``start:stop`` on ``axis`` of an ``ndim``-D array, everything else."""
    return (slice(None),) * axis + (slice(start, stop),) + (slice(None),) * (ndim - axis - 1)


def _zeros_source(i, n):
    return np.where((i >= 0) & (i < n), i, -1)


def _reflect_source(i, n):
    period = 2 * (n - 1)
    if period == 0:
        return np.zeros_like(i)
    j = np.abs(i) % period
    return np.where(j < n, j, period - j)


def _replicate_source(i, n):
    return np.clip(i, 0, n - 1)


def _circular_source(i, n):
    return i % n


def _zeros_fold(xp, inner, low, high, ax, n, lo, hi):
    pass  # a zero carries no input: its gradient is dropped


def _reflect_fold(xp, inner, low, high, ax, n, lo, hi):  # pads < n: -j copies j, n-1+j copies n-1-j
    nd = inner.ndim
    inner[along(nd, ax, 1, lo + 1)] += xp.flip(low, axis=ax)
    inner[along(nd, ax, n - 1 - hi, n - 1)] += xp.flip(high, axis=ax)


def _replicate_fold(xp, inner, low, high, ax, n, lo, hi):
    nd = inner.ndim
    inner[along(nd, ax, 0, 1)] += low.sum(axis=ax, keepdims=True)
    inner[along(nd, ax, n - 1, n)] += high.sum(axis=ax, keepdims=True)


def _circular_fold(xp, inner, low, high, ax, n, lo, hi):  # pads <= n: wraps at most once
    nd = inner.ndim
    inner[along(nd, ax, n - lo, n)] += low
    inner[along(nd, ax, 0, hi)] += high


@dataclass(frozen=True)
class PaddingMode:
    """One row of the table: a padding mode and the rules every use of it derives from."""

    name: str  # the ``padding_mode`` of convcore and of PyTorch's layers
    numpy: str  # ``np.pad``'s mode
    torch_pad: str  # ``torch.nn.functional.pad``'s mode
    slack: int | None  # most pad per side = n + slack; None: no limit
    source: Callable  # source(i, n): the cell that padded coordinate(s) i read, -1 for a zero
    fold: Callable  # fold(xp, inner, low, high, axis, n, lo, hi): border gradient, in place
    why: str = ""  # the reason of the limit, for messages

    def max_pad(self, n: int) -> int | None:
        """Most padding per side on an axis of ``n`` cells (None: no limit)."""
        return None if self.slack is None else n + self.slack


MODES = {m.name: m for m in (
    PaddingMode("zeros", "constant", "constant", None, _zeros_source, _zeros_fold),
    PaddingMode("reflect", "reflect", "reflect", -1, _reflect_source, _reflect_fold),
    PaddingMode("replicate", "edge", "replicate", None, _replicate_source, _replicate_fold),
    PaddingMode("circular", "wrap", "circular", 0, _circular_source, _circular_fold,
                " (it may wrap around at most once)"),
)}
PADDING_MODES = tuple(MODES)


def mode_of(mode, op: str) -> PaddingMode:
    """The table row of ``mode``, else ConvError listing :data:`PADDING_MODES`."""
    if type(mode) is not str or mode not in MODES:
        raise ConvError(
            f"{op}: padding_mode must be one of {', '.join(repr(m) for m in PADDING_MODES)}, "
            f"got {shown(mode)}"
        )
    return MODES[mode]


def check_pads(mode, in_spatial, pads, op: str) -> None:
    """``mode`` is a known padding mode, and its most padding per side holds on every axis."""
    row = mode_of(mode, op)
    if row.slack is None:
        return
    for axis, (n, (lo, hi)) in enumerate(zip(in_spatial, pads)):
        if max(lo, hi) > n + row.slack:
            rule = "<" if row.slack == -1 else "<="
            raise ConvError(
                f"{op}: padding_mode={mode!r} needs padding {rule} input extent on every side"
                f"{row.why}; spatial axis {axis} has extent {n} but padding ({lo}, {hi})"
            )


def source_of(i, n: int, mode: str):
    """The unpadded index that unpadded coordinate(s) ``i`` read in ``mode`` (-1: zero pad).

    Examples:
        >>> source_of(np.arange(-2, 4), 3, "reflect").tolist()
        [2, 1, 0, 1, 2, 1]
    """
    return MODES[mode].source(i, n)


def pad(xp, x, pads, mode: str):
    """Pad the spatial axes of ``x`` (N, C, *spatial) by ``(low, high)`` pairs in ``mode``.

    Returns ``x`` itself when every pad is 0 (a view stays a view: nothing is copied), else a
    new C-contiguous array of the padded shape.
    """
    if not any(lo or hi for lo, hi in pads):
        return x
    if mode == "zeros":
        shape = x.shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads))
        out = xp.zeros(shape, dtype=x.dtype)
        inner = (slice(None), slice(None)) + tuple(
            slice(lo, lo + n) for n, (lo, _) in zip(x.shape[2:], pads)
        )
        out[inner] = x
        return out
    return xp.ascontiguousarray(xp.pad(x, ((0, 0), (0, 0)) + tuple(pads),
                                       mode=MODES[mode].numpy))


def fold(xp, g, in_spatial, pads, mode: str):
    """The gradient of :func:`pad`: crop the border of ``g`` (N, C, *padded), adding each border
    cell's gradient onto the cell it copied (nothing for zero padding).

    Returns ``g`` itself when every pad is 0, else a new array of ``in_spatial``.
    """
    row = MODES[mode]
    for axis, (n, (lo, hi)) in enumerate(zip(in_spatial, pads)):
        if not (lo or hi):
            continue
        ax, nd = 2 + axis, g.ndim
        inner = g[along(nd, ax, lo, lo + n)].copy()
        row.fold(xp, inner, g[along(nd, ax, 0, lo)], g[along(nd, ax, lo + n, lo + n + hi)],
                 ax, n, lo, hi)
        g = inner
    return g
