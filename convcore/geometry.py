r"""Where the windows of a convolution sit, as pure integer arithmetic on one spatial axis.

Two rules define the geometry; the core's strided window view, the trace's tap coordinates, the
coverage counts and the shape explanation are all computed from them:

- **output length**: :math:`L_{out} = \lfloor (L_{in} + p_{lo} + p_{hi} - d(k-1) - 1) / s
  \rfloor + 1` (:func:`output_length`);
- **tap position**, in padded coordinates (index 0 is the first low-padding cell): tap
  ``offset`` of the window of output ``out`` reads ``out*s + offset*d``
  (:func:`tap_position`).  An unpadded index is the padded one minus ``p_lo``.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .backend import as_strided

# Below this, products of two values fit in int64: the vectorized path is exact.
_SMALL = 2**31
MAX_COORD = 2**62  # index maps hold int64 coordinates: every one (and a step more) fits


def dilated_extent(k: int, d: int) -> int:
    """Span of a kernel of ``k`` taps with dilation ``d``: ``d*(k-1) + 1``."""
    return d * (k - 1) + 1


def length_numerator(in_size: int, kernel: int, dilation: int, pad_lo: int, pad_hi: int) -> int:
    """The numerator of the output-length formula, ``L_in + lo + hi - d*(k-1) - 1``.

    Negative when the dilated kernel does not fit the padded input (the output is empty).
    """
    return in_size + pad_lo + pad_hi - dilated_extent(kernel, dilation)


def output_length(in_size: int, kernel: int, stride: int, dilation: int, pad_lo: int,
                  pad_hi: int) -> int:
    """Output length of one axis: ``floor(numerator / stride) + 1``, or 0 when empty.

    Examples:
        >>> output_length(10, 2, stride=2, dilation=1, pad_lo=2, pad_hi=2)
        7
        >>> output_length(3, 5, 1, 1, 0, 0)
        0
    """
    num = length_numerator(in_size, kernel, dilation, pad_lo, pad_hi)
    return num // stride + 1 if num >= 0 else 0


def tap_position(out, offset, stride, dilation):
    """Padded coordinate read by tap ``offset`` of output ``out``'s window: ``out*s + offset*d``.

    Works elementwise on ints and integer arrays alike.

    Examples:
        >>> tap_position(3, 1, stride=2, dilation=3)
        9
    """
    return out * stride + offset * dilation


def last_read(out_len: int, kernel: int, stride: int, dilation: int) -> int:
    """Padded coordinate of the last tap of the last window (the highest index read)."""
    return tap_position(out_len - 1, kernel - 1, stride, dilation)


def used_step(step: int, count: int) -> int:
    """``step`` between ``count`` positions, or 0 when there is only one position.

    A stride or dilation that only one window or tap ever uses may be any size; as 0 it cannot
    overflow int64 arithmetic (:data:`MAX_COORD` bounds the coordinates themselves).
    """
    return step if count > 1 else 0


def int64_steps(steps, counts) -> np.ndarray:
    """Per axis :func:`used_step` as an int64 array: what index maps multiply positions by."""
    return np.asarray([used_step(s, n) for s, n in zip(steps, counts)], dtype=np.int64)


def readers(p: int, kernel: int, stride: int, dilation: int, count: int) -> range:
    """The taps ``t`` whose window (or stamp) ``o`` reaches position ``p``: ``o*s + t*d = p``
    with ``0 <= o < count`` and ``0 <= t < kernel``, in increasing order; ``o = (p - t*d) // s``.

    Admissible taps form one residue class modulo ``s / gcd(s, d)`` inside an interval, so the
    answer is a ``range``: O(1) time and memory whatever the sizes.

    Examples:
        >>> list(readers(9, kernel=4, stride=2, dilation=3, count=5))
        [1, 3]
    """
    if p < 0:
        return range(0)
    g = math.gcd(stride, dilation)
    if p % g:
        return range(0)
    s1 = stride // g
    t_hi = min(kernel - 1, p // dilation)  # o >= 0
    t_lo = max(0, -((tap_position(count - 1, 0, stride, dilation) - p) // dilation))  # o < count
    t0 = (p // g) * pow(dilation // g, -1, s1) % s1 if s1 > 1 else 0
    first = t_lo + (t0 - t_lo) % s1
    return range(first, t_hi + 1, s1) if first <= t_hi else range(0)


def read_counts(start: int, stop: int, kernel: int, stride: int, dilation: int,
                out_len: int) -> np.ndarray:
    """How many (window, tap) pairs read each padded position in ``range(start, stop)``.

    Position ``p`` is read by tap ``t`` of window ``o`` when ``p = o*s + t*d`` with
    ``0 <= o < out_len`` and ``0 <= t < kernel``: for each ``p`` the admissible taps form one
    residue class modulo ``s / gcd(s, d)`` inside an interval, so the count is closed-form —
    no per-window or per-tap arrays.  Memory and time are O(stop - start), whatever the sizes.

    Returns an int64 array of length ``stop - start``.
    """
    n = stop - start
    g = math.gcd(stride, dilation)
    s1 = stride // g
    inv = pow(dilation // g, -1, s1) if s1 > 1 else 0
    span = (out_len - 1) * stride
    if max(abs(start), abs(stop), kernel, stride, dilation, out_len, span) < _SMALL:
        p = np.arange(start, stop, dtype=np.int64)
        t_hi = np.minimum(kernel - 1, p // dilation)  # o >= 0
        t_lo = np.maximum(0, -((span - p) // dilation))  # o <= out_len - 1, ceil division
        t0 = (p // g) % s1 * inv % s1 if s1 > 1 else np.zeros_like(p)
        t = t_lo + (t0 - t_lo) % s1  # the first admissible tap at or above t_lo
        ok = (p % g == 0) & (t <= t_hi) & (p >= 0)
        return np.where(ok, (t_hi - t) // s1 + 1, 0)
    counts = np.zeros(n, dtype=np.int64)  # huge values: exact Python ints, callers bound n
    for i, p in enumerate(range(start, stop)):
        counts[i] = range_length(readers(p, kernel, stride, dilation, out_len))
    return counts


def range_length(r: range) -> int:
    """``len(r)`` for a range of any length (``len`` refuses more than ``sys.maxsize``)."""
    return max(0, (r.stop - r.start + r.step - 1) // r.step)


@functools.lru_cache(maxsize=512)
def _window_geometry(spec, n_batch: int, strides: tuple):
    """Shape and strides of the window view (pure arithmetic, cached: it runs on every call).

    The byte strides are :func:`tap_position` per unit step of the kernel offset (``d``) and of
    the output index (``s``); a length-1 axis gets stride 0, so a huge stride or dilation that
    only one window or tap ever uses cannot overflow the view.
    """
    spatial = strides[2:]
    shape = (n_batch, spec.groups, spec.in_per_group, *spec.kernel, *spec.out_spatial)
    taps = tuple(st * tap_position(0, 1, s, d) if k > 1 else 0
                 for st, k, s, d in zip(spatial, spec.kernel, spec.stride, spec.dilation))
    outs = tuple(st * tap_position(1, 0, s, d) if n > 1 else 0
                 for st, n, s, d in zip(spatial, spec.out_spatial, spec.stride, spec.dilation))
    return shape, (strides[0], spec.in_per_group * strides[1], strides[1]) + taps + outs


def window_view(xp, xpad, spec):
    """View the padded input as ``(N, groups, C_in/groups, *kernel, *out_spatial)`` windows.

    ``xpad`` is the padded, batched input (any strides: a broadcast input stays one); ``spec``
    a :class:`convcore.params.ConvSpec` describing it.  Nothing is copied.
    """
    return as_strided(xp, xpad, *_window_geometry(spec, xpad.shape[0], xpad.strides))
