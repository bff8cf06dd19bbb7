"""A slow, obvious N-d cross-correlation: the second oracle, with no code shared with convcore.

Every output value is one explicit sum over the input channels of its group and the kernel taps;
padding is never materialised: each tap maps its (possibly out-of-range) input coordinate back
into the input by the padding mode's rule, or reads zero.  Only explicit arguments are accepted
(one stride, dilation and ``(low, high)`` pair per spatial axis): the tests resolve ``"same"``
and friends themselves.
"""

from __future__ import annotations

import itertools

import numpy as np


def source_index(i: int, n: int, mode: str) -> int | None:
    """Where padded coordinate ``i`` (input coordinates, may be < 0 or >= n) reads from; None = 0.

    reflect mirrors without repeating the edge (``-1 -> 1``), replicate repeats the edge,
    circular wraps around.
    """
    if 0 <= i < n:
        return i
    if mode == "zeros":
        return None
    if mode == "replicate":
        return 0 if i < 0 else n - 1
    if mode == "circular":
        return i % n
    if mode == "reflect":
        j = -i if i < 0 else 2 * (n - 1) - i
        assert 0 <= j < n, "reflect padding this large is illegal"
        return j
    raise AssertionError(f"unknown padding mode {mode!r}")


def conv_reference(x, weight, bias, stride, pads, dilation, groups=1, padding_mode="zeros"):
    """Cross-correlate batched ``x`` (N, C_in, *spatial) with ``weight`` (C_out, C_in/g, *k).

    ``stride``, ``dilation``: one int per spatial axis; ``pads``: one ``(low, high)`` per axis.
    Returns a float64 array (N, C_out, *out_spatial).
    """
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    n_batch, c_in = x.shape[:2]
    spatial = x.shape[2:]
    c_out, c_in_g = weight.shape[:2]
    kernel = weight.shape[2:]
    assert c_in == c_in_g * groups and c_out % groups == 0
    c_out_g = c_out // groups
    out_spatial = tuple(
        (n + lo + hi - (d * (k - 1) + 1)) // s + 1
        for n, k, s, d, (lo, hi) in zip(spatial, kernel, stride, dilation, pads)
    )
    out = np.zeros((n_batch, c_out) + out_spatial)
    for b in range(n_batch):
        for co in range(c_out):
            g = co // c_out_g
            for pos in itertools.product(*(range(m) for m in out_spatial)):
                total = 0.0 if bias is None else float(bias[co])
                for ci in range(c_in_g):
                    for tap in itertools.product(*(range(k) for k in kernel)):
                        where = []
                        for o, t, s, d, (lo, _), n in zip(pos, tap, stride, dilation, pads,
                                                          spatial):
                            where.append(source_index(o * s + t * d - lo, n, padding_mode))
                        if None in where:
                            continue
                        total += weight[(co, ci) + tap] * x[(b, g * c_in_g + ci) + tuple(where)]
                out[(b, co) + pos] = total
    return out
